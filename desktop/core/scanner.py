"""Find the photos under a library folder and compare them with the catalog by stat alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from models.photo_files import walk_photo_entries


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
