"""Symmetric InfoNCE (the CLIP loss) over paired image and text embeddings, with optional multi-positive labels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from trainer.losses._labels import check_pairs, same_label

MAX_SCALE = 100.0  # CLIP clamps a learnt logit scale here (temperature >= 0.01) so training stays stable


class SymmetricInfoNCE(nn.Module):
    """CLIP's contrastive loss, both directions: each image picks its text out of the batch, and vice versa.

    With logits s_ij = scale * <x_i, y_j> for images x and texts y (rows paired, i = j matches)
    and soft targets q_ij (each row sums to 1),

        L_i2t = -1/B sum_i sum_j q_ij  log softmax_j(s_i.)
        L_t2i = -1/B sum_j sum_i q_ij  log softmax_i(s_.j)
        L     = (L_i2t + L_t2i) / 2

    Without labels q is the identity (the plain CLIP loss: pair i is the only positive of row i).
    With labels, q_ij = 1/|{k: label_k = label_i}| for every j of row i's label: rows sharing a
    label are not negatives of each other but equally good answers. This matters for
    class-labelled data, where many images share one text (their class prompt) and the plain
    loss would push an image away from its own class text whenever a classmate is in the batch.
    Soft targets keep the loss a cross-entropy, so its floor is the target entropy (log k for a
    label with k rows in the batch), not 0; only the value shifts, the gradient is that of the KL.

    Args:
        temperature: softmax temperature t; scale = 1 / t multiplies the cosine similarities.
        learnable: learn log(scale) as CLIP does (initialised at log(1/t), scale clamped to
            <= 100). Then this module has a parameter: give `objective.parameters()` to the
            optimiser too.

    Inputs:
        image_emb, text_emb: (B, D), L2-normalised, row i of each forms a pair.
        labels: optional (B,) integers, one per pair (class id, or image id for caption data).

    Returns a scalar.

    Reference: Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
    Supervision" (CLIP), Fig. 3; van den Oord et al. 2018 (InfoNCE).
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def scale(self) -> torch.Tensor:
        """1 / temperature, as a scalar tensor (clamped to <= 100)."""
        return self.log_scale.exp().clamp(max=MAX_SCALE)

    def forward(self, image_emb: torch.Tensor, text_emb: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_pairs(image_emb, text_emb)
        logits = self.scale * image_emb @ text_emb.T  # (B, B): image i vs text j
        positives = same_label(labels, len(logits), logits.device).to(logits.dtype)  # (B, B), symmetric
        targets = positives / positives.sum(dim=1, keepdim=True)  # (B, B), rows sum to 1
        image_to_text = F.cross_entropy(logits, targets)
        text_to_image = F.cross_entropy(logits.T, targets)  # symmetric mask: text j's targets are row j too
        return (image_to_text + text_to_image) / 2
