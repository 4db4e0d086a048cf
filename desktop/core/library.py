"""The engine in one object: catalog, active model, vector index, indexer and searcher, wired together."""

from __future__ import annotations

from functools import cached_property

from desktop.core.catalog import Catalog
from desktop.core.indexer import Indexer
from desktop.core.search import Searcher
from desktop.core.thumbnails import ThumbnailCache
from desktop.core.vector_index import VectorIndex
from models import registry
from models.runtime import ModelRuntime


class Library:
    """Opened lazily, part by part: listing folders never loads a model, a text search never the image tower."""

    def __init__(self, catalog: Catalog | None = None, runtime: ModelRuntime | None = None, device: str = "auto"):
        self._catalog = catalog
        self._runtime = runtime
        self.device = device

    @cached_property
    def catalog(self) -> Catalog:
        return self._catalog or Catalog()

    @cached_property
    def runtime(self) -> ModelRuntime:
        return self._runtime or ModelRuntime(registry.open_installed(), device=self.device)

    @cached_property
    def vector_index(self) -> VectorIndex:
        return VectorIndex.open(self.catalog, self.runtime)

    @cached_property
    def thumbnails(self) -> ThumbnailCache:
        return ThumbnailCache()

    def indexer(self, **options) -> Indexer:
        return Indexer(self.catalog, self.runtime, self.vector_index, self.thumbnails, **options)

    def searcher(self) -> Searcher:
        return Searcher(self.catalog, self.runtime, self.vector_index)

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.close()
