"""The per-model HNSW index over mapped image vectors: labels are catalog image ids, kept in step with the catalog.

One index per (bundle, image encoder, image mapper), so switching models never mixes vectors and
switching back loads instead of rebuilding. On disk, in `paths.data_dir() / "index"`:

    <key>.<generation>.hnsw   the hnswlib graph with its float32 vectors
    <key>.<generation>.npz    labels (N,) int64 and a float32 copy of the vectors (N, D) for exact search
    <key>.json                written last: format version, parameters, counts, deleted labels, the
                              catalog it was built from (its id), and the generation, size and
                              CRC-32 of the two files it stands for

A save writes a new generation and then swaps the JSON in, so a crash at any point leaves the old
generation whole and referenced; unreferenced files are deleted on the next save. A missing, stale
or corrupt index, or one built from another catalog (a rebuilt or restored catalog, an index copied
in from elsewhere), is rebuilt from the catalog's features with the reason in `rebuild_reason`.
A save that finds too little disk space writes nothing and says so; the old generation stays.

Searches run concurrently with each other and with a save; adds, removals and growth take the
index exclusively (hnswlib: "knn_query: thread-safe with other knn_query calls, but not with
add_items"; resize_index is safe with neither), a chunk of ADD_CHUNK vectors at a time so a
search waits at most one chunk while the indexer adds.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import threading
import time
import zlib
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np

from models import paths
from models.atomic import write_file_atomic, write_text_atomic
from models.errors import DiskFullError, PicsiftError, is_disk_full
from models.manifest import IMAGE_ENCODER, IMAGE_MAPPER, Manifest

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: bound to its catalog (catalog_id)
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
ADD_CHUNK = 512  # vectors inserted per exclusive hold: 0.2-0.3 s at 1M on 2 cores, the longest a search waits
_MIN_CAPACITY = 1024
_MAX_LABEL = 2**31 - 1  # labels index a dense row table; catalog image ids stay far below this
_SCORE_BLOCK_FLOATS = 1 << 18  # one BLAS call per block: small calls stay single-threaded (see _exact)


class IndexUnusable(Exception):
    """The saved index cannot be used as it is; the message says why (it becomes `rebuild_reason`)."""


@dataclass(frozen=True)
class SyncResult:
    """What one `sync_from_catalog` changed."""

    added: int = 0  # vectors inserted (new images, or images whose features arrived late)
    removed: int = 0  # labels marked deleted: no live file shows the image any more
    restored: int = 0  # deleted labels whose image is shown by a file again

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.restored)


def index_key(manifest: Manifest) -> str:
    """File stem for a bundle's index: its name and a hash of what makes its image vectors."""
    identity = "\n".join([manifest.image_encoder_id, manifest.files[IMAGE_ENCODER], manifest.files[IMAGE_MAPPER]])
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in manifest.name)
    return f"{name}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def index_dir() -> Path:
    return paths.data_dir() / "index"


