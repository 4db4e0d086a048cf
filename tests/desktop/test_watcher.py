"""The folder watcher indexes what changes in the library as it happens: real files, real events.

No event is mocked: photos are copied, deleted, renamed and half-written in temp folders while a
real watchdog observer watches them. Tests never sleep; they wait on the watcher's reports (a
condition notified by its callback) with generous timeouts, and check the catalog each time one
arrives: the reports are the signal, the catalog the truth.
"""

from __future__ import annotations

import errno
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from engine_fixtures import index_all, write_photos
from PIL import Image
from watchdog.observers import Observer

import desktop.core.watcher as watcher_module
from desktop.core.demo_library import demo_image
from desktop.core.index_lock import IndexLock
from desktop.core.watcher import LibraryWatcher

TIMEOUT_S = 60.0  # generous: the machine running the tests may be busy; a pass takes a few seconds
ROOT = Path(__file__).resolve().parents[2]


class Reports:
    """The watcher's callback: keeps every report and wakes whoever waits for a condition."""

    def __init__(self):
        self.items = []
        self._cond = threading.Condition()

    def __call__(self, report) -> None:
        with self._cond:
            self.items.append(report)
            self._cond.notify_all()

    def wait_until(self, condition, timeout: float = TIMEOUT_S) -> None:
        """Wait until `condition()` holds, looking again after each report."""
        with self._cond:
            assert self._cond.wait_for(condition, timeout), f"not reached in {timeout} s; reports: {self.items}"

    def wait_indexed(self, condition, timeout: float = TIMEOUT_S) -> None:
        """Wait until `condition()` holds at the end of a batch (the catalog changes while it runs)."""
        self.wait_until(lambda: bool(self.items) and self.items[-1].kind == "indexed" and condition(), timeout)

    def of(self, kind: str) -> list:
        with self._cond:
            return [r for r in self.items if r.kind == kind]


def jpeg(name: str = "coffee", shade: int = 0, size=(320, 240)) -> bytes:
    """A real small JPEG; `shade` paints one corner so each is distinct content."""
    image = demo_image(name).resize(size, Image.Resampling.BILINEAR)
    image.paste((shade % 256, (shade * 7) % 256, (shade * 13) % 256), (0, 0, 24, 24))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def folder(library, tmp_path):
    """An indexed library folder of eight photos."""
    path = tmp_path / "photos"
    write_photos(path)
    library.catalog.add_folder(path)
    index_all(library)
    return path.resolve()


@pytest.fixture
def reports():
    return Reports()


@pytest.fixture
def watching(library, folder, reports):
    watcher = LibraryWatcher(library, reports)
    watcher.start()
    reports.wait_until(lambda: reports.of("watching"))
    yield watcher
    watcher.stop()


def searchable_ids(library) -> set[int]:
    ids, _ = library.vector_index.search(library.runtime.encode_texts(["a photo"])[0], k=1000)
    return set(int(i) for i in ids)


def catalogued(library, path) -> bool:
    return library.catalog.file_by_path(str(path)) is not None


def test_a_scoped_run_reads_and_removes_only_within_its_scope(library, folder):
    (folder / "inside").mkdir()
    (folder / "inside" / "new.jpg").write_bytes(jpeg("rocket", 7))
    (folder / "outside.jpg").write_bytes(jpeg("moon", 8))
    os.remove(folder / "brick.jpg")
    scope = [str(folder / "inside"), str(folder / "coffee.jpg")]
    for progress in library.indexer().run(scope=scope):
        pass
    assert (progress.encoded, progress.removed, progress.unchanged) == (1, 0, 1)
    assert catalogued(library, folder / "inside" / "new.jpg") and catalogued(library, folder / "brick.jpg")
    assert not catalogued(library, folder / "outside.jpg")


