"""The People dock's widgets: a tile per person (their face, name and photo count), the faces dialog a split picks
from, and the face crops both show, cut from the photos off the GUI thread. No catalog here (window_people has it)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image
from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.catalog_faces import Person, StoredFace
from desktop.ui.preview import rgb_qimage
from desktop.ui.workers import run_in_pool
from models.display import plural, printable, printable_path
from models.errors import ImageError
from models.photo_reader import read_photo_file

CROP_SIDE = 96  # pixels of a face crop; tiles show it at TILE_ICON
CROP_MARGIN = 0.3  # a crop reaches this fraction of the face box beyond each side (hair, chin)
CROP_READ_SIDE = 640  # short side a photo is decoded at for a crop (JPEG draft keeps it fast)
TILE_ICON = 72
UNNAMED = "Unnamed person"


@dataclass(frozen=True)
class PersonTile:
    """What a person's tile shows: the person, the face their tile shows and a file of its photo (None: no file left)."""

    person: Person
    face: StoredFace | None
    path: str | None


def face_crop(image: Image.Image, box: tuple[float, float, float, float], side: int = CROP_SIDE) -> Image.Image:
    """A square of `image` around a face `box` (fractions of the image), with a margin, kept inside the image."""
    width, height = image.size
    left, top, right, bottom = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    half = min(max(right - left, bottom - top) * (0.5 + CROP_MARGIN), width / 2, height / 2)
    x = min(max((left + right) / 2, half), width - half)
    y = min(max((top + bottom) / 2, half), height - half)
    return image.crop((round(x - half), round(y - half), round(x + half), round(y + half))).resize((side, side), Image.Resampling.LANCZOS)


class FaceCrops(QObject):
    """Face crops cut from their photos on one pool thread, newest request first, and kept.

    Signals:
        loaded(object, QImage): a face's key (`FaceCrops.key`) and its crop (null when the photo cannot be read).
    """

    loaded = Signal(object, QImage)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # decoding, while the passes and searches go on: one thread is plenty
        self._crops: dict[tuple, QImage] = {}
        self._relays: dict[tuple, object] = {}  # run_in_pool's, kept until each reports

    @staticmethod
    def key(face: StoredFace) -> tuple:
        """Face ids start again after all face data is deleted: the photo and box make the key with the id."""
        return face.id, face.image_id, face.box

    def crop(self, face: StoredFace, path: str | None) -> QImage | None:
        """The face's crop when cut already; else None, and it is cut (`loaded` then brings it)."""
        key = self.key(face)
        if key in self._crops:
            return self._crops[key]
        if path and key not in self._relays:
            self._relays[key] = run_in_pool(
                lambda: _cut(path, face.box), lambda image: self._done(key, image), lambda _message: self._done(key, QImage()),
                self._pool, priority=len(self._relays), doing=f"cutting a face out of {path!r}", owner=self)
        return None

    def wait(self) -> None:
        self._pool.waitForDone()

    def _done(self, key: tuple, image: QImage) -> None:
        self._relays.pop(key, None)
        self._crops[key] = image
        self.loaded.emit(key, image)


def _cut(path: str, box) -> QImage:
    """On a pool thread: the face's crop, or a null QImage when its photo cannot be read now."""
    try:
        return rgb_qimage(face_crop(read_photo_file(path, CROP_READ_SIDE).image, box))
    except ImageError:
        return QImage()


def _icon(image: QImage | None) -> QIcon:
    if image is None or image.isNull():
        blank = QPixmap(CROP_SIDE, CROP_SIDE)
        blank.fill(QColor("#d9dde3"))
        return QIcon(blank)
    return QIcon(QPixmap.fromImage(image))


def _icon_list(name: str, icon: int, grid: QSize) -> QListWidget:
    listed = QListWidget()
    listed.setObjectName(name)
    listed.setViewMode(QListView.ViewMode.IconMode)
    listed.setResizeMode(QListView.ResizeMode.Adjust)
    listed.setMovement(QListView.Movement.Static)
    listed.setIconSize(QSize(icon, icon))
    listed.setGridSize(grid)
    listed.setWordWrap(True)
    listed.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    return listed


