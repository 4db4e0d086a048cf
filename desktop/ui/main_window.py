"""The main window: search field, results grid, preview, library panel, background indexing."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QDate, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.demo_library import write_demo_library
from desktop.core.indexer import IndexProgress
from desktop.core.library import Library
from desktop.core.search import Query
from desktop.core.settings import Settings
from desktop.ui.library_panel import LibraryPanel
from desktop.ui.preview import PreviewPane
from desktop.ui.results import ResultRow, ResultsModel, ResultsView
from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.ui.workers import GeneratorWorker, run_in_pool
from models import paths
from models.display import plural, printable, printable_path
from models.photo_files import IMAGE_EXTENSIONS

SEARCH_DEBOUNCE_MS = 250  # search-as-you-type waits this long after the last key
IMAGE_WEIGHTS = (("image ×½", 0.5), ("image ×1", 1.0), ("image ×2", 2.0))  # how much "like: NAME" counts against the text
REFRESH_WHILE_INDEXING_S = 2.0  # re-run the query this often while new photos arrive
_ANY_DATE = QDate(1900, 1, 1)


class MainWindow(QMainWindow):
    """Signals:
        resultsShown(int): a result list (search or browse) is on screen, with this many rows.
        indexingFinished(object): the last IndexProgress of a run (done or cancelled).
        errorShown(str): a message was shown to the user in the window.
    """

    resultsShown = Signal(int)
    indexingFinished = Signal(object)
    errorShown = Signal(str)

    def __init__(self, library: Library, settings: Settings | None = None):
        super().__init__()
        self.library = library
        self.settings = settings or Settings()
        self.setWindowTitle("picsift")
        self.setAcceptDrops(True)
        # One engine thread for the window's catalog connection: searches and folder edits queue there.
        self.engine_pool = QThreadPool(self)
        self.engine_pool.setMaxThreadCount(1)
        self._relays: list = []
        self._search_running = False
        self._search_pending = False
        self.image_query: str | None = None
        self._found: list[ResultRow] = []  # the last search's rows, weak matches included
        self.index_worker: GeneratorWorker | None = None
        self._last_refresh = 0.0
        self._after_indexing = None

        self._build_widgets()
        self._build_actions()
        self._restore()
        self.refresh_library()
        self.search_now()
        self.warm_up()

    # --- layout -------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.search_field = QLineEdit(placeholderText="Search your photos by meaning, or drop an image here")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.setObjectName("search")
        self.debounce = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS, timeout=self.search_now)
        self.search_field.textEdited.connect(lambda _: self.debounce.start())
        self.search_field.textChanged.connect(lambda _: self._show_image_weight())
        self.search_field.returnPressed.connect(self.search_now)
        self.image_chip = QLabel()
        self.clear_image = QToolButton(text="x", toolTip="Drop this image from the query; typed text then searches alone",
                                       clicked=self.clear_image_query)
        self.image_weight_box = QComboBox()  # shown while a text and an image make the query together
        for label, weight in IMAGE_WEIGHTS:
            self.image_weight_box.addItem(label, weight)
        self.image_weight_box.setCurrentIndex(1)
        self.image_weight_box.currentIndexChanged.connect(lambda _: self.search_now())
        self.sort_box = QComboBox()
        self.sort_box.addItems(["Relevance", "Date"])
        self.sort_box.currentIndexChanged.connect(self._sort_changed)
        self.folder_box = QComboBox(toolTip="Only photos in this folder")
        self.folder_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # folders arrive after the first show
        self.folder_box.currentIndexChanged.connect(lambda _: self.search_now())
        self.date_from, self.date_to = self._date_edit("from"), self._date_edit("to")

        bar = QHBoxLayout()
        bar.addWidget(self.search_field, stretch=3)
        for widget in (self.image_chip, self.image_weight_box, self.clear_image, QLabel("Sort"), self.sort_box, self.folder_box, self.date_from, self.date_to):
            bar.addWidget(widget)
        self._set_image_chip(None)

        self.error_banner = QLabel(wordWrap=True)
        self.error_banner.setObjectName("error")
        self.error_banner.setStyleSheet("background:#fde2e1;color:#8a1c14;padding:6px;border-radius:4px")
        self.error_banner.hide()
        self.error_banner.mousePressEvent = lambda _: self.error_banner.hide()

        self.loader = ThumbnailLoader(self.library.thumbnails, self)
        self.model = ResultsModel(self.loader, self)
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(lambda *_: self.preview.show_row(self.view.current_row()))
        self.view.activatedRow.connect(lambda row: self.preview.show_row(row) or self.preview.open_file())
        self.preview = PreviewPane()
        self.preview.findSimilar.connect(self.find_similar)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        self.stack = QStackedWidget()
        self.stack.addWidget(self._empty_state())
        self.stack.addWidget(self.splitter)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(bar)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.stack, stretch=1)
        self.setCentralWidget(central)

        self.panel = LibraryPanel()
        self.panel.addRequested.connect(self.choose_folder)
        self.panel.removeRequested.connect(self.remove_folder)
        self.panel.reindexRequested.connect(lambda: self.start_indexing(None))
        self.panel.setObjectName("library-panel")
        dock = QDockWidget("Library", self)
        dock.setObjectName("library-dock")
        dock.setWidget(self.panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        self.status_label = QLabel("")
        self.hidden_link = QLabel(textFormat=Qt.TextFormat.RichText)  # "N weak matches hidden - show all"
        self.hidden_link.setObjectName("hidden-matches")
        self.hidden_link.linkActivated.connect(lambda _: self.show_all_action.toggle())
        self.progress = QProgressBar(maximumWidth=220)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel_indexing)
        self.provider_label = QLabel("model: loading...")
        self.statusBar().addWidget(self.status_label)
        self.statusBar().addWidget(self.hidden_link, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.statusBar().addPermanentWidget(self.provider_label)
        self.progress.hide()
        self.cancel_button.hide()

    def _date_edit(self, which: str) -> QDateEdit:
        edit = QDateEdit(calendarPopup=True, toolTip=f"Only photos taken on or {'after' if which == 'from' else 'before'} this date")
        edit.setMinimumDate(_ANY_DATE)
        edit.setSpecialValueText(f"any date ({which})")
        edit.setDate(_ANY_DATE)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.dateChanged.connect(lambda _: self.search_now())
        return edit

    def _empty_state(self) -> QWidget:
        page = QWidget()
        text = QLabel(
            "<h2>Welcome to picsift</h2><p>Add a folder of photos and search it by meaning: "
            "type <i>boats on a lake at sunset</i>, or drop a photo to find similar ones. "
            "Everything stays on this computer.</p>",
            wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter,
        )
        add = QPushButton("Add a folder...", clicked=self.choose_folder)
        demo = QPushButton("Try a small demo library", clicked=self.add_demo_library)
        demo.setObjectName("demo")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(text)
        for button in (add, demo):
            layout.addWidget(button, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _build_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(QAction("&Add folder...", self, shortcut=QKeySequence("Ctrl+O"), triggered=self.choose_folder))
        file_menu.addAction(QAction("Try the &demo library", self, triggered=self.add_demo_library))
        file_menu.addAction(QAction("&Repair library catalog...", self, triggered=self.repair_catalog))
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(QAction("Paste image as query", self, shortcut=QKeySequence("Ctrl+Shift+V"), triggered=self.paste_image))
        view_menu = self.menuBar().addMenu("&View")
        self.scores_action = QAction("Show &scores", self, checkable=True, toggled=self._scores_toggled)
        view_menu.addAction(self.scores_action)
        self.show_all_action = QAction("Show &weak matches", self, checkable=True, toggled=lambda _: self._show_found())
        self.show_all_action.setToolTip("Also show photos under the relevance line (0.5), hidden as no match")
        view_menu.addAction(self.show_all_action)
        view_menu.addAction(QAction("&Preview pane", self, shortcut=QKeySequence("Space"), triggered=self.toggle_preview))
        model_menu = self.menuBar().addMenu("&Model")
        model_menu.addAction(QAction("Model &settings...", self, triggered=self.open_model_settings))
        model_menu.addAction(QAction("&Get a better model...", self, triggered=self.open_get_model))
        model_menu.addAction(QAction("&Teach picsift your folders...", self, triggered=self.open_fine_tune))
        model_menu.addAction(QAction("&Export active model...", self, triggered=self.export_model))
        model_menu.addAction(QAction("&Import model...", self, triggered=self.import_model))
        self.update_builtin_action = QAction("&Update the built-in model...", self, triggered=self.update_builtin)
        model_menu.addAction(self.update_builtin_action)
        QShortcut(QKeySequence("Ctrl+F"), self, activated=self._focus_search)
        QShortcut(QKeySequence("Escape"), self, activated=self.clear_search)
        QShortcut(QKeySequence.StandardKey.Paste, self.view, activated=self.paste_image)

    # --- settings ---------------------------------------------------------------------------
    def _restore(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))
        else:
            self.resize(1280, 800)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))
        if s.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(s.splitter_state.encode()))
        else:
            self.splitter.setSizes([600, 400])  # grid 3 : preview 2 (stretch factors only share out later growth)
        self.sort_box.setCurrentIndex(1 if s.sort_by == "date" else 0)
        self.scores_action.setChecked(s.show_scores)
        self.search_field.setText(s.last_query)

    def save_settings(self) -> None:
        s = self.settings
        s.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        s.window_state = bytes(self.saveState().toBase64()).decode()
        s.splitter_state = bytes(self.splitter.saveState().toBase64()).decode()
        s.sort_by = "date" if self.sort_box.currentIndex() == 1 else "relevance"
        s.show_scores = self.scores_action.isChecked()
        s.last_query = self.search_field.text()
        s.save()

    def closeEvent(self, event) -> None:
        self.save_settings()
        if self.index_worker is not None and self.index_worker.is_running():
            self.index_worker.cancel()
            self.index_worker.wait()
        self.loader.forget()
        self.engine_pool.waitForDone()
        self.loader.wait()
        super().closeEvent(event)

    # --- engine calls (on the engine thread) ------------------------------------------------
    def _on_engine(self, function, on_done, on_error=None) -> None:
        """Run `function` on the engine thread; `on_done(result)`, or `on_error(message)` (default: the
        error banner), on the GUI thread."""
        relay = run_in_pool(function, lambda result: self._relay_done(relay, on_done, result),
                            self._relay_error(lambda: relay, on_error or self.show_error), self.engine_pool)
        self._relays.append(relay)

    def _relay_done(self, relay, on_done, result) -> None:
        self._relays.remove(relay)
        on_done(result)

    def _relay_error(self, relay_of, on_error):
        def report(message: str) -> None:
            self._relays.remove(relay_of())
            on_error(message)
        return report

    def show_error(self, message: str) -> None:
        message = printable(message)
        self.error_banner.setText(f"{message}   (click to dismiss)")
        self.error_banner.show()
        self.errorShown.emit(message)

    # --- searching --------------------------------------------------------------------------
    def current_query(self) -> Query | None:
        text = self.search_field.text().strip()
        if not text and not self.image_query:
            return None
        return Query(
            texts=((text, 1.0),) if text else (),
            images=((self.image_query, self.image_weight_box.currentData()),) if self.image_query else (),
            k=self.settings.results_per_query,
            folder=self._chosen_folder(),
            date_from=_date_or_none(self.date_from),
            date_to=_date_or_none(self.date_to),
        )

    def search_now(self) -> None:
        self.debounce.stop()
        if self._search_running:
            self._search_pending = True  # only the newest query matters
            return
        self._search_running = True
        query = self.current_query()
        if query is None:
            limit = self.settings.results_per_query
            self._on_engine(lambda: [ResultRow(r) for r in self.library.catalog.recent_files(limit)], self._show_results,
                            self._search_failed)
        else:
            self._on_engine(lambda: [ResultRow(r.record, r.relevance, r.matched) for r in self.library.searcher().search(query)],
                            self._show_results, self._search_failed)

    def warm_up(self) -> None:
        """Load the model, its relevance calibration and the vector index on the engine thread, so the
        first query is instant (a model's first calibration takes a few seconds, once)."""
        def load():
            self.library.runtime.encode_texts(["warm up"])
            self.library.searcher().calibration  # noqa: B018 - computed or read from the cache here
            return self.library.vector_index
        self._on_engine(load, lambda _: self._show_provider())

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
        self.status_label.setText(plural(len(rows), "photo") if self.current_query() is None else plural(len(rows), "result"))
        if not weak:
            self.hidden_link.setText("")
        elif show_all:
            self.hidden_link.setText(f"(including {weak} weak) - <a href='hide'>hide weak matches</a>")
        else:
            self.hidden_link.setText(f"({plural(weak, 'weak match', 'weak matches')} hidden) - <a href='show'>show all</a>")
        self.resultsShown.emit(len(rows))

    def _show_provider(self) -> None:
        runtime = self.library.loaded_runtime
        if runtime is not None:
            providers = set(runtime.providers().values()) or {"CPU"}
            self.provider_label.setText(f"model: {runtime.manifest.name} on {'/'.join(sorted(providers))}")

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
        self.image_query = None
        self._set_image_chip(None)
        self.search_now()

    def _focus_search(self) -> None:
        self.search_field.setFocus()
        self.search_field.selectAll()

    def _sort_changed(self, index: int) -> None:
        self.model.sort_rows("date" if index == 1 else "relevance")

    def _scores_toggled(self, checked: bool) -> None:
        self.model.set_show_scores(checked)

    def toggle_preview(self) -> None:
        self.preview.setVisible(not self.preview.isVisible())

    # --- image queries: drop and paste ------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if _dropped_image(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = _dropped_image(event.mimeData())
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

    def _chosen_folder(self) -> str | None:
        """The folder filter's path, or None for all folders."""
        data = self.folder_box.currentData()
        return os.fsdecode(data) if data else None

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
        self._on_engine(remove, lambda _: (self.refresh_library(), self.search_now()))

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

    # --- models -----------------------------------------------------------------------------
    def open_model_settings(self) -> None:
        from desktop.ui.dialogs import ModelSettingsDialog

        dialog = ModelSettingsDialog(self.provider_label.text(), self)
        dialog.useRequested.connect(self.use_model)
        dialog.open()

    def open_get_model(self) -> None:
        """Model > Get a better model...: the curated hub models; an installed one is switched to."""
        from desktop.ui.get_model import GetModelDialog

        def show(photos: int) -> None:
            self.get_model_dialog = GetModelDialog(photos, self)
            self.get_model_dialog.installed.connect(self.use_model)
            self.get_model_dialog.open()
        self._on_engine(lambda: len(self.library.catalog.live_image_ids()), show)  # distinct photos: what it encodes

    def resume_model_switch(self) -> None:
        """A switch whose re-encoding the last session did not finish goes on where it stopped."""
        from models import registry

        name = self.settings.switching_to
        if not name:
            return
        if name == registry.active_name() or not registry.bundle_folder(name).is_dir():
            self.settings.switching_to = ""
            return
        self.use_model(name)

    def use_model(self, name: str) -> None:
        """Switch models. Same image encoder: stored features are re-mapped, searchable in seconds.
        Another encoder: photos are encoded in the background while the current model keeps answering;
        closing the app meanwhile keeps what is encoded, and the next start goes on (resume_model_switch)."""
        from desktop.core.catalog import Catalog
        from models import registry
        from models.runtime import ModelRuntime

        self.settings.switching_to = name
        self.settings.save()

        def prepare():
            runtime = ModelRuntime(registry.open_installed(name), device=self.library.device)
            library = Library(Catalog(self.library.catalog.path), runtime, self.library.device, thumbnails=self.library.thumbnails)
            encoder = runtime.manifest.image_encoder_id
            missing = sum(len(library.catalog.files_missing_features(fid, encoder)) for fid, _ in library.catalog.folders())
            if not missing:
                library.vector_index  # noqa: B018 - builds (re-maps) the index off the GUI thread
            return library, missing
        self._on_engine(prepare, lambda result: self._model_prepared(name, *result))

    def _model_prepared(self, name: str, library: Library, missing: int) -> None:
        if not missing:
            self._switch_to(name, library)
            return
        self.status_label.setText(f"Encoding {missing} photos for {name}; {self.library.runtime.manifest.name} answers until then...")
        self.start_indexing(None, library, then=lambda: self._switch_to(name, library))

    def _switch_to(self, name: str, library: Library) -> None:
        from models import registry

        old, self.library = self.library, library
        self.settings.switching_to = ""

        def activate() -> None:  # on the engine thread, after the searches queued on the old library
            old.close()
            registry.use(name)
        self._on_engine(activate, lambda _: self.settings.save())
        self.status_label.setText(f"Now searching with {name}.")
        self.search_now()

    def offer_builtin_update(self) -> None:
        """Say so when the installed built-in model is older than the one this picsift builds."""
        from models import registry

        if registry.builtin_outdated():
            self.status_label.setText("A better built-in model is available (v2: multilingual, better on general photos): "
                                      "Model > Update the built-in model.")

    def update_builtin(self) -> None:
        """Rebuild the built-in model (a trainer process, with progress and Cancel), then switch to it."""
        from desktop.ui.dialogs import BuildModelDialog
        from models import registry

        dialog = BuildModelDialog(self, update=True)
        dialog.built.connect(lambda: self.use_model(registry.DEFAULT_BUNDLE))
        dialog.failed.connect(self.show_error)
        self.build_dialog = dialog
        dialog.start()

    def open_fine_tune(self) -> None:
        from desktop.ui.fine_tune import FineTuneDialog

        running = getattr(self, "fine_tune_dialog", None)
        if running is not None and running.is_running():  # closed while training: show that run again
            running.open()
            return
        self.fine_tune_dialog = FineTuneDialog(self)
        self.fine_tune_dialog.useModel.connect(self.use_model)
        self.fine_tune_dialog.open()

    def export_model(self) -> None:
        from models import registry

        name = registry.active_name()
        target, _ = QFileDialog.getSaveFileName(self, "Export model", str(Path.home() / f"{name}.zip"), "Model bundle (*.zip)")
        if target:
            self._on_engine(lambda: registry.export(name, target), lambda path: self.status_label.setText(f"Exported {name} to {path}"))

    def import_model(self) -> None:
        from models import registry

        source, _ = QFileDialog.getOpenFileName(self, "Import model", str(Path.home()), "Model bundle (*.zip)")
        if source:
            self._on_engine(lambda: registry.install(source), lambda bundle: self.status_label.setText(
                f"Imported and verified {bundle.name}; choose it in Model settings to use it."))

def _date_or_none(edit: QDateEdit) -> str | None:
    return None if edit.date() == _ANY_DATE else edit.date().toString("yyyy-MM-dd")


def _dropped_image(mime) -> str | None:
    for url in mime.urls() if mime.hasUrls() else []:
        path = url.toLocalFile()
        if path and Path(path).suffix.lower() in IMAGE_EXTENSIONS and os.path.isfile(path):
            return path
    return None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"
