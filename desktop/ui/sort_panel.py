"""The sorting review's widgets: the label list with counts, the grid of a label's photos, the decisions, the threshold."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QPushButton, QSlider, QSplitter, QVBoxLayout, QWidget

from desktop.core.sorting import DEFAULT_THRESHOLD
from desktop.ui.results import ResultsModel, ResultsView
from desktop.ui.sort_review import REJECTED, ReviewDelegate, SortReview
from desktop.ui.thumbnail_loader import ThumbnailLoader
from models.display import printable


class ReviewPanel(QWidget):
    """Shows a SortReview: a label list (each with its count at the threshold), the picked label's photos most
    confident first with their confidence, Accept / Reject / Re-label to (buttons, the grid's context menu, keys A
    and R) for the photos picked, "Accept all shown", and the threshold slider.

    Signals:
        changed(): a decision or the threshold changed (the accepted count may have).
    """

    changed = Signal()

    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self.review: SortReview | None = None
        self.label_list = QListWidget(minimumWidth=170)
        self.label_list.currentRowChanged.connect(lambda _: self._show_grid(keep_selection=False))
        self.model = ResultsModel(loader, self)
        self.model.show_scores = True  # each photo's confidence under its name
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(ReviewDelegate(lambda: self.review, self.view))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_enabled())
        self.accept_action = self._action("&Accept", "A", lambda: self._decide("accept"))
        self.reject_action = self._action("&Reject", "R", lambda: self._decide("reject"))
        self.relabel_menu = QMenu("Re-label &to", self)
        self.relabel_menu.aboutToShow.connect(self._fill_relabel_menu)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.view.addActions([self.accept_action, self.reject_action, self.relabel_menu.menuAction()])
        self.accept_button = QPushButton("Accept", clicked=self.accept_action.trigger, autoDefault=False)
        self.reject_button = QPushButton("Reject", clicked=self.reject_action.trigger, autoDefault=False)
        self.relabel_button = QPushButton("Re-label to...", autoDefault=False)
        self.relabel_button.setMenu(self.relabel_menu)
        self.accept_all_button = QPushButton("Accept all shown", clicked=self.accept_all_shown, autoDefault=False)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=round(DEFAULT_THRESHOLD * 100))
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.slider.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel(minimumWidth=170)
        self._layout()
        self._threshold_changed(self.slider.value())

    def _layout(self) -> None:
        actions = QHBoxLayout()
        for widget in (self.accept_button, self.reject_button, self.relabel_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        actions.addWidget(self.accept_all_button)
        grid = QWidget()
        grid_layout = QVBoxLayout(grid)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addWidget(self.view, stretch=1)
        grid_layout.addLayout(actions)
        split = QSplitter()
        split.addWidget(self.label_list)
        split.addWidget(grid)
        split.setStretchFactor(1, 1)
        split.setSizes([200, 800])
        threshold = QHBoxLayout()
        threshold.addWidget(self.threshold_label)
        threshold.addWidget(self.slider, stretch=1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split, stretch=1)
        layout.addLayout(threshold)

    def _action(self, text: str, key: str, triggered) -> QAction:
        action = QAction(text, self, shortcut=QKeySequence(key), triggered=triggered)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        return action

    def set_review(self, review: SortReview | None) -> None:
        if review is not None:
            review.threshold = self.slider.value() / 100
        self.review = review
        self.refresh()

    def refresh(self) -> None:
        """The label list and the grid again (the review's photos changed); the picked label kept."""
        picked = self.current_label()
        names = list(self.review.labels) if self.review else []
        self.label_list.blockSignals(True)
        self.label_list.clear()
        for name in names:
            item = QListWidgetItem(self._label_text(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.label_list.addItem(item)
        if names:
            first = next((name for name in names if self.review.count(name)), names[0])
            self.label_list.setCurrentRow(names.index(picked if picked in names else first))
        self.label_list.blockSignals(False)
        self._show_grid(keep_selection=picked == self.current_label())

    def current_label(self) -> str | None:
        item = self.label_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select_label(self, name: str) -> None:
        self.label_list.setCurrentRow(list(self.review.labels).index(name))

    def selected_paths(self) -> list[str]:
        return [row.record.path for row in self.view.selected_rows()]

    def shown_paths(self) -> list[str]:
        return [row.record.path for row in self.model.rows()]

    def _label_text(self, name: str) -> str:
        accepted = self.review.accepted_count(name)
        return printable(f"{name}  ({self.review.count(name)}" + (f", {accepted} accepted)" if accepted else ")"))

    def _refresh_counts(self) -> None:
        for row in range(self.label_list.count()):
            item = self.label_list.item(row)
            item.setText(self._label_text(item.data(Qt.ItemDataRole.UserRole)))

    def _show_grid(self, keep_selection: bool = True) -> None:
        picked = set(self.selected_paths()) if keep_selection else set()
        label = self.current_label()
        self.model.set_rows(self.review.rows(label) if self.review is not None and label else [])
        for number, path in enumerate(self.shown_paths()):
            if path in picked:
                self.view.selectionModel().select(self.model.index(number), QItemSelectionModel.SelectionFlag.Select)
        self._update_enabled()

    def _threshold_changed(self, value: int) -> None:
        self.threshold_label.setText(f"Confidence at least {value / 100:.2f}")
        if self.review is not None:
            self.review.threshold = value / 100
            self._decided()

    def _decide(self, how: str, label: str | None = None) -> None:
        paths = self.selected_paths()
        if not paths or self.review is None or not self.isEnabled():
            return
        if how == "accept":
            self.review.accept(paths)
        elif how == "reject":
            self.review.reject(paths)
        else:
            self.review.relabel(paths, label)
        self._decided()

    def accept_all_shown(self) -> None:
        if self.review is not None and self.isEnabled():
            self.review.accept([path for path in self.shown_paths() if self.review.state(path) != REJECTED])
            self._decided()

    def _decided(self) -> None:
        self._refresh_counts()
        self._show_grid()
        self.changed.emit()

    def _fill_relabel_menu(self) -> None:
        self.relabel_menu.clear()
        paths = self.selected_paths()
        for label in self.review.other_labels(paths[0]) if paths and self.review else ():
            self.relabel_menu.addAction(printable(label), lambda _checked=False, label=label: self._decide("relabel", label))

    def _update_enabled(self) -> None:
        picked = self.review is not None and bool(self.selected_paths())
        for widget in (self.accept_action, self.reject_action, self.relabel_menu.menuAction(), self.accept_button,
                       self.reject_button, self.relabel_button):
            widget.setEnabled(picked)
        self.accept_all_button.setEnabled(self.model.rowCount() > 0)
