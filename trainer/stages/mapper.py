"""The shared-space stage: encoders frozen, two mappers trained on cached features with the chosen objective.

What is exported, per side, is one module (trainer.encoders.mappers.ConcatMapper):

    output = normalize([sqrt(a) * trained(x), sqrt(1 - a) * base(x)])

`trained` is a linear map normalize(W x + b) into a new space for the built-in family (METHOD.md
stage 3), or a trainable copy of the model's own projection for transformers families; `base` is
the base model's mapper, frozen (for the built-in family the zero-shot bridge). Between two such
outputs, cosine = a cos_trained + (1 - a) cos_base: the trained space knows the user's labels,
the base keeps the general search it would otherwise forget. a = 1 exports `trained` alone.
The loss is taken on that output, so the trained part learns to complement the base. The base
part is frozen, so its outputs are computed once per item and training runs the trained part
alone: ConcatMapper(Columns(trained), Columns(identity)) over [features, base output] side by
side gives exactly what the exported ConcatMapper(trained, base) gives from the features.

Labelled data: each image is paired with a text of its class, drawn per step among the prompt
TEMPLATES (so any phrasing of a label finds it, not one string); validation queries are the
bare label texts. Caption data: each (image, caption) pair is an item, labelled by its image.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from models.errors import PicsiftError
from trainer.data.splits import Splits
from trainer.encoders.mappers import ConcatMapper, LinearMapper
from trainer.encoders.towers import TowerPair
from trainer.evaluation.retrieval import PRIMARY, split_metrics
from trainer.losses import make_objective
from trainer.losses.paired import with_missing_sides
from trainer.stages.features import Encoding

# Phrasings of a label text; the first is the label itself. Used by the mapper and text stages.
TEMPLATES = ("{}", "a photo of a {}", "a picture of a {}", "an image of a {}", "a photo of the {}",
             "a close-up photo of a {}", "a {}", "a photo of my {}")
CLASS_WISE = ("prototype", "ce")  # objectives that need class labels
TEMPERATURE_OBJECTIVES = ("infonce", "supcon", "prototype")  # objectives with a temperature argument


def hybrid_mapper(trained: nn.Module, base: nn.Module, weight: float) -> nn.Module:
    """The exported mapper of one side (see the module docstring); `base` is frozen."""
    if not 0.0 < weight <= 1.0:
        raise PicsiftError(f"--mix-weight must be in (0, 1], not {weight}")
    if weight == 1.0:
        return trained
    for p in base.parameters():
        p.requires_grad_(False)
    return ConcatMapper(trained, base, weight)


def trainable_mapper(pair: TowerPair, side: str, features: int, width: int) -> nn.Module:
    """A fresh linear map (built-in family) or a trainable copy of the model's own projection."""
    if pair.family == "builtin":
        return LinearMapper(features, width)
    mapper = copy.deepcopy(getattr(pair, f"{side}_mapper"))
    for p in mapper.parameters():
        p.requires_grad_(True)
    return mapper


class Columns(nn.Module):
    """x (B, D) -> module(x[:, start:stop]): one of several inputs laid side by side."""

    def __init__(self, module: nn.Module, start: int, stop: int | None = None):
        super().__init__()
        self.module, self.start, self.stop = module, start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x[:, self.start:self.stop])


def with_base_output(trained: nn.Module, base: nn.Module, weight: float, width: int):
    """(the mapper trained on [features (width), base output], a function adding the base output to features)."""
    if weight == 1.0:
        return trained, lambda features: features
    mapper = ConcatMapper(Columns(trained, 0, width), Columns(nn.Identity(), width), weight)

    @torch.no_grad()
    def add_base_output(features: torch.Tensor) -> torch.Tensor:  # (N, width) -> (N, width + D_base)
        chunks = [base(features[i:i + 1024]) for i in range(0, len(features), 1024)]
        return torch.cat([features, torch.cat(chunks).to(features.dtype)], dim=-1)

    return mapper, add_base_output


class PairedLoss(nn.Module):
    """(image features (B, Di), text features (B, Dt), labels (B,)[, has_image, has_text]) -> the objective
    on both mappers' outputs; the masks (bool (B,)) mark items that kept that side (modality imbalance)."""

    def __init__(self, image_mapper: nn.Module, text_mapper: nn.Module, objective: nn.Module):
        super().__init__()
        self.image_mapper, self.text_mapper, self.objective = image_mapper, text_mapper, objective

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor, labels: torch.Tensor,
                has_image: torch.Tensor | None = None, has_text: torch.Tensor | None = None) -> torch.Tensor:
        image_emb, text_emb = self.image_mapper(image_features), self.text_mapper(text_features)
        if has_image is None:
            return self.objective(image_emb, text_emb, labels)
        return with_missing_sides(self.objective, image_emb, text_emb, labels, has_image, has_text)


def check_kept_shares(keep_images: float, keep_texts: float) -> None:
    """Refuse --keep-images / --keep-texts values that cannot work, with the reason."""
    for name, value in (("--keep-images", keep_images), ("--keep-texts", keep_texts)):
        if not 0.0 < value <= 1.0:
            raise PicsiftError(f"{name} must be in (0, 1], not {value}")
    if (1.0 - keep_images) + (1.0 - keep_texts) > 1.0:
        raise PicsiftError("--keep-images and --keep-texts together drop both sides of some items; "
                           "their dropped shares must add up to at most 1")


