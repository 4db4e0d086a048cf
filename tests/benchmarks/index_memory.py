"""Memory of the vector index at 100k and 1M 896-d vectors, for each kind of exact-search copy; writes results/index_memory.json.

Run: python tests/benchmarks/index_memory.py [--sizes 100000 1000000] [--dim 896] [--queries 200]
     [--variants float32 none float16 int8 int8-global] [--fast-build-above 100000]

Per size: clustered synthetic unit vectors (tests/benchmarks/query.py's mixture, in a memory map),
one hnswlib graph built (M and ef_construction as desktop/core/vector_search.py; above
--fast-build-above with ef_construction 16: the graph's memory and get_items are the same, only its
unfiltered recall is lower, so the unfiltered figures at that size come from results/query.json),
saved, and then one fresh subprocess per copy of the vectors that exact and filtered search read:

  float32      today's: a float32 copy beside the graph
  none         no copy: hnswlib get_items for every allowed vector
  float16      a float16 copy, its best k + margin re-scored in float32 from the graph
  int8         per-vector scale (desktop/core/vector_search.py as it is), re-scored the same way
  int8-global  one scale for all vectors, re-scored the same way

Each measures, by RSS (RssAnon: hnswlib's C++ allocations, which tracemalloc cannot see, count; the
memory-mapped data's file pages do not), the graph after load and the copy after filling, load
time, disk size, p50/p95 of filtered searches (1k, 5k, 20k allowed: all scored exactly) with
recall@10 and the largest score error against float32 exact search, for several re-score margins.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import hnswlib
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from query import clustered_unit_vectors, p50_p95, recall, text_query, timed  # noqa: E402

from desktop.core.vector_index import VectorIndex  # noqa: E402
from desktop.core.vector_search import HNSW_EF_CONSTRUCTION, HNSW_M, RESCORE_EXTRA, RESCORE_TOP, quantized  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "index_memory.json"
K = 10
FILTERS = (1_000, 5_000, 20_000)
MARGINS = (0, 8, 16, 32)
DEEP_K = 500  # the app's results per query (desktop/core/settings.py)
SLOW_QUERIES = 3  # the `none` copy reads every allowed vector from the graph: a few queries say enough


def rss_anon_mb() -> float:
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["RssAnon"].split()[0]) / 1024


# --- the copies -----------------------------------------------------------------------------
class Int8Copy(VectorIndex):
    """desktop/core/vector_search.py as it is."""

    def fill(self, graph: hnswlib.Index, data: np.ndarray) -> None:
        codes, scales = quantized(data)
        self._replace_rows(graph, np.arange(len(data), dtype=np.int64), codes, scales, np.zeros(0, np.int64))


class Int8GlobalCopy(Int8Copy):
    def fill(self, graph, data):
        top = max(float(np.abs(data[s : s + 65536]).max()) for s in range(0, len(data), 65536))
        codes = np.empty(data.shape, np.int8)
        for s in range(0, len(data), 65536):
            codes[s : s + 65536] = np.rint(np.asarray(data[s : s + 65536]) * (127 / top))
        self._replace_rows(graph, np.arange(len(data), dtype=np.int64), codes, np.full(len(data), top / 127, np.float32),
                           np.zeros(0, np.int64))


class Float16Copy(Int8Copy):
    dtype = np.float16

    def fill(self, graph, data):
        self._copy = np.empty(data.shape, self.dtype)
        for s in range(0, len(data), 65536):
            self._copy[s : s + 65536] = data[s : s + 65536]
        NoCopy.fill(self, graph, data)

    def _approximate(self, queries, rows):  # in blocks, as SearchableVectors._approximate
        scores = np.empty((len(queries), len(rows)), np.float32)
        for s in range(0, len(rows), 256):
            scores[:, s : s + 256] = queries @ self._copy[rows[s : s + 256]].astype(np.float32, copy=False).T
        return scores


class Float32Copy(Float16Copy):
    """Today's: exact scores from the copy itself, no re-score."""

    dtype = np.float32

    def _rescored(self, queries, labels):
        return np.einsum("qd,qpd->qp", queries, self._copy[labels])


