"""`picsift`: the command line. Subcommands index, search and manage models; none opens the desktop app."""

from __future__ import annotations

import argparse
import logging
import sys

from models.display import printable
from models.errors import run_reporting_errors


def build_parser() -> argparse.ArgumentParser:
    from desktop.cli import collection, demo, library, model, people, train

    parser = argparse.ArgumentParser(prog="picsift", description="Search your photos by meaning, offline.")
    commands = parser.add_subparsers(dest="command")
    model.add_parser(commands)
    library.add_parsers(commands)
    collection.add_parsers(commands)
    people.add_parsers(commands)
    demo.add_parser(commands)
    train.add_parsers(commands)
    model.add_export_parser(commands)  # `picsift export`: the same command as `picsift model export`
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_app()
    handler = _LogLines()
    logging.getLogger().addHandler(handler)
    try:
        return run_reporting_errors(lambda: _checked(args).run(args))
    finally:
        logging.getLogger().removeHandler(handler)


def _checked(args: argparse.Namespace) -> argparse.Namespace:
    """Checks that need more than the parser (the catalog): they exit 2 like a parser error."""
    if hasattr(args, "check"):
        args.check(args)
    return args


class _LogLines(logging.Handler):
    """The engine's warnings as `picsift: message` lines on stderr, written through tqdm so that a
    progress bar is lifted out of the way first and redrawn after: a line never glues onto a bar."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("picsift: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(printable(self.format(record)), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _open_app() -> int:
    """No subcommand: the desktop app, once it is clear that Qt can open a window here (else one message, exit 1)."""
    from desktop.ui.preflight import display_problem

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from desktop.ui.app import run_app

    return run_app()

