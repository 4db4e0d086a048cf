"""Answer queries: text, image or both, with weights, negatives and folder/date filters.

Each part of a query (a text or an image, with its weight) is scored on its own and calibrated
(desktop/core/calibration.py) before the weighted parts are combined, so a text and an image count
alike whatever their raw scales. A one-part query is one index search; a query of several parts
takes the union of each positive part's best results and scores every part on that union exactly.
Results come back ranked with their relevance and whether they match; hiding the weak ones is the
caller's choice (`matches`). An image-only query ("find similar", a dropped image, --image) is ordered
by a blend of instance and semantic cosine (`_instance_rerank`), so an edited copy's original comes first.
Results marked "more like this" / "not this" (`Query.feedback`) join as image parts, Rocchio-weighted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop.core.calibration import IMAGE, TEXT, Calibration, calibration_for, combine
from desktop.core.catalog import INSTANCE_FEATURES, Catalog, FileRecord, filter_conditions
from desktop.core.catalog_collections import in_collection
from desktop.core.catalog_details import PHOTO_DATE
from desktop.core.catalog_faces import shows_person
from desktop.core.query_filters import DateFilter, PlaceFilter
from desktop.core.text_match import fts_query, quoted_parts
from desktop.core.vector_index import VectorIndex
from models.errors import PicsiftError
from models.preprocess import load_and_preprocess
from models.runtime import ModelRuntime

# An image-only query re-ranks this many nearest photos of the shared space by a blend of instance
# and semantic similarity, so the same photo after edits (crop, rotation, mirror, re-save, caption)
# comes first and other photos of the scene follow. The shared space kept the original of every
# edited copy in its top 100 on the dev set (tests/benchmarks/edited_copies.py, results/edited_copies.json).
RERANK_POOL = 100
# Of the instance cosine in the blended score, the rest semantic: 0.6..0.9 tie for the best dev R@1
# (0.967 on the full library, semantic alone 0.937) and keep the scene's other photos next (scene recall@10 0.959).
INSTANCE_WEIGHT = 0.9
# A photo whose printed text has every word of a query's text ranks before those that only look like
# it, and shows at least this relevance (a match: the words are there, whatever the picture).
PRINTED_RELEVANCE = 0.75
PRINTED_MATCHES_MAX = 1000  # photos with the words printed that are looked at, best FTS5 rank first
HAS_TEXT = "EXISTS (SELECT 1 FROM image_text t WHERE t.image_id = i.id)"
# Relevance feedback (Rocchio): the photos marked "more like this" count this much together (their mean), those
# marked "not this" minus this much, beside the query's own parts; "not this" is strong so a marked photo and
# its near copies leave the top (tests/desktop/test_feedback.py); not tuned on a measurement yet.
MORE_LIKE_THIS, NOT_THIS = 0.75, 1.0


@dataclass(frozen=True)
class Query:
    """What to look for. A negative weight means "less of this"."""

    texts: tuple[tuple[str, float], ...] = ()  # (text, weight)
    images: tuple[tuple[str, float], ...] = ()  # (image file path, weight)
    k: int = 20  # results wanted (files)
    folder: str | None = None  # only files under this folder
    date_from: str | None = None  # ISO date or datetime, inclusive
    date_to: str | None = None  # ISO date or datetime, inclusive (a date covers the whole day)
    places: tuple[PlaceFilter, ...] = ()  # taken in any of these places (query_filters.parse_query finds them)
    dates: DateFilter | None = None  # taken within these dates ("July 2019", "last summer", "in December")
    has_text: bool = False  # only photos with printed text found in them
    collection: int | None = None  # only photos in this collection (its id in the catalog)
    people: tuple[int, ...] = ()  # only photos showing every one of these people (person ids; "Anna and Tom")
    feedback: tuple[tuple[int, float], ...] = ()  # (catalogued image id, +1 "more like this" / -1 "not this")

    @property
    def filtered(self) -> bool:
        return bool(self.folder or self.date_from or self.date_to or self.places or self.dates or self.has_text
                    or self.collection is not None or self.people)

    def conditions(self) -> list[tuple[str, list]]:
        """The filters as SQL conditions on the catalog's files `f` and images `i`."""
        conditions = filter_conditions(self.folder, self.date_from, self.date_to)
        if self.places:
            parts = [p.sql("i.country_code", "i.region", "i.latitude", "i.longitude") for p in self.places]
            conditions.append((" OR ".join(f"({sql})" for sql, _ in parts), [v for _, params in parts for v in params]))
        if self.dates:
            conditions.append(self.dates.sql(PHOTO_DATE))
        if self.has_text:
            conditions.append((HAS_TEXT, []))
        if self.collection is not None:
            conditions.append(in_collection(self.collection))
        conditions += [shows_person(person) for person in self.people]
        return conditions