class NoCopy(Float16Copy):
    def fill(self, graph, data):  # the rows' bookkeeping only, no int8 codes
        self._replace_rows(graph, np.arange(len(data), dtype=np.int64), np.zeros((len(data), 0), np.int8),
                           np.zeros(len(data), np.float32), np.zeros(0, np.int64))

    def _approximate(self, queries, rows):
        return queries @ np.asarray(self._hnsw.get_items(self._labels[rows], return_type="numpy"), np.float32).T

    def _rescored(self, queries, labels):
        return np.einsum("qd,qpd->qp", queries, np.asarray(self._hnsw.get_items(labels.ravel(), return_type="numpy"),
                                                          np.float32).reshape(*labels.shape, -1))


COPIES = {"float32": Float32Copy, "none": NoCopy, "float16": Float16Copy, "int8": Int8Copy, "int8-global": Int8GlobalCopy}


# --- the stages (each in its own process) ---------------------------------------------------
def build_graph(work: Path, n: int, dim: int, ef_construction: int) -> dict:
    data = np.load(work / "data.npy", mmap_mode="r")[:n]
    graph = hnswlib.Index(space="ip", dim=dim)
    graph.init_index(max_elements=n, M=HNSW_M, ef_construction=ef_construction)
    start = time.perf_counter()
    for s in range(0, n, 50_000):
        graph.add_items(np.asarray(data[s : s + 50_000]), np.arange(s, min(s + 50_000, n)), num_threads=os.cpu_count())
        print(f"  graph {min(s + 50_000, n):,}/{n:,} {time.perf_counter() - start:.0f} s", flush=True)
    build_s = time.perf_counter() - start
    graph.save_index(str(work / "graph.hnsw"))
    return {"build_s": round(build_s, 1), "ef_construction": ef_construction, "graph_rss_mb": round(rss_anon_mb())}


def measure_copy(work: Path, n: int, kind: str, queries_count: int, bundle: str | None) -> dict:
    data = np.load(work / "data.npy", mmap_mode="r")
    queries, truth = np.load(work / "queries.npy")[:queries_count], np.load(work / "truth.npz")
    base = rss_anon_mb()
    start = time.perf_counter()
    graph = hnswlib.Index(space="ip", dim=data.shape[1])
    graph.load_index(str(work / "graph.hnsw"))
    load_s, graph_mb = time.perf_counter() - start, rss_anon_mb() - base
    index = COPIES[kind](data.shape[1], work / "saved" / "bench", encoder_id="bench", bundle="bench")
    start = time.perf_counter()
    index.fill(graph, data[:n])
    fill_s = time.perf_counter() - start
    out = {"graph_load_s": round(load_s, 2), "graph_rss_mb": round(graph_mb), "copy_fill_s": round(fill_s, 2),
           "copy_rss_mb": round(rss_anon_mb() - base - graph_mb), "filtered": []}
    for allowed_count in FILTERS:
        allowed, exact_ids, exact_scores = (truth[f"{name}_{allowed_count}"] for name in ("allowed", "ids", "scores"))
        count = min(len(queries), SLOW_QUERIES) if kind == "none" and allowed_count > 1000 else len(queries)
        for margin in MARGINS if kind not in ("float32", "none") else (MARGINS[-1],):
            index.rescore_extra = margin
            times, found = timed(lambda i: index.search(queries[i], K, allowed_ids=allowed), count)
            ids = np.stack([f[0] for f in found])
            scores = np.stack([f[1] for f in found])
            same = ids == exact_ids[:count]
            out["filtered"].append({"allowed": allowed_count, "margin": margin, "queries": count, **p50_p95(times),
                                    "recall_at_10": round(recall(ids, exact_ids[:count]), 4),
                                    "max_score_error": float(np.abs(scores - exact_scores[:count])[same].max(initial=0))})
    index.rescore_extra = RESCORE_EXTRA
    if kind != "none":
        out["filtered_k500"] = [deep_ranks(index, data, queries, truth[f"allowed_{a}"]) for a in FILTERS[1:]]
    if kind == "int8":  # the unfiltered path does not read the copy: measured once, with the real index
        out |= unfiltered(index, queries, truth["ids_all"], bundle)
    return out


