"""Built-in model v1 vs v2 side by side in one run: build time, bundle size, text-query and image-encoding cost.

Run: python tests/benchmarks/builtin_models.py  -> tests/benchmarks/results/builtin_models.json
Each model is built from scratch into a temp folder (the first-run build a user waits for), then, through
the real ONNX bundles on CPU: one-query text encoding (what every search pays before the index lookup;
200 queries, p50/p95) and image encoding of a batch of 32 (the model's share of indexing; best of 3).
Indexing end to end against the naive pipeline is tests/benchmarks/indexing.py (--bundle).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
RESULTS = HERE / "results" / "builtin_models.json"
QUERIES = ("a cat", "boats on a lake at sunset", "eine Tasse Kaffee", "un cohete despegando", "猫", "a red car in the snow",
           "birthday cake with candles", "кошка на диване")


def measure(version: int, root: Path) -> dict:
    from models.runtime import ModelRuntime
    from trainer.export.default_model import build_default_bundle

    started = time.perf_counter()
    folder = build_default_bundle(destination=root / f"v{version}", version=version)
    build_s = time.perf_counter() - started
    runtime = ModelRuntime(folder, device="cpu")
    runtime.encode_texts(["warm up"])
    times = []
    for i in range(200):
        start = time.perf_counter()
        runtime.encode_texts([QUERIES[i % len(QUERIES)]])
        times.append((time.perf_counter() - start) * 1000)
    side = runtime.manifest.image_preprocess.size
    pixels = np.random.default_rng(0).normal(size=(32, 3, side, side)).astype(np.float32)
    runtime.encode_images(pixels[:2])
    batch = min(_timed(lambda: runtime.encode_images(pixels)) for _ in range(3))
    return {
        "build_s": round(build_s, 1),
        "bundle_mb": round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 1),
        "embedding_dim": runtime.manifest.embedding_dim,
        "image_size": side,
        "text_query_ms": {"p50": round(float(np.percentile(times, 50)), 2), "p95": round(float(np.percentile(times, 95)), 2)},
        "image_batch32_s": round(batch, 3),
    }


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        result = {"v1": measure(1, Path(tmp)), "v2": measure(2, Path(tmp))}
    result["v2_over_v1"] = {"image_batch32": round(result["v2"]["image_batch32_s"] / result["v1"]["image_batch32_s"], 2),
                            "text_query_p50": round(result["v2"]["text_query_ms"]["p50"] / result["v1"]["text_query_ms"]["p50"], 2)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
