"""The open window watches its library folders: real files copied in and deleted, a real watcher, the real grid."""

from __future__ import annotations

import os
import shutil

import pytest
from engine_fixtures import index_all, write_photos
from window_fixtures import open_window

from desktop.core.catalog import Catalog
from desktop.core.index_lock import IndexLock
from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.main_window import MainWindow

WAIT_MS = 60_000  # generous for CI; each wait returns as soon as its condition holds


@pytest.fixture
def folder(runtime, tmp_path):
    """An indexed library folder of three photos."""
    path = tmp_path / "photos"
    write_photos(path, names=("chelsea", "coffee", "clock"))
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(path)
    index_all(library)
    library.close()
    return path.resolve()


def _names(window: MainWindow) -> set[str]:
    return {row.name for row in window.model.rows()}


def _watching_window(qtbot, runtime, settings: Settings | None = None) -> MainWindow:
    """The window, once its watcher has its folders watched."""
    window = open_window(qtbot, runtime, settings)
    qtbot.waitUntil(lambda: window.watch.watching, timeout=WAIT_MS)
    return window


def test_photo_copied_into_a_folder_while_the_window_is_open_appears_in_the_grid(qtbot, runtime, folder, tmp_path):
    window = _watching_window(qtbot, runtime)
    assert _names(window) == {"chelsea.jpg", "coffee.jpg", "clock.jpg"}
    card = write_photos(tmp_path / "card", names=("rocket",))[0]
    shutil.copy(card, folder / "rocket.jpg")
    qtbot.waitUntil(lambda: "rocket.jpg" in _names(window), timeout=WAIT_MS)
    assert window.library.catalog.file_by_path(str(folder / "rocket.jpg")) is not None


def test_photo_deleted_while_the_window_is_open_leaves_the_grid_and_the_catalog(qtbot, runtime, folder):
    window = _watching_window(qtbot, runtime)
    os.remove(folder / "coffee.jpg")
    qtbot.waitUntil(lambda: _names(window) == {"chelsea.jpg", "clock.jpg"}, timeout=WAIT_MS)
    assert window.library.catalog.file_by_path(str(folder / "coffee.jpg")) is None


def test_closing_the_window_stops_the_watcher_and_its_thread_ends(qtbot, runtime, folder):
    window = _watching_window(qtbot, runtime)
    watcher = window.watch.watcher
    window.close()
    assert watcher.wait(0)
    assert not window.watch.is_watching()


def test_the_watcher_pauses_while_the_users_indexing_runs_and_watches_again_after(qtbot, runtime, folder):
    window = _watching_window(qtbot, runtime)
    first = window.watch.watcher
    with qtbot.waitSignal(window.indexingFinished, timeout=WAIT_MS):
        window.start_indexing(None)
        assert not window.watch.is_watching() and first.wait(0)
    assert window.error_banner.isHidden()  # the run was not refused as busy
    qtbot.waitUntil(lambda: window.watch.is_watching() and window.watch.watcher is not first, timeout=WAIT_MS)


def test_watching_turned_off_in_the_menu_stops_the_watcher_and_is_remembered(qtbot, runtime, folder):
    settings = Settings()
    window = _watching_window(qtbot, runtime, settings)
    assert window.watch_action.isChecked()
    watcher = window.watch.watcher
    window.watch_action.setChecked(False)
    assert watcher.wait(0) and not window.watch.is_watching()
    window.close()
    assert Settings.load().watch_folders is False
    again = open_window(qtbot, runtime, Settings.load())
    again.watch.start()
    assert not again.watch_action.isChecked() and not again.watch.is_watching()


def test_another_process_indexing_is_said_in_the_status_line_not_as_an_error(qtbot, runtime, folder, tmp_path):
    window = _watching_window(qtbot, runtime)
    with IndexLock(window.library.catalog.path):  # as another picsift indexing this library would hold it
        shutil.copy(write_photos(tmp_path / "card", names=("rocket",))[0], folder / "rocket.jpg")
        qtbot.waitUntil(lambda: "another picsift is indexing" in window.status_label.text(), timeout=WAIT_MS)
    assert window.error_banner.isHidden()


def test_a_photo_with_printed_text_copied_in_is_read_after_its_batch_and_found_by_its_words(qtbot, runtime, folder, tmp_path):
    from text_photos import sign_photo

    window = _watching_window(qtbot, runtime)
    qtbot.waitUntil(lambda: not window.text_pass.is_running(), timeout=WAIT_MS)  # the three photos' text pass, at start
    sign = tmp_path / "sign.jpg"
    sign_photo("coffee", "HARVEST MARKET", "DejaVuSans.ttf", 40).save(sign, quality=92)
    shutil.copy(sign, folder / "market.jpg")
    catalog = window.library.catalog
    qtbot.waitUntil(lambda: (record := catalog.file_by_path(str(folder / "market.jpg"))) is not None
                    and catalog.text_read(record.image_id), timeout=WAIT_MS)
    words = " ".join(line.text for line in catalog.text_of(catalog.file_by_path(str(folder / "market.jpg")).image_id))
    assert "HARVEST" in words.upper() and "MARKET" in words.upper()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.search_field.setText("harvest market")
        window.search_now()
    assert window.model.rows()[0].name == "market.jpg"


def test_indexing_that_ends_after_the_window_closed_starts_no_watcher_or_text_pass(qtbot, runtime, folder, tmp_path):
    import threading

    window = _watching_window(qtbot, runtime)
    write_photos(folder / "more", names=("rocket", "astronaut", "coins", "moon"))
    window.start_indexing(None)
    qtbot.waitUntil(lambda: window.index_worker is not None and window.index_worker.is_running(), timeout=WAIT_MS)
    window.close()  # cancels the run; its end is reported to the GUI thread after the window is gone
    qtbot.wait(1500)  # the queued end of the run, and anything it would start
    assert window.watch.watcher is None and not window.text_pass.is_running()
    assert not [t for t in threading.enumerate() if t.name == "picsift-watcher" and t.is_alive()]
