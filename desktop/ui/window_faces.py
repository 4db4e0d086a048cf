"""The main window's people in photos: the background face pass, asked for once, its progress and Cancel, and forgetting.

Face data is personal, so the pass is off until the user agrees: the first time the library has photos
to read, a banner over the top of the results asks, once ("Find people in your photos?"), and the answer is kept
in the settings (`Settings.find_faces`); People > Find people in photos changes it later. Then the pass
runs as the text pass does (window_passes.BackgroundPass: after indexing, on a low-priority thread with
its own catalog connection, paused while the user's indexing runs, Cancel, resumed where it stopped).

It takes turns with the text pass rather than running beside it: on two cores the two at once would
each go at half speed and take the window's share too. The text pass goes first (it starts first
after indexing); the face pass waits for it to end, and steps aside (after the photo in flight) when
it starts again, after a watched batch. Without dlib or its models one line says how to install them,
once a session, and the rest of the app works. People > Forget all face data deletes every face,
person and name from the catalog (asked first) and turns the pass off.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton

from desktop.core.face_pass import FaceProgress
from desktop.core.faces import FaceReader
from desktop.core.library import Library
from desktop.ui.window_passes import BackgroundPass
from models.display import plural
from models.errors import FaceReaderMissingError

YES, NO = "yes", "no"  # Settings.find_faces; "" is not asked yet
QUESTION = ("<b>Find people in your photos?</b> picsift can look for faces and group them by person, so you can name "
            "people and search for them (<i>grandma at the beach</i>). Face data stays in this computer's catalog, is "
            "never part of an exported model, and People &gt; Forget all face data deletes it.")


class FacePassController(BackgroundPass):
    """Runs `Library.face_pass()` for the window once the user agreed; the question, the People menu's
    toggle and Forget all.

    Signals (and BackgroundPass's progressed(object) and finished(object), with FaceProgress):
        answered(str): the user answered the question or used the toggle: "yes" or "no".
        forgotten(): all face data was deleted.
    """

    answered = Signal(str)
    forgotten = Signal()

    NAME = "face-pass"
    DOING = "Finding people in photos"
    STOPPING = "Stopping finding people after the current photo..."
    STOPPED = "Finding people stopped"

    def __init__(self, window):
        super().__init__(window, "Stop finding people in photos until the next indexing run")
        self.reader = FaceReader()  # one for every run: dlib's models load once
        self._unavailable = False  # dlib or its models are missing: said once, not tried again this session
        self.banner = self._question_banner(window.stack)  # over the results, outside the layout: the window keeps its size
        window.stack.installEventFilter(self)
        window.stack.currentChanged.connect(lambda _: self._place_banner())
        self.find_action = QAction("&Find people in photos", window, checkable=True, checked=self.answer == YES,
                                   toggled=self.set_enabled)
        self.find_action.setToolTip("Look for faces in your photos and group them by person (face data stays in the catalog)")
        self.forget_action = QAction("Forget all &face data...", window, triggered=self.forget_all)
        window.text_pass.progressed.connect(self._make_way_for_text)
        window.text_pass.finished.connect(lambda _: self._start_if_free())
        self.answered.connect(lambda _: window.people.refresh())  # its empty text says whether finding people is on
        self.forgotten.connect(window.people.refresh)
        self.forgotten.connect(window.people_changed)
        self.start()  # after the text pass's own start-up call: it goes first

    @property
    def answer(self) -> str:
        """The user's answer to "Find people in your photos?": "yes", "no", or "" (not asked yet)."""
        return self._window.settings.find_faces if self._window.settings.find_faces in (YES, NO) else ""

    def actions(self) -> list[QAction]:
        """For the People menu."""
        return [self.find_action, self.forget_action]

    def start(self) -> None:
        """Find the people in the photos not read for faces yet, now or once indexing and the text pass end;
        the first time there are photos to read, ask first."""
        if self.answer == NO or self._unavailable:
            return
        self._window._on_engine(lambda: self._window.library.catalog.count_faces_unread(), self._counted)

    def _counted(self, unread: int) -> None:
        if not unread:
            return
        if self.answer == YES:
            super().start()
        elif self.answer == "":
            self.banner.show()
            self._place_banner()

    def set_enabled(self, on: bool) -> None:
        """The question's answer or the menu toggle: find people from now on, or stop (kept in the settings)."""
        self.banner.hide()
        self._window.settings.find_faces = YES if on else NO
        self._window.settings.save()  # a privacy choice: kept at once, not only when the window closes
        self.find_action.blockSignals(True)
        self.find_action.setChecked(on)
        self.find_action.blockSignals(False)
        if on:
            self._unavailable = False  # installed meanwhile, perhaps: try again
            self._window.people.dock.raise_()  # its tab, beside the collections': the people appear there
            self.start()
        else:
            self.cancel()
        self.answered.emit(self.answer)

    def forget_all(self) -> None:
        """Ask, then delete every face, person and name from the catalog and turn finding people off."""
        answer = QMessageBox.question(
            self._window, "Forget all face data",
            "Delete every face found, every person and every name from this library's catalog?\n"
            "Your photos are not touched. Finding people in photos is turned off; turning it on again reads the photos again.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        if self.answer != NO:
            self.set_enabled(False)
        window = self._window

        def forgotten(_) -> None:
            window.people.say("All face data was deleted: faces, people and names; finding people in photos is off")
            self.forgotten.emit()
        # after the run in flight: a photo committed after the delete would leave its faces behind
        self.when_stopped(lambda: window._on_engine(lambda: window.library.catalog.forget_faces(), forgotten))

    def _may_run(self) -> bool:
        return not self._window.text_pass.is_running()  # the passes take turns: see the module docstring

    def _make_way_for_text(self, _progress) -> None:
        """The text pass has started (after a watched batch): pause after the photo in flight; its end resumes this."""
        if self.is_running():
            self.worker.cancel()

    def _run(self, library: Library, cancel):
        try:
            yield from library.face_pass(self.reader).run(cancel)
        except FaceReaderMissingError:
            self._unavailable = True  # its one line (how to install dlib) shows once; not tried again this session
            raise

    def _done_line(self, progress: FaceProgress) -> str:
        return (f"People in photos: {progress.done:,} read, {plural(progress.faces, 'face')} "
                f"in {plural(progress.with_faces, 'photo')}")

    def _read_more(self) -> None:
        self._window.people.faces_found()  # the People dock shows the people found so far

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self._window.stack:
            self._place_banner()
        return False

    def _place_banner(self) -> None:
        """Across the top of the results (or the welcome page), above them."""
        width = self._window.stack.width()
        self.banner.setGeometry(0, 0, width, max(self.banner.heightForWidth(width), self.banner.minimumSizeHint().height()))
        self.banner.raise_()

    def _question_banner(self, parent) -> QFrame:
        banner = QFrame(parent, objectName="ask-faces")
        banner.setStyleSheet("#ask-faces{background:#e8f1fb;border:1px solid #b5c9ea;border-radius:4px}")
        text = QLabel(QUESTION, wordWrap=True)
        yes = QPushButton("Find people", clicked=lambda: self.set_enabled(True))
        yes.setObjectName("find-faces-yes")
        no = QPushButton("No, thanks", clicked=lambda: self.set_enabled(False))
        no.setObjectName("find-faces-no")
        layout = QHBoxLayout(banner)
        layout.addWidget(text, stretch=1)
        layout.addWidget(yes)
        layout.addWidget(no)
        banner.hide()
        return banner
