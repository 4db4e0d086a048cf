"""The real window's relevance feedback: picked results marked "More like this" / "Not this" re-rank at once, each mark a
removable chip; real photos, catalog and built-in model."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import index_all
from PySide6.QtCore import QItemSelectionModel
from test_feedback import _shot
from window_fixtures import WAIT_MS, open_window

from desktop.core.catalog import Catalog
from desktop.core.library import Library

QUERY = "a photo"


@pytest.fixture
def window(qtbot, runtime, tmp_path):
    folder = (tmp_path / "photos").resolve()
    folder.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        for i in range(3):
            _shot(name, i, folder)
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(folder)
    index_all(library)
    library.close()
    window = open_window(qtbot, runtime)
    window.show_all_action.setChecked(True)  # the whole ranking, weak matches too
    _search(qtbot, window, lambda: window.search_field.setText(QUERY))
    return window


def _search(qtbot, window, act) -> None:
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        act()
        window.search_now()


def _ranked(window) -> list[str]:
    return [Path(row.record.path).stem for row in window.model.rows()]


def _pick(window, stem: str) -> None:
    window.view.clearSelection()
    row = _ranked(window).index(stem)
    window.view.selectionModel().select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)


def _mark(qtbot, window, stem: str, action) -> None:
    _pick(window, stem)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        action.trigger()


def _chips(window) -> list[str]:
    return [chip.label for chip in window.feedback.chips.chips()]


def test_not_this_sends_the_photo_down_with_a_chip_whose_removal_restores_the_ranking(qtbot, window):
    before = _ranked(window)
    top = before[0]
    assert not window.feedback.less_action.isEnabled()  # nothing picked
    _mark(qtbot, window, top, window.feedback.less_action)
    after = _ranked(window)
    assert sorted(after) == sorted(before) and after.index(top) >= len(after) - 3  # among the last
    assert _chips(window) == [f"− {top}.jpg"] and window.feedback.chips.isVisible()

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.feedback.chips.button(window.feedback.chips.chips()[0]).click()
    assert _ranked(window) == before and _chips(window) == []


def test_more_like_this_lifts_the_photos_like_the_one_marked_and_marks_stay_while_the_text_is_refined(qtbot, window):
    before = _ranked(window)
    last = before[-1]
    kind = last.split("-")[0]  # chelsea, coffee or rocket: its other shots look like it
    _mark(qtbot, window, last, window.feedback.more_action)
    after = _ranked(window)
    assert set(after[:3]) == {f"{kind}-{i}" for i in range(3)}
    assert _chips(window) == [f"+ {last}.jpg"]

    _search(qtbot, window, lambda: window.search_field.setText(QUERY + " here"))
    assert _chips(window) == [f"+ {last}.jpg"] and set(_ranked(window)[:3]) == {f"{kind}-{i}" for i in range(3)}

    _mark(qtbot, window, last, window.feedback.less_action)  # marked again: the new mark replaces the old
    assert _chips(window) == [f"− {last}.jpg"] and _ranked(window).index(last) >= len(before) - 3

    _search(qtbot, window, window.clear_search)  # a cleared search starts afresh
    assert _chips(window) == [] and window.feedback.feedback() == ()


def test_more_like_this_alone_is_a_query_of_the_photo_marked(qtbot, window):
    _search(qtbot, window, window.search_field.clear)
    first = _ranked(window)[0]
    _mark(qtbot, window, first, window.feedback.more_action)  # no text: the marked photo is the query
    kind = first.split("-")[0]
    assert set(_ranked(window)[:3]) == {f"{kind}-{i}" for i in range(3)}
    assert window.status_label.text().endswith("results")


def test_not_this_without_anything_to_look_for_says_what_to_do_and_leaves_no_mark(qtbot, window):
    _search(qtbot, window, window.search_field.clear)  # browsing
    _pick(window, _ranked(window)[0])
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.feedback.less_action.trigger()
    assert "type what to look for" in shown.args[0]
    assert _chips(window) == [] and window.feedback.feedback() == ()
