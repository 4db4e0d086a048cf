"""One indexer per library: an OS file lock beside the catalog, naming the process that holds it."""

from __future__ import annotations

import os
from pathlib import Path

from models.errors import BusyError

if os.name == "nt":
    import msvcrt
else:
    import fcntl


class IndexLock:
    """Held for the length of an indexing run; the OS drops it when the process ends, even on kill -9,
    so a crashed run never leaves the library locked. Searching takes no lock."""

    def __init__(self, catalog_path: str | Path):
        self.path = Path(catalog_path).with_name(Path(catalog_path).stem + ".indexing.lock")
        self._handle = None

    def acquire(self) -> None:
        """Take the lock, or raise BusyError naming the process that has it."""
        handle = open(self.path, "a+")
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise BusyError(
                f"another picsift is indexing this library (pid {holder}); wait for it to finish "
                "(searching works meanwhile) or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            _unlock(self._handle)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(handle) -> None:
    if os.name == "nt":
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # one byte, not blocking
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(handle) -> None:
    if os.name == "nt":
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
