"""The sorting review's state: each suggestion's decision, what a label's grid shows at a threshold, and its painting.

A suggestion is pending until the user accepts it (filed under its label), rejects it (filed nowhere)
or re-labels it (accepted under the label the user gave). A label shows its pending and rejected
suggestions at or above the threshold, and every photo accepted under it whatever its confidence:
the slider hides doubt, never a decision. Decisions are kept by path, so they outlive a fresh set of
suggestions (after an undo) for the photos still there.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop.core.catalog import FileRecord
from desktop.core.sorting import DEFAULT_THRESHOLD, Suggestion
from desktop.ui.results import THUMB, ResultDelegate, ResultRow, ResultsModel

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


@dataclass(frozen=True)
class Decision:
    state: str  # ACCEPTED or REJECTED
    label: str  # the label it is filed under when accepted: the suggestion's, or the one the user gave


class SortReview:
    """Suggestions for photos outside the labelled root and the user's decisions on them."""

    def __init__(self, labels: tuple[str, ...], suggestions: list[Suggestion], records: dict[str, FileRecord],
                 decisions: dict[str, Decision] | None = None, threshold: float = DEFAULT_THRESHOLD):
        self.labels = labels
        self.threshold = threshold
        self._suggestions = {s.path: s for s in suggestions if s.path in records}  # most confident first
        self._records = records
        self._decisions = {path: d for path, d in (decisions or {}).items() if path in self._suggestions}

    @property
    def suggestions(self) -> list[Suggestion]:
        """The engine's suggestions still in the review, most confident first."""
        return list(self._suggestions.values())

    @property
    def decisions(self) -> dict[str, Decision]:
        return dict(self._decisions)

    def state(self, path: str) -> str:
        decision = self._decisions.get(path)
        return decision.state if decision else PENDING

    def label_of(self, path: str) -> str:
        decision = self._decisions.get(path)
        return decision.label if decision else self._suggestions[path].label

    def confidence(self, path: str, label: str) -> float | None:
        """The photo's confidence in `label`, when the engine gave it (its top two labels)."""
        s = self._suggestions[path]
        return s.confidence if label == s.label else s.runner_up_confidence if label == s.runner_up else None

    def rows(self, label: str) -> list[ResultRow]:
        """The photos `label` shows, highest confidence first (re-labelled ones of no known confidence last)."""
        shown = [path for path in self._suggestions if self.label_of(path) == label and self._shown(path, label)]
        shown.sort(key=lambda path: -(self.confidence(path, label) or -1.0))
        return [ResultRow(self._records[path], self.confidence(path, label)) for path in shown]

    def count(self, label: str) -> int:
        """How many photos `label` shows that are not rejected."""
        return sum(self.state(row.record.path) != REJECTED for row in self.rows(label))

    def accepted(self) -> list[tuple[str, str]]:
        """(path, label) of every accepted photo, in suggestion order."""
        return [(path, d.label) for path, d in self._decisions.items() if d.state == ACCEPTED]

    def accepted_count(self, label: str | None = None) -> int:
        return sum(label is None or filed == label for _, filed in self.accepted())

    def other_labels(self, path: str) -> list[str]:
        """The labels a photo could be re-labelled to: its runner-up first, then the rest in label order."""
        current, runner_up = self.label_of(path), self._suggestions[path].runner_up
        rest = [name for name in self.labels if name not in (current, runner_up)]
        return ([runner_up] if runner_up != current else []) + rest

    def accept(self, paths: list[str]) -> None:
        for path in paths:
            self._decisions[path] = Decision(ACCEPTED, self.label_of(path))

    def reject(self, paths: list[str]) -> None:
        for path in paths:
            self._decisions[path] = Decision(REJECTED, self.label_of(path))

    def relabel(self, paths: list[str], label: str) -> None:
        for path in paths:
            self._decisions[path] = Decision(ACCEPTED, label)

    def drop(self, paths: list[str]) -> None:
        """Forget photos that were filed: they are sorted now."""
        for path in paths:
            self._suggestions.pop(path, None)
            self._decisions.pop(path, None)

    def _shown(self, path: str, label: str) -> bool:
        if self.state(path) == ACCEPTED:
            return True
        confidence = self.confidence(path, label)
        return confidence is not None and confidence >= self.threshold


class ReviewDelegate(ResultDelegate):
    """A result cell (thumbnail, name, confidence) marked by its decision: a green "accepted" band, or dimmed
    with "rejected"."""

    BADGES = {ACCEPTED: ("\u2713 accepted", QColor("#1e8e3e")), REJECTED: ("\u2717 rejected", QColor("#a50e0e"))}

    def __init__(self, review_of, parent=None):
        super().__init__(parent)
        self._review_of = review_of  # () -> SortReview | None, read at each paint

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        super().paint(painter, option, index)
        review = self._review_of()
        row: ResultRow = index.data(ResultsModel.RowRole)
        state = review.state(row.record.path) if review is not None else PENDING
        if state == PENDING:
            return
        rect = option.rect
        box = QRect(rect.x() + (rect.width() - THUMB) // 2, rect.y() + 6, THUMB, THUMB)
        painter.save()
        if state == REJECTED:
            painter.fillRect(box, QColor(255, 255, 255, 170))
        text, color = self.BADGES[state]
        band = QRect(box.x(), box.bottom() - 22, box.width(), 22)
        painter.fillRect(band, color)
        painter.setPen(QColor("white"))
        painter.drawText(band, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
