"""One trainer process run from the app: `python -m trainer ... --progress jsonl`, its events, its end."""

from __future__ import annotations

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from desktop.core.trainer_process import JsonLines, reports_a_bug, trainer_command
from desktop.ui.error_log import log_failed_process
from models.trainer_protocol import CANCELLED_EXIT, ERROR, STEP


class TrainerRun(QObject):
    """Runs the trainer as a separate process (desktop never imports trainer) and reports on the GUI thread.

    The trainer's stdout carries JSON events; its stderr (library progress bars, a traceback) is never
    shown, only kept for the log when the run fails with a bug.

    Signals:
        event(dict): each JSON event the trainer prints.
        succeeded(): it exited 0.
        cancelled(): it ended after cancel().
        failed(str): the one line to show: the trainer's own reason (its error event), or for a crash the
            line naming the log file that now holds the trainer's last output.
    """

    event = Signal(dict)
    succeeded = Signal()
    cancelled = Signal()
    failed = Signal(str)
    STDERR_KEPT = 20_000  # characters of the trainer's stderr kept for the log

    def __init__(self, args: list[str], doing: str, parent: QObject | None = None):
        super().__init__(parent)
        self.args = args
        self.doing = doing  # "converting the model", for the log's heading
        self._events = JsonLines()
        self._stderr = ""
        self.error_event: dict | None = None
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
        program, *args = trainer_command([*self.args, "--progress", "jsonl"])
        self.process.start(program, args)

    def is_running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def cancel(self, wait_ms: int | None = 5000) -> None:
        """Stop the run: SIGTERM lets the trainer stop cleanly (nothing half installed), then, after
        `wait_ms`, a kill. None: SIGTERM only, returning at once (training saves its checkpoint first)."""
        if not self.is_running():
            return
        self._cancelled = True
        self.process.terminate()
        if wait_ms is not None and not self.process.waitForFinished(wait_ms):
            self.process.kill()
            self.process.waitForFinished(wait_ms)

    def _read(self) -> None:
        for event in self._events.feed(bytes(self.process.readAllStandardOutput())):
            if event.get("event") == ERROR:
                self.error_event = event
            self.event.emit(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode(errors="replace")
        self._stderr = (self._stderr + text)[-self.STDERR_KEPT:]

    def _finished(self, code: int, status) -> None:
        self._read()
        self._read_stderr()
        if self._cancelled or code == CANCELLED_EXIT:
            self.cancelled.emit()
        elif code == 0 and status == QProcess.ExitStatus.NormalExit:
            self.succeeded.emit()
        elif reports_a_bug(self.error_event):
            self.failed.emit(log_failed_process(f"{self.doing} (exit code {code})", self._stderr))
        else:  # the user's input or machine (disk full, parity gate), in the trainer's words
            self.failed.emit(str(self.error_event.get("message")))

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # the others end in finished(), handled there
            self.failed.emit(f"could not start the trainer ({self.process.errorString()})")


STEP_UNITS = 100  # bar units per step, so the progress within a long step moves the bar too


def step_label(text: str) -> QLabel:
    """The one line naming the current step; room for two lines, so a wrapped one never makes it jump."""
    label = QLabel(text, wordWrap=True, textFormat=Qt.TextFormat.PlainText)
    label.setObjectName("step")
    label.setMinimumHeight(2 * label.fontMetrics().lineSpacing())
    return label


def show_step(event: dict, bar: QProgressBar, label: QLabel) -> None:
    """A trainer step event ({"event": "step", "step", "steps", "name", "done"?, "total"?}) on a bar and a line."""
    if event.get("event") != STEP:
        return
    step, steps = int(event.get("step") or 1), max(1, int(event.get("steps") or 1))
    done, total = event.get("done"), event.get("total")
    within = min(1.0, done / total) if done is not None and total else 0.0
    bar.setRange(0, steps * STEP_UNITS)
    bar.setValue(int((step - 1 + within) * STEP_UNITS))
    label.setText(f"Step {step} of {steps}: {event.get('name', '')}")