@dataclass(frozen=True)
class SearchResult:
    """One matching file, best first."""

    path: str
    score: float  # raw cosine of the file's image to the query's weighted sum of parts, -1..1 (model's own scale)
    image_id: int
    record: FileRecord = field(repr=False)
    relevance: float = 0.0  # calibrated, what ranks: 0..1 on one scale for every model (negatives can go below 0)
    matched: bool = True  # some positive part of the query alone matches it (relevance >= 0.5)

    def to_dict(self) -> dict:
        r = self.record
        return {
            "path": self.path, "relevance": round(self.relevance, 4), "matched": self.matched,
            "score": round(self.score, 6), "width": r.width, "height": r.height,
            "taken_at": r.taken_at, "camera": r.camera, "size": r.size, "place": r.place, "has_text": r.has_text,
        }


@dataclass(frozen=True)
class QueryPart:
    """One text or image of a query, in the shared space."""

    vector: np.ndarray  # (D,) unit vector
    weight: float  # negative: "less of this"
    kind: str  # calibration.TEXT or calibration.IMAGE: which scale calibrates its scores


def matches(results: list[SearchResult]) -> tuple[list[SearchResult], int]:
    """The results that match, and how many weak ones were left out."""
    shown = [r for r in results if r.matched]
    return shown, len(results) - len(shown)


