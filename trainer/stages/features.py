"""Encoder features of a run's splits: the base bundle's ONNX towers (cached on disk) until a stage changes a tower.

Until the image or text stage fine-tunes its tower, features come from trainer.data.feature_cache,
computed once with the base bundle's ONNX graphs (what the app stores) and read back on every
later run; mapper-only training never decodes an image twice. After a stage, that stage's
torch tower takes over (`image_source`, `text_source`). Under data parallel training the main
process fills the cache first and the others read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from models.errors import PicsiftError
from models.runtime import ModelRuntime
from models.trainer_protocol import IMAGE_FEATURES, task_label
from trainer.data.feature_cache import image_features, text_features
from trainer.data.sources import Dataset
from trainer.progress import CancelFlag, Events
from trainer.stages.distributed import World, main_first


@dataclass(frozen=True)
class SplitFeatures:
    """Features of the readable images of a split."""

    features: torch.Tensor  # (K, Di) float32 on the CPU
    rows: np.ndarray  # (K,) int64 dataset image index of each row


class Encoding:
    """Where features come from; see the module docstring."""

    def __init__(self, runtime: ModelRuntime, world: World, events: Events, cancel: CancelFlag):
        self.runtime, self.world, self.events, self.cancel = runtime, world, events, cancel
        self.image_source: Callable[[Dataset], SplitFeatures] | None = None
        self.text_source: Callable[[list[str]], torch.Tensor] | None = None

    def images(self, dataset: Dataset, split: str) -> SplitFeatures:
        if self.image_source is not None:
            return self.image_source(dataset)
        tick = self.events.task(task_label(IMAGE_FEATURES, split), self.cancel)
        with main_first(self.world):  # the main process fills the cache, the others read it
            found = image_features(self.runtime, dataset, progress=tick)
        check_readable(dataset, split, found.indices, found.skipped, self.events)
        return SplitFeatures(torch.from_numpy(found.features).float(), found.indices)

    def texts(self, texts: list[str]) -> torch.Tensor:
        if self.text_source is not None:
            return self.text_source(texts)
        return torch.from_numpy(text_features(self.runtime, list(texts)))


def check_readable(dataset: Dataset, split: str, rows: np.ndarray, skipped: list[str], events: Events) -> None:
    """Say how many images were unreadable (they are left out); none readable is an error."""
    if skipped:
        events.log(f"{split}: {len(skipped)} image(s) could not be read and are left out, e.g. {skipped[0]}")
    if not len(rows):
        raise PicsiftError(f"{dataset.name}: none of the {split} images could be read; check the files")
