"""The engine in one object: catalog, active model, vector index, indexer and searcher, wired together."""

from __future__ import annotations

import threading

from desktop.core.catalog import Catalog
from desktop.core.face_pass import FacePass
from desktop.core.faces import FaceReader
from desktop.core.indexer import Indexer
from desktop.core.search import Searcher
from desktop.core.text_pass import TextPass
from desktop.core.thumbnails import ThumbnailCache
from desktop.core.vector_index import VectorIndex
from models import registry
from models.runtime import ModelRuntime


class Library:
    """Opened lazily, part by part: listing folders never loads a model, a text search never the image tower.

    The lazy parts are created under a lock, so a search thread and an indexing thread asking at
    once share one model and one vector index.
    """

    def __init__(self, catalog: Catalog | None = None, runtime: ModelRuntime | None = None, device: str = "auto",
                 vector_index: VectorIndex | None = None, thumbnails: ThumbnailCache | None = None):
        self._catalog = catalog
        self._runtime = runtime
        self._vector_index = vector_index
        self._thumbnails = thumbnails
        self.device = device
        self.closing = threading.Event()  # set when the app quits: the vector index's open then skips its save
        # One lock per lazy part: the GUI thread asking for the catalog or the thumbnails must not wait while
        # another thread loads the model or opens a big vector index (16.8 s at a million photos).
        self._catalog_lock, self._runtime_lock = threading.RLock(), threading.RLock()
        self._index_lock, self._thumbnails_lock = threading.RLock(), threading.RLock()

    @property
    def catalog(self) -> Catalog:
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = Catalog()
            return self._catalog

    @property
    def runtime(self) -> ModelRuntime:
        with self._runtime_lock:
            if self._runtime is None:
                self._runtime = ModelRuntime(registry.open_installed(), device=self.device)
            return self._runtime

    @property
    def loaded_runtime(self) -> ModelRuntime | None:
        """The model if it is loaded already; never loads it (for a status line that must not wait)."""
        return self._runtime

    @property
    def index_loaded(self) -> bool:
        """Whether the vector index is open (a sync is only worth it then)."""
        return self._vector_index is not None

    @property
    def vector_index(self) -> VectorIndex:
        with self._index_lock:
            if self._vector_index is None:
                self._vector_index = VectorIndex.open(self.catalog, self.runtime, closing=self.closing)
            return self._vector_index

    @property
    def thumbnails(self) -> ThumbnailCache:
        with self._thumbnails_lock:
            if self._thumbnails is None:
                self._thumbnails = ThumbnailCache()
            return self._thumbnails

    def for_thread(self) -> Library:
        """A Library for another thread: its own catalog connection, the same model and vector index."""
        return Library(Catalog(self.catalog.path), self.runtime, self.device, self.vector_index, self.thumbnails)

    def indexer(self, **options) -> Indexer:
        return Indexer(self.catalog, self.runtime, self.vector_index, self.thumbnails, **options)

    def text_pass(self) -> TextPass:
        """The second pass that reads the text printed in photos (OCR), on this library's catalog."""
        return TextPass(self.catalog)

    def face_pass(self, reader: FaceReader | None = None) -> FacePass:
        """The pass that finds the faces in photos and groups them in people, on this library's catalog;
        `reader`: one already loaded, to share (the app keeps one, so dlib's models load once)."""
        return FacePass(self.catalog, reader)

    def searcher(self) -> Searcher:
        return Searcher(self.catalog, self.runtime, self.vector_index)

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
