"""Start the desktop app: build the built-in model on first run, then open the main window."""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.error_log import ErrorReporter
from models import registry


def run_app(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("picsift")
    app.setOrganizationName("picsift")
    # before any window: errors from then on reach the log file, and a line reaches the user
    reporter = ErrorReporter(lambda message: QMessageBox.critical(None, "picsift", message), app)
    reporter.install()
    window_holder: list = []

    def open_window() -> None:
        from desktop.ui.main_window import MainWindow

        window = MainWindow(Library(), Settings.load())
        reporter.show = window.show_error
        window.show()
        window.offer_builtin_update()
        window.resume_model_switch()
        window_holder.append(window)
        # Start-up objects (modules, classes, Qt wrappers: ~50,000) are never garbage; freezing them
        # keeps each full collection ~5x shorter. A collection holds the GIL, so while indexing it
        # stalled the event loop by up to 150 ms (tests/benchmarks/ui_responsiveness.py).
        gc.freeze()

    if not registry.default_build_needed():
        open_window()
    else:
        QTimer.singleShot(0, lambda: _build_default_model(open_window, app))
    return app.exec()


def _build_default_model(then, app: QApplication) -> None:
    from desktop.ui.dialogs import BuildModelDialog

    dialog = BuildModelDialog()
    dialog.built.connect(then)
    dialog.failed.connect(lambda message: (QMessageBox.critical(None, "picsift", message), app.quit()))
    dialog.rejected.connect(app.quit)
    dialog.start()
    _keep.append(dialog)


_keep: list = []  # dialogs alive until the event loop ends
