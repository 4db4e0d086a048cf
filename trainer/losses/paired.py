"""Adapters that give every objective the uniform paired call `objective(image_emb, text_emb, labels)`."""

from __future__ import annotations

import torch
from torch import nn

from trainer.losses._labels import check_labels, check_pairs


def interleave(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (2B, D) rows image_0, text_0, image_1, text_1, ..."""
    return torch.stack([image_emb, text_emb], dim=1).flatten(0, 1)


class OnInterleavedPairs(nn.Module):
    """Applies an intra-modal loss `loss(embeddings, labels)` to images and texts as one batch.

    The rows are interleaved (image_0, text_0, image_1, text_1, ...) with each label repeated
    twice, so a pair, and every row of its label in either modality, are positives. For
    SupCon the order is irrelevant; for the seed loss it makes every consecutive pair of a
    positive set cross-modal (image_k, text_k, image_k', text_k', ...). Without labels each
    pair is its own class.
    """

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_pairs(image_emb, text_emb)
        if labels is None:
            labels = torch.arange(len(image_emb), device=image_emb.device)
        check_labels(labels, len(image_emb))
        return self.loss(interleave(image_emb, text_emb), labels.repeat_interleave(2))


class OnEachModality(nn.Module):
    """Applies a class-wise loss `loss(image_emb, image_labels, text_emb, text_labels)` with the pairs' labels."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_pairs(image_emb, text_emb)
        if labels is None:
            raise ValueError(f"{type(self.loss).__name__} is a class-wise objective: it needs class labels")
        return self.loss(image_emb, labels, text_emb, labels)
