"""User and environment errors: each carries a message a person can act on."""

import sys
from collections.abc import Callable


class PicsiftError(Exception):
    """An error caused by the user's input or environment, not by a bug.

    The message is shown to the user as is, on one line, so it says what went wrong and what to do.
    """


class BundleError(PicsiftError):
    """A model bundle is missing, corrupt, tampered with or incompatible."""


class ImageError(PicsiftError):
    """An image file cannot be read or decoded."""


def run_reporting_errors(command: Callable[[], int | None]) -> int:
    """Run a command-line command: a user error prints one line on stderr (exit 1), Ctrl+C exits 130."""
    try:
        return command() or 0
    except PicsiftError as exc:
        print(f"picsift: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("picsift: cancelled", file=sys.stderr)
        return 130
