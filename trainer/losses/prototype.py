"""CLIP4CMR's prototype contrastive loss: classify each embedding by its distance to fixed class prototypes."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from trainer.losses._labels import ClassWiseLoss

Metric = Literal["squared_euclidean", "cosine"]


def random_orthogonal_prototypes(num_classes: int, dim: int, seed: int = 0) -> torch.Tensor:
    """(C, D) unit rows, mutually orthogonal when C <= D (else random unit vectors, nearly orthogonal in high D)."""
    generator = torch.Generator().manual_seed(seed)
    if num_classes > dim:
        return F.normalize(torch.randn(num_classes, dim, generator=generator), dim=1)
    q, _ = torch.linalg.qr(torch.randn(dim, num_classes, generator=generator))  # (D, C), orthonormal columns
    return q.T.contiguous()


class PrototypeContrastive(ClassWiseLoss):
    """Softmax over (negative, scaled) distances to C fixed, normalised class prototypes; cross-entropy to the label.

    For an embedding f with label y and prototypes p_1..p_C,

        L(f, y) = -log( exp(-||f - p_y||^2 / t) / sum_c exp(-||f - p_c||^2 / t) )

    averaged over the rows of each modality, and summed over the modalities given (images, and
    texts when passed), as CLIP4CMR does. Both modalities are pulled to the same prototypes, so
    they meet in one space without ever being compared to each other: the loss needs no pairs,
    which is why it stays robust when one modality has far fewer samples (pass text_emb with
    fewer rows than image_emb). On unit vectors ||f - p||^2 = 2 - 2 <f, p>, so
    metric="cosine" (logits <f, p_c> / t) gives the same loss at temperature t / 2.

    The prototypes are a buffer, never trained: random orthonormal rows by default (seeded), or
    the rows you give (e.g. the class texts' embeddings), L2-normalised.

    Args:
        num_classes: C, the number of classes; labels lie in [0, C).
        dim: D, the embedding width.
        temperature: t; scale = 1 / t. CLIP4CMR uses t = 1 on squared distances.
        prototypes: optional (C, D) tensor to use instead of random orthogonal ones.
        metric: "squared_euclidean" (CLIP4CMR) or "cosine".
        seed: seed of the random prototypes.

    Inputs:
        image_emb: (N, D) L2-normalised; image_labels: (N,) integers.
        text_emb: optional (M, D) L2-normalised; text_labels: (M,) integers (M may differ from N).

    Returns a scalar.

    Reference: Zeng & Mao 2022, "A Comprehensive Empirical Study of Vision-Language Pre-trained
    Model for Supervised Cross-Modal Retrieval" (CLIP4CMR), the prototype contrastive loss taken
    from PAN (Zeng et al. 2021, SIGIR, "PAN: Prototype-based Adaptive Network").
    """

    prototypes: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        dim: int,
        temperature: float = 1.0,
        prototypes: torch.Tensor | None = None,
        metric: Metric = "squared_euclidean",
        seed: int = 0,
    ):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if metric not in ("squared_euclidean", "cosine"):
            raise ValueError(f"metric must be 'squared_euclidean' or 'cosine', got {metric!r}")
        if prototypes is None:
            prototypes = random_orthogonal_prototypes(num_classes, dim, seed)
        elif tuple(prototypes.shape) != (num_classes, dim):
            raise ValueError(f"prototypes must be ({num_classes}, {dim}), got {tuple(prototypes.shape)}")
        self.register_buffer("prototypes", F.normalize(prototypes.detach().float(), dim=1))
        self.temperature = temperature
        self.metric = metric

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, C): -||f - p_c||^2 / t (or <f, p_c> / t)."""
        prototypes = self.prototypes.to(embeddings.dtype)
        dot = embeddings @ prototypes.T  # (N, C)
        if self.metric == "cosine":
            return dot / self.temperature
        squared = embeddings.pow(2).sum(1, keepdim=True) + prototypes.pow(2).sum(1)[None, :] - 2 * dot  # (N, C)
        return -squared / self.temperature