def test_photo_copied_in_becomes_searchable(library, folder, watching, reports, tmp_path):
    outside = tmp_path / "card.jpg"
    outside.write_bytes(jpeg("rocket", 1))
    shutil.copy(outside, folder / "new.jpg")
    reports.wait_indexed(lambda: catalogued(library, folder / "new.jpg"))
    image_id = library.catalog.file_by_path(str(folder / "new.jpg")).image_id
    assert image_id in searchable_ids(library)
    assert "indexed 1 new, 0 removed, 0 moved" in [r.message for r in reports.of("indexed")]


def test_deleted_photo_leaves_the_results(library, folder, watching, reports):
    image_id = library.catalog.file_by_path(str(folder / "coffee.jpg")).image_id
    os.remove(folder / "coffee.jpg")
    reports.wait_indexed(lambda: not catalogued(library, folder / "coffee.jpg"))
    assert image_id not in searchable_ids(library)


def test_renamed_and_moved_photos_keep_their_vectors_without_encoding(library, folder, watching, reports):
    before = {name: library.catalog.file_by_path(str(folder / name)).image_id for name in ("moon.jpg", "coins.jpg")}
    os.rename(folder / "moon.jpg", folder / "full moon.jpg")
    (folder / "2024").mkdir()
    os.rename(folder / "coins.jpg", folder / "2024" / "coins.jpg")
    moved = {"moon.jpg": folder / "full moon.jpg", "coins.jpg": folder / "2024" / "coins.jpg"}
    reports.wait_indexed(lambda: all(catalogued(library, p) for p in moved.values())
                       and not catalogued(library, folder / "moon.jpg") and not catalogued(library, folder / "coins.jpg"))
    assert {name: library.catalog.file_by_path(str(p)).image_id for name, p in moved.items()} == before
    batches = [r.progress for r in reports.of("indexed")]
    assert sum(p.encoded for p in batches) == 0 and sum(p.reused for p in batches) == 2
    assert before["moon.jpg"] in searchable_ids(library)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify reports when a writer closes a file")
