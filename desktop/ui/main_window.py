"""The main window: its widgets, menus and settings, and the one engine thread its controllers share."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.library import Library
from desktop.core.settings import Settings
from desktop.ui.filter_chips import FilterChips, PlaceBox
from desktop.ui.library_panel import LibraryPanel
from desktop.ui.preview import PreviewPane
from desktop.ui.result_actions import ResultActions
from desktop.ui.results import ResultRow, ResultsModel, ResultsView
from desktop.ui.sort_dialog import open_sort_dialog
from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.ui.window_collections import CollectionsController
from desktop.ui.window_faces import FacePassController
from desktop.ui.window_feedback import FeedbackController
from desktop.ui.window_library import LibraryMixin
from desktop.ui.window_models import ModelMixin
from desktop.ui.window_people import PeopleController
from desktop.ui.window_search import ANY_DATE, SearchMixin
from desktop.ui.window_text import TextPassController
from desktop.ui.window_watch import WatchController
from desktop.ui.workers import GeneratorWorker, run_in_pool
from models.display import printable

SEARCH_DEBOUNCE_MS = 250  # search-as-you-type waits this long after the last key
IMAGE_WEIGHTS = (("image ×½", 0.5), ("image ×1", 1.0), ("image ×2", 2.0))  # how much "like: NAME" counts against the text


class MainWindow(SearchMixin, LibraryMixin, ModelMixin, QMainWindow):
    """The picsift window. It builds the widgets and the engine thread; its controllers are mixed in:
    searching (window_search), the library and indexing (window_library), models (window_models).

    Signals:
        resultsShown(int): a result list (search or browse) is on screen, with this many rows.
        indexingFinished(object): the last IndexProgress of a run (done or cancelled).
        errorShown(str): a message was shown to the user in the window.
        modelSwitched(str): search now uses this model (window_models).
    """

    resultsShown = Signal(int)
    indexingFinished = Signal(object)
    errorShown = Signal(str)
    modelSwitched = Signal(str)

    def __init__(self, library: Library, settings: Settings | None = None):
        super().__init__()
        self.library = library
        self.settings = settings or Settings()
        self.setWindowTitle("picsift")
        self.setAcceptDrops(True)
        self.closing = False  # set as the window closes: work that ends after that starts nothing new
        # One engine thread for the window's catalog connection: searches and folder edits queue there.
        self.engine_pool = QThreadPool(self)
        self.engine_pool.setMaxThreadCount(1)
        self._relays: list = []  # engine calls not yet reported, kept referenced until they are
        # SearchMixin's state
        self._search_running = False
        self._search_pending = False
        self.image_query: str | None = None
        self._found: list[ResultRow] = []  # the last search's rows, weak matches included
        self._removed_chips: tuple = ()  # chips the user removed from the current text
        self._last_parse: tuple = (None, None, None)  # (text, removed chips, ParsedQuery) of the last search
        self._shown: tuple = (None, None)  # (ParsedQuery, Query or None) of the results on screen
        # LibraryMixin's state
        self.index_worker: GeneratorWorker | None = None
        self._last_refresh = 0.0
        self._after_indexing = None

        self._build_widgets()
        self._build_actions()
        self.text_pass = TextPassController(self)  # reading text in photos, after indexing (window_text)
        self.faces = FacePassController(self)  # finding people in photos, once agreed, after the text (window_faces)
        self.people_menu.addActions([*self.faces.actions(), _separator(self), *self.people.actions()])
        self.watch = WatchController(self)  # indexing what changes in the folders while the window is open (window_watch)
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
        self.search_field.textChanged.connect(lambda _: self._text_changed())
        self.filter_chips = FilterChips()  # the places and dates read from the text, each removable
        self.filter_chips.chipRemoved.connect(self._chip_removed)
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
        self.place_box = PlaceBox()
        self.place_box.currentIndexChanged.connect(lambda _: self.search_now())
        self.has_text_box = QCheckBox("Has text", toolTip="Only photos with printed text found in them (signs, labels, documents)")
        self.has_text_box.toggled.connect(lambda _: self.search_now())

        self.loader = ThumbnailLoader(self.library.thumbnails, self)
        self.model = ResultsModel(self.loader, self)
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(lambda *_: self.preview.show_row(self.view.current_row()))
        self.view.activatedRow.connect(lambda row: self.preview.show_row(row) or self.preview.open_file())
        bar = QHBoxLayout()  # the query: typed text, the filters read from it, the image
        bar.addWidget(self.search_field, stretch=1)
        self.feedback = FeedbackController(self)  # "More like this" / "Not this" marks, as chips (window_feedback)
        for widget in (self.filter_chips, self.feedback.chips, self.image_chip, self.image_weight_box, self.clear_image):
            bar.addWidget(widget)
        self._set_image_chip(None)
        filters = QHBoxLayout()  # the filters picked from lists, on their own row: the text keeps its width
        for widget in (QLabel("Sort"), self.sort_box, self.folder_box, self.place_box, self.date_from, self.date_to, self.has_text_box):
            filters.addWidget(widget)
        filters.addStretch(1)

        self.error_banner = QLabel(wordWrap=True)
        self.error_banner.setObjectName("error")
        self.error_banner.setStyleSheet("background:#fde2e1;color:#8a1c14;padding:6px;border-radius:4px")
        self.error_banner.hide()
        self.error_banner.mousePressEvent = lambda _: self.error_banner.hide()

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
        layout.addLayout(filters)
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
        self.collections = CollectionsController(self)  # albums, in a dock under the library's (window_collections)
        self.people = PeopleController(self)  # people in photos, in a dock under the collections' (window_people)
        bar.insertWidget(bar.indexOf(self.filter_chips) + 1, self.people.chips)  # the people picked in it

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
        edit.setMinimumDate(ANY_DATE)
        edit.setSpecialValueText(f"any date ({which})")
        edit.setDate(ANY_DATE)
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
        self.watch_action = QAction("&Watch folders for changes", self, checkable=True, checked=self.settings.watch_folders,
                                    toggled=lambda on: self.watch.set_enabled(on))
        file_menu.addAction(self.watch_action)
        file_menu.addAction(QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit, triggered=self.close))
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(QAction("Paste image as query", self, shortcut=QKeySequence("Ctrl+Shift+V"), triggered=self.paste_image))
        self.result_actions = ResultActions(self)  # copy, move, trash... the selected results (result_actions)
        photos = self.result_actions.menu()
        for group in (self.feedback.actions(), self.collections.actions()):
            photos.addSeparator()
            photos.addActions(group)
            self.view.addActions([_separator(self), *group])  # the grid's context menu, too
        self.menuBar().addMenu(photos)
        self.people_menu = self.menuBar().addMenu("Peop&le")  # its actions come with the people and face-pass controllers
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
        model_menu.addAction(QAction("Sort &unsorted photos...", self, triggered=lambda: open_sort_dialog(self)))
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
        self.closing = True  # an indexing run cancelled below reports its end later: it must not start the watcher again
        self.library.closing.set()  # an index opening on the engine thread skips its save: quitting never waits for one
        self.watch.stop()  # first: its batch in hand would write on while the rest shuts down
        self.save_settings()
        if self.index_worker is not None and self.index_worker.is_running():
            self.index_worker.cancel()
            self.index_worker.wait()
        self.result_actions.stop()
        self.text_pass.stop()  # after indexing's cancel: its photo in flight may take a second or two
        self.faces.stop()
        self.people.crops.wait()
        self.loader.forget()
        self.engine_pool.waitForDone()
        self.loader.wait()
        super().closeEvent(event)

    def refresh_library(self) -> None:
        """The folders, and the place list with them: both change when photos are indexed or a folder goes."""
        super().refresh_library()
        self.refresh_places()
        self.collections.refresh()  # their counts change as photos come and go
        self.people.refresh()  # so do the people's

    # --- engine calls (on the engine thread) ------------------------------------------------
    def _on_engine(self, function, on_done, on_error=None) -> None:
        """Run `function` on the engine thread; `on_done(result)`, or `on_error(message)` (default: the
        error banner), on the GUI thread."""
        relay = run_in_pool(function, lambda result: self._relay_done(relay, on_done, result),
                            self._relay_error(lambda: relay, on_error or self.show_error), self.engine_pool)
        self._relays.append(relay)

    def _relay_done(self, relay, on_done, result) -> None:
        self._relays.remove(relay)
        if not self.closing:  # a closed window's widgets may be deleted by the time a late answer arrives
            on_done(result)

    def _relay_error(self, relay_of, on_error):
        def report(message: str) -> None:
            self._relays.remove(relay_of())
            if not self.closing:
                on_error(message)
        return report

    def show_error(self, message: str) -> None:
        message = printable(message)
        self.error_banner.setText(f"{message}   (click to dismiss)")
        self.error_banner.show()
        self.errorShown.emit(message)

    def toggle_preview(self) -> None:
        self.preview.setVisible(not self.preview.isVisible())


def _separator(parent) -> QAction:
    action = QAction(parent)
    action.setSeparator(True)
    return action
