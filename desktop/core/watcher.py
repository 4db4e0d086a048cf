"""Watch the library folders and index what changes in them, in debounced batches, with the one indexer.

`LibraryWatcher` is a plain object (start/stop, a report callback; the CLI prints the reports, the
app will relay them): watchdog's observer thread only notes which paths changed; one worker thread
waits for a quiet moment, checks that no file is still being written, then runs `Indexer.run`
with those paths as its scope. The indexer does the rest as in a manual run: a renamed or moved
photo is recognised by its content hash (vector kept, nothing decoded), a vanished one leaves the
catalog, a folder whose root is missing is offline and keeps its photos.

Idle, the worker blocks on a condition and wakes only every ROOT_CHECK_S to see whether a
folder's drive came or went (inotify reports no unmount of a watched folder's volume). Where the
system will not watch a folder (the inotify watch limit), that folder is rescanned by stat every
RESCAN_INTERVAL_S instead, and a report says so.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from desktop.core.indexer import IndexProgress
from desktop.core.scanner import in_scope
from models.display import plural, printable_path
from models.errors import BusyError, PicsiftError
from models.photo_files import is_photo_name

log = logging.getLogger(__name__)

# A copy writes many times a second, so a second without any event means the burst ended (or the
# copier stalled; then the stability looks below decide). Short enough that one photo is
# searchable about 1.5 s after it lands (results/watcher.json).
QUIET_S = 1.0
# A burst that never pauses (a card of 2,000 photos copying for a minute) is still indexed in
# slices this far apart, so photos show up while the copy goes on, in batches big enough for the model.
MAX_DELAY_S = 10.0
LOOK_INTERVAL_S = 0.3  # two looks at a file's size and mtime this far apart must agree before it is read
WRITING_CAP_S = 120.0  # a file still open for writing after this long is read anyway (a stuck writer)
ROOT_CHECK_S = 5.0  # how often the folders' roots are looked at: an unplugged drive is offline within this
# Where no file events come (watch limit reached), a stat-only rescan of that folder this often:
# 100,000 photos take 2.7 s to rescan (results/rescan.json), a few percent of one core.
RESCAN_INTERVAL_S = 60.0
BUSY_RETRY_S = 10.0  # another process holds the index lock: try again this much later

# Opens and reads (the indexer's own) are not subscribed: they would trigger a batch after every batch.
WATCHED_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
                  DirCreatedEvent, DirDeletedEvent, DirMovedEvent]


@dataclass(frozen=True)
class WatchReport:
    """What the watcher did or found, for a status line."""

    kind: str  # "watching", "indexing" (a run's progress), "indexed", "waiting", "offline", "online", "fallback", "busy", "error"
    message: str
    progress: IndexProgress | None = None  # for "indexed": the run's final progress
    at: float = field(default_factory=time.monotonic)


def describe_batch(progress: IndexProgress) -> str:
    """`indexed 3 new, 1 removed, 2 moved`: a rename is a file reused and one removed, counted once."""
    moved = min(progress.reused, progress.removed)
    parts = [f"{progress.encoded + progress.reused - moved} new", f"{progress.removed - moved} removed", f"{moved} moved"]
    if progress.failed:
        parts.append(f"{progress.failed} could not be read")
    return "indexed " + ", ".join(parts)


def batch_changed(progress: IndexProgress) -> bool:
    return bool(progress.encoded or progress.reused or progress.removed or progress.failed)


class LibraryWatcher:
    """Keeps the catalog and vector index in line with the library folders while it runs.

    `library` is a desktop.core.library.Library; the worker thread opens its own catalog
    connection on it. `on_report` is called on the worker thread.
    """

    def __init__(self, library, on_report: Callable[[WatchReport], None] = lambda report: None,
                 folder_ids: list[int] | None = None, observer_factory=Observer, rescan_first: bool = True):
        self._library = library
        self._on_report = on_report
        self._folder_ids = folder_ids
        self._observer = observer_factory()
        self._rescan_first = rescan_first  # catch what changed before the watches were in place
        self._reports_closes = sys.platform.startswith("linux")  # inotify tells when a writer closes a file
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._pending: set[str] = set()
        self._writing: set[str] = set()  # written to and not closed yet (Linux only)
        self._first_at = self._last_at = 0.0
        self._watches: dict[str, object] = {}  # root -> watchdog's ObservedWatch
        self._polled: set[str] = set()  # roots the system would not watch: rescanned periodically
        self._offline: set[str] = set()
        self._next_rescan = self._next_root_check = 0.0
        self._busy_said = False
        self._said_waiting: set[str] = set()  # the photos last reported as still being written
        self._writing_since: dict[str, float] = {}  # photo -> when it was first seen still being written
        self._worker = threading.Thread(target=self._work, name="picsift-watcher", daemon=True)
        self._ended = threading.Event()  # set as the worker ends: what `wait` waits on (see there)

    def start(self) -> None:
        self._observer.start()
        self._worker.start()

    def stop(self) -> None:
        """Stop watching; an indexing run in progress is cancelled after the batch in hand."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
        self._worker.join()
        self._observer.stop()
        self._observer.join()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds for the watcher to end (after stop(), or on a bug); whether it has.
        An Event, not Thread.join: `picsift watch` waits here for Ctrl+C, and on Python 3.11 a join interrupted by
        KeyboardInterrupt can leave the thread's lock so that stop()'s own join never returns."""
        return self._ended.wait(timeout) or not self._worker.is_alive()  # alive check: a worker that died before its `try`

    def __enter__(self) -> LibraryWatcher:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the observer thread ------------------------------------------------------------
    def note(self, event: FileSystemEvent) -> None:
        """A file system event: remember the paths it touched (photos and folders only)."""
        paths = [os.fsdecode(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        if not event.is_directory:
            paths = [p for p in paths if is_photo_name(os.path.basename(p))]
        if not paths:
            return
        with self._cond:
            if self._reports_closes and not event.is_directory:
                if isinstance(event, FileModifiedEvent):
                    self._writing.add(paths[0])
                else:
                    self._writing.difference_update(paths[:1])  # closed, deleted, or moved away
            self._touch(paths)

    def _touch(self, paths: list[str]) -> None:
        """Add paths to the next batch (the caller holds the condition)."""
        now = time.monotonic()
        if not self._pending:
            self._first_at = now
        self._pending.update(paths)
        self._last_at = now
        self._cond.notify_all()

    # --- the worker thread --------------------------------------------------------------
    def _work(self) -> None:
        library = self._library.for_thread()
        try:
            self._sync_watches(library.catalog)
            if self._rescan_first:
                with self._cond:
                    self._touch(list(self._roots(library.catalog)))
            watched = len(self._watches) + len(self._polled)
            self._report("watching", f"watching {plural(watched, 'folder')}")
            while (batch := self._next_batch(library.catalog)) is not None:
                self._index(library, *batch)
        except Exception as exc:  # a bug: loud in the log, one line for the user, the watcher stops
            log.exception("the folder watcher stopped")
            self._report("error", f"the folder watcher stopped ({type(exc).__name__}: {exc}); please report this")
        finally:
            library.catalog.close()
            self._ended.set()

    def _roots(self, catalog) -> dict[str, int]:
        """root -> folder id of the folders this watcher looks after."""
        return {root: fid for fid, root in catalog.folders() if self._folder_ids is None or fid in self._folder_ids}

    def _next_batch(self, catalog) -> tuple[list[str], set[str]] | None:
        """Block until the changed paths have settled, or MAX_DELAY_S since the first change (a copy
        that never pauses): (the next run's scope, the files in it still being written, which stay
        pending); None when stopping."""
        while True:
            with self._cond:
                while not self._stop.is_set() and not self._pending:
                    timeout = self._until_timers()
                    if timeout <= 0:
                        break
                    self._cond.wait(timeout)
            if self._stop.is_set():
                return None
            self._on_timers(catalog)
            if not self._wait_quiet():
                continue
            writing = self._still_writing()
            if self._stop.is_set():
                return None
            with self._cond:
                if not writing or time.monotonic() - self._first_at >= MAX_DELAY_S:
                    scope, self._pending = sorted(self._pending), set(writing)
                    self._first_at = time.monotonic()
                    return scope, writing
                self._last_at = time.monotonic()  # one more quiet period, then look again
            if writing != self._said_waiting:
                self._said_waiting = writing
                self._report("waiting", f"waiting for {plural(len(writing), 'photo')} still being written")

    def _until_timers(self) -> float:
        now = time.monotonic()
        due = [self._next_root_check] + ([self._next_rescan] if self._polled else [])
        return min(due) - now

    def _on_timers(self, catalog) -> None:
        now = time.monotonic()
        if now >= self._next_root_check:
            self._sync_watches(catalog)
        if self._polled and now >= self._next_rescan:
            self._next_rescan = now + RESCAN_INTERVAL_S
            with self._cond:
                self._touch(sorted(self._polled))

    def _wait_quiet(self) -> bool:
        """Wait until QUIET_S passed without an event, or MAX_DELAY_S since the first; False if there is nothing to do."""
        with self._cond:
            while not self._stop.is_set() and self._pending:
                now = time.monotonic()
                left = min(self._last_at + QUIET_S, self._first_at + MAX_DELAY_S) - now
                if left <= 0:
                    return True
                self._cond.wait(left)
        return False

    def _still_writing(self) -> set[str]:
        """The pending photos still being written: open for writing (Linux), not openable (Windows,
        while a copy holds them), or whose size or mtime changed between two looks; one that has
        been so for WRITING_CAP_S is read as it is."""
        with self._cond:
            files = [p for p in self._pending if is_photo_name(os.path.basename(p))]
            writing = {p for p in files if p in self._writing}
        first = {p: _look(p) for p in files if p not in writing}
        self._stop.wait(LOOK_INTERVAL_S)
        writing |= {p for p, look in first.items() if _look(p) != look}
        now = time.monotonic()
        self._writing_since = {p: self._writing_since.get(p, now) for p in writing}
        return {p for p in writing if now - self._writing_since[p] < WRITING_CAP_S}

    def _index(self, library, scope: list[str], writing: set[str]) -> None:
        folder_ids = [fid for root, fid in self._roots(library.catalog).items() if any(in_scope(p, [root]) for p in scope)]
        if not folder_ids:
            return
        progress = None
        try:
            for progress in library.indexer().run(folder_ids, self._stop, scope=scope, writing=writing):
                if progress.phase == "indexing" and progress.done:  # at most 5 a second (the indexer's pace)
                    self._report("indexing", f"indexing {progress.done} of {progress.total}", progress)
        except PicsiftError as exc:
            self._retry_later(scope, exc)
            return
        self._busy_said = False
        if progress is None:
            return
        self._report("indexed", describe_batch(progress), progress)
        for root in set(progress.offline_folders) - self._offline:
            self._went_offline(root)

    def _retry_later(self, scope: list[str], exc: PicsiftError) -> None:
        """Another process indexing (said once), a full disk, a damaged catalog: the paths wait for a later try."""
        busy = isinstance(exc, BusyError)
        if not (busy and self._busy_said):
            self._report("busy" if busy else "error", f"{exc}; the watcher tries again in {BUSY_RETRY_S if busy else RESCAN_INTERVAL_S:.0f} s")
        self._busy_said = self._busy_said or busy
        with self._cond:
            self._touch(scope)
        self._stop.wait(BUSY_RETRY_S if busy else RESCAN_INTERVAL_S)

    # --- watches ------------------------------------------------------------------------
    def _sync_watches(self, catalog) -> None:
        """Watch every online folder; a folder whose root went missing is offline (watch dropped),
        one that came back is watched again and rescanned."""
        self._next_root_check = time.monotonic() + ROOT_CHECK_S
        roots = self._roots(catalog)
        for root in set(self._watches) | self._polled | self._offline:
            if root not in roots:
                self._unwatch(root)
                self._offline.discard(root)
        for root in roots:
            online = os.path.isdir(root)
            if not online and root not in self._offline:
                self._went_offline(root)
            elif online and root in self._offline:
                self._offline.discard(root)
                self._report("online", f"{printable_path(root)} is back; rescanning it")
                with self._cond:
                    self._touch([root])
            if online and root not in self._watches and root not in self._polled:
                self._watch(root)

    def _watch(self, root: str) -> None:
        try:
            self._watches[root] = self._observer.schedule(_Relay(self), root, recursive=True, event_filter=WATCHED_EVENTS)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise
            self._polled.add(root)
            self._next_rescan = time.monotonic() + RESCAN_INTERVAL_S
            self._report("fallback", f"{printable_path(root)}: the system's limit of watched folders is reached "
                                     f"({exc.strerror or exc}); rescanning it every {RESCAN_INTERVAL_S:.0f} s instead "
                                     "(raise fs.inotify.max_user_watches to watch it)")

    def _unwatch(self, root: str) -> None:
        self._polled.discard(root)
        watch = self._watches.pop(root, None)
        if watch is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):  # its emitter already stopped (the folder was deleted)
                pass

    def _went_offline(self, root: str) -> None:
        self._unwatch(root)
        self._offline.add(root)
        self._report("offline", f"{printable_path(root)} is offline (a drive unplugged?); its photos are kept")

    def _report(self, kind: str, message: str, progress: IndexProgress | None = None) -> None:
        self._on_report(WatchReport(kind, message, progress))


class _Relay(FileSystemEventHandler):
    """watchdog's handler: every event goes to the watcher's `note`."""

    def __init__(self, watcher: LibraryWatcher):
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._watcher.note(event)


def _look(path: str):
    """(size, mtime_ns) of a file, None when it is gone; a file that cannot be opened (a copy
    holding it on Windows) looks different every time."""
    try:
        status = os.stat(path)
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        return None
    except OSError:
        return object()
    return status.st_size, status.st_mtime_ns
