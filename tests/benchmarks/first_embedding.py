"""Measure model load to first text embedding (CPU), in a fresh process each time; writes results/first_embedding.json.

Run: python tests/benchmarks/first_embedding.py [--runs 5] [--bundle NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "first_embedding.json"

_CHILD = """
import time
t0 = time.perf_counter()
from models import registry
from models.runtime import ModelRuntime
t_import = time.perf_counter()
runtime = ModelRuntime(registry.open_installed({bundle!r}), device="cpu")
t_open = time.perf_counter()
runtime.encode_texts(["boats on a lake at sunset"])
t_first = time.perf_counter()
runtime.encode_texts(["a cat on a sofa"])
t_second = time.perf_counter()
print(t_import - t0, t_open - t_import, t_first - t_open, t_first - t0, t_second - t_first)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle", default=None, help="installed bundle name (default: the active one)")
    args = parser.parse_args()
    rows = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", _CHILD.format(bundle=args.bundle)], capture_output=True, text=True, check=True)
        rows.append([float(v) for v in out.stdout.split()])
    keys = ["import_s", "open_and_verify_s", "first_text_embedding_s", "total_load_to_first_embedding_s", "next_query_s"]
    result = {key: statistics.median(col) for key, col in zip(keys, zip(*rows))}
    result["runs"] = args.runs
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for key in keys:
        print(f"{key:34s} {result[key] * 1000:8.1f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