class PeoplePanel(QWidget):
    """One tile per person, most photos first. An item's data is its person id; the selection is the people picked.

    Signals:
        pickedChanged(): the user picked other people (not emitted for a refill that keeps them).
        nameRequested(int), facesRequested(int): a person id.
        hideRequested(int, bool): a person id, and whether they are not a person (False: they are one after all).
        mergeRequested(int, int): (the person kept, the person merged into them).
        mergePickedRequested(): merge the people picked.
    """

    pickedChanged = Signal()
    nameRequested = Signal(int)
    facesRequested = Signal(int)
    hideRequested = Signal(int, bool)
    mergeRequested = Signal(int, int)
    mergePickedRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.empty = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("people-empty")
        self.list = _icon_list("people", TILE_ICON, QSize(TILE_ICON + 40, TILE_ICON + 48))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.name_button = QPushButton("Name...", clicked=lambda: self._for_current(self.nameRequested.emit),
                                       toolTip="Give the person picked a name; typing it in the search then finds their photos")
        self.merge_button = QPushButton("Merge", clicked=lambda: self.mergePickedRequested.emit(),
                                        toolTip="The people picked (Ctrl+click) are one person: merge them into the first")
        self.faces_button = QPushButton("Faces...", clicked=lambda: self._for_current(self.facesRequested.emit),
                                        toolTip="The person's faces: pick the wrongly grouped ones and split them off")
        buttons = QHBoxLayout()  # "Not a person" is in the People menu and the tiles' context menu: four buttons make the dock too wide
        for button in (self.name_button, self.merge_button, self.faces_button):
            buttons.addWidget(button)
        self.note = QLabel(wordWrap=True)  # what the last change did ("Named Eileen: ..."); the status line is the search's
        self.note.setObjectName("people-note")
        self.note.setStyleSheet("color:#555555")
        self.note.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, stretch=1)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self._tiles: dict[int, PersonTile] = {}
        self._filling = False
        self.show_people([], "")

    def show_people(self, tiles: list[PersonTile], empty_text: str, crops: FaceCrops | None = None) -> None:
        """Refill, most photos first (the catalog's order). The people picked stay picked while they are listed
        (no signal); when some are gone, `pickedChanged` fires."""
        picked = self.picked()
        self._filling = True
        self.list.clear()
        self._tiles = {tile.person.id: tile for tile in tiles}
        for tile in tiles:
            item = QListWidgetItem(_icon(crops.crop(tile.face, tile.path) if crops and tile.face else None), tile_text(tile.person))
            item.setData(Qt.ItemDataRole.UserRole, tile.person.id)
            item.setToolTip(_tooltip(tile.person))
            if tile.person.hidden:
                item.setForeground(QColor("#888888"))
            self.list.addItem(item)
            item.setSelected(tile.person.id in picked)
        self._filling = False
        self.empty.setText(empty_text)
        self.empty.setVisible(not tiles)
        self._update_buttons()
        if [pid for pid in picked if pid in self._tiles] != picked:
            self.pickedChanged.emit()

    def set_crop(self, key: tuple, image: QImage) -> None:
        """A crop came: the tiles showing that face take it."""
        for item in self._items():
            tile = self._tiles[item.data(Qt.ItemDataRole.UserRole)]
            if tile.face is not None and FaceCrops.key(tile.face) == key:
                item.setIcon(_icon(image))

    def picked(self) -> list[int]:
        """The people picked (selected), in the list's order: most photos first."""
        return [item.data(Qt.ItemDataRole.UserRole) for item in self._items() if item.isSelected()]

    def unpick(self, person_id: int) -> None:
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) == person_id:
                item.setSelected(False)

    def tile(self, person_id: int) -> PersonTile | None:
        return self._tiles.get(person_id)

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def hidden(self, person_id: int) -> bool:
        """Whether this person is marked not a person."""
        return person_id in self._tiles and self._tiles[person_id].person.hidden

    def current(self) -> int | None:
        """The person the Name and Faces buttons act on: the current tile when picked, else the first picked."""
        picked = self.picked()
        item = self.list.currentItem()
        current = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return current if current in picked else (picked[0] if picked else None)

    def _for_current(self, emit) -> None:
        if self.current() is not None:
            emit(self.current())

    def _selection_changed(self) -> None:
        self._update_buttons()
        if not self._filling:
            self.pickedChanged.emit()

    def _update_buttons(self) -> None:
        for button in (self.name_button, self.faces_button):
            button.setEnabled(self.current() is not None)
        self.merge_button.setEnabled(len(self.picked()) >= 2)

    def _context_menu(self, position) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        pid = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Name...", lambda: self.nameRequested.emit(pid))
        into = menu.addMenu("Merge into")
        for other in (t.person for t in self._tiles.values() if t.person.id != pid):
            into.addAction(f"{printable(other.label)} ({plural(other.photos, 'photo')})",
                           lambda keep=other.id: self.mergeRequested.emit(keep, pid))
        into.setEnabled(len(self._tiles) > 1)
        menu.addAction("Faces (split off wrong ones)...", lambda: self.facesRequested.emit(pid))
        hidden = self.hidden(pid)
        menu.addAction("Is a person after all" if hidden else "Not a person", lambda: self.hideRequested.emit(pid, not hidden))
        menu.exec(self.list.mapToGlobal(position))


