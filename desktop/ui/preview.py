"""The preview pane: the selected photo large, its metadata, and what can be done with it."""

from __future__ import annotations

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from desktop.ui.result_actions import copy_paths, open_path, show_in_folder
from desktop.ui.results import ResultRow
from desktop.ui.workers import run_in_pool
from models.display import printable_path
from models.photo_reader import read_photo_file

PREVIEW_SIDE = 1024  # decode for the preview at about this size (JPEG draft keeps it fast)
TEXT_BOX_LINES = 5  # the recognised text's box shows this many lines; more scroll
SAME_ROW = 0.5  # a line within this many line heights of another's row (followed along its slant) reads on that row


class PreviewPane(QWidget):
    """Signals:
        findSimilar(object): the user asked for photos like this one (its path, a str; `object`
            because Qt's strings cannot carry a file name that is not UTF-8).
        textWanted(int): a photo is shown: its recognised text is wanted (its image id); the answer
            comes back through `show_text`.
    """

    findSimilar = Signal(object)
    textWanted = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._row: ResultRow | None = None
        self._pixmap = QPixmap()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = None  # the pending load's (run_in_pool's), kept until it reports

        self.image = QLabel("Select a photo to preview it", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True,
                            textFormat=Qt.TextFormat.PlainText)  # messages name files: never read them as HTML
        self.image.setMinimumSize(200, 200)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.path = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.date, self.size, self.dimensions, self.camera, self.place = QLabel(), QLabel(), QLabel(), QLabel(), QLabel()
        self.text_box = _text_box()
        self.copy_text_button = QPushButton("Copy text", clicked=self.copy_text)
        self.text_status = QLabel("Text not read yet")
        self.text_status.setObjectName("text-status")
        self.form = QFormLayout()
        for label, widget in (("Path", self.path), ("Taken", self.date), ("Place", self.place), ("Size", self.size),
                              ("Dimensions", self.dimensions), ("Camera", self.camera), ("Text", self._text_row())):
            self.form.addRow(label, widget)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open", clicked=self.open_file)
        self.show_button = QPushButton("Show in folder", clicked=self.show_in_folder)
        self.copy_button = QPushButton("Copy path", clicked=self.copy_path)
        self.similar_button = QPushButton("Find similar", clicked=lambda: self._row and self.findSimilar.emit(self._row.record.path))
        for button in (self.open_button, self.show_button, self.copy_button, self.similar_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, stretch=1)
        layout.addLayout(self.form)
        layout.addLayout(buttons)
        self.show_row(None)

    def show_row(self, row: ResultRow | None) -> None:
        self._row = row
        enabled = row is not None
        for button in (self.open_button, self.show_button, self.copy_button, self.similar_button):
            button.setEnabled(enabled)
        if row is None:
            for label in (self.path, self.date, self.size, self.dimensions, self.camera):
                label.setText("")
            self._show_place(None)
            self._show_text_state(None)
            self._pixmap = QPixmap()
            self.image.setText("Select a photo to preview it")
            return
        record = row.record
        self.path.setText(printable_path(record.path))
        self._show_place(record.place)
        self._show_text_state(None)  # until the text's answer comes (textWanted -> show_text)
        self.textWanted.emit(record.image_id)
        self.date.setText(record.taken_at.replace("T", " ") if record.taken_at else f"unknown (file modified {record.date.replace('T', ' ')})")
        self.size.setText(_human_size(record.size))
        self.dimensions.setText(f"{record.width} x {record.height}" if record.width else "unknown")
        self.camera.setText(record.camera or "unknown")
        self.image.setText("Loading...")
        self._pool.clear()
        path = record.path
        self._relay = run_in_pool(lambda: _load_preview(path), lambda image: self._image_loaded(path, image),
                                  lambda message: self._image_failed(path, message), self._pool,
                                  doing=f"loading the preview of {printable_path(path)}", owner=self)

    def _text_row(self) -> QWidget:
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text_status)
        layout.addWidget(self.text_box)
        layout.addWidget(self.copy_text_button, alignment=Qt.AlignmentFlag.AlignLeft)
        return row

    def _show_place(self, place: str | None) -> None:
        self.place.setText(place or "")
        self.form.setRowVisible(self.place, bool(place))

    def show_text(self, image_id: int, read: bool, lines: list) -> None:
        """The text found in photo `image_id` (TextLines, top to bottom), or `read` False when the text pass
        has not reached it yet. An answer for a photo no longer shown is dropped."""
        if self._row is not None and self._row.record.image_id == image_id:
            self._show_text_state(reading_text(lines) if read else None, waiting=not read)

    def ask_text_again(self) -> None:
        """The text pass moved on: if the photo shown was waiting for it, ask for its text again."""
        if self._row is not None and not self.text_status.isHidden():
            self.textWanted.emit(self._row.record.image_id)

    def _show_text_state(self, text: str | None, waiting: bool = False) -> None:
        self.text_box.setPlainText(text or "")
        self.text_status.setVisible(waiting)
        self.text_box.setVisible(bool(text))
        self.copy_text_button.setVisible(bool(text))
        self.form.setRowVisible(self.text_status.parentWidget(), bool(text) or waiting)

    def _image_loaded(self, path: str, image: QImage) -> None:
        if self._row is None or path != self._row.record.path:
            return  # the selection moved on
        self._pixmap = QPixmap.fromImage(image)
        self._fit()

    def _image_failed(self, path: str, message: str) -> None:
        if self._row is None or path != self._row.record.path:
            return
        self._pixmap = QPixmap()
        self.image.setText(f"This photo cannot be shown.\n{message}")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if not self._pixmap.isNull():
            self.image.setPixmap(self._pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    # --- actions ------------------------------------------------------------------------
    def open_file(self) -> None:
        if self._row:
            open_path(self._row.record.path)

    def show_in_folder(self) -> None:
        if self._row:
            show_in_folder(self._row.record.path)

    def copy_path(self) -> None:
        if self._row:
            copy_paths([self._row.record.path])

    def copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text_box.toPlainText())


