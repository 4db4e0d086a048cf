"""Segments of the vector index: float16 usearch graphs over contiguous row ranges, keyed by row number.

A saved segment is a usearch file opened as a read-only memory map (`Index.restore(view=True)`):
opening costs no load and holds no anonymous memory, its pages are file-backed and evictable, and
the same file's float16 vector block serves exact and filtered search, so each vector is held once.
usearch writes that block in *slot* order, which a threaded add interleaves, so a saved segment
carries its row -> slot map, recovered once by hashing the rows' bytes (`slots_of_rows`).

The tail takes new rows: a mutable usearch graph that references float16 rows held here in fixed
blocks (`add(copy=False)`: the blocks never move, so nothing is held twice). Saving the tail writes
it as a new segment file. Measured at 100k x 1024-d against the hnswlib graph this replaced:
results/usearch_design.json and docs/index_storage.md.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from pathlib import Path

import numkong
import numpy as np
import onnxruntime  # noqa: F401  before usearch: imported after usearch 2.26 it crashes (SIGSEGV in std::codecvt)
from usearch.index import Index

from models.atomic import write_file_atomic

HEADER_BYTES = 8  # a usearch file starts with rows (u32) and bytes per row (u32); the vectors follow
TAIL_BLOCK_ROWS = 4096  # 8 MB blocks at 1024-d
_GATHER_ROWS = 4096  # rows gathered and scored per call: a few MB, cache-friendly
_HASH_ROWS = 1 << 15


class Segment:
    """Rows [start, start + len) of the index, searchable by graph and readable as float16 vectors."""

    def __init__(self, index: Index, start: int, count: int):
        self.index, self.start, self.count = index, start, count

    def __len__(self) -> int:
        return self.count

    @property
    def stop(self) -> int:
        return self.start + self.count

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """(R, D) float16 vectors of rows inside this segment."""
        raise NotImplementedError

    def search(self, queries: np.ndarray, count: int, ef: int, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(Q, c) rows and inner-product scores of each query's best `count` by graph (or every row
        scanned, when `exact`), best first; rows are -1 where the segment has fewer."""
        self.index.expansion_search = ef  # usearch's restore forgets it
        count = min(count, self.count)
        found = self.index.search(queries, count, exact=exact)
        if not hasattr(found, "counts"):  # one query: usearch answers with plain Matches of the found ones
            keys, scores = np.full((1, count), -1, np.int64), np.full((1, count), -np.inf, np.float32)
            got = len(found.keys)
            keys[0, :got], scores[0, :got] = np.asarray(found.keys, np.int64), 1.0 - np.asarray(found.distances, np.float32)
            return keys, scores
        keys = np.asarray(found.keys).astype(np.int64)  # (Q, c)
        scores = 1.0 - np.asarray(found.distances, np.float32)  # ip distance = 1 - dot
        missing = np.arange(keys.shape[1])[None, :] >= np.asarray(found.counts)[:, None]
        keys[missing], scores[missing] = -1, -np.inf
        return keys, scores


class SavedSegment(Segment):
    """A segment file opened as a read-only memory map, with its (count,) row -> slot map."""

    def __init__(self, path: Path, start: int, slots: np.ndarray, dim: int):
        index = Index.restore(str(path), view=True)
        if index is None or index.ndim != dim or len(index) != len(slots):
            raise ValueError(f"{path.name} holds {0 if index is None else len(index)} vectors of "
                             f"{0 if index is None else index.ndim} dimensions, expected {len(slots)} of {dim}")
        super().__init__(index, start, len(slots))
        self.path = path
        self.slots = slots.astype(np.int64, copy=False)
        self._block = np.memmap(path, np.float16, "r", offset=HEADER_BYTES, shape=(len(slots), dim))
        probe = np.unique(np.linspace(0, len(slots) - 1, 8).astype(np.int64))  # a few rows, read both ways
        graph_rows = np.stack([np.asarray(index.get(int(key)), np.float16).reshape(dim) for key in probe + start])
        if not np.array_equal(graph_rows, self._block[self.slots[probe]]):
            raise ValueError(f"{path.name}: its vectors are not where this picsift reads them (another usearch layout?)")

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        return self._block[self.slots[rows - self.start]]

    def close(self) -> None:
        """Let go of the file (Windows cannot delete a mapped one)."""
        self.index.reset()
        self._block = None


