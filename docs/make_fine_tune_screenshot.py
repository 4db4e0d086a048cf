"""Take docs/fine_tune.png: the "Teach picsift your folders" dialog at the end of a real Quick run.

Run (a real X server in memory; needs Debian's xvfb and libxcb-cursor0, and Fashion-MNIST):
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_fine_tune_screenshot.py
or with no display at all:
    QT_QPA_PLATFORM=offscreen python docs/make_fine_tune_screenshot.py
Options: --per-class N (photos per label, default 40), --out PATH, --bundle PATH (default: the
installed built-in model).

Fashion-MNIST photos are written as labelled folders in a scratch data dir (one label gets only
three photos, to show the warning), the dialog is opened on them, Quick is started, and the
script waits for the trainer's `done` event before grabbing the dialog.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
sys.path.insert(0, str(ROOT))

from make_screenshot import builtin_bundle  # noqa: E402 - the same bundle lookup as the main screenshot

SCRATCH = Path(tempfile.gettempdir()) / "picsift-fine-tune-screenshot"  # fixed: the same paths every time
RUN_TIMEOUT_MS = 600_000
SMALL_LABEL, SMALL_COUNT = "Sandal", 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "fine_tune.png")
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    args = parser.parse_args()
    bundle = args.bundle or builtin_bundle()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    try:
        take(labelled_folders(bundle, args.per_class), args.out)
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"wrote {args.out}")


def labelled_folders(bundle: Path, per_class: int) -> Path:
    """A scratch data dir with the bundle linked in, and Fashion-MNIST as labelled folders; returns their root."""
    os.environ["PICSIFT_DATA_DIR"] = str(SCRATCH / "data")
    from models import paths, registry
    from trainer.data.sources import write_fashion_mnist_folders

    (paths.models_dir() / registry.DEFAULT_BUNDLE).symlink_to(bundle.resolve(), target_is_directory=True)
    root = write_fashion_mnist_folders(SCRATCH / "Clothes", per_class=per_class, split="train", seed=0)
    for extra in sorted((root / SMALL_LABEL).iterdir())[SMALL_COUNT:]:
        extra.unlink()
    return root


def take(root: Path, out: Path) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.ui.fine_tune import FineTuneDialog

    app = QApplication.instance() or QApplication([])
    dialog = FineTuneDialog(root=str(root))
    dialog.show()
    loop, ended = QEventLoop(), {}
    dialog.finishedRun.connect(lambda event: (ended.update(event), loop.quit()))
    QTimer.singleShot(RUN_TIMEOUT_MS, loop.quit)
    dialog.start()
    loop.exec()
    if ended.get("event") != "done":
        raise SystemExit(f"the run failed: {ended.get('message', 'no result in time')} ({dialog.status.text()})")
    for _ in range(5):
        app.processEvents()  # the chart and table paint
    out.parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(str(out)):
        raise SystemExit(f"could not write {out}")
    dialog.close()


if __name__ == "__main__":
    main()