def reading_text(lines: list) -> str:
    """TextLines as a person reads them: lines side by side on one row (a receipt's item and its price,
    even when it was snapped a little turned), left to right; the rows top to bottom."""
    rows: list[list] = []
    for line in sorted(lines, key=lambda line: _middle(line)[1]):
        row = next((row for row in rows if _same_row(row[0], line)), None)
        if row is None:
            rows.append([line])
        else:
            row.append(line)
    return "\n".join(" ".join(line.text for line in sorted(row, key=lambda line: _middle(line)[0])) for row in rows)


def _middle(line) -> tuple[float, float]:
    return sum(x for x, _ in line.box) / 4, sum(y for _, y in line.box) / 4


def _same_row(first, line) -> bool:
    """Whether `line`'s middle lies on `first`'s row: its top edge's slant carried over to `line`."""
    (left, top), (right, right_top), _, (_, bottom) = first.box
    slant = (right_top - top) / (right - left) if right > left else 0.0
    (x, y), (line_x, line_y) = _middle(first), _middle(line)
    return abs(y + slant * (line_x - x) - line_y) < SAME_ROW * max(bottom - top, 1e-6)


def _text_box() -> QPlainTextEdit:
    """A read-only box for a photo's recognised text: selectable with the mouse and keyboard, a few lines high."""
    box = QPlainTextEdit(readOnly=True)
    box.setObjectName("photo-text")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * TEXT_BOX_LINES + 2 * box.frameWidth() + 8)
    return box


def _load_preview(path: str) -> QImage:
    """The photo at preview size (on a pool thread); raises ImageError when it cannot be read."""
    image = read_photo_file(path, PREVIEW_SIDE).image
    image.thumbnail((PREVIEW_SIDE * 2, PREVIEW_SIDE * 2))
    return rgb_qimage(image)


def rgb_qimage(image) -> QImage:
    """A PIL image as a QImage that owns its pixels (made on any thread; a QPixmap only on the GUI thread)."""
    image = image.convert("RGB")
    return QImage(image.tobytes(), image.width, image.height, image.width * 3, QImage.Format.Format_RGB888).copy()


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
