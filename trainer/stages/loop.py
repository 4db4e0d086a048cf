"""The training loop every stage shares: AdamW, warmup + cosine, label-aware batches, DDP, checkpoints, resume.

A stage is anything that follows trainer.stages.protocol.Stage (the text, image and mapper stages).
Read `fit` top to bottom: one epoch = one pass over the sampler; after each, validate, keep the
best weights, checkpoint. A stop request is honoured after the current step: the position is
checkpointed and Cancelled raised, and --resume continues from that very step.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from trainer.data.sampling import LabelBatchSampler
from trainer.progress import CancelFlag, Cancelled, Events
from trainer.stages.checkpoint import Checkpoint, load_trained_state, trained_state
from trainer.stages.distributed import World, any_rank, mean_over_ranks
from trainer.stages.protocol import Stage


@dataclass(frozen=True)
class StageSettings:
    """How one stage trains (resolved from TrainConfig and the stage's defaults)."""

    epochs: int  # passes over the training items
    lr: float  # peak learning rate (AdamW), reached after warmup
    batch_size: int  # items per step per process (the global batch is batch_size x processes)
    per_label: int = 4  # items of one label drawn together, so each batch holds positives
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    warmup_fraction: float = 0.05  # share of all steps spent warming up linearly from 0
    min_lr_ratio: float = 0.1  # the cosine decays to this fraction of the peak
    seed: int = 0  # batch order and anything else random in the stage


@dataclass
class RunContext:
    """What the loop needs from the run around it."""

    device: torch.device
    world: World
    events: Events
    cancel: CancelFlag
    checkpoint: Checkpoint


def lr_at(step: int, total_steps: int, peak: float, warmup_steps: int, min_ratio: float) -> float:
    """Learning rate at `step` (0-based): linear warmup to `peak`, then cosine down to peak * min_ratio."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def autocast(device: torch.device):
    """Mixed precision on CUDA only (bfloat16 where supported, else float16); full precision on CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def fit(stage: Stage, settings: StageSettings, run: RunContext, resume: dict | None = None) -> dict:
    """Train `stage` for settings.epochs; leaves its best-validation weights in place and returns its result."""
    started = time.perf_counter()
    model = stage.model.to(run.device)
    freeze_unused(model, stage.batch(np.arange(min(2, len(stage.labels))), 0))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=run.device.type == "cuda" and not torch.cuda.is_bf16_supported())
    wrapped = _data_parallel(model, run)
    sampler = LabelBatchSampler(stage.labels, settings.batch_size, settings.per_label, settings.seed,
                                run.world.rank, run.world.size)
    steps, epochs = len(sampler), settings.epochs
    total, warmup = steps * epochs, int(settings.warmup_fraction * steps * epochs)
    state = _initial_state(stage, optimizer, resume)

    for epoch in range(state["epoch"] + 1, epochs + 1):
        sampler.set_epoch(epoch)
        loss_sum, loss_count = state.pop("partial_loss", (0.0, 0))
        for step, items in enumerate(sampler, start=1):
            if step <= state["step"]:
                continue  # done before a cancelled run stopped
            global_step = (epoch - 1) * steps + step - 1
            for group in optimizer.param_groups:
                group["lr"] = lr_at(global_step, total, settings.lr, warmup, settings.min_lr_ratio)
            with autocast(run.device):
                loss = wrapped(*stage.batch(items, global_step))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            value = float(loss.detach())
            loss_sum, loss_count = loss_sum + value, loss_count + 1
            run.events.progress(stage.name, epoch, epochs, step, steps, value)
            if step < steps and any_rank(run.cancel.requested, run.world, run.device):
                state.update(step=step, partial_loss=(loss_sum, loss_count))
                _save(stage, optimizer, run, state, epoch - 1, started)
                raise Cancelled
        state["step"] = 0
        metrics = stage.validate()
        train_loss = mean_over_ranks(loss_sum / max(1, loss_count), run.world, run.device)
        state["history"].append({"epoch": epoch, "train_loss": train_loss, "val": metrics})
        run.events.metrics(stage.name, epoch, "val", metrics)
        if state["best_value"] is None or metrics[stage.primary] > state["best_value"]:
            state.update(best_value=metrics[stage.primary], best_epoch=epoch, best_state=trained_state(stage.trained))
        _save(stage, optimizer, run, state, epoch, started)
        if epoch < epochs and any_rank(run.cancel.requested, run.world, run.device):
            raise Cancelled

    load_trained_state(stage.trained, state["best_state"])
    result = {"epochs": epochs, "steps_per_epoch": steps, "best_epoch": state["best_epoch"],
              "primary": stage.primary, "best_value": state["best_value"], "history": state["history"],
              "seconds": round(state["seconds"] + time.perf_counter() - started, 2)}
    run.checkpoint.finish(stage.name, state["best_state"], result)
    return result


def freeze_unused(model: nn.Module, batch: tuple) -> None:
    """Stop training parameters no loss reaches (an unused classifier, BERT's pooler): one probe step.

    DDP requires every trained parameter to get a gradient each step; weight decay would
    otherwise shrink unused ones for nothing.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.grad = None
    model(*batch).backward()
    for p in trainable:
        if p.grad is None:
            p.requires_grad_(False)
        p.grad = None


def _data_parallel(model: nn.Module, run: RunContext) -> nn.Module:
    """DDP over the process group (its constructor gives every rank rank 0's weights)."""
    if not run.world.distributed:
        return model
    device_ids = [run.device.index] if run.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def _initial_state(stage: Stage, optimizer, resume: dict | None) -> dict:
    """Fresh bookkeeping, or the one a checkpoint recorded, with weights and optimiser restored."""
    if resume is None:
        return {"epoch": 0, "step": 0, "history": [], "best_value": None, "best_epoch": None,
                "best_state": trained_state(stage.trained), "seconds": 0.0}
    load_trained_state(stage.trained, resume["state"])
    optimizer.load_state_dict(resume["optimizer"])
    state = {k: resume[k] for k in ("epoch", "step", "history", "best_value", "best_epoch", "best_state")}
    state["history"] = list(state["history"])
    state["seconds"] = resume.get("seconds", 0.0)
    if resume.get("partial_loss") is not None:
        state["partial_loss"] = tuple(resume["partial_loss"])
    return state


def _save(stage: Stage, optimizer, run: RunContext, state: dict, epochs_done: int, started: float) -> None:
    seconds = round(state["seconds"] + time.perf_counter() - started, 2)  # this stage's training time so far
    record = {"stage": stage.name, "epoch": epochs_done, "step": state["step"], "state": trained_state(stage.trained),
              "optimizer": optimizer.state_dict(), "best_state": state["best_state"],
              "best_epoch": state["best_epoch"], "best_value": state["best_value"], "history": state["history"],
              "partial_loss": state.get("partial_loss"), "seconds": seconds}
    run.checkpoint.save_progress(record)
