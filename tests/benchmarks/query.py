"""Measure the vector index on synthetic 384-d vectors; writes results/query.json and prints a table.

Run: python tests/benchmarks/query.py [--sizes 100000 1000000] [--queries 1000] [--dim 384]

Per size: build time, recall@10 of the graph against exact search, single-query latency (index
part, k=10), numpy brute force for comparison, text query end to end (the installed built-in
bundle's text tower + the index; a synthetic query vector stands in when the bundle's width
differs from --dim), filtered searches at several selectivities, an ef sweep, RSS
growth, disk size, save and load time. Once: the brute-force / graph crossover at small sizes and
the cost of a sync with nothing to do. Targets: p50 < 20 ms at 1M, recall@10 >= 0.99.

The vectors are a mixture of 1,000 Gaussians around random directions, shifted into a cone (like
real embeddings, whose random pairs have cosine ~0.25) with a decaying per-axis spread, then
L2-normalised; queries are held-out samples. `data_stats` in the output gives the similarities.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop.core import vector_index  # noqa: E402
from desktop.core.vector_index import VectorIndex  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "query.json"
DIM = 384  # the default width; --dim 896 matches the built-in bundle's shared space
K = 10
TEXT_QUERIES = [
    "a dog running on the beach", "birthday cake with candles", "snowy mountains at sunrise", "a red car",
    "children playing in a park", "a plate of pasta", "the eiffel tower at night", "a cat asleep on a sofa",
    "fireworks over a city", "an old stone bridge", "a bowl of fruit", "people dancing at a wedding",
]
FILTER_FRACTIONS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)
EF_SWEEP = (32, 64, 96, 128, 192, 256)


def clustered_unit_vectors(
    n: int, dim: int = DIM, seed: int = 0, clusters: int = 1000, spread: float = 0.7, cone: float = 0.7,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(n, dim) float32 unit vectors from a mixture of Gaussians (see the module docstring), written
    into `out` when given (a memory map, for sizes that do not fit in memory twice)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    centres[:, 0] += cone  # a shared direction: random pairs are positively correlated, as in CLIP-like spaces
    scale = (1.0 + np.arange(dim, dtype=np.float32)) ** -0.75  # per-axis spread decays: low intrinsic dimension
    scale = (scale * spread / np.sqrt((scale**2).sum()))[rng.permutation(dim)]
    out = np.empty((n, dim), np.float32) if out is None else out
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = centres[rng.integers(0, clusters, m)] + rng.standard_normal((m, dim), dtype=np.float32) * scale
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """(Q, k) row indices of the true top-k by inner product, in blocks of queries."""
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), 64):
        scores = queries[start : start + 64] @ data.T  # (q, N)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[start : start + 64] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / truth.shape[1] for a, b in zip(found.tolist(), truth.tolist())]))


def timed(fn, repeats) -> tuple[list[float], list]:
    """Per-call milliseconds and results of fn(i) for i in range(repeats)."""
    times, results = [], []
    for i in range(repeats):
        start = time.perf_counter()
        results.append(fn(i))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def p50_p95(times: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_anon_mb() -> float:
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["RssAnon"].split()[0]) / 1024


@contextmanager
def stall_meter():
    """[longest s] another Python thread (as the GUI's) could not run inside the block: hnswlib's load
    and save, and usearch's, hold the GIL."""
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


def build(data: np.ndarray, stem: Path | None) -> tuple[VectorIndex, float]:
    index = VectorIndex(data.shape[1], stem, encoder_id="bench", bundle="bench")
    start = time.perf_counter()
    for s in range(0, len(data), 4096):  # the catalog's chunk size, as a sync adds them
        index.add(np.arange(s, min(s + 4096, len(data))) + 1, data[s : s + 4096])
    return index, time.perf_counter() - start


def measure_size(n: int, dim: int, queries_count: int, text_runtime) -> dict:
    print(f"[{n:,}] generating data and exact answers", flush=True)
    everything = clustered_unit_vectors(n + queries_count, dim)
    data, queries = everything[:n], everything[n:]
    truth = exact_top_k(data, queries) + 1  # labels are row + 1, as catalog ids start at 1
    similarities = queries[:50] @ data.T  # (50, N)
    nearest = -np.sort(np.partition(-similarities, K, axis=1)[:, :K], axis=1)  # (50, K) best first
    stats = {"nn1_cos": round(float(nearest[:, 0].mean()), 3), "nn10_cos": round(float(nearest[:, -1].mean()), 3),
             "random_pair_cos": round(float(similarities.mean()), 3)}

    brute_times, _ = timed(lambda i: np.argpartition(-(data @ queries[i]), K)[:K], min(200, queries_count))
    folder = Path(tempfile.mkdtemp(prefix="picsift-bench-"))
    rss_before = rss_mb()
    print(f"[{n:,}] building", flush=True)
    index, build_s = build(data, folder / "bench")
    rss_after = rss_mb()

    times, found = timed(lambda i: index.search(queries[i], K)[0], queries_count)
    result = {"n": n, "data_stats": stats, "build_s": round(build_s, 1), "inserts_per_s": round(n / build_s),
              "recall_at_10": round(recall(np.array(found), truth), 4), "index_query": p50_p95(times),
              "numpy_brute_force": p50_p95(brute_times), "rss_growth_mb": round(rss_after - rss_before),
              "vector_copy_mb": round(n * dim * 4 / 2**20)}
    result["ef_sweep"] = ef_sweep(index, queries[:min(500, queries_count)], truth)
    result["filtered"] = filtered(index, data, queries[:100], n)
    if text_runtime is not None:
        result["text_query_end_to_end"] = text_query(index, text_runtime, queries)
    result.update(persistence(index, folder))
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]  # other work on the machine skews timings
    return result


