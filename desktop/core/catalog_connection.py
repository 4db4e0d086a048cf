"""Opening the catalog: its SQLite connection and migrations, SQLite's errors as the user's problems, and repair.

Repair keeps the library's folders: every change to them is copied into `catalog.folders.json`
beside the catalog, a damaged catalog is set aside (`set_aside`) and the new one starts from that list.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Self
from urllib.parse import quote

from desktop.core.catalog_schema import MIGRATIONS, SCHEMA_VERSION, statements
from models import paths
from models.atomic import write_text_atomic
from models.errors import CatalogDamagedError, DiskFullError, PicsiftError, is_disk_full

log = logging.getLogger(__name__)

# Room a batch commit needs beyond what is on disk (features of one batch are ~100 KB; the WAL
# and SQLite's temporary files want more): what a disk-full message asks the user to free.
WRITE_HEADROOM_BYTES = 64_000_000
# SQLite's words for a file whose pages are not what it wrote (or not a database at all).
_DAMAGE_SIGNS = ("malformed", "not a database", "file is encrypted", "disk i/o error")
# A new catalog's page size. A photo's float16 features (2.5 KB at 1280-d) do not fit a 4 KB page's
# cell in a WITHOUT ROWID table and spill to an overflow page of their own (4.7 KB a vector); at 16 KB
# they sit in the page (2.7 KB): 9.0 -> 5.4 GiB at a million photos (tests/benchmarks/rescan.py --page-sizes).
# SQLite only takes it before the first write, so a catalog made earlier keeps its pages.
PAGE_SIZE = 16384


def catalog_path() -> Path:
    return paths.data_dir() / "catalog.sqlite3"


# File names are stored as the OS gives them. One that is valid UTF-8 (nearly all) is TEXT; one
# that is not (Latin-1 bytes from an old Windows or Samba copy reach Python as lone surrogates,
# PEP 383, which SQLite's UTF-8 cannot hold) is stored as a BLOB of its exact bytes. The two
# never collide: a name either is UTF-8 or it is not. Reasons naming such a file go the same way.
def to_db(text: str) -> str | bytes:
    """A path (or text naming one) as SQLite can store it, losslessly."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def from_db(value: str | bytes) -> str:
    """Back from `to_db`: the str the OS would give (undecodable bytes as surrogates)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def folders_backup_path(path: Path) -> Path:
    """The folder list kept beside the catalog at `path`."""
    return path.with_name(path.stem + ".folders.json")


def write_folders_backup(backup: Path, folders: list[str]) -> None:
    # ensure_ascii: undecodable names travel as \udcXX escapes, which json reads back exactly
    write_text_atomic(backup, json.dumps({"folders": folders}, indent=1) + "\n")


def set_aside(path: str | Path | None = None) -> Path:
    """Move a damaged catalog (with its WAL and shared-memory files) out of the way, keeping its
    folder list beside the new catalog to come; returns where it went."""
    path = Path(path) if path else catalog_path()
    target = path.with_name(f"{path.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    backup = folders_backup_path(path)
    if not backup.exists():  # a catalog from before the backup existed: salvage its list if the page is whole
        folders = _salvage_folders(path)
        if folders:
            write_folders_backup(backup, folders)
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def _salvage_folders(path: Path) -> list[str]:
    try:
        with closing(sqlite3.connect(f"file:{quote(os.fsencode(path))}?mode=ro", uri=True)) as db:
            return [from_db(row[0]) for row in db.execute("SELECT path FROM folders")]
    except sqlite3.Error:
        return []


def translates_sqlite_errors(cls: type) -> type:
    """Wrap the class's own public methods so SQLite's errors reach callers as `_translated` says
    (a full disk, a damaged or busy catalog); `transaction` and `close` raise as they are."""
    for name, member in list(vars(cls).items()):
        if inspect.isfunction(member) and not name.startswith("_") and name not in {"transaction", "close"}:
            setattr(cls, name, _translating(member))
    return cls


def _translating(method):
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise self._translated(exc) from exc
        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
    return wrapper


@translates_sqlite_errors
class CatalogConnection:
    """An open, migrated catalog; its queries are `Catalog`'s. One per thread (SQLite connections are not shared)."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False):
        """`readonly`: an existing catalog, read only (SQLite's query_only: every write is refused)."""
        self.path = Path(path) if path else catalog_path()
        if readonly and not self.path.is_file():
            raise PicsiftError(f"{self.path}: there is no catalog here yet; add a folder first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.damaged = False  # set on the first sign of damage: from then on nothing is written
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a no-op on an existing catalog
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
            self._db.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                self._migrate()
            else:
                self._db.execute("PRAGMA query_only=ON")
                self._check_version()
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------
    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        if self._version() > SCHEMA_VERSION:
            raise PicsiftError(
                f"{self.path}: catalog version {self._version()} is newer than this picsift understands "
                f"({SCHEMA_VERSION}); update picsift"
            )

    def _migrate(self) -> None:
        """Run each migration the catalog lacks, one transaction per version (see catalog_schema)."""
        self._check_version()
        created = self._version() == 0
        while (version := self._version()) < SCHEMA_VERSION:
            with self.transaction():
                for statement in statements(MIGRATIONS[version]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={version + 1}")
        if created:
            self._restore_folders()

    @functools.cached_property
    def catalog_id(self) -> str:
        """This catalog's identity, random at creation: a vector index is bound to it."""
        try:  # a property, so the translating wrapper does not reach it
            return self._db.execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    # --- the folder list kept beside the catalog ----------------------------------------
    @property
    def folders_backup(self) -> Path:
        """The folder list kept beside the catalog, so a rebuilt catalog knows the library's folders."""
        return folders_backup_path(self.path)

    def _restore_folders(self) -> None:
        """A new catalog where an old one kept a folder list (it was damaged and set aside)."""
        try:
            folders = json.loads(self.folders_backup.read_text(encoding="utf-8"))["folders"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable, library folders not restored (%s)", self.folders_backup, exc)
            return
        with self.transaction():
            for path in folders:
                self._db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (to_db(str(path)), time.time()))
        log.warning("%s: a new catalog; %d library folders restored from %s", self.path, len(folders), self.folders_backup.name)

    # --- damage and full disks ----------------------------------------------------------
    def check_integrity(self) -> None:
        """Before a run that writes: refuse a damaged file (SQLite's quick_check reads every page,
        about a second per 300 MB) rather than write into it and spread the damage."""
        rows = [row[0] for row in self._db.execute("PRAGMA quick_check(3)")]
        if rows != ["ok"]:
            raise self._damaged("; ".join(rows))

    def _translated(self, exc: sqlite3.Error) -> Exception:
        """SQLite's error as the user's problem it is: a full disk, a damaged file, a busy
        catalog; anything else (a bug) comes back as it was."""
        message = str(exc)
        if is_disk_full(exc):
            return DiskFullError.at(self.path.parent, WRITE_HEADROOM_BYTES)
        if isinstance(exc, sqlite3.DatabaseError) and any(sign in message.lower() for sign in _DAMAGE_SIGNS):
            return self._damaged(message)
        if "database is locked" in message:
            return PicsiftError(f"{self.path}: the catalog stayed busy for 30 s (another picsift is writing to it); try again")
        return exc

    def _damaged(self, detail: str) -> CatalogDamagedError:
        self.damaged = True
        return CatalogDamagedError(
            f"{self.path}: the catalog is damaged ({detail}); run `picsift repair` (in the app: File > Repair "
            "library catalog) to set it aside and rebuild it from your photos (your library folders are kept)"
        )

    # --- transactions -------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        """`with catalog.transaction():` groups writes into one atomic commit."""
        if self.damaged:
            raise self._damaged("damage was found earlier; nothing is written into it")
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; nests as a no-op."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._outer = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._outer:
            return
        if exc_type:
            self._db.execute("ROLLBACK")
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:  # a full disk can refuse the commit itself: leave nothing half-open
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
