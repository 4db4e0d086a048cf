"""Turn a transformers dual encoder (CLIP, ALIGN, AltCLIP, GroupViT, SigLIP, SigLIP 2) into an installed bundle."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from models import paths, registry
from models.errors import PicsiftError
from models.hub_catalog import bundle_name_for, check_hub_id
from trainer.export.bundle import EXPORT_STEPS, ParityError, export_bundle
from trainer.export.families import load_family_pair

# Texts of different lengths drive the export trace and the parity gate.
SAMPLE_TEXTS = ["a photo of a cat", "boats on a lake at sunset, seen from a hill", "rocket", "two dogs"]
# What convert_to_bundle reports to `on_step`, in order (`trainer convert --progress jsonl` step events)
CONVERT_STEPS = ("loading the model", *EXPORT_STEPS, "installing the bundle")


def convert_to_bundle(source: str, family: str | None = None, name: str | None = None, replace: bool = False,
                      hub_id: str | None = None,
                      on_step: Callable[[int, int, str], None] = lambda step, steps, name: None) -> Path:
    """Load `source` (hub id or local folder), export it with the parity gate, install it; returns its folder.

    `hub_id` names the hub model a local folder was downloaded from: the bundle's base_weights and
    default name then come from it. `on_step(step, steps, name)` hears each of CONVERT_STEPS as it
    starts (counting from 1). A failed parity gate installs nothing and leaves the active model as it was.
    """
    def report(step: str) -> None:
        on_step(CONVERT_STEPS.index(step) + 1, len(CONVERT_STEPS), step)

    if hub_id is not None:
        check_hub_id(hub_id)
    name = name or bundle_name_for(hub_id or source)
    if registry.bundle_folder(name).exists() and not replace:
        raise PicsiftError(f"a bundle named {name!r} is already installed; pass --replace or choose --name")
    report(CONVERT_STEPS[0])
    pair = load_family_pair(source, family)
    if hub_id:
        pair.provenance = {**pair.provenance, "base_weights": hub_id}
    size = int(pair.image_preprocess["size"])
    pixels = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=paths.models_dir()))
    try:
        folder = _export_gated(pair, staging / name, name, pixels, report)
        report(CONVERT_STEPS[-1])
        registry.install(folder, replace=replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return registry.bundle_folder(name)


def _export_gated(pair, destination: Path, name: str, pixels: torch.Tensor, report: Callable[[str], None]) -> Path:
    try:
        return export_bundle(pair, destination, name, SAMPLE_TEXTS, pixels, on_step=report)
    except ParityError as exc:
        raise PicsiftError(f"{exc}; nothing was installed and the active model is unchanged") from exc

