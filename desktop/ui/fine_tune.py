"""The fine-tuning dialog: teach picsift your own labelled folders, in a separate trainer process.

The trainer runs as `python -m trainer train ... --progress jsonl`; this dialog only reads its
JSON lines (start, progress, metrics, done, error), so the app stays responsive and the
trainer's memory is returned when it exits. The active model changes only on "Use this model".
"""

from __future__ import annotations

import os

from PySide6.QtCore import QProcess, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.trainer_process import reports_a_bug, trainer_command
from desktop.ui.trainer_run import TrainerRun
from models import registry
from models.photo_files import photo_files, subfolders
from models.trainer_protocol import BASELINE, DONE, ERROR, EVALUATE, IMAGE_FEATURES, IMAGE_STAGE_INPUTS, METRICS, PROGRESS, START, TASK, split_task

MIN_PER_CLASS = 5  # fewer photos than this in a class is too few to learn from
QUICK_STAGES, THOROUGH_STAGES = "mapper", "image,mapper"
OBJECTIVE = "infonce"  # best on Fashion-MNIST val at the default mix (tests/benchmarks/fine_tune.py)
CHART_METRICS = ("text_to_image_mAP@all", "image_to_text_mAP@all", "text_to_image_R@1", "text_to_image_R@5")


def scan_classes(root: str) -> list[tuple[str, int]]:
    """(subfolder name, photos in it) for each subfolder of `root` the trainer reads, by name: the
    trainer lists its labelled folders with the same two functions, so the counts are its own."""
    return [(os.path.basename(folder), len(photo_files(folder))) for folder in subfolders(root)]


class MetricsChart(QWidget):
    """Paired bars with their values: the model training started from vs the fine-tuned one, per metric (0..1)."""

    SERIES = (("starting model", QColor("#9aa0a6")), ("fine-tuned", QColor("#1a73e8")))
    LEGEND_H, VALUE_H, NAME_H = 18, 16, 30  # pixels: legend row, a bar's value, the metric's name

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(170)
        self.rows: list[tuple[str, float, float]] = []

    def set_rows(self, rows: list[tuple[str, float, float]]) -> None:
        self.rows = rows
        self.update()

    def paintEvent(self, event) -> None:
        if not self.rows:
            return
        painter = QPainter(self)
        self._legend(painter)
        width = self.width() / len(self.rows)
        top = self.LEGEND_H + self.VALUE_H
        height = self.height() - top - self.NAME_H
        for number, (name, *values) in enumerate(self.rows):
            x = number * width
            for offset, value, (_, color) in zip((0.15, 0.5), values, self.SERIES):
                bar = max(0.0, min(1.0, value)) * height
                left, bar_top = x + offset * width, top + height - bar
                painter.fillRect(QRectF(left, bar_top, width * 0.33, bar), color)
                painter.drawText(QRectF(left, bar_top - self.VALUE_H, width * 0.33, self.VALUE_H),
                                 Qt.AlignmentFlag.AlignCenter, f"{value:.2f}")
            painter.drawText(QRectF(x, top + height + 4, width, self.NAME_H),
                             Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, name.replace("_", " "))
        painter.end()

    def _legend(self, painter: QPainter) -> None:
        x = 4.0
        for label, color in self.SERIES:
            painter.fillRect(QRectF(x, 4, 12, 12), color)
            painter.drawText(QRectF(x + 16, 0, 90, self.LEGEND_H), Qt.AlignmentFlag.AlignVCenter, label)
            x += 16 + painter.fontMetrics().horizontalAdvance(label) + 16


