"""The seed paper's intra-modal loss, exactly as written: distance plus dot product of consecutive positives."""

from __future__ import annotations

import torch
from torch import nn

from trainer.losses._labels import check_embeddings, check_labels, zero_loss


class SeedPairwiseDistance(nn.Module):
    """L = sum_i | EuclideanDistance(F_i, F_{i+1}) + dot(F_i, F_{i+1}) | over consecutive samples of a positive set.

    Kept for comparison with the well-founded objectives, not as a default (METHOD.md section 2).
    Positive sets are the groups of rows sharing a label; within each group, rows are taken in
    batch order and every consecutive pair (F_i, F_{i+1}) contributes one term. The result is
    the mean over all such pairs (the paper writes a sum; the mean keeps the learning rate
    independent of the batch). A batch with no two rows of one label gives 0.

    Read plainly, the loss has no negatives and no temperature: nothing in it pushes different
    meanings apart. On unit vectors it does not even pull positives together: with c = <F_i, F_{i+1}>,
    ||F_i - F_{i+1}|| = sqrt(2 - 2c), so each term is sqrt(2 - 2c) + c >= 1, with equal minima 1 at
    c = 1 (identical) and c = -1 (opposite), and its maximum 1.5 at c = 1/2. Gradient descent moves
    each pair towards whichever of the two is nearer.

    Inputs:
        embeddings: (N, D), normally L2-normalised.
        labels: (N,) integers; rows of one label form a positive set.

    Returns a scalar.

    Reference: the seed paper, "Semantic contrastive learning and content fusion", its
    intra-modal loss as restated in METHOD.md section 2.
    """

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_embeddings("embeddings", embeddings)
        check_labels(labels, len(embeddings))
        order = torch.sort(labels, stable=True).indices  # groups rows by label, batch order within a group
        consecutive = labels[order[:-1]] == labels[order[1:]]  # (N - 1,): both rows of one positive set
        if not consecutive.any():
            return zero_loss(embeddings)
        first, second = embeddings[order[:-1][consecutive]], embeddings[order[1:][consecutive]]  # (P, D) each
        distance = torch.linalg.vector_norm(first - second, dim=1)  # (P,); its gradient at 0 is 0
        dot = (first * second).sum(dim=1)  # (P,)
        return (distance + dot).abs().mean()
