"""Take docs/people.png: the People dock over real faces, and a person's name typed in the search as a chip.

Run (as docs/make_screenshot.py, whose window handling it reuses):
    QT_QPA_PLATFORM=offscreen python docs/make_people_screenshot.py
Options: --query TEXT, --out PATH, --bundle PATH (default: the installed built-in model).

The demo library and a few photos of two real faces that packages ship (scikit-image's astronaut,
Eileen Collins, and matplotlib's Grace Hopper, edited as tests/desktop/face_photos.py does) are
indexed in a scratch data dir; the window opens with finding people on, runs its face pass by
itself (after the text pass), the two are named through the People dock's Name... (its question
answered by the script), and the query naming one of them is typed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "tests" / "desktop")]
import make_screenshot  # noqa: E402 - next to this script
from make_screenshot import ROOT, wait_until  # noqa: E402

NAMES = ("Eileen Collins", "Grace Hopper")  # the two largest people, most photos first


def write_photos(folder: Path) -> None:
    """The demo library, and photos of the two faces: edited portraits and one of both."""
    from face_photos import portrait, together, write

    from desktop.core.demo_library import write_demo_library

    write_demo_library(folder)
    for edit in ("as_is", "mirrored", "darker", "in_a_scene"):
        write(portrait("eileen", edit), folder / "people" / f"eileen_{edit}.jpg")
    for edit in ("as_is", "mirrored", "smaller"):
        write(portrait("grace", edit), folder / "people" / f"grace_{edit}.jpg")
    write(together(("eileen", "grace")), folder / "people" / "both.jpg")


def take(photos: Path, query: str, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDockWidget, QInputDialog

    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Library(device="cpu"), Settings(find_faces="yes"))
    window.resize(*make_screenshot.WINDOW_SIZE)
    window.show()
    window.people.dock.raise_()  # its tab, beside the collections'
    window.resizeDocks([window.findChild(QDockWidget, "library-dock"), window.people.dock], [200, 560], Qt.Orientation.Vertical)
    panel = window.people.panel
    wait_until(lambda: len(window.model.rows()) > 0, "the library to show")
    wait_until(lambda: window.library.catalog.count_faces_unread() == 0 and not window.faces.is_running()
               and panel.list.count() >= 2, "the face pass", 300)
    names = iter(NAMES)
    QInputDialog.getText = lambda *args, **kwargs: (next(names), True)  # the script answers Name...
    for row in range(len(NAMES)):
        person = panel.list.item(row).data(Qt.ItemDataRole.UserRole)
        window.people.name(person)
        wait_until(lambda: not window._relays, "the name to be stored")
    wait_until(lambda: all(name in panel.list.item(i).text() for i, name in enumerate(NAMES)), "the names in the dock")
    shown: list[int] = []
    window.resultsShown.connect(shown.append)
    window.search_field.setFocus()
    QTest.keyClicks(window.search_field, query)
    wait_until(lambda: shown and window.filter_chips.chips(), "the query's results with its person chip")
    window.view.setCurrentIndex(window.model.index(0))
    wait_until(lambda: all(pixmap is not None for pixmap in make_screenshot.visible_thumbnails(window)), "the thumbnails")
    wait_until(lambda: not (window.preview.image.pixmap() is None or window.preview.image.pixmap().isNull()), "the preview")
    window.people.crops.wait()
    wait_until(lambda: not window._relays, "the face crops")
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise SystemExit(f"{out}: could not write the screenshot")
    print(f"query {query!r}: {[Path(r.record.path).stem for r in window.model.rows()]}; "
          f"people: {[panel.list.item(i).text().replace(chr(10), ' / ') for i in range(panel.list.count())]}")
    window.close()


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    make_screenshot.SCRATCH = make_screenshot.SCRATCH.with_name("picsift-people-screenshot")
    make_screenshot.take = take
    make_screenshot.main(__doc__, "Eileen Collins", ROOT / "docs" / "people.png", write=write_photos)