class Tail(Segment):
    """The mutable segment new rows go to: a graph over float16 rows held in fixed blocks."""

    def __init__(self, dim: int, start: int, *, m: int, ef_construction: int):
        super().__init__(Index(ndim=dim, metric="ip", dtype="f16", connectivity=m, expansion_add=ef_construction), start, 0)
        self.dim = dim
        self._blocks: list[np.ndarray] = []  # (TAIL_BLOCK_ROWS, D) float16 each; the graph points into them

    def add(self, vectors: np.ndarray) -> None:
        """Append (N, D) vectors as the next rows (keys are their row numbers)."""
        done = 0
        while done < len(vectors):
            offset = self.count % TAIL_BLOCK_ROWS
            if not offset:
                self._blocks.append(np.empty((TAIL_BLOCK_ROWS, self.dim), np.float16))
            take = min(len(vectors) - done, TAIL_BLOCK_ROWS - offset)
            block = self._blocks[-1][offset : offset + take]
            block[:] = vectors[done : done + take]
            keys = np.arange(self.stop, self.stop + take, dtype=np.uint64)
            self.index.add(keys, block, copy=False, threads=os.cpu_count() or 1)
            self.count += take
            done += take

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        local = rows - self.start
        out = np.empty((len(rows), self.dim), np.float16)
        which = local // TAIL_BLOCK_ROWS
        for block in np.unique(which):
            chosen = which == block
            out[chosen] = self._blocks[block][local[chosen] % TAIL_BLOCK_ROWS]
        return out

    def save_checked(self, path: Path) -> np.ndarray:
        """Write the graph to `path` and return its (count,) row -> slot map. usearch holds the GIL while it
        writes the vectors (0.37 s per 100k x 1024-d here); a full disk raises ENOSPC (usearch says only
        "Failed to serialize into stream")."""
        least = HEADER_BYTES + self.count * 2 * self.dim
        try:
            self.index.save(str(path), progress=_yielding)
        except RuntimeError as exc:
            full = shutil.disk_usage(path.parent).free < least
            raise OSError(errno.ENOSPC if full else errno.EIO, f"the segment could not be written ({exc})") from exc
        if path.stat().st_size < least:
            raise OSError(errno.ENOSPC, f"the segment was written short ({path.stat().st_size} of >= {least} bytes)")
        return self._slots_in(path)

    def save_as(self, path: Path) -> np.ndarray:
        """`save_checked` to a temp file renamed over `path` (atomic); the row -> slot map."""
        slots = []
        write_file_atomic(path, lambda temp: slots.append(self.save_checked(temp)))
        return slots[0]

    def _slots_in(self, path: Path) -> np.ndarray:
        block = np.memmap(path, np.float16, "r", offset=HEADER_BYTES, shape=(self.count, self.dim))
        by_row = np.concatenate([_row_hashes(b) for b in self._blocks])[: self.count] if self._blocks else np.zeros(0, np.uint64)
        slots = slots_of_rows(_row_hashes(block), by_row)
        del block  # unmapped before the file is renamed (Windows)
        return slots


def merged(segments: list[Segment], dim: int, *, m: int, ef_construction: int,
           cancel: threading.Event | None = None) -> Tail | None:
    """A new tail holding the rows of adjacent `segments` (rebuilt graph: add releases the GIL, so
    searches and the interface go on); None when `cancel` is set meanwhile."""
    tail = Tail(dim, segments[0].start, m=m, ef_construction=ef_construction)
    for segment in segments:
        for start in range(segment.start, segment.stop, _GATHER_ROWS):
            if cancel is not None and cancel.is_set():
                return None
            tail.add(segment.vectors(np.arange(start, min(start + _GATHER_ROWS, segment.stop))))
    return tail


def merged_file(segments: list[Segment], path: Path, dim: int, *, m: int, ef_construction: int,
                cancel: threading.Event | None = None) -> np.ndarray | None:
    """Merge adjacent `segments` into one segment file written atomically at `path`; its (rows,) row -> slot
    map, or None when `cancel` was set meanwhile (nothing is written)."""
    tail = merged(segments, dim, m=m, ef_construction=ef_construction, cancel=cancel)
    return None if tail is None else tail.save_as(path)


def _yielding(done: int, total: int) -> bool:
    """usearch's save progress: lets other threads run now and then while it writes the graph (it holds the GIL)."""
    if done % 4096 == 0:
        time.sleep(0)
    return True


_yielding.__annotations__ = {"done": int, "total": int, "return": bool}  # usearch checks them; this module's are strings


def dot_scores(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(Q, R) float32 inner products of float16 queries with float16 vectors (numkong's SIMD kernels
    accumulate in float32: 20k x 1024-d in ~7-11 ms here, numpy's float16 -> float32 path took 80-116 ms)."""
    if not len(vectors):
        return np.zeros((len(queries), 0), np.float32)
    return np.asarray(numkong.cdist(queries, np.ascontiguousarray(vectors), metric="dot"), np.float32)


def slots_of_rows(by_slot: np.ndarray, by_row: np.ndarray) -> np.ndarray:
    """(N,) int32 slot of each row: match the hashes of the file's slot-ordered rows to those of the
    row-ordered ones (0.26 s at 100k x 1024-d; equal rows may swap, which changes no score)."""
    slot_order, row_order = np.argsort(by_slot, kind="stable"), np.argsort(by_row, kind="stable")
    slots = np.empty(len(by_row), np.int32)
    slots[row_order] = slot_order
    return slots


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """(N,) uint64 hash of each float16 row's bytes."""
    dim = rows.shape[1]
    padded = dim + (-dim) % 4  # whole 8-byte words
    weights = np.random.default_rng(7).integers(1, 2**63, padded // 4, dtype=np.uint64) | np.uint64(1)
    out = np.empty(len(rows), np.uint64)
    for start in range(0, len(rows), _HASH_ROWS):
        part = np.zeros((min(_HASH_ROWS, len(rows) - start), padded), np.float16)
        part[:, :dim] = rows[start : start + _HASH_ROWS]
        out[start : start + len(part)] = (part.view(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    return out


MERGE_SHARE = 1  # newer segments merge into an older one once together they hold as many rows. Over 1,000
# equal saves that rebuilds each row 4.6 times and keeps at most 9 segments (2: 6.9 times, 7; 4: 9.6, 5)


def merge_start(counts: list[int]) -> int:
    """Index of the first of the newest segments to merge into one (len(counts) - 1 or more: none)."""
    first, newer = len(counts) - 1, counts[-1] if counts else 0
    while first > 0 and newer * MERGE_SHARE >= counts[first - 1]:
        first -= 1
        newer += counts[first]
    return first
