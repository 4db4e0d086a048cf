"""The main window's relevance feedback: results marked "More like this" or "Not this" refine the search at once.

Each mark is a chip beside the search bar ("+ beach.jpg ×", "− dog.jpg ×"); its × drops the mark.
The marks go into the query as `Query.feedback` (image ids with +1 / -1), which the searcher turns
into Rocchio-weighted parts in the shared space (desktop/core/search.py). They hold while the user
refines the text, and go when the search is cleared.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from desktop.core.query_filters import Chip
from desktop.ui.filter_chips import FilterChips

MORE, LESS = "more", "less"  # chip kinds
_SIGN = {MORE: 1.0, LESS: -1.0}


class FeedbackController(QObject):
    """The marks of the current search, their chips (`chips`, put in the search bar by the window) and the two actions."""

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self._marks: dict[int, Chip] = {}  # image id -> its chip, in marking order
        self.chips = FilterChips()
        self.chips.setObjectName("feedback-chips")
        self.chips.chipRemoved.connect(self._chip_removed)
        self.more_action = QAction("More &like this", window, shortcut=QKeySequence("Ctrl+="), triggered=lambda: self.mark(MORE))
        self.more_action.setToolTip("Rank the results more like the photos picked")
        self.less_action = QAction("&Not this", window, shortcut=QKeySequence("Ctrl+-"), triggered=lambda: self.mark(LESS))
        self.less_action.setToolTip("Push the photos picked, and photos like them, down the results")
        window.view.selectionModel().selectionChanged.connect(lambda *_: self._update_enabled())
        window.model.modelReset.connect(self._update_enabled)
        window.search_field.textChanged.connect(lambda text: self.clear() if not text.strip() else None)
        self._update_enabled()

    def actions(self) -> list[QAction]:
        return [self.more_action, self.less_action]

    def feedback(self) -> tuple[tuple[int, float], ...]:
        """For Query.feedback: (image id, +1 or -1) of each mark."""
        return tuple((image_id, _SIGN[chip.kind]) for image_id, chip in self._marks.items())

    def mark(self, kind: str) -> None:
        """Mark the picked results (a photo marked again takes the new mark) and search again."""
        rows = self._window.view.selected_rows()
        if not rows:
            return
        for row in rows:
            self._marks.pop(row.record.image_id, None)
            self._marks[row.record.image_id] = Chip(kind, f"{'+' if kind == MORE else '−'} {row.name}", str(row.record.image_id))
        if not any(chip.kind == MORE for chip in self._marks.values()) and not self._window.asks_for_something():
            self._window.show_error("\"Not this\" refines a search: type what to look for, or mark a photo \"More like this\" first.")
            for row in rows:
                self._marks.pop(row.record.image_id, None)
            return
        self._show_chips()
        self._window.search_now()

    def clear(self) -> None:
        if self._marks:
            self._marks.clear()
            self._show_chips()

    def _chip_removed(self, chip: Chip) -> None:
        self._marks.pop(int(chip.value), None)
        self._window.search_now()

    def _show_chips(self) -> None:
        self.chips.show_chips(tuple(self._marks.values()))

    def _update_enabled(self) -> None:
        picked = self._window.view.selectionModel().hasSelection()
        for action in self.actions():
            action.setEnabled(picked)
