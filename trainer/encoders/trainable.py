"""Which part of a tower a stage trains, and EfficientNet-Lite0 cut in two so its frozen front runs once per image."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainer.encoders.efficientnet_lite import EfficientNetLite


def main_layers(tower: nn.Module) -> tuple[str, nn.ModuleList]:
    """The tower's layer list holding the most parameters (EfficientNet's _blocks, BERT's encoder.layer, ViT's layers)."""
    lists = [(name, module) for name, module in tower.named_modules() if isinstance(module, nn.ModuleList) and len(module)]
    if not lists:
        raise ValueError(f"{type(tower).__name__} has no layer list to fine-tune the end of; unfreeze it all")
    return max(lists, key=lambda item: sum(p.numel() for p in item[1].parameters()))


def unfreeze_last(tower: nn.Module, blocks: int | None) -> int:
    """Train the last `blocks` layers of main_layers(tower) and every parameter registered after them.

    None trains every parameter. Returns the index of the first trained layer (0 for all).
    Parameters after the list that no loss reaches (a classifier, a pooler) are frozen again by
    trainer.stages.loop.freeze_unused.
    """
    for p in tower.parameters():
        p.requires_grad_(blocks is None)
    if blocks is None:
        return 0
    name, layers = main_layers(tower)
    first = max(0, len(layers) - blocks)
    prefix = f"{name}.{first}."
    training = False
    for param_name, p in tower.named_parameters():
        training = training or param_name.startswith(prefix)
        p.requires_grad_(training)
    return first


@dataclass
class EfficientNetSplit:
    """EfficientNet-Lite0's features() as front(pixels) -> activations, back(activations) -> (B, 1280) features.

    The cut is before block `first`: front = stem + blocks[:first] (frozen), back = the rest.
    `of` checks on a sample that back(front(x)) == features(x), so a change to the model's
    forward cannot silently train something else.
    """

    front: nn.Module
    back: nn.Module

    @classmethod
    def of(cls, tower: nn.Module, first: int) -> EfficientNetSplit | None:
        """The split of a built-in image tower (its .model an EfficientNetLite); None for any other tower."""
        net = getattr(tower, "model", None)
        if not isinstance(net, EfficientNetLite) or first == 0:
            return None
        split = cls(_Front(net, first), _Back(net, first))
        sample = torch.randn(1, 3, net.image_size, net.image_size, generator=torch.Generator().manual_seed(0))
        sample = sample.to(next(net.parameters()).device)
        with torch.no_grad():
            if not torch.allclose(split.back(split.front(sample)), tower(sample), atol=1e-5, rtol=1e-4):
                raise RuntimeError("EfficientNetSplit no longer reproduces EfficientNetLite.features; update it")
        return split


class _Front(nn.Module):
    def __init__(self, net: EfficientNetLite, first: int):
        super().__init__()
        self.net, self.first = net, first

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        net = self.net
        x = net.act(net._bn0(net._conv_stem(pixel_values)))  # (B, 32, S/2, S/2)
        for block in net._blocks[: self.first]:
            x = block(x)
        return x  # (B, C, h, w) the input of block `first`


class _Back(nn.Module):
    def __init__(self, net: EfficientNetLite, first: int):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[first:])
        self.conv_head, self.bn, self.act = net._conv_head, net._bn1, net.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        x = self.act(self.bn(self.conv_head(x)))  # (B, 1280, S/32, S/32)
        return x.mean(dim=(2, 3))  # (B, 1280)
