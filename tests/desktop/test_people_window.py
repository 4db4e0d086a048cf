"""People in the real window: asked once, the face pass in the background, the People dock over real faces, naming
(then finding by name), merging, splitting, not a person, forgetting all face data, and dlib missing."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from face_photos import portrait, together, write
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLabel, QMessageBox, QPushButton
from window_fixtures import WAIT_MS, indexed_folder, open_window

from desktop.core.settings import Settings
from desktop.ui.people_view import CROP_SIDE, face_crop

pytestmark = pytest.mark.slow  # dlib reads each photo in 0.1-0.3 s on two shared cores

EILEEN = ("eileen_as_is", "eileen_mirrored", "eileen_darker", "both")  # her photos; Grace's are grace_as_is and both


@pytest.fixture
def folder(runtime, tmp_path):
    """Three photos of Eileen Collins, one of Grace Hopper, one of both, and a cat; indexed, not read for faces."""
    photos = (tmp_path / "photos").resolve()
    for edit in ("as_is", "mirrored", "darker"):
        write(portrait("eileen", edit), photos / f"eileen_{edit}.jpg")
    write(portrait("grace"), photos / "grace_as_is.jpg")
    write(together(("eileen", "grace")), photos / "both.jpg")
    return indexed_folder(runtime, tmp_path, ("chelsea",))


def _tiles(window) -> list[str]:
    panel = window.people.panel
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def _shown(window) -> set[str]:
    return {os.path.splitext(row.name)[0] for row in window.model.rows()}


def _all_read(window) -> bool:
    catalog = window.library.catalog
    return not window.faces.is_running() and catalog.count_faces_unread() == 0 and not window._relays


def _with_people(qtbot, runtime):
    """The window with finding people on: its face pass reads the photos at start-up, after the text pass."""
    window = open_window(qtbot, runtime, Settings(find_faces="yes"))
    final = ["Unnamed person\n4 photos", "Unnamed person\n2 photos"]  # not a refill of the pass's first photos
    qtbot.waitUntil(lambda: _all_read(window) and _tiles(window) == final, timeout=WAIT_MS)
    return window


def _person(window, row: int) -> int:
    return window.people.panel.list.item(row).data(Qt.ItemDataRole.UserRole)


def _pick(qtbot, window, *rows: int) -> None:
    """Pick these tiles as a click and ctrl-clicks do, and wait for the search they make."""
    panel = window.people.panel
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        panel.list.clearSelection()
        for row in rows:
            panel.list.item(row).setSelected(True)


def _person_of(window, folder, name: str) -> set[int]:
    catalog = window.library.catalog
    record = catalog.file_by_path(str(folder / f"{name}.jpg"))
    return {face.person_id for face in catalog.faces_of(record.image_id)}


def test_finding_people_is_asked_once_and_yes_runs_the_face_pass_in_the_app_largest_first(qtbot, runtime, folder):
    window = open_window(qtbot, runtime, Settings())
    qtbot.waitUntil(lambda: window.faces.banner.isVisibleTo(window), timeout=WAIT_MS)  # the library has photos to read
    assert "Face data stays in this computer's catalog" in window.faces.banner.findChild(QLabel).text()
    assert not window.faces.is_running() and window.library.catalog.count_faces() == (0, 0)
    assert "off" in window.people.panel.empty.text() and not window.faces.find_action.isChecked()
    shown = []
    window.faces.progressed.connect(lambda _: shown.append(window.faces.label.text()))
    with qtbot.waitSignal(window.faces.finished, timeout=WAIT_MS, check_params_cb=lambda p: p is not None and p.phase == "done") as done:
        window.faces.banner.findChild(QPushButton, "find-faces-yes").click()
    assert Settings.load().find_faces == "yes" and window.faces.find_action.isChecked()  # kept at once
    assert not window.faces.banner.isVisibleTo(window)
    assert (done.args[0].total, done.args[0].faces, done.args[0].with_faces) == (6, 6, 5)
    assert all(text.startswith("Finding people in photos") for text in shown) and "6 of 6" in shown[-1]
    assert window.faces.label.text() == "People in photos: 6 read, 6 faces in 5 photos"
    qtbot.waitUntil(lambda: _tiles(window) == ["Unnamed person\n4 photos", "Unnamed person\n2 photos"], timeout=WAIT_MS)
    assert not window.people.panel.empty.isVisibleTo(window)
    tiles = [window.people.panel.tile(_person(window, row)) for row in range(2)]
    qtbot.waitUntil(lambda: all(window.people.crops.crop(t.face, t.path) is not None for t in tiles), timeout=WAIT_MS)
    assert all(window.people.crops.crop(t.face, t.path).size().toTuple() == (CROP_SIDE, CROP_SIDE) for t in tiles)
    window.close()

    again = open_window(qtbot, runtime, Settings.load())
    qtbot.waitUntil(lambda: len(_tiles(again)) == 2 and not again._relays, timeout=WAIT_MS)
    assert not again.faces.banner.isVisibleTo(again) and again.faces.find_action.isChecked()


def test_no_thanks_is_kept_reads_no_face_and_the_menu_turns_it_on_later(qtbot, runtime, folder):
    window = open_window(qtbot, runtime, Settings())
    qtbot.waitUntil(lambda: window.faces.banner.isVisibleTo(window), timeout=WAIT_MS)
    window.faces.banner.findChild(QPushButton, "find-faces-no").click()
    assert Settings.load().find_faces == "no" and not window.faces.banner.isVisibleTo(window)
    window.close()

    again = open_window(qtbot, runtime, Settings.load())
    qtbot.waitUntil(lambda: not again._relays, timeout=WAIT_MS)
    assert not again.faces.banner.isVisibleTo(again) and not again.faces.is_running()
    assert again.library.catalog.count_faces() == (0, 0) and _tiles(again) == []
    with qtbot.waitSignal(again.faces.finished, timeout=WAIT_MS):
        again.faces.find_action.trigger()  # People > Find people in photos
    assert again.settings.find_faces == "yes"
    qtbot.waitUntil(lambda: len(_tiles(again)) == 2, timeout=WAIT_MS)


def test_picking_and_naming_a_person_then_typing_the_name_finds_their_photos_with_a_chip(qtbot, runtime, folder, monkeypatch):
    window = _with_people(qtbot, runtime)
    eileen, grace = _person(window, 0), _person(window, 1)
    _pick(qtbot, window, 0)  # a click on her tile: her photos, with her chip
    assert _shown(window) == set(EILEEN)
    assert [chip.label for chip in window.people.chips.chips()] == [f"person {eileen}"]

    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Eileen", True))
    window.people.panel.name_button.click()
    qtbot.waitUntil(lambda: _tiles(window)[0] == "Eileen\n4 photos", timeout=WAIT_MS)
    assert window.people.panel.note.text().startswith("Named Eileen: type the name in the search")
    assert [chip.label for chip in window.people.chips.chips()] == ["Eileen"]
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        window.people.chips.button(window.people.chips.chips()[0]).click()  # its x: the whole library again
    assert len(_shown(window)) == 6 and not window.people.panel.picked()

    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "eileen")  # any case
    assert _shown(window) == set(EILEEN)
    chips = window.filter_chips.chips()
    assert [(chip.kind, chip.label) for chip in chips] == [("person", "Eileen")]
    assert window.filter_chips.button(chips[0]).objectName() == "chip-person"
    assert "Eileen" in window.filter_chips.button(chips[0]).toolTip()

    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Grace", True))
    window.people.name(grace)
    qtbot.waitUntil(lambda: _tiles(window)[1] == "Grace\n2 photos", timeout=WAIT_MS)
    window.search_field.clear()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "Eileen and Grace")
    assert _shown(window) == {"both"} and [chip.label for chip in window.filter_chips.chips()] == ["Eileen", "Grace"]

    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Grace", True))
    window.people.name(eileen)  # a name taken: one line, nothing changed
    qtbot.waitUntil(lambda: window.error_banner.isVisibleTo(window), timeout=WAIT_MS)
    assert "another person is named 'Grace' already" in window.error_banner.text()
    assert window.library.catalog.named_people() == [(eileen, "Eileen"), (grace, "Grace")]


def test_splitting_wrong_faces_off_makes_a_new_person_and_merging_puts_them_back(qtbot, runtime, folder, monkeypatch):
    window = _with_people(qtbot, runtime)
    eileen = _person(window, 0)
    _pick(qtbot, window, 0)
    window.people.panel.faces_button.click()
    qtbot.waitUntil(lambda: window.people.faces_dialog is not None and window.people.faces_dialog.isVisible(), timeout=WAIT_MS)
    dialog = window.people.faces_dialog
    assert dialog.list.count() == 4 and not dialog.split_button.isEnabled()
    window.people.crops.wait()
    qtbot.waitUntil(lambda: all(not dialog.list.item(i).icon().pixmap(96).isNull() for i in range(4)), timeout=WAIT_MS)
    darker = next(dialog.list.item(i) for i in range(4) if dialog.list.item(i).toolTip().endswith("eileen_darker.jpg"))
    darker.setSelected(True)
    assert dialog.split_button.isEnabled()
    dialog.split_button.click()
    qtbot.waitUntil(lambda: len(_tiles(window)) == 3, timeout=WAIT_MS)
    assert _tiles(window) == ["Unnamed person\n3 photos", "Unnamed person\n2 photos", "Unnamed person\n1 photo"]
    assert window.people.faces_dialog is None  # closed
    split_off = _person(window, 2)
    assert _person_of(window, folder, "eileen_darker") == {split_off} and _person_of(window, folder, "eileen_as_is") == {eileen}

    _pick(qtbot, window, 0, 2)  # both picked: the photos showing both (none, they never share one)
    assert _shown(window) == set() and window.people.panel.merge_button.isEnabled()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window.people.panel.merge_button.click()
    qtbot.waitUntil(lambda: _tiles(window) == ["Unnamed person\n4 photos", "Unnamed person\n2 photos"], timeout=WAIT_MS)
    assert _person_of(window, folder, "eileen_darker") == {eileen}  # kept as the first picked, the larger
    qtbot.waitUntil(lambda: _shown(window) == set(EILEEN), timeout=WAIT_MS)  # the one merged away left the search


def test_not_a_person_hides_one_and_forget_all_empties_the_dock_and_the_catalog(qtbot, runtime, folder, monkeypatch):
    window = _with_people(qtbot, runtime)
    grace = _person(window, 1)
    _pick(qtbot, window, 1)
    window.people.hide_action.trigger()  # People > Not a person
    qtbot.waitUntil(lambda: _tiles(window) == ["Unnamed person\n4 photos"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(_shown(window)) == 6, timeout=WAIT_MS)  # the search left her with her tile
    window.people.show_hidden_action.trigger()  # People > Show those marked not a person: to undo it
    qtbot.waitUntil(lambda: _tiles(window)[1:] == ["Unnamed person\n2 photos\n(not a person)"], timeout=WAIT_MS)
    assert [p.id for p in window.library.catalog.people(include_hidden=True) if p.hidden] == [grace]

    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    window.faces.forget_action.trigger()  # People > Forget all face data...
    qtbot.waitUntil(lambda: _tiles(window) == [] and not window._relays, timeout=WAIT_MS)
    catalog = window.library.catalog
    assert catalog.count_faces() == (0, 0) and catalog.people(include_hidden=True) == []
    assert catalog.count_faces_unread() == 6  # read again only if it is turned on again
    assert window.settings.find_faces == "no" and not window.faces.find_action.isChecked()
    assert window.people.panel.empty.isVisibleTo(window) and "off" in window.people.panel.empty.text()
    assert "All face data was deleted" in window.people.panel.note.text()


def test_dlib_missing_says_so_in_one_line_once_with_no_traceback_and_searching_works(qtbot, runtime, folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` fails, as on an install without the faces extra
    window = open_window(qtbot, runtime, Settings(find_faces="yes"))
    shown: list[str] = []
    window.errorShown.connect(shown.append)
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    assert "finding people in photos needs dlib" in shown[0] and "pip install" in shown[0]
    assert "\n" not in shown[0] and "Traceback" not in shown[0] and "log" not in shown[0]
    assert not window.faces.is_running() and not window.faces.cancel_button.isVisibleTo(window)
    window.faces.start()  # the next indexing run: not tried, not said again
    qtbot.waitUntil(lambda: not window._relays, timeout=WAIT_MS)
    assert len(shown) == 1 and not window.faces.is_running()
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        qtbot.keyClicks(window.search_field, "a cat")
    assert "chelsea" in _shown(window)


def test_a_photo_copied_into_a_watched_folder_is_read_for_faces_after_its_text_and_joins_its_person(
        qtbot, runtime, folder, tmp_path):
    window = _with_people(qtbot, runtime)
    qtbot.waitUntil(lambda: window.watch.watching, timeout=WAIT_MS)
    eileen = _person(window, 0)
    beside_text: list[bool] = []  # at each report of the face pass: was the text pass running too?
    window.faces.progressed.connect(lambda _: beside_text.append(window.text_pass.is_running()))
    card = write(portrait("eileen", "smaller"), tmp_path / "card" / "eileen_later.jpg")
    shutil.copy(card, folder / "eileen_later.jpg")
    qtbot.waitUntil(lambda: _tiles(window)[:1] == ["Unnamed person\n5 photos"], timeout=WAIT_MS)
    assert _person_of(window, folder, "eileen_later") == {eileen}
    record = window.library.catalog.file_by_path(str(folder / "eileen_later.jpg"))
    assert window.library.catalog.text_read(record.image_id)  # its text was read first
    assert beside_text and not any(beside_text)  # the two passes took turns


def test_a_face_crop_is_a_square_around_the_face_kept_inside_the_photo():
    photo = Image.new("RGB", (400, 200), "white")
    photo.paste((255, 0, 0), (360, 20, 400, 80))  # a "face" at the right edge
    crop = face_crop(photo, (0.9, 0.1, 1.0, 0.4))
    colours = {colour for _, colour in crop.getcolors(CROP_SIDE * CROP_SIDE)}
    assert crop.size == (CROP_SIDE, CROP_SIDE) and (0, 0, 0) not in colours  # no padding beyond the photo
    assert crop.getpixel((CROP_SIDE - 5, CROP_SIDE // 2)) == (255, 0, 0)  # shifted in: the face at its right side
