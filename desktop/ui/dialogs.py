"""Dialogs: building the built-in model on first run, and model settings."""

from __future__ import annotations

from PySide6.QtCore import QProcess, Qt, Signal
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

from desktop.core.trainer_process import trainer_command
from models import registry


class BuildModelDialog(QDialog):
    """Runs `python -m trainer build-default` as a separate process with a busy bar and Cancel.

    Signals:
        built(): the bundle is installed.
        failed(str): the trainer failed; the message ends with its last output line.
    """

    built = Signal()
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preparing picsift")
        self.setModal(True)
        self.status = QLabel("Building the built-in offline model from its packaged weights (first run only)...")
        self.status.setWordWrap(True)
        bar = QProgressBar()
        bar.setRange(0, 0)  # busy: the trainer reports steps, not a fraction
        self.detail = QLabel("")
        cancel = QPushButton("Cancel", clicked=self.cancel)
        layout = QVBoxLayout(self)
        for widget in (self.status, bar, self.detail, cancel):
            layout.addWidget(widget)
        self._output = ""
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)

    def start(self) -> None:
        program, *args = trainer_command(["build-default"])
        self.process.start(program, args)
        self.show()

    def cancel(self) -> None:
        self.process.kill()
        self.process.waitForFinished(5000)
        self.reject()

    def _read(self) -> None:
        text = bytes(self.process.readAllStandardOutput()).decode(errors="replace")
        self._output = (self._output + text)[-4000:]
        lines = [line.strip() for line in self._output.replace("\r", "\n").splitlines() if line.strip()]
        if lines:
            self.detail.setText(lines[-1][:120])

    def _finished(self, code: int, status) -> None:
        if code == 0 and status == QProcess.ExitStatus.NormalExit:
            self.accept()
            self.built.emit()
            return
        lines = [line for line in self._output.replace("\r", "\n").splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {code}"
        self.reject()
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
