"""The "Sort unsorted photos" dialog: review a label suggested for each photo outside the labelled folders, then file.

The labelled root is the one the active model was fine-tuned on (sorting.trained_root), else a folder the
user picks. Suggestions (desktop/core/sorting.py) are worked out off the GUI thread, with Cancel; a label
list with each label's count at the threshold, a grid of the picked label's photos, most confident first,
and per photo Accept / Reject / Re-label. "File N accepted photos" copies or moves them into root/label/
on a worker, with progress; "Undo last batch" reverses the last one filed. Closing the dialog cancels
its work; closing the window waits for it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from desktop.core import file_actions
from desktop.core.sorting import last_batch
from desktop.ui import sort_jobs
from desktop.ui.sort_panel import ReviewPanel
from desktop.ui.sort_review import SortReview
from desktop.ui.thumbnail_loader import ThumbnailLoader
from desktop.ui.workers import GeneratorWorker
from models.display import plural, printable, printable_path
from models.errors import PicsiftError

SUGGEST, FILE, UNDO = "suggest", "file", "undo"  # the dialog's jobs, one at a time


def open_sort_dialog(window, root: str | Path | None = None, model: str | None = None) -> SortDialog:
    """Model > Sort unsorted photos..., or the fine-tuning dialog's offer (its root and new model): the window's
    one sort dialog, shown; a review still right for the window's model is kept with its decisions."""
    dialog = getattr(window, "sort_dialog", None)
    if dialog is None:
        dialog = window.sort_dialog = SortDialog(window)
    if dialog.isVisible():
        dialog.raise_()  # open already, maybe behind the window
    dialog.show()
    if root is not None or model is not None or not dialog.is_current():
        dialog.start(Path(root) if root is not None else None, model)
    return dialog


