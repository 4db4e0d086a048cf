"""Sorting the unsorted photos from the real window: suggestions per label, the threshold, decisions, filing, undo.

A real library of labelled folders (three shots of each sample in its folder) and an inbox of further
shots, indexed by the built-in model; the dialog runs the engine (desktop/core/sorting.py) on its workers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from engine_fixtures import index_all, write_labelled_shots
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog
from window_fixtures import WAIT_MS, open_window

from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.sorting import DEFAULT_THRESHOLD
from desktop.ui.fine_tune import FineTuneDialog
from desktop.ui.sort_dialog import FILE, UNDO, SortDialog, open_sort_dialog
from desktop.ui.sort_review import ACCEPTED, REJECTED
from models import registry
from models.runtime import ModelRuntime

LABELS = {"cats": "chelsea", "coffee": "coffee", "rockets": "rocket"}  # label folder -> the sample its shots show
UNSORTED = (4, 5, 6)  # the shots of each sample left in the inbox


def _library(runtime, base: Path, labels=LABELS) -> tuple[Path, Path]:
    root, inbox = write_labelled_shots(base, labels, range(3), UNSORTED)
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(base)
    index_all(library)
    library.close()
    return root, inbox


@pytest.fixture
def photos(runtime, tmp_path) -> tuple[Path, Path]:
    return _library(runtime, (tmp_path / "photos").resolve())


@pytest.fixture
def window(qtbot, runtime, photos):
    return open_window(qtbot, runtime)


def _open(qtbot, window, root=None, model=None) -> SortDialog:
    dialog = open_sort_dialog(window, root, model)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=4 * WAIT_MS)
    return dialog


def _run(qtbot, dialog: SortDialog, button, job: str) -> None:
    """Click `button` and wait for its job (and the suggestions an undo runs after it) to end."""
    with qtbot.waitSignal(dialog.jobEnded, timeout=WAIT_MS, check_params_cb=lambda ended: ended == job):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=WAIT_MS)


def _labels_listed(dialog: SortDialog) -> list[str]:
    return [dialog.panel.label_list.item(row).text() for row in range(dialog.panel.label_list.count())]


def _pick(dialog: SortDialog, rows) -> list[str]:
    panel = dialog.panel
    panel.view.selectionModel().clearSelection()
    for row in rows:
        panel.view.selectionModel().select(panel.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    return panel.selected_paths()


def _sample(path: str) -> str:
    return Path(path).stem.split("-")[0]


def test_the_menu_asks_for_the_labelled_folders_then_lists_each_label_with_its_photos_most_confident_first(
        qtbot, window, photos, monkeypatch):
    root, inbox = photos
    action = next(a for a in window.findChildren(QAction) if a.text() == "Sort &unsorted photos...")
    action.trigger()
    dialog = window.sort_dialog
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=WAIT_MS)
    assert dialog.isVisible() and not dialog.isModal()
    assert "was not fine-tuned on labelled folders: choose the folder" in dialog.message.text()  # the built-in model

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(root))
    qtbot.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_busy() and dialog.review is not None, timeout=WAIT_MS)
    assert dialog.root_field.text() == str(root) and dialog.message.isHidden()
    assert dialog.panel.slider.value() == round(DEFAULT_THRESHOLD * 100)
    review, panel = dialog.review, dialog.panel
    assert review.labels == ("cats", "coffee", "rockets")
    assert _labels_listed(dialog) == [f"{name}  ({review.count(name)})" for name in review.labels]

    panel.slider.setValue(0)  # every suggestion shown
    expected = {sample: label for label, sample in LABELS.items()}
    for name in review.labels:
        panel.select_label(name)
        rows = panel.model.rows()
        assert [row.score for row in rows] == sorted((row.score for row in rows), reverse=True)
        assert all(Path(row.record.path).parent == inbox for row in rows)
        sure = [row for row in rows if row.score >= DEFAULT_THRESHOLD]
        assert sure and all(expected[_sample(row.record.path)] == name for row in sure)  # the confident ones are right
    assert sum(review.count(name) for name in review.labels) == len(LABELS) * len(UNSORTED)


def test_the_threshold_slider_hides_the_suggestions_under_it_and_the_counts_follow_at_once(qtbot, window, photos):
    dialog = _open(qtbot, window, photos[0])
    review, panel = dialog.review, dialog.panel
    scores = {name: sorted((s.confidence for s in review.suggestions if s.label == name), reverse=True) for name in review.labels}
    seen = set()
    for value in (0, 50, 70, 95, 100):
        panel.slider.setValue(value)
        counts = {name: sum(c >= value / 100 for c in scores[name]) for name in review.labels}
        assert _labels_listed(dialog) == [f"{name}  ({counts[name]})" for name in review.labels]
        assert [row.score for row in panel.model.rows()] == [c for c in scores[panel.current_label()] if c >= value / 100]
        assert panel.threshold_label.text() == f"Confidence at least {value / 100:.2f}"
        seen.add(tuple(counts.values()))
    assert len(seen) > 1, scores  # the slider changed what is shown


def test_accepting_rejecting_and_relabelling_then_filing_copies_only_the_accepted_photos_and_undo_deletes_the_copies(
        qtbot, window, photos):
    root, inbox = photos
    before = {path for path in root.rglob("*") if path.is_file()}
    dialog = _open(qtbot, window, root)
    panel, review = dialog.panel, dialog.review
    panel.slider.setValue(0)
    panel.select_label("cats")
    accepted = _pick(dialog, [0, 1])
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert [review.state(path) for path in accepted] == [ACCEPTED, ACCEPTED]
    assert _labels_listed(dialog)[0] == f"cats  ({review.count('cats')}, 2 accepted)"
    rejected = _pick(dialog, [2])
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_R)  # the grid's key for Reject
    assert review.state(rejected[0]) == REJECTED and review.count("cats") == len(panel.model.rows()) - 1

    panel.select_label("coffee")
    relabelled = _pick(dialog, [0])
    panel.relabel_menu.aboutToShow.emit()
    choices = [a.text() for a in panel.relabel_menu.actions()]
    suggestion = next(s for s in dialog.review.suggestions if s.path == relabelled[0])
    assert choices[0] == suggestion.runner_up and sorted(choices) == ["cats", "rockets"]
    next(a for a in panel.relabel_menu.actions() if a.text() == "rockets").trigger()
    assert relabelled[0] not in panel.shown_paths()  # it shows under rockets now, accepted
    panel.select_label("rockets")
    assert relabelled[0] in panel.shown_paths() and review.state(relabelled[0]) == ACCEPTED
    assert dialog.file_button.text() == "File 3 accepted photos" and dialog.copy_radio.isChecked()
    assert not dialog.undo_button.isEnabled()  # nothing filed yet

    _run(qtbot, dialog, dialog.file_button, FILE)
    copies = {path for path in root.rglob("*") if path.is_file()} - before
    assert sorted(p.relative_to(root).as_posix() for p in copies) == sorted(
        [f"cats/{Path(p).name}" for p in accepted] + [f"rockets/{Path(relabelled[0]).name}"])
    assert all(Path(p).is_file() for p in [*accepted, *relabelled, *rejected])  # copies: the originals stay
    assert dialog.status.text() == f"Copied 3 photos to {root} (cats 2, rockets 1)"
    assert dialog.file_button.text() == "File 0 accepted photos" and not dialog.file_button.isEnabled()
    assert not set(accepted) & set(review.decisions) and dialog.undo_button.isEnabled()

    _run(qtbot, dialog, dialog.undo_button, UNDO)
    assert {path for path in root.rglob("*") if path.is_file()} == before
    assert dialog.status.text() == "Undid the last batch: deleted 3 copies"
    assert not dialog.undo_button.isEnabled() and dialog.review.state(rejected[0]) == REJECTED  # decisions kept


def test_moving_accepted_photos_takes_them_out_of_the_inbox_and_undo_moves_them_back(qtbot, window, photos):
    root, inbox = photos
    dialog = _open(qtbot, window, root)
    panel = dialog.panel
    panel.select_label("rockets")
    shown = panel.shown_paths()
    assert shown
    qtbot.mouseClick(panel.accept_all_button, Qt.MouseButton.LeftButton)
    dialog.move_radio.setChecked(True)
    _run(qtbot, dialog, dialog.file_button, FILE)
    assert not any(Path(path).exists() for path in shown)
    assert all((root / "rockets" / Path(path).name).is_file() for path in shown)
    catalog = window.library.catalog
    assert all(catalog.file_by_path(str(root / "rockets" / Path(path).name)) for path in shown)
    assert not set(shown) & set(panel.shown_paths())  # sorted now: out of the review
    assert dialog.status.text().startswith(f"Moved {len(shown)} photo")

    _run(qtbot, dialog, dialog.undo_button, UNDO)
    assert all(Path(path).is_file() for path in shown) and not any((root / "rockets" / Path(p).name).exists() for p in shown)
    assert dialog.status.text() == f"Undid the last batch: moved {len(shown)} photos back"
    assert set(shown) <= {s.path for s in dialog.review.suggestions}  # unsorted again, suggested again


def test_a_root_with_fewer_than_two_indexed_label_folders_says_why_in_the_dialog(qtbot, runtime, photos):
    lonely = photos[0] / "cats"  # its only subfolder holds no photos: no label has indexed photos
    (lonely / "empty").mkdir()  # before the window (and its folder watcher) opens
    dialog = _open(qtbot, open_window(qtbot, runtime), lonely)
    assert "at least two are needed" in dialog.message.text() and dialog.message.isVisible()
    assert "Traceback" not in dialog.message.text() and dialog.panel.label_list.count() == 0
    assert not dialog.panel.isEnabled() and not dialog.file_button.isEnabled()


def test_closing_the_dialog_while_it_works_cancels_and_the_window_closes_cleanly(qtbot, window, photos):
    dialog = open_sort_dialog(window, photos[0])
    assert dialog.is_busy() and dialog.cancel_button.isVisible()
    worker = dialog.worker
    dialog.close()
    assert not dialog.isVisible() and not dialog.is_busy() and dialog.status.text() == "Cancelled."
    qtbot.waitUntil(lambda: not worker.is_running(), timeout=WAIT_MS)
    assert dialog.review is None  # the cancelled run's suggestions are not shown

    dialog = _open(qtbot, window)  # opened again: it starts over
    assert dialog.review is not None
    dialog.start(photos[0])  # at work again when the window closes
    worker = dialog.worker
    window.close()
    assert not worker.is_running() and not dialog.is_busy()


def test_a_model_fine_tuned_on_labelled_folders_sorts_by_its_own_root(qtbot, toy, tmp_path):
    root, _ = _library(ModelRuntime(toy, device="cpu"), (tmp_path / "photos").resolve())
    window = open_window(qtbot, ModelRuntime(_tuned_on(toy, root, tmp_path / "tuned"), device="cpu"))
    dialog = _open(qtbot, window)
    assert dialog.root_field.text() == str(root) and dialog.review.labels == tuple(LABELS)
    assert dialog.model_label.text().startswith("Suggestions by toy for 9 photos")


def _tuned_on(bundle: Path, root: Path, folder: Path) -> Path:
    """A copy of `bundle` whose manifest says it was fine-tuned on the labelled folders `root`."""
    shutil.copytree(bundle, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["provenance"]["training_data"] = {"source": str(root), "format": "folders", "classes": list(LABELS)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_after_fine_tuning_the_offer_switches_to_the_new_model_then_sorts_by_its_folders(qtbot, window, photos, toy, tmp_path):
    root, _ = photos
    registry.install(_tuned_on(toy, root, tmp_path / "tuned"), name="cats-tuned")
    fine_tune = FineTuneDialog(window, str(root))
    qtbot.addWidget(fine_tune)
    fine_tune.handle_event({"event": "done", "bundle": "cats-tuned", "baseline": {}, "metrics": {}, "seconds": 3})
    assert fine_tune.sort_offer.isVisibleTo(fine_tune)
    fine_tune.sortRequested.connect(lambda root, model: open_sort_dialog(window, root, model))  # as the window connects it
    fine_tune.sort_offer.linkActivated.emit("sort")
    dialog = window.sort_dialog
    assert dialog.is_busy() and "Switching to cats-tuned first" in dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=4 * WAIT_MS)
    assert window.library.runtime.manifest.name == "cats-tuned" and dialog.model_name == "cats-tuned"
    assert dialog.root_field.text() == str(root) and dialog.review.labels == tuple(LABELS)
    qtbot.waitUntil(lambda: registry.active_name() == "cats-tuned", timeout=WAIT_MS)
