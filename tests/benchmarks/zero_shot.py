"""Zero-shot text<->image search of a model bundle, run through the ONNX runtime picsift ships.

    python tests/benchmarks/zero_shot.py [--bundle PATH] [--n 2000] [--seed 0]

Two workloads, no training data anywhere:
  * Fashion-MNIST test split (a stratified sample of --n images, 10,000 = all): class-level
    retrieval like NUS-WIDE-10K in METHOD.md. Queries are the ten class names in one fixed
    natural form (FASHION_QUERIES); an image is relevant to the query of its class.
    Reports text->image mAP@100 and mAP@all, image->text mAP@all, and their chance levels.
  * scikit-image's sample photos with the hand-written queries of desktop/core/demo_library.py:
    instance-level text->image R@1 and R@5 over the 21 photos.
Default bundle: the installed built-in model (`python -m trainer build-default`). Writes
tests/benchmarks/results/zero_shot.json and prints a markdown table.
Image features are cached under --cache (keyed by the bundle's image-encoder id), so
re-running after a mapper change costs seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from models.preprocess import ImagePreprocess, preprocess  # noqa: E402
from trainer.evaluation.metrics import (  # noqa: E402
    chance_average_precision,
    class_relevance,
    mean_average_precision,
    retrieval_metrics,
)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# One fixed query per class, the class name as a person would phrase it, in the "a photo of
# a {}" frame of the baseline this benchmark was set against. Bare names are a second form.
FASHION_NAMES = ("t-shirt", "trousers", "pullover", "dress", "coat",
                 "sandal", "shirt", "sneaker", "bag", "ankle boot")
FASHION_QUERIES = ("a photo of a t-shirt", "a photo of trousers", "a photo of a pullover",
                   "a photo of a dress", "a photo of a coat", "a photo of a sandal",
                   "a photo of a shirt", "a photo of a sneaker", "a photo of a bag",
                   "a photo of an ankle boot")
MAP_AT = 100  # the k of text->image mAP@k: about a screenful of results per class
RESULTS = Path(__file__).parent / "results" / "zero_shot.json"
CACHE = Path("/tmp/picsift-benchmarks")
BATCH = 64  # images per encoder call


# --- data -----------------------------------------------------------------------------------
def load_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """split "train" or "t10k" -> images (N, 28, 28) uint8, labels (N,) uint8."""
    def read(kind: str, offset: int) -> np.ndarray:
        with gzip.open(FASHION_DIR / f"{split}-{kind}-ubyte.gz") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    return read("images-idx3", 16).reshape(-1, 28, 28), read("labels-idx1", 8)


def stratified_sample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of n items, n / classes from each class (everything when n >= len)."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = n // len(classes)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(picked))


def fashion_pixels(images: np.ndarray, spec: ImagePreprocess) -> np.ndarray:
    """(B, 28, 28) uint8 greyscale -> (B, 3, S, S) float32, through picsift's own preprocessing."""
    return np.stack([preprocess(Image.fromarray(im, "L").convert("RGB"), spec) for im in images])


