"""A run's resumable state in one file, written atomically after every epoch and when a run is cancelled.

    {"version": 1, "config": {...TrainConfig...},
     "finished": {stage: {"state": {module: state_dict} (its best epoch), "result": {...}}},
     "current":  {"stage", "epoch" (epochs done), "step" (steps done of the next epoch),
                  "state" (last weights), "optimizer", "best_state", "best_epoch", "best_value",
                  "history", "partial_loss"} or None}
The stage that finished last keeps its "current" record as "resume", so a later run with
--resume and more epochs continues that stage rather than starting it again.
Only tensors and plain values are saved (`_plain`), so it loads with `weights_only=True`: a
checkpoint is a file on disk, and torch's full unpickler would run any code one carries.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path, PurePath

import numpy as np
import torch

from models.atomic import write_bytes_atomic
from models.errors import PicsiftError

CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
# Settings a resumed run may change; any other difference means another run, not this one continued.
RESUMABLE_CHANGES = frozenset({"epochs", "lr", "device", "progress", "resume", "replace", "debug_weights_dir"})


class Checkpoint:
    """The state of one run; `save` writes it only in the main process."""

    def __init__(self, path: Path, config: dict, writer: bool = True):
        self.path, self.config, self.writer = Path(path), dict(config), writer
        self.finished: dict[str, dict] = {}
        self.current: dict | None = None

    @classmethod
    def load(cls, path: Path, config: dict, writer: bool = True) -> Checkpoint:
        """The checkpoint at `path`, checked to belong to a run with `config` (up to RESUMABLE_CHANGES)."""
        if not path.is_file():
            raise PicsiftError(f"nothing to resume: no checkpoint at {path}; run without --resume")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, foreign, or carrying code; the unpickler raises many kinds
            raise PicsiftError(f"{path}: unreadable checkpoint ({exc}); delete it and run without --resume") from exc
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
            raise PicsiftError(f"{path}: checkpoint of another picsift version; run without --resume to start over")
        for key, value in data["config"].items():
            if key not in RESUMABLE_CHANGES and config.get(key) != value:
                flag = "--" + key.replace("_", "-")
                raise PicsiftError(f"the checkpoint in {path.parent} was made with {flag} {value!r}, not "
                                   f"{config.get(key)!r}; repeat it, or run without --resume to start over")
        checkpoint = cls(path, config, writer)
        checkpoint.finished, checkpoint.current = data["finished"], data["current"]
        return checkpoint

    def plan(self, stage: str, epochs: int) -> tuple[str, dict | None]:
        """What a resumed run does with `stage`: ("skip", finished record), ("continue", current record) or ("fresh", None)."""
        if self.current is not None and self.current["stage"] == stage:
            return "continue", self.current
        record = self.finished.get(stage)
        if record is None:
            return "fresh", None
        last = list(self.finished)[-1] == stage and self.current is None
        if last and record.get("resume") and record["resume"]["epoch"] < epochs:
            return "continue", record["resume"]
        return "skip", record

    def save_progress(self, record: dict) -> None:
        """Record the stage in progress (weights after `record["epoch"]` epochs and `record["step"]` steps)."""
        self.current = record
        self.save()

    def finish(self, stage: str, best_state: dict, result: dict) -> None:
        """Move the stage in progress to `finished`, with its best weights."""
        for record in self.finished.values():
            record.pop("resume", None)  # only the last finished stage can be continued
        self.finished.pop(stage, None)
        self.finished[stage] = {"state": best_state, "result": result, "resume": self.current}
        self.current = None
        self.save()

    def save(self) -> None:
        if not self.writer:
            return
        buffer = io.BytesIO()
        torch.save(_plain({"version": CHECKPOINT_VERSION, "config": self.config, "finished": self.finished,
                           "current": self.current}), buffer)
        write_bytes_atomic(self.path, buffer.getvalue())


def _plain(value):
    """`value` as what `torch.load(weights_only=True)` reads back: tensors, numbers, strings, None and
    dicts, lists and tuples of them (numpy values become numbers or tensors, paths strings,
    dataclasses dicts). Anything else is a bug in what the trainer records: it fails here, loudly."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    raise TypeError(f"a checkpoint holds tensors and plain values, not {type(value).__name__}")


def trained_state(module: torch.nn.Module) -> dict:
    """CPU copies of the parameters `module` trains (requires_grad), by state_dict name.

    That is all a stage changes: towers and mappers run in eval mode (no BatchNorm statistics
    move) and every other tensor comes back identical from the base model and the seed, so a
    checkpoint of a fine-tuned tower holds its last blocks, not the whole tower.
    """
    return {k: p.detach().to("cpu", copy=True) for k, p in module.named_parameters() if p.requires_grad}


def load_trained_state(module: torch.nn.Module, state: dict) -> None:
    """Put `trained_state` back; a name the module lacks means the checkpoint is of another model."""
    unexpected = module.load_state_dict(state, strict=False).unexpected_keys
    if unexpected:
        raise PicsiftError(f"the checkpoint does not fit this model ({unexpected[0]}, ...); run without --resume")
