"""The real window, offscreen: typing searches, dropping searches by image, folders index with progress."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from engine_fixtures import index_all, write_photos
from image_zoo import write_dng, write_photo
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_fixtures import open_window as _window

from desktop.core.catalog import Catalog
from desktop.core.demo_library import demo_image
from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.main_window import MainWindow
from models.runtime import ModelRuntime

WAIT_MS = 60_000  # generous for CI; tests return as soon as the signal arrives


@pytest.fixture
def indexed(runtime, tmp_path):
    folder = tmp_path / "photos"
    write_photos(folder, names=("chelsea", "coffee", "rocket", "clock", "astronaut", "coins"))
    write_photo(folder / "dated.jpg", "moon", size=(640, 480), taken_at=datetime(2021, 3, 4, 5, 6, 7), camera=("Canon", "Canon EOS 80D"))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(folder)
    index_all(library)
    library.close()
    return folder


def _names(window: MainWindow) -> list[str]:
    return [os.path.splitext(row.name)[0] for row in window.model.rows()]


def test_window_opens_on_the_library_and_shows_its_photos(qtbot, runtime, indexed):
    window = _window(qtbot, runtime)
    assert window.stack.currentIndex() == 1
    assert len(window.model.rows()) == 7


def test_typing_a_query_shows_matching_results_best_first(qtbot, runtime, indexed):
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "a cup of coffee")
    assert _names(window)[0] == "coffee"
    scores = [row.score for row in window.model.rows()]
    assert scores == sorted(scores, reverse=True)


def test_weak_matches_are_hidden_with_their_count_shown_and_show_all_brings_them_back(qtbot, runtime, indexed):
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "a tabby cat")
    assert _names(window) == ["chelsea"]
    assert "6 weak matches hidden" in window.hidden_link.text() and window.hidden_link.isVisibleTo(window)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.hidden_link.linkActivated.emit("show")  # the "show all" link
    assert len(_names(window)) == 7 and _names(window)[0] == "chelsea" and window.show_all_action.isChecked()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.show_all_action.trigger()  # View > Show weak matches, off again
    assert _names(window) == ["chelsea"]


def test_typing_after_find_similar_keeps_the_image_with_its_weight_shown_and_x_starts_fresh(qtbot, runtime, indexed):
    window = _window(qtbot, runtime)
    window.show_all_action.setChecked(True)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.find_similar(str(indexed / "coffee.jpg"))
    assert _names(window)[0] == "coffee" and window.image_chip.text() == "like: coffee.jpg"
    assert not window.image_weight_box.isVisibleTo(window)  # nothing to weigh the image against yet
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "an astronaut")
    assert window.image_chip.isVisibleTo(window) and window.image_weight_box.isVisibleTo(window)
    assert window.image_weight_box.currentText() == "image ×1" and "x drops the image" in window.image_chip.toolTip()
    assert "astronaut" in _names(window)[:3]  # the text counts as much as the image's match with itself
    equal = _scores(window)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.image_weight_box.setCurrentIndex(0)  # image ×½: the text counts more
    assert window.current_query().images[0][1] == 0.5
    assert _scores(window)["coffee"] < equal["coffee"] and _scores(window)["rocket"] > equal["rocket"]
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.clear_image.click()
    assert not window.image_chip.isVisibleTo(window) and not window.image_weight_box.isVisibleTo(window)
    assert window.current_query().images == () and window.current_query().texts == (("an astronaut", 1.0),)


def _scores(window: MainWindow) -> dict[str, float]:
    return {os.path.splitext(row.name)[0]: row.score for row in window.model.rows()}


def _drop(qtbot, window: MainWindow, path) -> None:
    """Drop the file at `path` on the window, as a file manager does, and wait for the results."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.dropEvent(event)


def test_dropping_an_image_searches_by_image(qtbot, runtime, indexed, tmp_path):
    query = tmp_path / "query.png"
    demo_image("rocket").resize((320, 240)).save(query)
    window = _window(qtbot, runtime)
    _drop(qtbot, window, query)
    assert window.image_query == str(query) and _names(window)[0] == "rocket"
    assert window.image_chip.isVisibleTo(window)


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "IMG_0002.DNG"])
def test_dropping_a_heic_or_raw_photo_searches_by_it(qtbot, runtime, indexed, tmp_path, name):
    query = tmp_path / name
    if query.suffix == ".DNG":
        write_dng(query, "rocket", (480, 360), orientation=6)
    else:
        write_photo(query, "rocket", (480, 360), exif_orientation=6, fmt="HEIF")
    window = _window(qtbot, runtime)
    window.show_all_action.setChecked(True)  # this synthetic DNG renders far from the JPEG (cosine 0.45): a weak match
    _drop(qtbot, window, query)
    assert window.image_query == str(query) and _names(window)[0] == "rocket"


