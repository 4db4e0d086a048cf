"""Answer queries: text, image or both, with weights, negatives and folder/date filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop.core.catalog import Catalog, FileRecord
from desktop.core.vector_index import VectorIndex
from models.errors import PicsiftError
from models.runtime import ModelRuntime


@dataclass(frozen=True)
class Query:
    """What to look for. A negative weight means "less of this"."""

    texts: tuple[tuple[str, float], ...] = ()  # (text, weight)
    images: tuple[tuple[str, float], ...] = ()  # (image file path, weight)
    k: int = 20  # results wanted (files)
    folder: str | None = None  # only files under this folder
    date_from: str | None = None  # ISO date or datetime, inclusive
    date_to: str | None = None  # ISO date or datetime, inclusive (a date covers the whole day)

    @property
    def filtered(self) -> bool:
        return bool(self.folder or self.date_from or self.date_to)


@dataclass(frozen=True)
class SearchResult:
    """One matching file, best first."""

    path: str
    score: float  # cosine similarity of the file's image to the query vector, -1..1
    image_id: int
    record: FileRecord = field(repr=False)

    def to_dict(self) -> dict:
        r = self.record
        return {
            "path": self.path, "score": round(self.score, 6), "width": r.width, "height": r.height,
            "taken_at": r.taken_at, "camera": r.camera, "size": r.size,
        }


class Searcher:
    """Turns a Query into ranked files, using the model for query vectors and the vector index for lookup."""

    def __init__(self, catalog: Catalog, runtime: ModelRuntime, vector_index: VectorIndex):
        self.catalog = catalog
        self.runtime = runtime
        self.vector_index = vector_index

    def query_vector(self, query: Query) -> np.ndarray:
        """The weighted sum of the query's parts in the shared space, normalised: (D,)."""
        if not query.texts and not query.images:
            raise PicsiftError("the query is empty; give a text, an image, or both")
        parts, weights = [], []
        if query.texts:
            parts.append(self.runtime.encode_texts([text for text, _ in query.texts]))
            weights += [w for _, w in query.texts]
        if query.images:
            parts.append(np.stack([self.image_vector(path) for path, _ in query.images]))
            weights += [w for _, w in query.images]
        vector = np.asarray(weights, np.float32) @ np.concatenate(parts)  # (D,)
        norm = float(np.linalg.norm(vector))
        if norm < 1e-6:
            raise PicsiftError("the query's positive and negative parts cancel out; change the weights")
        return vector / norm

    def image_vector(self, path: str | Path) -> np.ndarray:
        """A query image in the shared space: from the catalog's stored features when indexed, else decoded."""
        record = self.catalog.file_by_path(str(Path(path).resolve()))
        if record is not None:
            features = self.catalog.image_features(self.runtime.manifest.image_encoder_id, record.image_id)
            if features is not None:
                return self.runtime.map_images(features[None])[0]
        if not Path(path).is_file():
            raise PicsiftError(f"{path}: query image not found")
        return self.runtime.encode_image_files([path])[0]

    def search(self, query: Query, exclude_images: set[int] = frozenset()) -> list[SearchResult]:
        """The query's best `k` files, best first."""
        allowed = self.catalog.image_ids_matching(query.folder, query.date_from, query.date_to) if query.filtered else None
        if allowed is not None and not allowed:
            return []
        vector = self.query_vector(query)
        results: list[SearchResult] = []
        wanted = query.k + len(exclude_images)
        ids, scores = self.vector_index.search(vector, wanted, allowed_ids=allowed)
        files = self.catalog.files_for_images(ids)
        for image_id, score in zip(ids, scores):
            if image_id in exclude_images:
                continue
            for record in files.get(int(image_id), []):
                if allowed is None or not query.folder or _under(record.path, query.folder):
                    results.append(SearchResult(record.path, float(score), int(image_id), record))
        return results[: query.k]

    def similar(self, path: str | Path, k: int = 20, **filters) -> list[SearchResult]:
        """Photos most like the one at `path` (itself excluded when it is in the library)."""
        record = self.catalog.file_by_path(str(Path(path).resolve()))
        exclude = {record.image_id} if record else set()
        return self.search(Query(images=((str(path), 1.0),), k=k, **filters), exclude_images=exclude)


def _under(path: str, folder: str) -> bool:
    root = str(Path(folder).resolve())
    return path == root or path.startswith(root.rstrip("/") + "/")
