"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_file_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """`write(temp)` fills a temp file in `path`'s folder (for writers that want a path, such as
    usearch's save); it is fsynced and renamed over `path`, or deleted if anything fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; give the file normal permissions (no fchmod on Windows < 3.13)
            os.fchmod(fd, 0o666 & ~_UMASK)
        os.close(fd)
        write(Path(tmp))
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync it, then rename over `path`."""
    write_file_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _read_umask() -> int:
    """The process umask, read without setting it where the OS allows: `os.umask` can only read it
    by changing it, for every thread at once, and a file another thread creates meanwhile gets the
    wrong permissions. Elsewhere one probe at import, under the import lock, before any writer runs;
    its stand-in 0o077 makes anything created in that instant private rather than world-writable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: picsift never changes its umask after start-up


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (not possible on every platform; harmless to skip there)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_folder(new: Path, target: Path) -> None:
    """Swap a finished folder in with renames, so a crash leaves the old folder or the new one."""
    import shutil

    backup = target.with_name(f".{target.name}.old")
    shutil.rmtree(backup, ignore_errors=True)
    if target.exists():
        target.rename(backup)
    new.chmod(0o777 & ~_UMASK)  # mkdtemp makes 0700
    new.rename(target)
    shutil.rmtree(backup, ignore_errors=True)
