"""The window never freezes: event-loop stalls while it indexes 1,000 photos and answers searches.

Run: python tests/benchmarks/ui_responsiveness.py [--photos 1000] [--runs 3] [--bundle PATH]
Writes tests/benchmarks/results/ui_responsiveness.json and prints a table. Target: the longest
stall of every run under 100 ms.

Each run is a fresh process that starts the app as `picsift` does (`run_app`, offscreen unless
QT_QPA_PLATFORM says otherwise) on a new temp data dir with the built-in model. Once the model is
warm it adds a folder of realistic 1-3 megapixel JPEGs (EXIF dates, cameras and orientations; each
a different crop, colour and noise of a scikit-image sample; generated once and cached in /tmp,
not timed) and, until `indexingFinished`:
  - a 5 ms QTimer records the gaps between its ticks; a gap minus 5 ms is a stall of the event loop,
  - every 300 ms a new text query goes into the search field and `search_now()` runs; a query is
    answered when `resultsShown` next fires (the window drops superseded results, so one signal
    answers every query issued before it),
  - every 50 ms the results grid scrolls (down, then back up), which paints cells and loads thumbnails.
Each of the worst stalls is explained (Linux): the GUI thread's own CPU time, its time waiting for
a core (run queue, from /proc/thread-self/schedstat), the rest blocked (the GIL or a lock), and
any garbage collection overlapping it. The CPU pressure of other processes before each run is kept
with it: on a shared machine it shows up as `waiting_for_cpu_ms`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the packages, and tests/ for image_zoo

RESULTS = Path(__file__).parent / "results" / "ui_responsiveness.json"
TICK_MS = 5  # stall meter interval
SEARCH_EVERY_MS = 300
SCROLL_EVERY_MS = 50
SCROLL_STEP_PX = 120
TARGET_STALL_MS = 100.0
EXPLAINED_STALLS = 5  # worst stalls per run that get a breakdown
SIZES = ((1280, 960), (1600, 1200), (1920, 1080), (2048, 1536))  # 1.2 to 3.1 megapixels, landscape as stored
QUERIES = (
    "a cat", "a cup of coffee", "a rocket on the launch pad", "an astronaut", "old coins", "the moon",
    "a brick wall", "a clock", "galaxies in deep space", "a motorcycle", "gravel stones", "a man with a camera",
    "grass", "tissue under a microscope", "the retina of an eye", "a tabby cat sleeping",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    parser.add_argument("--library", type=Path, default=None, help="photo folder cache (default: /tmp/picsift-ui-bench-N)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    bundle = args.bundle or builtin_bundle()
    library = write_library(args.library or Path(tempfile.gettempdir()) / f"picsift-ui-bench-{args.photos}", args.photos)
    runs = [run_once(library, bundle) for _ in range(args.runs)]
    result = summarise(runs)
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
        from trainer.export.default_model import build_default_bundle

        return build_default_bundle()


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


def run_once(library: Path, bundle: Path) -> dict:
    """One fresh app process on a new data dir with `bundle` linked in; its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        (data_dir / "models").mkdir(parents=True)
        (data_dir / "models" / "picsift-builtin").symlink_to(bundle.resolve(), target_is_directory=True)
        env = {**os.environ, "PICSIFT_DATA_DIR": str(data_dir)}
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        pressure = _cpu_pressure()
        done = subprocess.run([sys.executable, __file__, "--child", str(library)], env=env, capture_output=True, text=True)
    figures = next((json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")), None)
    if done.returncode != 0 or figures is None or "error" in figures:
        raise RuntimeError(f"the app process failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}")
    print(f"run: longest stall {figures['stall_longest_ms']} ms, {figures['indexing_images_per_s']} photos/s")
    return {"other_processes_cpu_pressure_pct": pressure, **figures}


def _cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), before a run."""
    try:
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


# --- the app process ------------------------------------------------------------------------
class StallMeter:
    """A fast QTimer whose tick gaps show how long the event loop was busy elsewhere; also keeps
    the GUI thread's CPU and run-queue clocks at each tick and the garbage collections, to explain stalls."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[tuple[float, int, int]] = []  # (perf_counter s, GUI thread CPU ns, run-queue wait ns)
        self.collections: list[tuple[float, float, int]] = []  # (start s, end s, generation)
        self.timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer, timeout=self._tick)
        self._gc_started = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._tick()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        gc.callbacks.remove(self._on_gc)

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), *_thread_clocks()))

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.collections.append((self._gc_started, time.perf_counter(), info["generation"]))

    def stalls_ms(self) -> np.ndarray:
        return np.maximum(np.diff([t for t, _, _ in self.ticks]) * 1000 - TICK_MS, 0.0)

    def explain(self, count: int) -> list[dict]:
        """The `count` worst stalls, each split into what the GUI thread was doing."""
        stalls = self.stalls_ms()
        worst = []
        for i in np.argsort(-stalls)[:count]:
            (t0, cpu0, wait0), (t1, cpu1, wait1) = self.ticks[i], self.ticks[i + 1]
            gui_cpu, waiting = (cpu1 - cpu0) / 1e6, (wait1 - wait0) / 1e6
            gc_ms = sum(min(end, t1) - max(start, t0) for start, end, _ in self.collections if end > t0 and start < t1) * 1000
            worst.append({
                "stall_ms": round(float(stalls[i]), 1),
                "gui_thread_cpu_ms": round(gui_cpu, 1),
                "waiting_for_cpu_ms": round(waiting, 1),
                "blocked_ms": round(max(float(stalls[i]) - gui_cpu - waiting, 0.0), 1),  # the GIL, a lock or I/O
                "garbage_collection_ms": round(gc_ms, 1),
            })
        return worst


