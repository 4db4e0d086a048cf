"""Label classification through one classifier shared by both modalities (CLIP4CMR's cross-entropy objective)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.losses._labels import ClassWiseLoss


class SharedClassifierCE(ClassWiseLoss):
    """Cross-entropy of one linear classifier applied to image and text embeddings alike.

    For an embedding f with label y, a classifier with weight rows w_c and biases b_c,

        logits_c = <f, w_c / ||w_c||> + b_c
        L(f, y)  = -log softmax_y(logits)

    averaged over the rows of each modality, and summed over the modalities given, as CLIP4CMR
    does. Sharing the classifier is what aligns the modalities: an image and a text of class c
    must both land where w_c points. The weight rows are L2-normalised in the forward pass
    (CLIP4CMR normalises them in place each step; here the normalisation is part of the graph).

    The classifier is trained with the embeddings: give `objective.parameters()` to the
    optimiser as well. It is a training device only; it is not exported.

    Args:
        dim: D, the embedding width.
        num_classes: C; labels lie in [0, C).
        normalize_weights: L2-normalise the weight rows (CLIP4CMR); False gives a plain linear layer.

    Inputs:
        image_emb: (N, D) L2-normalised; image_labels: (N,) integers.
        text_emb: optional (M, D) L2-normalised; text_labels: (M,) integers (M may differ from N).

    Returns a scalar.

    Reference: Zeng & Mao 2022, "A Comprehensive Empirical Study of Vision-Language Pre-trained
    Model for Supervised Cross-Modal Retrieval" (CLIP4CMR), the cross-entropy (CEL) objective.
    """

    def __init__(self, dim: int, num_classes: int, normalize_weights: bool = True):
        super().__init__()
        self.classifier = nn.Linear(dim, num_classes)
        self.normalize_weights = normalize_weights

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, C) class scores."""
        weight = self.classifier.weight  # (C, D)
        if self.normalize_weights:
            weight = F.normalize(weight, dim=1)
        return F.linear(embeddings, weight, self.classifier.bias)
