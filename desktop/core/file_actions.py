"""Acting on the photos a user picked: copy or move them to a folder, or send them to the trash (never a hard delete).

Each action is a plain generator that yields one `FileOutcome` per file, in order, and checks a
cancel event between files; a thin adapter shows the progress (the command line prints, the app's
worker relays). A file that cannot be done is recorded with a one-line reason and the rest go on;
a full disk stops the run (`DiskFullError`), as every file after would fail the same way.

Nothing is ever overwritten: a name taken in the destination becomes "IMG_0001 (2).jpg", and the
final name is claimed with a hard link, which the OS refuses if the name was taken meanwhile. A copy
is written under a hidden temporary name in the destination (the scanner skips hidden names) and
only then given its name, so the destination never shows half a photo; copies keep their metadata
(shutil.copy2: times and permission bits). A move within a disk is a rename; across disks it is a
copy, then the original is removed.

The catalog is kept right at once rather than left to the next index run: a copy or move landing in
a library folder is linked to the photo's image (known content: nothing to decode, the next run finds
it unchanged), a photo moved or trashed out of the library is removed from it. Results, collections
and the app's grid then show the new paths without a run that would read every moved file to hash it.
Features and the vector index are kept by image, so none of this touches them.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop.core.catalog import Catalog
from models.errors import DiskFullError, PicsiftError, is_disk_full

COPY, MOVE, TRASH = "copy", "move", "trash"
# What os.link says on a file system without hard links (FAT, exFAT, some network shares): fall back to a rename.
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file of an action."""

    source: str
    target: str | None  # where it is now (None: trashed, or not done)
    error: str | None = None  # why it could not be done, one line naming the file; None when done

    @property
    def done(self) -> bool:
        return self.error is None


def copy_to(paths: Iterable[str | Path], folder: str | Path, catalog: Catalog | None = None,
            cancel: threading.Event | None = None) -> Iterator[FileOutcome]:
    """Copy each file into `folder` (created if need be), names kept unless taken."""
    return _run(COPY, paths, folder, catalog, cancel)


def move_to(paths: Iterable[str | Path], folder: str | Path, catalog: Catalog | None = None,
            cancel: threading.Event | None = None) -> Iterator[FileOutcome]:
    """Move each file into `folder` (created if need be), names kept unless taken."""
    return _run(MOVE, paths, folder, catalog, cancel)


def trash(paths: Iterable[str | Path], catalog: Catalog | None = None,
          cancel: threading.Event | None = None) -> Iterator[FileOutcome]:
    """Send each file to the system's trash (the user can restore it from there) and out of the catalog."""
    return _run(TRASH, paths, None, catalog, cancel)


def _run(action: str, paths, folder, catalog: Catalog | None, cancel) -> Iterator[FileOutcome]:
    if folder is not None:
        folder = _ready_folder(Path(folder))
    for path in map(Path, paths):
        if cancel is not None and cancel.is_set():
            return
        try:
            target = _trash_one(path) if action == TRASH else _place(action, path, folder)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError.at(folder or path.parent, _size(path)) from exc
            yield FileOutcome(str(path), None, _reason(action, path, exc))
            continue
        if catalog is not None:
            _update_catalog(catalog, action, path, target)
        yield FileOutcome(str(path), None if target is None else str(target))


def _ready_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PicsiftError(f"{folder}: cannot make this folder ({exc.strerror or exc})") from exc
    if not folder.is_dir():
        raise PicsiftError(f"{folder}: not a folder")
    return folder.resolve()


def _place(action: str, source: Path, folder: Path) -> Path:
    """Copy or move `source` into `folder` under a free name; the name it landed under."""
    _must_be_file(source)
    if action == MOVE:
        if source.parent.resolve() == folder:  # already there: nothing to do (not a "(2)" beside itself)
            return source
        try:
            return _land(source, folder, source.name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        return _copy_then_remove(source, folder)
    return _land(_temporary_copy(source, folder), folder, source.name)


def _temporary_copy(source: Path, folder: Path) -> Path:
    """A whole copy of `source` (data and metadata) under a hidden name in `folder`."""
    temp = folder / f".picsift-{uuid.uuid4().hex[:12]}.part"  # short: a long photo name plus a suffix could pass NAME_MAX
    try:
        shutil.copy2(source, temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _copy_then_remove(source: Path, folder: Path) -> Path:
    """A move across disks: the copy lands first; the original goes only once the copy is whole."""
    target = _land(_temporary_copy(source, folder), folder, source.name)
    try:
        source.unlink()
    except OSError:
        target.unlink(missing_ok=True)  # the move did not happen: leave one file, the original
        raise
    return target


def _land(existing: Path, folder: Path, name: str) -> Path:
    """Give the file `existing` the first free name like `name` in `folder` (its old name goes), never
    over a file already there. EXDEV (another disk) comes back to the caller."""
    for target in _free_names(folder, name):
        try:
            os.link(existing, target)  # refuses a taken name, even one taken a moment ago
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            if target.exists():  # no hard links here: look, then rename (a narrow race, no worse than any file manager)
                continue
            os.rename(existing, target)
            return target
        try:
            existing.unlink()
        except OSError:
            target.unlink()  # a move whose original cannot go: undo, so one file remains
            raise
        return target
    raise AssertionError("unreachable: _free_names never ends")


def _free_names(folder: Path, name: str) -> Iterator[Path]:
    """`folder/name`, then "stem (2).ext", "stem (3).ext", ... (the names file managers give)."""
    yield folder / name
    stem, suffix = os.path.splitext(name)
    number = 2
    while True:
        yield folder / f"{stem} ({number}){suffix}"
        number += 1


def _trash_one(path: Path) -> None:
    from send2trash import send2trash

    _must_be_file(path)
    send2trash(str(path))


def _must_be_file(path: Path) -> None:
    """Refuse a folder, or a file gone since it was picked, before acting on it (never a whole tree)."""
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))


def _update_catalog(catalog: Catalog, action: str, source: Path, target: Path | None) -> None:
    """The catalog after a file landed (see the module docstring): the copy or moved file linked to the
    photo's image when it is in a library folder, a file gone from the library removed."""
    record = catalog.file_by_path(_catalog_path(source))
    if record is None:  # not a library photo: nothing to keep right
        return
    folder_id = _library_folder(catalog, target) if target is not None else None
    with catalog.transaction():
        if action != COPY:
            catalog.remove_files([record.path])
        if folder_id is not None:
            stat = target.stat()
            catalog.link_file(str(target), folder_id, stat.st_size, stat.st_mtime_ns, record.image_id)


def _catalog_path(path: Path) -> str:
    """The path as the catalog holds it: under the resolved library folder, the file's own name kept."""
    return str(path.parent.resolve() / path.name)


def _library_folder(catalog: Catalog, path: Path) -> int | None:
    """The id of the innermost library folder holding `path`, None when it is outside the library."""
    holding = [(len(root), fid) for fid, root in catalog.folders() if path.is_relative_to(root)]
    return max(holding)[1] if holding else None


def _reason(action: str, source: Path, exc: OSError) -> str:
    """One line: the file, what could not be done, and the OS's words (naming the destination when it was that)."""
    named = exc.filename2 or exc.filename  # a rename's destination, else the one file the OS names
    where = f" in {Path(named).parent}" if named and os.fsdecode(named) != str(source) else ""
    verb = {COPY: "not copied", MOVE: "not moved", TRASH: "not sent to the trash"}[action]
    return f"{source}: {verb} ({exc.strerror or exc}{where})"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
