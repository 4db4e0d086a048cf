"""Shared checks and label masks for the losses (shapes validated once, with a message a person can act on), and the class-wise base."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_embeddings(name: str, embeddings: torch.Tensor) -> None:
    """Raise ValueError unless `embeddings` is a (N, D) float tensor."""
    if embeddings.ndim != 2 or not embeddings.is_floating_point():
        raise ValueError(f"{name} must be a (N, D) float tensor, got {tuple(embeddings.shape)} {embeddings.dtype}")


def check_pairs(image_emb: torch.Tensor, text_emb: torch.Tensor) -> None:
    """Raise ValueError unless image and text embeddings are paired rows of one shape (B, D)."""
    check_embeddings("image_emb", image_emb)
    check_embeddings("text_emb", text_emb)
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"paired image_emb {tuple(image_emb.shape)} and text_emb {tuple(text_emb.shape)} differ in shape")


def check_labels(labels: torch.Tensor, rows: int) -> None:
    """Raise ValueError unless `labels` is a (rows,) integer tensor."""
    if labels.shape != (rows,) or labels.is_floating_point():
        raise ValueError(f"labels must be a ({rows},) integer tensor, got {tuple(labels.shape)} {labels.dtype}")


def same_label(labels: torch.Tensor | None, rows: int, device: torch.device) -> torch.Tensor:
    """(rows, rows) bool: True where two rows share a label; the identity when labels is None (pure pairs)."""
    if labels is None:
        return torch.eye(rows, dtype=torch.bool, device=device)
    check_labels(labels, rows)
    return labels[:, None] == labels[None, :]


def zero_loss(*tensors: torch.Tensor) -> torch.Tensor:
    """A scalar 0 still attached to the inputs' graph, so `backward()` works when nothing contributes."""
    return sum(t.sum() * 0.0 for t in tensors)


def labelled_modalities(
    image_emb: torch.Tensor,
    image_labels: torch.Tensor,
    text_emb: torch.Tensor | None,
    text_labels: torch.Tensor | None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (embeddings (N, D), labels (N,)) of each modality given, checked; texts are optional."""
    given = [("image", image_emb, image_labels)] + ([("text", text_emb, text_labels)] if text_emb is not None else [])
    for name, embeddings, labels in given:
        check_embeddings(f"{name}_emb", embeddings)
        if labels is None:
            raise ValueError(f"{name}_emb was given without {name}_labels")
        check_labels(labels, len(embeddings))
    return [(embeddings, labels) for _, embeddings, labels in given]


class ClassWiseLoss(nn.Module):
    """A loss that classifies each embedding: subclasses give `logits(embeddings)` (N, D) -> (N, C).

    forward(image_emb, image_labels, text_emb=None, text_labels=None) is the sum over the labelled
    modalities given of cross_entropy(logits(embeddings), labels), as CLIP4CMR adds them.
    """

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self,
        image_emb: torch.Tensor,
        image_labels: torch.Tensor,
        text_emb: torch.Tensor | None = None,
        text_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        modalities = labelled_modalities(image_emb, image_labels, text_emb, text_labels)
        return torch.stack([F.cross_entropy(self.logits(e), y) for e, y in modalities]).sum()
