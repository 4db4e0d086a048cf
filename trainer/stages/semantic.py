"""The semantic stages: fine-tune one tower with supervised contrastive loss so same-meaning inputs cluster.

Text stage: texts sharing a label (prompt phrasings of one class; captions of one image) are
positives. Image stage: images sharing a class are positives (labelled data only). Each stage
puts a small projection head on its tower (SupCon's practice, Khosla et al. 2020); the head is
dropped afterwards and the tower's own features go on to the mapper stage. Selection metric:
leave-one-out retrieval inside the modality on the validation split (`*_to_*_mAP@all`).

Only the last `blocks` entries of a tower's main layer list, and what follows them, train
(None = everything). Towers run in eval mode: BatchNorm keeps its ImageNet statistics and
dropout stays off, which suits small fine-tuning sets. For EfficientNet-Lite0 with a frozen
front, the front's output is computed once per image and cached in memory, so an epoch runs
only the trained back blocks: minutes on a CPU rather than hours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.errors import PicsiftError
from models.manifest import TextSpec
from models.preprocess import ImagePreprocess
from models.text import TextTokenizer
from models.trainer_protocol import IMAGE_STAGE_INPUTS, task_label
from trainer.data.sources import Dataset, image_pixels
from trainer.data.splits import Splits
from trainer.encoders.towers import TowerPair
from trainer.encoders.trainable import EfficientNetSplit, unfreeze_last
from trainer.evaluation.retrieval import within_modality_metrics
from trainer.losses import SupervisedContrastive
from trainer.progress import CancelFlag, Events
from trainer.stages.features import Encoding, SplitFeatures, check_readable
from trainer.stages.mapper import TEMPLATES

HEAD_DIM = 128  # width of the projection head the contrastive loss sees (discarded after the stage)
INFERENCE_BATCH = 64  # images or texts per forward pass outside training
VAL_TEMPLATES = 2  # the last phrasings are held out to validate the text stage on labelled data


class SupConOnTower(nn.Module):
    """(tower inputs..., labels (B,)) -> SupCon on normalize(head(tower(inputs)))."""

    def __init__(self, tower: nn.Module, head: nn.Module, temperature: float):
        super().__init__()
        self.tower, self.head, self.loss = tower, head, SupervisedContrastive(temperature)

    def forward(self, *inputs_and_labels: torch.Tensor) -> torch.Tensor:
        *inputs, labels = inputs_and_labels
        return self.loss(F.normalize(self.head(self.tower(*inputs)), dim=-1), labels)


class ImageStage:
    """Stage 2 (image semantic stage) for trainer.stages.loop.fit; trains pair.image_encoder in place."""

    name, primary = "image", "image_to_image_mAP@all"

    def __init__(self, pair: TowerPair, splits: Splits, blocks: int | None, temperature: float,
                 device: torch.device, events: Events, cancel: CancelFlag):
        if not splits.labelled:
            raise PicsiftError("the image stage needs class labels (a folder of class folders); "
                               "drop 'image' from --stages for caption data")
        self.splits, self.device, self.events, self.cancel = splits, device, events, cancel
        self.tower, self.spec = pair.image_encoder.eval().to(device), ImagePreprocess.from_dict(pair.image_preprocess)
        first = unfreeze_last(self.tower, blocks)
        self.split = EfficientNetSplit.of(self.tower, first) if blocks is not None else None
        self._inputs: dict[int, tuple[torch.Tensor | None, np.ndarray]] = {}
        self.train_inputs, self.rows = self._prepared(splits.train, "train")
        self.labels = splits.train.labels[self.rows]
        self.val_inputs, self.val_rows = self._prepared(splits.val, "val")
        with torch.no_grad():
            width = self.features(splits.val).features.shape[1]
        head = nn.Linear(width, HEAD_DIM)
        trunk = self.split.back if self.split is not None else self.tower
        self.model = SupConOnTower(trunk, head, temperature).to(device)
        self.trained = nn.ModuleDict({"image_encoder": self.tower, "head": head})

    def _prepared(self, dataset: Dataset, split: str) -> tuple[torch.Tensor | None, np.ndarray]:
        """(front outputs of the readable images or None when pixels are decoded per batch, their rows)."""
        bar, chunks, rows, skipped = self.events.task(task_label(IMAGE_STAGE_INPUTS, split), self.cancel), [], [], []
        total = len(dataset.images)
        for start in range(0, total, INFERENCE_BATCH):
            pixels = image_pixels(dataset, np.arange(start, min(start + INFERENCE_BATCH, total)), self.spec)
            rows.append(pixels.indices)
            skipped += pixels.skipped
            if self.split is not None and len(pixels.values):
                with torch.no_grad():
                    chunks.append(self.split.front(torch.from_numpy(pixels.values).to(self.device)).cpu())
            bar(min(start + INFERENCE_BATCH, total), total)
        rows = np.concatenate(rows)
        check_readable(dataset, split, rows, skipped, self.events)
        return (torch.cat(chunks) if chunks else None), rows

    def _tower_inputs(self, dataset: Dataset, cached: torch.Tensor | None, rows: np.ndarray, take) -> torch.Tensor:
        if cached is not None:
            return cached[take].to(self.device)
        return torch.from_numpy(image_pixels(dataset, rows[take], self.spec).values).to(self.device)

    def batch(self, items: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = self._tower_inputs(self.splits.train, self.train_inputs, self.rows, items)
        return inputs, torch.as_tensor(self.labels[items], device=self.device)

    @torch.no_grad()
    def features(self, dataset: Dataset) -> SplitFeatures:
        """The current tower's features of `dataset` (the mapper stage's image source after this stage)."""
        if dataset is self.splits.train:
            cached, rows = self.train_inputs, self.rows
        elif dataset is self.splits.val:
            cached, rows = self.val_inputs, self.val_rows
        else:
            cached, rows = self._prepared(dataset, dataset.name)
        trunk = self.split.back if self.split is not None else self.tower
        out = [trunk(self._tower_inputs(dataset, cached, rows, np.arange(s, min(s + INFERENCE_BATCH, len(rows))))).cpu()
               for s in range(0, len(rows), INFERENCE_BATCH)]
        return SplitFeatures(torch.cat(out).float(), rows)

    def validate(self) -> dict:
        found = self.features(self.splits.val)
        embeddings = F.normalize(found.features, dim=-1).numpy()
        return within_modality_metrics(embeddings, self.splits.val.labels[found.rows], "image_to_image")

    def install(self, pair: TowerPair, encoding: Encoding) -> None:
        """Later stages read image features from the tuned tower (it is pair.image_encoder, trained in place)."""
        encoding.image_source = self.features


class TextStage:
    """Stage 1 (text semantic stage) for trainer.stages.loop.fit; trains pair.text_encoder in place."""

    name, primary = "text", "text_to_text_mAP@all"

    def __init__(self, pair: TowerPair, splits: Splits, blocks: int | None, temperature: float, device: torch.device):
        self.device, self.tower = device, pair.text_encoder.eval().to(device)
        self.tokenizer = TextTokenizer(pair.tokenizer_json, TextSpec.from_dict(pair.text))
        unfreeze_last(self.tower, blocks)
        self.texts, self.labels = _stage_texts(splits.train, TEMPLATES[:-VAL_TEMPLATES])
        self.val_texts, self.val_labels = _stage_texts(splits.val, TEMPLATES[-VAL_TEMPLATES:])
        width = int(self.features(self.val_texts[:1]).shape[1])
        head = nn.Linear(width, HEAD_DIM)
        self.model = SupConOnTower(self.tower, head, temperature).to(device)
        self.trained = nn.ModuleDict({"text_encoder": self.tower, "head": head})

    def batch(self, items: np.ndarray, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, mask = self.tokenizer([self.texts[i] for i in items])
        return (torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device),
                torch.as_tensor(self.labels[items], device=self.device))

    @torch.no_grad()
    def features(self, texts: list[str]) -> torch.Tensor:
        """(N, Dt) features of `texts` by the current tower (the mapper stage's text source after this stage)."""
        out = []
        for start in range(0, len(texts), INFERENCE_BATCH):
            ids, mask = self.tokenizer(list(texts[start:start + INFERENCE_BATCH]))
            out.append(self.tower(torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)).cpu())
        return torch.cat(out).float()

    def validate(self) -> dict:
        embeddings = F.normalize(self.features(self.val_texts), dim=-1).numpy()
        return within_modality_metrics(embeddings, self.val_labels, "text_to_text")

    def install(self, pair: TowerPair, encoding: Encoding) -> None:
        """Later stages read text features from the tuned tower (it is pair.text_encoder, trained in place)."""
        encoding.text_source = self.features


def _stage_texts(dataset: Dataset, templates: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Texts and labels: each class text in every phrasing (labelled), or each caption labelled by its image."""
    if dataset.labels is not None:
        texts = [template.format(name) for name in dataset.texts for template in templates]
        return texts, np.repeat(np.arange(len(dataset.texts)), len(templates))
    image_of = {t: i for i, t in dataset.pairs}
    return list(dataset.texts), np.array([image_of[t] for t in range(len(dataset.texts))], np.int64)
