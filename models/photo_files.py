"""Which files are photos: the extensions picsift reads and the folders and files it never looks in.

One rule for every place that lists photos (the library scanner, the trainer's labelled folders,
the fine-tuning dialog's counts, a dropped file), so they all agree on what a folder holds.
A file counts by its name; what turns out not to decode is reported when it is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".nrw", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})  # .hif: Canon's and Sony's name for HEIF
# Every extension `models.photo_reader` decodes. RAW is included even without rawpy, so those
# files are listed with the install hint instead of silently missing from the library.
IMAGE_EXTENSIONS = (
    frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"})
    | HEIF_EXTENSIONS
    | RAW_EXTENSIONS
)

# What systems and NAS boxes leave beside photos, lower case. Names starting with "." (hidden
# files, macOS AppleDouble "._x.jpg", .DS_Store, .Trashes) are skipped without being listed.
_SKIPPED_NAMES = frozenset({
    "@eadir",  # Synology: a folder of thumbnails per photo (@eaDir/IMG_1.jpg/SYNOPHOTO_THUMB_M.jpg)
    "#recycle", "#snapshot",  # Synology's recycle bin and snapshots
    "@recycle", "@recently-snapshot",  # QNAP's
    "$recycle.bin", "system volume information",  # Windows' recycle bin and restore points
    "__macosx",  # what macOS's zip adds: AppleDouble copies of every file
    "lost+found",  # fsck's salvage
    "thumbs.db", "ehthumbs.db", "desktop.ini",  # Explorer's thumbnail caches and folder settings
})


def is_skipped(name: str) -> bool:
    """Whether a file or folder of this name is never looked at: hidden, or system and NAS leftovers."""
    return name.startswith(".") or name.lower() in _SKIPPED_NAMES


def is_photo_name(name: str) -> bool:
    """Whether a file of this name is listed as a photo (by its extension, unless skipped)."""
    return not is_skipped(name) and Path(name).suffix.lower() in IMAGE_EXTENSIONS


def walk_photo_entries(root: str, unreadable: list[tuple[str, str]] | None = None) -> Iterator[os.DirEntry]:
    """Every photo file under `root`, recursively, in no particular order. Symbolic links to
    folders are not followed (they loop, or lead out of the library); unreadable folders are
    noted in `unreadable` as (folder, reason), not fatal."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if _is_photo_entry(entry, stack):
                        yield entry
        except OSError as exc:
            if unreadable is not None:
                unreadable.append((folder, f"folder cannot be read ({exc.strerror or exc}); check its permissions"))


def _is_photo_entry(entry: os.DirEntry, stack: list[str]) -> bool:
    """Whether `entry` is a photo file; a folder to look in goes on `stack`."""
    if is_skipped(entry.name):
        return False
    try:
        if entry.is_dir(follow_symlinks=False):
            stack.append(entry.path)
            return False
        return is_photo_name(entry.name) and entry.is_file()
    except OSError:  # vanished between listing and looking
        return False


def photo_files(folder: str | Path) -> list[str]:
    """The photo files under `folder`, recursively, sorted: what a labelled folder holds."""
    return sorted(entry.path for entry in walk_photo_entries(str(folder)))


def subfolders(root: str | Path) -> list[str]:
    """The folders directly in `root` that are looked in, by name ignoring case."""
    with os.scandir(root) as entries:
        found = [entry for entry in entries if not is_skipped(entry.name) and entry.is_dir()]
    return [entry.path for entry in sorted(found, key=lambda entry: entry.name.casefold())]


def label_text(folder_name: str) -> str:
    """A label folder's name as the text a model reads: "ankle_boot" -> "ankle boot"."""
    return re.sub(r"\s+", " ", folder_name.replace("_", " ")).strip()
