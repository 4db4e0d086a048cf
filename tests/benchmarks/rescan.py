"""Rescan of an unchanged library: 100k catalogued files, nothing to do. Writes results/rescan.json.

Run: python tests/benchmarks/rescan.py [--files 100000]
The files are real (a small JPEG copied N times into nested folders) and catalogued directly
with their true size and mtime, as a finished index would have them; the timed part is the
real Indexer run (scan by stat, compare with the catalog, find nothing to read).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for toy_bundle

RESULTS = Path(__file__).parent / "results" / "rescan.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="picsift-rescan-"))
    os.environ["PICSIFT_DATA_DIR"] = str(tmp / "data")
    try:
        result = run(tmp, args.files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run(tmp: Path, count: int) -> dict:
    from toy_bundle import export_toy_bundle

    from desktop.core.catalog import Catalog, NewImage
    from desktop.core.indexer import Indexer
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(export_toy_bundle(tmp / "toy"), device="cpu")
    library = tmp / "library"
    paths = _write_files(library, count)
    catalog = Catalog()
    folder_id = catalog.add_folder(library)
    started = time.perf_counter()
    for start in range(0, count, 5000):
        chunk = paths[start : start + 5000]
        items = [NewImage(str(p), folder_id, (s := p.stat()).st_size, s.st_mtime_ns, f"h{start + i}", 64, 48, None, None) for i, p in enumerate(chunk)]
        catalog.add_images(items, np.zeros((len(items), 16), np.float32), runtime.manifest.image_encoder_id)
    catalog_s = time.perf_counter() - started
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        for progress in Indexer(catalog, runtime).run():
            pass
        timings.append(time.perf_counter() - started)
        assert progress.total == 0 and progress.unchanged == count, progress
    return {"files": count, "catalogue_setup_s": round(catalog_s, 1), "rescan_s": [round(t, 2) for t in timings],
            "rescan_median_s": round(sorted(timings)[1], 2), "cpu_count": os.cpu_count()}


def _write_files(root: Path, count: int) -> list[Path]:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(buffer, "JPEG")
    data = buffer.getvalue()
    paths = []
    for i in range(count):
        folder = root / f"{i // 10000:02d}" / f"{i // 500:04d}"  # 500 photos per folder, like camera dumps
        if i % 500 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IMG_{i:06d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()
