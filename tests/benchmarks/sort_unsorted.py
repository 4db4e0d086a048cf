"""Sorting unsorted photos into labelled folders (desktop/core/sorting.py): accuracy at the threshold and the share it is sure of.

    python tests/benchmarks/sort_unsorted.py [--per-class 100] [--builtin-v1 BUNDLE] [--skip-fine-tune] [--out FILE]

Data: --per-class images of each of the 10 classes from the official Fashion-MNIST TRAIN set as labelled
folders (PNG, as `trainer.data.sources.write_fashion_mnist_folders` writes them); the unsorted photos are
the official TEST set: DEV_PER_CLASS per class form the dev split, TEST_PER_CLASS others the test split,
in flat folders outside the labelled root. Everything is indexed by the app's real indexer in a
temporary PICSIFT_DATA_DIR; suggestions come from `learn_labels` + `suggest` as the app would call them.
Models: the built-in model v1 (PICSIFT_TEST_BUILTIN_V1 or --builtin-v1) zero-shot, and the same
fine-tuned Quick (mapper stage, `python -m trainer train --stages mapper`) on the labelled folders
(its image encoder is unchanged, so the catalog's features serve both).
On dev, per model: the text weight (TEXT_WEIGHTS) with the best top-1 accuracy, then the threshold: the
lowest of THRESHOLDS whose confident suggestions are right at least TARGET_PRECISION of the time.
On test: top-1 accuracy, and at the dev threshold the accuracy of the confident suggestions and the share
of photos they cover; "shipped": the same with sorting.TEXT_WEIGHT and sorting.DEFAULT_THRESHOLD.
"open_set" (shipped settings): the labels without UNLABELLED_CLASSES, as if the user had no folder for
them; the share of those classes' test photos still sure (wrongly: no label fits), and the other classes'
accuracy and share sure, with the typicality factor and without it (softmax alone).
Writes tests/benchmarks/results/sort_unsorted.json (or --out) and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop.core import sorting  # noqa: E402
from desktop.core.catalog import Catalog  # noqa: E402
from desktop.core.library import Library  # noqa: E402
from models.runtime import ModelRuntime  # noqa: E402
from trainer.data.sources import FASHION_MNIST_CLASSES, read_fashion_mnist, write_fashion_mnist_folders  # noqa: E402

RESULTS = ROOT / "tests" / "benchmarks" / "results" / "sort_unsorted.json"
DEV_PER_CLASS, TEST_PER_CLASS = 50, 100
TEXT_WEIGHTS = (0.0, 0.25, 0.5, 0.75)  # must hold sorting.TEXT_WEIGHT
UNLABELLED_CLASSES = ("Sandal", "Bag")  # no folder for these in the open-set figures
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.3, 0.96, 0.05))
TARGET_PRECISION = 0.9


def write_unsorted(folder: Path) -> dict[str, tuple[str, str]]:
    """Official test images as PNGs in folder/dev and folder/test: file name -> (split, label folder)."""
    images, labels = read_fashion_mnist("test")
    rng = np.random.default_rng(1)
    truth = {}
    for c, name in enumerate(FASHION_MNIST_CLASSES):
        rows = rng.permutation(np.flatnonzero(labels == c))[: DEV_PER_CLASS + TEST_PER_CLASS]
        for i, row in enumerate(rows):
            split = "dev" if i < DEV_PER_CLASS else "test"
            (folder / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[row]).save(folder / split / f"test-{row:05d}.png")
            truth[f"test-{row:05d}.png"] = (split, name)
    return truth


def scored(suggestions, truth, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(confidence (N,), right (N,) bool) of the split's suggestions."""
    rows = [(s.confidence, s.label == truth[Path(s.path).name][1]) for s in suggestions if truth[Path(s.path).name][0] == split]
    return np.array([c for c, _ in rows]), np.array([r for _, r in rows])


def at(threshold: float, confidence: np.ndarray, right: np.ndarray) -> dict:
    sure = confidence >= threshold
    return {"threshold": threshold, "accuracy_of_confident": round(float(right[sure].mean()), 4) if sure.any() else None,
            "share_confident": round(float(sure.mean()), 4)}


def evaluate(library: Library, runtime: ModelRuntime, root: Path, truth: dict) -> dict:
    """Choose the text weight and threshold on dev, report on test."""
    started = time.perf_counter()
    by_weight = {}
    for weight in TEXT_WEIGHTS:
        labels = sorting.learn_labels(library.catalog, runtime, root, text_weight=weight)
        by_weight[weight] = (labels, sorting.suggest(library.catalog, runtime, labels))
    seconds = (time.perf_counter() - started) / len(TEXT_WEIGHTS)
    dev_accuracy = {w: float(scored(s, truth, "dev")[1].mean()) for w, (_, s) in by_weight.items()}
    weight = max(TEXT_WEIGHTS, key=lambda w: (round(dev_accuracy[w], 4), -w))
    labels, suggestions = by_weight[weight]
    dev, test = scored(suggestions, truth, "dev"), scored(suggestions, truth, "test")
    sure_enough = [t for t in THRESHOLDS if (at(t, *dev)["accuracy_of_confident"] or 0) >= TARGET_PRECISION]
    threshold = sure_enough[0] if sure_enough else THRESHOLDS[-1]
    return {"dev_top1_by_text_weight": {str(w): round(a, 4) for w, a in dev_accuracy.items()}, "text_weight": weight,
            "temperature": round(labels.temperature, 4), "dev_threshold": threshold,
            "dev_at_threshold": at(threshold, *dev), "dev_curve": [at(t, *dev) for t in THRESHOLDS],
            "test_top1_accuracy": round(float(test[1].mean()), 4), "test_at_dev_threshold": at(threshold, *test),
            "shipped": shipped(by_weight[sorting.TEXT_WEIGHT][1], truth),
            "open_set": open_set(library, runtime, by_weight[sorting.TEXT_WEIGHT][0], truth),
            "seconds_to_learn_and_suggest": round(seconds, 2), "unsorted_photos": len(suggestions)}


