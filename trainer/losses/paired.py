"""Adapters that give every objective the uniform paired call `objective(image_emb, text_emb, labels)`."""

from __future__ import annotations

import torch
from torch import nn

from trainer.losses._labels import check_labels, check_pairs, zero_loss
from trainer.losses.supcon import SupervisedContrastive


def interleave(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """(B, D), (B, D) -> (2B, D) rows image_0, text_0, image_1, text_1, ..."""
    return torch.stack([image_emb, text_emb], dim=1).flatten(0, 1)


class PairedAdapter(nn.Module):
    """Wraps `loss` so it is called as (image_emb (B, D), text_emb (B, D), labels (B,) or None) on checked pairs."""

    def __init__(self, loss: nn.Module):
        super().__init__()
        self.loss = loss

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_pairs(image_emb, text_emb)
        return self.on_pairs(image_emb, text_emb, labels)

    def on_pairs(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class OnInterleavedPairs(PairedAdapter):
    """Applies an intra-modal loss `loss(embeddings, labels)` to images and texts as one batch.

    The rows are interleaved (image_0, text_0, image_1, text_1, ...) with each label repeated
    twice, so a pair, and every row of its label in either modality, are positives. For
    SupCon the order is irrelevant; for the seed loss it makes every consecutive pair of a
    positive set cross-modal (image_k, text_k, image_k', text_k', ...). Without labels each
    pair is its own class.
    """

    def on_pairs(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            labels = torch.arange(len(image_emb), device=image_emb.device)
        check_labels(labels, len(image_emb))
        return self.loss(interleave(image_emb, text_emb), labels.repeat_interleave(2))


class OnEachModality(PairedAdapter):
    """Applies a class-wise loss `loss(image_emb, image_labels, text_emb, text_labels)` with the pairs' labels."""

    def on_pairs(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise ValueError(f"{type(self.loss).__name__} is a class-wise objective: it needs class labels")
        return self.loss(image_emb, labels, text_emb, labels)


def with_missing_sides(objective: nn.Module, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor,
                       has_image: torch.Tensor, has_text: torch.Tensor) -> torch.Tensor:
    """The objective on a batch where some items lost one side (CLIP4CMR's modality imbalance).

    Row k of image_emb / text_emb counts only where has_image[k] / has_text[k] (bool (B,)).
    Class-wise objectives (prototype, ce) take every surviving row of each modality, since they
    never compare an image with a text; SupCon takes all surviving rows as one batch (any order
    is fine for it); pair-wise objectives (infonce, triplet, seed) can use complete pairs only.
    """
    if isinstance(objective, OnEachModality):
        sides = [(e[m], labels[m]) for e, m in ((image_emb, has_image), (text_emb, has_text)) if bool(m.any())]
        if not sides:
            return zero_loss(image_emb, text_emb)
        return objective.loss(*sides[0], *(sides[1] if len(sides) > 1 else (None, None)))
    if isinstance(objective, OnInterleavedPairs) and isinstance(objective.loss, SupervisedContrastive):
        return objective.loss(torch.cat([image_emb[has_image], text_emb[has_text]]),
                              torch.cat([labels[has_image], labels[has_text]]))
    both = has_image & has_text
    if int(both.sum()) < 2:
        return zero_loss(image_emb, text_emb)
    return objective(image_emb[both], text_emb[both], labels[both])
