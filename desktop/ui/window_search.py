"""The main window's searching: the query from the search bar, results on screen, image queries by drop or paste."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDateEdit

from desktop.core.query_filters import Chip, ParsedQuery, parse_query, place_filter
from desktop.core.search import Query
from desktop.ui.results import ResultRow
from models import paths
from models.display import plural, printable_path
from models.photo_files import IMAGE_EXTENSIONS

ANY_DATE = QDate(1900, 1, 1)  # a date filter set to this means "any date"


class SearchMixin:
    """MainWindow's search controller, on the search bar, results and status widgets that MainWindow builds."""

    # --- searching --------------------------------------------------------------------------
    def current_query(self) -> Query | None:
        """The query the search bar and the filters make now; None when they ask for nothing (browse)."""
        text = self.search_field.text().strip()
        return _with_filters(self._unfiltered_query(), self._parsed(text), self.place_box.picked())

    def _unfiltered_query(self) -> Query:
        """The widgets' part of the query; the text's parts (words, places, dates) come from parsing it."""
        return Query(
            images=((self.image_query, self.image_weight_box.currentData()),) if self.image_query else (),
            k=self.settings.results_per_query,
            folder=self._chosen_folder(),
            date_from=_date_or_none(self.date_from),
            date_to=_date_or_none(self.date_to),
            has_text=self.has_text_box.isChecked(),
            collection=self.collections.current,
            people=self.people.picked(),
            feedback=self.feedback.feedback(),
        )

    def asks_for_something(self) -> bool:
        """Text or an image to look for (filters alone only narrow the library)."""
        return bool(self.search_field.text().strip() or self.image_query)

    def _parsed(self, text: str) -> ParsedQuery:
        """The text parsed, less the chips the user removed."""
        return self._known_parse(text) or parsed_query(text, self._removed_chips, self.people.named)

    def _known_parse(self, text: str) -> ParsedQuery | None:
        """The last search's parse, when it was of this text with the same chips removed."""
        return self._last_parse[2] if self._last_parse[:2] == (text, self._removed_chips) else None

    def search_now(self) -> None:
        self.debounce.stop()
        if self.asks_for_something() and not self.library.index_loaded:  # it waits for warm_up's load of the index
            self.status_label.setText("loading the search index...")
        if self._search_running:
            self._search_pending = True  # only the newest query matters
            return
        self._search_running = True
        # The text is parsed on the engine thread: the first parse loads the world's place names (seconds).
        text, removed, unfiltered, picked = self.search_field.text().strip(), self._removed_chips, self._unfiltered_query(), self.place_box.picked()
        limit = self.settings.results_per_query
        known = self._known_parse(text)

        def search():
            parsed = known or parsed_query(text, removed, self.library.catalog.named_people())
            query = _with_filters(unfiltered, parsed, picked)
            if query is None:
                return parsed, query, [ResultRow(r) for r in self.library.catalog.recent_files(limit)]
            return parsed, query, [ResultRow(r.record, r.relevance, r.matched) for r in self.library.searcher().search(query)]
        self._on_engine(search, lambda result: self._searched(text, removed, *result), self._search_failed)

    def _searched(self, text: str, removed: tuple, parsed: ParsedQuery, query: Query | None, rows: list[ResultRow]) -> None:
        self._last_parse = (text, removed, parsed)
        self._shown = (parsed, query)
        self._show_results(rows)

    def people_changed(self) -> None:
        """People were named, merged, split or forgotten: search again, the text parsed afresh (a name in it may
        mean someone now, or no one)."""
        self._last_parse = (None, None, None)
        self.search_now()

    def _chip_removed(self, chip: Chip) -> None:
        """A chip's × : search without that filter until the text changes."""
        self._removed_chips += (chip,)
        self.search_now()

    def _text_changed(self) -> None:
        self._removed_chips = ()  # a removed chip holds for the text it was removed from
        self._show_image_weight()

    def _search_failed(self, message: str) -> None:
        """A failed search says why; a query typed meanwhile still runs (only a search's own failure ends
        the running search: an error of another engine call leaves it and its pending query alone)."""
        self.show_error(message)
        self._show_results(None)

    def _show_results(self, rows: list[ResultRow] | None) -> None:
        self._search_running = False
        if self._search_pending:
            self._search_pending = False
            self.search_now()
            return
        if rows is None:  # the search failed: keep what is shown
            return
        self._found = rows
        self.filter_chips.show_chips(self._shown[0].chips if self._shown[0] else ())
        self._show_provider()
        self._show_found()

    def _show_found(self) -> None:
        """The last search's rows, weak matches only when asked, and how many were hidden."""
        show_all = self.show_all_action.isChecked()
        rows = self._found if show_all else [row for row in self._found if row.matched]
        weak = sum(not row.matched for row in self._found)
        self.model.set_rows(rows)
        if self.sort_box.currentIndex() == 1:
            self.model.sort_rows("date")
        self.status_label.setText(plural(len(rows), "photo") if self._shown[1] is None else plural(len(rows), "result"))
        if not weak:
            self.hidden_link.setText("")
        elif show_all:
            self.hidden_link.setText(f"(including {weak} weak) - <a href='hide'>hide weak matches</a>")
        else:
            self.hidden_link.setText(f"({plural(weak, 'weak match', 'weak matches')} hidden) - <a href='show'>show all</a>")
        self.resultsShown.emit(len(rows))

    def set_image_query(self, path: str) -> None:
        self.image_query = path
        self._set_image_chip(path)
        self.search_now()

    def clear_image_query(self) -> None:
        self.image_query = None
        self._set_image_chip(None)
        self.search_now()

    def _set_image_chip(self, path: str | None) -> None:
        name = printable_path(os.path.basename(path)) if path else ""
        self.image_chip.setText(f"like: {name}" if path else "")
        self.image_chip.setToolTip(
            f"Typed text and {name} make one query: each result is ranked by how well it matches the text and "
            f"how much it looks like {name}, weighted as the box beside says. x drops the image." if path else "")
        self.image_weight_box.setToolTip(f"How much looking like {name} counts against the typed text")
        self.image_chip.setVisible(bool(path))
        self.clear_image.setVisible(bool(path))
        self._show_image_weight()

    def _show_image_weight(self) -> None:
        """The image's weight is shown, and can be changed, while a text and the image make the query."""
        self.image_weight_box.setVisible(bool(self.image_query and self.search_field.text().strip()))

    def find_similar(self, path: str) -> None:
        self.search_field.clear()
        self.set_image_query(path)

    def clear_search(self) -> None:
        self.search_field.clear()
        self.feedback.clear()
        self.image_query = None
        self._set_image_chip(None)
        self.search_now()

    def _focus_search(self) -> None:
        self.search_field.setFocus()
        self.search_field.selectAll()

    def _sort_changed(self, index: int) -> None:
        self.model.sort_rows("date" if index == 1 else "relevance")

    def refresh_places(self) -> None:
        """The place list from the catalog (on the engine thread): the library's countries and cities with counts."""
        self._on_engine(lambda: self.library.catalog.place_counts(), self.place_box.show_places)

    def _scores_toggled(self, checked: bool) -> None:
        self.model.set_show_scores(checked)

    # --- image queries: drop and paste ------------------------------------------------------
    # A drag from inside picsift (results dragged out of the grid) is not a query: let go a little off the
    # grid, it would replace the search by accident. Find similar is the way to search by a result.
    def dragEnterEvent(self, event) -> None:
        if event.source() is None and _dropped_image(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = _dropped_image(event.mimeData()) if event.source() is None else None
        if path:
            event.acceptProposedAction()
            self.set_image_query(path)

    def paste_image(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        path = _dropped_image(mime)
        if path:
            self.set_image_query(path)
        elif mime.hasImage():
            target = paths.cache_dir() / "pasted-query.png"
            mime.imageData().save(str(target))
            self.set_image_query(str(target))
        else:
            self.show_error("The clipboard holds no image; copy a photo or an image file first.")

    def _chosen_folder(self) -> str | None:
        """The folder filter's path, or None for all folders."""
        data = self.folder_box.currentData()
        return os.fsdecode(data) if data else None


def parsed_query(text: str, removed: tuple[Chip, ...] = (), people: Sequence[tuple[int, str]] = ()) -> ParsedQuery:
    """`text` split into its people (`people`: (id, name) of the named ones), places, dates and the semantic rest,
    without the `removed` chips."""
    parsed = parse_query(text, date.today(), people)
    for chip in removed:
        if chip in parsed.chips:
            parsed = parsed.without(chip)
    return parsed


def _with_filters(query: Query, parsed: ParsedQuery, picked: tuple[str, str | None] | None) -> Query | None:
    """`query` with the parsed text's words, people, places and date; the place picked from the list counts only when
    the text names none; the people named join those picked in the People dock. None when nothing is asked for at
    all: the library is browsed."""
    places = parsed.place_filters or ((place_filter(*picked),) if picked else ())
    query = replace(query, texts=((parsed.semantic_text, 1.0),) if parsed.semantic_text else (), places=places,
                    dates=parsed.date_filter, people=tuple(dict.fromkeys(query.people + parsed.people)))
    asks = (query.texts or query.images or query.feedback or query.places or query.dates or query.has_text or query.folder
            or query.date_from or query.date_to or query.collection is not None or query.people)
    return query if asks else None


def _date_or_none(edit: QDateEdit) -> str | None:
    return None if edit.date() == ANY_DATE else edit.date().toString("yyyy-MM-dd")


def _dropped_image(mime) -> str | None:
    for url in mime.urls() if mime.hasUrls() else []:
        path = url.toLocalFile()
        if path and Path(path).suffix.lower() in IMAGE_EXTENSIONS and os.path.isfile(path):
            return path
    return None