def kept_sides(items: int, keep_images: float, keep_texts: float, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(has_image, has_text) bool (items,): a seeded share of items loses its image, another its text; None if all keep both.

    The two dropped sets never overlap, so every item keeps at least one side.
    """
    check_kept_shares(keep_images, keep_texts)
    if keep_images == 1.0 and keep_texts == 1.0:
        return None
    order = np.random.default_rng([seed, 7]).permutation(items)
    no_image = round((1.0 - keep_images) * items)
    no_text = round((1.0 - keep_texts) * items)
    has_image, has_text = np.ones(items, bool), np.ones(items, bool)
    has_image[order[:no_image]] = False
    has_text[order[no_image:no_image + no_text]] = False
    return has_image, has_text


class MapperStage:
    """Stage 3 for trainer.stages.loop.fit; on return the pair's mappers are the trained hybrids."""

    name = "mapper"

    def __init__(self, pair: TowerPair, splits: Splits, encoding: Encoding, objective: str, temperature: float | None,
                 mix_weight: float, width: int, seed: int, device: torch.device,
                 keep_images: float = 1.0, keep_texts: float = 1.0):
        if objective in CLASS_WISE and not splits.labelled:
            raise PicsiftError(f"--objective {objective} needs class labels (a folder of class folders); "
                               "for captions use infonce, triplet, supcon or seed")
        self.splits, self.seed, self.device = splits, seed, device
        self.primary = PRIMARY["labelled" if splits.labelled else "captions"]
        train, self.val = encoding.images(splits.train, "train"), encoding.images(splits.val, "val")
        val_texts = encoding.texts(splits.val.texts)  # labelled data: the bare label texts, the queries
        image_width, text_width = train.features.shape[1], val_texts.shape[1]
        trained_image = trainable_mapper(pair, "image", image_width, width)
        trained_text = trainable_mapper(pair, "text", text_width, width)
        self.image_mapper = hybrid_mapper(trained_image, pair.image_mapper, mix_weight)  # what is exported
        self.text_mapper = hybrid_mapper(trained_text, pair.text_mapper, mix_weight)
        image_mapper, add_image_base = with_base_output(trained_image, pair.image_mapper, mix_weight, image_width)
        text_mapper, add_text_base = with_base_output(trained_text, pair.text_mapper, mix_weight, text_width)
        self.train_inputs = add_image_base(train.features).to(device)  # (N, Di [+ D_base])
        self.val_inputs = add_image_base(self.val.features).to(device)
        self.val_texts = add_text_base(val_texts).to(device)
        self._items(train.rows, encoding, add_text_base)
        self.sides = kept_sides(len(self.labels), keep_images, keep_texts, seed)
        one_sided_ok = objective in CLASS_WISE + ("supcon",)  # trainer.losses.paired.with_missing_sides
        if self.sides is not None and not one_sided_ok and int((self.sides[0] & self.sides[1]).sum()) < 2:
            raise PicsiftError(f"--objective {objective} learns from complete pairs only, and too few are left")
        with torch.no_grad():  # the mappers are still on the CPU here; fit() moves them
            dim = image_mapper.eval()(add_image_base(train.features[:1])).shape[1]
        kwargs = {"temperature": temperature} if temperature is not None and objective in TEMPERATURE_OBJECTIVES else {}
        classes = len(splits.train.texts) if splits.labelled else 0
        loss = make_objective(objective, dim=dim, num_classes=classes, **kwargs)
        self.model = PairedLoss(image_mapper, text_mapper.eval(), loss).eval()  # no dropout; BatchNorm keeps its statistics
        self.trained = nn.ModuleDict({"image_mapper": trained_image, "text_mapper": trained_text, "objective": loss})

    def _items(self, rows: np.ndarray, encoding: Encoding, add_base) -> None:
        """Training items, their labels, and the texts they pair with."""
        train = self.splits.train
        if self.splits.labelled:
            variants = [template.format(name) for name in train.texts for template in TEMPLATES]
            texts = add_base(encoding.texts(variants))  # (C * T, Dt [+ D_base])
            self.class_texts = texts.view(len(train.texts), len(TEMPLATES), -1).to(self.device)
            self.labels = train.labels[rows]  # item k = image feature row k
            return
        position = {int(r): k for k, r in enumerate(rows)}
        pairs = [(position[i], t) for i, t in train.pairs if i in position]
        self.item_image = np.array([k for k, _ in pairs], np.int64)
        self.item_text = np.array([t for _, t in pairs], np.int64)
        self.labels = self.item_image  # captions of one image are positives of one another
        self.caption_features = add_base(encoding.texts(train.texts)).to(self.device)

    def batch(self, items: np.ndarray, step: int) -> tuple[torch.Tensor, ...]:
        labels = torch.as_tensor(self.labels[items], device=self.device)
        if self.splits.labelled:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)  # same draw on resume
            variant = torch.randint(len(TEMPLATES), (len(items),), generator=generator).to(self.device)
            batch = self.train_inputs[torch.as_tensor(items, device=self.device)], self.class_texts[labels, variant], labels
        else:
            image_rows = torch.as_tensor(self.item_image[items], device=self.device)
            texts = torch.as_tensor(self.item_text[items], device=self.device)
            batch = self.train_inputs[image_rows], self.caption_features[texts], labels
        if self.sides is None:
            return batch
        return *batch, *(torch.as_tensor(side[items], device=self.device) for side in self.sides)

    @torch.no_grad()
    def validate(self) -> dict:
        image_emb = self.model.image_mapper(self.val_inputs).float().cpu().numpy()
        text_emb = self.model.text_mapper(self.val_texts).float().cpu().numpy()
        return split_metrics(self.splits.val, image_emb, self.val.rows, text_emb)

    def install(self, pair: TowerPair, encoding: Encoding) -> None:
        """Put the trained mappers into the pair (after fit has restored the best epoch)."""
        pair.image_mapper, pair.text_mapper = self.image_mapper.eval().cpu(), self.text_mapper.eval().cpu()
