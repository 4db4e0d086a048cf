"""Fine-tuning the built-in model on Fashion-MNIST as labelled folders: Quick, Thorough, the mix weight, the objectives.

    python tests/benchmarks/fine_tune.py [--per-class 375] [--builtin BUNDLE] [--skip-thorough] [--skip-sweeps]

Data: --per-class images of each class from the official Fashion-MNIST TRAIN set, written as
labelled folders; the trainer's own seeded split (80/10/10 per class) gives train/val/test, so
"test" is a held-out part of the official train set, never seen in training or selection. A
second test set is 100 images per class of the official TEST set, scored with
`python -m trainer evaluate --split all` ("official_test").
Every run is a real `python -m trainer train` process, so times include start-up:
  quick_cold     mapper stage only, empty feature cache
  quick_cached   the same again, encoder features read from the cache
  mix_weight     mapper only, a in {1.0, 0.9, 0.8, 0.7, 0.5, 0.3}: label queries (val, test) against
                 general search (the 21 demo photos and their hand-written queries, R@1/R@5, where
                 the built-in model scores 0.52/0.81) and phrased queries ("a photo of trousers")
  objectives     mapper only, each objective at the default a
  thorough       image stage (last 2 EfficientNet blocks + head conv) then mapper
Writes tests/benchmarks/results/fine_tune.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.preprocess import preprocess  # noqa: E402
from models.runtime import ModelRuntime  # noqa: E402
from trainer.data.feature_cache import image_features  # noqa: E402
from trainer.data.sources import write_fashion_mnist_folders  # noqa: E402
from trainer.data.splits import load_splits  # noqa: E402
from trainer.evaluation.retrieval import labelled_metrics  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "fine_tune.json"
MIX_WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3)
OBJECTIVES = ("infonce", "prototype", "ce", "supcon", "triplet", "seed")
# The zero-shot benchmark's phrasing of each class (tests/benchmarks/zero_shot.py), by folder name.
PHRASED = {"T-shirt or top": "a photo of a t-shirt", "Trouser": "a photo of trousers", "Pullover": "a photo of a pullover",
           "Dress": "a photo of a dress", "Coat": "a photo of a coat", "Sandal": "a photo of a sandal",
           "Shirt": "a photo of a shirt", "Sneaker": "a photo of a sneaker", "Bag": "a photo of a bag",
           "Ankle boot": "a photo of an ankle boot"}


def trainer(args: list[str], data_dir: Path) -> tuple[dict, float]:
    """Run `python -m trainer ARGS` with --progress jsonl; (its done event, wall seconds)."""
    env = {**os.environ, "PICSIFT_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "trainer", *args, "--progress", "jsonl"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not events or events[-1]["event"] != "done":
        raise SystemExit(f"trainer failed ({done.returncode}): {events[-1:] or done.stderr[-2000:]}")
    return events[-1], seconds


def with_builtin(data_dir: Path, builtin: str | None) -> None:
    """A data dir whose models/ holds the built-in bundle: `builtin` linked in, or built there."""
    (data_dir / "models").mkdir(parents=True)
    if builtin:
        (data_dir / "models" / "picsift-builtin").symlink_to(Path(builtin).resolve(), target_is_directory=True)
    else:
        subprocess.run([sys.executable, "-m", "trainer", "build-default"], cwd=ROOT, check=True,
                       env={**os.environ, "PICSIFT_DATA_DIR": str(data_dir)})


def general_search(folder: Path) -> dict:
    """Text->image R@1/R@5 of the demo photos' own queries (general photos, nothing like Fashion-MNIST)."""
    from desktop.core.demo_library import DEMO_PHOTOS, demo_image

    runtime = ModelRuntime(folder, device="cpu")
    pixels = np.stack([preprocess(demo_image(p.name), runtime.manifest.image_preprocess) for p in DEMO_PHOTOS])
    scores = runtime.encode_texts([p.query for p in DEMO_PHOTOS]) @ runtime.encode_images(pixels).T
    rank = (scores > np.diag(scores)[:, None]).sum(1) + 1
    return {"demo_R@1": float((rank <= 1).mean()), "demo_R@5": float((rank <= 5).mean())}


def phrased_queries(folder: Path, data: Path, data_dir: Path) -> float:
    """Test text->image mAP@all when the queries are phrased, not the folder names."""
    os.environ["PICSIFT_DATA_DIR"] = str(data_dir)  # the feature cache
    test = load_splits(str(data), seed=0).test
    runtime = ModelRuntime(folder, device="cpu")
    found = image_features(runtime, test)
    queries = runtime.encode_texts([PHRASED[name] for name in test.texts])
    return labelled_metrics(queries, runtime.map_images(found.features), test.labels[found.indices])["text_to_image_mAP@all"]