def ef_sweep(index: VectorIndex, queries: np.ndarray, truth: np.ndarray) -> list[dict]:
    rows, chosen = [], index.ef
    for ef in EF_SWEEP:
        index.ef = ef
        times, found = timed(lambda i: index.search(queries[i], K)[0], len(queries))
        rows.append({"ef": ef, "recall_at_10": round(recall(np.array(found), truth[: len(queries)]), 4), **p50_p95(times)})
    index.ef = chosen
    return rows


def filtered(index: VectorIndex, data: np.ndarray, queries: np.ndarray, n: int) -> list[dict]:
    """Latency and recall of filtered search, by strategy, at several allowed fractions."""
    rows, rng = [], np.random.default_rng(5)
    chosen = index.filter_exact_max
    for fraction in FILTER_FRACTIONS:
        allowed = np.sort(rng.choice(n, max(K, int(n * fraction)), replace=False)) + 1  # labels
        truth = allowed[exact_top_k(data[allowed - 1], queries)]
        row = {"fraction": fraction, "allowed": len(allowed)}
        for name, limit in (("exact", 1 << 62), ("over_fetch", 0), ("auto", chosen)):
            index.filter_exact_max = limit
            times, found = timed(lambda i: index.search(queries[i], K, allowed_ids=allowed)[0], len(queries))
            row[name] = {**p50_p95(times), "recall_at_10": round(recall(np.array(found), truth), 4)}
        rows.append(row)
    index.filter_exact_max = chosen
    return rows


def text_query(index: VectorIndex, runtime, stand_ins: np.ndarray) -> dict:
    """Encode a text with the real text tower, then search; a held-out query vector stands in for the
    text's when the bundle's shared space is not as wide as the index (the cost is the same)."""
    runtime.encode_texts(["warm up"])  # the first call loads the text tower
    matches = runtime.manifest.embedding_dim == index.dim

    def one(i):
        vector = runtime.encode_texts([TEXT_QUERIES[i % len(TEXT_QUERIES)]])[0]  # (D_bundle,)
        return index.search(vector if matches else stand_ins[i % len(stand_ins)], K)

    times, _ = timed(one, 100)
    note = "text vector" if matches else f"synthetic stand-in ({runtime.manifest.embedding_dim}-d bundle, {index.dim}-d index)"
    return {**p50_p95(times), "query_vector": note}


def persistence(index: VectorIndex, folder: Path) -> dict:
    start = time.perf_counter()
    index.save()
    save_s = time.perf_counter() - start
    disk = sum(p.stat().st_size for p in folder.iterdir())
    manifest = SimpleNamespace(embedding_dim=index.dim, image_encoder_id="bench", name="bench")
    start = time.perf_counter()
    VectorIndex.load(index.stem, manifest)
    load_s = time.perf_counter() - start
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return {"save_s": round(save_s, 2), "load_s": round(load_s, 2), "disk_mb": round(disk / 2**20)}


