"""Take docs/get_model.png and docs/get_model_progress.png: Model > Get a better model...

Run (a real X server in memory; needs Debian's xvfb and libxcb-cursor0):
    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_get_model_screenshot.py
or with no display at all:
    QT_QPA_PLATFORM=offscreen python docs/make_get_model_screenshot.py

get_model.png: the curated list (models/data/hub_models.json) with the estimates for a library of
--photos photos on this computer, the CPU recommendation selected. get_model_progress.png: a download
in progress, from the tests' loopback hub stand-in (tests/hub_stand_in.py) serving a tiny random CLIP
under a made-up id, slowed to show the bar; this machine has no way to the real hub.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

SCRATCH = Path(tempfile.gettempdir()) / "picsift-get-model-screenshot"
TINY_ID = "example/tiny-clip-for-the-screenshot"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=12_000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.environ["PICSIFT_DATA_DIR"] = str(SCRATCH / "data")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    try:
        list_shot(app, args.photos, args.out / "get_model.png")
        progress_shot(app, args.photos, args.out / "get_model_progress.png")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)


def _wait(app, condition, seconds: float = 60) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the dialog")
        app.processEvents()
        time.sleep(0.01)


def list_shot(app, photos: int, out: Path) -> None:
    from desktop.ui.get_model import GetModelDialog

    dialog = GetModelDialog(photos)
    dialog.show()
    _wait(app, lambda: dialog.machine is not None)
    app.processEvents()
    dialog.grab().save(str(out))
    dialog.reject()
    print(f"wrote {out}")


def progress_shot(app, photos: int, out: Path) -> None:
    from dataclasses import replace

    from hub_stand_in import HubStandIn
    from tiny_models import make_tiny

    from desktop.ui.get_model import GetModelDialog
    from models import hub_catalog

    base = hub_catalog.hub_models()[0]
    tiny = replace(base, hub_id=TINY_ID, name="Tiny random CLIP (stand-in; B/32's figures)", download_bytes=4_900_000,
                   parameters=1_200_000, recommended=())
    hub_catalog.hub_models = lambda: (*hub_catalog.load_catalog(hub_catalog.CATALOG_FILE), tiny)
    with HubStandIn({TINY_ID: make_tiny("clip", SCRATCH / "repo")}) as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        hub.slow_down_s = 0.05
        dialog = GetModelDialog(photos)
        dialog.show()
        _wait(app, lambda: dialog.machine is not None)
        dialog.table.selectRow(len(dialog.models) - 1)
        dialog.start_selected()
        _wait(app, lambda: " of " in dialog.status.text() and dialog.bar.value() >= 2)
        app.processEvents()
        dialog.grab().save(str(out))
        dialog.reject()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
