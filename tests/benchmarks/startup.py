"""Start-up time of the desktop app on CPU with an existing index, in fresh processes.

Run: python tests/benchmarks/startup.py [--runs 5] [--bundle PATH]
Writes tests/benchmarks/results/startup.json and prints it. Target: an interactive window in
under 2 s.

The demo library is indexed once into a temp data dir. Then each run starts a new Python process
that does what `picsift` does (`desktop.ui.app.run_app`, offscreen unless QT_QPA_PLATFORM says
otherwise) and reports, in milliseconds from just before the parent started it:
  python            the interpreter runs this script's first line
  imports           PySide6 and the app's modules imported
  interactive       the window is shown and its event loop runs (a 0 ms timer queued before fires)
  first_results     the window lists the library (`resultsShown`, no query)
  model_ready       the text model and vector index are loaded (on the engine thread, never the GUI's)
  first_query       results for a text query typed as soon as the library shows
The first run warms the OS file cache and is reported apart; the figures are medians of the rest.

With --photos N (say 1000000) the library is synthetic instead: N catalogued photos with random
features of the built-in image tower's width, their folder absent (offline, as an unplugged disk:
nothing to rescan), their text marked read (as in a library the text pass has been through), and
their search index built and saved (ef_construction 16, which changes
only the graph's recall, not what opening it costs), so the start-up of a big library is measured;
results go to results/startup_<N>.json.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # in a child: the interpreter is up, nothing imported yet

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "startup.json"
TARGET_INTERACTIVE_MS = 2000.0
QUERY = "a cup of coffee"
MARKS = ("python", "imports", "interactive", "first_results", "model_ready", "first_query")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs (one untimed warm-up run comes first)")
    parser.add_argument("--bundle", type=Path, default=None, help="built-in bundle folder (default: the installed one)")
    parser.add_argument("--photos", type=int, default=0, help="a synthetic library of this many photos instead of the demo one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    sys.path.insert(0, str(ROOT))
    bundle = args.bundle or builtin_bundle()
    pressure = _cpu_pressure()  # other processes' load, before ours
    with tempfile.TemporaryDirectory(dir=os.environ.get("PICSIFT_BENCH_TMP")) as tmp:
        data_dir = Path(tmp) / "data"
        setup = time.monotonic()
        photos = big_library(bundle, data_dir, args.photos) if args.photos else index_demo_library(bundle, data_dir)
        setup_s = time.monotonic() - setup
        warm_up, *runs = [start_once(data_dir, 900 if args.photos else 120) for _ in range(args.runs + 1)]
    result = summarise(runs, warm_up, photos, pressure) | ({"synthetic_setup_s": round(setup_s)} if args.photos else {})
    results = RESULTS.with_name(f"startup_{args.photos}.json") if args.photos else RESULTS
    results.parent.mkdir(exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


# --- the parent: an indexed library, then fresh processes -----------------------------------
def builtin_bundle() -> Path:
    """The built-in bundle in the user's data dir, built there first if missing."""
    from models import registry
    from models.errors import BundleError

    try:
        return registry.open_installed(registry.DEFAULT_BUNDLE).folder
    except BundleError:
        from trainer.export.default_model import build_default_bundle

        return build_default_bundle()


def index_demo_library(bundle: Path, data_dir: Path) -> int:
    """Link the bundle into `data_dir`, add the demo photos as a folder and index them; returns their count."""
    os.environ["PICSIFT_DATA_DIR"] = str(data_dir)
    from desktop.core.demo_library import write_demo_library
    from desktop.core.library import Library
    from models import paths, registry

    (paths.models_dir() / registry.DEFAULT_BUNDLE).symlink_to(bundle.resolve(), target_is_directory=True)
    photos = write_demo_library(data_dir / "demo")
    library = Library(device="cpu")
    library.catalog.add_folder(data_dir / "demo")
    for _ in library.indexer().run():
        pass
    library.close()
    return len(photos)


