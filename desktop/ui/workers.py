"""Thin Qt adapters that run core generators and functions off the GUI thread.

The core yields progress from plain generators and checks a `threading.Event` to cancel; these
classes only move that onto a QThread and back to the GUI thread through queued signals. No Qt
type crosses into the core.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal

from desktop.ui.error_log import message_for


class GeneratorWorker(QObject):
    """Runs `make_generator(cancel_event)` on its own QThread and reports what it yields.

    Signals:
        progress(object): each value the generator yields, on the GUI thread.
        finished(object): the last value yielded (None if none), after the generator ends.
        errored(str): a one-line message: a PicsiftError's text, or for a bug (traceback in the log file)
            a line naming the log file.
    """

    progress = Signal(object)
    finished = Signal(object)
    errored = Signal(str)

    def __init__(self, make_generator: Callable[[threading.Event], Iterator], parent: QObject | None = None):
        super().__init__(parent)
        self._make_generator = make_generator
        self.cancel_event = threading.Event()
        self._ended = threading.Event()  # set before finished/errored go out: the work is over
        self._thread = QThread()
        self._thread.setObjectName("picsift-worker")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    def start(self, priority: QThread.Priority = QThread.Priority.InheritPriority) -> None:
        self._thread.start(priority)

    def cancel(self) -> None:
        self.cancel_event.set()

    def is_running(self) -> bool:
        """Whether the generator is still at work. The thread itself lingers a moment after
        `finished`/`errored` reach the GUI thread; a new run may start as soon as they have."""
        return self._thread.isRunning() and not self._ended.is_set()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread ends (for shutdown and tests)."""
        return self._thread.wait(msecs)

    def _run(self) -> None:
        last = None
        try:
            for last in self._make_generator(self.cancel_event):
                self.progress.emit(last)
        except Exception as exc:  # never kill the app from a thread; a bug is logged with its traceback
            self._ended.set()
            self.errored.emit(message_for(exc, "running a background task"))
        else:
            self._ended.set()
            self.finished.emit(last)
        finally:
            self._thread.quit()


class _Call(QRunnable):
    def __init__(self, function: Callable[[], object], relay: _Relay, doing: str):
        super().__init__()
        self._function = function
        self._relay = relay
        self._doing = doing

    def run(self) -> None:
        try:
            result = self._function()
        except Exception as exc:
            self._relay.errored.emit(message_for(exc, self._doing))
        else:
            self._relay.finished.emit(result)


class _Relay(QObject):
    """Lives on the GUI thread so its signals arrive there (queued from the pool thread)."""

    finished = Signal(object)
    errored = Signal(str)


def _while_alive(owner: QObject | None, callback: Callable[[object], None]) -> Callable[[object], None]:
    if owner is None:
        return callback
    return lambda value: callback(value) if shiboken6.isValid(owner) else None


def relay_to_gui(on_value: Callable[[object], None], parent: QObject) -> Callable[[object], None]:
    """A callable any thread may call with a value; `on_value(value)` then runs on the GUI thread.

    For a core object that reports through a plain callback from its own thread (the folder
    watcher). Call it on the GUI thread; `parent` (a GUI-thread object) keeps the relay alive.
    """
    relay = _Relay(parent)
    relay.finished.connect(on_value)
    return relay.finished.emit


def run_in_pool(function: Callable[[], object], on_done: Callable[[object], None], on_error: Callable[[str], None],
                pool: QThreadPool | None = None, priority: int = 0, doing: str = "running a background task",
                owner: QObject | None = None) -> _Relay:
    """Run `function()` on a pool thread; `on_done(result)` or `on_error(message)` run on the GUI thread.

    `priority`: the pool runs higher first. `doing` names the work in the log when it fails with a bug.
    `owner`: the Qt object the callbacks act on; once Qt has deleted it (its window was closed and
    destroyed while the call ran) they are skipped, where they would raise "Signal source has been
    deleted". Keep the returned relay referenced until it reports (the caller's attribute is enough);
    a call the pool drops before it starts (`QThreadPool.clear`) never reports.
    """
    relay = _Relay()
    relay.finished.connect(_while_alive(owner, on_done))
    relay.errored.connect(_while_alive(owner, on_error))
    (pool or QThreadPool.globalInstance()).start(_Call(function, relay, doing), priority)
    return relay
