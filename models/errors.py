"""User and environment errors: each carries a message a person can act on."""

import os
import shutil
import sys
from collections.abc import Callable

from models.display import printable
from models.trainer_protocol import CANCELLED_EXIT

# The exit status of a command whose reader went away (`picsift status | head -1`): 128 + SIGPIPE,
# what the shell reports for cat, grep or ls in the same place, so `set -o pipefail` scripts see
# picsift behave like any other tool, and a run whose output was cut short never claims success.
BROKEN_PIPE_EXIT = 141


class PicsiftError(Exception):
    """An error caused by the user's input or environment, not by a bug.

    The message is shown to the user as is, on one line, so it says what went wrong and what to do.
    """


class BundleError(PicsiftError):
    """A model bundle is missing, corrupt, tampered with or incompatible."""


class ImageError(PicsiftError):
    """An image file cannot be read or decoded."""


class TextReadingError(PicsiftError):
    """The text reader (OCR) cannot read a photo; the photo itself may be fine."""


class TextReaderMissingError(TextReadingError):
    """The text reader (rapidocr and its models) is not installed whole: no photo can be read."""


class FaceReadingError(PicsiftError):
    """The face reader (dlib) cannot process a photo; the photo itself may be fine."""


class FaceReaderMissingError(FaceReadingError):
    """dlib or its face models are not installed: no photo can be read for faces (the rest of picsift works)."""


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


def first_line(exc: BaseException | str) -> str:
    """An exception's message cut to its first line (its type's name when it has none), for a one-line reason."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
    """Run a command-line command: a user error prints one line on stderr (exit 1), Ctrl+C exits 130,
    output cut short by a closed pipe ends quietly (exit 141)."""
    try:
        code = command() or 0
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not in the interpreter's exit
        return code
    except PicsiftError as exc:
        print(f"picsift: error: {printable(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("picsift: cancelled", file=sys.stderr)
        return CANCELLED_EXIT
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_EXIT


def _silence_stdout() -> None:
    """Point stdout at devnull, as the Python docs advise after EPIPE (signal module, "Note on
    SIGPIPE"), so the interpreter's final flush of what is still buffered cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (captured in tests, embedded): nothing to flush
        pass
