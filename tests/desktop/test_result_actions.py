"""The real window acting on several picked results: copy, move, trash, paths, drag out; real files and catalog."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox
from window_fixtures import WAIT_MS, indexed_folder, open_window

NAMES = ("chelsea", "coffee", "rocket", "clock")


@pytest.fixture
def folder(runtime, tmp_path):
    return indexed_folder(runtime, tmp_path, NAMES)


@pytest.fixture
def window(qtbot, runtime, folder):
    return open_window(qtbot, runtime)


def _pick_three(window) -> list[str]:
    """Rows 0-2 picked through the selection model (as shift-click does); their paths."""
    for row in range(3):
        window.view.selectionModel().select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    return [row.record.path for row in window.model.rows()[:3]]


def _answer_folder(monkeypatch, folder) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(folder))


def _run(qtbot, window, action, refreshes: bool = False) -> None:
    """Trigger `action` and wait until its worker is done (and, after a move or trash, the grid shows the new search)."""
    if refreshes:
        with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
            action.trigger()
    else:
        action.trigger()
    qtbot.waitUntil(lambda: not window.result_actions.is_running() and window.result_actions.progress.isHidden(), timeout=WAIT_MS)


def test_ctrl_a_picks_every_result_and_copy_to_folder_copies_them_keeping_the_originals(qtbot, window, folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _answer_folder(monkeypatch, out)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.view.selected_rows()) == len(NAMES)
    _run(qtbot, window, window.result_actions.copy_action)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.jpg" for name in NAMES)
    assert all((folder / f"{name}.jpg").is_file() for name in NAMES)
    assert window.status_label.text() == f"Copied {len(NAMES)} photos to {out}"


def test_moving_three_results_moves_the_files_and_the_grid_shows_their_new_paths(qtbot, window, folder, monkeypatch):
    sorted_folder = folder / "sorted"  # inside the library: the moved photos stay findable, at their new paths
    _answer_folder(monkeypatch, sorted_folder)
    picked = _pick_three(window)
    _run(qtbot, window, window.result_actions.move_action, refreshes=True)
    assert not any(os.path.exists(path) for path in picked)
    assert sorted(p.name for p in sorted_folder.iterdir()) == sorted(os.path.basename(path) for path in picked)
    shown = {row.record.path for row in window.model.rows()}
    assert len(shown) == len(NAMES) and {str(sorted_folder / os.path.basename(path)) for path in picked} <= shown
    assert window.status_label.text() == f"Moved 3 photos to {sorted_folder}"


def test_copy_paths_puts_the_picked_paths_on_the_clipboard_one_a_line(window):
    picked = _pick_three(window)
    window.result_actions.paths_action.trigger()
    assert QGuiApplication.clipboard().text() == "\n".join(picked)


def test_move_to_trash_asks_first_then_the_photos_leave_the_folder_and_the_grid(qtbot, window, folder, monkeypatch, user_trash):
    picked = _pick_three(window)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.No)
    window.result_actions.trash_action.trigger()
    assert not window.result_actions.is_running() and all(os.path.exists(path) for path in picked)

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    _run(qtbot, window, window.result_actions.trash_action, refreshes=True)
    assert not any(os.path.exists(path) for path in picked)
    assert sorted(p.name for p in (user_trash / "files").iterdir()) == sorted(os.path.basename(path) for path in picked)
    assert len(window.model.rows()) == len(NAMES) - 3
    assert window.status_label.text() == "Moved 3 photos to the trash"


def test_a_photo_gone_before_the_copy_is_named_in_the_one_line_summary_and_the_others_are_copied(qtbot, window, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _answer_folder(monkeypatch, out)
    picked = _pick_three(window)
    os.remove(picked[1])
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        _run(qtbot, window, window.result_actions.copy_action)
    assert shown.args[0].startswith(f"Copied 2 photos to {out}; 1 could not be copied: {picked[1]}: not copied (")
    assert len(list(out.iterdir())) == 2


def test_dragging_results_out_carries_their_files_as_urls(window):
    picked = _pick_three(window)
    mime = window.model.mimeData(window.view.selectionModel().selectedIndexes())
    assert mime.urls() == [QUrl.fromLocalFile(path) for path in picked]


def test_results_dropped_back_on_the_window_do_not_replace_the_search(qtbot, window):
    _pick_three(window)
    mime = window.model.mimeData(window.view.selectionModel().selectedIndexes())

    class FromTheGrid(QDropEvent):
        def source(self):  # what Qt answers while a drag started in this app is under way
            return window.view

    event = FromTheGrid(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.image_query is None and not event.isAccepted()


def test_the_actions_are_enabled_only_while_results_are_picked(window):
    actions = window.result_actions.actions
    assert not any(action.isEnabled() for action in actions)
    _pick_three(window)
    assert all(action.isEnabled() for action in actions)
    window.view.clearSelection()
    assert not any(action.isEnabled() for action in actions)
