"""The main window's folder watching: the library folders are indexed as they change while the window is open.

The core `LibraryWatcher` (desktop/core/watcher.py) does the watching on its own thread; this
controller starts it once the window's start-up work is done, pauses it while the user's own
indexing run goes (one indexer per library: the two would meet at the index lock, and the manual
run would fail as "busy"), starts it again afterwards (a new watcher rescans first, so nothing
that changed meanwhile is missed) and stops it before the window closes. Its reports cross to the
GUI thread through workers.relay_to_gui; widgets are only touched there.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from desktop.core.watcher import LibraryWatcher, WatchReport, batch_changed
from desktop.ui.workers import relay_to_gui

STATUS_KINDS = {"offline", "online", "fallback", "busy", "waiting"}  # reports the status line shows as they are


class WatchController(QObject):
    """Keeps a `LibraryWatcher` on `window.library` running while the window is open and watching is wanted.

    Signals:
        reported(object): each WatchReport of the current watcher, once the window has acted on it.
    """

    reported = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.watcher: LibraryWatcher | None = None
        self.watching = False  # the current watcher has its folders watched (its "watching" report came)
        self._generation = 0  # reports of a watcher already stopped are still queued: they are dropped
        self._relay = relay_to_gui(self._on_report, self)
        # after the engine's start-up calls (library, first search, warm-up): the index is loaded by then
        window._on_engine(lambda: None, lambda _: self.start())

    @property
    def enabled(self) -> bool:
        return self._window.settings.watch_folders

    def set_enabled(self, on: bool) -> None:
        """The menu toggle: watch now, or stop watching (saved with the window's settings)."""
        self._window.settings.watch_folders = on
        self.start() if on else self.stop()

    def is_watching(self) -> bool:
        return self.watcher is not None

    def start(self) -> None:
        """Watch the library folders, unless unwanted, already watching, the window closing, or the user's
        indexing runs (its end starts the watcher again)."""
        indexing = self._window.index_worker is not None and self._window.index_worker.is_running()
        if not self.enabled or self.watcher is not None or indexing or self._window.closing:
            return
        self._generation += 1
        generation = self._generation
        self.watching = False
        self.watcher = LibraryWatcher(self._window.library, lambda report: self._relay((generation, report)))
        self.watcher.start()

    def stop(self) -> None:
        """Stop watching; an indexing batch in hand is cancelled after its current photos (this waits for that)."""
        watcher, self.watcher, self.watching = self.watcher, None, False
        if watcher is not None:
            watcher.stop()

    def restart(self) -> None:
        """The folders changed (added, removed) or the library was replaced: watch what it is now."""
        self.stop()
        self.start()

    def _on_report(self, tagged: tuple[int, WatchReport]) -> None:
        generation, report = tagged
        if generation != self._generation or self.watcher is None:
            return
        window = self._window
        self.watching = self.watching or report.kind == "watching"
        if report.kind == "indexed" and report.progress is not None and batch_changed(report.progress):
            window.refresh_library()
            window.search_now()
            if report.progress.encoded:
                window.text_pass.start()  # the new photos' text, after their embeddings
                window.faces.start()  # then their faces, when finding people is on
        elif report.kind == "error":
            window.show_error(report.message)
        elif report.kind in STATUS_KINDS:
            window.status_label.setText(report.message)
        self.reported.emit(report)
