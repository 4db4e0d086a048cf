"""The instance-level image descriptor: GeM pooling of a CNN's last feature map, L2-normalised.

Generalised-mean pooling (Radenovic, Tolias & Chum 2018, "Fine-tuning CNN image retrieval with no
human annotation"): per channel, (mean over positions of x^p)^(1/p). p = 1 is average pooling (the
semantic features), p -> inf is max pooling; p = 3, the paper's choice, weights the strongest local
responses, so a copy that is cropped, rotated, re-compressed or captioned keeps its descriptor
while a different photo of the same kind of scene does not (tests/benchmarks/edited_copies.py).
It reuses the feature map the semantic features are pooled from: no second forward pass.
"""

from __future__ import annotations

import torch
from torch import nn

GEM_P = 3.0  # the GeM exponent; 2..6 measured within 0.01 R@1 of each other on the dev set
_EPS = 1e-6  # clamps ReLU's zeros so x^(1/p) has a finite gradient and the ONNX Pow stays finite


def gem(feature_map: torch.Tensor, p: float = GEM_P) -> torch.Tensor:
    """(B, C, H, W) non-negative activations -> (B, C) unit-length GeM descriptors."""
    pooled = feature_map.clamp(min=_EPS).pow(p).mean(dim=(2, 3)).pow(1.0 / p)  # (B, C)
    return nn.functional.normalize(pooled, p=2.0, dim=-1)