def fashion_sample(split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, images, labels) of the stratified sample of one split."""
    images, labels = load_fashion_mnist(split)
    index = stratified_sample(labels, n, seed)
    return index, images[index], labels[index].astype(np.int64)


def demo_photos(spec: ImagePreprocess) -> tuple[list[str], np.ndarray]:
    """(queries, pixels (21, 3, S, S)) of the scikit-image demo library."""
    from desktop.core.demo_library import DEMO_PHOTOS, demo_image

    pixels = np.stack([preprocess(demo_image(p.name), spec) for p in DEMO_PHOTOS])
    return [p.query for p in DEMO_PHOTOS], pixels


# --- evaluation -----------------------------------------------------------------------------
def fashion_metrics(text_emb: np.ndarray, image_emb: np.ndarray, labels: np.ndarray, prefix: str = "") -> dict:
    """Class-level metrics for 10 class queries (10, D) against images (N, D) with labels (N,)."""
    scores = text_emb @ image_emb.T  # (10, N)
    relevant = class_relevance(np.arange(len(text_emb)), labels)  # (10, N)
    out = retrieval_metrics(scores, relevant, f"{prefix}text_to_image", map_ks=(MAP_AT, None))
    out.update(retrieval_metrics(scores.T, relevant.T, f"{prefix}image_to_text", map_ks=(None,), recall_ks=(1,)))
    return out


def fashion_chance(labels: np.ndarray, n_queries: int, seed: int = 0, repeats: int = 20) -> dict:
    """Chance levels: exact for mAP@all; mAP@k over `repeats` random score matrices."""
    relevant = class_relevance(np.arange(n_queries), labels)  # (10, N)
    rng = np.random.default_rng(seed)
    at_k = np.mean([mean_average_precision(rng.random(relevant.shape), relevant, MAP_AT) for _ in range(repeats)])
    per_class = np.bincount(labels, minlength=n_queries)
    return {
        f"chance_text_to_image_mAP@{MAP_AT}": float(at_k),
        "chance_text_to_image_mAP@all": float(np.mean([chance_average_precision(r, len(labels)) for r in per_class])),
        "chance_image_to_text_mAP@all": chance_average_precision(1, n_queries),
        "chance_image_to_text_R@1": 1 / n_queries,
    }


def demo_metrics(text_emb: np.ndarray, image_emb: np.ndarray) -> dict:
    """Instance-level text->image R@1, R@5: query i is relevant to photo i only."""
    scores = text_emb @ image_emb.T  # (21, 21)
    return retrieval_metrics(scores, np.eye(len(scores), dtype=bool), "demo_text_to_image", map_ks=(), recall_ks=(1, 5))


# --- the bundle -----------------------------------------------------------------------------
def open_runtime(bundle: str | None):
    from models.runtime import ModelRuntime

    if bundle:
        return ModelRuntime(bundle)
    from models.registry import DEFAULT_BUNDLE, open_installed

    return ModelRuntime(open_installed(DEFAULT_BUNDLE))


def image_features(runtime, name: str, pixels_of, cache: Path | None) -> np.ndarray:
    """Image features (N, Di) from the bundle's image encoder, cached per image-encoder id."""
    path = cache / f"{runtime.manifest.image_encoder_id}-{name}.npy" if cache else None
    if path is not None and path.is_file():
        return np.load(path)
    pixels = pixels_of()
    features = np.concatenate([runtime.image_features(pixels[i : i + BATCH]) for i in range(0, len(pixels), BATCH)])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, features)
    return features


def evaluate(runtime, n: int, seed: int, cache: Path | None) -> dict:
    spec = runtime.manifest.image_preprocess
    _, images, labels = fashion_sample("t10k", n, seed)
    started = time.perf_counter()
    features = image_features(runtime, f"fashion-t10k-n{n}-seed{seed}", lambda: fashion_pixels(images, spec), cache)
    image_emb = runtime.map_images(features)  # (N, D)
    result = {"n_images": len(labels), "seed": seed, "queries": list(FASHION_QUERIES)}
    result.update(fashion_metrics(runtime.encode_texts(list(FASHION_QUERIES)), image_emb, labels))
    result.update(fashion_metrics(runtime.encode_texts(list(FASHION_NAMES)), image_emb, labels, "bare_names_"))
    result.update(fashion_chance(labels, len(FASHION_CLASSES)))
    queries, pixels = demo_photos(spec)
    demo_emb = runtime.map_images(image_features(runtime, "skimage-demo", lambda: pixels, cache))
    result.update(demo_metrics(runtime.encode_texts(queries), demo_emb))
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def markdown(result: dict) -> str:
    rows = [
        ("Fashion-MNIST text->image mAP@100", f"text_to_image_mAP@{MAP_AT}"),
        ("Fashion-MNIST text->image mAP@all", "text_to_image_mAP@all"),
        ("Fashion-MNIST image->text mAP@all", "image_to_text_mAP@all"),
        ("Fashion-MNIST image->text R@1 (accuracy)", "image_to_text_R@1"),
        ("  same, bare names: text->image mAP@all", "bare_names_text_to_image_mAP@all"),
        ("  same, bare names: image->text mAP@all", "bare_names_image_to_text_mAP@all"),
        ("scikit-image demo text->image R@1", "demo_text_to_image_R@1"),
        ("scikit-image demo text->image R@5", "demo_text_to_image_R@5"),
    ]
    lines = [f"bundle `{result['bundle']}` ({result['family']}, {result['embedding_dim']}-d), "
             f"Fashion-MNIST test n={result['n_images']} seed={result['seed']}", "",
             "| metric | value | chance |", "|---|---|---|"]
    for label, key in rows:
        chance = result.get("chance_" + key.removeprefix("bare_names_"), "")
        lines.append(f"| {label} | {result[key]:.3f} | {f'{chance:.3f}' if chance != '' else ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="bundle folder (default: the installed picsift-builtin)")
    parser.add_argument("--n", type=int, default=2000, help="Fashion-MNIST test images (10000 = all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stratified sample")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--cache", type=Path, default=CACHE, help="image-feature cache folder")
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    runtime = open_runtime(args.bundle)
    result = {"bundle": str(runtime.bundle.folder), "family": runtime.manifest.family,
              "embedding_dim": runtime.manifest.embedding_dim,
              "bridge": runtime.manifest.provenance.get("bridge", {})}
    result.update(evaluate(runtime, args.n, args.seed, None if args.no_cache else args.cache))
    result["providers"] = runtime.providers()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