def deep_ranks(index: VectorIndex, data: np.ndarray, queries: np.ndarray, allowed: np.ndarray) -> dict:
    """k = 500 (the app's results per query): latency, recall@500, and the score error of the first
    RESCORE_TOP ranks (re-scored in float32) and of all 500."""
    scores = queries @ np.asarray(data[allowed]).T  # (Q, A) exact
    order = np.argsort(-scores, axis=1)[:, :DEEP_K]
    exact_ids, exact_scores = allowed[order], np.take_along_axis(scores, order, axis=1)
    times, found = timed(lambda i: index.search(queries[i], DEEP_K, allowed_ids=allowed), len(queries))
    ids, got = np.stack([f[0] for f in found]), np.stack([f[1] for f in found])
    true_score = np.take_along_axis(scores, np.searchsorted(allowed, ids), axis=1)  # each found id's exact score
    error = np.abs(got - true_score)
    return {"allowed": len(allowed), "k": DEEP_K, **p50_p95(times), "recall_at_500": round(recall(ids, exact_ids), 4),
            f"top_{RESCORE_TOP}_same_ids": float(np.mean(ids[:, :RESCORE_TOP] == exact_ids[:, :RESCORE_TOP])),
            f"max_score_error_top_{RESCORE_TOP}": float(error[:, :RESCORE_TOP].max()),
            "max_score_error_all": float(error.max()), "exact_500th_score": round(float(exact_scores[:, -1].mean()), 3)}


def unfiltered(index: VectorIndex, queries: np.ndarray, truth: np.ndarray, bundle: str | None) -> dict:
    """Graph search, a text query end to end (the real text tower), and a save and load of the real files."""
    times, found = timed(lambda i: index.search(queries[i], K)[0], len(queries))
    out = {"unfiltered": {**p50_p95(times), "recall_at_10": round(recall(np.stack(found), truth), 4)}}
    if bundle:
        from models.runtime import ModelRuntime

        out["text_query_end_to_end"] = text_query(index, ModelRuntime(bundle, device="cpu"), queries)
    index.stem.parent.mkdir(parents=True)
    start = time.perf_counter()
    with stall_meter() as stall:
        index.save()  # the real files, loaded again by the parent's "load" stage in a fresh process
    out["save_s"], out["save_longest_stall_of_another_thread_s"] = round(time.perf_counter() - start, 1), round(stall[0], 2)
    out["disk_mb"] = round(sum(p.stat().st_size for p in index.stem.parent.iterdir()) / 2**20)
    return out


def load_saved(work: Path, dim: int) -> dict:
    """What opening the saved index costs a fresh process (the app's start-up): time, memory, GIL."""
    base = rss_anon_mb()
    start = time.perf_counter()
    with stall_meter() as stall:
        index = VectorIndex.load(work / "saved" / "bench", SimpleNamespace(embedding_dim=dim, image_encoder_id="bench", name="bench"))
    return {"load_s": round(time.perf_counter() - start, 2), "rss_mb": round(rss_anon_mb() - base), "vectors": len(index),
            "longest_stall_of_another_thread_s": round(stall[0], 2)}


@contextmanager
def stall_meter():
    """[longest s] another Python thread (as the GUI's) could not run inside the block: hnswlib's load
    and save hold the GIL."""
    stalls, done = [0.0], threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not done.wait(0.005):
            now = time.perf_counter()
            stalls[0], last = max(stalls[0], now - last - 0.005), now

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        yield stalls
    finally:
        done.set()
        ticker.join()


# --- the parent -----------------------------------------------------------------------------
def prepare(work: Path, n: int, dim: int, queries_count: int) -> None:
    """The data (memory map), the queries, and exact float32 answers for each filter."""
    data = np.lib.format.open_memmap(work / "data.npy", "w+", np.float32, (n + queries_count, dim))
    clustered_unit_vectors(n + queries_count, dim, out=data)
    data.flush()
    np.save(work / "queries.npy", np.asarray(data[n:]))
    queries, data = np.asarray(data[n:]), data[:n]
    best, best_scores = np.zeros((queries_count, 0), np.int64), np.zeros((queries_count, 0), np.float32)
    for s in range(0, n, 100_000):  # exact unfiltered top-k, a block of rows at a time
        rows = np.concatenate([best, np.tile(np.arange(s, min(s + 100_000, n)), (queries_count, 1))], 1)
        scores = np.concatenate([best_scores, queries @ np.asarray(data[s : s + 100_000]).T], 1)
        top = np.argsort(-scores, axis=1)[:, :K]
        best, best_scores = np.take_along_axis(rows, top, axis=1), np.take_along_axis(scores, top, axis=1)
    rng = np.random.default_rng(1)
    truth = {"ids_all": best}
    for allowed_count in FILTERS:
        allowed = np.sort(rng.choice(n, allowed_count, replace=False))
        scores = queries @ np.asarray(data[allowed]).T  # (Q, A)
        best = np.argsort(-scores, axis=1)[:, :K]
        truth |= {f"allowed_{allowed_count}": allowed, f"ids_{allowed_count}": allowed[best],
                  f"scores_{allowed_count}": np.take_along_axis(scores, best, axis=1)}
    np.savez(work / "truth.npz", **truth)


