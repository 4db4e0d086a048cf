"""Supervised contrastive loss (SupCon): every same-label sample in the batch is a positive of the anchor."""

from __future__ import annotations

import torch
from torch import nn

from trainer.losses._labels import check_embeddings, check_labels, zero_loss


class SupervisedContrastive(nn.Module):
    """SupCon's L_out: for each anchor, the mean log-probability of its positives among all other samples.

    With z the embeddings, P(i) = {p != i : label_p = label_i} and A(i) = {a != i},

        L_i = -1/|P(i)| sum_{p in P(i)} log( exp(<z_i, z_p> / t) / sum_{a in A(i)} exp(<z_i, z_a> / t) )
        L   = mean of L_i over the anchors with |P(i)| > 0

    Anchors with no positive in the batch are ignored (they would contribute nothing but noise);
    a batch with no positive at all gives 0. Khosla et al. also multiply by t / base_temperature;
    with base_temperature = t, as usually set, that factor is 1 and is left out.

    This is the intra-modal objective of the text and image semantic stages (METHOD.md section 2):
    pass one modality's embeddings and their labels. It works cross-modally too: concatenate the
    image and text rows (and their labels twice), and a pair, its classmates in either modality,
    all become positives of one another.

    Args:
        temperature: t; scale = 1 / t multiplies the cosine similarities.

    Inputs:
        embeddings: (N, D), L2-normalised.
        labels: (N,) integers; equal labels mean "same meaning".

    Returns a scalar.

    Reference: Khosla et al. 2020, "Supervised Contrastive Learning", eq. 2 (L_out^sup).
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_embeddings("embeddings", embeddings)
        check_labels(labels, len(embeddings))
        self_mask = torch.eye(len(embeddings), dtype=torch.bool, device=embeddings.device)  # (N, N)
        positives = (labels[:, None] == labels[None, :]) & ~self_mask  # (N, N)
        counts = positives.sum(dim=1)  # (N,)
        anchors = counts > 0
        if not anchors.any():
            return zero_loss(embeddings)
        logits = (embeddings @ embeddings.T / self.temperature).masked_fill(self_mask, -torch.inf)  # (N, N)
        log_prob = logits - logits.logsumexp(dim=1, keepdim=True)  # over A(i): the anchor itself is excluded
        mean_positive = log_prob.masked_fill(~positives, 0.0).sum(dim=1)[anchors] / counts[anchors]
        return -mean_positive.mean()
