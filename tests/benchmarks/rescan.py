"""Rescan of an unchanged library, the catalog's size and a 50,000-photo folder listed. Writes results/rescan.json.

Run: python tests/benchmarks/rescan.py [--files 100000] [--feature-dim 1280] [--page-sizes 4096 16384] [--compact] [--out FILE]
The files are real (a small JPEG copied N times into nested folders: 500 a folder, 50,000 under
each top folder) and catalogued directly with their true size and mtime, as a finished index
would have them, with float16 features and instance descriptors of --feature-dim (the built-in
v2 image tower's 1280 by default) so the catalog's size on disk is the real one. Timed: the real
Indexer run (scan by stat, compare with the catalog, find nothing to read), and the catalog
queries of a folder: its newest 500 files (Searcher.search with only a folder: the browse) and the image
ids under it (a text search within it), p50/p95 of 20. With several --page-sizes each is measured in turn in the
same run over the same files (a catalog made with those SQLite pages; the default is a new catalog's);
--compact then times `picsift compact` on a catalog of smaller pages, and its size and browse after.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query import p50_p95, timed  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for toy_bundle

from desktop.core import catalog_connection  # noqa: E402
from desktop.core.catalog_connection import PAGE_SIZE  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "rescan.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--feature-dim", type=int, default=1280, help="width of the stored features (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--catalog-only", action="store_true", help="no files and no rescan: the catalog and its queries only")
    parser.add_argument("--compact", action="store_true", help="then compact a catalog of smaller pages (picsift compact)")
    parser.add_argument("--page-sizes", type=int, nargs="+", default=[PAGE_SIZE], help="SQLite page sizes, side by side")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="picsift-rescan-"))
    try:
        by_size = {}
        for page_size in args.page_sizes:
            os.environ["PICSIFT_DATA_DIR"] = str(tmp / f"data-{page_size}")
            catalog_connection.PAGE_SIZE = page_size
            by_size[page_size] = run(tmp, args.files, args.feature_dim, not args.catalog_only, args.compact)
            shutil.rmtree(tmp / f"data-{page_size}")  # a million photos' catalog is GBs
        result = by_size[args.page_sizes[0]] if len(by_size) == 1 else {"page_size_bytes": by_size}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def run(tmp: Path, count: int, feature_dim: int, rescan: bool = True, compact: bool = False) -> dict:
    from toy_bundle import export_toy_bundle

    from desktop.core.catalog import Catalog, NewImage
    from desktop.core.indexer import Indexer
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(export_toy_bundle(tmp / "toy"), device="cpu")
    library = tmp / "library"
    paths = _write_files(library, count, rescan and not library.exists())
    catalog = Catalog()
    folder_id = catalog.add_folder(library)
    started = time.perf_counter()
    vectors = np.random.default_rng(0).standard_normal((5000, max(feature_dim, 1))).astype(np.float32)  # incompressible
    for start in range(0, count, 5000):
        chunk = paths[start : start + 5000]
        states = [(s.st_size, s.st_mtime_ns) for s in map(Path.stat, chunk)] if rescan else [(631, (start + i) * 10**9) for i in range(len(chunk))]
        items = [NewImage(str(p), folder_id, size, mtime, f"h{start + i}", 64, 48, None, None)
                 for i, (p, (size, mtime)) in enumerate(zip(chunk, states))]
        catalog.add_images(items, vectors[: len(items)], runtime.manifest.image_encoder_id,
                           vectors[: len(items)] if feature_dim else None)
    catalog_s = time.perf_counter() - started
    catalog.close()  # the last connection's close checkpoints the WAL into the file: its size is the catalog's
    catalog_bytes = sum(f.stat().st_size for f in catalog.path.parent.glob(catalog.path.name + "*"))
    catalog = Catalog(catalog.path)
    browse = folder_browse(catalog, library / "00")
    timings = []
    for _ in range(3 if rescan else 0):
        started = time.perf_counter()
        for progress in Indexer(catalog, runtime).run():
            pass
        timings.append(time.perf_counter() - started)
        assert progress.total == 0 and progress.unchanged == count, progress
    page_size = catalog_connection.PAGE_SIZE
    compacted = _compacted(catalog, library) if compact and page_size < PAGE_SIZE else None
    return {"files": count, "page_size": page_size, "catalogue_setup_s": round(catalog_s, 1),
            "rescan_s": [round(t, 2) for t in timings], "compacted": compacted,
            "rescan_median_s": round(sorted(timings)[1], 2) if timings else None, "feature_dim": feature_dim,
            "catalog_mb": round(catalog_bytes / 2**20), "catalog_bytes_per_file": round(catalog_bytes / count),
            "folder_browse": browse, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}


def _compacted(catalog, library: Path) -> dict:
    """`picsift compact` on this catalog: its time, the size it leaves and the folder browse after."""
    from desktop.core.catalog import Catalog
    from desktop.core.catalog_compact import compact

    catalog.close()
    catalog_connection.PAGE_SIZE = PAGE_SIZE  # what compact writes
    started = time.perf_counter()
    layout = compact(catalog.path)
    took = time.perf_counter() - started
    with Catalog(catalog.path) as reopened:
        return {"compact_s": round(took, 1), "catalog_mb": round(layout.bytes / 2**20), "page_size": layout.page_size,
                "folder_browse": folder_browse(reopened, library / "00")}


def folder_browse(catalog, folder: Path) -> dict:
    """The catalog part of browsing one folder (Searcher.search with a folder and no text: its newest 500), and
    the image ids under it (what a text search within the folder allows)."""
    from desktop.core.catalog import filter_conditions

    conditions = filter_conditions(str(folder))
    ids_times, ids = timed(lambda _: catalog.image_ids_where(conditions), 20)
    list_times, rows = timed(lambda _: catalog.files_where(conditions, 500), 20)
    recent_times, _ = timed(lambda _: catalog.recent_files(500), 5)  # the window's first listing at start-up
    return {"folder_photos": len(ids[0]), "listed": len(rows[0]), "image_ids": p50_p95(ids_times),
            "newest_500": p50_p95(list_times),
            "recent_500_of_the_whole_library": p50_p95(recent_times)}


def _write_files(root: Path, count: int, write: bool = True) -> list[Path]:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(buffer, "JPEG")
    data = buffer.getvalue()
    paths = []
    for i in range(count):
        folder = root / f"{i // 50000:02d}" / f"{i // 500:04d}"  # 500 photos a folder, like camera dumps; 50k a top one
        if i % 500 == 0 and write:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IMG_{i:06d}.jpg"
        if write:
            path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()