def tile_text(person: Person) -> str:
    """"Eileen\\n4 photos"; "Unnamed person\\n2 photos"; a hidden one says so."""
    text = f"{printable(person.name or UNNAMED)}\n{plural(person.photos, 'photo')}"
    return text + "\n(not a person)" if person.hidden else text


def _tooltip(person: Person) -> str:
    return (f"{printable(person.label)}: {plural(person.faces, 'face')} in {plural(person.photos, 'photo')}. "
            "Click: their photos (Ctrl+click: photos of several together); right-click: name, merge, faces, not a person")


class FacesDialog(QDialog):
    """A person's faces, for picking those grouped with them by mistake and splitting them off as a new person.

    Signals:
        splitRequested(list): the ids of the faces picked.
    """

    splitRequested = Signal(list)

    def __init__(self, parent, label: str, faces: list[tuple[StoredFace, str | None]], crops: FaceCrops):
        super().__init__(parent)
        self.setWindowTitle(f"Faces of {printable(label)}")
        self.setObjectName("faces-dialog")
        self.resize(560, 460)
        self._crops = crops
        text = QLabel(f"{plural(len(faces), 'face')} of {printable(label)}. Pick the ones that are someone else "
                      "(Ctrl+click for several), then Split off: they become a new person.", wordWrap=True)
        self.list = _icon_list("faces", CROP_SIDE, QSize(CROP_SIDE + 32, CROP_SIDE + 40))
        self._keys: dict[tuple, QListWidgetItem] = {}
        for face, path in faces:
            item = QListWidgetItem(_icon(crops.crop(face, path)), printable_path(os.path.basename(path)) if path else "")
            item.setData(Qt.ItemDataRole.UserRole, face.id)
            item.setToolTip(printable_path(path) if path else "its photo is not in the library any more")
            self.list.addItem(item)
            self._keys[FaceCrops.key(face)] = item
        crops.loaded.connect(self._crop_loaded)
        self._listening = True
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.split_button = buttons.addButton("Split off", QDialogButtonBox.ButtonRole.ActionRole)
        self.split_button.setToolTip("The faces picked become a new, unnamed person")
        self.split_button.clicked.connect(self._split)
        buttons.rejected.connect(self.reject)
        self.list.itemSelectionChanged.connect(lambda: self.split_button.setEnabled(bool(self.picked())))
        self.split_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.list, stretch=1)
        layout.addWidget(buttons)

    def picked(self) -> list[int]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]

    def _split(self) -> None:
        if self.picked():
            self.splitRequested.emit(self.picked())

    def _crop_loaded(self, key: tuple, image: QImage) -> None:
        if key in self._keys:
            self._keys[key].setIcon(_icon(image))

    def done(self, result: int) -> None:
        if self._listening:  # the first time only: a dialog may be closed twice
            self._crops.loaded.disconnect(self._crop_loaded)
            self._listening = False
        super().done(result)
