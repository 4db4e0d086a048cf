"""Index library folders: scan by stat, read and hash, decode in parallel, encode in batches, commit.

`Indexer.run()` is a plain generator of `IndexProgress` (the CLI wraps it in tqdm, the app in a
Qt worker) that checks a cancel flag between files. Decoding runs on a thread pool a window
ahead of the model, so decoding the next batch overlaps inference on this one (Pillow and ONNX
Runtime both release the GIL). Each batch is committed in one transaction, so a crash or kill
loses at most the batch in flight and the next run resumes where this one stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from desktop.core.catalog import Catalog, NewImage
from desktop.core.index_lock import IndexLock
from desktop.core.scanner import FoundFile, ScanPlan, in_scope, plan_folder
from desktop.core.thumbnails import ThumbnailCache
from desktop.core.vector_index import VectorIndex
from models.errors import ImageError, PicsiftError
from models.photo_reader import read_photo
from models.places import place_at
from models.preprocess import preprocess
from models.runtime import ModelRuntime

log = logging.getLogger(__name__)

BATCH_SIZE = 32  # images per inference call: amortises session overhead, bounded memory (~20 MB)
INDEX_SAVE_INTERVAL_S = 30.0  # how often the HNSW index is saved while indexing, at least
# ...and at most this share of the time goes to saves. A save writes only the photos added since the last one
# (a new segment), but now and then merges segments, which rebuilds their graph (minutes at a million photos).
INDEX_SAVE_TIME_SHARE = 0.05
PROGRESS_INTERVAL_S = 0.2  # at most five progress reports a second: smooth bars, no signal flood


def default_decode_workers() -> int:
    """One decoding thread per core (at most 4): decoding is the slower stage on small machines."""
    return max(1, min(4, os.cpu_count() or 1))


def save_interval(last_save_s: float) -> float:
    """Seconds between saves while indexing, after a save that took `last_save_s`."""
    return max(INDEX_SAVE_INTERVAL_S, last_save_s / INDEX_SAVE_TIME_SHARE)


@dataclass
class IndexProgress:
    """Where an indexing run stands; `done`/`total` count files this run had to look at."""

    phase: str = "scanning"  # "scanning", "indexing", "done" or "cancelled"
    total: int = 0
    done: int = 0
    encoded: int = 0  # decoded and run through the image encoder
    reused: int = 0  # renamed, moved or copied: features reused, nothing decoded
    failed: int = 0
    removed: int = 0  # catalogued files that vanished from disk
    unchanged: int = 0
    images_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""
    offline_folders: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of this run, newest last

    def snapshot(self) -> IndexProgress:
        """A copy the GUI can read while the run goes on changing this one."""
        return replace(self, offline_folders=list(self.offline_folders), errors=list(self.errors))


@dataclass
class _Read:
    """A file after the worker thread saw it: hashed, and decoded unless its content is known."""

    found: FoundFile
    content_hash: str = ""
    known_image: int | None = None
    item: NewImage | None = None
    pixels: np.ndarray | None = None  # (3, S, S)
    error: str = ""


class Indexer:
    """Brings the catalog (and the model's vector index) in line with the library folders."""

    def __init__(
        self,
        catalog: Catalog,
        runtime: ModelRuntime,
        vector_index: VectorIndex | None = None,
        thumbnails: ThumbnailCache | None = None,
        batch_size: int = BATCH_SIZE,
        decode_workers: int | None = None,
    ):
        self.catalog = catalog
        self.runtime = runtime
        self.vector_index = vector_index
        self.thumbnails = thumbnails
        self.batch_size = batch_size
        self.decode_workers = decode_workers or default_decode_workers()
        self.encoder_id = runtime.manifest.image_encoder_id
        self._spec = runtime.manifest.image_preprocess
        self._encoded: dict[str, int] = {}
        self._last_save_s = 0.0  # how long the last save while indexing took

    def run(self, folder_ids: list[int] | None = None, cancel: threading.Event | None = None,
            scope: list[str] | None = None, writing: Collection[str] = ()) -> Iterator[IndexProgress]:
        """Index the folders (all by default); with a `scope` (files and folders that changed, as
        a watcher saw them), only those paths in them; files `writing` (still being written) are
        left for a later run. Raises BusyError when another process is indexing this library,
        CatalogDamagedError before writing into a damaged catalog, DiskFullError when the disk
        fills (what was committed stays)."""
        with IndexLock(self.catalog.path):
            self.catalog.check_integrity()
            for progress in self._run(folder_ids, cancel or threading.Event(), scope, writing):
                yield progress.snapshot()

    def _run(self, folder_ids: list[int] | None, cancel: threading.Event, scope: list[str] | None = None,
             writing: Collection[str] = ()) -> Iterator[IndexProgress]:
        progress = IndexProgress()
        # content hash -> image id for everything already encoded by this model: a renamed,
        # moved or copied photo is recognised from its bytes and never decoded again.
        self._encoded = self.catalog.encoded_hashes(self.encoder_id)
        folders = [(fid, path) for fid, path in self.catalog.folders() if folder_ids is None or fid in folder_ids]
        plans = [self._plan(fid, path, progress, scope, writing) for fid, path in folders]
        progress.total = sum(len(p.to_read) for p in plans)
        progress.phase = "indexing"
        yield progress
        started = time.monotonic()
        for plan in plans:
            yield from self._index_plan(plan, progress, cancel, started)
            if cancel.is_set():
                break
        if self.vector_index is not None:
            self.vector_index.sync_from_catalog(self.catalog, self.runtime)
            if not cancel.is_set():  # a cancelled run (the app quitting) never waits for a save: the catalog
                self.vector_index.save()  # holds every vector, and the next open's sync adds what the file lacks
        progress.phase = "cancelled" if cancel.is_set() else "done"
        yield progress

    def _plan(self, folder_id: int, root: str, progress: IndexProgress, scope: list[str] | None,
              writing: Collection[str]) -> ScanPlan:
        plan = plan_folder(folder_id, root, self.catalog.file_states(folder_id), scope, writing)
        if plan.offline:
            progress.offline_folders.append(root)
            return plan
        for path, reason in plan.unreadable_dirs:
            self.catalog.record_error(path, folder_id, None, None, reason)
            progress.errors.append((path, reason))
        progress.removed += self.catalog.remove_files(plan.vanished)
        # Unchanged files indexed by another model's image encoder are encoded again for this one.
        queued = {found.path for found in plan.to_read}
        stale = [FoundFile(*row) for row in self.catalog.files_missing_features(folder_id, self.encoder_id)
                 if row[0] not in queued and (scope is None or in_scope(row[0], scope))]
        plan.to_read.extend(stale)
        progress.unchanged += plan.unchanged - len(stale)
        return plan

    def _index_plan(self, plan: ScanPlan, progress: IndexProgress, cancel: threading.Event, started: float) -> Iterator[IndexProgress]:
        """Keep `window` files decoding ahead while batches go through the model, in file order."""
        batch: list[_Read] = []
        last_save = last_report = time.monotonic()
        window = self.batch_size * 2 + self.decode_workers
        queue = iter(plan.to_read)
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="picsift-decode") as pool:
            pending: deque[Future] = deque()
            while True:
                while len(pending) < window and not cancel.is_set() and (found := next(queue, None)):
                    pending.append(pool.submit(self._read, found, plan.folder_id))
                if not pending:
                    break
                future = pending.popleft()
                if cancel.is_set():
                    future.cancel()  # prompt stop: only the batch already decoded is committed
                    continue
                batch = self._handle(future.result(), plan, batch, progress)
                if len(batch) >= self.batch_size:
                    self._commit(batch, progress)
                    batch = []
                    last_save = self._maybe_save(last_save, cancel)
                if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
                    last_report = time.monotonic()
                    yield self._timed(progress, started)
        if batch:
            self._commit(batch, progress)
        yield self._timed(progress, started)

    def _read(self, found: FoundFile, folder_id: int) -> _Read:
        """Worker thread: read once, hash, and decode only content the catalog has not encoded.

        Whatever goes wrong with this one file becomes its `error`; nothing here stops the run.
        """
        result = _Read(found)
        try:
            with open(found.path, "rb") as handle:
                data = handle.read()
            result.content_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
            result.known_image = self._encoded.get(result.content_hash)
            if result.known_image is None:
                photo = read_photo(found.path, data, self._spec.resize_to)
                result.pixels = preprocess(photo.image, self._spec)
                result.item = NewImage(
                    found.path, folder_id, len(data), found.mtime_ns, result.content_hash,
                    photo.width, photo.height, photo.taken_at, photo.camera, photo.gps, place_at(photo.gps),
                )
                self._put_thumbnail(result.content_hash, photo)
        except ImageError as exc:
            result.error = str(exc)
        except FileNotFoundError:
            result.error = f"{found.path}: file vanished while indexing"
        except OSError as exc:
            result.error = f"{found.path}: cannot be read ({exc.strerror or exc})"
        except Exception as exc:  # a decoder bug on one file: logged loudly, the run goes on
            log.exception("%s: unexpected error while reading", found.path)
            result.error = f"{found.path}: could not be read ({type(exc).__name__}: {exc}); please report this"
        return result

    def _put_thumbnail(self, content_hash: str, photo) -> None:
        """A thumbnail is a convenience: failing to write one (disk full, permissions) is no
        reason to call the photo unreadable; the app makes it again from the photo when shown."""
        if self.thumbnails is None:
            return
        try:
            self.thumbnails.put(content_hash, photo.image)
        except OSError as exc:
            log.warning("thumbnail cache: cannot write %s (%s)", self.thumbnails.folder, exc.strerror or exc)

    def _handle(self, read: _Read, plan: ScanPlan, batch: list[_Read], progress: IndexProgress) -> list[_Read]:
        progress.current = read.found.path
        if read.error:
            self._record_failure(read.found, plan.folder_id, read.error, progress)
            progress.done += 1
        elif read.known_image is not None:
            found = read.found
            self.catalog.link_file(found.path, plan.folder_id, found.size, found.mtime_ns, read.known_image)
            progress.reused += 1
            progress.done += 1
        else:
            batch.append(read)
        return batch

    def _commit(self, batch: list[_Read], progress: IndexProgress) -> None:
        # (B, Di) features and, from the same run, (B, Dn) instance descriptors (None for older bundles)
        features, instance = self.runtime.image_features_and_instance(np.stack([r.pixels for r in batch]))
        kept, ids = self._catalogue(batch, features, instance, progress)
        if self.vector_index is not None and kept:
            self.vector_index.add(np.asarray(ids, np.int64), self.runtime.map_images(features[kept]))
        progress.encoded += len(kept)
        progress.done += len(batch)

    def _catalogue(self, batch: list[_Read], features: np.ndarray, instance: np.ndarray | None,
                   progress: IndexProgress) -> tuple[list[int], list[int]]:
        """Commit the batch in one transaction; if that fails, file by file, so one file the
        catalog cannot take is recorded as an error and the rest of its batch still lands.
        Returns (positions in the batch that were committed, their image ids)."""
        try:
            return list(range(len(batch))), self.catalog.add_images([r.item for r in batch], features, self.encoder_id, instance)
        except PicsiftError:
            raise  # disk full, damaged catalog: no single file is to blame
        except Exception:
            if len(batch) == 1:
                raise
        kept, ids = [], []
        for position, read in enumerate(batch):
            try:
                one = slice(position, position + 1)
                ids += self.catalog.add_images([read.item], features[one], self.encoder_id, None if instance is None else instance[one])
                kept.append(position)
            except PicsiftError:
                raise
            except Exception as exc:  # a bug, not the user's doing: logged loudly, the run goes on
                log.exception("%s: cannot be catalogued", read.found.path)
                reason = f"{read.found.path}: could not be catalogued ({type(exc).__name__}: {exc}); please report this"
                self._record_failure(read.found, read.item.folder_id, reason, progress)
        return kept, ids

    def _record_failure(self, found: FoundFile, folder_id: int, reason: str, progress: IndexProgress) -> None:
        self.catalog.record_error(found.path, folder_id, found.size, found.mtime_ns, reason)
        progress.failed += 1
        progress.errors.append((found.path, reason))

    def _maybe_save(self, last_save: float, cancel: threading.Event) -> float:
        if self.vector_index is None or time.monotonic() - last_save < save_interval(self._last_save_s):
            return last_save
        started = time.monotonic()
        self.vector_index.save(cancel)  # Cancel stops a merge of segments (minutes at a million photos)
        self._last_save_s = time.monotonic() - started
        return time.monotonic()

    @staticmethod
    def _timed(progress: IndexProgress, started: float) -> IndexProgress:
        progress.images_per_s, progress.eta_s = rate_and_eta(progress.done, progress.total, started)
        return progress


def rate_and_eta(done: int, total: int, started: float) -> tuple[float, float | None]:
    """(items a second since `started`, a time.monotonic(); seconds left at that rate, None before any is done)."""
    rate = done / max(time.monotonic() - started, 1e-6)
    return rate, ((total - done) / rate if rate > 0 else None)

