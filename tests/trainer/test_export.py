"""The exporter writes a loadable bundle and refuses one whose ONNX graphs disagree with torch."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from toy_bundle import ToyImageEncoder, export_toy_bundle, toy_pair

from models.bundle import open_bundle
from trainer.export.bundle import ParityError, export_bundle


class TracedBranch(nn.Module):
    """Tracing freezes the branch taken on the example, so ONNX disagrees on other inputs."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.sum() > 0:
            return nn.functional.normalize(features, dim=-1)
        return nn.functional.normalize(-features, dim=-1)


def test_exported_bundle_records_parity_within_the_gate(tmp_path):
    folder = export_toy_bundle(tmp_path / "toy")
    parity = json.loads((folder / "manifest.json").read_text())["provenance"]["export_parity"]
    assert set(parity) == {"image_encoder", "image_instance", "text_encoder", "image_mapper", "text_mapper"}
    for figures in parity.values():
        assert figures["min_cosine"] >= 0.9999 and figures["max_abs_diff"] <= 1e-4
    assert open_bundle(folder).manifest.embedding_dim == 8


def test_graph_that_differs_from_torch_fails_the_export_and_leaves_no_bundle(tmp_path):
    pair = toy_pair()
    pair.text_mapper = TracedBranch()
    pair.image_mapper = nn.Sequential(nn.Linear(16, 12), TracedBranch())
    with pytest.raises(ParityError, match="ONNX output differs from torch"):
        export_bundle(pair, tmp_path / "bad", "bad", ["a", "b c d", "e f"], _mixed_sign_pixels())
    assert not (tmp_path / "bad").exists()


def test_a_model_that_outputs_nan_fails_the_parity_gate(tmp_path):
    """A corrupt checkpoint's NaN weights give NaN in torch and ONNX alike; that is no usable export."""
    pair = toy_pair()
    with torch.no_grad():
        next(pair.image_mapper.parameters()).fill_(float("nan"))
    with pytest.raises(ParityError, match="image mapper: ONNX output differs from torch.*min cosine nan"):
        export_bundle(pair, tmp_path / "nan", "nan", ["a", "b c d", "e f"], _mixed_sign_pixels())
    assert not (tmp_path / "nan").exists()


def _mixed_sign_pixels() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(4, 3, 32, 32)


def test_export_reports_each_graph_and_the_parity_check_as_a_step_in_order(tmp_path):
    from trainer.export.bundle import EXPORT_STEPS

    heard: list[str] = []
    pixels = torch.randn(2, 3, 32, 32)
    export_bundle(toy_pair(), tmp_path / "toy", "toy", ["a cat", "two dogs on a red sofa", "boat"], pixels, heard.append)
    assert tuple(heard) == EXPORT_STEPS


class TracedInstance(ToyImageEncoder):
    """The toy image encoder with an instance output that takes a branch tracing freezes."""

    def features_and_instance(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self(pixel_values)
        sign = 1.0 if pixel_values.sum() > 0 else -1.0  # traced as a constant
        return features, nn.functional.normalize(sign * features, dim=-1)


def test_instance_output_that_differs_from_torch_fails_the_export(tmp_path):
    pair = toy_pair()
    pair.image_encoder = TracedInstance()
    with pytest.raises(ParityError, match="instance output: ONNX output differs from torch"):
        export_bundle(pair, tmp_path / "bad", "bad", ["a", "b c d", "e f"], _mixed_sign_pixels())
    assert not (tmp_path / "bad").exists()


def test_image_encoder_with_an_instance_output_declares_its_width(tmp_path):
    with_instance = open_bundle(export_toy_bundle(tmp_path / "new")).manifest
    without = open_bundle(export_toy_bundle(tmp_path / "old", instance=False)).manifest
    assert (with_instance.instance_dim, without.instance_dim) == (16, 0)
