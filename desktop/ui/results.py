"""The results grid: a list model of found photos, a delegate that paints them, and the view."""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.core.catalog import FileRecord
from desktop.ui.result_actions import file_urls
from desktop.ui.thumbnail_loader import ThumbnailLoader
from models.display import printable

CELL = QSize(176, 204)  # grid cell: thumbnail plus two lines of text
THUMB = 160  # thumbnail box side, pixels
_PIXMAP_CACHE = 3000  # decoded thumbnails kept in memory (~60 KB each)


@dataclass(frozen=True)
class ResultRow:
    """One photo in the grid; `score` is its relevance (0..1, desktop/core/calibration.py), None for browsing."""

    record: FileRecord
    score: float | None = None
    matched: bool = True  # False: a weak match, shown only with View > Show weak matches

    @property
    def name(self) -> str:
        return printable(os.path.basename(self.record.path))


class ResultsModel(QAbstractListModel):
    """Rows of ResultRow; thumbnails are requested when a row is first painted.

    Signals:
        countChanged(int): the number of rows after a new result list.
    """

    RowRole = Qt.ItemDataRole.UserRole + 1
    countChanged = Signal(int)

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self._rows: list[ResultRow] = []
        self._loader = loader
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._row_of_hash: dict[str, list[int]] = {}
        self.show_scores = False
        loader.loaded.connect(self._thumbnail_loaded)

    # --- contents ---------------------------------------------------------------------
    def set_rows(self, rows: list[ResultRow]) -> None:
        self.beginResetModel()
        self._loader.forget()
        self._rows = list(rows)
        self._row_of_hash = {}
        for number, row in enumerate(self._rows):
            self._row_of_hash.setdefault(row.record.content_hash, []).append(number)
        self.endResetModel()
        self.countChanged.emit(len(self._rows))

    def rows(self) -> list[ResultRow]:
        return list(self._rows)

    def sort_rows(self, by: str) -> None:
        """"relevance" (score, best first) or "date" (newest first)."""
        if by == "date":
            rows = sorted(self._rows, key=lambda r: r.record.date, reverse=True)
        else:
            rows = sorted(self._rows, key=lambda r: -(r.score if r.score is not None else -2.0))
        self.set_rows(rows)

    def set_show_scores(self, show: bool) -> None:
        self.show_scores = show
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))

    # --- Qt model API -------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return printable(row.record.path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmap(row)
        if role == self.RowRole:
            return row
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else flags

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        """The rows' files as file:// URLs: a file manager or another app dropped on copies or opens them."""
        mime = QMimeData()
        mime.setUrls(file_urls([self._rows[index.row()].record.path for index in sorted(indexes, key=QModelIndex.row)]))
        return mime

    def _pixmap(self, row: ResultRow) -> QPixmap | None:
        key = row.record.content_hash
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        self._loader.request(key, row.record.path)
        return None

    def _thumbnail_loaded(self, content_hash: str, image: QImage) -> None:
        if image.isNull():
            return
        fitted = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self._pixmaps[content_hash] = QPixmap.fromImage(fitted)  # scaled once here, not on every paint
        while len(self._pixmaps) > _PIXMAP_CACHE:
            self._pixmaps.popitem(last=False)
        for number in self._row_of_hash.get(content_hash, []):
            index = self.index(number)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ResultDelegate(QStyledItemDelegate):
    """Paints a thumbnail centred in its box, the file name, and the score when shown."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        box = QRect(rect.x() + (rect.width() - THUMB) // 2, rect.y() + 6, THUMB, THUMB)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is None:
            painter.fillRect(box, QColor(128, 128, 128, 40))
        else:
            painter.drawPixmap(box.x() + (THUMB - pixmap.width()) // 2, box.y() + (THUMB - pixmap.height()) // 2, pixmap)
        row: ResultRow = index.data(ResultsModel.RowRole)
        text_rect = QRect(rect.x() + 4, box.bottom() + 4, rect.width() - 8, rect.bottom() - box.bottom() - 4)
        text = option.fontMetrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        model = index.model()
        if getattr(model, "show_scores", False) and row.score is not None:
            text += f"\n{row.score:.2f}"
        painter.setPen(option.palette.highlightedText().color() if option.state & QStyle.StateFlag.State_Selected else option.palette.text().color())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
        painter.restore()


class ResultsView(QListView):
    """A grid of uniform cells: only visible cells are painted, so 10,000 results scroll smoothly.

    Signals:
        activatedRow(object): Enter or double-click on a ResultRow (open it).

    Several rows can be picked (click, shift/ctrl-click, Ctrl+A) and dragged out as files (a copy: the
    library keeps its photos).
    """

    activatedRow = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setGridSize(CELL)
        self.setSpacing(0)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setDragDropMode(QListView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setItemDelegate(ResultDelegate(self))
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.activated.connect(lambda index: self.activatedRow.emit(index.data(ResultsModel.RowRole)))

    def current_row(self) -> ResultRow | None:
        index = self.currentIndex()
        return index.data(ResultsModel.RowRole) if index.isValid() else None

    def selected_rows(self) -> list[ResultRow]:
        """The picked rows in grid order."""
        return [index.data(ResultsModel.RowRole) for index in sorted(self.selectionModel().selectedIndexes(), key=QModelIndex.row)]
