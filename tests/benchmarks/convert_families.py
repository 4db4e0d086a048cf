"""Convert the tiny random instance of each family to a bundle (CPU) and measure seconds and bundle bytes;
writes results/convert_families.json.

The instances are the test suite's (tests/tiny_models.py: 2 layers, width 32), so the figures
compare the families' conversion overhead (load, five export steps, the three-variant parity gate,
install) with the model size kept out; a real checkpoint takes longer by its weights.
Run: PYTHONPATH=$PWD python tests/benchmarks/convert_families.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "convert_families.json"
sys.path.insert(0, str(Path(__file__).parents[1]))  # tiny_models


def _convert_once(family: str, source: Path, run: int) -> tuple[float, int, int]:
    """(seconds, bundle bytes, of which ONNX graph bytes) of one conversion; the bundle is removed after."""
    from models import registry
    from trainer.export.convert import convert_to_bundle

    start = time.perf_counter()
    folder = convert_to_bundle(str(source), name=f"{family}-{run}")
    seconds = time.perf_counter() - start
    files = [f for f in folder.iterdir() if f.is_file()]
    size, graphs = sum(f.stat().st_size for f in files), sum(f.stat().st_size for f in files if f.suffix == ".onnx")
    registry.remove(folder.name)
    return seconds, size, graphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="conversions per family (median reported)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="convert-families-"))
    os.environ["PICSIFT_DATA_DIR"] = str(work / "data")  # installs go to a throwaway data dir
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tiny_models import make_tiny

    from trainer.export.families import FAMILIES

    families = {}
    for family in FAMILIES:
        source = make_tiny(family, work / "models")
        runs = [_convert_once(family, source, run) for run in range(args.runs)]
        families[family] = {"convert_s": round(statistics.median(s for s, _, _ in runs), 3),
                            "bundle_bytes": runs[0][1], "graph_bytes": runs[0][2], "runs": args.runs}
        print(f"{family:9s} {families[family]['convert_s']:7.2f} s  {families[family]['bundle_bytes']:>9,} bytes", flush=True)
    result = {"what": "tiny random instance per family (tests/tiny_models.py) -> installed bundle, CPU",
              "note": "most bytes are the shared 30522-token vocabulary: its 32-wide embedding and tokenizer.json",
              "cpus": os.cpu_count(), "families": families}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