def test_selecting_a_result_previews_it_with_its_metadata(qtbot, runtime, indexed):
    window = _window(qtbot, runtime)
    row = next(i for i, r in enumerate(window.model.rows()) if r.name == "dated.jpg")
    window.view.setCurrentIndex(window.model.index(row))
    assert window.preview.path.text().endswith("dated.jpg")
    assert window.preview.date.text() == "2021-03-04 05:06:07"
    assert window.preview.camera.text() == "Canon EOS 80D"
    assert window.preview.dimensions.text() == "640 x 480"
    qtbot.waitUntil(lambda: window.preview.image.pixmap() is not None and not window.preview.image.pixmap().isNull(), timeout=WAIT_MS)


def test_adding_a_folder_indexes_it_with_progress_and_makes_it_searchable(qtbot, runtime, tmp_path):
    window = _window(qtbot, runtime)
    assert window.stack.currentIndex() == 0  # empty state first
    folder = tmp_path / "new"
    write_photos(folder, names=("chelsea", "coffee", "clock"))
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS) as finished:
        window.add_folder(str(folder))
        qtbot.waitUntil(lambda: window.progress.isVisibleTo(window), timeout=WAIT_MS)
    assert finished.args[0].phase == "done" and finished.args[0].encoded == 3
    qtbot.waitUntil(lambda: window.stack.currentIndex() == 1 and len(window.model.rows()) == 3, timeout=WAIT_MS)
    assert not window.progress.isVisibleTo(window)
    qtbot.waitUntil(lambda: "3 photos" in window.panel.folders.item(0).text(), timeout=WAIT_MS)


def test_indexing_can_be_cancelled_and_keeps_what_it_committed(qtbot, runtime, tmp_path):
    folder = tmp_path / "many"
    for i in range(120):
        write_photos(folder / "tmp", names=("astronaut",), size=(200 + i, 150))
        os.replace(folder / "tmp" / "astronaut.jpg", folder / f"p{i:02d}.jpg")
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS) as finished:
        window.add_folder(str(folder))
        qtbot.waitUntil(lambda: window.index_worker is not None, timeout=WAIT_MS)
        window.index_worker.progress.connect(lambda p: p.done and window.cancel_indexing())
    assert finished.args[0].phase == "cancelled"
    assert 0 < finished.args[0].done < 120


def test_a_missing_folder_shows_a_clear_message_in_the_window(qtbot, runtime, tmp_path):
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.add_folder(str(tmp_path / "does-not-exist"))
    assert "does not exist" in shown.args[0] and window.error_banner.isVisibleTo(window)


def test_demo_library_gives_a_new_user_results(qtbot, runtime):
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS):
        qtbot.mouseClick(window.findChild(type(window.cancel_button), "demo"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.model.rows()) >= 20, timeout=WAIT_MS)


def test_window_geometry_and_query_persist_across_restarts(qtbot, runtime, indexed):
    window = _window(qtbot, runtime, Settings.load())
    window.resize(900, 500)  # the 800-pixel offscreen screen clamps widths on restore: check heights
    window.search_field.setText("rocket")
    window.sort_box.setCurrentIndex(1)
    window.scores_action.setChecked(True)
    window.close()
    again = _window(qtbot, runtime, Settings.load())
    assert again.search_field.text() == "rocket" and again.height() == 500
    assert again.sort_box.currentText() == "Date" and again.scores_action.isChecked()


