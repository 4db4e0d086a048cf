"""Run the trainer in a separate process (desktop never imports trainer), streaming its output."""

from __future__ import annotations

import json
import subprocess
import sys

from models.errors import PicsiftError
from models.trainer_protocol import CANCELLED_EXIT, ERROR


def trainer_command(args: list[str]) -> list[str]:
    """The argv that runs `python -m trainer ARGS` with this interpreter."""
    return [sys.executable, "-m", "trainer", *args]


def run_trainer(args: list[str]) -> None:
    """Run the trainer to completion, its progress going straight to this terminal.

    Raises PicsiftError when it fails; the trainer has already printed its one-line reason.
    """
    process = subprocess.Popen(trainer_command(args))
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:  # Ctrl-C reaches the trainer too: let it save its checkpoint and exit 130
            continue
    if code == CANCELLED_EXIT:
        raise PicsiftError("cancelled; the current model is unchanged (add --resume to the same command to go on "
                           "from the last checkpoint)")
    if code != 0:
        raise PicsiftError(f"the trainer stopped with exit code {code} (`picsift {' '.join(args)}`)")


def reports_a_bug(error_event: dict | None) -> bool:
    """Whether a failed trainer run is a bug rather than the user's input or machine: no error event
    (it crashed), or the "internal error: ..." event trainer/cli.py writes for an unexpected exception."""
    if not error_event or error_event.get("event") != ERROR:
        return True
    return str(error_event.get("message", "")).startswith("internal error")


class JsonLines:
    """The JSON objects of a trainer's `--progress jsonl` stdout, read in chunks that may split lines.

    Lines that are not a JSON object (a library printing to stdout) are skipped.
    """

    def __init__(self):
        self._partial = ""

    def feed(self, chunk: bytes) -> list[dict]:
        """The objects completed by `chunk`; an unfinished last line waits for the next chunk."""
        *lines, self._partial = (self._partial + chunk.decode(errors="replace")).split("\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events
