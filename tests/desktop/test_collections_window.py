"""The real window's collections: made from picked results or a whole search, chosen to browse and search within,
renamed, deleted, photos taken out, and kept when their photos move; real files, catalog and model."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox
from window_fixtures import WAIT_MS, indexed_folder, open_window

from desktop.core.catalog import Catalog

NAMES = ("chelsea", "coffee", "rocket", "clock", "astronaut")


@pytest.fixture
def folder(runtime, tmp_path):
    return indexed_folder(runtime, tmp_path, NAMES)


@pytest.fixture
def window(qtbot, runtime, folder):
    return open_window(qtbot, runtime)


def _answer_name(monkeypatch, name: str) -> None:
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: (name, True))


def _pick(window, names) -> list[str]:
    """The rows of these photo names picked, as ctrl-click does; their paths."""
    window.view.clearSelection()
    picked = []
    for i, row in enumerate(window.model.rows()):
        if os.path.splitext(row.name)[0] in names:
            window.view.selectionModel().select(window.model.index(i), QItemSelectionModel.SelectionFlag.Select)
            picked.append(row.record.path)
    return picked


def _shown(window) -> set[str]:
    return {os.path.splitext(row.name)[0] for row in window.model.rows()}


def _listed(window) -> list[str]:
    return [window.collections.panel.list.item(i).text() for i in range(window.collections.panel.list.count())]


def _wait_listed(qtbot, window, text: str) -> None:
    qtbot.waitUntil(lambda: text in _listed(window), timeout=WAIT_MS)


def _choose(qtbot, window, collection_text: str) -> None:
    """Pick a collection in the panel (or All photos) and wait for its results."""
    rows = [i for i, text in enumerate(_listed(window)) if text == collection_text]
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.collections.panel.list.setCurrentRow(rows[0])


def _holiday(qtbot, window, monkeypatch) -> None:
    """A collection "Holiday" of the cat and the rocket, made from the Photos menu's Add to collection > New collection."""
    _answer_name(monkeypatch, "Holiday")
    _pick(window, ("chelsea", "rocket"))
    window.collections._fill_add_menu()
    new = [a for a in window.collections.add_menu.actions() if a.text() == "New collection..."][0]
    new.trigger()
    _wait_listed(qtbot, window, "Holiday  (2)")


def test_picked_results_become_a_collection_that_browses_and_searches_within_itself(qtbot, window, monkeypatch):
    assert _listed(window) == ["All photos"]
    assert not window.collections.add_menu.menuAction().isEnabled()  # nothing picked yet
    _holiday(qtbot, window, monkeypatch)
    assert window.status_label.text() == "Made the collection Holiday with 2 photos"

    _choose(qtbot, window, "Holiday  (2)")
    assert _shown(window) == {"chelsea", "rocket"}  # browsing the collection: its photos only
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_field.setText("a cat")
        window.search_now()
    window.show_all_action.setChecked(True)
    assert _shown(window) <= {"chelsea", "rocket"} and window.model.rows()[0].name == "chelsea.jpg"

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_field.clear()
        window.search_now()
    _choose(qtbot, window, "All photos")
    assert _shown(window) == set(NAMES)


def test_adding_to_a_collection_counts_only_new_photos_and_remove_takes_them_out_leaving_the_files(qtbot, window, monkeypatch):
    _holiday(qtbot, window, monkeypatch)
    _pick(window, ("rocket", "clock"))
    window.collections._fill_add_menu()
    [a for a in window.collections.add_menu.actions() if a.text() == "Holiday"][0].trigger()
    _wait_listed(qtbot, window, "Holiday  (3)")
    assert window.status_label.text() == "Added 1 photo to Holiday (the rest were in it)"

    _choose(qtbot, window, "Holiday  (3)")
    assert _shown(window) == {"chelsea", "rocket", "clock"}
    assert window.collections.remove_action.isEnabled() is False  # nothing picked after the new results
    picked = _pick(window, ("clock",))
    assert window.collections.remove_action.isEnabled()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.collections.remove_action.trigger()
    _wait_listed(qtbot, window, "Holiday  (2)")
    assert _shown(window) == {"chelsea", "rocket"}
    assert os.path.isfile(picked[0])


def test_a_whole_search_is_saved_as_a_collection_with_its_query(qtbot, window, monkeypatch):
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_field.setText("a cup of coffee")
        window.search_now()
    shown = len(window.model.rows())
    assert shown > 0
    _answer_name(monkeypatch, "Coffee search")
    window.collections.save_search_action.trigger()
    _wait_listed(qtbot, window, f"Coffee search  ({shown})")
    saved = Catalog().collections()
    assert [(c.name, c.query, c.count) for c in saved] == [("Coffee search", {"text": "a cup of coffee"}, shown)]
    item = window.collections.panel.list.item(1)
    assert "a saved search" in item.toolTip()


def test_rename_and_delete_from_the_panel_and_a_taken_name_is_refused_with_a_message(qtbot, window, monkeypatch):
    _holiday(qtbot, window, monkeypatch)
    _answer_name(monkeypatch, "Work")
    window.collections.create_from([])
    _wait_listed(qtbot, window, "Work  (0)")

    _choose(qtbot, window, "Holiday  (2)")
    _answer_name(monkeypatch, "work")  # names are unique whatever their case
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.collections.panel.rename_button.click()
    assert "exists already" in shown.args[0]
    _answer_name(monkeypatch, "Summer 2024")
    window.collections.panel.rename_button.click()
    _wait_listed(qtbot, window, "Summer 2024  (2)")
    assert window.collections.panel.current_name() == "Summer 2024"  # still chosen under its new name

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):  # the chosen one went: back to all photos
        window.collections.panel.delete_button.click()
    assert _listed(window) == ["All photos", "Work  (0)"]
    assert _shown(window) == set(NAMES)


def test_a_collection_keeps_its_photos_when_the_window_moves_them(qtbot, window, folder, monkeypatch):
    _holiday(qtbot, window, monkeypatch)
    moved_to = folder / "trip"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(moved_to))
    _pick(window, ("rocket",))
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.result_actions.move_action.trigger()
    qtbot.waitUntil(lambda: not window.result_actions.is_running(), timeout=WAIT_MS)
    assert (moved_to / "rocket.jpg").is_file() and not (folder / "rocket.jpg").exists()

    _choose(qtbot, window, "Holiday  (2)")
    assert {row.record.path for row in window.model.rows()} == {str(folder / "chelsea.jpg"), str(moved_to / "rocket.jpg")}
