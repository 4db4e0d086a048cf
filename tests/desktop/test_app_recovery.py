"""The window with what a real disk holds: names that are not UTF-8, and a catalog that was damaged."""

from __future__ import annotations

import os

import pytest
from engine_fixtures import damage_catalog, index_all, write_photos
from PySide6.QtWidgets import QMessageBox
from window_fixtures import open_window as _window

from desktop.core.catalog import Catalog, catalog_path
from desktop.core.library import Library

WAIT_MS = 60_000


@pytest.fixture
def latin1_library(runtime, tmp_path):
    """A folder named with Latin-1 bytes holding a photo named the same way, indexed."""
    folder = os.path.join(os.fsencode(tmp_path), b"Vacances \xe9t\xe9")
    os.mkdir(folder)
    for photo in write_photos(tmp_path / "plain", names=("coffee", "rocket", "chelsea")):
        name = b"caf\xe9.jpg" if photo.stem == "coffee" else os.fsencode(photo.name)
        os.rename(photo, os.path.join(folder, name))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(os.fsdecode(folder))
    assert index_all(library).encoded == 3
    library.close()
    return os.fsdecode(folder)


def test_latin1_names_show_readably_and_every_action_keeps_the_real_path(qtbot, runtime, latin1_library, monkeypatch):
    window = _window(qtbot, runtime)
    coffee = os.path.join(latin1_library, os.fsdecode(b"caf\xe9.jpg"))
    [row] = [row for row in window.model.rows() if row.record.path == coffee]
    assert row.name == "caf\\xe9.jpg"
    window.preview.show_row(row)
    assert window.preview.path.text().endswith("Vacances \\xe9t\\xe9/caf\\xe9.jpg")
    qtbot.waitUntil(lambda: window.preview.image.pixmap() is not None and not window.preview.image.pixmap().isNull(), timeout=WAIT_MS)

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.preview.similar_button.click()  # the path travels through a signal to the search
    assert window.image_query == coffee and window.image_chip.text() == "like: caf\\xe9.jpg"

    window.folder_box.setCurrentIndex(1)  # filter by the Latin-1 folder
    assert window.current_query().folder == latin1_library
    qtbot.waitUntil(lambda: not window._search_running, timeout=WAIT_MS)
    assert {r.record.path for r in window.model.rows()} <= {os.path.join(latin1_library, n) for n in os.listdir(latin1_library)}
    assert window.panel.folder_paths() == [latin1_library]

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window.panel.folders.setCurrentRow(0)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.panel._remove()
    with Catalog() as catalog:
        assert catalog.folders() == []  # the right folder was removed, byte for byte


def test_a_damaged_catalog_is_repaired_from_the_file_menu(qtbot, runtime, tmp_path, monkeypatch):
    photos = write_photos(tmp_path / "photos", names=("coffee", "rocket", "chelsea"))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    library.catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    library.close()
    damage_catalog(catalog_path(), table="instance_features", length=4096)  # a page the window does not read at start

    window = _window(qtbot, runtime)
    with qtbot.waitSignal(window.errorShown, timeout=WAIT_MS) as shown:
        window.start_indexing(None)
    assert "damaged" in shown.args[0] and "File > Repair library catalog" in shown.args[0]

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    [repair] = [a for a in window.menuBar().actions()[0].menu().actions() if a.text().startswith("&Repair")]
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS) as finished:
        repair.trigger()
    assert finished.args[0] is not None and finished.args[0].encoded == 3
    assert window.error_banner.isHidden()
    with Catalog() as catalog:
        assert catalog.count_files() == 3
        catalog.check_integrity()
    assert list(tmp_path.glob("picsift-data/catalog.damaged-*.sqlite3"))
