"""The window never freezes: event-loop stalls while it indexes 1,000 photos and answers searches.

Run: python tests/benchmarks/ui_responsiveness.py [--photos 1000] [--bundle PATH] [--trace-stalls]
Writes tests/benchmarks/results/ui_responsiveness.json and prints a table. Target: longest stall
under 100 ms.

The real MainWindow runs offscreen with the built-in model in a temp data dir. Once the model is
warm, the script adds a folder of realistic 1-3 megapixel JPEGs (EXIF dates, cameras and
orientations; each a different crop, colour and noise of a scikit-image sample; generated once
and cached in /tmp, not timed) and, until `indexingFinished`:
  - a 5 ms QTimer records the gaps between its ticks; a gap minus 5 ms is a stall of the event loop,
  - every 300 ms a new text query is put in the search field and `search_now()` called; a query is
    answered when `resultsShown` next fires (the window drops superseded results, so one signal
    answers every query issued before it),
  - every 50 ms the results grid scrolls (down, then back up), which paints cells and loads thumbnails.
--trace-stalls adds a watchdog thread that records the GUI thread's Python stack during each stall
over 50 ms (what a `py-spy dump` would show), to find the slot that blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the packages, and tests/ for image_zoo
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

RESULTS = Path(__file__).parent / "results" / "ui_responsiveness.json"
TICK_MS = 5  # stall meter interval
SEARCH_EVERY_MS = 300
SCROLL_EVERY_MS = 50
SCROLL_STEP_PX = 120
TARGET_STALL_MS = 100.0
SIZES = ((1280, 960), (1600, 1200), (1920, 1080), (2048, 1536))  # 1.2 to 3.1 megapixels, landscape as stored
QUERIES = (
    "a cat", "a cup of coffee", "a rocket on the launch pad", "an astronaut", "old coins", "the moon",
    "a brick wall", "a clock", "galaxies in deep space", "a motorcycle", "gravel stones", "a man with a camera",
    "grass", "tissue under a microscope", "the retina of an eye", "a tabby cat sleeping",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    parser.add_argument("--library", type=Path, default=None, help="photo folder cache (default: /tmp/picsift-ui-bench-N)")
    parser.add_argument("--trace-stalls", action="store_true", help="record the GUI thread's stack during stalls")
    args = parser.parse_args()
    bundle = args.bundle or builtin_bundle()
    library = write_library(args.library or Path(tempfile.gettempdir()) / f"picsift-ui-bench-{args.photos}", args.photos)
    with tempfile.TemporaryDirectory() as tmp:
        install_bundle(bundle, Path(tmp) / "data")
        result = measure(library, args.trace_stalls)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


# --- setting up -----------------------------------------------------------------------------
def builtin_bundle() -> Path:
    """The built-in bundle in the user's data dir, built there first if missing."""
    from models import registry
    from models.errors import BundleError

    try:
        return registry.open_installed(registry.DEFAULT_BUNDLE).folder
    except BundleError:
        from trainer.default_model import build_default_bundle

        return build_default_bundle()


def install_bundle(bundle: Path, data_dir: Path) -> None:
    """Point PICSIFT_DATA_DIR at `data_dir` and link the bundle in as the built-in one."""
    from models import paths, registry

    os.environ[paths.ENV_DATA_DIR] = str(data_dir)
    (paths.models_dir() / registry.DEFAULT_BUNDLE).symlink_to(bundle.resolve(), target_is_directory=True)


def write_library(folder: Path, count: int) -> Path:
    """`count` distinct camera-like JPEGs in `folder`, written once (in parallel) and reused after."""
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_write_one, [(folder, i) for i in range(count)], chunksize=16))
    done.write_text(f"{count}\n")
    print(f"wrote {count} photos to {folder} in {time.monotonic() - started:.0f} s (cached for later runs)")
    return folder


def _write_one(job: tuple[Path, int]) -> None:
    from image_zoo import CAMERAS, _varied_picture, write_photo

    folder, i = job
    rng = np.random.default_rng(i)  # one seed per photo: the same library on every machine
    stored = SIZES[int(rng.integers(len(SIZES)))]
    orientation = int(rng.choice([1, 1, 1, 3, 6, 8]))
    upright = stored[::-1] if orientation in (6, 8) else stored
    taken_at = datetime(2016, 1, 1) + timedelta(seconds=int(rng.integers(0, 8 * 365 * 86400)))
    camera = CAMERAS[int(rng.integers(len(CAMERAS)))]
    picture = _varied_picture(rng, upright)
    write_photo(folder / f"IMG_{i:04d}.jpg", "", upright, orientation, taken_at, camera, picture=picture)