def row(done: dict, seconds: float, data: Path, data_dir: Path, extra: bool = False) -> dict:
    report = json.loads(Path(done["report"]).read_text())
    out = {"wall_seconds": round(seconds, 1), "trainer_seconds": done["seconds"], "timings": report["timings_seconds"],
           "val_t2i_mAP@all": report["metrics"]["fine_tuned"]["val"]["text_to_image_mAP@all"],
           "test_t2i_mAP@all": done["metrics"]["text_to_image_mAP@all"],
           "test_i2t_mAP@all": done["metrics"]["image_to_text_mAP@all"],
           "best_epochs": {s: r["best_epoch"] for s, r in report["stages"].items()},
           "load_average_1min": round(os.getloadavg()[0], 2)}
    if extra:
        out.update(general_search(Path(done["folder"])))
        out["test_phrased_t2i_mAP@all"] = phrased_queries(Path(done["folder"]), data, data_dir)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=375, help="images per class written (default 375)")
    parser.add_argument("--builtin", help="an up-to-date built-in bundle folder (default: build one)")
    parser.add_argument("--skip-thorough", action="store_true")
    parser.add_argument("--skip-sweeps", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="picsift-fine-tune-"))
    data_dir, data = work / "data-dir", work / "clothes"
    write_fashion_mnist_folders(data, args.per_class, split="train", seed=0)
    official = write_fashion_mnist_folders(work / "official-test", 100, split="test", seed=0)
    with_builtin(data_dir, args.builtin)
    results = {"data": {"train_source": f"Fashion-MNIST train, {args.per_class} per class, labelled folders",
                        "split": "seeded 80/10/10 per class (trainer default); test = held-out part",
                        "official_test": "Fashion-MNIST test, 100 per class (1,000)"},
               "machine": {"cpus": os.cpu_count()}, "runs": {}}
    runs = results["runs"]
    quick = ["train", "--data", str(data), "--stages", "mapper", "--replace"]

    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    done, seconds = trainer(quick + ["--name", "quick"], data_dir)
    runs["quick_cold"] = row(done, seconds, data, data_dir)
    runs["quick_cold"]["baseline_test_t2i_mAP@all"] = done["baseline"]["text_to_image_mAP@all"]
    runs["quick_cold"]["baseline_test_i2t_mAP@all"] = done["baseline"]["image_to_text_mAP@all"]
    done, seconds = trainer(quick + ["--name", "quick"], data_dir)
    runs["quick_cached"] = row(done, seconds, data, data_dir, extra=True)
    runs["quick_cached"]["official_test"] = official_test("quick", official, data_dir)
    runs["builtin_zero_shot"] = {**general_search(data_dir / "models" / "picsift-builtin"),
                                 "test_phrased_t2i_mAP@all": phrased_queries(data_dir / "models" / "picsift-builtin",
                                                                             data, data_dir),
                                 "official_test": official_test("picsift-builtin", official, data_dir)}
    if not args.skip_sweeps:
        for weight in MIX_WEIGHTS:
            done, seconds = trainer(quick + ["--name", "sweep", "--mix-weight", str(weight)], data_dir)
            runs[f"mix_weight={weight}"] = row(done, seconds, data, data_dir, extra=True)
        for objective in OBJECTIVES:
            done, seconds = trainer(quick + ["--name", "sweep", "--objective", objective], data_dir)
            runs[f"objective={objective}"] = row(done, seconds, data, data_dir)
    if not args.skip_thorough:
        done, seconds = trainer(["train", "--data", str(data), "--stages", "image,mapper", "--replace",
                                 "--name", "thorough"], data_dir)
        runs["thorough"] = row(done, seconds, data, data_dir, extra=True)
        runs["thorough"]["official_test"] = official_test("thorough", official, data_dir)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(runs)
    shutil.rmtree(work, ignore_errors=True)


def official_test(bundle: str, folder: Path, data_dir: Path) -> dict:
    env = {**os.environ, "PICSIFT_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "trainer", "evaluate", "--bundle", bundle, "--data", str(folder),
                           "--split", "all"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    metrics = json.loads(done.stdout)["metrics"]
    return {k: metrics[k] for k in ("text_to_image_mAP@all", "image_to_text_mAP@all", "image_to_text_R@1")}


def print_table(runs: dict) -> None:
    print("| run | wall s | test t2i mAP@all | test i2t mAP@all | val t2i mAP@all | demo R@1/R@5 | phrased t2i |")
    print("|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        demo = f"{r['demo_R@1']:.2f}/{r['demo_R@5']:.2f}" if "demo_R@1" in r else ""
        phrased = f"{r['test_phrased_t2i_mAP@all']:.3f}" if "test_phrased_t2i_mAP@all" in r else ""
        if "wall_seconds" not in r:
            print(f"| {name} | | | | | {demo} | {phrased} |")
            continue
        print(f"| {name} | {r['wall_seconds']} | {r['test_t2i_mAP@all']:.3f} | {r['test_i2t_mAP@all']:.3f} | "
              f"{r['val_t2i_mAP@all']:.3f} | {demo} | {phrased} |")


if __name__ == "__main__":
    main()
