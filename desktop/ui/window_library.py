"""The main window's library: folders added, removed and repaired, and background indexing with its progress.

When indexing ends, the text pass (window_text) reads the text in the new photos."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.core.demo_library import write_demo_library
from desktop.core.indexer import IndexProgress
from desktop.core.library import Library
from desktop.ui.workers import GeneratorWorker
from models import paths
from models.display import printable_path

REFRESH_WHILE_INDEXING_S = 2.0  # re-run the query this often while new photos arrive


class LibraryMixin:
    """MainWindow's library and indexing controller, on the library panel, folder filter and status widgets."""

    # --- library ----------------------------------------------------------------------------
    def refresh_library(self) -> None:
        def read():
            catalog = self.library.catalog
            counts = catalog.folder_counts()
            return [(path, *counts.get(fid, (0, 0))) for fid, path in catalog.folders()], catalog.errors()
        self._on_engine(read, self._show_library)

    def _show_library(self, state) -> None:
        folders, errors = state
        self.panel.show_folders(folders)
        self.panel.show_errors(errors)
        self.stack.setCurrentIndex(1 if folders else 0)
        current = self._chosen_folder()
        self.folder_box.blockSignals(True)
        self.folder_box.clear()
        self.folder_box.addItem("All folders", b"")
        for path, *_ in folders:  # the data is the path's bytes: a Qt string would lose a non-UTF-8 name
            self.folder_box.addItem(printable_path(os.path.basename(path) or path), os.fsencode(path))
        paths_shown = [self.folder_box.itemData(i) for i in range(self.folder_box.count())]
        self.folder_box.setCurrentIndex(paths_shown.index(os.fsencode(current)) if current and os.fsencode(current) in paths_shown else 0)
        self.folder_box.blockSignals(False)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self.settings.last_folder or str(Path.home()))
        if folder:
            self.settings.last_folder = folder
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        if not os.path.isdir(folder):
            self.show_error(f"{folder}: this folder does not exist or cannot be opened.")
            return
        self._on_engine(lambda: self.library.catalog.add_folder(folder), lambda fid: self.start_indexing([fid]))

    def add_demo_library(self) -> None:
        def add():
            folder = paths.data_dir() / "demo"
            write_demo_library(folder)
            return self.library.catalog.add_folder(folder)
        self._on_engine(add, lambda fid: self.start_indexing([fid]))

    def remove_folder(self, folder: str) -> None:
        answer = QMessageBox.question(self, "Remove folder", f"Remove {printable_path(folder)} from the library?\nThe photos on disk are not touched.")
        if answer != QMessageBox.StandardButton.Yes:
            return

        def remove():
            self.library.catalog.remove_folder(folder)
            if self.library.index_loaded:
                self.library.vector_index.sync_from_catalog(self.library.catalog, self.library.runtime)
        self._on_engine(remove, lambda _: (self.refresh_library(), self.search_now(), self.watch.restart()))

    def repair_catalog(self) -> None:
        """Set a damaged catalog aside and rebuild it from the photos, as `picsift repair` does."""
        if self.index_worker is not None and self.index_worker.is_running():
            self.show_error("Indexing is running; cancel it or let it finish before repairing the catalog.")
            return
        answer = QMessageBox.question(
            self, "Repair library catalog",
            "Set the library catalog aside and rebuild it by reading your library folders again?\n"
            "Do this when picsift says the catalog is damaged. The folders stay; photos are read again.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.text_pass.stop()  # it writes to the catalog being set aside; indexing the new one starts it again
        self.faces.stop()  # so does the face pass
        self.watch.stop()  # so does the watcher; indexing's end starts it again
        self._on_engine(self._set_catalog_aside, self._catalog_set_aside)

    def _set_catalog_aside(self) -> tuple[Path, Library]:
        from desktop.core.catalog import Catalog, set_aside

        path = self.library.catalog.path
        aside = set_aside(path)
        return aside, Library(Catalog(path), self.library.runtime, self.library.device, thumbnails=self.library.thumbnails)

    def _catalog_set_aside(self, result: tuple[Path, Library]) -> None:
        aside, self.library = result
        self.error_banner.hide()
        self.start_indexing(None)
        self.status_label.setText(f"The old catalog was moved to {printable_path(aside.name)}; reading your folders again...")

    # --- indexing ---------------------------------------------------------------------------
    def start_indexing(self, folder_ids: list[int] | None, library: Library | None = None, then=None) -> None:
        """Index in the background; `library` defaults to the current one, `then()` runs after a full run."""
        if self.index_worker is not None and self.index_worker.is_running():
            self.status_label.setText("Indexing is already running; new folders are picked up by the next rescan.")
            self.refresh_library()
            return
        library = library or self.library
        self._after_indexing = then
        self.text_pass.pause_for_indexing()  # indexing has priority; the text pass goes on when it ends
        self.faces.pause_for_indexing()  # and so does the face pass
        self.watch.stop()  # one indexer per library: the watcher starts again when this run ends
        self.index_worker = GeneratorWorker(lambda cancel: library.for_thread().indexer().run(folder_ids, cancel))
        self.index_worker.progress.connect(self._index_progress)
        self.index_worker.finished.connect(self._index_finished)
        self.index_worker.errored.connect(self._index_failed)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.status_label.setText("Scanning folders...")
        self.panel.set_indexing(set(self.panel.folder_paths()))
        self.refresh_library()
        self.index_worker.start()

    def _index_progress(self, progress: IndexProgress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        eta = f", {_duration(progress.eta_s)} left" if progress.eta_s is not None and progress.done else ""
        self.status_label.setText(f"Indexing {progress.done}/{progress.total} photos, {progress.images_per_s:.1f} photos/s{eta}")
        if progress.encoded and time.monotonic() - self._last_refresh > REFRESH_WHILE_INDEXING_S:
            self._last_refresh = time.monotonic()
            self.search_now()  # new photos become searchable as they are committed

    def cancel_indexing(self) -> None:
        """The Cancel button: stops indexing, and a model switch waiting on it (the current model stays)."""
        self.settings.switching_to = ""
        if self.index_worker is not None:
            self.index_worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after the current photos...")

    def _index_finished(self, progress: IndexProgress | None) -> None:
        then, self._after_indexing = self._after_indexing, None
        if then is not None and progress is not None and progress.phase == "done":
            then()
        self._index_done()
        if progress is not None:
            verb = "Indexed" if progress.phase == "done" else "Cancelled after"
            extra = f"; {progress.failed} could not be read" if progress.failed else ""
            offline = f"; offline: {', '.join(map(printable_path, progress.offline_folders))}" if progress.offline_folders else ""
            self.status_label.setText(f"{verb} {progress.encoded + progress.reused} new photos{extra}{offline}")
        self.indexingFinished.emit(progress)
        self.text_pass.start()  # the new photos' text, after their embeddings
        self.faces.start()  # then their faces (asked first, once), after the text

    def _index_failed(self, message: str) -> None:
        self._after_indexing = None
        self._index_done()
        self.show_error(message)
        self.indexingFinished.emit(None)

    def _index_done(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.panel.set_indexing(set())
        self.refresh_library()
        self.search_now()
        self.watch.start()  # on the library as it is now (a repair or a model switch replaces it)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"