def _install_copy_of(bundle, name: str) -> None:
    """The same towers under another name (as a retrained text side would keep the image encoder)."""
    import json
    import shutil

    from models import paths

    target = paths.models_dir() / name
    shutil.copytree(bundle, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["name"] = name
    (target / "manifest.json").write_text(json.dumps(manifest))


def test_switching_to_a_model_with_the_same_image_encoder_decodes_nothing(qtbot, runtime, indexed, builtin_bundle):
    _install_copy_of(builtin_bundle, "same-encoder")
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.use_model("same-encoder")
    assert window.index_worker is None  # nothing to encode: stored features were re-mapped
    assert window.library.runtime.manifest.name == "same-encoder"
    from models import registry

    qtbot.waitUntil(lambda: registry.active_name() == "same-encoder", timeout=WAIT_MS)


def test_switching_to_another_image_encoder_encodes_in_the_background_first(qtbot, runtime, indexed, tmp_path,
                                                                             installed_builtin):
    from toy_bundle import export_toy_bundle

    from models import registry

    registry.install(export_toy_bundle(tmp_path / "toy", name="toy"))
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS) as finished:
        window.use_model("toy")
        qtbot.waitUntil(lambda: window.index_worker is not None, timeout=WAIT_MS)
        assert window.library.runtime.manifest.name == "picsift-builtin"  # still answering meanwhile
    assert finished.args[0].encoded == 7
    assert window.library.runtime.manifest.name == "toy"
    encoding = window.index_worker
    window.use_model("picsift-builtin")  # back to the earlier model: its vectors were kept
    qtbot.waitUntil(lambda: window.library.runtime.manifest.name == "picsift-builtin", timeout=WAIT_MS)
    assert window.index_worker is encoding  # nothing encoded again
    assert {row.name for row in window.model.rows()} >= {"chelsea.jpg", "rocket.jpg"}


def test_the_model_menu_exports_and_imports_a_bundle_that_searches_elsewhere(qtbot, runtime, indexed, tmp_path,
                                                                           installed_builtin, monkeypatch):
    import zipfile

    from PySide6.QtWidgets import QFileDialog

    from models import registry

    window = _window(qtbot, runtime)
    archive = tmp_path / "exported" / "picsift-builtin.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(archive), ""))
    window.export_model()
    qtbot.waitUntil(lambda: "Exported" in window.status_label.text(), timeout=WAIT_MS)
    assert {"picsift-builtin/manifest.json", "picsift-builtin/MODEL_CARD.md"} <= set(zipfile.ZipFile(archive).namelist())

    monkeypatch.setenv("PICSIFT_DATA_DIR", str(tmp_path / "another-machine"))  # a fresh data dir
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(archive), ""))
    window.import_model()
    qtbot.waitUntil(lambda: "Imported and verified" in window.status_label.text(), timeout=WAIT_MS)
    imported = ModelRuntime(registry.open_installed("picsift-builtin"), device="cpu")
    assert imported.encode_texts(["a cat"]).shape == runtime.encode_texts(["a cat"]).shape

    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("text_mapper.onnx"):
                target.writestr(item, source.read(item))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(broken), ""))
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.import_model()
    assert "text_mapper.onnx" in shown.args[0]


def _window_is_idle(window: MainWindow) -> bool:
    """No engine call waiting to report, no indexing and no copy/move/trash running (each starts the next synchronously)."""
    indexing = window.index_worker is not None and window.index_worker.is_running()
    return not window._relays and not indexing and not window.result_actions.is_running()


def _buttons(widget) -> list:
    """The push and tool buttons under `widget` that act when clicked (none that only pops up a menu)."""
    from PySide6.QtWidgets import QPushButton, QToolButton

    return [b for kind in (QPushButton, QToolButton) for b in widget.findChildren(kind) if b.menu() is None and b.text()]


def _press_buttons(widget, pressed: list[str]) -> None:
    for button in _buttons(widget):
        button.setEnabled(True)  # a slot must cope even when its button is pressed in an odd state
        button.click()
        pressed.append(button.text())


def _press_dialog_buttons_and_close(pressed: list[str]) -> None:
    """The dialogs an action opened: every button pressed too, then closed, so nothing waits for a person."""
    from PySide6.QtWidgets import QApplication, QDialog

    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QDialog) and widget.isVisible():
            _press_buttons(widget, pressed)
            widget.reject()


