"""Take docs/text_in_photos.png: the real window's preview showing the text read in a photo, and where it was taken.

Run like make_screenshot.py (a real X server in memory, or offscreen):
    QT_QPA_PLATFORM=offscreen python docs/make_text_screenshot.py [--bundle PATH] [--out PATH]

The demo library and two photos with printed text (a receipt and a street sign, both with a GPS
position in Porto) are written and indexed in a scratch data dir; the window then runs its text
pass by itself, as at any start-up with photos left unread. The script waits for the pass to end,
selects the receipt and waits (on conditions, never a fixed sleep) until its text is in the preview.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "docs"), str(ROOT / "tests")]

import make_screenshot  # noqa: E402
from make_screenshot import WINDOW_SIZE, builtin_bundle, index_demo_library, wait_until  # noqa: E402

SCRATCH = make_screenshot.SCRATCH = Path(tempfile.gettempdir()) / "picsift-text-screenshot"  # not the other script's: both may run at once

RECEIPT = ("CORNER SHOP", "12 HARBOUR ST", "MILK        1.20", "BREAD       2.10", "COFFEE      5.10", "TOTAL       8.40")
PORTO = {1: "N", 2: (41.0, 8.0, 26.4), 3: "W", 4: (8.0, 36.0, 48.0)}  # GPS IFD: latitude/longitude refs and values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "text_in_photos.png")
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    args = parser.parse_args()
    bundle = args.bundle or builtin_bundle()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    try:
        write_text_photos(SCRATCH / "Pictures")
        index_demo_library(bundle)
        take(args.out)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"wrote {args.out}")


def write_text_photos(folder: Path) -> None:
    from PIL import ExifTags, Image
    from text_photos import receipt, sign_photo

    folder.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = PORTO
    receipt(RECEIPT).save(folder / "receipt.jpg", quality=92, exif=exif.tobytes())
    sign_photo("brick", "RUA DAS FLORES", "DejaVuSerif-Bold.ttf", 44, photo_size=(800, 600)).save(
        folder / "street_sign.jpg", quality=92, exif=exif.tobytes())


def take(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Library(device="cpu"), Settings())
    window.resize(*WINDOW_SIZE)
    window.show()
    wait_until(lambda: len(window.model.rows()) > 0, "the library to show")
    wait_until(lambda: window.text_pass.worker is not None and not window.text_pass.is_running(), "the text pass", 300)
    wait_until(lambda: not window._relays, "the search after the text pass")
    row = next(i for i, r in enumerate(window.model.rows()) if r.name == "receipt.jpg")
    window.view.setCurrentIndex(window.model.index(row))
    preview = window.preview
    wait_until(lambda: preview.text_box.isVisibleTo(preview), "the receipt's text in the preview")
    wait_until(lambda: not (preview.image.pixmap() is None or preview.image.pixmap().isNull()), "the preview")
    preview.text_box.selectAll()  # as a person about to copy it
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        raise SystemExit(f"{out}: could not write the screenshot")
    print("text shown:", preview.text_box.toPlainText().replace("\n", " | "))
    window.close()


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    main()
