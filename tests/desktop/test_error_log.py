"""GUI errors reach the log file with their traceback; the user reads one line, never a raw exception."""

from __future__ import annotations

import threading

import pytest
from engine_fixtures import write_photos
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QPushButton

from desktop.core.catalog import FileRecord
from desktop.core.thumbnails import ThumbnailCache
from desktop.ui import error_log
from desktop.ui.preview import PreviewPane
from desktop.ui.results import ResultRow
from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.ui.workers import GeneratorWorker, run_in_pool
from models.errors import ImageError

WAIT_MS = 10_000


@pytest.fixture
def reporter(qtbot):
    """An installed ErrorReporter (in place of pytest-qt's capture for this test) that records what it showed."""
    shown: list[tuple[str, bool]] = []
    reporter = error_log.ErrorReporter(lambda message: shown.append((message, _on_gui_thread())))
    reporter.shown = shown
    reporter.install()
    yield reporter
    reporter.uninstall()


def _on_gui_thread() -> bool:
    return QThread.currentThread() is QApplication.instance().thread()


def _log_text(data_dir) -> str:
    return (data_dir / "logs" / "picsift.log").read_text(encoding="utf-8")


def test_a_bug_in_a_slot_is_logged_with_its_traceback_and_shown_as_one_line_naming_the_log(qtbot, reporter,
                                                                                           isolated_data_dir):
    def broken_slot():
        raise ValueError("boom in a slot")

    button = QPushButton("Press", clicked=broken_slot)
    with qtbot.waitSignal(reporter.reported, timeout=WAIT_MS) as reported:
        button.click()
    log_file = isolated_data_dir / "logs" / "picsift.log"
    assert reported.args[0] == f"Something went wrong in picsift; details in {log_file}"
    assert reporter.shown == [(reported.args[0], True)]
    text = _log_text(isolated_data_dir)
    assert "Traceback (most recent call last)" in text and "ValueError: boom in a slot" in text
    assert "broken_slot" in text


def test_a_bug_in_a_python_thread_is_logged_and_shown_on_the_gui_thread(qtbot, reporter, isolated_data_dir):
    def broken_thread():
        raise KeyError("lost in a thread")

    with qtbot.waitSignal(reporter.reported, timeout=WAIT_MS) as reported:
        thread = threading.Thread(target=broken_thread)
        thread.start()
        thread.join()
    assert reported.args[0].startswith("Something went wrong in picsift; details in ")
    assert reporter.shown[0][1]  # shown from the GUI thread, though raised in another
    assert "KeyError: 'lost in a thread'" in _log_text(isolated_data_dir)


def test_a_user_error_raised_in_a_slot_is_shown_as_its_own_message(qtbot, reporter):
    def refusing_slot():
        raise ImageError("/photos/x.jpg: file not found (moved or deleted?)")

    button = QPushButton("Press", clicked=refusing_slot)
    with qtbot.waitSignal(reporter.reported, timeout=WAIT_MS) as reported:
        button.click()
    assert reported.args[0] == "/photos/x.jpg: file not found (moved or deleted?)"


def test_a_bug_in_an_engine_call_reports_the_log_line_and_a_user_error_its_message(qtbot, isolated_data_dir):
    errors: list[str] = []
    relays = [run_in_pool(lambda: {}["missing key"], print, errors.append),
              run_in_pool(lambda: (_ for _ in ()).throw(ImageError("x.jpg: empty file (0 bytes)")), print, errors.append)]
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=WAIT_MS)
    assert sorted(errors) == sorted([error_log.bug_message(), "x.jpg: empty file (0 bytes)"])
    assert "KeyError: 'missing key'" in _log_text(isolated_data_dir)
    assert "internal error" not in " ".join(errors) and relays


def test_a_bug_in_a_background_generator_reports_the_log_line(qtbot, isolated_data_dir):
    def steps(cancel):
        yield 1
        raise RuntimeError("generator bug")

    worker = GeneratorWorker(steps)
    errors: list[str] = []
    worker.errored.connect(errors.append)
    worker.start()
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    worker.wait()
    assert errors == [error_log.bug_message()]
    assert "RuntimeError: generator bug" in _log_text(isolated_data_dir)


def _row(path) -> ResultRow:
    return ResultRow(FileRecord(str(path), 1, 1000, 0, 640, 480, None, None, "0" * 64))


def test_a_preview_of_an_unreadable_photo_ends_loading_with_the_reason(qtbot, tmp_path):
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_row(_row(tmp_path / "gone.jpg"))
    qtbot.waitUntil(lambda: pane.image.text() != "Loading...", timeout=WAIT_MS)
    assert "gone.jpg: file not found" in pane.image.text()


def test_a_preview_that_fails_with_a_bug_ends_loading_with_the_log_line(qtbot, tmp_path, monkeypatch, isolated_data_dir):
    from desktop.ui import preview

    def broken_reader(path, side):
        raise AttributeError("decoder bug")

    monkeypatch.setattr(preview, "read_photo_file", broken_reader)
    photo, = write_photos(tmp_path, names=("coffee",))
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_row(_row(photo))
    qtbot.waitUntil(lambda: pane.image.text() != "Loading...", timeout=WAIT_MS)
    assert error_log.bug_message() in pane.image.text()
    assert "AttributeError: decoder bug" in _log_text(isolated_data_dir)


def test_a_thumbnail_that_fails_with_a_bug_still_reports_back_and_is_logged(qtbot, tmp_path, isolated_data_dir):
    photo, = write_photos(tmp_path / "photos", names=("coffee",))
    loader = ThumbnailLoader(ThumbnailCache(tmp_path / "thumbs"))
    with qtbot.waitSignal(loader.loaded, timeout=WAIT_MS) as loaded:
        loader.request("../not-a-hash", str(photo))  # the cache refuses it: a ValueError, not an ImageError
    loader.wait()
    assert loaded.args[0] == "../not-a-hash" and loaded.args[1].isNull()
    assert "ValueError: not a content hash" in _log_text(isolated_data_dir)
