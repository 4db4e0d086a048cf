"""`picsift model build-default`: the built-in bundle (model v2) is real, verified, matches torch, and is multilingual."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from desktop.core.demo_library import demo_image
from models.bundle import open_bundle
from models.preprocess import preprocess
from models.runtime import ModelRuntime
from trainer.encoders.multilingual import MultilingualTextEncoder
from trainer.export.default_model import builtin_pair


def test_built_in_bundle_records_parity_within_the_gate_for_every_graph(builtin_bundle):
    manifest = json.loads((builtin_bundle / "manifest.json").read_text())
    assert manifest["family"] == "builtin" and manifest["image_feature_dim"] == 1280 and manifest["text_feature_dim"] == 512
    assert manifest["text"]["input"] == "strings" and manifest["image_preprocess"]["size"] == 260
    for figures in manifest["provenance"]["export_parity"].values():
        assert figures["min_cosine"] >= 0.9999 and figures["max_abs_diff"] <= 1e-4
    assert "EfficientNet-Lite2" in manifest["provenance"]["base_weights"]["image"]
    assert "Multilingual" in manifest["provenance"]["base_weights"]["text"]
    assert manifest["provenance"]["builtin_version"] == 2
    assert open_bundle(builtin_bundle).name == "picsift-builtin"


def test_built_in_bundle_reproduces_torch_on_photos_and_queries_it_never_saw(builtin_bundle):
    runtime = ModelRuntime(builtin_bundle, device="cpu")
    pair = builtin_pair()
    spec = runtime.manifest.image_preprocess
    pixels = np.stack([preprocess(demo_image(name), spec) for name in ("astronaut", "clock", "brick", "moon", "horse")])
    texts = ["a grandfather clock", "the moon at night", "an astronaut floating in space above the earth"]
    with torch.no_grad():
        images = pair.image_mapper(pair.image_encoder(torch.from_numpy(pixels))).numpy()
        queries = pair.text_mapper(torch.from_numpy(MultilingualTextEncoder()(texts))).numpy()
    for expected, actual in ((images, runtime.encode_images(pixels)), (queries, runtime.encode_texts(texts))):
        cosine = (expected * actual).sum(1) / np.linalg.norm(expected, axis=1) / np.linalg.norm(actual, axis=1)
        assert cosine.min() >= 0.9999 and np.abs(expected - actual).max() <= 1e-4


NAMES = ["chelsea", "coffee", "rocket", "clock", "stereo_motorcycle"]


@pytest.fixture(scope="module")
def demo(builtin_bundle):
    runtime = ModelRuntime(builtin_bundle, device="cpu")
    images = runtime.encode_images(np.stack([preprocess(demo_image(n), runtime.manifest.image_preprocess) for n in NAMES]))
    return runtime, images


@pytest.mark.parametrize("queries", [
    ["a cat", "a cup of coffee", "a rocket", "a clock", "a motorcycle"],
    ["eine Katze", "eine Tasse Kaffee", "eine Rakete", "eine Uhr", "ein Motorrad"],
    ["un gato", "una taza de café", "un cohete", "un reloj", "una motocicleta"],
    ["猫", "一杯咖啡", "火箭", "时钟", "摩托车"],
    ["кошка", "чашка кофе", "ракета", "часы", "мотоцикл"],
], ids=["en", "de", "es", "zh", "ru"])
def test_built_in_model_finds_photos_by_text_zero_shot_in_several_languages(demo, queries):
    runtime, images = demo
    assert ((runtime.encode_texts(queries) @ images.T).argmax(1) == np.arange(len(NAMES))).all()


def test_broad_queries_reach_the_classes_under_them(demo):
    """None of these names an ImageNet class; WordNet's hypernyms carry them to the classes below."""
    runtime, images = demo
    scores = runtime.encode_texts(["a vehicle", "food", "a drink"]) @ images.T
    assert [NAMES[i] for i in scores.argmax(1)] == ["stereo_motorcycle", "coffee", "coffee"]


def test_hypernyms_spread_a_broad_query_over_its_classes():
    from trainer.zero_shot.bridges import ClassWeightsTextMapper
    from trainer.zero_shot.texts import imagenet_hypernyms, imagenet_lemmas

    nodes = imagenet_hypernyms()
    feline = next(n for n in nodes if n.lemmas[0] == "feline")
    assert {imagenet_lemmas()[c][0] for c in feline.classes} >= {"tabby", "lion", "tiger"}
    # Two classes and one hypernym over both: a query at the hypernym weighs the two classes alike.
    classes = torch.eye(3)[:2]
    spread = torch.tensor([[0.5, 0.5]])
    mapper = ClassWeightsTextMapper(classes, tau=0.01, hypernyms=(torch.eye(3)[2:], spread))
    weights = mapper.class_weights(torch.eye(3)[2:])
    assert torch.allclose(weights, torch.tensor([[0.5, 0.5]]), atol=1e-4)
    assert torch.allclose(mapper.class_weights(torch.eye(3)[:1]), torch.tensor([[1.0, 0.0]]), atol=1e-4)


def test_fine_tuning_from_the_multilingual_built_in_starts_from_model_v1(fine_tune_base):
    """v2's text tower is an ONNX graph torch cannot train: the base is v1, whose towers are torch modules."""
    from trainer.base import load_base

    base = load_base(None, log_line=lambda line: None)
    assert base.bundle.name == "picsift-builtin-v1"
    assert isinstance(base.pair.text_encoder, torch.nn.Module) and base.pair.text_encoder_onnx is None
    assert "EfficientNet-Lite0" in base.pair.provenance["base_weights"]["image"]


@pytest.mark.slow
def test_without_the_multilingual_graph_the_english_model_v1_is_built_and_says_how_to_get_v2(tmp_path, monkeypatch):
    from models.manifest import read_manifest
    from trainer.encoders import multilingual
    from trainer.export.default_model import build_default_bundle

    monkeypatch.setattr(multilingual, "available", lambda: False)
    lines = []
    folder = build_default_bundle(destination=tmp_path / "picsift-builtin", log_line=lines.append)
    manifest = read_manifest(folder)
    assert manifest.name == "picsift-builtin" and manifest.provenance["builtin_version"] == 1
    assert manifest.text.input == "tokens" and len(lines) == 1 and multilingual.INSTALL in lines[0]