def test_photo_written_in_two_halves_with_a_pause_is_read_only_when_complete(library, folder, watching, reports):
    data = jpeg("astronaut", 2)
    path = folder / "slow.jpg"
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        reports.wait_until(lambda: reports.of("waiting"))  # seen, quiet for QUIET_S, and not read
        assert not catalogued(library, path)
        handle.write(data[len(data) // 2:])
    reports.wait_indexed(lambda: catalogued(library, path))
    assert library.catalog.file_by_path(str(path)).size == len(data)
    assert library.catalog.errors() == []
    assert all(p.failed == 0 for p in (r.progress for r in reports.of("indexed")))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify reports when a writer closes a file")
def test_copy_that_never_pauses_indexes_what_landed_and_leaves_the_file_being_written(library, folder, reports,
                                                                                       monkeypatch):
    monkeypatch.setattr(watcher_module, "MAX_DELAY_S", 1.5)
    data = jpeg("rocket", 9)
    with LibraryWatcher(library, reports, rescan_first=False), open(folder / "big.jpg", "wb") as handle:
        reports.wait_until(lambda: reports.of("watching"))
        handle.write(data[: len(data) // 2])
        handle.flush()
        (folder / "landed.jpg").write_bytes(jpeg("moon", 10))
        reports.wait_indexed(lambda: catalogued(library, folder / "landed.jpg"))  # past MAX_DELAY_S, big.jpg still open
        assert not catalogued(library, folder / "big.jpg") and library.catalog.errors() == []
        handle.write(data[len(data) // 2:])
        handle.close()
        reports.wait_indexed(lambda: catalogued(library, folder / "big.jpg"))
    assert library.catalog.errors() == []


def test_burst_of_fifty_photos_is_indexed_in_few_batches(library, folder, watching, reports):
    burst = [jpeg("chelsea", shade) for shade in range(50)]
    (folder / "card").mkdir()
    for number, data in enumerate(burst):
        (folder / "card" / f"IMG_{number:04}.jpg").write_bytes(data)
    reports.wait_indexed(lambda: library.catalog.count_files() == 8 + 50)
    batches = [r.progress for r in reports.of("indexed") if r.progress.encoded]
    assert sum(p.encoded for p in batches) == 50 and len(batches) <= 3
    assert len(searchable_ids(library)) == 58


def test_folder_whose_root_vanishes_goes_offline_with_its_photos_kept_and_comes_back(library, folder, watching,
                                                                                      reports, tmp_path):
    os.rename(folder, tmp_path / "unplugged")  # as an unmounted drive: no event for the files in it
    reports.wait_until(lambda: reports.of("offline"))
    assert library.catalog.count_files() == 8
    os.rename(tmp_path / "unplugged", folder)
    reports.wait_until(lambda: reports.of("online") and reports.of("indexed")[-1].at > reports.of("online")[0].at)
    assert library.catalog.count_files() == 8
    (folder / "after.jpg").write_bytes(jpeg("brick", 3))  # watched again
    reports.wait_indexed(lambda: catalogued(library, folder / "after.jpg"))


class _NoWatchesLeft(Observer):
    """The real observer on a system whose inotify watch limit is reached."""

    def schedule(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


def test_watch_limit_reached_falls_back_to_periodic_rescans_and_says_so(library, folder, reports, monkeypatch):
    monkeypatch.setattr(watcher_module, "RESCAN_INTERVAL_S", 0.5)
    with LibraryWatcher(library, reports, observer_factory=_NoWatchesLeft):
        reports.wait_until(lambda: reports.of("fallback"))
        assert "rescanning it every" in reports.of("fallback")[0].message
        (folder / "polled.jpg").write_bytes(jpeg("camera", 4))
        reports.wait_indexed(lambda: catalogued(library, folder / "polled.jpg"))


def test_index_lock_held_elsewhere_is_said_once_and_the_change_indexed_after(library, folder, reports, monkeypatch):
    monkeypatch.setattr(watcher_module, "BUSY_RETRY_S", 0.2)
    lock = IndexLock(library.catalog.path)
    lock.acquire()
    with LibraryWatcher(library, reports, rescan_first=False):
        reports.wait_until(lambda: reports.of("watching"))
        (folder / "later.jpg").write_bytes(jpeg("coins", 5))
        reports.wait_until(lambda: reports.of("busy"))
        lock.release()
        reports.wait_indexed(lambda: catalogued(library, folder / "later.jpg"))
    assert len(reports.of("busy")) == 1


@pytest.mark.parametrize("started_with_sigint_ignored", [False, True])  # True: as a script's background job is
def test_picsift_watch_indexes_a_new_photo_and_exits_0_on_ctrl_c(toy, tmp_path, started_with_sigint_ignored):
    from models import registry

    registry.install(toy, name="toy")
    registry.use("toy")
    folder = tmp_path / "lib"
    write_photos(folder, names=("coffee", "rocket"))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, "-m", "desktop.cli", "watch", str(folder)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
                               preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if started_with_sigint_ignored else None)
    lines, reader = _lines_of(process)
    try:
        assert _line_with("watching 1 folder", lines)
        (folder / "new.jpg").write_bytes(jpeg("moon", 6))
        assert _line_with("indexed 1 new, 0 removed, 0 moved", lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(TIMEOUT_S) == 0
        assert _line_with("stopped watching", lines)
    finally:
        process.kill()
        process.wait()
        reader.join(TIMEOUT_S)
        process.stdout.close()


def _lines_of(process: subprocess.Popen) -> tuple[queue.Queue, threading.Thread]:
    """The process's stdout lines as they come, read on a thread (a pipe read has no timeout)."""
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    return lines, reader


def _line_with(text: str, lines: queue.Queue) -> str:
    while True:
        line = lines.get(timeout=TIMEOUT_S)
        if text in line:
            return line
