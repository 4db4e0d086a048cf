"""Fine-tuning from the window, as a user does it: a real trainer process on real labelled folders.

The dialog previews the labels, runs `python -m trainer train --progress jsonl` in a QProcess,
shows progress and before/after metrics, and "Use this model" makes the window search with the
new bundle. Cancelling or bad data leave the current model as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from engine_fixtures import index_all
from image_zoo import write_nas_labelled_folders
from PySide6.QtCore import QProcess, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton

from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.fine_tune import CHART_METRICS, FineTuneDialog, scan_classes
from desktop.ui.main_window import MainWindow
from models import paths, registry
from trainer.data.sources import FASHION_MNIST_DIR, load_labelled_folders, write_fashion_mnist_folders

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file(),
                       reason="Fashion-MNIST not installed (Debian package fashion-mnist)"),
]

WAIT_MS = 60_000  # generous for CI; tests return as soon as the signal arrives
TRAIN_MS = 240_000  # a whole Quick run on 2 CPU cores takes ~15 s; leave room for a loaded machine
LABELS = ("Bag", "Dress", "Sneaker", "Trouser")  # folder names that read as queries
PER_LABEL, SMALL = 15, 3  # photos per label, and in the one label too small to learn from


@pytest.fixture(scope="module")
def clothes(tmp_path_factory) -> Path:
    """Labelled folders: 15 Fashion-MNIST photos in each of LABELS, and only 3 sandals."""
    work = tmp_path_factory.mktemp("labelled")
    everything = write_fashion_mnist_folders(work / "all", per_class=PER_LABEL)
    root = work / "clothes"
    root.mkdir()
    for label in LABELS:
        (everything / label).rename(root / label)
    (root / "Sandal").mkdir()
    for photo in sorted((everything / "Sandal").iterdir())[:SMALL]:
        photo.rename(root / "Sandal" / photo.name)
    return root


def _window(qtbot, runtime, folders=()) -> MainWindow:
    library = Library(Catalog(), runtime)
    for folder in folders:
        library.catalog.add_folder(folder)
    index_all(library)
    library.close()
    window = MainWindow(Library(Catalog(), runtime), Settings())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.show()
    return window


def _open_dialog(qtbot, window: MainWindow, root: Path) -> tuple[FineTuneDialog, list[dict]]:
    """Model > Teach picsift your folders..., then type the root; returns the dialog and a log of the
    trainer events it handled, each with what the dialog showed right after."""
    _teach_action(window).trigger()
    dialog = window.fine_tune_dialog
    assert dialog.isVisible()
    seen: list[dict] = []
    handle = dialog.handle_event

    def spy(event: dict) -> None:
        handle(event)
        seen.append({**event, "_bar": (dialog.progress.value(), dialog.progress.maximum()),
                     "_status": dialog.status.text()})

    dialog.handle_event = spy  # _read calls self.handle_event for every JSON line
    _type_root(qtbot, dialog, root)
    return dialog, seen


def _teach_action(window: MainWindow) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text() == "&Teach picsift your folders...")


def _type_root(qtbot, dialog: FineTuneDialog, root: Path) -> None:
    dialog.root.clear()
    qtbot.keyClicks(dialog.root, str(root))
    qtbot.keyClick(dialog.root, Qt.Key.Key_Return)  # editingFinished: the preview


def _search(qtbot, window: MainWindow, text: str) -> list[str]:
    """Type `text` in the search field; the folder name of each result, best first, weak matches included
    (the ranking is what these tests judge)."""
    window.show_all_action.setChecked(True)
    window.search_field.clear()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, text)
    return [os.path.basename(os.path.dirname(row.record.path)) for row in window.model.rows()]


def _table(dialog: FineTuneDialog) -> list[tuple[str, ...]]:
    return [tuple(dialog.classes.item(row, column).text() for column in range(3)) for row in range(dialog.classes.rowCount())]


def test_the_dialog_counts_exactly_the_photos_the_trainer_loads(tmp_path):
    expected = write_nas_labelled_folders(tmp_path / "pets")  # with @eaDir, #recycle, HEIC, DNG, ._ files
    dataset = load_labelled_folders(tmp_path / "pets", min_per_class=1)
    loaded = {name: int((dataset.labels == c).sum()) for c, name in enumerate(dataset.class_names)}
    assert dict(scan_classes(str(tmp_path / "pets"))) == loaded == {label: len(names) for label, names in expected.items()}


def _models_on_disk() -> set[str]:
    return {entry.name for entry in paths.models_dir().iterdir() if entry.name != "active.json"}


def test_a_quick_run_from_the_window_trains_compares_and_switches_search_to_the_new_model(
        qtbot, runtime, clothes, fine_tune_base):
    window = _window(qtbot, runtime, [clothes])
    assert len(window.model.rows()) == len(LABELS) * PER_LABEL + SMALL
    zero_shot = _search(qtbot, window, "Trouser")[:PER_LABEL].count("Trouser")
    dialog, seen = _open_dialog(qtbot, window, clothes)

    too_few = "too few to learn from"
    assert _table(dialog) == [("Bag", "15", ""), ("Dress", "15", ""), ("Sandal", "3", too_few),
                              ("Sneaker", "15", ""), ("Trouser", "15", "")]
    assert dialog.warning.text() == "1 label has fewer than 5 photos (Sandal); it will barely be learned."
    assert dialog.name.text() == "clothes-tuned" and dialog.start_button.isEnabled()
    assert not dialog.use_button.isEnabled()

    qtbot.mouseClick(dialog.quick, Qt.MouseButton.LeftButton)
    assert dialog.quick.isChecked() and "mapper" in dialog.command()
    with qtbot.waitSignal(dialog.finishedRun, timeout=TRAIN_MS) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    done = finished.args[0]
    assert done["event"] == "done" and done["bundle"] == "clothes-tuned", done

    kinds = [event["event"] for event in seen]
    assert kinds[0] == "start" and kinds[-1] == "done" and "metrics" in kinds
    assert seen[0]["classes"] == sorted([*LABELS, "Sandal"]) and "labels" in seen[0]["_status"]
    tasks = [event for event in seen if event["event"] == "task"]  # photos read before the first epoch
    assert tasks and kinds.index("task") < kinds.index("progress")
    assert all(e["_bar"] == (e["done"], e["total"]) for e in tasks)
    assert any(e["_status"] == f"Reading photos (train): {e['total']} of {e['total']}" for e in tasks)
    progress = [event for event in seen if event["event"] == "progress"]
    assert progress and all(e["_bar"] == (e["step"], e["steps"]) for e in progress)  # the bar followed the steps
    assert any("mapper: epoch" in e["_status"] for e in progress)
    assert progress[-1]["epoch"] == progress[-1]["epochs"] and progress[-1]["step"] == progress[-1]["steps"]

    # before/after, on the held-out test photos, as the chart bars and the table
    expected = [(key, pytest.approx(done["baseline"][key]), pytest.approx(done["metrics"][key])) for key in CHART_METRICS]
    assert dialog.chart.rows == expected
    table = dialog.metrics.text()
    assert "starting model" in table and "fine-tuned" in table
    for key in CHART_METRICS:
        assert f"{done['baseline'][key]:.3f}" in table and f"{done['metrics'][key]:.3f}" in table
    assert "clothes-tuned" in dialog.status.text() and dialog.use_button.isEnabled()
    assert registry.active_name() == "picsift-builtin"  # nothing changes until "Use this model"
    assert window.library.runtime.manifest.name == "picsift-builtin"

    # The fine-tuned model grew from built-in v1 (EfficientNet-Lite0), the library was indexed by v2
    # (Lite2): its photos are encoded again in the background while v2 keeps answering, then search switches.
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: window.library.runtime.manifest.name == "clothes-tuned", timeout=4 * WAIT_MS)
    assert not window.index_worker.is_running()  # the photos were encoded again first
    qtbot.waitUntil(lambda: "clothes-tuned" in window.provider_label.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: registry.active_name() == "clothes-tuned", timeout=WAIT_MS)

    folders = _search(qtbot, window, "Trouser")
    assert len(folders) == len(LABELS) * PER_LABEL + SMALL
    assert folders[:10] == ["Trouser"] * 10, folders[:PER_LABEL]  # the label's own photos come first
    assert folders[:PER_LABEL].count("Trouser") >= max(zero_shot, PER_LABEL - 2), (zero_shot, folders[:PER_LABEL])


def test_cancelling_a_thorough_run_keeps_the_current_model_and_installs_nothing(
        qtbot, runtime, clothes, fine_tune_base):
    window = _window(qtbot, runtime)
    dialog, seen = _open_dialog(qtbot, window, clothes)
    qtbot.mouseClick(dialog.thorough, Qt.MouseButton.LeftButton)
    assert "image,mapper" in dialog.command()
    before = _models_on_disk()

    with qtbot.waitSignal(dialog.finishedRun, timeout=TRAIN_MS) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: any(event["event"] == "progress" for event in seen), timeout=TRAIN_MS)
        assert seen[-1]["stage"] == "image"
        # closing the dialog leaves the run going; the menu shows that same run again
        qtbot.mouseClick(next(b for b in dialog.findChildren(QPushButton) if b.text() == "Close"), Qt.MouseButton.LeftButton)
        assert not dialog.isVisible() and dialog.is_running()
        _teach_action(window).trigger()
        assert window.fine_tune_dialog is dialog and dialog.isVisible() and dialog.cancel_button.isEnabled()
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert dialog.status.text() == "Cancelling..." and not dialog.cancel_button.isEnabled()
    assert finished.args[0]["event"] == "error"
    assert dialog.process.exitCode() == 130
    assert "Cancelled" in dialog.status.text() and "unchanged" in dialog.status.text()
    assert "done" not in [event["event"] for event in seen]
    assert not dialog.use_button.isEnabled() and dialog.start_button.isEnabled()

    assert _models_on_disk() == before == {"picsift-builtin"}  # no half-installed bundle, no staging folder
    assert [bundle.name for bundle in registry.list_bundles()] == ["picsift-builtin"]
    assert registry.active_name() == "picsift-builtin"
    assert window.library.runtime.manifest.name == "picsift-builtin"


def test_cancelling_right_after_start_is_reported_as_cancelled(qtbot, runtime, clothes, fine_tune_base):
    """SIGTERM can arrive before the trainer has installed its handler (it is still importing): a kill, not 130."""
    window = _window(qtbot, runtime)
    dialog, seen = _open_dialog(qtbot, window, clothes)
    with qtbot.waitSignal(dialog.finishedRun, timeout=TRAIN_MS) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.process.state() == QProcess.ProcessState.Running, timeout=WAIT_MS)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0]["event"] == "error" and not seen
    assert dialog.status.text() == "Cancelled; the current model is unchanged."
    assert _models_on_disk() == {"picsift-builtin"} and registry.active_name() == "picsift-builtin"


def _corrupt_photos(root: Path) -> Path:
    for label in ("Cats", "Dogs"):
        (root / label).mkdir(parents=True)
        for number in range(6):
            (root / label / f"{label.lower()}{number}.jpg").write_bytes(os.urandom(600))
    return root


def test_bad_labelled_folders_give_a_clear_message_and_keep_the_current_model(
        qtbot, runtime, clothes, fine_tune_base, tmp_path):
    window = _window(qtbot, runtime)

    # photos the trainer cannot read: it says so in one line, and nothing is installed
    dialog, seen = _open_dialog(qtbot, window, _corrupt_photos(tmp_path / "corrupt"))
    assert _table(dialog) == [("Cats", "6", ""), ("Dogs", "6", "")] and dialog.warning.text() == ""
    assert dialog.name.text() == "corrupt-tuned"
    with qtbot.waitSignal(dialog.finishedRun, timeout=TRAIN_MS) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert finished.args[0]["event"] == "error"
    assert "could be read" in finished.args[0]["message"]
    assert dialog.status.text().startswith("Training failed:") and "could be read" in dialog.status.text()
    assert [event["event"] for event in seen][-1] == "error" and "done" not in [event["event"] for event in seen]
    assert not dialog.use_button.isEnabled() and dialog.start_button.isEnabled()

    # then, in the same dialog: labels holding no photos (only notes), a single label, no folder at all;
    # each is refused before any trainer starts
    notes = tmp_path / "notes"
    for label in ("Cats", "Dogs"):
        (notes / label).mkdir(parents=True)
        (notes / label / "readme.txt").write_text("not a photo")
    one = tmp_path / "one-label"
    shutil.copytree(clothes / "Trouser", one / "Trouser")
    failed_run = dialog.process
    for root, message in ((notes, "at least two labelled subfolders with photos"),
                          (one, "at least two labelled subfolders with photos"),
                          (tmp_path / "missing", "not a folder")):
        _type_root(qtbot, dialog, root)
        assert message in dialog.warning.text()
        assert not dialog.start_button.isEnabled()
        assert dialog.name.text() == f"{root.name}-tuned" or root.name == "missing"  # the suggestion follows the folder
        dialog.start()  # even when called: no trainer
        assert dialog.process is failed_run
    assert _table(dialog) == []
    dialog.close()

    assert _models_on_disk() == {"picsift-builtin"} and registry.active_name() == "picsift-builtin"
    assert window.library.runtime.manifest.name == "picsift-builtin"
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_now()  # the window still answers


def test_a_trainer_that_cannot_start_gives_a_message_instead_of_a_stuck_dialog(qtbot, runtime, clothes,
                                                                              fine_tune_base, monkeypatch, tmp_path):
    from desktop.ui import trainer_run

    monkeypatch.setattr(trainer_run, "trainer_command", lambda args: [str(tmp_path / "no-such-python"), *args])
    window = _window(qtbot, runtime)
    dialog, _ = _open_dialog(qtbot, window, clothes)
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert finished.args[0]["event"] == "error" and "Could not start the trainer" in dialog.status.text()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_a_trainer_crash_shows_one_line_naming_the_log_that_holds_its_traceback(qtbot, runtime, clothes,
                                                                              fine_tune_base, monkeypatch):
    import sys

    from desktop.ui import error_log, trainer_run

    script = ("import sys\n"
              "sys.stderr.write('image features:  40%|####      | 2/5 [00:01<00:01, 2.1item/s]\\r')\n"
              "raise RuntimeError('trainer bug')\n")
    monkeypatch.setattr(trainer_run, "trainer_command", lambda args: [sys.executable, "-c", script])
    window = _window(qtbot, runtime)
    dialog, _ = _open_dialog(qtbot, window, clothes)
    with qtbot.waitSignal(dialog.finishedRun, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == f"Training failed; the current model is unchanged. {error_log.bug_message()}"
    assert "RuntimeError: trainer bug" in error_log.log_path().read_text()
