"""The model a run starts from: its torch towers and mappers (a TowerPair) and an ONNX bundle of the very same model.

The bundle gives cached encoder features (trainer.data.feature_cache) and the zero-shot baseline;
the TowerPair is what the stages train and trainer.export.bundle writes. --base accepts
    (nothing), "builtin"        the installed built-in bundle (built first when missing)
    an installed bundle name, or a bundle folder
    a transformers CLIP/ALIGN/AltCLIP/GroupViT hub id or model folder (exported once into the cache)
For a built-in-family bundle the zero-shot bridge is not rebuilt from scratch (about a minute
embedding 1000 class names, plus an SVD): those two results are read back from the bundle's
mapper graphs, the bridge is assembled from them, and it must reproduce the bundle's mappers
(export's parity gate) or the full build runs instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from onnx import numpy_helper

from models import paths, registry
from models.errors import BundleError, PicsiftError
from models.manifest import IMAGE_MAPPER, MANIFEST, TEXT_MAPPER, read_manifest
from models.runtime import ModelRuntime
from trainer.encoders.towers import TowerPair

log = logging.getLogger(__name__)

# Weights of the built-in bridge in its exported graphs (export keeps torch's state_dict names)
NAMES_INITIALIZER = "second.class_embeddings"  # image mapper, ConSE half: the class-name embeddings (1000, Dt)
PROJECTION_INITIALIZER = "first.projection"  # text mapper, correlation half: the projection P (1000, rank)


@dataclass
class Base:
    """A run's starting point."""

    pair: TowerPair
    bundle: Path  # ONNX bundle of exactly these weights
    label: str  # how provenance names it


def load_base(source: str | None = None, log_line=print) -> Base:
    """Resolve --base (see the module docstring); raises PicsiftError with what to do when it cannot."""
    if source in (None, "", "builtin", registry.DEFAULT_BUNDLE):
        folder = registry.bundle_folder(registry.DEFAULT_BUNDLE)
        if not folder.exists():
            from trainer.export.default_model import build_default_bundle

            log_line("building the built-in model first (about a minute)")
            build_default_bundle()
        return _from_bundle(folder, log_line)
    path = Path(source).expanduser()
    if (path / MANIFEST).is_file():
        return _from_bundle(path, log_line)
    if not path.exists() and re.fullmatch(r"[\w.-]+", source) and registry.bundle_folder(source).is_dir():
        return _from_bundle(registry.bundle_folder(source), log_line)
    from trainer.export.families import load_family_pair

    pair = load_family_pair(source)
    return Base(pair, _exported_once(pair, source), source)


def _from_bundle(folder: Path, log_line) -> Base:
    manifest = read_manifest(folder)
    if "training" in manifest.provenance:
        raise PicsiftError(f"{folder}: this bundle was fine-tuned already; start again from its base "
                           f"({manifest.provenance['training'].get('base', 'builtin')})")
    if manifest.family == "builtin" and manifest.text.input == "strings":
        return _from_bundle(v1_base_folder(log_line), log_line)
    if manifest.family == "builtin":
        return Base(builtin_pair_from_bundle(folder, log_line), folder, manifest.name)
    from trainer.export.families import load_family_pair

    weights = manifest.provenance.get("base_weights")
    if not isinstance(weights, str):
        raise BundleError(f"{folder}: its manifest does not say which weights it was made from; "
                          "give the model folder or hub id as --base instead")
    return Base(load_family_pair(weights, manifest.family), folder, manifest.name)


def v1_base_folder(log_line=print) -> Path:
    """Built-in model v1's bundle in the cache, built on first use: the base fine-tuning starts from.

    Model v2's multilingual text tower is an ONNX graph with a tokeniser op inside, which torch cannot
    train; v1's towers (EfficientNet-Lite0, MiniLM) are torch modules, so a fine-tuned model starts there.
    """
    from trainer.export.default_model import V1_FOLDER_NAME, build_default_bundle

    folder = paths.cache_dir() / "base-bundles" / V1_FOLDER_NAME
    try:
        read_manifest(folder)
        return folder
    except BundleError:
        pass
    log_line("fine-tuning starts from the built-in model v1 (EfficientNet-Lite0 + MiniLM, English): the multilingual "
             "text tower of v2 cannot be trained; building v1 once (about a minute)")
    return build_default_bundle(force=True, destination=folder, version=1)