class Searcher:
    """Turns a Query into ranked files, using the model for query vectors and the vector index for lookup."""

    def __init__(self, catalog: Catalog, runtime: ModelRuntime, vector_index: VectorIndex,
                 calibration: Calibration | None = None):
        self.catalog = catalog
        self.runtime = runtime
        self.vector_index = vector_index
        self._calibration = calibration
        self._decoded: tuple = (None, None)  # (file key, encoding) of the last query image decoded

    @property
    def calibration(self) -> Calibration:
        """The model's relevance scales: computed once per bundle, then from memory."""
        if self._calibration is None:
            self._calibration = calibration_for(self.runtime)
        return self._calibration

    def query_parts(self, query: Query) -> list[QueryPart]:
        """The query's texts and images as unit vectors with their weights and kinds."""
        if not query.texts and not query.images and not query.feedback:
            raise PicsiftError("the query is empty; give a text, an image, or both")
        if not any(w > 0 for _, w in (*query.texts, *query.images, *query.feedback)):
            raise PicsiftError("the query has no part with a positive weight; give something to look for")
        parts = []
        if query.texts:
            vectors = self.runtime.encode_texts([text for text, _ in query.texts])
            parts += [QueryPart(v, w, TEXT) for v, (_, w) in zip(vectors, query.texts)]
        parts += [QueryPart(self.image_vector(path), w, IMAGE) for path, w in query.images]
        return parts + self._feedback_parts(query.feedback)

    def _feedback_parts(self, feedback: tuple[tuple[int, float], ...]) -> list[QueryPart]:
        """The marked photos' stored vectors, each weighted MORE_LIKE_THIS or NOT_THIS over the marks of its sign
        (a photo gone from the catalog meanwhile drops out)."""
        stored = self.catalog.vectors_for_images(self.runtime.manifest.image_encoder_id, [i for i, _ in feedback])
        marks = [(stored[i], w) for i, w in feedback if i in stored and w != 0]
        if not marks:
            return []
        vectors = self.runtime.map_images(np.stack([v for v, _ in marks]))
        share = {sign: (MORE_LIKE_THIS if sign else NOT_THIS) / max(1, sum((w > 0) == sign for _, w in marks)) for sign in (True, False)}
        return [QueryPart(v, w * share[w > 0], IMAGE) for v, (_, w) in zip(vectors, marks)]

    def query_vector(self, query: Query) -> np.ndarray:
        """The weighted sum of the query's parts in the shared space, normalised: (D,)."""
        parts = self.query_parts(query)
        return _weighted_sum(parts) / _weighted_norm(parts)

    def image_vector(self, path: str | Path) -> np.ndarray:
        """A query image in the shared space: from the catalog's stored features when indexed, else decoded."""
        return self.runtime.map_images(self._image_encoding(path)[0][None])[0]

    def image_instance(self, path: str | Path) -> np.ndarray | None:
        """A query image's instance descriptor (Dn,), or None when the model has none."""
        return self._image_encoding(path)[1]

    def _image_encoding(self, path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
        """(features (Di,), instance descriptor (Dn,) or None): stored when indexed, else decoded once
        (the last decoded image is kept, as a query asks for both)."""
        encoder_id = self.runtime.manifest.image_encoder_id
        record = self.catalog.file_by_path(str(Path(path).resolve()))
        features = self.catalog.image_features(encoder_id, record.image_id) if record is not None else None
        if features is not None:
            return features, self.catalog.image_features(encoder_id, record.image_id, INSTANCE_FEATURES)
        if not Path(path).is_file():
            raise PicsiftError(f"{path}: query image not found")
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
        if self._decoded[0] != key:
            pixels = load_and_preprocess(path, self.runtime.manifest.image_preprocess)[None]
            features, instance = self.runtime.image_features_and_instance(pixels)
            self._decoded = (key, (features[0], None if instance is None else instance[0]))
        return self._decoded[1]

    def search(self, query: Query, exclude_images: set[int] = frozenset()) -> list[SearchResult]:
        """The query's best `k` files, best first."""
        if not query.texts and not query.images and not query.feedback and query.filtered:  # browsing: the newest first
            return [SearchResult(r.path, 1.0, r.image_id, r, 1.0, True) for r in self.catalog.files_where(query.conditions(), query.k)]
        allowed = self.catalog.image_ids_where(query.conditions()) if query.filtered else None
        if allowed is not None and not allowed:
            return []
        parts = self.query_parts(query)
        norm = _weighted_norm(parts)  # refuses parts that cancel out before any search
        allowed, printed = self._printed(query, allowed)
        if allowed is not None and not allowed:
            return []
        instance = self._instance_query(query)
        wanted = query.k + len(exclude_images)
        ids, raw = self._part_scores(parts, wanted if instance is None else max(wanted, RERANK_POOL), allowed, printed)  # (N,), (P, N)
        weights = np.array([p.weight for p in parts])
        relevance, matched = combine(np.stack([self.calibration.scale(p.kind).relevance(r) for p, r in zip(parts, raw)]), weights)
        cosine = weights @ raw / norm  # the photo's cosine to the normalised weighted sum of the parts
        in_print = np.isin(ids, np.fromiter(printed, np.int64, len(printed)))
        relevance = np.where(in_print, np.maximum(relevance, PRINTED_RELEVANCE), relevance)
        matched = matched | in_print
        order = (np.lexsort((-relevance, ~in_print)) if instance is None
                 else self._instance_rerank(instance, ids, cosine))
        files = self.catalog.files_for_images(ids[order])
        results: list[SearchResult] = []
        for i in order:
            image_id = int(ids[i])
            if image_id in exclude_images:
                continue
            for record in files.get(image_id, []):
                if allowed is None or not query.folder or _under(record.path, query.folder):
                    results.append(SearchResult(record.path, float(cosine[i]), image_id, record, float(relevance[i]), bool(matched[i])))
        return results[: query.k]

    def _printed(self, query: Query, allowed: set[int] | None) -> tuple[set[int] | None, set[int]]:
        """(the allowed images, narrowed to those with the query's quoted text printed when it quotes
        any; the allowed images with every word of a positive text part printed)."""
        printed: set[int] = set()
        for text, weight in query.texts:
            match = fts_query(text) if weight > 0 else None
            if match is None:
                continue
            found = set(self.catalog.text_matches(match, PRINTED_MATCHES_MAX))
            if quoted_parts(text):
                quoted = set(self.catalog.text_matches(fts_query(" ".join(f'"{q}"' for q in quoted_parts(text)))))
                allowed = quoted if allowed is None else allowed & quoted
            printed |= found
        return allowed, printed if allowed is None else printed & allowed

    def _part_scores(self, parts: list[QueryPart], wanted: int, allowed, printed: set[int] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
        """Candidate image ids (N,) and each part's raw cosine on them (P, N).

        One part: its best `wanted`. Several: the union of each positive part's best `wanted`, every
        part then scored exactly on that union (a filtered search over the candidates). Images with
        the query's words printed are candidates too."""
        if len(parts) == 1 and not printed:
            ids, scores = self.vector_index.search(parts[0].vector, wanted, allowed_ids=allowed)
            return ids, scores[None]
        found = [self.vector_index.search(p.vector, wanted, allowed_ids=allowed)[0] for p in parts if p.weight > 0]
        found.append(np.fromiter(printed, np.int64, len(printed)))
        candidates = np.unique(np.concatenate(found)).astype(np.int64)
        if not len(candidates):
            return candidates, np.zeros((len(parts), 0), np.float32)
        return candidates, np.stack([self._scores_on(p.vector, candidates) for p in parts])

    def _scores_on(self, vector: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The raw cosine of each of `candidates` (sorted ids, (N,)) to `vector`, in their order."""
        ids, scores = self.vector_index.search(vector, len(candidates), allowed_ids=candidates)
        out = np.full(len(candidates), -1.0, np.float32)  # -1: removed meanwhile (the indexer runs alongside)
        out[np.searchsorted(candidates, ids)] = scores
        return out

    def _instance_query(self, query: Query) -> np.ndarray | None:
        """An image-only query's weighted instance descriptor (Dn,), unit length; None for queries with
        text or feedback and for models (or stored images) without instance descriptors."""
        if query.texts or query.feedback or not query.images or not self.runtime.has_instance:
            return None
        parts = [self.image_instance(path) for path, _ in query.images]
        if any(part is None for part in parts):
            return None
        vector = np.asarray([w for _, w in query.images], np.float32) @ np.stack(parts)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 1e-6 else None

    def _instance_rerank(self, instance: np.ndarray, ids: np.ndarray, cosine: np.ndarray) -> np.ndarray:
        """The candidates' order by INSTANCE_WEIGHT x instance cosine + the rest x semantic cosine; one
        without a stored descriptor keeps its semantic cosine. Relevance and matched stay the semantic
        calibration's: the blend decides the order only."""
        stored = self.catalog.vectors_for_images(self.runtime.manifest.image_encoder_id, ids, INSTANCE_FEATURES)
        similarity = np.array([float(stored[int(i)] @ instance) if int(i) in stored else c for i, c in zip(ids, cosine)])
        return np.argsort(-(INSTANCE_WEIGHT * similarity + (1.0 - INSTANCE_WEIGHT) * cosine), kind="stable")

    def similar(self, path: str | Path, k: int = 20, **filters) -> list[SearchResult]:
        """Photos most like the one at `path` (itself excluded when it is in the library)."""
        record = self.catalog.file_by_path(str(Path(path).resolve()))
        exclude = {record.image_id} if record else set()
        return self.search(Query(images=((str(path), 1.0),), k=k, **filters), exclude_images=exclude)


def _weighted_sum(parts: list[QueryPart]) -> np.ndarray:
    """Σ w_j v_j: (D,)."""
    return np.asarray([p.weight for p in parts], np.float32) @ np.stack([p.vector for p in parts])


def _weighted_norm(parts: list[QueryPart]) -> float:
    """The length of the parts' weighted sum; refuses parts that cancel out."""
    norm = float(np.linalg.norm(_weighted_sum(parts)))
    if norm < 1e-6:
        raise PicsiftError("the query's positive and negative parts cancel out; change the weights")
    return norm


def _under(path: str, folder: str) -> bool:
    root = str(Path(folder).resolve())
    return path == root or path.startswith(root.rstrip("/") + "/")
