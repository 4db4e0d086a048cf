"""Take docs/sort_unsorted.png: the "Sort unsorted photos" dialog reviewing real suggestions of the built-in model.

Run like make_screenshot.py (a real X server in memory, or offscreen):
    QT_QPA_PLATFORM=offscreen python docs/make_sort_screenshot.py [--bundle PATH] [--out PATH]

Labelled folders (LABELLED Fashion-MNIST training photos of each of six classes) and an inbox (UNSORTED
test photos of each, and of a class with no folder) are written and indexed in a scratch data dir; the
window opens the dialog on the labelled folders, and the script waits (on conditions, never a fixed
sleep) for the suggestions and their thumbnails, accepts two photos, rejects one, and grabs the dialog
at 1000x650. Needs Fashion-MNIST (Debian's fashion-mnist package).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "docs")]

import make_screenshot  # noqa: E402
from make_screenshot import builtin_bundle, index_demo_library, wait_until  # noqa: E402

SCRATCH = make_screenshot.SCRATCH = Path(tempfile.gettempdir()) / "picsift-sort-screenshot"  # its own: scripts may run at once
LABELS = ("Ankle boot", "Bag", "Dress", "Sandal", "Sneaker", "Trouser")  # Fashion-MNIST classes given a folder
CLASSES_WITHOUT_FOLDER = ("Shirt",)  # in the inbox too: photos no label fits
LABELLED, UNSORTED = 20, 12  # photos per class in its folder, and in the inbox
SHOWN = "Sneaker"
DIALOG_SIZE = (1000, 650)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sort_unsorted.png")
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    args = parser.parse_args()
    bundle = args.bundle or builtin_bundle()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    try:
        photos = index_demo_library(bundle, write_photos)
        take(photos / "Clothes", args.out)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"wrote {args.out}")


def write_photos(folder: Path) -> None:
    """folder/Clothes/<label>/: LABELLED Fashion-MNIST training photos of each of LABELS; folder/Inbox/: UNSORTED
    test photos of each, and of CLASSES_WITHOUT_FOLDER (no label fits them)."""
    from trainer.data.sources import write_fashion_mnist_folders

    everything = write_fashion_mnist_folders(SCRATCH / "train", per_class=LABELLED, split="train")
    for label in LABELS:
        (everything / label).rename(_made(folder / "Clothes") / label)
    inbox = _made(folder / "Inbox")
    unsorted = write_fashion_mnist_folders(SCRATCH / "test", per_class=UNSORTED, split="test")
    for label in (*LABELS, *CLASSES_WITHOUT_FOLDER):
        for photo in sorted((unsorted / label).iterdir()):
            photo.rename(inbox / photo.name)  # test-<row>.png: the name tells nothing of the class


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def take(root: Path, out: Path) -> None:
    from PySide6.QtCore import QItemSelectionModel, Qt
    from PySide6.QtWidgets import QApplication

    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow
    from desktop.ui.sort_dialog import open_sort_dialog

    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow(Library(device="cpu"), Settings())
    window.show()
    wait_until(lambda: len(window.model.rows()) > 0, "the library to show")
    dialog = open_sort_dialog(window, root)
    dialog.resize(*DIALOG_SIZE)
    wait_until(lambda: not dialog.is_busy() and dialog.review is not None, "the suggestions")
    panel = dialog.panel
    panel.select_label(SHOWN)
    for row, decide in ((0, panel.accept_action), (1, panel.accept_action), (4, panel.reject_action)):
        panel.view.selectionModel().clearSelection()
        panel.view.selectionModel().select(panel.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        decide.trigger()
    panel.view.selectionModel().clearSelection()
    cells = [panel.model.index(row) for row in range(panel.model.rowCount())]
    wait_until(lambda: all(index.data(Qt.ItemDataRole.DecorationRole) is not None for index in cells), "the thumbnails")
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(str(out)):
        raise SystemExit(f"{out}: could not write the screenshot")
    counts = {name: dialog.review.count(name) for name in dialog.review.labels}
    print(f"{len(dialog.review.suggestions)} suggestions; {panel.threshold_label.text().lower()}: {counts}")
    window.close()


if __name__ == "__main__":
    main()
