"""Run the trainer in a separate process (desktop never imports trainer), streaming its output."""

from __future__ import annotations

import subprocess
import sys

from models.errors import PicsiftError


def trainer_command(args: list[str]) -> list[str]:
    """The argv that runs `python -m trainer ARGS` with this interpreter."""
    return [sys.executable, "-m", "trainer", *args]


def run_trainer(args: list[str]) -> None:
    """Run the trainer to completion, its progress going straight to this terminal.

    Raises PicsiftError when it fails; the trainer has already printed its one-line reason.
    """
    try:
        code = subprocess.call(trainer_command(args))
    except KeyboardInterrupt:
        raise PicsiftError("cancelled") from None
    if code != 0:
        raise PicsiftError(f"the trainer stopped with exit code {code} (`picsift {' '.join(args)}`)")