class VectorIndex:
    """Unit vectors (D,) labelled by image id, searched by inner product; see the module docstring."""

    def __init__(
        self,
        dim: int,
        stem: Path | None = None,
        *,
        encoder_id: str = "",
        bundle: str = "",
        catalog_id: str = "",
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef: int = HNSW_EF,
    ):
        """An empty index; `stem` is folder / key (no suffix), None for one that is never saved."""
        self.dim = dim
        self.stem = stem
        self.encoder_id = encoder_id
        self.bundle = bundle
        self.catalog_id = catalog_id  # the catalog whose image ids label these vectors
        self.max_image_id = 0  # every catalog image up to this id has been looked at by a sync
        self.rebuild_reason: str | None = None  # why `open` rebuilt instead of loading, None if it loaded
        self.exact_search_max = EXACT_SEARCH_MAX
        self.filter_exact_max = FILTER_EXACT_MAX
        self._generation = 0
        self._ef = ef
        self._hnsw = hnswlib.Index(space="ip", dim=dim)
        self._hnsw.init_index(max_elements=_MIN_CAPACITY, M=m, ef_construction=ef_construction)
        self._hnsw.set_ef(ef)
        self._n = 0  # rows in use; row r holds label _labels[r], inserted r-th
        self._live = 0  # rows not marked removed
        self._labels = np.zeros(_MIN_CAPACITY, np.int64)  # (capacity,)
        # (capacity, D) a copy of what the graph holds: hnswlib's get_items took ~38 us a vector here
        # (0.76 s for a 20k filter), so exact search reads this instead, at +90% of the graph's memory.
        self._vectors = np.zeros((_MIN_CAPACITY, dim), np.float32)
        self._alive = np.zeros(_MIN_CAPACITY, bool)  # (capacity,) False once marked removed
        self._row_of = np.full(_MIN_CAPACITY, -1, np.int32)  # label -> row, -1 when absent
        self._lock = _SharedLock()  # searches share it; changes to the graph or the rows take it alone
        self._write_lock = threading.Lock()  # one writer or save at a time; a save only reads, so searches go on
        self._sync_lock = threading.Lock()  # one sync at a time; two would map and add the same rows

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, catalog, runtime, folder: str | Path | None = None) -> VectorIndex:
        """Load the runtime's index (or rebuild it from the catalog, saying why), then sync it."""
        manifest = runtime.manifest
        stem = Path(folder or index_dir()) / index_key(manifest)
        try:
            index = cls.load(stem, manifest, catalog)
        except IndexUnusable as exc:
            log.warning("%s: rebuilding the search index from the catalog: %s", stem, exc)
            index = cls(manifest.embedding_dim, stem, encoder_id=manifest.image_encoder_id, bundle=manifest.name,
                        catalog_id=catalog.catalog_id)
            index.rebuild_reason = str(exc)
        result = index.sync_from_catalog(catalog, runtime)
        if index.rebuild_reason is not None or result.changed:
            try:
                index.save()  # a rebuild can take minutes at scale: never redo it after a crash
            except PicsiftError as exc:  # a full disk: search from memory now, save on a later run
                log.warning("%s: the search index was not saved: %s", stem, exc)
        return index

    @classmethod
    def load(cls, stem: Path, manifest: Manifest, catalog=None) -> VectorIndex:
        """Load a saved index; raises IndexUnusable when it is missing, stale, corrupt or, with a
        `catalog`, built from another catalog or from a later state of this one."""
        meta = _read_meta(stem.with_suffix(".json"))
        _check_compatible(meta, manifest)
        if catalog is not None:
            _check_bound(meta, catalog)
        index = cls(meta["dim"], stem, encoder_id=meta["encoder_id"], bundle=manifest.name, catalog_id=meta["catalog_id"])
        index._restore(meta)
        return index

    def _restore(self, meta: dict) -> None:
        files = {part: _checked_file(self.stem, meta, part) for part in ("hnsw", "vectors")}
        graph = hnswlib.Index(space="ip", dim=self.dim)
        try:
            graph.load_index(str(files["hnsw"]))
            with np.load(files["vectors"]) as arrays:
                labels, vectors = arrays["labels"], arrays["vectors"]  # (N,) int64, (N, D) float32
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            raise IndexUnusable(f"the index files cannot be read ({exc})") from exc
        count = meta["count"]
        if graph.element_count != count or labels.shape != (count,) or vectors.shape != (count, self.dim):
            raise IndexUnusable(f"the index files disagree with their metadata (expected {count} vectors)")
        graph.set_ef(self._ef)  # hnswlib does not save ef
        self._hnsw, self._n = graph, count
        self._labels, self._vectors = labels.astype(np.int64, copy=False), vectors.astype(np.float32, copy=False)
        self._alive = np.ones(count, bool)
        self._row_of = np.full(int(labels.max(initial=0)) + 1, -1, np.int32)
        self._row_of[labels] = np.arange(count, dtype=np.int32)
        self._alive[self._rows_of(np.asarray(meta["deleted"], np.int64))] = False
        self._live = int(self._alive.sum())
        self.max_image_id = meta["max_image_id"]
        self._generation = meta["generation"]

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
        self._labels[rows], self._vectors[rows], self._alive[rows] = ids, vectors, True

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
            self._vectors = _grown(self._vectors, size)
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
        """Brute force over `rows`, in blocks: each block's BLAS call is small enough to stay on one
        thread, since waking OpenBLAS's second thread cost ~8 ms a call here while the indexer was busy.
        """
        k = min(k, len(rows))
        scores = np.empty((len(queries), len(rows)), np.float32)  # (Q, R)
        block = max(1, _SCORE_BLOCK_FLOATS // self.dim)
        for start in range(0, len(rows), block):
            scores[:, start : start + block] = queries @ self._vectors[rows[start : start + block]].T  # (Q, B)
        if k < len(rows):
            best = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (Q, k) unordered
        else:
            best = np.tile(np.arange(len(rows)), (len(queries), 1))
        best_scores = np.take_along_axis(scores, best, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        return self._labels[rows[np.take_along_axis(best, order, axis=1)]], np.take_along_axis(best_scores, order, axis=1)

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

    # --- keeping in step with the catalog --------------------------------------------------
    def sync_from_catalog(self, catalog, runtime) -> SyncResult:
        """Add images the index lacks, hide those no file shows any more, bring back those shown again.

        With nothing to do it costs two small queries and one pass over the catalog's live image ids
        (25 ms at 100k photos here).
        """
        if runtime.manifest.image_encoder_id != self.encoder_id:
            raise ValueError(f"this index holds {self.encoder_id!r} vectors, not {runtime.manifest.image_encoder_id!r}")
        if self.catalog_id and self.catalog_id != catalog.catalog_id:
            raise ValueError(f"this index belongs to catalog {self.catalog_id}, not {catalog.catalog_id}")
        self.catalog_id = catalog.catalog_id
        with self._sync_lock:
            newest = catalog.max_image_id()  # before `live`: an image above it may be missing from `live`
            added, top = self._add_features(catalog.features(self.encoder_id, after_id=self.max_image_id), runtime)
            self.max_image_id = max(self.max_image_id, newest, top)
            live = np.fromiter(catalog.live_image_ids(), np.int64)
            missing = live[~self._has(live)]  # older images whose features came later (a model switch)
            if len(missing):
                chunks = catalog.features(self.encoder_id, after_id=int(missing.min()) - 1, image_ids=missing.tolist())
                added += self._add_features(chunks, runtime)[0]
            gone = np.setdiff1d(self.labels(), live, assume_unique=True)
            removed = self.mark_removed(gone[gone <= newest])  # one added meanwhile is not gone
            restored = self.unmark_removed(np.intersect1d(self.labels(removed=True), live, assume_unique=True))
        result = SyncResult(added, removed, restored)
        if result.changed:
            log.info("%s: index synced with the catalog: %s", self.stem, result)
        return result

    def _has(self, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(self._row_of))
        return inside & (self._row_of[np.where(inside, ids, 0)] >= 0)

    def _add_features(self, chunks: Iterator[tuple[np.ndarray, np.ndarray]], runtime) -> tuple[int, int]:
        """Map (ids (N,), features (N, Di)) chunks into the shared space and add them; (count, max id)."""
        count, top, started = 0, 0, time.monotonic()
        for ids, features in chunks:
            self.add(ids, runtime.map_images(features))  # (N, D)
            count, top = count + len(ids), max(top, int(ids[-1]))
            if count % (16 * 4096) < len(ids):
                log.info("%s: %d vectors added (%.0f/s)", self.stem, count, count / max(time.monotonic() - started, 1e-9))
        return count, top

    # --- saving -----------------------------------------------------------------------------
    def save(self) -> None:
        """Write a new generation of the files, fsynced, then swap the JSON that names them in."""
        if self.stem is None:
            raise ValueError("this index has no file to save to")
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock:  # no change while writing; hnswlib's save only reads, like a search
            self._check_room()
            generation = self._generation + 1
            try:
                files = {
                    "hnsw": self._write(generation, "hnsw", self._write_graph),
                    "vectors": self._write(generation, "npz", self._write_vectors),
                }
                write_text_atomic(self.stem.with_suffix(".json"), json.dumps(self._meta(generation, files), indent=1) + "\n")
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError.at(self.stem.parent, self._bytes_needed()) from exc
                raise
            self._generation = generation
            self._delete_other_generations()

    def _bytes_needed(self) -> int:
        """What a save writes: the graph (vector, links and label per row) and the vector copy."""
        graph_row = 4 * self.dim + 4 * (2 * self._hnsw.M + 1) + 8 + 8  # level 0 + its link-list size field
        return self._n * (graph_row + 4 * self.dim + 8) + (1 << 20)

    def _check_room(self) -> None:
        """Refuse a save the disk cannot hold before writing a byte: hnswlib's writer does not
        report a full disk, it leaves a short file."""
        if shutil.disk_usage(self.stem.parent).free < self._bytes_needed():
            raise DiskFullError.at(self.stem.parent, self._bytes_needed())

    def _write_graph(self, path: Path) -> None:
        self._hnsw.save_index(str(path))
        level0 = self._n * (4 * self.dim + 4 * (2 * self._hnsw.M + 1) + 8)  # what any whole file holds at least
        if path.stat().st_size < level0:
            raise OSError(errno.ENOSPC, f"the graph was written short ({path.stat().st_size} of >= {level0} bytes)")

    def _write(self, generation: int, suffix: str, write) -> dict:
        """Write one file through a temp name, fsync it, rename it in; returns its name, size and CRC."""
        final = self.stem.parent / f"{self.stem.name}.{generation}.{suffix}"
        write_file_atomic(final, write)
        return {"name": final.name, "bytes": final.stat().st_size, "crc32": _crc32(final)}

    def _write_vectors(self, path: Path) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, labels=self._labels[: self._n], vectors=self._vectors[: self._n])

    def _meta(self, generation: int, files: dict) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "bundle": self.bundle,
            "encoder_id": self.encoder_id,
            "catalog_id": self.catalog_id,
            "dim": self.dim,
            "M": self._hnsw.M,
            "ef_construction": self._hnsw.ef_construction,
            "count": self._n,
            "max_image_id": self.max_image_id,
            "deleted": self._labels[: self._n][~self._alive[: self._n]].tolist(),
            "generation": generation,
            "files": files,
            "saved_at": time.time(),
        }

    def _delete_other_generations(self) -> None:
        """Remove older generations and temp files a crashed save left (under the write lock)."""
        keep = {f"{self.stem.name}.{self._generation}.hnsw", f"{self.stem.name}.{self._generation}.npz"}
        for path in [*self.stem.parent.glob(f"{self.stem.name}.*"), *self.stem.parent.glob(f".{self.stem.name}.*.tmp")]:
            if path.suffix in {".hnsw", ".npz", ".tmp"} and path.name not in keep:
                path.unlink(missing_ok=True)


