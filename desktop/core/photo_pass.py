"""What the passes after indexing share (text in photos, faces): the walk over photos left to read, its progress.

A pass reads photos one by one, each committed on its own by the pass's `read_one`, so a cancel
(checked between photos), a closed app or a crash loses at most the photo in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

from desktop.core.indexer import rate_and_eta

PROGRESS_INTERVAL_S = 0.5  # a photo takes a fraction of a second to a second: two reports a second are plenty


@dataclass
class PassProgress:
    """Where a pass stands; `done`/`total` count the photos this run had to read."""

    phase: str = "reading"  # "reading", "done" or "cancelled"
    total: int = 0
    done: int = 0
    failed: int = 0  # photos that could not be read (recorded as read, not retried)
    photos_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""

    def snapshot(self):
        return replace(self)


Progress = TypeVar("Progress", bound=PassProgress)


def read_each(todo: list[tuple[int, str]], read_one: Callable[[int, str, Progress], None], progress: Progress,
              cancel: threading.Event | None = None) -> Iterator[Progress]:
    """Call `read_one(image id, path, progress)` for each photo of `todo` until done or cancelled,
    yielding snapshots of `progress`: one first, one every PROGRESS_INTERVAL_S, one last."""
    cancel = cancel or threading.Event()
    progress.total = len(todo)
    yield progress.snapshot()
    started = last_report = time.monotonic()
    for image_id, path in todo:
        if cancel.is_set():
            break
        progress.current = path
        read_one(image_id, path, progress)
        progress.done += 1
        if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
            last_report = time.monotonic()
            yield _timed(progress, started).snapshot()
    progress.phase = "cancelled" if cancel.is_set() else "done"
    yield _timed(progress, started).snapshot()


def _timed(progress: Progress, started: float) -> Progress:
    progress.photos_per_s, progress.eta_s = rate_and_eta(progress.done, progress.total, started)
    return progress
