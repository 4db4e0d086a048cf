"""VSE++'s triplet loss with the hardest negative in the batch, both directions, with optional label masking."""

from __future__ import annotations

import torch
from torch import nn

from trainer.losses._labels import check_pairs, same_label


class HardestNegativeTriplet(nn.Module):
    """Max of hinges: each pair must beat its single most similar negative in the batch by a margin.

    With similarities S_ij = <x_i, y_j> for images x and texts y (rows paired),

        L = 1/B sum_i [ max(0, margin + max_{j in N(i)} S_ij - S_ii)       (image i as query)
                      + max(0, margin + max_{j in N(i)} S_ji - S_ii) ]     (text i as query)

    N(i) is every other row; with labels, only rows whose label differs from row i's, so a
    classmate (or another caption of the same image) is never mined as a negative. The positive
    stays the paired row i. An anchor with no negative in the batch contributes 0.
    VSE++ sums over the batch; this takes the mean (sum / B), the same minimiser with a learning
    rate that does not depend on the batch size.

    Args:
        margin: how much more similar (in cosine) the pair must be than the hardest negative.

    Inputs:
        image_emb, text_emb: (B, D), L2-normalised, row i of each forms a pair.
        labels: optional (B,) integers, one per pair.

    Returns a scalar.

    Reference: Faghri et al. 2018, "VSE++: Improving Visual-Semantic Embeddings with Hard
    Negatives", eq. 5 (the MH loss).
    """

    def __init__(self, margin: float = 0.2):
        super().__init__()
        self.margin = margin

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_pairs(image_emb, text_emb)
        similarity = image_emb @ text_emb.T  # (B, B): image i vs text j
        not_negative = same_label(labels, len(similarity), similarity.device)  # (B, B), symmetric
        positive = similarity.diagonal()  # (B,)
        hinges = [
            torch.relu(self.margin + scores.masked_fill(not_negative, -torch.inf).amax(dim=1) - positive)
            for scores in (similarity, similarity.T)  # image queries, then text queries
        ]  # an anchor without negatives has max = -inf, so its hinge is 0 with a 0 gradient
        return (hinges[0] + hinges[1]).mean()
