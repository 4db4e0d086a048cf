"""What the main window's passes after indexing share (text in photos, faces): a background run, its progress and Cancel.

A pass is a lower-priority job after indexing: it starts when an indexing run ends and at start-up
while photos are left unread, on a low-priority thread with its own catalog connection. Indexing has
priority: starting it cancels the pass, which starts again when indexing ends. The user's Cancel
stops it until the next indexing run or restart; it always goes on from where it stopped, since a
pass only reads the photos it has not read yet (desktop/core/photo_pass.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.photo_pass import PassProgress
from desktop.ui.workers import GeneratorWorker
from models.display import rough_duration


class BackgroundPass(QObject):
    """One pass for the window (`window.library`, its status bar): its label, bar and Cancel, and its worker.
    A subclass names what it does (DOING...) and says what it runs (`_run`) and how a finished run reads.

    Signals:
        progressed(object): each progress of a run, once the status bar shows it.
        finished(object): the last progress of a run (done or cancelled), or None when it failed.
    """

    progressed = Signal(object)
    finished = Signal(object)

    NAME = "pass"  # the label's object name; the Cancel button's is "cancel-NAME"
    DOING = "Reading photos"  # "Reading photos: 3 of 10"
    STOPPING = "Stopping after the current photo..."
    STOPPED = "Reading stopped"  # "Reading stopped at 3 of 10; it goes on after the next indexing run"

    def __init__(self, window, cancel_tip: str):
        super().__init__(window)
        self._window = window
        self.worker: GeneratorWorker | None = None
        self._wanted = False  # run when indexing lets it; cleared by the user's Cancel and by a run that read everything
        self._when_stopped: list[Callable[[], None]] = []  # called once the run in flight has ended
        self.label = QLabel()
        self.label.setObjectName(self.NAME)
        self.progress = QProgressBar(maximumWidth=160)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, toolTip=cancel_tip)
        self.cancel_button.setObjectName(f"cancel-{self.NAME}")
        for widget in (self.label, self.progress, self.cancel_button):
            window.statusBar().addWidget(widget)  # after the status line, before indexing's progress and Cancel
        self._show_running(False)

    def start(self) -> None:
        """Read the photos not read yet, now or when indexing (and whatever `_may_run` waits for) ends."""
        self._wanted = True
        self._start_if_free()

    def pause_for_indexing(self) -> None:
        """Indexing is starting: stop after the photo in flight; `start()` when indexing ends resumes."""
        if self.is_running():
            self.worker.cancel()

    def cancel(self) -> None:
        """The Cancel button: stop until the next indexing run or restart; what was read stays."""
        self._wanted = False
        if self.is_running():
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(self.STOPPING)

    def stop(self) -> None:
        """The window closes: cancel and wait for the photo in flight (each is committed on its own)."""
        self._wanted = False
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()

    def when_stopped(self, then: Callable[[], None]) -> None:
        """Cancel the run in flight (as Cancel does) and call `then()` once it has ended; at once when none runs."""
        if not self.is_running():
            then()
            return
        self._when_stopped.append(then)
        self.cancel()

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def _may_run(self) -> bool:
        """Whether the pass may start now, indexing aside (a subclass may wait for more)."""
        return True

    def _run(self, library: Library, cancel) -> Iterator[PassProgress]:
        raise NotImplementedError

    def _done_line(self, progress: PassProgress) -> str:
        """What the status bar says after a run that read everything it had to."""
        return f"{self.DOING}: {progress.done:,} read"

    def _read_more(self) -> None:
        """Called after each progress report and after a run: photos were just read (a subclass shows them)."""

    def _start_if_free(self) -> None:
        indexing = self._window.index_worker is not None and self._window.index_worker.is_running()
        if not self._wanted or indexing or self.is_running() or self._window.closing or not self._may_run():
            return  # a run that is ending calls back here from _finished
        if self.worker is not None:
            self.worker.wait()  # the last run's thread is quitting: a QThread must not be dropped while it runs
        path = self._window.library.catalog.path
        self.worker = GeneratorWorker(lambda cancel: _on_own_catalog(path, self._run, cancel))
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.errored.connect(self._failed)
        self.progress.setRange(0, 0)
        self.label.setText(f"{self.DOING}...")
        self._show_running(True)
        self.worker.start(QThread.Priority.LowPriority)

    def _progress(self, progress: PassProgress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        eta = f" · {rough_duration(progress.eta_s)} left" if progress.eta_s is not None and 0 < progress.done < progress.total else ""
        if self.cancel_button.isEnabled():
            self.label.setText(f"{self.DOING}: {progress.done:,} of {progress.total:,}{eta}")
        self._read_more()
        self.progressed.emit(progress)

    def _finished(self, progress: PassProgress | None) -> None:
        self._show_running(False)
        if progress is not None and progress.phase == "done":
            self._wanted = False
            if progress.total:
                self.label.setText(self._done_line(progress))
                self.label.show()
        elif progress is not None and not self._wanted:  # the user's Cancel, not indexing's turn
            self.label.setText(f"{self.STOPPED} at {progress.done:,} of {progress.total:,}; it goes on after the next indexing run")
            self.label.show()
        self._ended()
        self.finished.emit(progress)
        self._read_more()
        self._start_if_free()  # a run cancelled for indexing that has ended meanwhile starts again

    def _failed(self, message: str) -> None:
        self._wanted = False
        self._show_running(False)
        self._window.show_error(message)
        self._ended()
        self.finished.emit(None)

    def _ended(self) -> None:
        then, self._when_stopped = self._when_stopped, []
        for call in then:
            call()

    def _show_running(self, running: bool) -> None:
        for widget in (self.label, self.progress, self.cancel_button):
            widget.setVisible(running)
        self.cancel_button.setEnabled(True)


def _on_own_catalog(path, run, cancel) -> Iterator[PassProgress]:
    """A pass on this (worker) thread's own catalog connection, closed when it ends. Only the catalog:
    a pass needs no model or vector index, so it never waits on the library's lock for them."""
    own = Library(Catalog(path))
    try:
        yield from run(own, cancel)
    finally:
        own.close()
