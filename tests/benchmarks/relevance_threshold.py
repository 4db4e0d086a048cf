"""How MATCH_Z (desktop/core/calibration.py) was chosen: writes results/relevance_threshold.json and a table.

Run: python tests/benchmarks/relevance_threshold.py [--bundle PATH] [--per-class 20]

Dev data only (no figure from it is reported as a result): the scikit-image sample photos with their
descriptions, and Fashion-MNIST train images (the Debian dataset-fashion-mnist package's files,
--per-class per class) with "a photo of a <class>"; nonsense queries stand for "no match at all".
Scores are calibrated with the bundle's own calibration (computed from the reference bank), then for
each candidate line z the table gives the fraction of unrelated pairs, labelled matches and nonsense
pairs at or above it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop.core.calibration import compute_calibration  # noqa: E402
from desktop.core.demo_library import DEMO_PHOTOS, demo_image  # noqa: E402
from models.preprocess import preprocess  # noqa: E402
from models.runtime import ModelRuntime  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "relevance_threshold.json"
FASHION = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
NONSENSE = ("qwxz zzkj", "xkcd blorp", "zzzz", "asdf", "lorem ipsum dolor", "the", "photo", "jjjj kkkk", "blah blah")
LINES = (2.0, 2.5, 3.0, 3.5, 4.0)


def fashion_train(per_class: int, seed: int = 0) -> tuple[list[Image.Image], np.ndarray]:
    with gzip.open(FASHION / "train-images-idx3-ubyte.gz") as handle:
        pixels = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FASHION / "train-labels-idx1-ubyte.gz") as handle:
        labels = np.frombuffer(handle.read(), np.uint8, offset=8)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(len(CLASSES))])
    return [Image.fromarray(pixels[i]).convert("RGB") for i in chosen], labels[chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path("/work/builtin/picsift-builtin"))
    parser.add_argument("--per-class", type=int, default=20)
    args = parser.parse_args()
    runtime = ModelRuntime(args.bundle, device="cpu")
    calibration = compute_calibration(runtime)
    spec = runtime.manifest.image_preprocess
    garments, garment_labels = fashion_train(args.per_class)
    photos = runtime.encode_images(np.stack([preprocess(i, spec) for i in [demo_image(p.name) for p in DEMO_PHOTOS] + garments]))
    texts = [p.query for p in DEMO_PHOTOS] + [f"a photo of a {c}" for c in CLASSES]
    scores = runtime.encode_texts(texts + list(NONSENSE)) @ photos.T  # (T, P)
    z = (scores - calibration.text.mean) / calibration.text.spread
    labels = np.concatenate([np.arange(len(DEMO_PHOTOS)), len(DEMO_PHOTOS) + garment_labels.astype(int)])  # the text each photo matches
    matched = np.arange(len(texts))[:, None] == labels[None, :]
    real, nonsense = z[: len(texts)], z[len(texts):]
    rows = [{"z": line, "unrelated_pass": round(float(np.mean(real[~matched[: len(texts)]] >= line)), 4),
             "matches_pass": round(float(np.mean(real[matched[: len(texts)]] >= line)), 3),
             "nonsense_pass": round(float(np.mean(nonsense >= line)), 4)} for line in LINES]
    result = {"bundle": runtime.manifest.name, "calibration": calibration.to_dict(), "photos": len(photos), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print("| z line | unrelated pairs passing | labelled matches passing | nonsense pairs passing |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['z']} | {row['unrelated_pass']:.2%} | {row['matches_pass']:.1%} | {row['nonsense_pass']:.2%} |")


if __name__ == "__main__":
    main()
