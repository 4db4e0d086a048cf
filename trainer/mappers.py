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
