"""Load thumbnails off the GUI thread and hand them back as QImages, newest requests first."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from models.photo_reader import read_photo_file
from desktop.core.thumbnails import ThumbnailCache
from desktop.ui.error_log import log_bug
from models.errors import ImageError


class ThumbnailLoader(QObject):
    """Signals:
        loaded(str, QImage): a content hash and its thumbnail (a null QImage when unreadable).
    """

    loaded = Signal(str, QImage)

    def __init__(self, cache: ThumbnailCache, parent: QObject | None = None):
        super().__init__(parent)
        self.cache = cache
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._requested: set[str] = set()

    def request(self, content_hash: str, path: str) -> None:
        """Load once; later calls for the same hash are ignored until `forget`."""
        if content_hash in self._requested:
            return
        self._requested.add(content_hash)
        self._pool.start(_Load(self, content_hash, path), priority=len(self._requested))

    def forget(self) -> None:
        """Drop pending requests (a new result list replaced the old one)."""
        self._pool.clear()
        self._requested.clear()

    def wait(self) -> None:
        self._pool.waitForDone()


class _Load(QRunnable):
    def __init__(self, loader: ThumbnailLoader, content_hash: str, path: str):
        super().__init__()
        self._loader, self._hash, self._path = loader, content_hash, path

    def run(self) -> None:
        try:
            cached = self._loader.cache.path(self._hash) if self._hash else None
            image = QImage(str(cached)) if cached else QImage()
            if image.isNull():
                image = self._from_original()
        except Exception as exc:  # a bug (ImageError is handled below): logged; the cell shows no thumbnail
            log_bug(exc, f"loading the thumbnail of {self._path!r}")
            image = QImage()
        self._loader.loaded.emit(self._hash, image)

    def _from_original(self) -> QImage:
        """No cached thumbnail (evicted, or indexed elsewhere): make one from the photo itself."""
        try:
            photo = read_photo_file(self._path, self._loader.cache.side)
        except ImageError:
            return QImage()
        if not self._hash:
            return QImage()
        return QImage(str(self._loader.cache.put(self._hash, photo.image)))