def big_library(bundle: Path, data_dir: Path, count: int) -> int:
    """A catalog of `count` photos with random features and their saved index (see the module docstring)."""
    os.environ["PICSIFT_DATA_DIR"] = str(data_dir)
    import numpy as np

    from desktop.core.catalog import Catalog, NewImage
    from desktop.core.vector_index import VectorIndex, index_dir, index_key
    from models import paths, registry
    from models.runtime import ModelRuntime

    (paths.models_dir() / registry.DEFAULT_BUNDLE).symlink_to(bundle.resolve(), target_is_directory=True)
    runtime = ModelRuntime(bundle, device="cpu")
    manifest = runtime.manifest
    catalog = Catalog()
    folder_id = catalog.add_folder(data_dir / "unplugged")
    rng = np.random.default_rng(0)
    features = np.abs(rng.standard_normal((5_000, manifest.image_feature_dim), dtype=np.float32))  # post-ReLU-like
    for start in range(0, count, 5_000):
        items = [NewImage(str(data_dir / "unplugged" / f"{i // 500:04d}" / f"IMG_{i:07d}.jpg"), folder_id, 631,
                          i * 10**9, f"h{i}", 64, 48, None, None) for i in range(start, min(start + 5_000, count))]
        catalog.add_images(items, features[rng.permutation(5_000)[: len(items)]] * rng.random((len(items), 1), np.float32),
                           manifest.image_encoder_id)
    index = VectorIndex(manifest.embedding_dim, index_dir() / index_key(manifest), encoder_id=manifest.image_encoder_id,
                        bundle=manifest.name, catalog_id=catalog.catalog_id, ef_construction=16)
    index.sync_from_catalog(catalog, runtime)
    index.save()
    with catalog.transaction():  # an existing library's photos have had their text (and faces) read
        catalog._db.execute("UPDATE images SET text_read_with = 'synthetic', faces_read_with = 'synthetic'")
    catalog.close()
    return count


def start_once(data_dir: Path, timeout_s: float = 120) -> dict[str, float]:
    """One fresh process; its milestones in ms since just before it was started."""
    (data_dir / "settings.json").unlink(missing_ok=True)  # every run starts from the same state
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PICSIFT_DATA_DIR": str(data_dir), "PYTHONPATH": python_path}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    launched = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, timeout=timeout_s)
    marks = next((json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")), None)
    if done.returncode != 0 or marks is None:
        raise RuntimeError(f"the app process failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {name: round((marks[name] - launched) * 1000, 1) for name in MARKS}


def summarise(runs: list[dict[str, float]], warm_up: dict[str, float], photos: int, pressure: float | None) -> dict:
    import PySide6

    median = {f"{name}_ms": round(statistics.median(run[name] for run in runs), 1) for name in MARKS}
    return {
        "runs": len(runs),
        "library_photos": photos,
        "cpu_count": os.cpu_count(),
        "other_processes_cpu_pressure_pct": pressure,
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "python": platform.python_version(),
        "pyside6": PySide6.__version__,
        **median,
        "query": QUERY,
        "target_interactive_ms": TARGET_INTERACTIVE_MS,
        "meets_target": median["interactive_ms"] < TARGET_INTERACTIVE_MS,
        "warm_up_run_ms": warm_up,
        "each_run_ms": runs,
    }


def _cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


# --- the child: the app as `picsift` starts it, with stopwatches --------------------------
def child() -> None:
    marks: dict[str, float] = {"python": STARTED}
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.ui.app import run_app
    from desktop.ui.main_window import MainWindow

    marks["imports"] = time.monotonic()
    app = QApplication([sys.argv[0]])  # run_app reuses it
    QTimer.singleShot(0, lambda: _on_event_loop(app, marks, MainWindow))  # runs once run_app enters exec()
    run_app([])
    print(json.dumps(marks), flush=True)


def _on_event_loop(app, marks: dict[str, float], window_type) -> None:
    marks["interactive"] = time.monotonic()
    from PySide6.QtCore import QTimer

    window = next(w for w in app.topLevelWidgets() if isinstance(w, window_type))

    def shown(_rows: int) -> None:
        if "first_results" not in marks:
            marks["first_results"] = time.monotonic()
            window.search_field.setText(QUERY)  # the user types as soon as the photos show
            window.search_now()
        elif window.search_field.text() == QUERY and "first_query" not in marks:
            marks["first_query"] = time.monotonic()

    def check() -> None:
        if "model_ready" not in marks and window.library._vector_index is not None:  # warm_up loads it after the text model
            marks["model_ready"] = time.monotonic()
        if len(marks) == len(MARKS):
            poll.stop()
            window.close()

    window.resultsShown.connect(shown)
    poll = QTimer(window, interval=5, timeout=check)
    poll.start()


if __name__ == "__main__":
    main()
