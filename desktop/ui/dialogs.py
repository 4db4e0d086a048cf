"""Dialogs: building the built-in model on first run, and model settings."""

from __future__ import annotations

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from desktop.core.trainer_process import JsonLines, reports_a_bug, trainer_command
from desktop.ui.error_log import log_failed_process
from models import registry


class BuildModelDialog(QDialog):
    """Runs `python -m trainer build-default --progress jsonl` as a separate process, with Cancel.

    Its step events drive a determinate bar and one line ("Step 3 of 7: exporting the image encoder");
    the trainer's stderr (library progress bars, a traceback) is never shown, only logged on failure.

    Signals:
        built(): the bundle is installed.
        failed(str): the one line to show: the trainer's own reason, or for a crash the line naming the
            log file that now holds the trainer's last output.
    """

    built = Signal()
    failed = Signal(str)
    STEP_UNITS = 100  # bar units per step, so the progress within a long step moves the bar too
    WIDTH = 560  # fixed, so the dialog never resizes as the step line changes
    STDERR_KEPT = 20_000  # characters of the trainer's stderr kept for the log

    def __init__(self, parent=None, update: bool = False):
        super().__init__(parent)
        self.update_existing = update  # rebuild over an installed (older) built-in model
        self.setWindowTitle("Updating the built-in model" if update else "Preparing picsift")
        self.setModal(True)
        self.setFixedWidth(self.WIDTH)
        first = ("Building the new built-in model (under a minute); the current one keeps answering until then." if update
                 else "First run: building the built-in offline model (about a minute).")
        self.status = QLabel(first, wordWrap=True)
        self.bar = QProgressBar(textVisible=False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.step = QLabel("Starting the model builder...", wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.step.setObjectName("step")
        self.step.setMinimumHeight(2 * self.step.fontMetrics().lineSpacing())  # room for a wrapped line: no jumps
        cancel = QPushButton("Cancel", clicked=self.reject, autoDefault=False)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.bar, self.step):
            layout.addWidget(widget)
        layout.addWidget(cancel, alignment=Qt.AlignmentFlag.AlignRight)
        self._events = JsonLines()
        self._stderr = ""
        self._error_event: dict | None = None
        self._cancelled = False
        self.process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # events arrive as they are printed
        self.process.setProcessEnvironment(environment)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._failed_to_start)

    def start(self) -> None:
        program, *args = trainer_command(["build-default", "--progress", "jsonl", *(["--force"] if self.update_existing else [])])
        self.process.start(program, args)
        self.show()

    def reject(self) -> None:
        """Cancel (or the window closed): stop the build; nothing is installed."""
        self._cancelled = True
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(5000)
        super().reject()

    def handle_event(self, event: dict) -> None:
        if event.get("event") == "step":
            step, steps = int(event.get("step") or 1), max(1, int(event.get("steps") or 1))
            done, total = event.get("done"), event.get("total")
            within = min(1.0, done / total) if done is not None and total else 0.0
            self.bar.setRange(0, steps * self.STEP_UNITS)
            self.bar.setValue(int((step - 1 + within) * self.STEP_UNITS))
            self.step.setText(f"Step {step} of {steps}: {event.get('name', '')}")
        elif event.get("event") == "error":
            self._error_event = event

    def _read(self) -> None:
        for event in self._events.feed(bytes(self.process.readAllStandardOutput())):
            self.handle_event(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode(errors="replace")
        self._stderr = (self._stderr + text)[-self.STDERR_KEPT:]

    def _finished(self, code: int, status) -> None:
        if self._cancelled:
            return
        self._read()
        self._read_stderr()
        if code == 0 and status == QProcess.ExitStatus.NormalExit:
            self.bar.setValue(self.bar.maximum())
            self.step.setText("Done.")
            self.accept()
            self.built.emit()
            return
        if reports_a_bug(self._error_event):
            reason = log_failed_process(f"building the built-in model (exit code {code})", self._stderr)
        else:  # the user's machine (disk full, missing weights), in the trainer's words
            reason = str(self._error_event.get("message"))
        self._fail(reason)

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # the others end in finished(), handled there
            self._fail(f"could not start the model builder ({self.process.errorString()})")

    def _fail(self, reason: str) -> None:
        self.hide()  # not reject(): that means Cancel
        self.failed.emit(f"The built-in model could not be built: {reason}")


class ModelSettingsDialog(QDialog):
    """The installed bundles (active one marked) and the execution provider in use.

    Signals:
        useRequested(str): make this bundle the active one.
    """

    useRequested = Signal(str)

    def __init__(self, provider_text: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model settings")
        self.bundles = QListWidget()
        for bundle in registry.list_bundles():
            mark = "  (active)" if bundle.active else ""
            detail = f"BROKEN: {bundle.problem}" if bundle.problem else f"{bundle.family}, {bundle.embedding_dim}-d"
            item = QListWidgetItem(f"{bundle.name}{mark}  -  {detail}")
            item.setData(Qt.ItemDataRole.UserRole, bundle.name)
            if bundle.problem:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.bundles.addItem(item)
        self.provider = QLabel(provider_text)
        self.provider.setObjectName("provider")
        use = QPushButton("Use selected model", clicked=self._use)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, rejected=self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Model bundles"))
        layout.addWidget(self.bundles)
        layout.addWidget(use)
        layout.addWidget(self.provider)
        layout.addWidget(buttons)

    def _use(self) -> None:
        item = self.bundles.currentItem()
        if item is not None:
            self.useRequested.emit(item.data(Qt.ItemDataRole.UserRole))
            self.accept()
