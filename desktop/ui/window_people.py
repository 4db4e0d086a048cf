"""The main window's people: the People dock (a tile per person, most photos first), picking people to search for
their photos, and naming, merging, splitting and "not a person".

People live in the catalog (desktop/core/catalog_faces.py; the face pass of window_faces finds them).
The people picked in the dock narrow the search to photos showing all of them, each as a removable
chip beside the search bar, as a name typed in the search does ("Anna and Tom"). Every catalog call
runs on the window's engine thread (`window._on_engine`); the dock is refilled after each change, and
the search runs again, its text parsed afresh: a name given or merged away changes what it means.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QInputDialog, QMessageBox

from desktop.core.query_filters import Chip
from desktop.ui.filter_chips import FilterChips
from desktop.ui.people_view import FaceCrops, FacesDialog, PeoplePanel, PersonTile
from models.display import plural, printable

REFRESH_WHILE_READING_S = 3.0  # while the face pass runs the dock is refilled at most this often (a catalog query)


class PeopleController(QObject):
    """The people of `window.library`: their dock, the people picked (`picked()`, as chips: `chips`, put in the
    search bar by the window) and the edits.

    Signals:
        changed(): the dock was refilled from the catalog.
    """

    changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self._window = window
        self.named: tuple[tuple[int, str], ...] = ()  # (id, name) of the named people listed, for parsing on the GUI thread
        self.crops = FaceCrops(self)
        self.panel = PeoplePanel()
        self.panel.setObjectName("people-panel")
        self.crops.loaded.connect(self.panel.set_crop)
        self.panel.pickedChanged.connect(self._picked_changed)
        self.panel.nameRequested.connect(self.name)
        self.panel.mergeRequested.connect(self.merge)
        self.panel.mergePickedRequested.connect(self.merge_picked)
        self.panel.facesRequested.connect(self.show_faces)
        self.panel.hideRequested.connect(self.set_not_a_person)
        self.dock = QDockWidget("People", window)
        self.dock.setObjectName("people-dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        # a tab beside the collections (both narrow what is browsed): three docks stacked would not fit a small screen
        window.tabifyDockWidget(window.collections.dock, self.dock)
        window.collections.dock.raise_()
        self.chips = FilterChips()  # the people picked in the dock
        self.chips.setObjectName("person-chips")
        self.chips.chipRemoved.connect(lambda chip: self.panel.unpick(int(chip.value.removeprefix("person:"))))
        self.show_hidden_action = QAction("Show those marked &not a person", window, checkable=True, toggled=lambda _: self.refresh())
        self.show_hidden_action.setToolTip("List the statues and posters marked not a person too, to undo a mark")
        self.hide_action = QAction("Not a &person", window, triggered=self._hide_current)
        self.hide_action.setToolTip("A statue, a poster, a painting: hide the person picked from People and searches")
        self.faces_dialog: FacesDialog | None = None
        self._last_refresh = 0.0
        self.refresh()

    def actions(self) -> list[QAction]:
        """For the People menu."""
        toggle = self.dock.toggleViewAction()
        toggle.setText("People &panel")
        return [self.hide_action, self.show_hidden_action, toggle]

    def picked(self) -> tuple[int, ...]:
        """For Query.people: the people picked in the dock (photos showing all of them)."""
        return tuple(self.panel.picked())

    def faces_found(self) -> None:
        """The face pass read more photos: refill the dock now and then."""
        if time.monotonic() - self._last_refresh > REFRESH_WHILE_READING_S or not self._window.faces.is_running():
            self.refresh()

    def refresh(self) -> None:
        self._last_refresh = time.monotonic()
        hidden = self.show_hidden_action.isChecked()
        self._window._on_engine(lambda: _tiles(self._window.library.catalog, hidden), self._show)

    def _show(self, tiles: list[PersonTile]) -> None:
        self.named = tuple((t.person.id, t.person.name) for t in tiles if t.person.name and not t.person.hidden)
        self.panel.show_people(tiles, self._empty_text(), self.crops)
        self._show_chips()
        self._update_hide_action()
        self.changed.emit()

    def _empty_text(self) -> str:
        answer = self._window.settings.find_faces
        if answer == "yes":
            return "No people found yet. They appear here as faces are found in your photos."
        return ("Finding people in photos is off. Turn it on in the People menu: faces are grouped by person, "
                "and you can name people and search for them.")

    def _picked_changed(self) -> None:
        self._show_chips()
        self._update_hide_action()
        self._window.search_now()

    def _show_chips(self) -> None:
        tiles = [self.panel.tile(pid) for pid in self.panel.picked()]
        self.chips.show_chips(tuple(Chip("person", printable(t.person.label), f"person:{t.person.id}") for t in tiles if t))

    def say(self, text: str) -> None:
        """A line under the tiles: what the last change did (the status line belongs to the search, which runs again)."""
        self.panel.note.setText(text)
        self.panel.note.setVisible(bool(text))

    def _label(self, person_id: int) -> str:
        """Their name, or "person 7" (the number `picsift people` shows): several may be unnamed."""
        tile = self.panel.tile(person_id)
        return printable(tile.person.label) if tile else f"person {person_id}"

    # --- edits ------------------------------------------------------------------------------
    def name(self, person_id: int) -> None:
        """Ask for a name (empty: unnamed again), then give it."""
        tile = self.panel.tile(person_id)
        old = (tile.person.name or "") if tile else ""
        name, ok = QInputDialog.getText(self._window, "Name person", f"Name of {self._label(person_id)}:", text=old)
        if not ok or name.strip() == old:
            return
        name = name.strip() or None
        self._change(lambda catalog: catalog.name_person(person_id, name),
                     f"Named {printable(name)}: type the name in the search to find their photos" if name else "The person is unnamed again")

    def merge_picked(self) -> None:
        """The Merge button: the people picked are one person, kept as the first picked (most photos)."""
        picked = self.panel.picked()
        if len(picked) < 2:
            self.say("Pick two or more people (Ctrl+click) to merge them, or right-click one: Merge into")
            return
        self.merge(picked[0], *picked[1:])

    def merge(self, keep: int, *others: int) -> None:
        """Ask, then merge `others` into `keep` (`keep` takes a name from them when it has none)."""
        names = ", ".join(self._label(other) for other in others)
        answer = QMessageBox.question(self._window, "Merge people",
                                      f"Are {names} and {self._label(keep)} the same person? Their faces are put together as one person.")
        if answer != QMessageBox.StandardButton.Yes:
            return

        def merge(catalog) -> None:
            for other in others:
                catalog.merge_people(keep, other)
        self._change(merge, f"Merged {names} into {self._label(keep)}")

    def show_faces(self, person_id: int) -> None:
        """The person's faces in a dialog, for splitting wrong ones off."""
        catalog = self._window.library.catalog

        def faces() -> list:
            found = catalog.faces_of_person(person_id)
            files = catalog.files_for_images(f.image_id for f in found)
            return [(face, files[face.image_id][0].path if files.get(face.image_id) else None) for face in found]
        self._window._on_engine(faces, lambda found: self._open_faces(person_id, found))

    def _open_faces(self, person_id: int, faces: list) -> None:
        if self.faces_dialog is not None:
            self.faces_dialog.reject()
        dialog = self.faces_dialog = FacesDialog(self._window, self._label(person_id), faces, self.crops)
        dialog.splitRequested.connect(lambda ids: self.split(person_id, ids))
        dialog.finished.connect(lambda _: self._faces_closed(dialog))
        dialog.open()  # window-modal, and the event loop goes on

    def _faces_closed(self, dialog: FacesDialog) -> None:
        if self.faces_dialog is dialog:
            self.faces_dialog = None
        dialog.deleteLater()

    def split(self, person_id: int, face_ids: list[int]) -> None:
        """Move the faces picked out of a person, into a new one."""
        label = self._label(person_id)

        def done(_) -> None:
            if self.faces_dialog is not None:
                self.faces_dialog.accept()
        self._change(lambda catalog: catalog.split_faces(face_ids),
                     f"Split {plural(len(face_ids), 'face')} off {label}: they are a new person now", then=done)

    def _update_hide_action(self) -> None:
        current = self.panel.current()
        self.hide_action.setEnabled(current is not None)
        self.hide_action.setText("Is a &person after all" if current is not None and self.panel.hidden(current) else "Not a &person")

    def _hide_current(self) -> None:
        """People > Not a person: marks the person picked (or, for one marked already, undoes it)."""
        current = self.panel.current()
        if current is not None:
            self.set_not_a_person(current, not self.panel.hidden(current))

    def set_not_a_person(self, person_id: int, hidden: bool) -> None:
        label = self._label(person_id)
        if hidden:
            self.panel.unpick(person_id)
        summary = (f"{label} is marked not a person (People > Show those marked not a person undoes it)" if hidden
                   else f"{label} is a person again")
        self._change(lambda catalog: catalog.set_not_a_person(person_id, hidden), summary)

    def _change(self, change, summary: str, then=None) -> None:
        """`change(catalog)` on the engine thread, then the dock refilled, the search run again with its text parsed
        afresh, and `summary` under the dock's tiles; a refused change (a name taken) shows in the error banner."""
        window = self._window

        def done(result) -> None:
            self.refresh()
            window.people_changed()
            self.say(summary)
            if then is not None:
                then(result)
        window._on_engine(lambda: change(window.library.catalog), done)


def _tiles(catalog, include_hidden: bool) -> list[PersonTile]:
    """On the engine thread: each person with their cover face and a file of its photo, most photos first."""
    people = catalog.people(include_hidden=include_hidden)
    covers = catalog.faces_by_id(p.cover for p in people)
    files = catalog.files_for_images(face.image_id for face in covers.values())
    tiles = []
    for person in people:
        face = covers.get(person.cover)
        shown = files.get(face.image_id) if face else None
        tiles.append(PersonTile(person, face, shown[0].path if shown else None))
    return tiles
