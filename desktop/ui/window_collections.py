"""The main window's collections (albums): a list in its own dock, picking one narrows searching and browsing to it,
and the Photos menu adds the picked results to one, takes them out, or saves the whole search as a new one.

Collections live in the catalog (desktop/core/catalog_collections.py) and hold images, not paths, so
a photo moved or renamed stays in them. Every catalog call runs on the window's engine thread
(`window._on_engine`); the list is refilled from the catalog after each change.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.display import plural, printable

ALL_PHOTOS = "All photos"


class CollectionsPanel(QWidget):
    """All photos, then each collection with its count. An item's data is its collection id (None: all photos).

    Signals:
        picked(object): the collection id chosen (None: all photos).
        newRequested(): make an empty collection.
        renameRequested(object), deleteRequested(object): a collection id.
    """

    picked = Signal(object)
    newRequested = Signal()
    renameRequested = Signal(object)
    deleteRequested = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("collections")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.currentItemChanged.connect(self._current_changed)
        new = QPushButton("New...", toolTip="A new, empty collection; add photos to it from the Photos menu")
        new.clicked.connect(self.newRequested)
        self.rename_button = QPushButton("Rename...", clicked=lambda: self._emit_for_current(self.renameRequested))
        self.delete_button = QPushButton("Delete", clicked=lambda: self._emit_for_current(self.deleteRequested))
        buttons = QHBoxLayout()
        for button in (new, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, stretch=1)
        layout.addLayout(buttons)
        self._filling = False
        self.show_collections([])

    def show_collections(self, collections: list) -> None:
        """collections: Catalog.collections(). The chosen one stays chosen while it exists (no signal for the refill);
        when it is gone, all photos are chosen and `picked(None)` fires."""
        chosen = self.current()
        self._filling = True
        self.list.clear()
        self.list.addItem(_item(ALL_PHOTOS, ALL_PHOTOS, None, "Search and browse the whole library"))
        for c in collections:
            kind = "a saved search" if c.query else "a collection"
            self.list.addItem(_item(f"{printable(c.name)}  ({c.count})", printable(c.name), c.id, f"{printable(c.name)}: {kind} of {plural(c.count, 'photo')}"))
        rows = [i for i in range(self.list.count()) if self.list.item(i).data(Qt.ItemDataRole.UserRole) == chosen]
        self.list.setCurrentRow(rows[0] if rows else 0)
        self._filling = False
        self._update_buttons()
        if chosen is not None and not rows:
            self.picked.emit(None)

    def current(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def current_name(self) -> str:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole + 1) if item is not None else ""

    def choose(self, collection_id: int | None) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == collection_id:
                self.list.setCurrentRow(i)

    def names(self) -> list[tuple[int, str]]:
        """(id, name) of each collection in the list's order."""
        items = (self.list.item(i) for i in range(1, self.list.count()))
        return [(item.data(Qt.ItemDataRole.UserRole), item.data(Qt.ItemDataRole.UserRole + 1)) for item in items]

    def _current_changed(self, *_args) -> None:
        self._update_buttons()
        if not self._filling:
            self.picked.emit(self.current())

    def _update_buttons(self) -> None:
        for button in (self.rename_button, self.delete_button):
            button.setEnabled(self.current() is not None)

    def _emit_for_current(self, signal) -> None:
        if self.current() is not None:
            signal.emit(self.current())

    def _context_menu(self, position) -> None:
        item = self.list.itemAt(position)
        collection_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if collection_id is None:
            return
        menu = QMenu(self)
        menu.addAction("Rename...", lambda: self.renameRequested.emit(collection_id))
        menu.addAction("Delete", lambda: self.deleteRequested.emit(collection_id))
        menu.exec(self.list.mapToGlobal(position))


