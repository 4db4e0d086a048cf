"""Unit vectors labelled by catalog image ids: float16 HNSW segments (usearch), added to, hidden and searched.

Every vector added takes the next *row* (a replaced label's old row is retired), and rows are the
graph keys. The rows live in segments (desktop/core/vector_segments.py): saved ones, read-only
memory maps of their files, and one mutable tail that takes new rows. A search asks every segment's
graph and merges by score; exact and filtered search score the segments' float16 vectors directly.
Hidden (removed) and retired rows stay in the graphs and are masked out, with over-fetch.

Scores are inner products of the float16 vectors (accumulated in float32): within ~5e-5 of float32
at 1024-d (results/usearch_design.json). Searches run concurrently with each other and with a save;
adds and changes of the row tables take the rows exclusively, ADD_CHUNK vectors at a time, so a
search waits at most one chunk while the indexer adds.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from contextlib import contextmanager

import numpy as np

from desktop.core.vector_segments import Segment, Tail, dot_scores

# Tuned on 384-d clustered unit vectors at 100k and 1M on 2 cores (tests/benchmarks/query.py), kept for usearch
# (results/usearch_design.json: recall@10 0.9975 at 100k x 1024-d):
HNSW_M = 24  # graph degree; at 1M M=32 matched its recall with ef=128 but built 20% slower
HNSW_EF_CONSTRUCTION = 200  # at 1M, 100 left recall@10 stuck near 0.993 at any ef
HNSW_EF = 256  # query beam: recall@10 0.999+ at 1M; 128: 0.998-0.9998
# Up to this many vectors search is brute force: exact, and a few ms at most.
EXACT_SEARCH_MAX = 5_000
# Segments this small are scanned rather than searched by graph: a few ms at most, and exact. A graph
# this small can leave a row unreachable (in-degree 0 after pruning): usearch missed 1 of the best 10
# of 300 vectors in a narrow cone at any beam width.
SEGMENT_EXACT_MAX = 5_000
# A filter allowing at most this many vectors is scored exactly (20k x 1024-d: ~7-11 ms); above it the
# graphs are over-fetched.
FILTER_EXACT_MAX = 20_000
# A filter passing a fraction f asks the graphs for OVER_FETCH * k / f results; at 100k with 2-50%
# allowed, 2 gave recall@10 0.966-0.999, 4 gave 0.991-1.0, 8 gave 1.0.
OVER_FETCH = 8
HIDDEN_OVER_FETCH = 1.25  # with no filter, only hidden rows are skipped: they are few and unrelated to the query
ADD_CHUNK = 512  # vectors inserted per exclusive hold: ~0.25 s on 2 cores, the longest a search waits
_MIN_CAPACITY = 1024
_MAX_LABEL = 2**31 - 1  # labels index a dense row table; catalog image ids stay far below this
_SCORE_ROWS = 4096  # rows gathered and scored per call


class SearchableVectors:
    """Unit vectors (D,) labelled by image id, searched by inner product; see the module docstring."""

    def __init__(self, dim: int, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION, ef: int = HNSW_EF):
        """Empty vectors of `dim` dimensions in graphs of degree `m`."""
        self.dim, self.m, self.ef_construction = dim, m, ef_construction
        self.exact_search_max = EXACT_SEARCH_MAX
        self.segment_exact_max = SEGMENT_EXACT_MAX
        self.filter_exact_max = FILTER_EXACT_MAX
        self.ef = ef  # the graph search's beam width
        self._segments: list[Segment] = []  # saved segments, in row order, then the tail
        self._tail = Tail(dim, 0, m=m, ef_construction=ef_construction)
        self._n = 0  # rows in use
        self._live = 0  # rows searchable: neither hidden nor retired
        self._labels = np.zeros(_MIN_CAPACITY, np.int64)  # (capacity,) row -> label
        self._alive = np.zeros(_MIN_CAPACITY, bool)  # (capacity,) row searchable
        self._row_of = np.full(_MIN_CAPACITY, -1, np.int32)  # label -> its current row, -1 when absent
        self._lock = _SharedLock()  # searches share it; changes to the rows take it alone
        self._write_lock = threading.Lock()  # one writer or save at a time; a save only reads, so searches go on

    def _replace_rows(self, segments: list[Segment], labels: np.ndarray, alive: np.ndarray) -> None:
        """Take over loaded segments covering rows [0, N) with their (N,) labels and searchable mask."""
        count = len(labels)
        self._segments, self._n = segments, count
        self._tail = Tail(self.dim, count, m=self.m, ef_construction=self.ef_construction)
        self._labels, self._alive = labels.astype(np.int64), alive.astype(bool)
        self._row_of = np.full(int(labels.max(initial=0)) + 1, -1, np.int32)
        self._row_of[labels] = np.arange(count, dtype=np.int32)  # a label's later row wins: its current one
        self._live = int(self._alive.sum())

    # --- size -------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Searchable vectors (removed ones excluded)."""
        return self._live

    @property
    def total(self) -> int:
        """Rows held, hidden and retired ones included (they stay in the segments)."""
        return self._n

    def _current(self) -> np.ndarray:
        """(N,) True where the row is its label's current row (not retired by a later add)."""
        rows = np.arange(self._n)
        return self._row_of[self._labels[: self._n]] == rows

    def labels(self, removed: bool = False) -> np.ndarray:
        """(N,) int64 labels of live vectors, or of removed ones."""
        with self._lock.shared():
            alive = self._alive[: self._n]
            chosen = (self._current() & ~alive) if removed else alive
            return self._labels[: self._n][chosen].copy()

    # --- writing ----------------------------------------------------------------------------
    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        """Insert or replace (N,) labels with their (N, D) unit vectors; a removed label comes back."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64).ravel()
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), self.dim)
        if len(ids) and (ids.min() < 0 or ids.max() > _MAX_LABEL):
            raise ValueError(f"labels must be image ids in [0, {_MAX_LABEL}]")
        if not np.isfinite(vectors).all():
            raise ValueError("vectors must be finite")
        ids, first = np.unique(ids[::-1], return_index=True)  # the last vector given for a label wins
        vectors = vectors[::-1][first].astype(np.float16)
        for start in range(0, len(ids), ADD_CHUNK):
            with self._write_lock, self._lock.exclusive():
                self._add_locked(ids[start : start + ADD_CHUNK], vectors[start : start + ADD_CHUNK])

    def _add_locked(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._grow_rows_table(int(ids.max()) + 1)
        old = self._row_of[ids].astype(np.int64)
        old = old[old >= 0]
        self._live -= int(self._alive[old].sum())
        self._alive[old] = False  # retired: the new row replaces them
        self._ensure_capacity(self._n + len(ids))
        self._tail.add(vectors)
        rows = np.arange(self._n, self._n + len(ids))
        self._labels[rows], self._alive[rows], self._row_of[ids] = ids, True, rows
        self._n, self._live = self._n + len(ids), self._live + len(ids)

    def mark_removed(self, ids: Iterable[int]) -> int:
        """Hide labels from search (their vectors stay, so they come back for free); returns how many."""
        return self._set_alive(ids, False)

    def unmark_removed(self, ids: Iterable[int]) -> int:
        """Make removed labels searchable again; returns how many."""
        return self._set_alive(ids, True)

    def _set_alive(self, ids: Iterable[int], alive: bool) -> int:
        ids = np.fromiter(ids, np.int64) if not isinstance(ids, np.ndarray) else ids.astype(np.int64)
        with self._write_lock, self._lock.exclusive():
            rows = self._rows_of(ids)
            rows = np.unique(rows[self._alive[rows] != alive])
            self._alive[rows] = alive
            self._live += len(rows) if alive else -len(rows)
        return len(rows)

    def _grow_rows_table(self, size: int) -> None:
        if size > len(self._row_of):
            grown = np.full(max(size, 2 * len(self._row_of)), -1, np.int32)
            grown[: len(self._row_of)] = self._row_of
            self._row_of = grown

    def _ensure_capacity(self, needed: int) -> None:
        """Double the row arrays until `needed` rows fit (under the exclusive lock)."""
        if needed > len(self._labels):
            size = max(needed, 2 * len(self._labels))
            self._labels = _grown(self._labels, size)
            self._alive = _grown(self._alive, size)

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Current rows of the labels that are in the index (unknown labels dropped)."""
        ids = ids[(ids >= 0) & (ids < len(self._row_of))]
        rows = self._row_of[ids]
        return rows[rows >= 0].astype(np.int64)

    def _has(self, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(self._row_of))
        return inside & (self._row_of[np.where(inside, ids, 0)] >= 0)

    # --- searching --------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, allowed_ids: Collection[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best-first (ids, inner-product scores) for a (D,) query -> (k,), or (Q, D) -> (Q, k).

        Fewer than k come back when fewer are searchable. `allowed_ids` restricts results to those
        labels (a filter): small sets are scored exactly, large ones over-fetched from the graphs.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        queries = np.atleast_2d(np.asarray(query, np.float32))  # (Q, D)
        if queries.shape[1] != self.dim:
            raise ValueError(f"query has {queries.shape[1]} dimensions, the index {self.dim}")
        with self._lock.shared():
            ids, scores = self._search_locked(queries, k, allowed_ids)
        return (ids[0], scores[0]) if np.ndim(query) == 1 else (ids, scores)

    def _search_locked(self, queries: np.ndarray, k: int, allowed_ids) -> tuple[np.ndarray, np.ndarray]:
        if allowed_ids is None:
            if self._live <= self.exact_search_max:
                return self._exact(queries, np.flatnonzero(self._alive[: self._n]), k)
            return self._over_fetch(queries, k, self._alive[: self._n], self._live, HIDDEN_OVER_FETCH)
        allowed = self._allowed_mask(allowed_ids)  # (rows,) bool
        count = int(np.count_nonzero(allowed))
        if count <= self.filter_exact_max:
            return self._exact(queries, np.flatnonzero(allowed), k)
        return self._over_fetch(queries, k, allowed, count, OVER_FETCH)

    def _allowed_mask(self, allowed_ids) -> np.ndarray:
        """(rows,) True where the row's label is allowed and live; a mask, as sorting a big set is slow."""
        ids = allowed_ids if isinstance(allowed_ids, np.ndarray) else np.fromiter(allowed_ids, np.int64, len(allowed_ids))
        allowed = np.zeros(self._n, bool)
        allowed[self._rows_of(ids.astype(np.int64, copy=False))] = True
        return allowed & self._alive[: self._n]

    def _all_segments(self) -> list[Segment]:
        return [s for s in (*self._segments, self._tail) if len(s)]

    def _exact(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best k of ascending `rows`, each scored on its segment's float16 vector."""
        k = min(k, len(rows))
        scores = np.empty((len(queries), len(rows)), np.float32)  # (Q, R)
        halves = queries.astype(np.float16)
        for segment in self._all_segments():
            first, stop = np.searchsorted(rows, [segment.start, segment.stop])
            for start in range(first, stop, _SCORE_ROWS):
                end = min(start + _SCORE_ROWS, stop)
                scores[:, start:end] = dot_scores(halves, segment.vectors(rows[start:end]))
        best = _best_first(scores, k)
        return self._labels[rows[best]], np.take_along_axis(scores, best, axis=1)

    def _graph(self, queries: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, <= fetch) rows and scores, best first, merged from every segment's graph (-1: none)."""
        found = [segment.search(queries, fetch, self.ef, exact=len(segment) <= self.segment_exact_max)
                 for segment in self._all_segments()]
        rows, scores = np.concatenate([f[0] for f in found], axis=1), np.concatenate([f[1] for f in found], axis=1)
        order = _best_first(scores, min(fetch, scores.shape[1]))
        return np.take_along_axis(rows, order, axis=1), np.take_along_axis(scores, order, axis=1)

    def _over_fetch(self, queries: np.ndarray, k: int, allowed: np.ndarray, count: int,
                    factor: float) -> tuple[np.ndarray, np.ndarray]:
        """Ask the graphs for more than k until each query has k allowed results. With a fraction f
        allowed, the k-th allowed result sits near rank k / f; asking for `factor` times that also
        widens the beam (usearch searches with max(ef, count)), which keeps ranks that deep accurate."""
        k = min(k, count)
        fetch = k if count == self._n else min(self._n, max(k, int(np.ceil(factor * k * self._n / count))))
        while True:
            rows, scores = self._graph(queries, fetch)  # (Q, fetch)
            keep = (rows >= 0) & allowed[np.maximum(rows, 0)]
            if (keep.sum(axis=1) >= k).all():
                break
            if fetch >= self._n:  # hidden rows cut the graph apart: brute force is right
                return self._exact(queries, np.flatnonzero(allowed), k)
            fetch = min(self._n, 4 * fetch)
        first = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the k best allowed, still best-first
        return self._labels[np.take_along_axis(rows, first, axis=1)], np.take_along_axis(scores, first, axis=1)


# --- small helpers ----------------------------------------------------------------------------
def _best_first(scores: np.ndarray, k: int) -> np.ndarray:
    """(Q, k) column indices of each row's k highest scores, best first (ties keep column order)."""
    if k < scores.shape[1]:
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (Q, k) unordered
    else:
        best = np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1)


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros((size, *array.shape[1:]), array.dtype)
    grown[: len(array)] = array
    return grown



class _SharedLock:
    """Many holders of `shared()` at once, or one of `exclusive()`; a waiting writer holds back new
    readers, so a steady stream of searches cannot starve the indexer."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self):
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
