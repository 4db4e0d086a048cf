"""Would an HNSW library with float16/int8 graph storage get the index under 3 GB at 1M? A probe; writes results/usearch_probe.json.

Run: PYTHONPATH=/path/to/usearch python tests/benchmarks/usearch_probe.py [--n 100000] [--dim 1024]
usearch is not a picsift dependency (install it anywhere, e.g. `pip install --target DIR usearch`).
On the same clustered vectors as index_memory.py, for each graph storage: RSS of the built graph
(RssAnon), build time, recall@10 of the graph against float32 exact, query p50/p95, file size,
and opening the saved graph as a memory map (`Index.restore(view=True)`) and by loading it, with
how long another Python thread stalled meanwhile (hnswlib holds the GIL for its whole load).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query import clustered_unit_vectors, exact_top_k, p50_p95, recall, rss_anon_mb, stall_meter, timed  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "usearch_probe.json"


def probe(kind: str, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, folder: Path) -> dict:
    from usearch.index import Index

    base = rss_anon_mb()
    index = Index(ndim=data.shape[1], metric="ip", dtype=kind, connectivity=24, expansion_add=200, expansion_search=256)
    start = time.perf_counter()
    index.add(np.arange(len(data)), data, threads=os.cpu_count())
    out = {"build_s": round(time.perf_counter() - start, 1), "rss_mb": round(rss_anon_mb() - base)}
    times, found = timed(lambda i: index.search(queries[i], 10).keys, len(queries))
    out |= {"recall_at_10": round(recall(np.stack(found), truth), 4), **p50_p95(times)}
    path = folder / f"{kind}.usearch"
    index.save(str(path))
    out["disk_mb"] = round(path.stat().st_size / 2**20)
    index = None  # freed before the reopenings are measured
    for view in (True, False):
        base, start = rss_anon_mb(), time.perf_counter()
        with stall_meter() as stall:
            opened = Index.restore(str(path), view=view)
        out["view" if view else "load"] = {"s": round(time.perf_counter() - start, 2), "rss_mb": round(rss_anon_mb() - base),
                                           "longest_stall_of_another_thread_s": round(stall[0], 2)}
        del opened
    return out


def vectors_from_arguments(description: str) -> tuple[argparse.Namespace, np.ndarray, np.ndarray, np.ndarray]:
    """Parse --n/--dim/--queries; (arguments, data (N, D), queries (Q, D), float32 exact top-10 (Q, 10))."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    everything = clustered_unit_vectors(args.n + args.queries, args.dim)
    data, queries = everything[: args.n], everything[args.n :]
    return args, data, queries, exact_top_k(data, queries)


def main() -> None:
    import usearch

    args, data, queries, truth = vectors_from_arguments(__doc__.splitlines()[0])
    result = {"n": args.n, "dim": args.dim, "usearch": usearch.__version__, "load_average": os.getloadavg(), "storage": {}}
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("f32", "f16", "i8"):
            result["storage"][kind] = probe(kind, data, queries, truth, Path(folder))
            print(kind, result["storage"][kind], flush=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
