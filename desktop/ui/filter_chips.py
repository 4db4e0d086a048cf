"""The search bar's filters: chips for the people, places and dates a typed query holds, and the list of the library's places."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from desktop.core.query_filters import Chip

CHIP_STYLE = "QToolButton{background:#e3ecfa;color:#1a3d6e;border:1px solid #b5c9ea;border-radius:9px;padding:1px 6px}"
ANY_PLACE = "Any place"


class FilterChips(QWidget):
    """One small button per filter read from the query ("Portugal ×"); clicking it removes that filter.

    Signals:
        chipRemoved(object): the Chip whose button was clicked; its button is gone already.
    """

    chipRemoved = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._buttons: list[tuple[Chip, QToolButton]] = []
        self.hide()

    def show_chips(self, chips: tuple[Chip, ...]) -> None:
        if tuple(chip for chip, _ in self._buttons) == tuple(chips):
            return  # unchanged: keep the buttons (and a focused one) as they are
        for chip, _ in list(self._buttons):
            self._drop(chip)
        for chip in chips:
            button = QToolButton(text=f"{chip.label}  ×", toolTip=_tooltip(chip))
            button.setObjectName(f"chip-{chip.kind}")
            button.setStyleSheet(CHIP_STYLE)
            button.clicked.connect(lambda _=False, chip=chip: self._remove(chip))
            self._layout.addWidget(button)
            self._buttons.append((chip, button))
        self.setVisible(bool(self._buttons))

    def chips(self) -> list[Chip]:
        return [chip for chip, _ in self._buttons]

    def button(self, chip: Chip) -> QToolButton:
        return dict(self._buttons)[chip]

    def _remove(self, chip: Chip) -> None:
        self._drop(chip)
        self.setVisible(bool(self._buttons))
        self.chipRemoved.emit(chip)

    def _drop(self, chip: Chip) -> None:
        button = self.button(chip)
        self._buttons.remove((chip, button))
        self._layout.removeWidget(button)
        button.deleteLater()


def _tooltip(chip: Chip) -> str:
    if chip.kind in ("more", "less"):  # relevance feedback marks (window_feedback)
        how = "more like this photo" if chip.kind == "more" else "away from this photo and photos like it"
        return f"Results are ranked {how}; click to drop the mark"
    if chip.kind == "person":  # a name in the query, or a person picked in the People dock (window_people)
        return f"Only photos in which {chip.label} was found; click to search without this person"
    what = f"taken in {chip.label}" if chip.kind == "place" else f"taken {_when(chip.label)}"
    return f"Only photos {what}, as the query says; click to search without this filter"


def _when(label: str) -> str:
    """'Last summer' -> 'last summer'; '2019', 'July 2019' -> 'in 2019', 'in July 2019'; 'Since 2019' -> 'since 2019'."""
    first = label.split()[0]
    if first in ("Last", "This", "Since", "Before", "After", "Today", "Yesterday"):
        return label[0].lower() + label[1:]
    return f"in {label}"


class PlaceBox(QComboBox):
    """Any place, then each country of the library and its cities, with how many photos were taken there.
    An item's data is (country code, city or None); "Any place" has None."""

    def __init__(self, parent=None):
        super().__init__(parent, toolTip="Only photos taken in this place (read from the photos' GPS)")
        self.setObjectName("places")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # places arrive after the first show
        self.addItem(ANY_PLACE, None)

    def show_places(self, counts: list) -> None:
        """counts: Catalog.place_counts(), one PlaceCount per country (city None) and per city in it.
        The chosen place stays chosen while the library still has it; no signal fires for the refill."""
        chosen = self.currentData()
        self.blockSignals(True)
        self.clear()
        self.addItem(ANY_PLACE, None)
        for country, cities in _by_country(counts):
            self.addItem(f"{country.country} ({country.count})", (country.country_code, None))
            for city in cities:
                self.addItem(f"    {city.city} ({city.count})", (city.country_code, city.city))
        # compared in Python: findData compares a Python object held by Qt by identity, not by value
        index = next((i for i in range(self.count()) if self.itemData(i) == chosen), -1)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)
        if chosen and index < 0:
            self.currentIndexChanged.emit(0)  # the chosen place left the library: the search changes

    def picked(self) -> tuple[str, str | None] | None:
        """(country code, city or None) of the chosen place, None for any place."""
        data = self.currentData()
        return tuple(data) if data else None


def _by_country(counts: list) -> list[tuple]:
    """(country row, its city rows), in the catalog's order: most photos first."""
    countries: dict[str, tuple] = {}
    for row in counts:
        if row.city is None:
            countries[row.country_code] = (row, [])
    for row in counts:
        if row.city is not None and row.country_code in countries:
            countries[row.country_code][1].append(row)
    return list(countries.values())