def stage(*args) -> dict:
    """Run one stage of this script in a fresh process; its last stdout line is its JSON."""
    done = subprocess.run([sys.executable, __file__, *map(str, args)], check=True, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_size(n: int, args) -> dict:
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        work = Path(folder)
        print(f"[{n:,}] data and exact answers", flush=True)
        prepare(work, n, args.dim, args.queries)
        ef_construction = HNSW_EF_CONSTRUCTION if n <= args.fast_build_above else 16
        print(f"[{n:,}] graph (ef_construction {ef_construction})", flush=True)
        graph = stage("--stage", "graph", "--work", work, "--n", n, "--dim", args.dim, "--ef-construction", ef_construction)
        graph["disk_mb"] = round((work / "graph.hnsw").stat().st_size / 2**20)
        copies = {}
        for kind in args.variants:
            print(f"[{n:,}] copy {kind}", flush=True)
            copies[kind] = stage("--stage", "copy", "--work", work, "--n", n, "--variant", kind, "--queries", args.queries,
                                 *(["--bundle", args.bundle] if args.bundle else []))
            copy_disk = {"float32": 4 * args.dim, "float16": 2 * args.dim, "int8": args.dim + 4, "int8-global": args.dim}
            copies[kind]["copy_disk_mb"] = round(n * (copy_disk.get(kind, 0) + 8) / 2**20)  # + its labels
            copies[kind]["total_rss_mb"] = copies[kind]["graph_rss_mb"] + copies[kind]["copy_rss_mb"]
            print(json.dumps(copies[kind]), flush=True)
        saved = stage("--stage", "load", "--work", work, "--dim", args.dim) if "int8" in copies else None
    return {"n": n, "dim": args.dim, "variants": list(args.variants), "load_average": os.getloadavg(), "graph": graph,
            "saved_index_opened": saved, "copies": copies}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=896)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--variants", nargs="+", default=list(COPIES), choices=list(COPIES))
    parser.add_argument("--fast-build-above", type=int, default=100_000)
    parser.add_argument("--work", default=None, help="folder for the temporary data and graph (several GB at 1M)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--bundle", default=os.environ.get("PICSIFT_TEST_BUILTIN"),
                        help="bundle folder for the text query end to end (default: $PICSIFT_TEST_BUILTIN; none skips it)")
    parser.add_argument("--stage", choices=["graph", "copy", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--ef-construction", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "graph":
        print(json.dumps(build_graph(Path(args.work), args.n, args.dim, args.ef_construction)))
        return
    if args.stage == "copy":
        print(json.dumps(measure_copy(Path(args.work), args.n, args.variant, args.queries, args.bundle)))
        return
    if args.stage == "load":
        print(json.dumps(load_saved(Path(args.work), args.dim)))
        return
    started = os.getloadavg()  # the machine is shared: each size's entry carries its own load too
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_at_start": started},
               "parameters": {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "k": K,
                              "queries": args.queries, "filters": FILTERS, "margins": MARGINS},
               "sizes": []}
    old = json.loads(args.out.read_text())["sizes"] if args.out.exists() else []
    sizes = {(s["n"], s.get("dim", 896)): s for s in old}  # other sizes' and widths' runs are kept
    for n in args.sizes:
        sizes[n, args.dim] = measure_size(n, args)
        results["sizes"] = [sizes[key] for key in sorted(sizes)]
        results["machine"]["load_average_at_end"] = os.getloadavg()
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