def shipped(suggestions, truth) -> dict:
    """Test figures with the module's own text weight and threshold."""
    confidence, right = scored(suggestions, truth, "test")
    return {"text_weight": sorting.TEXT_WEIGHT, "test_top1_accuracy": round(float(right.mean()), 4),
            "test": at(sorting.DEFAULT_THRESHOLD, confidence, right)}


def open_set(library: Library, runtime: ModelRuntime, labels: sorting.Labels, truth: dict) -> dict:
    """Test figures at the shipped settings with UNLABELLED_CLASSES' labels taken away, typicality on and off."""
    keep = [i for i, name in enumerate(labels.names) if name not in UNLABELLED_CLASSES]
    fewer = dataclasses.replace(labels, names=tuple(labels.names[i] for i in keep), prototypes=labels.prototypes[keep],
                                member_cosines=labels.member_cosines[keep])
    softmax_only = dataclasses.replace(fewer, member_cosines=np.array([[0.0, 1e9]] * len(keep)))  # z = 0: fully typical
    out = {"unlabelled_classes": list(UNLABELLED_CLASSES)}
    for name, variant in (("with_typicality", fewer), ("softmax_only", softmax_only)):
        rows = [(s.confidence >= sorting.DEFAULT_THRESHOLD, truth[Path(s.path).name][1], s.label)
                for s in sorting.suggest(library.catalog, runtime, variant) if truth[Path(s.path).name][0] == "test"]
        outside = [sure for sure, label, _ in rows if label in UNLABELLED_CLASSES]
        inside = [(sure, label == guess) for sure, label, guess in rows if label not in UNLABELLED_CLASSES]
        out[name] = {"unlabelled_share_sure": round(float(np.mean(outside)), 4),
                     "labelled_share_sure": round(float(np.mean([sure for sure, _ in inside])), 4),
                     "labelled_accuracy_of_sure": round(float(np.mean([right for sure, right in inside if sure])), 4)}
    return out


def fine_tune(data: Path, base: Path, data_dir: Path) -> tuple[Path, float]:
    """A Quick fine-tune of `base` on `data`, installed as sorted-tuned: (its folder, seconds)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "trainer", "train", "--data", str(data), "--stages", "mapper",
                           "--base", str(base), "--name", "sorted-tuned", "--replace"], cwd=ROOT, check=False,
                          env={**os.environ, "PICSIFT_DATA_DIR": str(data_dir)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"trainer failed: {done.stderr[-2000:]}")
    return data_dir / "models" / "sorted-tuned", time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=100, help="labelled images per class (default 100)")
    parser.add_argument("--builtin-v1", default=os.environ.get("PICSIFT_TEST_BUILTIN_V1"), required="PICSIFT_TEST_BUILTIN_V1" not in os.environ)
    parser.add_argument("--skip-fine-tune", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="picsift-sort-"))
    os.environ["PICSIFT_DATA_DIR"] = str(work / "data-dir")
    root = write_fashion_mnist_folders(work / "photos" / "clothes", args.per_class, split="train", seed=0)
    truth = write_unsorted(work / "photos" / "unsorted")
    library = Library(Catalog(), ModelRuntime(args.builtin_v1, device="cpu"))
    library.catalog.add_folder(work / "photos")
    started = time.perf_counter()
    for _ in library.indexer().run():
        pass
    results = {"data": {"labelled": f"Fashion-MNIST train, {args.per_class} per class, labelled folders",
                        "unsorted": f"Fashion-MNIST test: dev {DEV_PER_CLASS} per class, test {TEST_PER_CLASS} per class",
                        "target_precision_on_dev": TARGET_PRECISION},
               "machine": {"cpus": os.cpu_count()}, "index_seconds": round(time.perf_counter() - started, 1),
               "models": {"builtin_v1": evaluate(library, library.runtime, root, truth)}}
    if not args.skip_fine_tune:
        bundle, seconds = fine_tune(root, Path(args.builtin_v1), work / "data-dir")
        tuned = ModelRuntime(bundle, device="cpu")
        assert tuned.manifest.image_encoder_id == library.runtime.manifest.image_encoder_id  # the features serve both
        results["models"]["builtin_v1_fine_tuned"] = {"fine_tune_seconds": round(seconds, 1),
                                                      "trained_root_found": sorting.trained_root(tuned) == root.resolve(),
                                                      **evaluate(library, tuned, root, truth)}
    library.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("| model | dev: text weight, threshold | test top-1 | test: right when sure, share sure | shipped: top-1 | right when sure | share sure |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results["models"].items():
        d, s = r["test_at_dev_threshold"], r["shipped"]
        print(f"| {name} | {r['text_weight']}, {r['dev_threshold']} | {r['test_top1_accuracy']:.3f} | "
              f"{d['accuracy_of_confident']}, {d['share_confident']} | {s['test_top1_accuracy']:.3f} | "
              f"{s['test']['accuracy_of_confident']} | {s['test']['share_confident']} |")


if __name__ == "__main__":
    main()
