"""Checkpoints hold only tensors and plain values: torch's safe loader reads them, and nothing in one can run code."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from models.errors import PicsiftError
from trainer.stages.checkpoint import Checkpoint

RAN = []


class RunsCodeWhenLoaded:
    """What a tampered checkpoint could carry: unpickling it calls a function of the attacker's choosing."""

    def __reduce__(self):
        return RAN.append, ("code ran",)


def test_a_checkpoint_with_numpy_values_and_paths_loads_with_weights_only(tmp_path):
    path = tmp_path / "checkpoint.pt"
    config = {"data": Path("/photos/labelled"), "stages": ("mapper",), "lr": None}
    checkpoint = Checkpoint(path, config)
    checkpoint.save_progress({"stage": "mapper", "epoch": np.int64(1), "step": 0,
                              "state": {"w": torch.ones(2)}, "best_value": np.float32(0.5),
                              "history": [{"epoch": 1, "val": {"mAP": np.float64(0.25)}}],
                              "table": np.arange(3)})

    data = torch.load(path, map_location="cpu", weights_only=True)

    assert data["config"] == {"data": "/photos/labelled", "stages": ("mapper",), "lr": None}
    record = data["current"]
    assert record["epoch"] == 1 and type(record["epoch"]) is int
    assert record["best_value"] == 0.5 and record["history"][0]["val"]["mAP"] == 0.25
    assert torch.equal(record["table"], torch.arange(3)) and torch.equal(record["state"]["w"], torch.ones(2))
    resumed = Checkpoint.load(path, {"data": "/photos/labelled", "stages": ("mapper",), "lr": None})
    action, continued = resumed.plan("mapper", 2)
    assert action == "continue" and continued["epoch"] == 1 and torch.equal(continued["table"], torch.arange(3))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    path = tmp_path / "checkpoint.pt"
    buffer = io.BytesIO()
    torch.save({"version": 1, "config": {}, "finished": {}, "current": RunsCodeWhenLoaded()}, buffer)
    path.write_bytes(buffer.getvalue())

    with pytest.raises(PicsiftError, match="unreadable checkpoint"):
        Checkpoint.load(path, {})
    assert RAN == []
