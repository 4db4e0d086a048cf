"""The per-model HNSW index over mapped image vectors: labels are catalog image ids, kept in step with the catalog.

One index per (bundle, image encoder, image mapper), so switching models never mixes vectors and
switching back loads instead of rebuilding. On disk, in `paths.data_dir() / "index"`:

    <key>.<first>-<stop>.usearch  a segment: the float16 usearch graph of rows [first, stop), keyed by
                                  row; written once, opened as a read-only memory map
    <key>.<generation>.npz        labels (N,) int64 of the saved rows and each row's slot (N,) int32
                                  in its segment's vector block
    <key>.json                    written last: format version, parameters, counts, hidden labels, the
                                  catalog it was built from (its id), and the generation, size and
                                  CRC-32 of every file it stands for

A save writes the rows added since the last one as a new segment, merges the newest segments
when together they outgrow an older one (`merge_start`), then swaps the JSON in, so a crash at any
point leaves the old files whole and referenced; unreferenced files are deleted on the next save.
A missing, stale or corrupt index, one built from another catalog (a rebuilt or restored catalog,
an index copied in from elsewhere), or an hnswlib index of format 2 or 3 is rebuilt from the
catalog's features with the reason in `rebuild_reason`. A save that finds too little disk space
writes nothing and says so; the old files stay.

The vectors themselves, their searches and their changes are `desktop/core/vector_search.py`;
this module adds the files, the binding to a catalog and the sync with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.core import index_rebuild
from desktop.core.vector_search import (  # noqa: F401 (re-exported: the benchmarks read the tuning here)
    EXACT_SEARCH_MAX,
    FILTER_EXACT_MAX,
    HNSW_EF,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    SearchableVectors,
)
from desktop.core.vector_segments import SavedSegment, Tail, merge_start, merged_file
from models import paths
from models.atomic import write_file_atomic, write_text_atomic
from models.errors import DiskFullError, PicsiftError, is_disk_full
from models.manifest import IMAGE_ENCODER, IMAGE_MAPPER, Manifest

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: bound to its catalog (catalog_id); 3: an int8 copy beside hnswlib's graph; 4: usearch segments
_READABLE_VERSIONS = (4,)
_OLD_VERSIONS = (2, 3)  # hnswlib indexes: rebuilt from the catalog once


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


class VectorIndex(SearchableVectors):
    """The searchable vectors of one model, saved beside the catalog they were built from; see the module docstring."""

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
        super().__init__(dim, m=m, ef_construction=ef_construction, ef=ef)
        self.stem = stem
        self.encoder_id = encoder_id
        self.bundle = bundle
        self.catalog_id = catalog_id  # the catalog whose image ids label these vectors
        self.max_image_id = 0  # every catalog image up to this id has been looked at by a sync
        self.rebuild_reason: str | None = None  # why `open` rebuilt instead of loading, None if it loaded
        self._generation = 0
        self._sync_lock = threading.Lock()  # one sync at a time; two would map and add the same rows

    # --- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, catalog, runtime, folder: str | Path | None = None, closing: threading.Event | None = None) -> VectorIndex:
        """Load the runtime's index (or rebuild it from the catalog, saying why), then sync it; saved after
        a rebuild or a change unless `closing` is set by then (the app quits without waiting for a
        save; the next open syncs the same again)."""
        manifest = runtime.manifest
        stem = Path(folder or index_dir()) / index_key(manifest)
        try:
            index = cls.load(stem, manifest, catalog)
        except IndexUnusable as exc:
            log.warning("%s: rebuilding the search index from the catalog: %s", stem, exc)
            big = cls._rebuilds_in_child(catalog, runtime)
            index = cls._rebuilt_in_child(stem, catalog, runtime, closing) if big else None
            if index is None:
                index = cls(manifest.embedding_dim, stem, encoder_id=manifest.image_encoder_id, bundle=manifest.name,
                            catalog_id=catalog.catalog_id)
            index.rebuild_reason = str(exc)
            if big and closing is not None and closing.is_set():
                return index  # quitting stopped the child: the next start rebuilds
        result = index.sync_from_catalog(catalog, runtime)
        if (index.rebuild_reason is not None or result.changed) and not (closing and closing.is_set()):
            try:
                index.save()  # a rebuild can take minutes at scale: never redo it after a crash
            except PicsiftError as exc:  # a full disk: search from memory now, save on a later run
                log.warning("%s: the search index was not saved: %s", stem, exc)
        return index

    @staticmethod
    def _rebuilds_in_child(catalog, runtime) -> bool:
        """A library big enough that its rebuild goes to a child process (a catalog on disk only)."""
        return getattr(catalog, "path", None) is not None and \
            catalog.count_features(runtime.manifest.image_encoder_id) >= index_rebuild.REBUILD_IN_CHILD_MIN

    @classmethod
    def _rebuilt_in_child(cls, stem: Path, catalog, runtime, closing: threading.Event | None) -> VectorIndex | None:
        """A big library's rebuild, done and saved by a child process (its save would stall this one), then
        opened; None when the child failed or was stopped."""
        if not index_rebuild.rebuild_in_child(catalog.path, runtime.bundle.folder, stem.parent, closing):
            return None
        try:
            return cls.load(stem, runtime.manifest, catalog)
        except IndexUnusable as exc:
            log.warning("%s: the index the child process rebuilt cannot be opened (%s); rebuilding here", stem, exc)
            return None

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
        rows_file = _checked_file(self.stem, meta["files"]["rows"])
        try:
            with np.load(rows_file) as arrays:
                labels, slots = arrays["labels"], arrays["slots"]  # (N,) int64, (N,) int32
            segments = []
            for info in meta["files"]["segments"]:
                start, count = info["start"], info["count"]
                if start != sum(len(s) for s in segments) or count < 1 or start + count > len(labels):
                    raise ValueError(f"segment {info['name']} does not continue the rows")
                segments.append(SavedSegment(_checked_file(self.stem, info), start, slots[start : start + count], self.dim))
        except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexUnusable(f"the index files cannot be read ({exc})") from exc
        if labels.shape != (meta["rows"],) or sum(len(s) for s in segments) != len(labels):
            raise IndexUnusable(f"the index files disagree with their metadata (expected {meta['rows']} rows)")
        self._replace_rows(segments, labels, np.ones(len(labels), bool))
        alive = self._current()  # retired rows (a label added again) are never searched
        alive[self._rows_of(np.asarray(meta["deleted"], np.int64))] = False
        self._alive, self._live = alive, int(alive.sum())
        self.max_image_id = meta["max_image_id"]
        self._generation = meta["generation"]

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
    def save(self, cancel: threading.Event | None = None) -> None:
        """Write the rows added since the last save as a segment, merge segments when due (skipped
        once `cancel` is set), then swap in the JSON that names the files."""
        if self.stem is None:
            raise ValueError("this index has no file to save to")
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock:  # no change while writing; a save only reads, like a search
            try:
                self._check_room(len(self._tail))
                if len(self._tail):
                    self._flush_tail()
                first = merge_start([len(s) for s in self._segments])
                if first < len(self._segments) - 1 and not (cancel and cancel.is_set()) \
                        and self._has_room(sum(len(s) for s in self._segments[first:])):
                    self._merge(first, cancel)
                generation = self._generation + 1
                files = {"rows": self._write_rows(generation), "segments": [self._file_info(s) for s in self._segments]}
                write_text_atomic(self.stem.with_suffix(".json"), json.dumps(self._meta(generation, files), indent=1) + "\n")
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError.at(self.stem.parent, self._bytes_needed(len(self._tail))) from exc
                raise
            self._generation = generation
            self._delete_unreferenced()

    def _segment_path(self, start: int, stop: int) -> Path:
        return self.stem.parent / f"{self.stem.name}.{start}-{stop}.usearch"

    def _flush_tail(self) -> None:
        """Write the tail as a segment file and search that file from now on (its memory is freed)."""
        tail, path = self._tail, self._segment_path(self._tail.start, self._tail.stop)
        saved = SavedSegment(path, tail.start, tail.save_as(path), self.dim)
        with self._lock.exclusive():
            self._segments.append(saved)
            self._tail = Tail(self.dim, tail.stop, m=self.m, ef_construction=self.ef_construction)

    def _merge(self, first: int, cancel: threading.Event | None) -> None:
        """Rebuild segments[first:] as one (minutes at a million rows: searches go on meanwhile); a big merge
        runs in a child process, whose save stalls nothing here."""
        run, started = self._segments[first:], time.monotonic()
        path, rows = self._segment_path(run[0].start, run[-1].stop), sum(len(s) for s in run)
        tuning = {"m": self.m, "ef_construction": self.ef_construction, "cancel": cancel}
        slots = index_rebuild.merge_in_child(run, path, **tuning) if rows >= index_rebuild.REBUILD_IN_CHILD_MIN else None
        if slots is None and not (cancel and cancel.is_set()):
            slots = merged_file(run, path, self.dim, **tuning)
        if slots is None:
            return
        saved = SavedSegment(path, run[0].start, slots, self.dim)
        with self._lock.exclusive():
            self._segments = [*self._segments[:first], saved]
        for old in run:
            old.close()
        log.info("%s: %d segments merged into %d rows in %.1f s", self.stem, len(run), len(saved), time.monotonic() - started)

    def _file_info(self, segment: SavedSegment) -> dict:
        return {"start": segment.start, "count": len(segment), **_file_record(segment.path)}

    def _write_rows(self, generation: int) -> dict:
        final = self.stem.parent / f"{self.stem.name}.{generation}.npz"
        slots = np.concatenate([s.slots for s in self._segments]) if self._segments else np.zeros(0, np.int32)

        def write(path: Path) -> None:
            with open(path, "wb") as handle:
                np.savez(handle, labels=self._labels[: self._n], slots=slots.astype(np.int32))

        write_file_atomic(final, write)
        return _file_record(final)

    def _bytes_needed(self, rows: int) -> int:
        from models.hub_catalog import index_bytes_per_photo  # here: it imports onnx (1.4 s), which start-up need not wait for

        return rows * index_bytes_per_photo(self.dim, self.m) + self._n * 12 + (1 << 20)

    def _has_room(self, rows: int) -> bool:
        return shutil.disk_usage(self.stem.parent).free >= self._bytes_needed(rows)

    def _check_room(self, rows: int) -> None:
        """Refuse a save the disk cannot hold before writing a byte."""
        if not self._has_room(rows):
            raise DiskFullError.at(self.stem.parent, self._bytes_needed(rows))

    def _meta(self, generation: int, files: dict) -> dict:
        current, alive = self._current(), self._alive[: self._n]
        return {
            "format_version": FORMAT_VERSION,
            "bundle": self.bundle,
            "encoder_id": self.encoder_id,
            "catalog_id": self.catalog_id,
            "dim": self.dim,
            "M": self.m,
            "ef_construction": self.ef_construction,
            "count": int(current.sum()),
            "rows": self._n,
            "max_image_id": self.max_image_id,
            "deleted": self._labels[: self._n][current & ~alive].tolist(),
            "generation": generation,
            "files": files,
            "saved_at": time.time(),
        }

    def _delete_unreferenced(self) -> None:
        """Remove older files and temp files a crashed save left (under the write lock)."""
        keep = {f"{self.stem.name}.{self._generation}.npz", *(self._segment_path(s.start, s.stop).name for s in self._segments)}
        for path in [*self.stem.parent.glob(f"{self.stem.name}.*"), *self.stem.parent.glob(f".{self.stem.name}.*.tmp")]:
            if path.suffix in {".hnsw", ".npz", ".usearch", ".tmp"} and path.name not in keep:
                try:
                    path.unlink(missing_ok=True)
                except OSError:  # still mapped (Windows): the next save deletes it
                    pass


# --- loading helpers --------------------------------------------------------------------------
def _read_meta(path: Path) -> dict:
    if not path.exists():
        raise IndexUnusable("no saved index for this model yet")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format_version") in _OLD_VERSIONS:
            raise IndexUnusable("the index was saved by an older picsift (an hnswlib graph); it is rebuilt once, in a "
                                "form that takes half the memory and opens at once")
        if meta.get("format_version") not in _READABLE_VERSIONS:
            raise IndexUnusable(f"the index format is version {meta.get('format_version')}, this picsift writes {FORMAT_VERSION}")
        for field, kind in (("format_version", int), ("dim", int), ("encoder_id", str), ("catalog_id", str), ("count", int),
                            ("rows", int), ("max_image_id", int), ("deleted", list), ("generation", int), ("files", dict)):
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


def _checked_file(stem: Path, info: dict) -> Path:
    """The file the metadata names, after checking its size and CRC-32 (a damaged graph may crash its reader)."""
    try:
        path = stem.parent / info["name"]
        size, crc = path.stat().st_size, None
        if size == info["bytes"]:
            crc = _crc32(path)
    except (KeyError, TypeError, OSError) as exc:
        raise IndexUnusable(f"the index file {info.get('name') if isinstance(info, dict) else info!r} is missing ({exc})") from exc
    if size != info["bytes"]:
        raise IndexUnusable(f"{path.name} is truncated or was changed ({size} bytes, expected {info['bytes']})")
    if crc != info["crc32"]:
        raise IndexUnusable(f"{path.name} is corrupt (checksum mismatch)")
    return path


def _file_record(path: Path) -> dict:
    return {"name": path.name, "bytes": path.stat().st_size, "crc32": _crc32(path)}


def _crc32(path: Path) -> int:
    """CRC-32 of a file: ~0.25 s per 1.5 GB (zlib releases the GIL), against unchecked reads of a damaged graph."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc
