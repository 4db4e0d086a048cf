"""Shared pieces for tests of the real main window: open it on the data dir's library and wait for its first results."""

from __future__ import annotations

from pathlib import Path

from engine_fixtures import index_all, write_photos

from desktop.core.catalog import Catalog
from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.main_window import MainWindow

WAIT_MS = 60_000  # generous for CI; tests return as soon as the signal arrives


def open_window(qtbot, runtime, settings: Settings | None = None) -> MainWindow:
    """The window on the catalog in the data dir, shown, once its first result list is on screen."""
    window = MainWindow(Library(Catalog(), runtime), settings or Settings())
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.show()
    return window


def indexed_folder(runtime, tmp_path: Path, names) -> Path:
    """tmp_path/photos with these sample photos, in the data dir's library and indexed (the library closed again)."""
    folder = (tmp_path / "photos").resolve()
    write_photos(folder, names=names)
    library = Library(Catalog(), runtime)
    library.catalog.add_folder(folder)
    index_all(library)
    library.close()
    return folder