class SortDialog(QDialog):
    """Signals:
        reviewShown(int): suggestions are on screen (this many), or a message said why there are none (-1).
        jobEnded(str): a job (SUGGEST, FILE, UNDO) ended, done, failed or cancelled; its line is shown.
    """

    reviewShown = Signal(int)
    jobEnded = Signal(str)
    _photoFiled = Signal(object)  # emitted on the filing thread, delivered here

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.setWindowTitle("Sort unsorted photos")
        self.setModal(False)
        self.resize(1000, 650)
        self.root: Path | None = None
        self.review: SortReview | None = None
        self.model_name = ""  # the model the review's suggestions came from
        self.worker: GeneratorWorker | None = None
        self._job: str | None = None
        # Earlier workers, kept while the dialog lives: a worker dropped once its thread ended could be freed and a
        # new one made at its address, and a signal of the old one still queued then reads as the new one's (sender()).
        self._retired: list[GeneratorWorker] = []
        self._waiting_for: str | None = None  # a model the window is switching to before the suggestions
        self._outcomes: list[file_actions.FileOutcome] = []  # the filing run's, so far
        self._asked, self._action_filed = 0, file_actions.COPY  # its photos and action
        self._line_after = ""  # shown once the next job ends (an undo's, over the suggestions that follow it)
        self._photoFiled.connect(self._filed_one)
        window.modelSwitched.connect(self._model_switched)
        window.errorShown.connect(self._window_error)
        window.installEventFilter(self)  # the window's close waits for this dialog's work
        self._build()
        self._update_enabled()

    # --- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.root_field = QLineEdit(readOnly=True, placeholderText="the folder whose subfolders are your labels")
        self.root_field.setObjectName("sort-root")
        self.choose_button = QPushButton("Choose...", clicked=self.choose_root, autoDefault=False)
        self.model_label = QLabel()
        self.message = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.message.setObjectName("sort-message")
        self.message.hide()
        self.status = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.progress = QProgressBar(maximumWidth=240, textVisible=False)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel_work, autoDefault=False)
        self.loader = ThumbnailLoader(self._window.library.thumbnails, self)
        self.panel = ReviewPanel(self.loader, self)
        self.panel.changed.connect(self._update_enabled)
        self.copy_radio = QRadioButton("Copy", checked=True, toolTip="The photos stay where they are; copies go into the label folders")
        self.move_radio = QRadioButton("Move", toolTip="The photos move into the label folders")
        self.file_button = QPushButton(clicked=self.file_accepted, autoDefault=False)
        self.undo_button = QPushButton("Undo last batch", clicked=self.undo, autoDefault=False)
        close = QPushButton("Close", clicked=self.reject, autoDefault=False)

        top = QHBoxLayout()
        for widget in (QLabel("Labelled folders"), self.root_field, self.choose_button):
            top.addWidget(widget)
        busy = QHBoxLayout()
        for widget in (self.status, self.progress, self.cancel_button):
            busy.addWidget(widget)
        busy.insertStretch(1, 1)
        bottom = QHBoxLayout()
        for widget in (self.copy_radio, self.move_radio, self.file_button, self.undo_button):
            bottom.addWidget(widget)
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addWidget(self.message)
        layout.addLayout(busy)
        layout.addWidget(self.panel, stretch=1)
        layout.addLayout(bottom)

    # --- the suggestions ----------------------------------------------------------------------
    def is_current(self) -> bool:
        """Whether the dialog is at work, or shows a review made with the window's model."""
        runtime = self._window.library.loaded_runtime
        return self._job is not None or (self.review is not None and runtime is not None and runtime.manifest.name == self.model_name)

    def start(self, root: Path | None = None, model: str | None = None) -> None:
        """Suggest again: for `root` (else the model's trained root, else the one shown), after switching to `model`."""
        if self._job in (FILE, UNDO):
            return  # the review is refreshed when it ends
        if root is not None and root != self.root:
            self.review = None  # decisions were for another root's labels
            self.panel.set_review(None)
            self.root = root
            self.root_field.setText(printable_path(root))
        runtime = self._window.library.loaded_runtime
        if model and (runtime is None or runtime.manifest.name != model):
            self._cancel_suggestions()
            self._waiting_for = model
            if self._window.settings.switching_to != model:
                self._window.use_model(model)
            self._set_busy(f"Switching to {model} first (its photos may need encoding); the suggestions follow.", 0)
            return
        self._suggest()

    def choose_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder whose subfolders are your labels", str(self.root or ""))
        if folder:
            self.start(Path(folder))

    def _suggest(self) -> None:
        self._cancel_suggestions()
        library, root = self._window.library, self.root
        self._run(SUGGEST, lambda cancel: sort_jobs.suggestions(library, root, cancel), "Finding the labels...", 0)

    def _model_switched(self, name: str) -> None:
        if self._waiting_for == name:
            self._waiting_for = None
            self._suggest()

    def _window_error(self, message: str) -> None:
        if self._waiting_for:
            model, self._waiting_for = self._waiting_for, None
            self._set_busy(None)
            self._show_message(f"The switch to {model} did not finish: {message}")

    def _suggested(self, found) -> None:
        if isinstance(found, sort_jobs.NeedRoot):
            self.model_label.setText(f"Model: {found.model}")
            self._show_message(f"{found.model} was not fine-tuned on labelled folders: choose the folder whose "
                               "subfolders are your labels (Choose...).", error=False)
            self.reviewShown.emit(-1)
            return
        decisions = self.review.decisions if self.review is not None and found.root == self.root else {}
        self.root, self.model_name = found.root, found.model
        self.root_field.setText(printable_path(found.root))
        self.review = SortReview(found.labels, found.suggestions, found.records, decisions)
        self.model_label.setText(f"Suggestions by {found.model} for {plural(len(found.suggestions), 'photo')} outside these folders: "
                                 "pick photos, then Accept (A), Reject (R) or Re-label them.")
        if not found.suggestions:
            self._show_message("No unsorted photos: every indexed photo outside these folders is sorted already "
                               "(photos not indexed yet get no suggestion).", error=False)
        self.panel.set_review(self.review)
        self.reviewShown.emit(len(found.suggestions))

    # --- the review -----------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        idle = self._job is None
        self.panel.setEnabled(idle and self.review is not None)
        accepted = self.review.accepted_count() if self.review is not None else 0
        self.file_button.setText(f"File {plural(accepted, 'accepted photo')}")
        self.file_button.setEnabled(idle and accepted > 0)
        self.undo_button.setEnabled(idle and self._can_undo())
        self.choose_button.setEnabled(self._job not in (FILE, UNDO))

    def _can_undo(self) -> bool:
        try:
            return last_batch() is not None
        except PicsiftError as exc:  # a journal from another version: said once, undo stays off
            self._show_message(str(exc))
            return False

    # --- filing and undo --------------------------------------------------------------------------
    def file_accepted(self) -> None:
        accepted = self.review.accepted() if self.review is not None and self._job is None else []
        if not accepted:
            return
        action = file_actions.MOVE if self.move_radio.isChecked() else file_actions.COPY
        root, catalog_path, report = self.root, self._window.library.catalog.path, self._photoFiled.emit
        self._outcomes, self._asked, self._action_filed = [], len(accepted), action
        self._run(FILE, lambda cancel: sort_jobs.filing(accepted, root, action, catalog_path, cancel, report),
                  f"{'Copying' if action == file_actions.COPY else 'Moving'} {plural(len(accepted), 'photo')}...", len(accepted))

    def _filed_one(self, outcome: file_actions.FileOutcome) -> None:
        self._outcomes.append(outcome)
        self.progress.setValue(len(self._outcomes))
        doing = "Copying" if self._action_filed == file_actions.COPY else "Moving"
        self.status.setText(f"{doing} {len(self._outcomes)}/{self._asked} photos...")

    def _filed(self, _batch) -> None:
        self.status.setText(sort_jobs.filed_line(self._action_filed, self._outcomes, self._asked, self.root))
        self.review.drop([outcome.source for outcome in self._outcomes if outcome.done])
        self.panel.refresh()
        self._window_changed(self._action_filed)

    def undo(self) -> None:
        catalog_path = self._window.library.catalog.path
        self._run(UNDO, lambda cancel: sort_jobs.undoing(catalog_path, cancel), "Undoing the last batch...", 0)
        self.cancel_button.hide()  # a batch is undone whole (each file checked first), in a moment

    def _undone(self, result) -> None:
        action, undone = result
        self._window_changed(action)
        self._suggest()  # the photos put back are unsorted again
        self._line_after = sort_jobs.undone_line(action, undone)

    def _window_changed(self, action: str | None) -> None:
        """The window's folder counts, and after a move its grid, show where the photos are now."""
        self._window.refresh_library()
        if action == file_actions.MOVE:
            self._window.search_now()

    # --- jobs -----------------------------------------------------------------------------------
    def _run(self, job: str, make_generator, text: str, steps: int) -> None:
        if self.worker is not None:  # its thread may still be quitting: a QThread must not be dropped while it runs
            self._retired.append(self.worker)
        self._job = job
        self._show_message(None)
        self.worker = GeneratorWorker(make_generator)
        # Bound methods of this GUI-thread object, not lambdas: PySide runs a lambda on the emitting (worker) thread.
        self.worker.progress.connect(self._progressed)
        self.worker.finished.connect(self._finished)
        self.worker.errored.connect(self._errored)
        self._set_busy(text, steps)
        self.worker.start()

    def is_busy(self) -> bool:
        """Whether a job runs, or the dialog waits for the window's switch to a model."""
        return self._job is not None or self._waiting_for is not None

    def _progressed(self, value) -> None:
        if self.sender() is self.worker and isinstance(value, str):
            self.status.setText(value)

    def _finished(self, last) -> None:
        if self.sender() is not self.worker:
            return  # a cancelled run
        job = self._end_job()
        if job == SUGGEST and isinstance(last, (sort_jobs.Suggested, sort_jobs.NeedRoot)):
            self._suggested(last)
        elif job == FILE:
            self._filed(last)
        elif job == UNDO:
            self._undone(last)
        self._update_enabled()
        self.jobEnded.emit(job)

    def _errored(self, message: str) -> None:
        if self.sender() is not self.worker:
            return
        job = self._end_job()
        if job == SUGGEST:
            self.review = None
            self.panel.set_review(None)
            self.reviewShown.emit(-1)
        elif job == FILE:  # what was filed before the error is journalled; the review shows the rest
            self._filed(None)
        self._show_message(message)
        self._update_enabled()
        self.jobEnded.emit(job)

    def _end_job(self) -> str | None:
        job, self._job = self._job, None
        self._set_busy(None)
        self.status.setText(self._line_after)
        self._line_after = ""
        return job

    def _set_busy(self, text: str | None, steps: int = 0) -> None:
        """The busy line, its bar (`steps` 0: no end known) and Cancel; None: idle."""
        self.status.setText(text or "")
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.progress.setVisible(text is not None)
        self.cancel_button.setVisible(text is not None)
        self.cancel_button.setEnabled(True)
        self._update_enabled()

    def _show_message(self, text: str | None, error: bool = True) -> None:
        style = "background:#fde2e1;color:#8a1c14" if error else "background:#e8f0fe;color:#174ea6"
        self.message.setStyleSheet(f"{style};padding:6px;border-radius:4px")
        self.message.setText(printable(text or ""))
        self.message.setVisible(bool(text))

    def cancel_work(self) -> None:
        """Cancel: suggestions (or the wait for a model) stop at once; filing stops after the photo in hand."""
        if self._waiting_for:
            self._waiting_for = None
            self._set_busy(None)
            self.status.setText("Cancelled.")
        elif self._job == SUGGEST:
            self._cancel_suggestions()
            self.status.setText("Cancelled.")
            self.jobEnded.emit(SUGGEST)
        elif self._job == FILE and self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Stopping after the current photo...")

    def _cancel_suggestions(self) -> None:
        if self._job == SUGGEST and self.worker is not None:
            self.worker.cancel()
            self._retired.append(self.worker)
            self.worker = None
            self._end_job()

    def reject(self) -> None:
        """Close (or Escape): the work in flight is cancelled; filed photos stay filed (Undo last batch)."""
        self.cancel_work()
        super().reject()

    def stop(self) -> None:
        """The window closes: cancel and wait for every worker, and the thumbnails."""
        self.cancel_work()
        for worker in [*self._retired, *([self.worker] if self.worker else [])]:
            worker.cancel()
            worker.wait()
        self.loader.forget()
        self.loader.wait()

    def eventFilter(self, watched, event) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Close:
            self.stop()
        return False
