"""The library panel: folders with counts and state, add/remove, and the files that could not be read."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from models.display import printable, printable_path


class LibraryPanel(QWidget):
    """Shows what the catalog reports; it never touches the catalog itself.

    Signals:
        addRequested(): the user wants to add a folder.
        removeRequested(str): the user wants to remove this folder from the library.
        reindexRequested(): index all folders again (new or changed files only).
    """

    addRequested = Signal()
    removeRequested = Signal(object)  # a folder path; `object`, as Qt strings lose names that are not UTF-8
    reindexRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.folders = QListWidget()
        self.folders.setObjectName("folders")
        self.errors = QListWidget()
        self.errors.setObjectName("errors")
        self.errors_label = QLabel("Files that could not be read")
        add = QPushButton("Add folder...")
        self.remove_button = QPushButton("Remove", clicked=self._remove)
        rescan = QPushButton("Rescan")
        # signal to signal: `clicked=signal.emit` would hand clicked's `checked` bool to a signal without arguments
        add.clicked.connect(self.addRequested)
        rescan.clicked.connect(self.reindexRequested)
        buttons = QHBoxLayout()
        for button in (add, self.remove_button, rescan):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Folders"))
        layout.addWidget(self.folders, stretch=2)
        layout.addLayout(buttons)
        layout.addWidget(self.errors_label)
        layout.addWidget(self.errors, stretch=1)
        self.folders.currentItemChanged.connect(lambda *_: self.remove_button.setEnabled(self.folders.currentItem() is not None))
        self.remove_button.setEnabled(False)
        self._indexing: set[str] = set()

    def show_folders(self, folders: list[tuple[str, int, int]]) -> None:
        """folders: (path, photos indexed, files unreadable)."""
        selected = _path_of(self.folders.currentItem()) if self.folders.currentItem() else None
        self.folders.clear()
        for path, count, unreadable in folders:
            if path in self._indexing:
                state = "indexing"
            elif os.path.isdir(path):
                state = "indexed"
            else:
                state = "offline"
            text = f"{printable_path(os.path.basename(path) or path)}  -  {count} photos, {state}"
            if unreadable:
                text += f", {unreadable} unreadable"
            item = QListWidgetItem(text)
            item.setToolTip(printable_path(path))
            item.setData(Qt.ItemDataRole.UserRole, os.fsencode(path))  # bytes survive Qt exactly
            self.folders.addItem(item)
            if path == selected:
                self.folders.setCurrentItem(item)

    def show_errors(self, errors: list[tuple[str, str]]) -> None:
        self.errors.clear()
        for path, reason in errors:
            item = QListWidgetItem(printable(f"{os.path.basename(path)}: {reason.removeprefix(path + ': ')}"))
            item.setToolTip(printable(reason))
            self.errors.addItem(item)
        self.errors_label.setText(f"Files that could not be read ({len(errors)})")

    def folder_paths(self) -> list[str]:
        return [_path_of(self.folders.item(i)) for i in range(self.folders.count())]

    def set_indexing(self, folders: set[str]) -> None:
        self._indexing = set(folders)

    def _remove(self) -> None:
        item = self.folders.currentItem()
        if item is not None:
            self.removeRequested.emit(_path_of(item))


def _path_of(item: QListWidgetItem) -> str:
    return os.fsdecode(item.data(Qt.ItemDataRole.UserRole))
