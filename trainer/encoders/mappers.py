"""Mappers: small modules from one encoder's feature space into the shared space, L2-normalised."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    """Identity into the shared space: features are already there, only unit length is enforced."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(features, dim=-1)


class LinearMapper(nn.Module):
    """y = normalize(W x + b): the method's linear mapper (METHOD.md, stage 3)."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, in) -> (B, out)
        return F.normalize(self.linear(features), dim=-1)


class ConcatMapper(nn.Module):
    """x -> normalize(cat(sqrt(w) first(x), sqrt(1 - w) second(x))) (B, D1 + D2).

    `first` and `second` have unit-length outputs, so between two such mappers the dot product
    is w cos_first + (1 - w) cos_second: a weighted mix of two mappers' similarities (the built-in bridge's halves, a fine-tuned space beside its base).
    """

    def __init__(self, first: nn.Module, second: nn.Module, weight: float):
        super().__init__()
        self.first, self.second = first, second
        self.weight = float(weight)
        self.scale_first, self.scale_second = self.weight ** 0.5, (1.0 - self.weight) ** 0.5

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([self.scale_first * self.first(features), self.scale_second * self.second(features)], dim=-1)
        return F.normalize(mixed, dim=-1)
