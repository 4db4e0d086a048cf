"""Export a TowerPair to a model bundle: four ONNX graphs, a tokenizer (unless the text graph reads strings) and a manifest, parity-gated."""

from __future__ import annotations

import datetime as _dt
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from models.atomic import replace_folder
from models.bundle import open_bundle, sha256_of
from models.errors import PicsiftError
from models.manifest import (
    EMBEDDINGS,
    FEATURES,
    IMAGE_ENCODER,
    IMAGE_INPUT,
    IMAGE_MAPPER,
    INSTANCE,
    TEXT_ENCODER,
    TEXT_INPUTS,
    TEXT_MAPPER,
    TOKENIZER,
    Manifest,
    TextSpec,
    bundle_files,
)
from models.preprocess import ImagePreprocess
from models.runtime import ModelRuntime
from trainer.encoders.towers import TowerPair
from trainer.export.onnx_text import (
    copy_strings_graph,
    forget_sessions,
    run_strings_graph,
)

OPSET = 17
ONNX_IR_VERSION = 9  # onnxruntime 1.2x reads IR <= 10/13; onnx's newest default (14) it refuses
MIN_COSINE = 0.9999  # per row, ONNX vs torch
MAX_ABS_DIFF = 1e-4
# What export_bundle reports to `on_step`, in order (the app's first-run dialog shows them as steps)
EXPORT_STEPS = ("exporting the image encoder", "exporting the text encoder", "exporting the image mapper",
                "exporting the text mapper", "checking the exported graphs against PyTorch")


class ParityError(PicsiftError):
    """The exported graph does not reproduce the torch module."""


