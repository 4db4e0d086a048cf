"""Find the photos under a library folder and compare them with the catalog by stat alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from models.photo_files import is_photo_name, is_skipped, walk_photo_entries


@dataclass(frozen=True)
class FoundFile:
    """A candidate photo as the file system reports it."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class ScanPlan:
    """What an indexing run must do for one folder."""

    folder_id: int
    root: str
    offline: bool = False  # the folder (or its volume) is missing: keep its files, touch nothing
    to_read: list[FoundFile] = field(default_factory=list)  # new or changed since last run
    vanished: list[str] = field(default_factory=list)  # catalogued, no longer on disk
    unchanged: int = 0
    unreadable_dirs: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def walk_photos(root: str, unreadable: list[tuple[str, str]] | None = None) -> Iterator[FoundFile]:
    """Every photo file under `root` (models.photo_files decides which), with its size and mtime;
    unreadable folders are noted, not fatal."""
    for entry in walk_photo_entries(root, unreadable):
        try:
            stat = entry.stat()
        except OSError:  # vanished between listing and stat: the next run will see it gone
            continue
        yield FoundFile(entry.path, stat.st_size, stat.st_mtime_ns)


def plan_folder(folder_id: int, root: str, known: dict[str, tuple[int, int]], scope: list[str] | None = None,
                writing: Collection[str] = ()) -> ScanPlan:
    """Compare the disk with `known` (path -> (size, mtime_ns) from the catalog); with a `scope`
    (paths of files or folders under `root`, present or gone), only there: what a watcher saw change.
    Files `writing` (still being written, as a watcher sees) are left for a later run: not read, not removed."""
    plan = ScanPlan(folder_id, root)
    if not os.path.isdir(root):
        plan.offline = True
        return plan
    if scope is not None:
        scope = outermost(scope)
        known = {path: state for path, state in known.items() if in_scope(path, scope)}
    seen = set()
    for found in walk_photos(root, plan.unreadable_dirs) if scope is None else _walk_scope(root, scope, plan.unreadable_dirs):
        if found.path in seen:
            continue
        seen.add(found.path)
        if found.path in writing:
            continue
        if known.get(found.path) == (found.size, found.mtime_ns):
            plan.unchanged += 1
        else:
            plan.to_read.append(found)
    skipped_roots = tuple(os.path.join(path, "") for path, _ in plan.unreadable_dirs)
    plan.vanished = [p for p in known if p not in seen and not p.startswith(skipped_roots)]
    plan.to_read.sort(key=lambda f: f.path)
    return plan


def in_scope(path: str, scope: Iterable[str]) -> bool:
    """Whether `path` is one of the scope's paths or lies under one of them."""
    return any(path == entry or path.startswith(os.path.join(entry, "")) for entry in scope)


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those that lie under another one of them (a folder covers its files)."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not in_scope(path, kept):
            kept.append(path)
    return kept


def _walk_scope(root: str, scope: list[str], unreadable: list[tuple[str, str]]) -> Iterator[FoundFile]:
    """The photos a full walk of `root` would list, found only at or under the scope's paths."""
    for entry in scope:
        relative = os.path.relpath(entry, root)
        if relative.startswith(os.pardir) or any(is_skipped(part) for part in relative.split(os.sep) if part != os.curdir):
            continue  # outside the folder, or where a full walk never looks (hidden, system leftovers)
        try:
            status = os.lstat(entry)
        except OSError:  # gone: its catalogued files are vanished
            continue
        if stat.S_ISDIR(status.st_mode):
            yield from walk_photos(entry, unreadable)
        elif entry != root and is_photo_name(os.path.basename(entry)):
            try:
                status = os.stat(entry)  # a link to a photo counts as the photo, as in a walk
            except OSError:
                continue
            if stat.S_ISREG(status.st_mode):
                yield FoundFile(entry, status.st_size, status.st_mtime_ns)
