"""A bounded on-disk cache of JPEG thumbnails, keyed by content hash, evicting the least recently used."""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

from PIL import Image

from models import paths
from models.atomic import write_bytes_atomic

MiB = 1 << 20
_HASH = re.compile(r"[0-9A-Za-z_-]{2,128}")  # the key becomes a file name: no separators, no dots
_LOW_WATER = 0.9  # prune down to this fraction of max_bytes, so the next batches do not walk again


class ThumbnailCache:
    """Thumbnails at `folder/<hash[:2]>/<hash>.jpg` (256 buckets keep folders small).

    Recency is the file's mtime: `path()` touches it on each use, because atime is unreliable
    (mounted noatime/relatime on most systems). The cache tracks its size as it writes, and
    `put()` prunes as it goes: free until the limit is actually passed.
    """

    def __init__(self, folder: str | Path | None = None, max_bytes: int = 512 * MiB, side: int = 256, quality: int = 85):
        self.folder = Path(folder) if folder is not None else paths.cache_dir() / "thumbnails"
        self.max_bytes = max_bytes
        self.side = side  # longest side of a thumbnail, pixels
        self.quality = quality  # JPEG quality, 1..95
        self._bytes: int | None = None  # estimated bytes on disk; None until the first walk
        self._lock = threading.Lock()  # decoding threads put() concurrently

    def put(self, content_hash: str, image: Image.Image) -> Path:
        """Save a thumbnail of `image` (any size, upright) for `content_hash`; returns its path."""
        target = self._file(content_hash)
        data = self._encode(image)
        old_size = _size_or_zero(target)
        write_bytes_atomic(target, data)
        with self._lock:
            if self._bytes is not None:
                self._bytes += len(data) - old_size
        self.prune()  # free while under the bound: the size is tracked, the disk walked only when over
        return target

    def path(self, content_hash: str) -> Path | None:
        """The thumbnail's file, marked as just used; None when it is not cached."""
        target = self._file(content_hash)
        try:
            os.utime(target)
        except FileNotFoundError:
            return None
        return target

    def has(self, content_hash: str) -> bool:
        """Whether a thumbnail is cached, without counting as a use."""
        return self._file(content_hash).is_file()

    def prune(self) -> int:
        """Evict least recently used thumbnails until the cache is under `max_bytes`; returns how many."""
        with self._lock:
            if self._bytes is not None and self._bytes <= self.max_bytes:
                return 0
            entries = self._walk()  # (mtime_ns, size, path), oldest first
            total = sum(size for _, size, _ in entries)
            evicted = 0
            if total > self.max_bytes:
                target = int(self.max_bytes * _LOW_WATER)
                for _, size, victim in entries:
                    if total <= target:
                        break
                    victim.unlink(missing_ok=True)
                    total -= size
                    evicted += 1
            self._bytes = total
            return evicted

    def _file(self, content_hash: str) -> Path:
        if not _HASH.fullmatch(content_hash):
            raise ValueError(f"not a content hash: {content_hash!r}")
        return self.folder / content_hash[:2] / f"{content_hash}.jpg"

    def _encode(self, image: Image.Image) -> bytes:
        width, height = image.size
        scale = self.side / max(width, height)
        if scale < 1:  # a new image: the caller's stays as it was
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=self.quality, optimize=True)
        return buffer.getvalue()

    def _walk(self) -> list[tuple[int, int, Path]]:
        entries = []
        for bucket in _scandir(self.folder):
            for entry in _scandir(bucket.path) if bucket.is_dir() else ():
                if entry.name.endswith(".jpg"):  # skips atomic writes still in flight (.tmp)
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:  # evicted or replaced meanwhile
                        continue
                    entries.append((stat.st_mtime_ns, stat.st_size, Path(entry.path)))
        return sorted(entries)


def _scandir(folder: str | Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except FileNotFoundError:
        return []


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
