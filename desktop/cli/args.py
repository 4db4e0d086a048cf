"""Argument types and checks for `picsift`: bad input is refused by the parser, in one line, exit 2.

Each `type=` function raises argparse.ArgumentTypeError, which argparse prints as
`picsift search: error: argument -k: ...`. Checks that need two arguments or the catalog run
right after parsing (`check_query_arguments`), before any model is loaded.
"""

from __future__ import annotations

import argparse
import math
import os
from datetime import date, datetime
from pathlib import Path

from models.display import printable, printable_path


def positive_int(text: str) -> int:
    """A count of results. No upper bound: every search path returns at most the library's size."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {printable(repr(text))}")
    return value


def finite_float(text: str) -> float:
    """A weight: any real number; nan and inf would make every score nan."""
    value = _number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number such as 0.5, got {printable(repr(text))}")
    return value


def cosine_threshold(text: str) -> float:
    """A cosine above which two photos count as the same: in (0, 1]. Features are non-negative
    (after ReLU), so every pair scores at least 0 and a threshold of 0 or below groups everything."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a cosine between 0 and 1 such as 0.9, got {printable(repr(text))}")
    return value


def iso_date(text: str) -> str:
    """A date (YYYY-MM-DD, covering the whole day) or ISO datetime, in the catalog's comparable form:
    `2024-05-01` or `2024-05-01T08:30:00` (local time; an offset given is converted to local time)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass  # not a date alone: a date and time?
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date YYYY-MM-DD or a date and time YYYY-MM-DDTHH:MM, got {printable(repr(text))}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def check_query_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, catalog) -> None:
    """What one argument alone cannot tell: the date range's order, the query's presence, and that
    --folder and the query images exist in the library or on disk. Errors exit 2 via the parser."""
    if args.date_from and args.date_to and args.date_from[: len(args.date_to)] > args.date_to:
        parser.error(f"argument --to: {args.date_to} is before --from {args.date_from}")
    texts = getattr(args, "text", None)
    filtered = any(getattr(args, name, None) for name in ("place", "has_text", "collection", "person"))
    if texts is not None and (not (texts or args.image or filtered) or not all(t.strip() for t in texts + args.not_text)):
        parser.error("the query is empty; give a text, --image, or both")
    if args.folder:
        _check_folder(parser, args.folder, [path for _, path in catalog.folders()])
    for option, path in _query_images(args):
        if not os.path.isfile(path) and catalog.file_by_path(str(Path(path).resolve())) is None:
            parser.error(f"argument {option}: {printable_path(path)}: no such file, and not in the library")


def _number(text: str) -> float:
    """`text` as a float; nan (refused by every check) when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _check_folder(parser: argparse.ArgumentParser, folder: str, library_folders: list[str]) -> None:
    if not library_folders:
        parser.error("argument --folder: the library has no folders yet; add one with `picsift index FOLDER`")
    resolved = Path(folder).resolve()
    if not any(resolved.is_relative_to(root) for root in library_folders):
        parser.error(f"argument --folder: {printable_path(folder)} is not inside a library folder "
                     "(see `picsift folders list`)")


def _query_images(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(option, path) of every image the query names."""
    images = [("path", args.path)] if getattr(args, "path", None) else []
    return images + [("--image", p) for p in getattr(args, "image", [])] + [
        ("--not-image", p) for p in getattr(args, "not_image", [])
    ]
