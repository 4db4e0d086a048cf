"""A big merge of the search index's segments, in the app's process and in a child process, side by side; writes results/index_merge.json.

Run: python tests/benchmarks/index_merge.py [--n 200000] [--dim 1024]

A save merges the newest segments into one when together they outgrow an older one: here two
saved segments of n/2 clustered unit vectors each (the built-in v2 width), copied, and each copy
opened as the app opens it and saved once, merging them. One copy merges in this process (as
every merge did before), the other in a child process (merges of REBUILD_IN_CHILD_MIN rows or more
now). Measured: the save's wall time and the longest stall of another Python thread (the GUI's;
usearch's save holds the GIL), and that both merged indexes answer the same queries alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).parent))

from query import clustered_unit_vectors, exact_top_k, recall, stall_meter  # noqa: E402

from desktop.core import index_rebuild  # noqa: E402
from desktop.core.vector_index import VectorIndex  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "index_merge.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=1024)
    args = parser.parse_args()
    data = clustered_unit_vectors(args.n + 100, args.dim)
    queries, data = data[args.n :], data[: args.n]
    truth = exact_top_k(data, queries)
    manifest = SimpleNamespace(embedding_dim=args.dim, image_encoder_id="bench", name="bench")
    result = {"n": args.n, "dim": args.dim, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
              "child_min_rows": index_rebuild.REBUILD_IN_CHILD_MIN}
    with tempfile.TemporaryDirectory(dir=os.environ.get("PICSIFT_BENCH_TMP")) as folder:
        work = Path(folder)
        index = VectorIndex(args.dim, work / "two" / "bench", encoder_id="bench", bundle="bench")
        half, skip = args.n // 2, threading.Event()
        skip.set()
        started = time.perf_counter()
        for rows in (slice(0, half), slice(half, args.n)):
            for start in range(rows.start, rows.stop, 4096):
                stop = min(start + 4096, rows.stop)
                index.add(np.arange(start, stop), data[start:stop])
            index.save(skip)  # a cancelled save writes its segment and skips the merge: two segments
        result["two_segments_built_s"] = round(time.perf_counter() - started, 1)
        del index
        for where, child_min in (("this_process", args.n + 1), ("child_process", index_rebuild.REBUILD_IN_CHILD_MIN)):
            shutil.copytree(work / "two", work / where)
            index_rebuild.REBUILD_IN_CHILD_MIN = child_min
            opened = VectorIndex.load(work / where / "bench", manifest)
            assert [len(s) for s in opened._segments] == [half, args.n - half]
            started = time.perf_counter()
            with stall_meter() as stall:
                opened.save()
            took = time.perf_counter() - started
            found = opened.search(queries, 10)[0]
            result[where] = {"merge_save_s": round(took, 1), "longest_stall_s": round(stall[0], 3),
                             "segments_after": [len(s) for s in opened._segments],
                             "recall_at_10_vs_float32": round(recall(found, truth), 4)}
            print(where, result[where], flush=True)
    result["load_average_at_end"] = os.getloadavg()
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