class CollectionsController(QObject):
    """The collections of `window.library`: its dock, the chosen collection (`current`) and the Photos menu's actions.

    Signals:
        changed(): the list was refilled from the catalog after a change.
    """

    changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.panel = CollectionsPanel()
        self.panel.setObjectName("collections-panel")
        self.panel.picked.connect(lambda _: window.search_now())
        self.panel.newRequested.connect(lambda: self.create_from([]))
        self.panel.renameRequested.connect(self.rename)
        self.panel.deleteRequested.connect(self.delete)
        self.dock = QDockWidget("Collections", window)
        self.dock.setObjectName("collections-dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.add_menu = QMenu("&Add to collection", window)
        self.add_menu.aboutToShow.connect(self._fill_add_menu)
        self.remove_action = QAction("Remove from this collection", window, triggered=self.remove_selected)
        self.save_search_action = QAction("Save search as collection...", window, triggered=self.save_search)
        window.view.selectionModel().selectionChanged.connect(lambda *_: self._update_enabled())
        window.model.modelReset.connect(self._update_enabled)
        self.panel.picked.connect(lambda _: self._update_enabled())
        self.refresh()

    @property
    def current(self) -> int | None:
        """The collection searches are narrowed to; None: the whole library."""
        return self.panel.current()

    def actions(self) -> list[QAction]:
        """For the Photos menu and the grid's context menu."""
        return [self.add_menu.menuAction(), self.remove_action, self.save_search_action]

    def refresh(self) -> None:
        self._window._on_engine(lambda: self._window.library.catalog.collections(), self._show)

    def _show(self, collections: list) -> None:
        self.panel.show_collections(collections)
        self._update_enabled()
        self.changed.emit()

    def _update_enabled(self) -> None:
        picked = self._window.view.selectionModel().hasSelection()
        self.add_menu.menuAction().setEnabled(picked)
        self.remove_action.setEnabled(picked and self.current is not None)
        self.save_search_action.setEnabled(self._window.model.rowCount() > 0)

    def _fill_add_menu(self) -> None:
        self.add_menu.clear()
        for collection_id, name in self.panel.names():
            self.add_menu.addAction(name, lambda collection_id=collection_id, name=name: self.add_selected(collection_id, name))
        if self.panel.names():
            self.add_menu.addSeparator()
        self.add_menu.addAction("New collection...", lambda: self.create_from(self._selected_ids()))

    def _selected_ids(self) -> list[int]:
        return [row.record.image_id for row in self._window.view.selected_rows()]

    def add_selected(self, collection_id: int, name: str) -> None:
        ids = self._selected_ids()
        self._change(lambda catalog: catalog.add_to_collection(collection_id, ids),
                     lambda added: f"Added {plural(added, 'photo')} to {name}" + (" (the rest were in it)" if added < len(ids) else ""))

    def remove_selected(self) -> None:
        collection_id, name, ids = self.current, self.panel.current_name(), self._selected_ids()
        if collection_id is None or not ids:
            return
        self._change(lambda catalog: catalog.remove_from_collection(collection_id, ids),
                     lambda removed: f"Took {plural(removed, 'photo')} out of {name} (the files stay where they are)", search=True)

    def create_from(self, ids: list[int], query: dict | None = None, title: str = "New collection") -> None:
        """Ask for a name, then make the collection with these images (none: empty)."""
        name = self._ask_name(title, "Name of the new collection:", "")
        if name is None:
            return

        def create(catalog) -> int:
            collection_id = catalog.create_collection(name, query)
            catalog.add_to_collection(collection_id, ids)
            return collection_id
        self._change(create, lambda _: f"Made the collection {name} with {plural(len(set(ids)), 'photo')}")

    def save_search(self) -> None:
        """The results on screen, with the query that found them, as a new collection."""
        rows = self._window.model.rows()
        words = self._window.search_field.text().strip()
        query = {"text": words} if words else {}
        if self._window.image_query:
            query["image"] = self._window.image_query
        self.create_from([row.record.image_id for row in rows], query or None, "Save search as collection")

    def rename(self, collection_id: int) -> None:
        old = dict(self.panel.names()).get(collection_id, "")
        name = self._ask_name("Rename collection", f"New name for {old}:", old)
        if name is not None and name != old:
            self._change(lambda catalog: catalog.rename_collection(collection_id, name), lambda _: f"Renamed {old} to {name}")

    def delete(self, collection_id: int) -> None:
        name = dict(self.panel.names()).get(collection_id, "")
        answer = QMessageBox.question(self._window, "Delete collection",
                                      f"Delete the collection {name}? Its photos stay where they are.")
        if answer == QMessageBox.StandardButton.Yes:
            self._change(lambda catalog: catalog.delete_collection(collection_id), lambda _: f"Deleted the collection {name}")

    def _ask_name(self, title: str, label: str, text: str) -> str | None:
        name, ok = QInputDialog.getText(self._window, title, label, text=text)
        return name.strip() if ok and name.strip() else None

    def _change(self, change, summary, search: bool = False) -> None:
        """`change(catalog)` on the engine thread, then the list refilled and `summary(result)` in the status line;
        a refused change (a name taken) shows in the window's error banner."""
        window = self._window

        def done(result) -> None:
            self.refresh()
            window.status_label.setText(summary(result))
            if search:
                window.search_now()
        window._on_engine(lambda: change(window.library.catalog), done)


def _item(text: str, name: str, collection_id: int | None, tooltip: str) -> QListWidgetItem:
    item = QListWidgetItem(text)
    item.setToolTip(tooltip)
    item.setData(Qt.ItemDataRole.UserRole, collection_id)
    item.setData(Qt.ItemDataRole.UserRole + 1, name)  # given, not cut from the text: a name may hold "  ("
    return item
