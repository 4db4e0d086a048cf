"""Load thumbnails off the GUI thread and hand them back as QImages, newest requests first."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop.core.thumbnails import ThumbnailCache
from desktop.ui.workers import run_in_pool
from models.errors import ImageError
from models.photo_reader import read_photo_file


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
        self._relays: dict[str, object] = {}  # run_in_pool's, kept until each reports

    def request(self, content_hash: str, path: str) -> None:
        """Load once; later calls for the same hash are ignored until `forget`. Newest requests first."""
        if content_hash in self._requested:
            return
        self._requested.add(content_hash)
        self._relays[content_hash] = run_in_pool(
            lambda: self._load(content_hash, path), lambda image: self._done(content_hash, image),
            lambda message: self._done(content_hash, QImage()),  # a bug: logged; the cell shows no thumbnail
            self._pool, priority=len(self._requested), doing=f"loading the thumbnail of {path!r}", owner=self)

    def forget(self) -> None:
        """Drop pending requests (a new result list replaced the old one)."""
        self._pool.clear()
        self._requested.clear()
        self._relays.clear()

    def wait(self) -> None:
        self._pool.waitForDone()

    def _done(self, content_hash: str, image: QImage) -> None:
        self._relays.pop(content_hash, None)
        self.loaded.emit(content_hash, image)

    def _load(self, content_hash: str, path: str) -> QImage:
        """On a pool thread: the cached thumbnail, else one made from the photo itself."""
        cached = self.cache.path(content_hash) if content_hash else None
        image = QImage(str(cached)) if cached else QImage()
        return image if not image.isNull() else self._from_original(content_hash, path)

    def _from_original(self, content_hash: str, path: str) -> QImage:
        """No cached thumbnail (evicted, or indexed elsewhere): make one from the photo itself."""
        try:
            photo = read_photo_file(path, self.cache.side)
        except ImageError:
            return QImage()
        if not content_hash:
            return QImage()
        return QImage(str(self.cache.put(content_hash, photo.image)))
