"""The app <-> trainer contract, imported by both sides: exit codes, the kinds of `--progress jsonl` event, task names.

The app runs the trainer as a separate process (desktop never imports trainer) and reads what it
prints; trainer/progress.py documents each event's fields. A name changed here changes on both sides.
"""

from __future__ import annotations

CANCELLED_EXIT = 130  # stopped by SIGINT/SIGTERM (training: once its checkpoint is saved); the shell's 128 + SIGINT
FAILED_EXIT = 1  # a user or environment error, after an error event

# Event kinds: the "event" field of each JSON line.
START, PROGRESS, METRICS, TASK, DONE, ERROR, STEP = "start", "progress", "metrics", "task", "done", "error", "step"

# Task names: a task event's "task" is "NAME, SPLIT" (task_label), work between epochs.
IMAGE_FEATURES = "image features"  # encoding photos with the image tower
IMAGE_STAGE_INPUTS = "image stage inputs"  # decoding photos for image-encoder training
BASELINE = "baseline"  # scoring the model training starts from
EVALUATE = "evaluate"  # scoring the new model


def task_label(task: str, split: str) -> str:
    """("image features", "train") -> "image features, train"; split_task undoes it."""
    return f"{task}, {split}"


def split_task(label: str) -> tuple[str, str]:
    """"image features, train" -> ("image features", "train"); a label without a split -> (label, "")."""
    task, _, split = label.partition(", ")
    return task, split