class FineTuneDialog(QDialog):
    """Signals:
        useModel(str): the user wants the new bundle active.
        finishedRun(dict): the trainer's "done" event (or {"event": "error", ...}).
        sortRequested(str, str): sort the rest of the library by the labelled root (str) with the new bundle (str).
    """

    useModel = Signal(str)
    finishedRun = Signal(dict)
    sortRequested = Signal(str, str)

    def __init__(self, parent=None, root: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Teach picsift your folders")
        self.resize(660, 780)
        self.run: TrainerRun | None = None
        self.result_event: dict | None = None
        self._auto_name = ""  # the name preview_classes suggested, replaced when the folder changes

        self.root = QLineEdit(root, placeholderText="A folder whose subfolders are your labels (Birds/, Receipts/, ...)")
        self.root.editingFinished.connect(self.preview_classes)
        browse = QPushButton("Browse...", clicked=self._browse)
        self.name = QLineEdit(placeholderText="name of the new model")
        self.quick = QRadioButton("Quick: the mapper only, from cached features (seconds)", checked=True)
        self.thorough = QRadioButton("Thorough: image encoder + mapper (minutes on CPU, faster on GPU)")
        self.classes = QTableWidget(0, 3)
        self.classes.setHorizontalHeaderLabels(["Label", "Photos", ""])
        self.classes.horizontalHeader().setStretchLastSection(True)
        self.classes.verticalHeader().hide()
        self.classes.setMinimumHeight(150)  # a few labels stay visible beside the chart
        self.classes.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.warning = QLabel(wordWrap=True)
        self.warning.setStyleSheet("color:#8a1c14")
        self.progress = QProgressBar()
        self.status = QLabel("", wordWrap=True)
        self.chart = MetricsChart()
        self.metrics = QLabel("", wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.sort_offer = QLabel("<a href='sort'>Sort the rest of your library by these folders...</a>", visible=False)
        self.sort_offer.linkActivated.connect(lambda _: self._sort())
        self.start_button = QPushButton("Start training", clicked=self.start)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)
        self.use_button = QPushButton("Use this model", clicked=self._use, enabled=False)
        close = QPushButton("Close", clicked=self.reject)

        for button in (browse, self.start_button, self.cancel_button, self.use_button, close):
            button.setAutoDefault(False)  # Enter in the folder field previews it; it must not press a button
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.root)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Labelled folders", folder_row)
        form.addRow("Model name", self.name)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.use_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.classes, stretch=1)
        layout.addWidget(self.warning)
        layout.addWidget(self.quick)
        layout.addWidget(self.thorough)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.chart)
        layout.addWidget(self.metrics)
        layout.addWidget(self.sort_offer)
        layout.addLayout(buttons)
        if root:
            self.preview_classes()

    # --- choosing data ----------------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder whose subfolders are labels", self.root.text())
        if folder:
            self.root.setText(folder)
            self.preview_classes()

    def preview_classes(self) -> list[tuple[str, int]]:
        root = self.root.text().strip()
        if not os.path.isdir(root):
            self.warning.setText(f"{root or 'No folder chosen'}: not a folder." if root else "")
            self.classes.setRowCount(0)
            self.start_button.setEnabled(False)
            return []
        classes = scan_classes(root)
        self.classes.setRowCount(len(classes))
        for row, (label, count) in enumerate(classes):
            self.classes.setItem(row, 0, QTableWidgetItem(label))
            self.classes.setItem(row, 1, QTableWidgetItem(str(count)))
            self.classes.setItem(row, 2, QTableWidgetItem("too few to learn from" if count < MIN_PER_CLASS else ""))
        small = [label for label, count in classes if count < MIN_PER_CLASS]
        usable = _labels_with_photos(classes)
        problems = []
        if usable < 2:
            problems.append("Training needs at least two labelled subfolders with photos in them.")
        elif small:
            which = "1 label has" if len(small) == 1 else f"{len(small)} labels have"
            problems.append(f"{which} fewer than {MIN_PER_CLASS} photos ({', '.join(small[:5])}); "
                            f"{'it' if len(small) == 1 else 'they'} will barely be learned.")
        self.warning.setText(" ".join(problems))
        if not self.name.text() or self.name.text() == self._auto_name:
            self._auto_name = _bundle_name(os.path.basename(os.path.normpath(root)))
            self.name.setText(self._auto_name)
        self.start_button.setEnabled(usable >= 2)
        return classes

    # --- running the trainer ------------------------------------------------------------------
    def trainer_args(self) -> list[str]:
        stages = QUICK_STAGES if self.quick.isChecked() else THOROUGH_STAGES
        name = self.name.text().strip() or _bundle_name(os.path.basename(self.root.text()))
        return ["train", "--data", self.root.text().strip(), "--format", "folders", "--stages", stages,
                "--objective", OBJECTIVE, "--name", name, "--replace"]

    def command(self) -> list[str]:
        """The argv the run starts (what TrainerRun runs)."""
        return trainer_command([*self.trainer_args(), "--progress", "jsonl"])

    @property
    def process(self) -> QProcess | None:
        return self.run.process if self.run is not None else None

    def start(self) -> None:
        if _labels_with_photos(self.preview_classes()) < 2:
            return
        self.result_event = None
        self.run = TrainerRun(self.trainer_args(), "training", self)
        self.run.event.connect(self.handle_event)
        self.run.succeeded.connect(self._ended)
        self.run.cancelled.connect(self._cancelled_run)
        self.run.failed.connect(self._failed)
        self.run.start()
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.use_button.setEnabled(False)
        self.sort_offer.hide()
        self.progress.setRange(0, 0)
        self.status.setText("Starting the trainer...")

    def is_running(self) -> bool:
        return self.run is not None and self.run.is_running()

    def cancel(self) -> None:
        if self.is_running():
            self.run.cancel(wait_ms=None)  # SIGTERM only: the trainer stops after its current step, checkpoint saved
            self.status.setText("Cancelling...")
            self.cancel_button.setEnabled(False)

    def handle_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == START:
            self.status.setText(f"Training on {event.get('train_size', '?')} photos in {len(event.get('classes', []))} labels...")
        elif kind == PROGRESS:
            self.progress.setRange(0, int(event.get("steps") or 0))
            self.progress.setValue(int(event.get("step") or 0))
            self.status.setText(f"{event.get('stage')}: epoch {event.get('epoch')}/{event.get('epochs')}, loss {float(event.get('loss', 0)):.3f}")
        elif kind == TASK:  # photos being encoded or scored between epochs: the bar keeps moving
            self.progress.setRange(0, int(event.get("total") or 0))
            self.progress.setValue(int(event.get("done") or 0))
            self.status.setText(f"{_task_text(str(event.get('task', '')))}: {event.get('done')} of {event.get('total')}")
        elif kind == METRICS:
            metrics = event.get("metrics", {})
            value = metrics.get("text_to_image_mAP@all")
            if value is not None:
                self.status.setText(f"{event.get('stage')}: epoch {event.get('epoch')}, validation text->image mAP {value:.3f}")
        elif kind == DONE:
            self.result_event = event
            self._show_comparison(event.get("baseline", {}), event.get("metrics", {}))
            self.use_button.setEnabled(True)
            self.sort_offer.show()
            self.status.setText(f"Done in {float(event.get('seconds', 0)):.0f} s: model {event.get('bundle')} is installed. "
                                "\"Use this model\" searches your library with it.")
        elif kind == ERROR:
            self.result_event = event
            self.status.setText(f"Training failed: {event.get('message')}")

    def _show_comparison(self, before: dict, after: dict) -> None:
        rows = [(key, float(before.get(key, 0.0)), float(after.get(key, 0.0))) for key in CHART_METRICS if key in after]
        self.chart.set_rows(rows)
        lines = "".join(f"<tr><td>{key.replace('_', ' ')}</td><td align='right'>{b:.3f}</td><td align='right'><b>{a:.3f}</b></td></tr>" for key, b, a in rows)
        self.metrics.setText(f"<table cellpadding='2' cellspacing='6'><tr><th align='left'>held-out test photos</th>"
                             f"<th>starting model</th><th>fine-tuned</th></tr>{lines}</table>")

    def _cancelled_run(self) -> None:
        self.status.setText("Cancelled; the current model is unchanged.")
        self._ended()

    def _failed(self, reason: str) -> None:
        if self.run.error_event is not None and not reports_a_bug(self.run.error_event):
            pass  # the trainer's own reason is already shown ("Training failed: ...")
        elif self.run.process.error() == QProcess.ProcessError.FailedToStart:
            self.status.setText(f"Could not start the trainer ({self.run.process.errorString()}); the current model is unchanged.")
        else:  # a crash: its traceback went to the log, one line here
            self.status.setText(f"Training failed; the current model is unchanged. {reason}")
        self._ended()

    def _ended(self) -> None:
        succeeded = self.result_event is not None and self.result_event.get("event") == DONE
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if succeeded else 0)
        self.finishedRun.emit(self.result_event or {"event": ERROR, "message": self.status.text()})

    def _use(self) -> None:
        if self.result_event and self.result_event.get("bundle"):
            self.useModel.emit(self.result_event["bundle"])
            self.accept()

    def _sort(self) -> None:
        """The offer: switch to the new model and sort the rest of the library by the folders it learned."""
        if self.result_event and self.result_event.get("bundle"):
            self.sortRequested.emit(self.root.text().strip(), self.result_event["bundle"])
            self.accept()


TASK_TEXTS = {  # the trainer's task names, as the dialog says them
    IMAGE_FEATURES: "Reading photos",
    IMAGE_STAGE_INPUTS: "Preparing photos for the image encoder",
    BASELINE: "Scoring the model training starts from",
    EVALUATE: "Scoring the new model",
}


def _task_text(task: str) -> str:
    """"image features, train" -> "Reading photos (train)"; unknown names are shown as they are."""
    what, split = split_task(task)
    return f"{TASK_TEXTS.get(what, what)} ({split})" if split else TASK_TEXTS.get(what, what)


def _labels_with_photos(classes: list[tuple[str, int]]) -> int:
    return sum(1 for _, count in classes if count)


def _bundle_name(folder_name: str) -> str:
    return registry.safe_name(folder_name, fallback="my") + "-tuned"
