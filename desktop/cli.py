"""`picsift`: the command line. Subcommands index, search and manage models; none opens the desktop app."""

from __future__ import annotations

import argparse
import sys

from models.errors import run_reporting_errors


def build_parser() -> argparse.ArgumentParser:
    from desktop import cli_demo, cli_library, cli_model, cli_train

    parser = argparse.ArgumentParser(prog="picsift", description="Search your photos by meaning, offline.")
    commands = parser.add_subparsers(dest="command")
    cli_model.add_parser(commands)
    cli_library.add_parsers(commands)
    cli_demo.add_parser(commands)
    cli_train.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_app()
    return run_reporting_errors(lambda: args.run(args))


def _open_app() -> int:
    """No subcommand: the desktop app, once it is clear that Qt can open a window here (else one message, exit 1)."""
    from desktop.ui.preflight import display_problem

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from desktop.ui.app import run_app

    return run_app()


if __name__ == "__main__":
    raise SystemExit(main())
