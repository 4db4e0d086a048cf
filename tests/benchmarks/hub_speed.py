"""How fast ONNX Runtime runs image towers here, against a numpy matmul: sets models.hub_catalog.TOWER_EFFICIENCY.

Run: python tests/benchmarks/hub_speed.py [--bundle FOLDER] [--out FILE]
Writes tests/benchmarks/results/hub_speed.json. Measured in one run, interleaved over ROUNDS rounds and
each the best of them (on a shared machine only the best is stable; a mean wanders 10x):
  matmul     models.hub_catalog.matmul_gflops (what the app measures on the user's machine)
  vit-b32    a CLIP ViT-B/32 image tower (transformers' CLIPVisionModel, random weights: the speed is
             the architecture's) exported to ONNX and run by picsift's session settings, 8.8 GFLOPs
  builtin    the built-in v2 image encoder (EfficientNet-Lite2 at 260 px, 2 x 0.899 B multiply-adds)
Efficiency = the tower's GFLOP/s (GFLOPs per image x images/s) / the matmul's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "hub_speed.json"
VIT_B32_GFLOPS = 8.8  # models/data/hub_models.json
LITE2_GFLOPS = 2 * 0.899  # EfficientNet-Lite README (tensorflow/tpu): 899 M multiply-adds at 260 px
BATCH = 16
ROUNDS = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path(os.environ.get("PICSIFT_TEST_BUILTIN", "")))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from models.hub_catalog import matmul_gflops

    with tempfile.TemporaryDirectory() as tmp:
        sessions = [(_vit_b32_session(Path(tmp) / "vit.onnx"), 224), (_builtin_session(args.bundle), 260)]
        peak, vit, builtin = 0.0, 0.0, 0.0
        for _ in range(ROUNDS):
            peak = max(peak, matmul_gflops())
            vit = max(vit, _images_per_s(*sessions[0]))
            builtin = max(builtin, _images_per_s(*sessions[1]))
    figures = {
        "cpu_count": os.cpu_count(),
        "matmul_gflops": round(peak, 1),
        "vit_b32_images_per_s": round(vit, 2),
        "vit_b32_gflops": round(vit * VIT_B32_GFLOPS, 1),
        "vit_b32_efficiency": round(vit * VIT_B32_GFLOPS / peak, 3),
        "builtin_lite2_images_per_s": round(builtin, 2),
        "builtin_lite2_gflops": round(builtin * LITE2_GFLOPS, 1),
        "builtin_lite2_efficiency": round(builtin * LITE2_GFLOPS / peak, 3),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


def _vit_b32_session(path: Path):
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from models.runtime import create_session

    model = CLIPVisionModel(CLIPVisionConfig()).eval()  # the defaults are ViT-B/32 at 224 px
    pixels = torch.zeros(2, 3, 224, 224)
    torch.onnx.export(model, (pixels,), str(path), input_names=["pixel_values"], output_names=["pooled"],
                      dynamic_axes={"pixel_values": {0: "batch"}}, opset_version=17, dynamo=False)
    return create_session(path, device="cpu")


def _builtin_session(bundle: Path):
    from models.runtime import create_session

    return create_session(bundle / "image_encoder.onnx", device="cpu")


def _images_per_s(session, side: int) -> float:
    name = session.get_inputs()[0].name
    pixels = np.random.default_rng(0).standard_normal((BATCH, 3, side, side), dtype=np.float32)
    session.run(None, {name: pixels[:2]})  # warm-up
    started = time.perf_counter()
    session.run(None, {name: pixels})
    return BATCH / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