def crossover(dim: int, sizes=(1_000, 2_000, 5_000, 10_000, 20_000, 50_000)) -> list[dict]:
    """Brute force vs graph latency at small sizes: where EXACT_SEARCH_MAX should sit."""
    rows = []
    everything = clustered_unit_vectors(max(sizes) + 200, dim, seed=3)
    queries = everything[-200:]
    for n in sizes:
        index, _ = build(everything[:n], None)
        row = {"n": n}
        for name, limit in (("exact", 1 << 62), ("graph", 0)):
            index.exact_search_max = limit
            times, _ = timed(lambda i: index.search(queries[i], K), len(queries))
            row[name] = p50_p95(times)
        rows.append(row)
        print(f"  crossover {n:>6,}: exact {row['exact']['p50_ms']:.3f} ms, graph {row['graph']['p50_ms']:.3f} ms", flush=True)
    return rows


def sync_cost(rows: int, dim: int) -> dict:
    """A real catalog with `rows` photos: first sync (the build) and a sync with nothing to do."""
    from desktop.core.catalog import Catalog, NewImage

    folder = Path(tempfile.mkdtemp(prefix="picsift-sync-"))
    runtime = SimpleNamespace(manifest=SimpleNamespace(image_encoder_id="bench"), map_images=lambda f: f)
    features = clustered_unit_vectors(rows, dim, seed=9)
    with Catalog(folder / "catalog.sqlite3") as catalog:
        folder_id = catalog.add_folder(folder / "photos")
        for s in range(0, rows, 2000):
            items = [NewImage(f"/p/{i}.jpg", folder_id, 1, 1, f"h{i}", 1, 1, None, None) for i in range(s, min(rows, s + 2000))]
            catalog.add_images(items, features[s : s + 2000], "bench")
        index = VectorIndex(dim, None, encoder_id="bench")
        start = time.perf_counter()
        index.sync_from_catalog(catalog, runtime)
        first_s = time.perf_counter() - start
        times, _ = timed(lambda i: index.sync_from_catalog(catalog, runtime), 5)
    shutil.rmtree(folder)
    return {"rows": rows, "first_sync_s": round(first_s, 1), "noop_sync": p50_p95(times)}


def open_text_runtime():
    from models import registry
    from models.errors import PicsiftError
    from models.runtime import ModelRuntime

    try:
        return ModelRuntime(registry.open_installed("picsift-builtin"), device="cpu")
    except PicsiftError as exc:
        print(f"note: text queries skipped, the built-in bundle is not installed ({exc})")
        return None


def table(result: dict) -> str:
    lines = [
        "| vectors | build | recall@10 | index p50 / p95 | text end-to-end p50 / p95 | numpy brute p50 / p95 "
        "| RSS growth | disk | save / load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["sizes"]:
        text = r.get("text_query_end_to_end")
        text_cell = f"{text['p50_ms']} / {text['p95_ms']} ms" if text else "skipped"
        lines.append(
            f"| {r['n']:,} | {r['build_s']} s ({r['inserts_per_s']:,}/s) | {r['recall_at_10']} "
            f"| {r['index_query']['p50_ms']} / {r['index_query']['p95_ms']} ms "
            f"| {text_cell} "
            f"| {r['numpy_brute_force']['p50_ms']} / {r['numpy_brute_force']['p95_ms']} ms "
            f"| {r['rss_growth_mb']} MB | {r['disk_mb']} MB | {r['save_s']} / {r['load_s']} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--sync-rows", type=int, default=100_000, help="catalog size for the sync cost (0 skips)")
    parser.add_argument("--no-crossover", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    text_runtime = open_text_runtime()
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "parameters": {"M": vector_index.HNSW_M, "ef_construction": vector_index.HNSW_EF_CONSTRUCTION, "ef": vector_index.HNSW_EF,
                       "exact_search_max": vector_index.EXACT_SEARCH_MAX, "filter_exact_max": vector_index.FILTER_EXACT_MAX},
        "k": K, "dim": args.dim, "queries": args.queries,
    }
    if not args.no_crossover:
        result["crossover"] = crossover(args.dim)
    if args.sync_rows:
        result["sync"] = sync_cost(args.sync_rows, args.dim)
        print(f"  sync of {args.sync_rows:,} rows: {result['sync']}", flush=True)
    result["sizes"] = []
    for n in args.sizes:
        result["sizes"].append(measure_size(n, args.dim, args.queries, text_runtime))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")  # after each size: 1M takes a while
        print(table(result), flush=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
