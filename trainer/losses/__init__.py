"""Training objectives: one loss per module, and a registry that gives them all one paired call.

`make_objective(name, dim=..., num_classes=...)` returns an nn.Module called as

    loss = objective(image_emb, text_emb, labels)   # (B, D), (B, D) L2-normalised, paired rows; labels (B,) or None

Labels are one integer per pair: a class id for class-labelled data, or an image id for
caption data (so that captions of one image are not negatives of each other). How each
objective consumes the pair:

| name      | loss                   | how it uses the pairs                                       | labels                    |
|-----------|------------------------|-------------------------------------------------------------|---------------------------|
| infonce   | SymmetricInfoNCE       | image-to-text and text-to-image softmax over the batch      | same label = positive     |
| triplet   | HardestNegativeTriplet | pair i vs its hardest negative, both directions             | same label = not negative |
| prototype | PrototypeContrastive   | each modality to fixed class prototypes (no pairing needed) | required (class ids)      |
| ce        | SharedClassifierCE     | each modality through one shared classifier                 | required (class ids)      |
| supcon    | SupervisedContrastive  | images and texts as one interleaved batch                   | same label = positive     |
| seed      | SeedPairwiseDistance   | images and texts as one interleaved batch                   | same label = positive set |

Where labels may be None, each pair is its own class. `prototype` and `ce` hold state (fixed
prototypes; a trained classifier) and `infonce` may learn its temperature: always give
`objective.parameters()` to the optimiser alongside the model's. For the intra-modal stages
(one modality at a time), call SupervisedContrastive or SeedPairwiseDistance directly with
that modality's embeddings and labels.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from trainer.losses.cross_entropy import SharedClassifierCE
from trainer.losses.info_nce import SymmetricInfoNCE
from trainer.losses.paired import OnEachModality, OnInterleavedPairs
from trainer.losses.prototype import PrototypeContrastive
from trainer.losses.seed_pairwise import SeedPairwiseDistance
from trainer.losses.supcon import SupervisedContrastive
from trainer.losses.triplet import HardestNegativeTriplet

__all__ = [
    "OBJECTIVES",
    "HardestNegativeTriplet",
    "PrototypeContrastive",
    "SeedPairwiseDistance",
    "SharedClassifierCE",
    "SupervisedContrastive",
    "SymmetricInfoNCE",
    "make_objective",
]

# name -> factory(dim, num_classes, **kwargs) -> module with the paired call; kwargs go to the loss
OBJECTIVES: dict[str, Callable[..., nn.Module]] = {
    "infonce": lambda dim, num_classes, **kwargs: SymmetricInfoNCE(**kwargs),
    "triplet": lambda dim, num_classes, **kwargs: HardestNegativeTriplet(**kwargs),
    "prototype": lambda dim, num_classes, **kwargs: OnEachModality(PrototypeContrastive(num_classes, dim, **kwargs)),
    "ce": lambda dim, num_classes, **kwargs: OnEachModality(SharedClassifierCE(dim, num_classes, **kwargs)),
    "supcon": lambda dim, num_classes, **kwargs: OnInterleavedPairs(SupervisedContrastive(**kwargs)),
    "seed": lambda dim, num_classes, **kwargs: OnInterleavedPairs(SeedPairwiseDistance(**kwargs)),
}


def make_objective(name: str, *, dim: int, num_classes: int, **kwargs) -> nn.Module:
    """The objective `name`, called as `objective(image_emb, text_emb, labels)`; kwargs configure the loss."""
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](dim, num_classes, **kwargs)
