"""Indexing on a GPU machine in one command: CUDA provider vs CPU, and how decoding scales with workers; writes results/gpu_indexing.json.

Run (a few minutes on a lent machine; CUDA needs onnxruntime-gpu with its CUDA 12 and cuDNN 9 libraries, e.g.
`pip install onnxruntime-gpu[cuda,cudnn]` in place of onnxruntime; the `providers` in the output say what ran):
    python tests/benchmarks/gpu_indexing.py [--photos 160] [--workers 1 2 4 8 16] [--bundle FOLDER] [--out FILE]

For each device ("cpu", then "auto", which picks CUDA where onnxruntime-gpu really loads it): the
provider each tower actually ran on (a requested CUDA that fell back to CPU says so), inference-only
images/s (batch 32, ready pixels) and the real Indexer end to end on 12-megapixel JPEGs
(tests/benchmarks/indexing.py's stages). Then decode only (read + hash + draft decode + preprocess,
no model) at each worker count: images/s and images/s per worker, to see where decoding stops
scaling and would starve a GPU. The CPU path runs anywhere (`--photos 8 --workers 1 2` in seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for image_zoo
sys.path.insert(0, str(Path(__file__).resolve().parent))

from indexing import _decode_only, _default_bundle, _inference_only, _picsift  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "gpu_indexing.json"


def measure_device(device: str, bundle, photos: list[Path], library: Path, data: Path) -> dict:
    """One device's figures; the Indexer writes its catalog and index under `data` (fresh per device)."""
    import numpy as np

    from models.runtime import ModelRuntime

    os.environ["PICSIFT_DATA_DIR"] = str(data)
    runtime = ModelRuntime(bundle, device=device)
    side = runtime.manifest.image_preprocess.size
    runtime.image_features(np.zeros((2, 3, side, side), np.float32))  # warm up (CUDA's first run allocates)
    runtime.map_images(runtime.image_features(np.zeros((2, 3, side, side), np.float32)))
    return {
        "device_requested": device,
        "providers": runtime.providers(),  # what really ran: {"image_encoder.onnx": "CUDA", ...}
        "inference_only_images_per_s": round(_inference_only(runtime, max(len(photos), 64)), 1),
        "end_to_end_images_per_s": round(_picsift(runtime, library, None), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="decode worker counts (default 1, 2, 4, ... cores)")
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: the installed built-in)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    workers = args.workers or sorted({1, *(w for w in (2, 4, 8, 16, 32) if w <= cores), cores})
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PICSIFT_DATA_DIR"] = str(Path(tmp) / "data")
        result = run(Path(tmp), args.photos, workers, args.bundle)
    result["machine"] = {"cpus": cores, "platform": platform.platform(), "load_average": os.getloadavg(),
                         "gpu": _gpu_name()}
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def run(tmp: Path, count: int, workers: list[int], bundle: Path | None) -> dict:
    import onnxruntime as ort
    from image_zoo import write_12mp_library

    from models import registry
    from models.runtime import ModelRuntime

    registry.install(bundle or _default_bundle(), name="picsift-builtin")
    photos = sorted(write_12mp_library(tmp / "library", count, seed=0))
    bundle, devices = registry.open_installed("picsift-builtin"), {}
    for device in ("cpu", "auto"):
        devices[device] = measure_device(device, bundle, photos, tmp / "library", tmp / f"data-{device}")
        print(device, devices[device], flush=True)
    cpu, best = devices["cpu"]["end_to_end_images_per_s"], devices["auto"]["end_to_end_images_per_s"]
    runtime = ModelRuntime(bundle, device="cpu")
    decode = []
    for count_workers in workers:
        rate = _decode_only(runtime, photos, count_workers)
        decode.append({"workers": count_workers, "images_per_s": round(rate, 1), "per_worker": round(rate / count_workers, 1)})
        print("decode", decode[-1], flush=True)
    accelerated = devices["auto"]["providers"].get("image_encoder.onnx", "CPU") != "CPU"
    return {"photos": len(photos), "onnxruntime": ort.__version__, "available_providers": ort.get_available_providers(),
            "devices": devices, "accelerated": accelerated, "end_to_end_speedup_vs_cpu": round(best / cpu, 2),
            "note": None if accelerated else "no accelerator loaded: both runs were on the CPU, their ratio is noise",
            "decode_only": decode}


def _gpu_name() -> str | None:
    try:
        import subprocess

        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=10)
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    main()
