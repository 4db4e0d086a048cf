"""Where the app's errors go: a rotating log file in the data dir for tracebacks, one line for the user.

A windowed app has no console, so stderr is not enough. A PicsiftError (the user's input or the
environment) is shown as its own message; anything else is a bug: its traceback goes to the log
file and the user reads one line naming that file.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from models import paths
from models.display import printable
from models.errors import PicsiftError

LOG_NAME = "picsift.log"
LOG_BYTES = 1_000_000  # one file at most this big; with LOG_BACKUPS older ones, the log stays under 4 MB
LOG_BACKUPS = 3

log = logging.getLogger("picsift")
_handler: logging.handlers.RotatingFileHandler | None = None
_lock = threading.Lock()


def log_path() -> Path:
    return paths.logs_dir() / LOG_NAME


def start_logging() -> Path:
    """Log warnings and errors of every module to the log file of the current data dir (idempotent)."""
    global _handler
    path = log_path()
    with _lock:
        if _handler is not None and Path(_handler.baseFilename) == path.absolute():
            return path
        root = logging.getLogger()
        if _handler is not None:
            root.removeHandler(_handler)
            _handler.close()
        _handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
        _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"))
        _handler.setLevel(logging.WARNING)
        root.addHandler(_handler)
    return path


def bug_message() -> str:
    return f"Something went wrong in picsift; details in {log_path()}"


def message_for(exc: BaseException, doing: str) -> str:
    """The line to show for `exc`, raised while `doing` (e.g. "indexing"): a PicsiftError's own message,
    or for anything else (a bug) the line naming the log file, once its traceback is written there."""
    return printable(str(exc)) if isinstance(exc, PicsiftError) else log_bug(exc, doing)


def log_bug(exc: BaseException, doing: str) -> str:
    """Write a bug's traceback to the log file; returns the line to show the user."""
    start_logging()
    log.error("unexpected error while %s", doing, exc_info=(type(exc), exc, exc.__traceback__))
    return bug_message()


def log_failed_process(doing: str, output: str) -> str:
    """Write what a helper process printed before it failed (its traceback) to the log; returns the bug line."""
    start_logging()
    log.error("%s failed; its output ends with:\n%s", doing, output)
    return bug_message()


class ErrorReporter(QObject):
    """Catches what nothing else caught, on any thread, and shows its line on the GUI thread.

    Create it on the GUI thread; `install()` replaces sys.excepthook (slots, QRunnables) and
    threading.excepthook (Python threads). Qt's own messages keep Qt's handler: a Python one made
    the app crash (SIGSEGV) instead of exiting when the X server went away.

    Signals:
        reported(str): the line shown to the user, once `show` has been called with it.
    """

    reported = Signal(str)
    _caught = Signal(str)  # emitted on the thread that raised; delivered on this object's (GUI) thread

    def __init__(self, show: Callable[[str], None], parent: QObject | None = None):
        super().__init__(parent)
        self.show = show  # replaced by the main window's banner once it is open
        self._caught.connect(self._show)

    def install(self) -> None:
        start_logging()
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = lambda args: self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        """Put back the hooks `install` replaced (tests)."""
        sys.excepthook, threading.excepthook = self._previous

    def excepthook(self, kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        if value is None:
            value = kind()
        value.__traceback__ = traceback or value.__traceback__
        self._caught.emit(message_for(value, "handling an event"))

    def _show(self, message: str) -> None:
        self.show(message)
        self.reported.emit(message)
