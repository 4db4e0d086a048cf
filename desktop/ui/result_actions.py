"""Acting on the photos picked in the results grid: copy or move them to a folder, copy their paths, open them,
show them in their folder, send them to the trash. The preview pane's single-photo buttons use the same helpers.

Copy, move and trash run desktop/core/file_actions.py's generators on a GeneratorWorker, with their progress and a
one-line summary in the status bar; after a move or a trash the current search runs again, so the grid shows
where the photos are now.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QProgressBar, QPushButton

from desktop.core import file_actions
from desktop.core.catalog import Catalog
from desktop.ui.workers import GeneratorWorker
from models.display import plural, printable_path

OPEN_WITHOUT_ASKING = 10  # opening more photos than this at once (one viewer window each) asks first
_DOING = {file_actions.COPY: ("Copying", "Copied", "copied"), file_actions.MOVE: ("Moving", "Moved", "moved"),
          file_actions.TRASH: ("Moving to the trash", "Moved", "moved to the trash")}


class ResultActions(QObject):
    """The Photos menu (also the grid's context menu) of a MainWindow, acting on the grid's selected rows."""

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.worker: GeneratorWorker | None = None
        self._count = 0  # photos in the running action
        self._outcome_list: list[file_actions.FileOutcome] = []  # its outcomes so far
        self._running: tuple[str, str | None] = (file_actions.COPY, None)  # its action and folder
        self._summary_after_search: str | None = None  # a move's summary, shown again over the new search's count
        window.resultsShown.connect(self._results_shown)
        self.copy_action = QAction("&Copy to folder...", window, triggered=lambda: self.copy_or_move(file_actions.COPY))
        self.move_action = QAction("&Move to folder...", window, triggered=lambda: self.copy_or_move(file_actions.MOVE))
        self.paths_action = QAction("Copy &paths", window, shortcut=QKeySequence("Ctrl+Shift+C"), triggered=self.copy_selected_paths)
        self.open_action = QAction("&Open", window, triggered=self.open_selected)
        self.show_action = QAction("&Show in folder", window, triggered=self.show_selected)
        self.trash_action = QAction("Move to &trash...", window, shortcut=QKeySequence.StandardKey.Delete, triggered=self.trash_selected)
        self.actions = (self.open_action, self.show_action, self.paths_action, self.copy_action, self.move_action, self.trash_action)
        self.progress = QProgressBar(maximumWidth=160)
        self.cancel_button = QPushButton("Stop", clicked=self.cancel)
        for widget in (self.progress, self.cancel_button):
            window.statusBar().addPermanentWidget(widget)
            widget.hide()
        view = window.view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        view.addActions(list(self.actions))
        view.selectionModel().selectionChanged.connect(lambda *_: self._update_enabled())
        window.model.modelReset.connect(self._update_enabled)  # a new result list clears the selection silently
        self._update_enabled()

    def menu(self) -> QMenu:
        """The Photos menu for the menu bar."""
        menu = QMenu("&Photos", self._window)
        menu.addActions(list(self.actions[:3]))
        menu.addSeparator()
        menu.addActions(list(self.actions[3:]))
        return menu

    def selected_paths(self) -> list[str]:
        return [row.record.path for row in self._window.view.selected_rows()]

    def _update_enabled(self) -> None:
        picked = bool(self._window.view.selectionModel().hasSelection())
        busy = self.is_running()
        for action in self.actions:
            action.setEnabled(picked and not (busy and action in (self.copy_action, self.move_action, self.trash_action)))

    def is_running(self) -> bool:
        return self.worker is not None and self.worker.is_running()

    # --- quick actions ------------------------------------------------------------------------
    def copy_selected_paths(self) -> None:
        copy_paths(self.selected_paths())

    def open_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) > OPEN_WITHOUT_ASKING and not _confirmed(
                self._window, "Open photos", f"Open {plural(len(paths), 'photo')}, each in its own viewer window?"):
            return
        for path in paths:
            open_path(path)

    def show_selected(self) -> None:
        """Each folder holding a selected photo, shown once, with (where the system can) that photo picked."""
        first_in_folder = {os.path.dirname(path): path for path in reversed(self.selected_paths())}
        for path in reversed(first_in_folder.values()):
            show_in_folder(path)

    # --- file actions (on a worker) -----------------------------------------------------------
    def copy_or_move(self, action: str) -> None:
        paths = self.selected_paths()
        if not paths or self._refused_while_busy():
            return
        verb = "Copy" if action == file_actions.COPY else "Move"
        folder = QFileDialog.getExistingDirectory(self._window, f"{verb} {plural(len(paths), 'photo')} to")
        if folder:
            self._start(action, paths, folder)

    def trash_selected(self) -> None:
        paths = self.selected_paths()
        if not paths or self._refused_while_busy():
            return
        what = printable_path(os.path.basename(paths[0])) if len(paths) == 1 else plural(len(paths), "photo")
        if _confirmed(self._window, "Move to trash",
                      f"Move {what} to the trash?\nThey leave the library; you can restore them from the system's trash."):
            self._start(file_actions.TRASH, paths, None)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)

    def stop(self) -> None:
        """For closing the window: stop after the current file and wait for the worker."""
        if self.is_running():
            self.worker.cancel()
            self.worker.wait()

    def _results_shown(self, _count: int) -> None:
        if self._summary_after_search:
            self._window.status_label.setText(self._summary_after_search)
            self._summary_after_search = None

    def _refused_while_busy(self) -> bool:
        if self.is_running():
            self._window.status_label.setText("Wait for the photos being copied or moved, or stop them first.")
        return self.is_running()

    def _start(self, action: str, paths: list[str], folder: str | None) -> None:
        catalog_path = self._window.library.catalog.path
        self._count = len(paths)
        self.worker = GeneratorWorker(lambda cancel: _outcomes(action, paths, folder, catalog_path, cancel))
        self._running = (action, folder)
        # Bound methods of this GUI-thread object, not lambdas: PySide runs a lambda on the emitting (worker) thread.
        self.worker.progress.connect(self._progressed)
        self.worker.finished.connect(self._finished)
        self.worker.errored.connect(self._ended)
        self._outcome_list = []
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        for widget in (self.progress, self.cancel_button):
            widget.show()
        self._window.status_label.setText(f"{_DOING[action][0]} {plural(len(paths), 'photo')}...")
        self.worker.start()
        self._update_enabled()

    def _progressed(self, outcome: file_actions.FileOutcome) -> None:
        self._outcome_list.append(outcome)
        self.progress.setValue(len(self._outcome_list))
        self._window.status_label.setText(f"{_DOING[self._running[0]][0]} {len(self._outcome_list)}/{self._count} photos...")

    def _finished(self, _last) -> None:
        self._ended(None)

    def _ended(self, error: str | None) -> None:
        """The summary line (in the error banner too when a photo could not be done or the run stopped on an error)."""
        action, folder = self._running
        for widget in (self.progress, self.cancel_button):
            widget.hide()
        line = summary(action, self._outcome_list, self._count, folder)
        self._window.status_label.setText(line)
        self._summary_after_search = line if action != file_actions.COPY else None
        if error is not None:
            self._window.show_error(f"{line}; then stopped: {error}")
        elif any(not outcome.done for outcome in self._outcome_list):
            self._window.show_error(line)
        self._update_enabled()
        self._window.refresh_library()  # the folders' photo counts
        if action != file_actions.COPY:
            self._window.search_now()  # the grid shows where the photos are now


def _outcomes(action: str, paths: list[str], folder: str | None, catalog_path: Path, cancel):
    """The action's outcomes (on the worker thread), on the worker's own catalog connection."""
    catalog = Catalog(catalog_path)
    try:
        if action == file_actions.TRASH:
            yield from file_actions.trash(paths, catalog, cancel)
        else:
            yield from (file_actions.copy_to if action == file_actions.COPY else file_actions.move_to)(paths, folder, catalog, cancel)
    finally:
        catalog.close()


def summary(action: str, outcomes: list[file_actions.FileOutcome], asked: int, folder: str | None) -> str:
    """One line: "Copied 12 photos to FOLDER; 1 could not be copied: REASON" (and what a stop left undone)."""
    done = sum(outcome.done for outcome in outcomes)
    failed = [outcome.error for outcome in outcomes if not outcome.done]
    _, did, could_not = _DOING[action]
    line = f"{did} {plural(done, 'photo')} to " + (printable_path(folder) if folder else "the trash")
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        line += f"; {len(failed)} could not be {could_not}: {printable_path(failed[0])}{more}"
    if len(outcomes) < asked:
        line += f"; stopped before the other {asked - len(outcomes)}"
    return line


def _confirmed(parent, title: str, question: str) -> bool:
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    return QMessageBox.question(parent, title, question, buttons, QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes


# --- one photo or many: the helpers the preview's buttons share ---------------------------------
def copy_paths(paths: list[str]) -> None:
    """The paths on the clipboard, one a line."""
    QGuiApplication.clipboard().setText("\n".join(map(printable_path, paths)))


def show_in_folder(path: str) -> None:
    """The file's folder in the system's file manager, the file picked where the system can (macOS, Windows)."""
    if sys.platform == "darwin":
        subprocess.Popen(["open", "-R", path])
    elif sys.platform == "win32":
        subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
    else:
        open_path(os.path.dirname(path))


def open_path(path: str) -> None:
    """Open a file or folder with the system's viewer. A QUrl holds Unicode only, so a name that is
    not UTF-8 (possible on Linux alone) goes to xdg-open as its bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        subprocess.Popen(["xdg-open", os.fsencode(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def file_urls(paths: list[str]) -> list[QUrl]:
    """file:// URLs of the paths a QUrl can hold (a name that is not UTF-8 cannot travel in one: it is left out)."""
    urls = []
    for path in paths:
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            continue
        urls.append(QUrl.fromLocalFile(path))
    return urls
