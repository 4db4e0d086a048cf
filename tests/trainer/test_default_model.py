"""`picsift model build-default`: the built-in bundle is real, verified, and matches torch."""

from __future__ import annotations

import json

import numpy as np
import torch

from desktop.core.demo_library import demo_image
from models.bundle import open_bundle
from models.preprocess import preprocess
from models.runtime import ModelRuntime
from trainer.default_model import builtin_pair


def test_built_in_bundle_records_parity_within_the_gate_for_every_graph(builtin_bundle):
    manifest = json.loads((builtin_bundle / "manifest.json").read_text())
    assert manifest["family"] == "builtin" and manifest["image_feature_dim"] == 1280 and manifest["text_feature_dim"] == 384
    for figures in manifest["provenance"]["export_parity"].values():
        assert figures["min_cosine"] >= 0.9999 and figures["max_abs_diff"] <= 1e-4
    assert "EfficientNet-Lite0" in manifest["provenance"]["base_weights"]["image"]
    assert open_bundle(builtin_bundle).name == "picsift-builtin"


def test_built_in_bundle_reproduces_torch_on_photos_and_queries_it_never_saw(builtin_bundle):
    runtime = ModelRuntime(builtin_bundle, device="cpu")
    pair = builtin_pair()
    spec = runtime.manifest.image_preprocess
    pixels = np.stack([preprocess(demo_image(name), spec) for name in ("astronaut", "clock", "brick", "moon", "horse")])
    texts = ["a grandfather clock", "the moon at night", "an astronaut floating in space above the earth"]
    ids, mask = runtime.tokenizer(texts)
    with torch.no_grad():
        images = pair.image_mapper(pair.image_encoder(torch.from_numpy(pixels))).numpy()
        queries = pair.text_mapper(pair.text_encoder(torch.from_numpy(ids), torch.from_numpy(mask))).numpy()
    for expected, actual in ((images, runtime.encode_images(pixels)), (queries, runtime.encode_texts(texts))):
        cosine = (expected * actual).sum(1) / np.linalg.norm(expected, axis=1) / np.linalg.norm(actual, axis=1)
        assert cosine.min() >= 0.9999 and np.abs(expected - actual).max() <= 1e-4


def test_built_in_model_finds_photos_by_text_zero_shot(builtin_bundle):
    runtime = ModelRuntime(builtin_bundle, device="cpu")
    names = ["chelsea", "coffee", "rocket", "clock", "stereo_motorcycle"]
    images = runtime.encode_images(np.stack([preprocess(demo_image(n), runtime.manifest.image_preprocess) for n in names]))
    queries = runtime.encode_texts(["a cat", "a cup of coffee", "a rocket", "a clock", "a motorcycle"])
    assert ((queries @ images.T).argmax(1) == np.arange(len(names))).all()