def test_every_action_button_and_shortcut_of_the_main_window_runs_without_an_error(
        qtbot, runtime, indexed, tmp_path, installed_builtin, monkeypatch, user_trash):
    """Python errors in slots fail the test (pytest-qt's exception capture), as do Qt warnings. (Move to trash
    runs too: `user_trash` keeps it in tmp_path.)"""
    from PySide6.QtGui import QAction, QDesktopServices, QShortcut
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    added = tmp_path / "added"
    write_photos(added, names=("clock",))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(added))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(tmp_path / "out" / "model.zip"), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: ("", ""))  # the user cancels
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    names = iter(f"Album {i}" for i in range(100))  # a collection's name, each time one is asked for
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: (next(names), True))
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window = _window(qtbot, runtime)
    shown: list[str] = []
    window.errorShown.connect(shown.append)
    qtbot.waitUntil(lambda: window.panel.folders.count() == 1, timeout=WAIT_MS)
    window.panel.folders.setCurrentRow(0)  # so Remove acts on a folder
    window.view.setCurrentIndex(window.model.index(0))  # so the preview's buttons act on a photo

    actions = [a for a in window.findChildren(QAction) if a.text() and a.menu() is None and not a.isSeparator()]
    quit_action = next(a for a in actions if a.text() == "&Quit")
    pressed: list[str] = []
    _press_buttons(window, pressed)
    _press_dialog_buttons_and_close(pressed)
    for action in actions:
        if action is not quit_action:
            action.trigger()
            pressed.append(action.text())
            _press_dialog_buttons_and_close(pressed)
    for shortcut in window.findChildren(QShortcut):
        shortcut.activated.emit()
        pressed.append(shortcut.key().toString())
    qtbot.waitUntil(lambda: _window_is_idle(window), timeout=WAIT_MS)

    assert {"Add folder...", "Rescan", "Remove", "Find similar", "Add a folder...", "Try a small demo library",
            "&Add folder...", "Model &settings...", "Use selected model", "&Teach picsift your folders...", "Browse...",
            "Start training", "&Export active model...", "Ctrl+F", "New...", "More &like this", "Save search as collection...",
            "Find people", "No, thanks", "Name...", "Merge", "Faces...", "&Find people in photos", "Forget all &face data...",
            "Not a &person"} <= set(pressed)
    assert opened  # Open and Show in folder reached the desktop
    bugs = [message for message in shown if "went wrong" in message or "internal error" in message]
    assert not bugs
    quit_action.trigger()
    assert not window.isVisible()


def test_closing_the_app_mid_switch_resumes_the_encoding_on_the_next_start(qtbot, runtime, indexed, tmp_path,
                                                                          installed_builtin):
    from toy_bundle import export_toy_bundle

    from models import registry

    registry.install(export_toy_bundle(tmp_path / "toy", name="toy"))
    window = _window(qtbot, runtime)
    window.use_model("toy")
    qtbot.waitUntil(lambda: window.index_worker is not None, timeout=WAIT_MS)
    window.close()  # mid-way: the encoding is cancelled, what is encoded is kept
    assert Settings.load().switching_to == "toy" and registry.active_name() == "picsift-builtin"

    again = _window(qtbot, runtime, Settings.load())
    with qtbot.waitSignal(again.indexingFinished, timeout=WAIT_MS):
        again.resume_model_switch()
    # the registry switches on the engine thread and the settings are saved after it on the GUI thread
    qtbot.waitUntil(lambda: registry.active_name() == "toy" and Settings.load().switching_to == "", timeout=WAIT_MS)
    assert again.library.runtime.manifest.name == "toy"


def test_cancelling_the_encoding_of_a_switch_keeps_the_current_model_for_good(qtbot, runtime, indexed, tmp_path,
                                                                             installed_builtin):
    from toy_bundle import export_toy_bundle

    from models import registry

    registry.install(export_toy_bundle(tmp_path / "toy", name="toy"))
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS):
        window.use_model("toy")
        qtbot.waitUntil(lambda: window.index_worker is not None, timeout=WAIT_MS)
        window.cancel_indexing()
    window.close()
    assert Settings.load().switching_to == ""  # the user chose to stay: nothing resumes next time


def test_a_failed_search_shows_why_and_the_query_typed_meanwhile_still_runs(qtbot, runtime, indexed, monkeypatch):
    from models.errors import PicsiftError

    window = _window(qtbot, runtime)
    searcher = window.library.searcher
    calls = []

    def failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise PicsiftError("the index is busy; try again")
        return searcher()

    monkeypatch.setattr(window.library, "searcher", failing_once)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_field.blockSignals(True)  # no debounced search of its own: only the two below
        window.search_field.setText("a cup of coffee")
        window.search_field.blockSignals(False)
        window.search_now()  # fails on the engine thread
        window.search_now()  # typed meanwhile: pending
    assert "the index is busy" in window.error_banner.text()
    assert _names(window)[0] == "coffee" and len(calls) >= 2
