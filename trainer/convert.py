"""Turn a transformers dual encoder (CLIP, ALIGN, AltCLIP, GroupViT) into an installed bundle."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from models import paths, registry
from models.errors import PicsiftError
from models.hub_catalog import bundle_name_for
from trainer.export import export_bundle
from trainer.families import load_family_pair

# Texts of different lengths drive the export trace and the parity gate.
SAMPLE_TEXTS = ["a photo of a cat", "boats on a lake at sunset, seen from a hill", "rocket", "two dogs"]


def convert_to_bundle(source: str, family: str | None = None, name: str | None = None, replace: bool = False) -> Path:
    """Load `source` (hub id or local folder), export it with the parity gate, install it; returns its folder."""
    pair = load_family_pair(source, family)
    name = name or bundle_name_for(source)
    if registry.bundle_folder(name).exists() and not replace:
        raise PicsiftError(f"a bundle named {name!r} is already installed; pass --replace or choose --name")
    size = int(pair.image_preprocess["size"])
    pixels = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=paths.models_dir()))
    try:
        folder = export_bundle(pair, staging / name, name, SAMPLE_TEXTS, pixels)
        registry.install(folder, replace=replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return registry.bundle_folder(name)
