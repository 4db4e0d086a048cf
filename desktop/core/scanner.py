"""Find the photos under a library folder and compare them with the catalog by stat alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from desktop.core.photo_reader import IMAGE_EXTENSIONS as SCANNED_EXTENSIONS

_SKIPPED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})


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


def is_skipped(name: str) -> bool:
    """Hidden files and folders, macOS AppleDouble `._*` files, Finder/Explorer droppings."""
    return name.startswith(".") or name.lower() in _SKIPPED_NAMES


def walk_photos(root: str, unreadable: list[tuple[str, str]] | None = None) -> Iterator[FoundFile]:
    """Every photo file under `root`, recursively, by extension; unreadable folders are noted, not fatal."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    found = _visit(entry, stack)
                    if found:
                        yield found
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((folder, f"folder cannot be read ({exc.strerror or exc}); check its permissions"))


def _visit(entry: os.DirEntry, stack: list[str]) -> FoundFile | None:
    if is_skipped(entry.name):
        return None
    try:
        if entry.is_dir(follow_symlinks=False):
            stack.append(entry.path)
            return None
        if not entry.is_file() or Path(entry.name).suffix.lower() not in SCANNED_EXTENSIONS:
            return None
        stat = entry.stat()
    except OSError:  # vanished between listing and stat: the next run will see it gone
        return None
    return FoundFile(entry.path, stat.st_size, stat.st_mtime_ns)


def plan_folder(folder_id: int, root: str, known: dict[str, tuple[int, int]]) -> ScanPlan:
    """Compare the disk with `known` (path -> (size, mtime_ns) from the catalog)."""
    plan = ScanPlan(folder_id, root)
    if not os.path.isdir(root):
        plan.offline = True
        return plan
    seen = set()
    for found in walk_photos(root, plan.unreadable_dirs):
        seen.add(found.path)
        if known.get(found.path) == (found.size, found.mtime_ns):
            plan.unchanged += 1
        else:
            plan.to_read.append(found)
    skipped_roots = tuple(os.path.join(path, "") for path, _ in plan.unreadable_dirs)
    plan.vanished = [p for p in known if p not in seen and not p.startswith(skipped_roots)]
    plan.to_read.sort(key=lambda f: f.path)
    return plan