# --- loading helpers --------------------------------------------------------------------------
def _read_meta(path: Path) -> dict:
    if not path.exists():
        raise IndexUnusable("no saved index for this model yet")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise IndexUnusable(f"the index format is version {meta.get('format_version')}, this picsift writes {FORMAT_VERSION}")
        for field, kind in (("format_version", int), ("dim", int), ("encoder_id", str), ("catalog_id", str), ("count", int),
                            ("max_image_id", int), ("deleted", list), ("generation", int), ("files", dict)):
            if not isinstance(meta[field], kind):
                raise TypeError(f"{field} is not {kind.__name__}")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexUnusable(f"the index metadata {path.name} is unreadable ({exc!r})") from exc
    return meta


def _check_compatible(meta: dict, manifest: Manifest) -> None:
    if meta["dim"] != manifest.embedding_dim:
        raise IndexUnusable(f"the index holds {meta['dim']}-d vectors, the model makes {manifest.embedding_dim}-d")
    if meta["encoder_id"] != manifest.image_encoder_id:
        raise IndexUnusable("the index was built with another image encoder or preprocessing")


def _check_bound(meta: dict, catalog) -> None:
    """The index labels are the image ids of one catalog, at or before its present state."""
    if meta["catalog_id"] != catalog.catalog_id:
        raise IndexUnusable("the index was built from another catalog (the catalog was rebuilt, or the index copied in)")
    if meta["max_image_id"] > catalog.max_image_id() or meta["count"] > catalog.count_features(meta["encoder_id"]):
        raise IndexUnusable("the index holds photos this catalog does not have (the catalog is older than the index)")


def _checked_file(stem: Path, meta: dict, part: str) -> Path:
    """The file the metadata names, after checking its size and CRC-32 (hnswlib may crash on a bad one)."""
    try:
        info = meta["files"][part]
        path = stem.parent / info["name"]
        size, crc = path.stat().st_size, None
        if size == info["bytes"]:
            crc = _crc32(path)
    except (KeyError, TypeError, OSError) as exc:
        raise IndexUnusable(f"the index file for {part!r} is missing ({exc})") from exc
    if size != info["bytes"]:
        raise IndexUnusable(f"{path.name} is truncated or was changed ({size} bytes, expected {info['bytes']})")
    if crc != info["crc32"]:
        raise IndexUnusable(f"{path.name} is corrupt (checksum mismatch)")
    return path


def _crc32(path: Path) -> int:
    """CRC-32 of a file: ~0.25 s per 1.5 GB, against hnswlib's unchecked reads of a damaged graph."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc


# --- small helpers ----------------------------------------------------------------------------
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
