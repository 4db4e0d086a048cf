"""The real window, offscreen: places and dates typed in the search box become removable chips, the place list and "Has text"."""

from __future__ import annotations

import os
from datetime import date, datetime

import numpy as np
import pytest
from engine_fixtures import index_all
from image_zoo import write_photo
from PIL import ExifTags
from window_fixtures import WAIT_MS
from window_fixtures import open_window as _window

from desktop.core.catalog import Catalog, NewImage
from desktop.core.library import Library
from desktop.core.query_filters import place_filter
from desktop.ui.main_window import MainWindow

GPS = ExifTags.GPS
PORTO = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (41.0, 8.0, 26.4), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (8.0, 36.0, 48.0)}
CAPE_TOWN = {GPS.GPSLatitudeRef: "S", GPS.GPSLatitude: (33.0, 55.0, 30.0), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (18.0, 25.0, 12.0)}
OSLO = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (59.0, 54.75), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (10.0, 45.0)}


@pytest.fixture
def travels(runtime, tmp_path):
    """Two photos from Porto (2019 and 2021), one from Cape Town, one with no GPS: indexed."""
    folder = tmp_path / "travels"
    write_photo(folder / "coffee.jpg", "coffee", taken_at=datetime(2019, 7, 14, 10), gps=PORTO)
    write_photo(folder / "rocket.jpg", "rocket", taken_at=datetime(2021, 3, 4, 5), gps=PORTO)
    write_photo(folder / "chelsea.jpg", "chelsea", taken_at=datetime(2020, 12, 24, 18), gps=CAPE_TOWN)
    write_photo(folder / "moon.jpg", "moon", taken_at=datetime(2019, 7, 20, 22))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(folder)
    index_all(library)
    library.close()
    return folder


def _type(qtbot, window: MainWindow, text: str) -> None:
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, text)


def _names(window: MainWindow) -> list[str]:
    return sorted(os.path.splitext(row.name)[0] for row in window.model.rows())


def _labels(window: MainWindow) -> list[str]:
    return [chip.label for chip in window.filter_chips.chips()]


def test_a_place_typed_with_words_becomes_a_removable_chip_and_the_words_stay_the_semantic_query(qtbot, runtime, travels):
    window = _window(qtbot, runtime)
    window.show_all_action.setChecked(True)  # weak matches too: the place decides what is shown
    _type(qtbot, window, "beach in Portugal")
    query = window.current_query()
    assert query.texts == (("beach", 1.0),) and len(query.places) == 1
    assert _labels(window) == ["Portugal"] and window.filter_chips.isVisibleTo(window)
    [chip] = window.filter_chips.chips()
    assert window.filter_chips.button(chip).text() == "Portugal  ×" and _names(window) == ["coffee", "rocket"]

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.filter_chips.button(chip).click()
    assert window.search_field.text() == "beach in Portugal"  # the text stays; only its filter went
    assert window.current_query().places == () and window.current_query().texts == (("beach", 1.0),)
    assert _labels(window) == [] and not window.filter_chips.isVisibleTo(window)
    assert _names(window) == ["chelsea", "coffee", "moon", "rocket"]
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_now()  # searching again (Enter) keeps the chip removed
    assert _labels(window) == []

    _type(qtbot, window, " and sand")  # a new text: its place is a filter again
    assert _labels(window) == ["Portugal"] and len(window.current_query().places) == 1


def test_a_query_of_only_a_place_or_a_date_is_a_filter_that_lists_the_photos_taken_then_and_there(qtbot, runtime, travels):
    window = _window(qtbot, runtime)
    _type(qtbot, window, "photos from Norway")
    query = window.current_query()
    assert query.texts == () and query.images == () and len(query.places) == 1 and query.dates is None
    assert _labels(window) == ["Norway"] and window.model.rows() == [] and window.status_label.text() == "0 results"

    window.search_field.clear()
    _type(qtbot, window, "Cape Town, South Africa")
    assert _labels(window) == ["Cape Town, South Africa"] and _names(window) == ["chelsea"]

    window.search_field.clear()
    _type(qtbot, window, "July 2019")
    dates = window.current_query().dates
    assert (dates.start, dates.end) == (date(2019, 7, 1), date(2019, 7, 31)) and window.current_query().texts == ()
    assert _labels(window) == ["July 2019"] and _names(window) == ["coffee", "moon"]
    [chip] = window.filter_chips.chips()
    assert window.filter_chips.button(chip).objectName() == "chip-date" and "in July 2019" in window.filter_chips.button(chip).toolTip()


def test_the_place_list_shows_the_librarys_countries_and_cities_with_counts_and_filters_by_the_one_picked(
        qtbot, runtime, travels, tmp_path):
    window = _window(qtbot, runtime)
    box = window.place_box
    qtbot.waitUntil(lambda: box.count() > 1, timeout=WAIT_MS)
    assert [box.itemText(i) for i in range(box.count())] == ["Any place", "Portugal (2)", "    Porto (2)", "South Africa (1)", "    Cape Town (1)"]

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        box.setCurrentIndex(box.findText("South Africa (1)"))
    assert window.current_query().places == (place_filter("ZA"),) and _names(window) == ["chelsea"]
    _type(qtbot, window, "photos in Portugal")  # a typed place wins over the picked one
    assert [f.place.country_code for f in window.current_query().places] == ["PT"] and _names(window) == ["coffee", "rocket"]

    window.search_field.clear()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        box.setCurrentIndex(box.findText("    Porto (2)"))
    assert window.current_query().places == (place_filter("PT", "Porto"),) and _names(window) == ["coffee", "rocket"]

    oslo = tmp_path / "oslo"
    write_photo(oslo / "brick.jpg", "brick", gps=OSLO)
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS):
        window.add_folder(str(oslo))
    qtbot.waitUntil(lambda: box.findText("Norway (1)") >= 0, timeout=WAIT_MS)  # the list follows the library
    assert box.currentText() == "    Porto (2)"  # and the picked place stays picked


def test_has_text_limits_the_search_to_photos_with_printed_text(qtbot, runtime, travels):
    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.has_text_box.setChecked(True)
    assert window.current_query().has_text and window.current_query().texts == ()
    assert window.model.rows() == []  # the text pass has found no text in these photos (it has not read them)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.has_text_box.setChecked(False)
    assert window.current_query() is None and len(window.model.rows()) == 4


def test_a_folder_filter_takes_its_subfolders_and_not_its_namesakes(tmp_path):
    """The filter is a range of the path index: `photos/...` in, `photos2`, `photos-old`, `photos0` out,
    names stored as TEXT and as BLOB (not UTF-8) alike."""
    root = tmp_path.resolve()
    inside = [root / "photos" / "a.jpg", root / "photos" / "sub" / "b.jpg", os.fsdecode(os.fsencode(root / "photos") + b"/caf\xe9.jpg")]
    outside = [root / "photos2" / "c.jpg", root / "photos-old" / "d.jpg", root / "photos0" / "e.jpg", root / "other.jpg"]
    with Catalog() as catalog:
        folder_id = catalog.add_folder(root)
        items = [NewImage(str(p), folder_id, 1, 1, f"h{i}", 8, 8, None, None) for i, p in enumerate(inside + outside)]
        ids = catalog.add_images(items, np.zeros((len(items), 4), np.float32), "enc")
        assert catalog.image_ids_matching(folder=str(root / "photos")) == set(ids[: len(inside)])
        assert catalog.image_ids_matching(folder=str(root / "photos" / "a.jpg")) == {ids[0]}  # a file names itself
        assert catalog.image_ids_matching(folder=str(root)) == set(ids)
