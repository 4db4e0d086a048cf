"""Dialogs: building the built-in model on first run, and model settings."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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

from desktop.ui.trainer_run import TrainerRun, show_step, step_label
from models import registry


class BuildModelDialog(QDialog):
    """Runs `python -m trainer build-default` (a TrainerRun), with Cancel.

    Its step events drive a determinate bar and one line ("Step 3 of 7: exporting the image encoder").

    Signals:
        built(): the bundle is installed.
        failed(str): the one line to show (TrainerRun.failed's, after "could not be built").
    """

    built = Signal()
    failed = Signal(str)
    WIDTH = 560  # fixed, so the dialog never resizes as the step line changes

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
        self.step = step_label("Starting the model builder...")
        cancel = QPushButton("Cancel", clicked=self.reject, autoDefault=False)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.bar, self.step):
            layout.addWidget(widget)
        layout.addWidget(cancel, alignment=Qt.AlignmentFlag.AlignRight)
        self.run = TrainerRun(["build-default", *(["--force"] if update else [])], "building the built-in model", self)
        self.run.event.connect(lambda event: self.handle_event(event))  # looked up per event: tests spy on it
        self.run.succeeded.connect(self._built)
        self.run.failed.connect(self._fail)

    @property
    def process(self):
        return self.run.process

    def start(self) -> None:
        self.run.start()
        self.show()

    def reject(self) -> None:
        """Cancel (or the window closed): stop the build; nothing is installed."""
        self.run.cancel()
        super().reject()

    def handle_event(self, event: dict) -> None:
        show_step(event, self.bar, self.step)

    def _built(self) -> None:
        self.bar.setValue(self.bar.maximum())
        self.step.setText("Done.")
        self.accept()
        self.built.emit()

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