def builtin_pair_from_bundle(folder: Path, log_line=print) -> TowerPair:
    """The built-in TowerPair whose mappers reproduce `folder`'s (see the module docstring)."""
    from trainer.encoders.builtin import (
        MINILM_TOKENIZER_JSON,
        TEXT_SPEC,
        load_builtin_encoders,
    )
    from trainer.encoders.efficientnet_lite import IMAGE_PREPROCESS

    manifest = read_manifest(folder)
    image_tower, text_tower, efficientnet = load_builtin_encoders()
    mappers = _bridge_from_bundle(efficientnet, folder)
    if mappers is None or not _reproduces(mappers, folder):
        log_line(f"{folder.name}: its zero-shot mappers are not what this picsift builds; rebuilding them "
                 "(about a minute; `picsift model build-default --force` updates the installed model)")
        from trainer.export.default_model import builtin_v1_pair

        return builtin_v1_pair()
    provenance = {k: v for k, v in manifest.provenance.items() if k in ("base_weights", "training_data", "bridge")}
    return TowerPair(family="builtin", image_encoder=image_tower, text_encoder=text_tower,
                     image_mapper=mappers[0], text_mapper=mappers[1], image_preprocess=dict(IMAGE_PREPROCESS),
                     text=dict(TEXT_SPEC), tokenizer_json=MINILM_TOKENIZER_JSON, provenance=provenance)


def _bridge_from_bundle(efficientnet, folder: Path):
    """trainer.zero_shot.bridges.build_bridge_mappers with its two slow results read from the bundle.

    The class-name embeddings E (the ConSE half's `class_embeddings`) and the correlation half's
    projection P (top singular vectors of the centred classifier; an SVD that takes 10-30 s on
    two cores and fixes P only up to signs) are taken from the bundle's graphs; the rest is
    built as build_bridge_mappers does, with its constants. None when the graphs lack them.
    """
    from trainer.zero_shot.bridges import (
        CONSE_TEMPERATURE,
        HYBRID_WEIGHT,
        TAU,
        ClassWeightsTextMapper,
        LinearImageMapper,
        conse_bridge,
        hybrid_bridge,
    )

    names = _initializer(folder / IMAGE_MAPPER, NAMES_INITIALIZER)  # (1000, Dt)
    projection = _initializer(folder / TEXT_MAPPER, PROJECTION_INITIALIZER)  # (1000, rank)
    if names is None or projection is None:
        return None
    weight, bias = efficientnet._fc.weight.detach(), efficientnet._fc.bias.detach()  # (C, Di), (C,)
    correlation = (LinearImageMapper((weight - weight.mean(0)).T @ projection, (bias - bias.mean()) @ projection),
                   ClassWeightsTextMapper(names, TAU, names.mean(0), "centred", projection))
    conse = conse_bridge(efficientnet._fc, names, CONSE_TEMPERATURE, centred=True)
    image_mapper, text_mapper = hybrid_bridge(correlation, conse, HYBRID_WEIGHT)
    return image_mapper.eval(), text_mapper.eval()


def _initializer(path: Path, name: str) -> torch.Tensor | None:
    try:
        graph = onnx.load(str(path)).graph
    except Exception:  # unreadable graph: fall back to the full build
        return None
    for tensor in graph.initializer:
        if tensor.name == name:
            return torch.from_numpy(numpy_helper.to_array(tensor).copy()).float()
    return None


def _reproduces(mappers, folder: Path) -> bool:
    """Do the torch mappers give the bundle's ONNX mappers' outputs (export's parity gate) on sample features?"""
    from trainer.export.bundle import ParityError, check_parity

    runtime = ModelRuntime(folder, device="cpu")
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(6, runtime.manifest.image_feature_dim, generator=generator) * 6  # ReLU6 range
    text = torch.nn.functional.normalize(torch.randn(6, runtime.manifest.text_feature_dim, generator=generator), dim=-1)
    try:
        with torch.no_grad():
            check_parity(mappers[0](image), runtime.map_images(image.numpy()), "image mapper")
            check_parity(mappers[1](text), runtime.map_texts(text.numpy()), "text mapper")
    except (ParityError, ValueError):
        return False
    return True


def _exported_once(pair: TowerPair, source: str) -> Path:
    """A bundle of a transformers model, exported into the cache on first use (keyed by source and its files)."""
    from trainer.export.bundle import export_bundle
    from trainer.export.convert import SAMPLE_TEXTS

    slug = registry.safe_name(source)[-60:]
    folder = paths.cache_dir() / "base-bundles" / f"{slug}-{_source_key(source)}"
    try:
        ModelRuntime(folder, device="cpu")
        return folder
    except BundleError:
        pass
    size = int(pair.image_preprocess["size"])
    pixels = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    return export_bundle(pair, folder, slug, SAMPLE_TEXTS, pixels)


def _source_key(source: str) -> str:
    path = Path(source).expanduser()
    digest = hashlib.sha256(str(path.resolve() if path.exists() else source).encode())
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def sample_pixels(pair: TowerPair) -> torch.Tensor:
    """Inputs for the export trace and parity gate: the built-in's real photos, random values otherwise."""
    if pair.family == "builtin":
        from trainer.export.default_model import _sample_pixels

        return _sample_pixels(pair.image_preprocess)
    size = int(pair.image_preprocess["size"])
    return torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
