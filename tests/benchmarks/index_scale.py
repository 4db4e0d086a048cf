"""The search index at scale, end to end, as the app holds it (usearch float16 segments); writes results/index_scale.json (index_scale_N.json for another --n).

Run: python tests/benchmarks/index_scale.py [--n 1000000] [--dim 1024] [--queries 200] [--bundle PATH]

Clustered synthetic unit vectors (tests/benchmarks/query.py's mixture, the built-in v2 width) are
added to a VectorIndex as a rebuild from the catalog adds them and saved (one segment). Then a
fresh process opens the saved index as the app does and measures: open time and the longest stall
of another Python thread (the GUI's), resident memory (anonymous and file-backed) after opening and
after the searches, the text query end to end (the real text tower of the built-in bundle, then the
search) at k = 10 and at the app's 500, graph recall@10 against float32 exact search, filtered
searches of 1k / 5k / 20k allowed photos, a sweep of the graph's beam width (exactness against exact search on the float16 vectors
the index holds, recall against float32), and searches with 2% of the photos hidden (deleted files).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from query import TEXT_QUERIES, clustered_unit_vectors, exact_top_k, p50_p95, recall, stall_meter, timed  # noqa: E402

from desktop.core.vector_index import VectorIndex  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "index_scale.json"
FILTERS = (1_000, 5_000, 20_000)
APP_K = 500  # the app's results per query (desktop/core/settings.py)


def resident_mb() -> dict:
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return {f"rss_{part.lower()}_mb": round(int(fields[f"Rss{part}"].split()[0]) / 1024) for part in ("Anon", "File")}


def index_pages_mb(folder: Path) -> dict:
    """Resident pages of the index's files in this process (/proc/self/smaps). Each segment file is mapped
    twice (usearch's view, and numpy's for exact search) over the same page-cache pages, so the
    physical memory they take is at least the larger mapping's and at most the file's size."""
    per_file: dict[str, list[int]] = {}
    path = None
    with open("/proc/self/smaps") as handle:
        for line in handle:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                path = parts[5] if len(parts) > 5 and parts[5].startswith(str(folder)) else None
            elif path and parts[0] == "Rss:":
                per_file.setdefault(path, []).append(int(parts[1]))
    largest = sum(max(sizes) for sizes in per_file.values()) / 1024
    files = sum(Path(p).stat().st_size for p in per_file) / 2**20
    return {"largest_mapping_mb": round(largest), "all_mappings_mb": round(sum(map(sum, per_file.values())) / 1024),
            "mapped_files_mb": round(files)}


def prepare(work: Path, n: int, dim: int, queries: int) -> None:
    """Data (a memory map), held-out queries, float32 exact top-10 and the filters' allowed rows."""
    data = np.lib.format.open_memmap(work / "data.npy", "w+", np.float32, (n + queries, dim))
    clustered_unit_vectors(n + queries, dim, out=data)
    np.save(work / "queries.npy", data[n:])
    np.save(work / "truth.npy", exact_top_k(data[:n], np.asarray(data[n:])))
    rng = np.random.default_rng(11)
    for allowed in FILTERS:
        np.save(work / f"allowed-{allowed}.npy", np.sort(rng.choice(n, allowed, replace=False)))
    np.save(work / "hidden.npy", rng.choice(n, n // 50, replace=False))


def build(work: Path, n: int) -> dict:
    data = np.load(work / "data.npy", mmap_mode="r")[:n]
    index = VectorIndex(data.shape[1], work / "index" / "bench", encoder_id="bench", bundle="bench")
    started = time.perf_counter()
    for start in range(0, n, 4096):  # the catalog's chunk size, as a rebuild's sync adds them
        index.add(np.arange(start, min(start + 4096, n)), data[start : start + 4096])
    built = time.perf_counter() - started
    before = resident_mb()
    started = time.perf_counter()
    with stall_meter() as stall:
        index.save()
    disk = sum(p.stat().st_size for p in (work / "index").iterdir())
    return {"build_s": round(built, 1), "resident_before_save": before, "save_s": round(time.perf_counter() - started, 2),
            "save_longest_stall_s": round(stall[0], 2), "disk_mb": round(disk / 2**20)}


def searches(work: Path, n: int, bundle: str | None) -> dict:
    before = resident_mb()
    manifest = SimpleNamespace(embedding_dim=np.load(work / "queries.npy").shape[1], image_encoder_id="bench", name="bench")
    started = time.perf_counter()
    with stall_meter() as stall:
        index = VectorIndex.load(work / "index" / "bench", manifest)
    out = {"open_s": round(time.perf_counter() - started, 2), "open_longest_stall_s": round(stall[0], 3),
           "resident_before_open": before, "resident_after_open": resident_mb(), "segments": [len(s) for s in index._segments],
           "index_pages_after_open": index_pages_mb(work / "index")}
    queries, truth = np.load(work / "queries.npy"), np.load(work / "truth.npy")
    for k in (10, APP_K):
        times, found = timed(lambda i: index.search(queries[i], k)[0], len(queries))
        out[f"graph_k{k}"] = {**p50_p95(times), "recall_at_10": round(recall(np.stack([f[:10] for f in found]), truth), 4)}
    out["ef_sweep_k10"] = ef_sweep(index, queries, truth)
    out["text_query_end_to_end"] = text_queries(index, bundle)
    data = np.load(work / "data.npy", mmap_mode="r")
    out["filtered_exact"] = [filtered(index, data, queries, np.load(work / f"allowed-{a}.npy")) for a in FILTERS if a < n]
    hidden = np.load(work / "hidden.npy")
    index.mark_removed(hidden)
    for k in (10, APP_K):
        times, found = timed(lambda i: index.search(queries[i], k)[0], len(queries))
        out[f"hidden_2pct_k{k}"] = {**p50_p95(times), "hidden_returned": int(np.isin(np.concatenate(found), hidden).sum())}
    out["resident_after_searches"] = resident_mb()  # file-backed pages include the data's and the bundle's
    out["index_pages_after_searches"] = index_pages_mb(work / "index")
    return out


def ef_sweep(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Graph recall@10 and latency at each beam width, on a dev half of the queries and a test half (a
    width is chosen on dev, its test figure reported); the index is left at its own width."""
    own, half, rows = index.ef, len(queries) // 2, []
    for ef in (64, 128, 256, 512):
        index.ef = ef
        row = {"ef": ef}
        for name, part in (("dev", slice(0, half)), ("test", slice(half, None))):
            times, found = timed(lambda i: index.search(queries[part][i], 10)[0], len(queries[part]))
            row[name] = {**p50_p95(times), "recall_at_10": round(recall(np.stack(found), truth[part]), 4)}
        rows.append(row)
    index.ef = own
    return rows


def text_queries(index: VectorIndex, bundle: str | None) -> dict:
    from models import registry
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(Path(bundle) if bundle else registry.open_installed("picsift-builtin"), device="cpu")
    if runtime.manifest.embedding_dim != index.dim:
        return {"skipped": f"the bundle's shared space is {runtime.manifest.embedding_dim}-d, the index {index.dim}-d"}
    runtime.encode_texts(["warm up"])
    out = {}
    for k in (10, APP_K):
        times, _ = timed(lambda i: index.search(runtime.encode_texts([TEXT_QUERIES[i % len(TEXT_QUERIES)]])[0], k), 100)
        out[f"k{k}"] = p50_p95(times)
    return out


def filtered(index: VectorIndex, data: np.ndarray, queries: np.ndarray, allowed: np.ndarray) -> dict:
    rows = np.asarray(data[allowed])  # (A, D) float32
    stored = rows.astype(np.float16).astype(np.float32)
    want16 = allowed[np.argsort(-(queries.astype(np.float16).astype(np.float32) @ stored.T), axis=1)[:, :10]]
    want32 = allowed[exact_top_k(rows, queries)]
    times, found = timed(lambda i: index.search(queries[i], 10, allowed_ids=allowed)[0], len(queries))
    found = np.stack(found)
    return {"allowed": len(allowed), **p50_p95(times), "same_as_exact_on_float16": round(recall(found, want16), 4),
            "recall_at_10_vs_float32": round(recall(found, want32), 4)}


def child(argv: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--bundle", default=os.environ.get("PICSIFT_TEST_BUILTIN"), help="the built-in v2 bundle (for the text tower)")
    parser.add_argument("--phase", choices=("build", "search"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        work = Path(args.work)
        print(json.dumps(build(work, args.n) if args.phase == "build" else searches(work, args.n, args.bundle)))
        return
    result = {"n": args.n, "dim": args.dim, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(dir=os.environ.get("PICSIFT_BENCH_TMP")) as folder:
        work = Path(folder)
        started = time.perf_counter()
        prepare(work, args.n, args.dim, args.queries)
        print(f"data and exact answers: {time.perf_counter() - started:.0f} s", flush=True)
        common = ["--n", str(args.n), "--work", folder] + (["--bundle", args.bundle] if args.bundle else [])
        result["build"] = child([*common, "--phase", "build"])
        print("build", result["build"], flush=True)
        result["open_and_search"] = child([*common, "--phase", "search"])
        print("search", result["open_and_search"], flush=True)
    result["load_average_at_end"] = os.getloadavg()
    out = RESULTS if args.n == 1_000_000 else RESULTS.with_name(f"index_scale_{args.n}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