# --- measuring ------------------------------------------------------------------------------
class StallMeter:
    """A fast QTimer whose tick gaps show how long the event loop was busy elsewhere."""

    def __init__(self, trace: bool):
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer, timeout=self._tick)
        self.stacks: Counter[str] = Counter()
        self._trace = trace
        self._stop = threading.Event()

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.timer.start()
        if self._trace:
            threading.Thread(target=self._watch, args=(threading.main_thread().ident,), daemon=True).start()

    def stop(self) -> None:
        self.timer.stop()
        self._stop.set()

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def _watch(self, gui_thread: int) -> None:
        """Sample the GUI thread's stack once per stall over 50 ms."""
        seen = 0.0
        while not self._stop.wait(0.01):
            last = self.ticks[-1]
            if time.perf_counter() - last > 0.05 and last != seen:
                seen = last
                frame = sys._current_frames().get(gui_thread)
                if frame is not None:
                    self.stacks["".join(traceback.format_stack(frame, limit=8))] += 1

    def stalls_ms(self) -> np.ndarray:
        return np.maximum(np.diff(np.asarray(self.ticks)) * 1000 - TICK_MS, 0.0)


class SearchDriver:
    """Types a new query every 300 ms and scrolls the grid; times each query until results show."""

    def __init__(self, window):
        from PySide6.QtCore import QTimer

        self.window = window
        self.issued = 0
        self.scrolls = 0
        self.latencies_ms: list[float] = []
        self._waiting: list[float] = []  # issue times of queries not yet answered
        self._direction = 1
        self.search_timer = QTimer(interval=SEARCH_EVERY_MS, timeout=self.search)
        self.scroll_timer = QTimer(interval=SCROLL_EVERY_MS, timeout=self.scroll)
        window.resultsShown.connect(self._answered)

    def start(self) -> None:
        self.search_timer.start()
        self.scroll_timer.start()

    def stop(self) -> None:
        self.search_timer.stop()
        self.scroll_timer.stop()

    def search(self) -> None:
        self.window.search_field.setText(QUERIES[self.issued % len(QUERIES)])
        self._waiting.append(time.perf_counter())
        self.issued += 1
        self.window.search_now()

    def scroll(self) -> None:
        bar = self.window.view.verticalScrollBar()
        if bar.value() >= bar.maximum():
            self._direction = -1
        elif bar.value() <= bar.minimum():
            self._direction = 1
        bar.setValue(bar.value() + self._direction * SCROLL_STEP_PX)
        self.scrolls += 1

    def _answered(self, _rows: int) -> None:
        now = time.perf_counter()
        self.latencies_ms += [(now - issued) * 1000 for issued in self._waiting]
        self._waiting = []


def measure(library: Path, trace: bool) -> dict:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from desktop.core.library import Library
    from desktop.core.settings import Settings
    from desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Library(device="cpu"), Settings())
    window.show()
    _wait_until(app, lambda: window.library._runtime is not None and "loading" not in window.provider_label.text())
    meter, driver = StallMeter(trace), SearchDriver(window)
    finished: list = []
    loop = QEventLoop()
    window.indexingFinished.connect(lambda progress: (finished.append(progress), loop.quit()))
    started = time.perf_counter()
    meter.start()
    driver.start()
    window.add_folder(str(library))
    loop.exec()
    indexing_s = time.perf_counter() - started
    meter.stop()
    driver.stop()
    window.close()
    return _figures(finished[0], indexing_s, meter, driver)


def _wait_until(app, condition, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get ready in time")
        app.processEvents()
        time.sleep(0.005)


def _figures(progress, indexing_s: float, meter: StallMeter, driver: SearchDriver) -> dict:
    stalls = meter.stalls_ms()
    latencies = np.asarray(driver.latencies_ms or [float("nan")])
    figures = {
        "photos": progress.total,
        "encoded": progress.encoded,
        "failed": progress.failed,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "indexing_s": round(indexing_s, 1),
        "indexing_images_per_s": round(progress.total / indexing_s, 1),
        "timer_interval_ms": TICK_MS,
        "ticks": len(stalls),
        "stall_longest_ms": round(float(stalls.max()), 1),
        "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1),
        "stall_p999_ms": round(float(np.percentile(stalls, 99.9)), 1),
        "stalls_over_50ms": int((stalls > 50).sum()),
        "stalls_over_100ms": int((stalls > 100).sum()),
        "searches_issued": driver.issued,
        "searches_answered": len(driver.latencies_ms),
        "search_latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "search_latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "search_latency_max_ms": round(float(latencies.max()), 1),
        "scrolls": driver.scrolls,
        "target_stall_ms": TARGET_STALL_MS,
        "meets_target": bool(stalls.max() < TARGET_STALL_MS),
    }
    if meter.stacks:
        figures["stall_stacks"] = [{"count": n, "stack": stack} for stack, n in meter.stacks.most_common(5)]
    return figures


def print_table(result: dict) -> None:
    print("| figure | value |\n|---|---|")
    for key, value in result.items():
        if key != "stall_stacks":
            print(f"| {key} | {value} |")
    for entry in result.get("stall_stacks", []):
        print(f"\nGUI thread during {entry['count']} stall(s) over 50 ms:\n{entry['stack']}")


if __name__ == "__main__":
    main()
