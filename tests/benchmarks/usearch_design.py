"""Can a memory-mapped float16 usearch graph be the whole index (graph, exact copy and filters) at 1M? A design probe.

Run: python tests/benchmarks/usearch_design.py [--n 100000] [--dim 1024]   (needs `pip install usearch`,
not a picsift dependency yet); writes results/usearch_design.json.

The design it tests, for issue 18 (index memory under 3 GB and an app interactive in 2 s at 1M):
the saved graph is opened as a read-only memory map (`Index.restore(view=True)`) and exact and
filtered search read the same file's float16 vector block through `np.memmap`, so there is one copy
of the vectors, file-backed, and opening costs no load. usearch writes that block in *slot* order,
which a threaded add interleaves (keys are not in it), so the probe recovers row -> slot by hashing
the rows' bytes. New vectors go to a mutable index that references the caller's float16 rows
(`add(copy=False)`), so nothing is held twice while adding. Measured side by side on the same
clustered vectors: hnswlib (what picsift uses now) and this design; build, resident memory
(anonymous and file-backed), open time with the longest stall of another Python thread, graph
recall@10 and latency, filtered exact search from the memory map, and usearch's `get` per vector.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import hnswlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query import exact_top_k, p50_p95, recall, stall_meter, timed  # noqa: E402
from usearch_probe import vectors_from_arguments  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "usearch_design.json"
M, EF_CONSTRUCTION, EF = 24, 200, 256
FILTERS = (1_000, 5_000, 20_000)


def rss_mb() -> dict:
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return {part: int(fields[f"Rss{part}"].split()[0]) / 1024 for part in ("Anon", "File")}


def grew(before: dict) -> dict:
    now = rss_mb()
    return {f"rss_{part.lower()}_mb": round(now[part] - before[part]) for part in now}


def row_hashes(rows: np.ndarray) -> np.ndarray:
    """(N,) uint64 hash of each float16 row's bytes (equal rows hash equal, which is harmless here)."""
    words = np.ascontiguousarray(rows).view(np.uint64)  # (N, D / 4)
    weights = np.random.default_rng(7).integers(1, 2**63, words.shape[1], dtype=np.uint64) | np.uint64(1)
    out = np.empty(len(words), np.uint64)
    for start in range(0, len(words), 1 << 15):
        out[start : start + (1 << 15)] = (words[start : start + (1 << 15)] * weights).sum(axis=1, dtype=np.uint64)
    return out


def slots_of_rows(by_slot: np.ndarray, by_row: np.ndarray) -> np.ndarray:
    """(N,) slot of each row: match the file's slot-ordered rows to the caller's row-ordered ones."""
    slot_order, row_order = np.argsort(row_hashes(by_slot)), np.argsort(row_hashes(by_row))
    slots = np.empty(len(by_row), np.int64)
    slots[row_order] = slot_order
    return slots


def hnswlib_side(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, folder: Path) -> dict:
    before = rss_mb()
    graph = hnswlib.Index(space="ip", dim=data.shape[1])
    graph.init_index(max_elements=len(data), M=M, ef_construction=EF_CONSTRUCTION)
    start = time.perf_counter()
    graph.add_items(data, np.arange(len(data)))
    out = {"build_s": round(time.perf_counter() - start, 1), **grew(before)}
    graph.set_ef(EF)
    times, found = timed(lambda i: graph.knn_query(queries[i], k=10)[0][0], len(queries))
    out |= {"recall_at_10": round(recall(np.stack(found), truth), 4), **p50_p95(times)}
    graph.save_index(str(folder / "g.hnsw"))
    out["disk_mb"] = round((folder / "g.hnsw").stat().st_size / 2**20)
    del graph
    before, start = rss_mb(), time.perf_counter()
    with stall_meter() as stall:
        graph = hnswlib.Index(space="ip", dim=data.shape[1])
        graph.load_index(str(folder / "g.hnsw"))
    out["open"] = {"s": round(time.perf_counter() - start, 2), **grew(before), "longest_stall_s": round(stall[0], 2)}
    return out


