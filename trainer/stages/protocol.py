"""Stage: what a stage gives trainer.stages.loop.fit, and how its result is handed on when it is done."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from trainer.encoders.towers import TowerPair
    from trainer.stages.features import Encoding


class Stage(Protocol):
    """One stage of a run (semantic.TextStage, semantic.ImageStage, mapper.MapperStage)."""

    name: str  # "text", "image" or "mapper": progress events and checkpoints name it
    primary: str  # the validation metric the best epoch is selected on (higher is better)
    model: nn.Module  # model(*batch) -> scalar loss; its parameters with requires_grad train
    trained: nn.ModuleDict  # what the stage changes: checkpointed, and restored to its best epoch
    labels: np.ndarray  # (N,) label of each training item, for the batch sampler

    def batch(self, items: np.ndarray, step: int) -> tuple[torch.Tensor, ...]:
        """The tensors of the items (a (B,) index array) for model(*batch), on the device."""

    def validate(self) -> dict:
        """Flat metrics on the validation split (never test)."""

    def install(self, pair: TowerPair, encoding: Encoding) -> None:
        """Hand the finished stage on: a tower's new features to later stages, or the trained mappers to the pair."""