def export_graph(module: nn.Module, args: tuple, path: Path, input_names: list[str], output_name: str | list[str],
                 dynamic: dict) -> None:
    """torch -> ONNX with fixed names and dynamic axes; the module is put in eval mode first.

    `output_name` is one name, or a list naming each tensor of the tuple the module returns."""
    module = module.eval()
    output_names = [output_name] if isinstance(output_name, str) else list(output_name)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={**dynamic, **{name: {0: "batch"} for name in output_names}},
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
        )
        outputs = module(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    model = onnx.load(str(path))
    model.ir_version = min(model.ir_version, ONNX_IR_VERSION)
    _keep_unused_inputs(model, input_names, args, dynamic)
    for value, tensor in zip(model.graph.output, outputs):
        _declare_output_shape(value, int(tensor.shape[-1]))
    onnx.save(model, str(path))


class _WithInstance(nn.Module):
    """An image encoder's `features_and_instance` as its forward: the graph with both outputs."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder.features_and_instance(pixel_values)


def image_graph_module(pair: TowerPair) -> tuple[nn.Module, list[str]]:
    """The module to export as the image encoder graph and its output names (INSTANCE when it has one)."""
    if hasattr(pair.image_encoder, "features_and_instance"):
        return _WithInstance(pair.image_encoder), [FEATURES, INSTANCE]
    return pair.image_encoder, [FEATURES]


def _keep_unused_inputs(model: onnx.ModelProto, input_names: list[str], args: tuple, dynamic: dict) -> None:
    """Declare again the inputs torch.onnx dropped because the module ignores them (SigLIP's text tower
    reads no attention_mask), so every text graph takes the inputs the runtime feeds."""
    declared = {value.name for value in model.graph.input}
    for position, (name, example) in enumerate(zip(input_names, args)):
        if name not in declared:
            axes = dynamic.get(name, {})
            shape = [axes.get(axis, size) for axis, size in enumerate(example.shape)]
            element = onnx.helper.np_dtype_to_tensor_dtype(example.numpy().dtype)
            model.graph.input.insert(position, onnx.helper.make_tensor_value_info(name, element, shape))


def _declare_output_shape(output: onnx.ValueInfoProto, width: int) -> None:
    """Record (batch, width) on the graph output so a loader can check the manifest against it."""
    shape = output.type.tensor_type.shape
    del shape.dim[:]
    shape.dim.add().dim_param = "batch"
    shape.dim.add().dim_value = width


def check_parity(expected: torch.Tensor, actual: np.ndarray, what: str, max_abs_diff: float = MAX_ABS_DIFF,
                 source: str = "torch") -> dict:
    """Raise ParityError unless every row has cosine >= MIN_COSINE and max |diff| <= max_abs_diff.
    `source` names where `expected` came from."""
    expected_np = expected.detach().cpu().float().numpy()
    diff = float(np.abs(expected_np - actual).max()) if actual.size else 0.0
    norms = np.linalg.norm(expected_np, axis=1) * np.linalg.norm(actual, axis=1)
    cosine = float(((expected_np * actual).sum(1) / np.maximum(norms, 1e-12)).min())
    # Written so that NaN fails: a NaN cosine or diff compares False both ways (a corrupt checkpoint's NaN
    # weights give NaN in torch and ONNX alike, which the plain `<` tests let through).
    if actual.shape != expected_np.shape or not (cosine >= MIN_COSINE and diff <= max_abs_diff):
        raise ParityError(
            f"{what}: ONNX output differs from {source} (shape {actual.shape} vs {expected_np.shape}, "
            f"min cosine {cosine:.6f}, max |diff| {diff:.2e}); the export is unusable"
        )
    return {"min_cosine": cosine, "max_abs_diff": diff}


def export_bundle(pair: TowerPair, destination: str | Path, name: str, sample_texts: list[str], sample_pixels: torch.Tensor,
                  on_step: Callable[[str], None] = lambda step: None) -> Path:
    """Write `pair` as a bundle folder at `destination` (replaced atomically) and verify it.

    sample_pixels: (B >= 2, 3, S, S) preprocessed images and sample_texts (>= 2, of different
    lengths) drive the export trace and the parity check. `on_step` hears each of EXPORT_STEPS as it starts.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        manifest = _write_bundle(pair, staging, name, sample_texts, sample_pixels, on_step)
        on_step(EXPORT_STEPS[4])
        parity = verify_parity(pair, staging, sample_texts, sample_pixels)
        manifest = _with_provenance(manifest, {"export_parity": parity})
        manifest.save(staging)
        replace_folder(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        forget_sessions()
    return destination


def _write_bundle(pair: TowerPair, folder: Path, name: str, texts: list[str], pixels: torch.Tensor,
                  on_step: Callable[[str], None]) -> Manifest:
    spec = TextSpec.from_dict(pair.text)
    if spec.reads_strings != (pair.text_encoder_onnx is not None):
        raise ValueError(f"text input {spec.input!r} needs text_encoder_onnx exactly when it is 'strings'")
    with torch.no_grad():
        image_features = pair.image_encoder.eval()(pixels)
    batch = {0: "batch"}
    on_step(EXPORT_STEPS[0])
    image_module, image_outputs = image_graph_module(pair)
    export_graph(image_module, (pixels,), folder / IMAGE_ENCODER, [IMAGE_INPUT], image_outputs, {IMAGE_INPUT: batch})
    with torch.no_grad():
        instance_dim = int(image_module.eval()(pixels)[1].shape[1]) if INSTANCE in image_outputs else 0
    on_step(EXPORT_STEPS[1])
    text_features = _export_text_encoder(pair, spec, folder, texts)
    on_step(EXPORT_STEPS[2])
    export_graph(pair.image_mapper, (image_features,), folder / IMAGE_MAPPER, [FEATURES], EMBEDDINGS, {FEATURES: batch})
    on_step(EXPORT_STEPS[3])
    export_graph(pair.text_mapper, (text_features,), folder / TEXT_MAPPER, [FEATURES], EMBEDDINGS, {FEATURES: batch})
    with torch.no_grad():
        embedding_dim = int(pair.image_mapper.eval()(image_features).shape[1])
    manifest = Manifest(
        name=name,
        family=pair.family,
        image_feature_dim=int(image_features.shape[1]),
        text_feature_dim=int(text_features.shape[1]),
        embedding_dim=embedding_dim,
        instance_dim=instance_dim,
        image_preprocess=ImagePreprocess.from_dict(pair.image_preprocess),
        text=spec,
        files={f: sha256_of(folder / f) for f in bundle_files(spec)},
        provenance=dict(pair.provenance),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    manifest.save(folder)
    return manifest


def _export_text_encoder(pair: TowerPair, spec: TextSpec, folder: Path, texts: list[str]) -> torch.Tensor:
    """Write the text encoder graph (with tokenizer.json when it reads token ids); (B, Dt) its source's features of `texts`."""
    if spec.reads_strings:
        copy_strings_graph(pair.text_encoder_onnx, folder / TEXT_ENCODER)
    else:
        shutil.copyfile(pair.tokenizer_json, folder / TOKENIZER)
        export_graph(
            pair.text_encoder, _tokenize(folder / TOKENIZER, spec, texts), folder / TEXT_ENCODER, list(TEXT_INPUTS), FEATURES,
            {n: {0: "batch", 1: "sequence"} for n in TEXT_INPUTS},
        )
    return source_text_features(pair, texts)


def source_text_features(pair: TowerPair, texts: list[str]) -> torch.Tensor:
    """(B, Dt) what the bundle's text encoder must give for `texts`: the pair's own ONNX text graph run
    directly, or its torch tower on its tokenizer's ids."""
    if pair.text_encoder_onnx is not None:
        return torch.from_numpy(run_strings_graph(pair.text_encoder_onnx, texts))
    input_ids, attention_mask = _tokenize(pair.tokenizer_json, TextSpec.from_dict(pair.text), texts)
    with torch.no_grad():
        return pair.text_encoder.eval()(input_ids, attention_mask)


def _tokenize(tokenizer_json: Path, spec: TextSpec, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    from models.text import TextTokenizer

    ids, mask = TextTokenizer(tokenizer_json, spec)(texts)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def verify_parity(pair: TowerPair, folder: Path, texts: list[str], pixels: torch.Tensor) -> dict:
    """Run the bundle through ONNX Runtime (CPU) and compare every tower with torch; raises on failure.

    Checked on the trace inputs and on variants the trace never saw (one row, reversed order,
    other values), so a frozen batch or sequence axis or a traced-away branch is caught.
    """
    runtime = ModelRuntime(open_bundle(folder), device="cpu")
    worst: dict[str, dict] = {}
    variants = [(texts, pixels), (texts[:1], pixels[:1]), (texts[::-1], -pixels.flip(0))]
    for variant_texts, variant_pixels in variants:
        for tower, figures in _parity_once(pair, runtime, variant_texts, variant_pixels).items():
            if tower not in worst or figures["min_cosine"] < worst[tower]["min_cosine"]:
                worst[tower] = figures
    return worst


def _parity_once(pair: TowerPair, runtime: ModelRuntime, texts: list[str], pixels: torch.Tensor) -> dict:
    text_features = source_text_features(pair, texts)
    # A strings text graph is a renamed copy of its source graph: it must give the very same numbers.
    text_source = (0.0, "its source graph") if pair.text_encoder_onnx is not None else (MAX_ABS_DIFF, "torch")
    with torch.no_grad():
        image_features = pair.image_encoder.eval()(pixels)
        image_embeddings = pair.image_mapper.eval()(image_features)
        text_embeddings = pair.text_mapper.eval()(text_features)
    onnx_features, onnx_instance = runtime.image_features_and_instance(pixels.numpy())
    figures = {
        "image_encoder": check_parity(image_features, onnx_features, "image encoder"),
        "text_encoder": check_parity(text_features, runtime.text_features(texts), "text encoder", *text_source),
        "image_mapper": check_parity(image_embeddings, runtime.map_images(image_features.numpy()), "image mapper"),
        "text_mapper": check_parity(text_embeddings, runtime.map_texts(text_features.numpy()), "text mapper"),
    }
    if hasattr(pair.image_encoder, "features_and_instance"):  # the manifest declares it, so ONNX gave it
        with torch.no_grad():
            instance = pair.image_encoder.features_and_instance(pixels)[1]
        figures["image_instance"] = check_parity(instance, onnx_instance, "image encoder's instance output")
    return figures


def _with_provenance(manifest: Manifest, extra: dict) -> Manifest:
    from dataclasses import replace

    return replace(manifest, provenance={**manifest.provenance, **extra})
