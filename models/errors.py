"""User and environment errors: each carries a message a person can act on."""

import os
import shutil
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


class CatalogDamagedError(PicsiftError):
    """The library catalog's database file is damaged; nothing more is written into it."""


class BusyError(PicsiftError):
    """Another picsift process holds what this one needs (the library's indexing lock)."""


class DiskFullError(PicsiftError):
    """A disk has no room for what picsift must write; everything written before stays whole."""

    @classmethod
    def at(cls, path: str | os.PathLike, needed_bytes: int) -> "DiskFullError":
        """The error for writing under `path`, naming the disk, its free space and the space needed."""
        mount = _mount_point(path)
        try:
            free = f"{_megabytes(shutil.disk_usage(mount).free)} free"
        except OSError:
            free = "free space unknown"
        return cls(
            f"the disk holding {path} (mounted at {mount}) is full ({free}); free at least "
            f"{_megabytes(needed_bytes)} there and run it again: everything saved so far is kept"
        )


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OSError (or SQLite's error) says the disk or the user's quota is full."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "database or disk is full" in str(exc)


def _mount_point(path: str | os.PathLike) -> str:
    current = os.path.abspath(os.fspath(path))
    while not os.path.exists(current):
        current = os.path.dirname(current)
    while not os.path.ismount(current):
        current = os.path.dirname(current)
    return current


def _megabytes(count: int) -> str:
    return f"{max(1, round(count / 1e6))} MB"


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
