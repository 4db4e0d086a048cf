"""Unit vectors labelled by catalog image ids, in memory: an HNSW graph and an int8 copy, added to, hidden and searched.

The graph holds the float32 vectors; exact and filtered search score the int8 copy (a quarter of
their size) and re-score the best few with the graph's float32 vectors, so the first RESCORE_TOP
results come back in float32 order with float32 scores, as before the copy was int8; deeper ranks
keep the int8 copy's scores (a few thousandths from float32 at most: results/index_memory.json).

Searches run concurrently with each other and with a save; adds, removals and growth take the
vectors exclusively (hnswlib: "knn_query: thread-safe with other knn_query calls, but not with
add_items"; resize_index is safe with neither), a chunk of ADD_CHUNK vectors at a time so a
search waits at most one chunk while the indexer adds.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from contextlib import contextmanager

import hnswlib
import numpy as np

# Tuned on 384-d clustered unit vectors at 100k and 1M on 2 cores (tests/benchmarks/query.py):
HNSW_M = 24  # graph degree; at 1M M=32 matched its recall with ef=128 but built 20% slower, and on
# uniform 32-d vectors (high intrinsic dimension) M=16 lost 1.5% recall@10 at equal ef
HNSW_EF_CONSTRUCTION = 200  # at 1M, 100 left recall@10 stuck near 0.993 at any ef; 200 builds ~2.7x slower
HNSW_EF = 256  # query beam (hnswlib searches with max(ef, k)): recall@10 0.999+ at 1M in 0.3 ms; 128: 0.998-0.9998
# Up to this many vectors search is brute force: exact, and still under 0.3 ms. The graph catches up
# at ~1k vectors (0.08 ms each) and is 0.17 ms at 5k: both far below anything a person notices.
EXACT_SEARCH_MAX = 5_000
# A filter allowing at most this many vectors is scored exactly; above it the graph is over-fetched.
# At 1M: 20k allowed 4-8 ms exact vs 6-11 ms over-fetched, 50k 10-13 vs 2.3-2.8 ms; at 100k they cross
# near 12k (10k: 1.6 vs 2.0 ms), so 20k costs a 100k library at most ~2 ms.
FILTER_EXACT_MAX = 20_000
# A filter passing a fraction f asks the graph for OVER_FETCH * k / f results; at 100k with 2-50%
# allowed, 2 gave recall@10 0.966-0.999, 4 gave 0.991-1.0, 8 gave 1.0.
OVER_FETCH = 8
# Exact search re-scores the int8 copy's best min(k, RESCORE_TOP) + RESCORE_EXTRA in float32 (hnswlib's
# get_items: 20-36 us a vector, so all 500 of the app's results would cost 10-18 ms). At 100k and 1M x 1024-d a
# margin of 8 already gave recall@10 1.0 against float32 exact at every filter size, 0 gave 0.95-0.998
# (results/index_memory.json); 16 costs ~0.3 ms more than 8.
RESCORE_TOP = 50  # about the first screen of results
RESCORE_EXTRA = 16
ADD_CHUNK = 512  # vectors inserted per exclusive hold: 0.2-0.3 s at 1M on 2 cores, the longest a search waits
_MIN_CAPACITY = 1024
_MAX_LABEL = 2**31 - 1  # labels index a dense row table; catalog image ids stay far below this
_QUANTIZE_ROWS = 1 << 16
_SCORE_BLOCK_FLOATS = 1 << 18  # one BLAS call per block: small calls stay single-threaded (see _exact)


class SearchableVectors:
    """Unit vectors (D,) labelled by image id, searched by inner product; see the module docstring."""

    def __init__(self, dim: int, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION, ef: int = HNSW_EF):
        """Empty vectors of `dim` dimensions in a graph of degree `m`."""
        self.dim = dim
        self.exact_search_max = EXACT_SEARCH_MAX
        self.filter_exact_max = FILTER_EXACT_MAX
        self.rescore_top, self.rescore_extra = RESCORE_TOP, RESCORE_EXTRA
        self._ef = ef
        self._hnsw = hnswlib.Index(space="ip", dim=dim)
        self._hnsw.init_index(max_elements=_MIN_CAPACITY, M=m, ef_construction=ef_construction)
        self._hnsw.set_ef(ef)
        self._n = 0  # rows in use; row r holds label _labels[r], inserted r-th
        self._live = 0  # rows not marked removed
        self._labels = np.zeros(_MIN_CAPACITY, np.int64)  # (capacity,)
        # (capacity, D) int8 codes and (capacity,) scales of what the graph holds (vector ~= codes * scale):
        # hnswlib's get_items takes 20-36 us a vector (a 20k filter read through it: 1.3-1.8 s), so exact search
        # reads this instead: +24% of the graph's memory (1.0 GB at 1M x 1024-d; the float32 copy was 3.9 GB).
        self._codes = np.zeros((_MIN_CAPACITY, dim), np.int8)
        self._scales = np.zeros(_MIN_CAPACITY, np.float32)
        self._alive = np.zeros(_MIN_CAPACITY, bool)  # (capacity,) False once marked removed
        self._row_of = np.full(_MIN_CAPACITY, -1, np.int32)  # label -> row, -1 when absent
        self._lock = _SharedLock()  # searches share it; changes to the graph or the rows take it alone
        self._write_lock = threading.Lock()  # one writer or save at a time; a save only reads, so searches go on

    def _replace_rows(self, graph: hnswlib.Index, labels: np.ndarray, codes: np.ndarray, scales: np.ndarray,
                      deleted: np.ndarray) -> None:
        """Take over a loaded graph with its (N,) labels and their int8 copy ((N, D) codes, (N,) scales;
        see `quantized`), `deleted` labels hidden."""
        count = len(labels)
        graph.set_ef(self._ef)  # hnswlib does not save ef
        self._hnsw, self._n = graph, count
        self._labels = labels.astype(np.int64, copy=False)
        self._codes, self._scales = codes.astype(np.int8, copy=False), scales.astype(np.float32, copy=False)
        self._alive = np.ones(count, bool)
        self._row_of = np.full(int(labels.max(initial=0)) + 1, -1, np.int32)
        self._row_of[labels] = np.arange(count, dtype=np.int32)
        self._alive[self._rows_of(deleted)] = False
        self._live = int(self._alive.sum())

    # --- size -------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Searchable vectors (removed ones excluded)."""
        return self._live

    @property
    def ef(self) -> int:
        """The graph search's beam width (hnswlib searches with max(ef, k))."""
        return self._ef

    @ef.setter
    def ef(self, value: int) -> None:
        with self._write_lock, self._lock.exclusive():
            self._ef = value
            self._hnsw.set_ef(value)

    @property
    def total(self) -> int:
        """Vectors held, removed ones included (they cost memory until a rebuild)."""
        return self._n

    def labels(self, removed: bool = False) -> np.ndarray:
        """(N,) int64 labels of live vectors, or of removed ones."""
        with self._lock.shared():
            alive = self._alive[: self._n]
            return self._labels[: self._n][~alive if removed else alive].copy()

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
        vectors = vectors[::-1][first]
        for start in range(0, len(ids), ADD_CHUNK):
            with self._write_lock, self._lock.exclusive():
                self._add_locked(ids[start : start + ADD_CHUNK], vectors[start : start + ADD_CHUNK])

    def _add_locked(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._grow_rows_table(int(ids.max()) + 1)
        rows = self._row_of[ids].astype(np.int64)
        new = rows < 0
        fresh, revived = int(new.sum()), int((~self._alive[rows[~new]]).sum())
        self._ensure_capacity(self._n + fresh)
        self._hnsw.add_items(vectors, ids)  # updates existing labels and unmarks removed ones
        rows[new] = np.arange(self._n, self._n + fresh)
        self._n, self._live = self._n + fresh, self._live + fresh + revived
        self._row_of[ids] = rows
        self._labels[rows], self._alive[rows] = ids, True
        self._codes[rows], self._scales[rows] = quantized(vectors)

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
            rows = rows[self._alive[rows] != alive]
            for label in self._labels[rows].tolist():
                (self._hnsw.unmark_deleted if alive else self._hnsw.mark_deleted)(label)
            self._alive[rows] = alive
            self._live += len(rows) if alive else -len(rows)
        return len(rows)

    def _grow_rows_table(self, size: int) -> None:
        if size > len(self._row_of):
            grown = np.full(max(size, 2 * len(self._row_of)), -1, np.int32)
            grown[: len(self._row_of)] = self._row_of
            self._row_of = grown

    def _ensure_capacity(self, needed: int) -> None:
        """Double the graph and the row arrays until `needed` rows fit (under the exclusive lock)."""
        if needed > self._hnsw.get_max_elements():
            self._hnsw.resize_index(max(needed, 2 * self._hnsw.get_max_elements()))
        if needed > len(self._labels):
            size = max(needed, 2 * len(self._labels))
            self._labels = _grown(self._labels, size)
            self._codes = _grown(self._codes, size)
            self._scales = _grown(self._scales, size)
            self._alive = _grown(self._alive, size)

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the labels that are in the index (unknown labels dropped)."""
        ids = ids[(ids >= 0) & (ids < len(self._row_of))]
        rows = self._row_of[ids]
        return rows[rows >= 0].astype(np.int64)

    # --- searching --------------------------------------------------------------------------
    def search(
        self, query: np.ndarray, k: int, allowed_ids: Collection[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best-first (ids, inner-product scores) for a (D,) query -> (k,), or (Q, D) -> (Q, k).

        Fewer than k come back when fewer are searchable. `allowed_ids` restricts results to those
        labels (a filter): small sets are scored exactly, large ones over-fetched from the graph.
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
                return self._exact(queries, self._live_rows(), k)
            return self._graph(queries, min(k, self._live))
        allowed = self._allowed_mask(allowed_ids)  # (rows,) bool
        count = int(np.count_nonzero(allowed))
        if count <= self.filter_exact_max:
            return self._exact(queries, np.flatnonzero(allowed), k)
        return self._over_fetch(queries, k, allowed, count)

    def _live_rows(self) -> np.ndarray:
        return np.flatnonzero(self._alive[: self._n])

    def _allowed_mask(self, allowed_ids) -> np.ndarray:
        """(rows,) True where the row's label is allowed and live; a mask, as sorting a big set is slow."""
        ids = allowed_ids if isinstance(allowed_ids, np.ndarray) else np.fromiter(allowed_ids, np.int64, len(allowed_ids))
        allowed = np.zeros(self._n, bool)
        allowed[self._rows_of(ids.astype(np.int64, copy=False))] = True
        return allowed & self._alive[: self._n]

    def _exact(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best k of `rows`: scored on the int8 copy, its best min(k, rescore_top) + rescore_extra
        re-scored with the graph's float32 vectors, then ranked on the scores so mended."""
        k = min(k, len(rows))
        scores = self._approximate(queries, rows)  # (Q, R)
        pool = _best_first(scores, min(len(rows), min(k, self.rescore_top) + self.rescore_extra))  # (Q, P)
        np.put_along_axis(scores, pool, self._rescored(queries, self._labels[rows[pool]]), axis=1)
        best = _best_first(scores, k)
        return self._labels[rows[best]], np.take_along_axis(scores, best, axis=1)

    def _approximate(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(Q, R) inner products with the int8 copy of `rows`, in blocks: each block's BLAS call is small
        enough to stay on one thread, since waking OpenBLAS's second thread cost ~8 ms a call here while
        the indexer was busy."""
        scores = np.empty((len(queries), len(rows)), np.float32)  # (Q, R)
        block = max(1, _SCORE_BLOCK_FLOATS // self.dim)
        for start in range(0, len(rows), block):
            part = rows[start : start + block]
            scores[:, start : start + block] = (queries @ self._codes[part].T.astype(np.float32)) * self._scales[part]
        return scores

    def _rescored(self, queries: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(Q, P) float32 inner products of each query with its (Q, P) labels' vectors, read from the graph."""
        if not labels.size:
            return np.zeros(labels.shape, np.float32)
        unique, inverse = np.unique(labels, return_inverse=True)
        vectors = np.asarray(self._hnsw.get_items(unique, return_type="numpy"), np.float32)  # (U, D)
        return np.einsum("qd,qpd->qp", queries, vectors[inverse.reshape(labels.shape)])

    def _graph(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            labels, distances = self._hnsw.knn_query(queries, k=k)  # (Q, k) each; ip distance = 1 - dot
        except RuntimeError:  # fewer than k reachable: removals cut the graph apart; brute force is right
            return self._exact(queries, self._live_rows(), k)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def _over_fetch(self, queries: np.ndarray, k: int, allowed: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Ask the graph for more than k until each query has k allowed results. With a fraction f
        allowed, the k-th allowed result sits near rank k / f; asking for OVER_FETCH times that also
        widens the beam (hnswlib searches with max(ef, k)), which keeps ranks that deep accurate."""
        k = min(k, count)
        fetch = min(self._live, max(self._ef, -(-OVER_FETCH * k * self._live // count)))
        while True:
            labels, scores = self._graph(queries, fetch)  # (Q, fetch)
            keep = allowed[self._row_of[labels]]
            if (keep.sum(axis=1) >= k).all():
                break
            if fetch >= self._live:
                return self._exact(queries, np.flatnonzero(allowed), k)
            fetch = min(self._live, 4 * fetch)
        first = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the k best allowed, still best-first
        return np.take_along_axis(labels, first, axis=1), np.take_along_axis(scores, first, axis=1)


    def _has(self, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(self._row_of))
        return inside & (self._row_of[np.where(inside, ids, 0)] >= 0)


# --- small helpers ----------------------------------------------------------------------------
def quantized(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) int8 codes and (N,) float32 scales with vectors ~= codes * scale: each row's largest
    |value| maps to 127 (per-vector scale: the rows of unit vectors differ in their largest value)."""
    codes, scales = np.empty(np.shape(vectors), np.int8), np.empty(len(vectors), np.float32)
    for start in range(0, len(vectors), _QUANTIZE_ROWS):  # in blocks: a whole float32 temporary at 1M is 3.6 GB
        block = np.asarray(vectors[start : start + _QUANTIZE_ROWS], np.float32)
        scale = np.abs(block).max(axis=1, initial=0.0) / 127.0
        scale[scale == 0] = 1.0
        codes[start : start + len(block)] = np.rint(block / scale[:, None])
        scales[start : start + len(block)] = scale
    return codes, scales


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
