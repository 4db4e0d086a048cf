"""How a training run reports: tqdm bars on stderr, or JSON lines on stdout for the desktop app; and cancellation.

The JSON-lines contract (`--progress jsonl`), one object per line, in this order:
    {"event": "start", "stages": [...], "train_size": N, "val_size": N, "test_size": N, "classes": [...] | null}
    {"event": "progress", "stage": "mapper", "epoch": e, "epochs": E, "step": s, "steps": S, "loss": float}
    {"event": "metrics", "stage": ..., "epoch": e, "split": "val", "metrics": {flat keys}}
    {"event": "task", "task": "image features, train", "done": d, "total": T}  (work between epochs:
                                                      encoding photos, scoring a split; any time after start)
    {"event": "done", "bundle": NAME, "folder": path, "report": path, "baseline": {...}, "metrics": {...}, "seconds": float}
    {"event": "error", "message": "one line, actionable"}            (then exit code 1)
`build-default --progress jsonl` and `convert --progress jsonl` write one step event as each of their fixed
steps starts (trainer.export.default_model.BUILD_STEPS, trainer.export.convert.CONVERT_STEPS), then exit 0, or write an
error event and exit 1:
    {"event": "step", "step": s, "steps": S, "name": "exporting the image encoder"}  (steps count from 1)
    {"event": "step", "step": s, "steps": S, "name": ..., "done": d, "total": T}   (within a long step, at
                                                                                 most PROGRESS_HZ a second)
Progress and task events come at most PROGRESS_HZ times a second, plus the last step of every
epoch and the end of every task;
epochs and steps count from 1. Non-finite numbers are written as null (JSON has no NaN).
Everything else a run prints goes to stderr.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time

from tqdm import tqdm

from models.trainer_protocol import DONE, ERROR, METRICS, PROGRESS, START, STEP, TASK

PROGRESS_HZ = 5.0  # most progress events per second


class Cancelled(Exception):
    """The user asked the run to stop (SIGINT/SIGTERM); raised after the current step."""


class CancelFlag:
    """Set by SIGINT or SIGTERM while installed; a second signal interrupts at once (KeyboardInterrupt)."""

    def __init__(self):
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> CancelFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        """Raise Cancelled when a stop was asked for (between steps of work that can be resumed)."""
        if self.requested:
            raise Cancelled


class Events:
    """The run's reporter. `mode` "bar" draws tqdm bars on stderr, "jsonl" writes the contract to `stream`.

    Only one process reports (rank 0 under data parallel training); the others get `enabled=False`.
    """

    def __init__(self, mode: str = "bar", stream=None, enabled: bool = True):
        if mode not in ("bar", "jsonl"):
            raise ValueError(f"progress mode must be 'bar' or 'jsonl', not {mode!r}")
        self.mode, self.enabled = mode, enabled
        self.stream = stream if stream is not None else sys.stdout
        self._bar: tqdm | None = None
        self._last_progress = 0.0

    # --- the contract ---------------------------------------------------------------------
    def start(self, stages: list[str], summary: dict) -> None:
        self._emit({"event": START, "stages": list(stages), "train_size": summary["train_size"],
                    "val_size": summary["val_size"], "test_size": summary["test_size"], "classes": summary["classes"]})

    def progress(self, stage: str, epoch: int, epochs: int, step: int, steps: int, loss: float) -> None:
        if not self.enabled:
            return
        if self.mode == "bar":
            self._epoch_bar(stage, epoch, epochs, step, steps, loss)
            return
        if self._due(final=step == steps):
            self._emit({"event": PROGRESS, "stage": stage, "epoch": epoch, "epochs": epochs,
                        "step": step, "steps": steps, "loss": loss})

    def metrics(self, stage: str, epoch: int, split: str, metrics: dict) -> None:
        if self.mode == "bar" and self.enabled:
            self._close_bar()
            shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if "mAP@all" in k or k.endswith("R@5"))
            self.log(f"{stage} epoch {epoch} {split}: {shown}")
        self._emit({"event": METRICS, "stage": stage, "epoch": epoch, "split": split, "metrics": dict(metrics)})

    def done(self, bundle: str, folder: str, report: str, baseline: dict, metrics: dict, seconds: float) -> None:
        self._emit({"event": DONE, "bundle": bundle, "folder": folder, "report": report,
                    "baseline": dict(baseline), "metrics": dict(metrics), "seconds": seconds})
        if self.mode == "bar" and self.enabled:
            self._close_bar()
            self.log(f"installed {bundle}: {folder} (report: {report})")

    def step(self, step: int, steps: int, name: str, done: int | None = None, total: int | None = None) -> None:
        """Step `step` of a fixed `steps` starts (done None), or has done `done` of its `total` items:
        a step event in jsonl mode, a line on stderr for each step otherwise."""
        if self.mode == "bar":
            if done is None:
                self.log(f"step {step} of {steps}: {name}")
        elif done is None:
            self._emit({"event": STEP, "step": step, "steps": steps, "name": name})
        elif self._due(final=done >= (total or 0)):
            self._emit({"event": STEP, "step": step, "steps": steps, "name": name, "done": done, "total": total})

    def error(self, message: str) -> None:
        """The one-line reason a run failed: an event in jsonl mode, 'picsift: error: ...' on stderr otherwise."""
        message = " ".join(str(message).split())
        if self.mode == "jsonl":
            self._emit({"event": ERROR, "message": message})
        elif self.enabled:
            self._close_bar()
            print(f"picsift: error: {message}", file=sys.stderr, flush=True)

    # --- helpers --------------------------------------------------------------------------
    def log(self, message: str) -> None:
        """A line for people, on stderr in both modes."""
        if self.enabled:
            tqdm.write(message, file=sys.stderr)

    def task(self, description: str, cancel: CancelFlag | None = None):
        """A (done, total) callback for work outside the training loop: a bar, or task events in jsonl
        mode (so the app's bar moves while photos are encoded), and a stop point (Cancelled) when
        `cancel` is given."""
        state: dict = {}

        def update(done: int, total: int) -> None:
            if cancel is not None:
                cancel.check()
            if not self.enabled:
                return
            if self.mode == "jsonl":
                self._task_event(description, done, total)
                return
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=total, desc=description, unit="item", file=sys.stderr, leave=False)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        return update

    def _task_event(self, description: str, done: int, total: int) -> None:
        if self._due(final=done >= total):
            self._emit({"event": TASK, "task": description, "done": done, "total": total})

    def _due(self, final: bool) -> bool:
        """Whether a progress or task event goes out now: the last of its kind always, others at PROGRESS_HZ."""
        now = time.monotonic()
        if final or now - self._last_progress >= 1.0 / PROGRESS_HZ:
            self._last_progress = now
            return True
        return False

    def _epoch_bar(self, stage: str, epoch: int, epochs: int, step: int, steps: int, loss: float) -> None:
        if self._bar is None or step == 1:
            self._close_bar()
            self._bar = tqdm(total=steps, desc=f"{stage} {epoch}/{epochs}", unit="step", file=sys.stderr, leave=False)
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self._bar.update(step - self._bar.n)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _emit(self, event: dict) -> None:
        if self.enabled and self.mode == "jsonl":
            self.stream.write(json.dumps(_finite(event), allow_nan=False) + "\n")
            self.stream.flush()


def _finite(value):
    """The event with every NaN/inf replaced by None, so it stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
