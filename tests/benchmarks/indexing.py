"""Indexing throughput on realistic 12-megapixel JPEGs: picsift's pipeline vs a naive one, side by side.

Run: python tests/benchmarks/indexing.py [--photos 120] [--workers N] [--bundle FOLDER] [--out FILE]
Writes tests/benchmarks/results/indexing.json (default bundle: the installed built-in) and prints a markdown table. Measured in one run:
  naive        one image at a time, full decode, batch 1 (the way rclip indexes)
  decode-only  picsift's read + hash + draft decode + preprocess on its thread pool, no model
  infer-only   picsift's batched image encoder on ready pixels, no decoding
  picsift      the real Indexer end to end (catalog commits, vector index, thumbnails)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for image_zoo

RESULTS = Path(__file__).parent / "results" / "indexing.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--workers", type=int, default=None, help="decode threads (default: the Indexer's)")
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: the installed built-in)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PICSIFT_DATA_DIR"] = str(Path(tmp) / "data")
        result = run(Path(tmp), args.photos, args.workers, args.bundle)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


def run(tmp: Path, count: int, workers: int | None, bundle: Path | None = None) -> dict:
    from image_zoo import write_12mp_library

    from models import registry
    from models.runtime import ModelRuntime

    registry.install(bundle or _default_bundle(), name="picsift-builtin")
    runtime = ModelRuntime(registry.open_installed("picsift-builtin"), device="cpu")
    photos = sorted(write_12mp_library(tmp / "library", count, seed=0))
    side = runtime.manifest.image_preprocess.size
    runtime.image_features(np.zeros((2, 3, side, side), np.float32))  # warm the session up
    figures = {
        "bundle": str(bundle or "installed built-in"),
        "image_size": side,
        "photos": len(photos),
        "megapixels": _megapixels(photos[0]),
        "cpu_count": os.cpu_count(),
        "naive_images_per_s": _naive(runtime, photos),
        "decode_only_images_per_s": _decode_only(runtime, photos, workers),
        "inference_only_images_per_s": _inference_only(runtime, len(photos)),
        "picsift_images_per_s": _picsift(runtime, tmp / "library", workers),
    }
    slower_stage = min(figures["decode_only_images_per_s"], figures["inference_only_images_per_s"])
    figures["speedup_vs_naive"] = figures["picsift_images_per_s"] / figures["naive_images_per_s"]
    figures["fraction_of_pipeline_limit"] = figures["picsift_images_per_s"] / slower_stage
    return figures


def _default_bundle() -> Path:
    """The built-in bundle from the user's data dir, or built into a temp folder."""
    user = Path(os.environ.get("PICSIFT_USER_BUNDLE", Path.home() / ".local/share/picsift/models/picsift-builtin"))
    if user.is_dir():
        return user
    from trainer.export.default_model import build_default_bundle

    return build_default_bundle(destination=Path(os.environ["PICSIFT_DATA_DIR"]).parent / "built")


def _megapixels(path: Path) -> float:
    with Image.open(path) as image:
        return round(image.width * image.height / 1e6, 1)


def _naive(runtime, photos: list[Path]) -> float:
    """Full decode, EXIF transpose, preprocess, one image per inference call."""
    from models.preprocess import preprocess

    spec = runtime.manifest.image_preprocess
    start = time.perf_counter()
    for path in photos:
        with Image.open(path) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        runtime.encode_images(preprocess(rgb, spec)[None])
    return len(photos) / (time.perf_counter() - start)


def _decode_only(runtime, photos: list[Path], workers: int | None) -> float:
    import hashlib

    from desktop.core.indexer import default_decode_workers
    from models.photo_reader import read_photo
    from models.preprocess import preprocess

    spec = runtime.manifest.image_preprocess
    workers = workers or default_decode_workers()

    def work(path: Path) -> np.ndarray:
        data = path.read_bytes()
        hashlib.blake2b(data, digest_size=16).hexdigest()
        return preprocess(read_photo(str(path), data, spec.resize_to).image, spec)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, photos))
    return len(photos) / (time.perf_counter() - start)


def _inference_only(runtime, count: int, batch: int = 32) -> float:
    side = runtime.manifest.image_preprocess.size
    pixels = np.random.default_rng(0).normal(size=(batch, 3, side, side)).astype(np.float32)
    start = time.perf_counter()
    done = 0
    while done < count:
        runtime.map_images(runtime.image_features(pixels))
        done += batch
    return done / (time.perf_counter() - start)


def _picsift(runtime, library: Path, workers: int | None) -> float:
    from desktop.core.catalog import Catalog
    from desktop.core.library import Library

    engine = Library(Catalog(), runtime)
    engine.catalog.add_folder(library)
    options = {"decode_workers": workers} if workers else {}
    start = time.perf_counter()
    for progress in engine.indexer(**options).run():
        pass
    elapsed = time.perf_counter() - start
    assert progress.encoded == progress.total and progress.failed == 0, progress
    return progress.encoded / elapsed


def print_table(figures: dict) -> None:
    print(f"| pipeline ({figures['photos']} photos, {figures['megapixels']} MP, {figures['cpu_count']} cores) | images/s |")
    print("|---|---|")
    for key, label in [
        ("naive_images_per_s", "naive (full decode, batch 1)"),
        ("decode_only_images_per_s", "decode only (picsift's parallel draft decode)"),
        ("inference_only_images_per_s", "inference only (batch 32)"),
        ("picsift_images_per_s", "picsift end to end"),
    ]:
        print(f"| {label} | {figures[key]:.1f} |")
    print(f"\nspeed-up vs naive: {figures['speedup_vs_naive']:.2f}x (target >= 3x); "
          f"end to end / slower stage: {figures['fraction_of_pipeline_limit']:.0%} (target >= 80%)")


if __name__ == "__main__":
    main()
