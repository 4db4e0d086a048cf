"""`picsift train|evaluate ...`: forwarded as they are to the trainer process (`python -m trainer ...`).

desktop never imports trainer; the trainer parses the arguments (so `picsift train --help` is
the trainer's own help) and reports progress on this terminal.
"""

from __future__ import annotations

import argparse
import signal

from desktop.core.trainer_process import run_trainer

_COMMANDS = {
    "train": "fine-tune the model on your labelled folders or captions; installs the result (see --help)",
    "evaluate": "retrieval metrics (mAP, R@K, ranks) of a bundle on labelled or captioned data",
}


def _forward(command: str, args: argparse.Namespace) -> None:
    """Run the trainer. Ctrl-C reaches it directly (same terminal); this process then waits for it to
    checkpoint and stop instead of killing it. (A Python handler, unlike SIG_IGN, is not inherited.)"""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        run_trainer([command, *args.arguments])
    finally:
        signal.signal(signal.SIGINT, previous)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    for command, summary in _COMMANDS.items():
        # prefix_chars="\0": no option is this parser's own, so every "--flag" reaches the trainer untouched
        parser = commands.add_parser(command, help=summary, add_help=False, prefix_chars="\0")
        parser.add_argument("arguments", nargs=argparse.REMAINDER)
        parser.set_defaults(run=lambda args, command=command: _forward(command, args))