def _thread_clocks() -> tuple[int, int]:
    """(CPU ns, run-queue wait ns) of the calling thread; zeros where /proc has no schedstat."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            cpu, wait, _ = stat.read().split()
        return int(cpu), int(wait)
    except (OSError, ValueError):
        return 0, 0


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
        self.timers = [QTimer(interval=SEARCH_EVERY_MS, timeout=self.search), QTimer(interval=SCROLL_EVERY_MS, timeout=self.scroll)]
        window.resultsShown.connect(self._answered)

    def start(self) -> None:
        for timer in self.timers:
            timer.start()

    def stop(self) -> None:
        for timer in self.timers:
            timer.stop()

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


def child(library: Path) -> None:
    """Start the app as `picsift` does and measure one indexing run; prints the figures as JSON."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.ui.app import run_app
    from desktop.ui.main_window import MainWindow

    app = QApplication([sys.argv[0]])  # run_app reuses it
    figures: dict = {}

    def measure_when_warm() -> None:
        window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        if window.library._vector_index is None:  # warm_up loads it after the text model
            QTimer.singleShot(20, measure_when_warm)
            return
        meter, driver = StallMeter(), SearchDriver(window)
        started = time.perf_counter()

        def finished(progress) -> None:
            meter.stop()
            driver.stop()
            if progress is None:  # the indexer failed; the window shows why
                figures["error"] = window.error_banner.text()
            else:
                figures.update(_figures(progress, time.perf_counter() - started, meter, driver))
            window.close()

        window.indexingFinished.connect(finished)
        meter.start()
        driver.start()
        window.add_folder(str(library))

    QTimer.singleShot(0, measure_when_warm)  # runs once run_app has shown the window
    run_app([])
    print(json.dumps(figures), flush=True)


def _figures(progress, indexing_s: float, meter: StallMeter, driver: SearchDriver) -> dict:
    import PySide6

    stalls = meter.stalls_ms()
    latencies = np.asarray(driver.latencies_ms or [float("nan")])
    return {
        "photos": progress.total,
        "encoded": progress.encoded,
        "failed": progress.failed,
        "cpu_count": os.cpu_count(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "python": platform.python_version(),
        "pyside6": PySide6.__version__,
        "indexing_s": round(indexing_s, 1),
        "indexing_images_per_s": round(progress.total / indexing_s, 1),
        "ticks": len(stalls),
        "stall_longest_ms": round(float(stalls.max()), 1),
        "stall_p99_ms": round(float(np.percentile(stalls, 99)), 1),
        "stalls_over_50ms": int((stalls > 50).sum()),
        "stalls_over_100ms": int((stalls > 100).sum()),
        "searches_issued": driver.issued,
        "searches_answered": len(driver.latencies_ms),
        "search_latency_p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "search_latency_p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "scrolls": driver.scrolls,
        "full_collections": sum(1 for *_, generation in meter.collections if generation == 2),
        "worst_stalls": meter.explain(EXPLAINED_STALLS),
    }


# --- reporting ------------------------------------------------------------------------------
def summarise(runs: list[dict]) -> dict:
    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in runs), 1)

    longest = max(run["stall_longest_ms"] for run in runs)
    return {
        "runs": len(runs),
        "photos": runs[0]["photos"],
        "cpu_count": os.cpu_count(),
        "timer_interval_ms": TICK_MS,
        "stall_longest_ms": longest,  # over all runs
        "stall_longest_ms_median": median("stall_longest_ms"),
        "stall_p99_ms_median": median("stall_p99_ms"),
        "stalls_over_50ms_median": median("stalls_over_50ms"),
        "searches_answered": sum(run["searches_answered"] for run in runs),
        "search_latency_p50_ms_median": median("search_latency_p50_ms"),
        "search_latency_p95_ms_median": median("search_latency_p95_ms"),
        "indexing_images_per_s_median": median("indexing_images_per_s"),
        "target_stall_ms": TARGET_STALL_MS,
        "meets_target": longest < TARGET_STALL_MS,
        "each_run": runs,
    }


def print_table(result: dict) -> None:
    keys = [k for k, v in result["each_run"][0].items() if not isinstance(v, list)]
    print("| figure | " + " | ".join(f"run {i + 1}" for i in range(result["runs"])) + " |")
    print("|---|" + "---|" * result["runs"])
    for key in keys:
        print(f"| {key} | " + " | ".join(str(run[key]) for run in result["each_run"]) + " |")
    print("\nworst stalls (ms): stall = GUI thread CPU + waiting for a CPU + blocked (GIL, lock); GC overlapping")
    for i, run in enumerate(result["each_run"]):
        parts = [f"{s['stall_ms']} = {s['gui_thread_cpu_ms']} + {s['waiting_for_cpu_ms']} + {s['blocked_ms']}; "
                 f"gc {s['garbage_collection_ms']}" for s in run["worst_stalls"]]
        print(f"run {i + 1}: " + " | ".join(parts))
    summary = {k: v for k, v in result.items() if k != "each_run"}
    print("\n" + json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
