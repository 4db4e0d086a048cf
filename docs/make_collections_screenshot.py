"""Take docs/collections_feedback.png: the Collections dock, and a search refined by a "More like this" mark shown as a chip.

Run (as docs/make_screenshot.py, whose window handling it reuses):
    QT_QPA_PLATFORM=offscreen python docs/make_collections_screenshot.py
Options: --query TEXT, --out PATH, --bundle PATH (default: the installed built-in model).

The demo library is indexed in a scratch data dir with two collections made through the catalog
("Favourites" picked by hand, "Coffee search" a saved search); the window then searches, the
first result of another kind than the top one is marked "More like this", and the grid re-ranks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_screenshot  # noqa: E402 - next to this script
from make_screenshot import ROOT, wait_until  # noqa: E402

MARKED = "horse"  # the photo marked "More like this"


def take(photos: Path, query: str, out: Path) -> None:
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.core.catalog import Catalog
    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    with Catalog() as catalog:
        ids = {Path(r.path).stem: r.image_id for r in catalog.recent_files(100)}
        favourites = catalog.create_collection("Favourites")
        catalog.add_to_collection(favourites, [ids[n] for n in ("chelsea", "horse", "astronaut") if n in ids])
        coffee = catalog.create_collection("Coffee search", {"text": "a cup of coffee"})
        catalog.add_to_collection(coffee, [ids[n] for n in ("coffee",) if n in ids])
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Library(device="cpu"), Settings())
    window.resize(*make_screenshot.WINDOW_SIZE)
    window.show()
    wait_until(lambda: len(window.model.rows()) > 0 and window.collections.panel.list.count() == 3, "the library to show")
    shown: list[int] = []
    window.resultsShown.connect(shown.append)
    window.search_field.setFocus()
    QTest.keyClicks(window.search_field, query)
    wait_until(lambda: shown and window.status_label.text().endswith(("result", "results")), "the query's results")
    rows = [Path(row.record.path).stem for row in window.model.rows()]
    window.view.selectionModel().select(window.model.index(rows.index(MARKED)), QItemSelectionModel.SelectionFlag.Select)
    shown.clear()
    window.feedback.more_action.trigger()
    wait_until(lambda: shown and window.feedback.chips.chips(), "the refined results")
    window.view.setCurrentIndex(window.model.index(0))
    wait_until(lambda: all(pixmap is not None for pixmap in make_screenshot.visible_thumbnails(window)), "the thumbnails")
    wait_until(lambda: not (window.preview.image.pixmap() is None or window.preview.image.pixmap().isNull()), "the preview")
    wait_until(lambda: not window.text_pass.is_running(), "the text pass (its progress bar) to end", 120)
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise SystemExit(f"{out}: could not write the screenshot")
    print(f"query {query!r} + more like {MARKED}: first {[Path(r.record.path).stem for r in window.model.rows()[:5]]}")
    window.close()


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    make_screenshot.SCRATCH = make_screenshot.SCRATCH.with_name("picsift-collections-screenshot")
    make_screenshot.take = take
    make_screenshot.main(__doc__, "an animal", ROOT / "docs" / "collections_feedback.png")
