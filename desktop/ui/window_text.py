"""The main window's text in photos: the background text pass (OCR) with its progress, and the preview's text.

The pass is the second, lower-priority job after indexing: it starts when an indexing run ends and at
start-up while photos are left unread, on a low-priority thread with its own catalog connection.
Indexing has priority: starting it cancels the pass, which starts again when indexing ends. The
user's Cancel stops it until the next indexing run or restart; it always goes on from where it
stopped, since the pass only reads photos whose text is not read yet.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.text_pass import TextProgress
from desktop.ui.workers import GeneratorWorker
from models.display import rough_duration


class TextPassController(QObject):
    """Runs `Library.text_pass()` for the window (`window.library`, its status bar, its preview and engine thread).

    Signals:
        progressed(object): each TextProgress of a run, once the status bar shows it.
        finished(object): the last TextProgress of a run (done or cancelled), or None when it failed.
    """

    progressed = Signal(object)
    finished = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.worker: GeneratorWorker | None = None
        self._wanted = False  # run when indexing lets it; cleared by the user's Cancel and by a run that read everything
        self.label = QLabel()
        self.label.setObjectName("text-pass")
        self.progress = QProgressBar(maximumWidth=160)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, toolTip="Stop reading text in photos until the next indexing run")
        self.cancel_button.setObjectName("cancel-text-pass")
        for widget in (self.label, self.progress, self.cancel_button):
            window.statusBar().addWidget(widget)  # after the status line, before indexing's progress and Cancel
        self._show_running(False)
        window.preview.textWanted.connect(self._read_text_for_preview)
        window._on_engine(lambda: window.library.catalog.count_text_unread(), lambda unread: unread and self.start())

    def start(self) -> None:
        """Read the photos whose text is not read yet, now or when indexing ends."""
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
            self.label.setText("Stopping reading text after the current photo...")

    def stop(self) -> None:
        """The window closes: cancel and wait for the photo in flight (each is committed on its own)."""
        self._wanted = False
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    def _start_if_free(self) -> None:
        indexing = self._window.index_worker is not None and self._window.index_worker.is_running()
        if not self._wanted or indexing or self.is_running() or self._window.closing:
            return  # a run that is ending calls back here from _finished
        if self.worker is not None:
            self.worker.wait()  # the last run's thread is quitting: a QThread must not be dropped while it runs
        self.worker = GeneratorWorker(lambda cancel: _read_texts(self._window.library, cancel))
        self.worker.progress.connect(self._progress)
        self.worker.finished.connect(self._finished)
        self.worker.errored.connect(self._failed)
        self.progress.setRange(0, 0)
        self.label.setText("Reading text in photos...")
        self._show_running(True)
        self.worker.start(QThread.Priority.LowPriority)

    def _progress(self, progress: TextProgress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        eta = f" · {rough_duration(progress.eta_s)} left" if progress.eta_s is not None and 0 < progress.done < progress.total else ""
        if self.cancel_button.isEnabled():
            self.label.setText(f"Reading text in photos: {progress.done:,} of {progress.total:,}{eta}")
        self._window.preview.ask_text_again()  # the photo shown may just have been read
        self.progressed.emit(progress)

    def _finished(self, progress: TextProgress | None) -> None:
        self._show_running(False)
        if progress is not None and progress.phase == "done":
            self._wanted = False
            if progress.total:
                self.label.setText(f"Text in photos: {progress.done:,} read, {progress.with_text:,} with text")
                self.label.show()
        elif progress is not None and not self._wanted:  # the user's Cancel, not indexing's turn
            self.label.setText(f"Reading text stopped at {progress.done:,} of {progress.total:,}; it goes on after the next indexing run")
            self.label.show()
        self.finished.emit(progress)
        self._window.preview.ask_text_again()  # the photo shown may just have been read
        self._start_if_free()  # a run cancelled for indexing that has ended meanwhile starts again

    def _failed(self, message: str) -> None:
        self._wanted = False
        self._show_running(False)
        self._window.show_error(message)
        self.finished.emit(None)

    def _show_running(self, running: bool) -> None:
        for widget in (self.label, self.progress, self.cancel_button):
            widget.setVisible(running)
        self.cancel_button.setEnabled(True)

    def _read_text_for_preview(self, image_id: int) -> None:
        catalog = self._window.library.catalog
        self._window._on_engine(lambda: (catalog.text_read(image_id), catalog.text_of(image_id)),
                                lambda answer: self._window.preview.show_text(image_id, *answer))


def _read_texts(library: Library, cancel):
    """The text pass on this (worker) thread's own catalog connection, closed when it ends. Only the
    catalog: the pass needs no model or vector index, so it never waits on the library's lock for them."""
    own = Library(Catalog(library.catalog.path))
    try:
        yield from own.text_pass().run(cancel)
    finally:
        own.close()