def usearch_side(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, folder: Path) -> dict:
    from usearch.index import Index

    rows = data.astype(np.float16)  # the caller's rows, referenced by the mutable index (copy=False)
    before = rss_mb()
    index = Index(ndim=data.shape[1], metric="ip", dtype="f16", connectivity=M, expansion_add=EF_CONSTRUCTION,
                  expansion_search=EF)
    start = time.perf_counter()
    with stall_meter() as stall:
        index.add(np.arange(len(rows)), rows, copy=False, threads=os.cpu_count())
    out = {"build_s": round(time.perf_counter() - start, 1), **grew(before), "add_longest_stall_s": round(stall[0], 2)}
    path = folder / "g.usearch"
    start = time.perf_counter()
    with stall_meter() as stall:
        index.save(str(path))
    out["save"] = {"s": round(time.perf_counter() - start, 2), "longest_stall_s": round(stall[0], 2),
                   "disk_mb": round(path.stat().st_size / 2**20)}
    del index
    before, start = rss_mb(), time.perf_counter()
    with stall_meter() as stall:
        view = Index.restore(str(path), view=True)
        view.expansion_search = EF
        header = np.fromfile(path, np.uint32, 2)  # rows, bytes per row; the float16 block follows
        vectors = np.memmap(path, np.float16, "r", offset=8, shape=(int(header[0]), int(header[1]) // 2))
    out["open_view"] = {"s": round(time.perf_counter() - start, 3), **grew(before), "longest_stall_s": round(stall[0], 2)}
    start = time.perf_counter()
    slots = slots_of_rows(vectors, rows)
    out["slot_map"] = {"s": round(time.perf_counter() - start, 2), "exact": bool(np.array_equal(vectors[slots], rows)),
                       "interleaved": bool(not np.array_equal(slots, np.arange(len(rows))))}
    before = rss_mb()
    times, found = timed(lambda i: view.search(queries[i], 10).keys.astype(np.int64), len(queries))
    out["graph"] = {"recall_at_10": round(recall(np.stack(found), truth), 4), **p50_p95(times), **grew(before)}
    out["filtered_exact"] = [filtered(vectors, slots, data, queries, allowed) for allowed in FILTERS if allowed < len(rows)]
    keys = np.random.default_rng(3).choice(len(rows), 5_000, replace=False)
    start = time.perf_counter()
    view.get(keys)
    out["get_us_per_vector"] = round((time.perf_counter() - start) / len(keys) * 1e6, 2)
    load_path = str(path)
    before, start = rss_mb(), time.perf_counter()
    with stall_meter() as stall:
        Index.restore(load_path, view=False)
    out["load_mutable"] = {"s": round(time.perf_counter() - start, 2), "longest_stall_s": round(stall[0], 2)}
    out["resident_after_all_mb"] = grew(before)
    return out


def filtered(vectors: np.ndarray, slots: np.ndarray, data: np.ndarray, queries: np.ndarray, allowed: int) -> dict:
    """Exact search of `allowed` random rows read through the memory map, against float32 exact."""
    rng = np.random.default_rng(allowed)
    rows = np.sort(rng.choice(len(slots), allowed, replace=False))
    truth = rows[exact_top_k(data[rows], queries)]

    def one(i: int) -> np.ndarray:
        scores = np.asarray(vectors[slots[rows]], np.float32) @ queries[i]
        return rows[np.argsort(-scores)[:10]]

    times, found = timed(one, len(queries))
    return {"allowed": allowed, "recall_at_10": round(recall(np.stack(found), truth), 4), **p50_p95(times)}


def main() -> None:
    import usearch

    args, data, queries, truth = vectors_from_arguments(__doc__.splitlines()[0])
    result = {"n": args.n, "dim": args.dim, "usearch": usearch.__version__, "hnswlib": hnswlib.__version__ if hasattr(
        hnswlib, "__version__") else "0.8", "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as folder:
        result["usearch_f16_view"] = usearch_side(data, queries, truth, Path(folder))
        print("usearch", result["usearch_f16_view"], flush=True)
        result["hnswlib_f32"] = hnswlib_side(data, queries, truth, Path(folder))
        print("hnswlib", result["hnswlib_f32"], flush=True)
    result["load_average_at_end"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
