"""Compacting the catalog: rewrite it at a new catalog's page size with no free pages (SQLite's VACUUM).

A catalog made before picsift used 16 KB pages keeps its 4 KB ones, where each photo's float16
features spill to an overflow page of their own (9.7 KB a photo with the built-in v2 model
against 5.8 KB: tests/benchmarks/rescan.py --page-sizes); pages freed by deleted photos or by a
forgotten model's features stay in the file too. Compacting needs the catalog to itself: it first
leaves WAL mode, which SQLite refuses while another connection (the app, an index run) has the
file open, and holds it exclusively until done. VACUUM is one transaction: a crash, a full disk
or Ctrl+C midway leaves the catalog as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from desktop.core import catalog_connection
from models.errors import DiskFullError, PicsiftError, is_disk_full

_TICK_STEPS = 1_000  # SQLite virtual-machine steps between progress calls: ~16 ms copying features (VACUUM copies a row in ~5)


@dataclass(frozen=True)
class CatalogLayout:
    """How the catalog file is laid out: its size on disk (with the WAL), page size and free pages."""

    bytes: int
    page_size: int
    free_fraction: float

    @property
    def compactable(self) -> bool:
        """Compacting would make it noticeably smaller."""
        return self.page_size < catalog_connection.PAGE_SIZE or self.free_fraction > 0.1


def catalog_layout(path: Path) -> CatalogLayout:
    size = sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}"))
    with closing(sqlite3.connect(f"file:{quote(os.fsencode(path))}?mode=ro", uri=True)) as db:
        page_size, pages, free = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_size", "page_count", "freelist_count"))
    return CatalogLayout(size, page_size, free / max(pages, 1))


def compact(path: Path, tick: Callable[[], None] = lambda: None) -> CatalogLayout:
    """Compact the catalog at `path` (see the module docstring) and return its new layout. `tick` is
    called every few ms while SQLite copies rows; a KeyboardInterrupt then stops it with nothing
    changed. In its last stage (writing the new file back: no calls, ~10 s at 250k photos) it
    finishes first, and a Ctrl+C that lands then is taken as come too late: the layout is returned."""
    _check_room(path)
    try:
        _vacuum(path, tick)
    except KeyboardInterrupt:
        if catalog_layout(path).compactable:  # stopped before the end: SQLite rolled it back
            raise
    return catalog_layout(path)


def _vacuum(path: Path, tick: Callable[[], None]) -> None:
    with closing(sqlite3.connect(path, timeout=1.0, isolation_level=None)) as db:
        try:
            if db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
                raise sqlite3.OperationalError("database is locked")
            db.execute("PRAGMA locking_mode=EXCLUSIVE")  # the first write takes the file and keeps it
            db.execute(f"PRAGMA page_size={catalog_connection.PAGE_SIZE}")
            raised: list[BaseException] = []
            db.set_progress_handler(lambda: _stop_on_error(tick, raised), _TICK_STEPS)
            db.execute("VACUUM")
        except sqlite3.Error as exc:
            if "interrupted" in str(exc):  # the progress call stopped it: SQLite rolled the VACUUM back
                raise (raised.pop() if raised else KeyboardInterrupt()) from None  # pop: no exception -> frame cycle
            raise _translated(exc, path) from exc
        finally:
            db.set_progress_handler(None, 0)
            try:
                db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.Error:  # the next open sets it again
                pass


def _stop_on_error(tick: Callable[[], None], raised: list[BaseException]) -> int:
    """SQLite's progress call: nonzero stops the statement, and what `tick` raised is kept in `raised` to be
    raised again (sqlite3 would print and drop it). A KeyboardInterrupt lands here or just before:
    Python handles the signal in the first Python code that runs."""
    try:
        tick()
    except BaseException as exc:
        raised.append(exc)
        return 1
    return 0


def _check_room(path: Path) -> None:
    """VACUUM builds the new file in the temporary folder, then copies it back over the old one with a
    rollback journal beside it: room for about one catalog in each."""
    size = catalog_layout(path).bytes
    for folder in {Path(tempfile.gettempdir()), path.parent}:
        if shutil.disk_usage(folder).free < size:
            raise DiskFullError.at(folder, size)


def _translated(exc: sqlite3.Error, path: Path) -> Exception:
    if is_disk_full(exc):
        return DiskFullError.at(path.parent, catalog_layout(path).bytes)
    if "locked" in str(exc) or "busy" in str(exc):
        return PicsiftError(f"{path}: the catalog is open in another picsift (the app, or an index or watch run); "
                            "close it and run `picsift compact` again")
    return exc
