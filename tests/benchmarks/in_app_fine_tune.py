"""Fine-tuning as the user experiences it: the app's dialog, its trainer process, and how responsive the app stays.

    python tests/benchmarks/in_app_fine_tune.py [--per-class 375] [--builtin BUNDLE] [--skip-thorough] [--out FILE]

Data: --per-class images of each of the 10 classes from the official Fashion-MNIST TRAIN set,
written as labelled folders (3,750 photos by default); the trainer's seeded 80/10/10 split per
class gives the held-out test part the metrics come from.
An offscreen QApplication shows `FineTuneDialog` on that root folder, as "Teach picsift your
folders" does, in a temporary PICSIFT_DATA_DIR holding the built-in bundle (--builtin linked in,
else built there first, not timed). Each run clicks Start and waits for the trainer's `done`:
  quick_cold     Quick (the mapper stage), empty feature cache: the encoders run on every photo
  quick_cached   Quick again, encoder features read from the cache
  thorough       Thorough (image encoder's last blocks, then the mapper); --skip-thorough skips it
Per run:
  wall_seconds            click on Start -> the `done` event reaches the dialog (what the user waits)
  first_feedback_seconds  click -> the first task or progress event (the bar starts moving: photos
                          being read count, as the dialog shows them)
  first_progress_seconds  click -> the first training step reported
  trainer_seconds         the trainer's own figure in `done` (without interpreter start-up)
  test t2i / i2t mAP@all  held-out test, the built-in model zero-shot (baseline) and fine-tuned, from `done`
  longest_stall_ms        the dialog process's worst event-loop stall while training, measured
                          and explained by tests/benchmarks/ui_responsiveness.py's StallMeter
                          (a 5 ms QTimer's longest gap between ticks, minus 5 ms; target under 100 ms)
Writes tests/benchmarks/results/in_app_fine_tune.json (or --out) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fine_tune import with_builtin  # noqa: E402 - the same data dir set-up as the trainer benchmark
from ui_responsiveness import EXPLAINED_STALLS, TARGET_STALL_MS, TICK_MS, StallMeter  # noqa: E402 - the app's stall meter

from trainer.data.sources import write_fashion_mnist_folders  # noqa: E402 - numpy and PIL only, no torch in the app process

RESULTS = Path(__file__).parent / "results" / "in_app_fine_tune.json"
RUN_TIMEOUT_S = 4 * 3600  # a Thorough run of 3,750 photos on a slow CPU still ends well within this


def stall_summary(meter: StallMeter) -> dict:
    """The figures of one run from ui_responsiveness's meter, with its breakdown of the worst stalls."""
    stalls = meter.stalls_ms()
    return {"longest_stall_ms": round(float(stalls.max(initial=0.0)), 1),
            "p99_stall_ms": round(float(np.percentile(stalls, 99)) if len(stalls) else 0.0, 1),
            "stalls_over_100ms": int((stalls > TARGET_STALL_MS).sum()), "ticks": len(meter.ticks),
            "worst_stalls": meter.explain(EXPLAINED_STALLS)}


def run_dialog(data: Path, name: str, thorough: bool) -> dict:
    """Open the dialog on `data`, choose Quick or Thorough, click Start, wait for the run to end."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.ui.fine_tune import FineTuneDialog

    dialog = FineTuneDialog(root=str(data))
    dialog.name.setText(name)
    (dialog.thorough if thorough else dialog.quick).setChecked(True)
    dialog.show()
    arrived: dict[str, float] = {}
    handle = dialog.handle_event

    def timed(event: dict) -> None:
        arrived.setdefault(event.get("event", "?"), time.perf_counter())
        handle(event)

    dialog.handle_event = timed  # _read calls self.handle_event for every JSON line
    loop, ended = QEventLoop(), {}
    dialog.finishedRun.connect(lambda event: (ended.update(event=event, at=time.perf_counter()), loop.quit()))
    QTimer.singleShot(RUN_TIMEOUT_S * 1000, loop.quit)
    meter = StallMeter()
    for _ in range(5):
        QApplication.processEvents()  # the dialog settles on screen before timing
    meter.start()
    clicked = time.perf_counter()
    QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    loop.exec()
    meter.stop()
    event = ended.get("event") or {"event": "error", "message": f"no result in {RUN_TIMEOUT_S} s"}
    shown = dialog.status.text()
    dialog.close()
    dialog.deleteLater()
    if event.get("event") != "done":
        raise SystemExit(f"{name}: the run failed: {event.get('message')} (dialog: {shown})")
    report = json.loads(Path(event["report"]).read_text())
    return {"wall_seconds": round(arrived["done"] - clicked, 1),
            "first_feedback_seconds": round(min(arrived.get(k, math.inf) for k in ("task", "progress")) - clicked, 1),
            "first_progress_seconds": round(arrived["progress"] - clicked, 1) if "progress" in arrived else None,
            "process_exit_seconds": round(ended["at"] - clicked, 1),
            "trainer_seconds": event["seconds"], "timings": report["timings_seconds"],
            "baseline_test_t2i_mAP@all": event["baseline"]["text_to_image_mAP@all"],
            "baseline_test_i2t_mAP@all": event["baseline"]["image_to_text_mAP@all"],
            "test_t2i_mAP@all": event["metrics"]["text_to_image_mAP@all"],
            "test_i2t_mAP@all": event["metrics"]["image_to_text_mAP@all"],
            **stall_summary(meter), "load_average_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=375, help="images per class written (default 375)")
    parser.add_argument("--builtin", help="an up-to-date built-in bundle folder (default: build one)")
    parser.add_argument("--skip-thorough", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(ROOT)})")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    work = Path(tempfile.mkdtemp(prefix="picsift-in-app-fine-tune-"))
    data_dir, data = work / "data-dir", work / "clothes"
    write_fashion_mnist_folders(data, args.per_class, split="train", seed=0)
    with_builtin(data_dir, args.builtin)
    os.environ["PICSIFT_DATA_DIR"] = str(data_dir)  # the dialog's trainer process inherits it
    os.chdir(ROOT)
    app = QApplication.instance() or QApplication([])

    runs = {}
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    runs["quick_cold"] = run_dialog(data, "in-app-quick", thorough=False)
    runs["quick_cached"] = run_dialog(data, "in-app-quick", thorough=False)
    if not args.skip_thorough:
        runs["thorough"] = run_dialog(data, "in-app-thorough", thorough=True)
    results = {"data": {"train_source": f"Fashion-MNIST train, {args.per_class} per class x 10, labelled folders",
                        "photos": args.per_class * 10,
                        "split": "seeded 80/10/10 per class (trainer default); metrics on the held-out test part"},
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "qt_platform": app.platformName()},
               "stall_meter_ms": TICK_MS, "target_stall_ms": TARGET_STALL_MS, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(runs)
    shutil.rmtree(work, ignore_errors=True)


def print_table(runs: dict) -> None:
    print("| run | click -> done s | bar moves after s | first training step s | test t2i mAP@all zero-shot -> tuned | "
          "test i2t mAP@all zero-shot -> tuned | longest stall ms | stalls > 100 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        print(f"| {name} | {r['wall_seconds']} | {r['first_feedback_seconds']} | {r['first_progress_seconds']} | "
              f"{r['baseline_test_t2i_mAP@all']:.3f} -> {r['test_t2i_mAP@all']:.3f} | "
              f"{r['baseline_test_i2t_mAP@all']:.3f} -> {r['test_i2t_mAP@all']:.3f} | "
              f"{r['longest_stall_ms']} | {r['stalls_over_100ms']} |")


if __name__ == "__main__":
    main()
