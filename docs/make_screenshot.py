"""Take docs/screenshot.png: the real window showing results for a typed query over the demo photos.

Run (a real X server in memory; needs Debian's xvfb and libxcb-cursor0):
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_screenshot.py
or with no display at all:
    QT_QPA_PLATFORM=offscreen python docs/make_screenshot.py
Options: --query TEXT, --out PATH, --bundle PATH (default: the installed built-in model).

The demo library is written and indexed in a scratch data dir, then the window is opened at
1280x800, the query typed into the search field, and the script waits (on conditions, never a
fixed sleep) until the results, their thumbnails and the first result's preview are on screen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRATCH = Path(tempfile.gettempdir()) / "picsift-screenshot"  # a fixed name: the same paths in every screenshot
WINDOW_SIZE = (1280, 800)
WAIT_S = 60.0


def main(description: str = __doc__, query: str = "a cup of coffee", out: Path = ROOT / "docs" / "screenshot.png",
         write=None) -> None:
    """The command line of this script, and of the others that take a screenshot of the window the same way
    over demo photos that `write(folder)` writes (default: the demo library)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query", default=query)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    args = parser.parse_args()
    bundle = args.bundle or builtin_bundle()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    try:
        photos = index_demo_library(bundle, write)
        take(photos, args.query, args.out)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"wrote {args.out}")


def builtin_bundle() -> Path:
    """The built-in bundle in the user's data dir, built there first if missing."""
    from models import registry
    from models.errors import BundleError

    try:
        return registry.open_installed(registry.DEFAULT_BUNDLE).folder
    except BundleError:
        from trainer.export.default_model import build_default_bundle

        return build_default_bundle()


def index_demo_library(bundle: Path, write=None) -> Path:
    """A scratch data dir with the bundle linked in and the demo photos (written by `write(folder)`, default
    write_demo_library) indexed; returns the photo folder."""
    os.environ["PICSIFT_DATA_DIR"] = str(SCRATCH / "data")
    from desktop.core.demo_library import write_demo_library
    from desktop.core.library import Library
    from models import paths, registry

    (paths.models_dir() / registry.DEFAULT_BUNDLE).symlink_to(bundle.resolve(), target_is_directory=True)
    photos = SCRATCH / "Pictures"
    (write or write_demo_library)(photos)
    library = Library(device="cpu")
    library.catalog.add_folder(photos)
    for _ in library.indexer().run():
        pass
    library.close()
    return photos


def take(photos: Path, query: str, out: Path) -> None:
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    depth = app.primaryScreen().depth()
    if depth < 24:
        raise SystemExit(f"the screen has {depth}-bit colour; run Xvfb with 24 bits (-screen 0 1600x1000x24)")
    window = MainWindow(Library(device="cpu"), Settings())
    window.resize(*WINDOW_SIZE)
    window.show()
    wait_until(lambda: len(window.model.rows()) > 0, "the library to show")
    shown: list[int] = []
    window.resultsShown.connect(shown.append)
    window.search_field.setFocus()
    QTest.keyClicks(window.search_field, query)  # typed like a person: the debounced search runs
    wait_until(lambda: shown and window.status_label.text().endswith(("result", "results")), "the query's results")
    wait_until(lambda: all(pixmap is not None for pixmap in visible_thumbnails(window)), "the thumbnails")
    window.view.setCurrentIndex(window.model.index(0))
    wait_until(lambda: not (window.preview.image.pixmap() is None or window.preview.image.pixmap().isNull()), "the preview")
    wait_until(lambda: "loading" not in window.provider_label.text(), "the model's name in the status bar")
    app.processEvents()
    first = window.model.rows()[0].name
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise SystemExit(f"{out}: could not write the screenshot")
    print(f"query {query!r}: {len(window.model.rows())} results, first {first}")
    window.close()


def visible_thumbnails(window) -> list:
    """The decoration (thumbnail pixmap or None while loading) of every cell in the visible part of the grid."""
    from PySide6.QtCore import Qt

    view, model = window.view, window.model
    area = view.viewport().rect()
    indexes = [model.index(row) for row in range(model.rowCount())]
    return [index.data(Qt.ItemDataRole.DecorationRole) for index in indexes if view.visualRect(index).intersects(area)]


def wait_until(condition, what: str, timeout_s: float = WAIT_S) -> None:
    """Run the event loop until `condition()` holds, checking every 10 ms."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer(interval=10, timeout=lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    timer.start()
    if not condition():
        loop.exec()
    timer.stop()
    if not condition():
        raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")


if __name__ == "__main__":
    main()
