"""The SQLite catalog: folders, files, images (by content), their encoder features and read errors.

Identity is by content: `images` holds one row per distinct file content (blake2b hash), `files`
points paths at images. A renamed or moved photo becomes a new `files` row pointing at the old
image, so its features are reused without decoding. Features are stored per image encoder
(`encoder_id`), before any mapper, as float16, so a new mapper re-maps without decoding.

The database runs in WAL mode: one writer (the indexer) and any number of readers (search) at
once. Each indexing batch is one transaction, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import paths
from models.atomic import write_text_atomic
from models.errors import CatalogDamagedError, DiskFullError, PicsiftError, is_disk_full

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
FEATURE_DTYPE = np.float16  # half the disk of float32; retrieval is unaffected at this precision

_SCHEMA_V1 = """
CREATE TABLE folders (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at REAL NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    width INTEGER,
    height INTEGER,
    taken_at TEXT,          -- EXIF DateTimeOriginal as ISO 8601, NULL when unknown
    camera TEXT             -- EXIF make and model, NULL when unknown
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id)
);
CREATE INDEX files_by_image ON files(image_id);
CREATE INDEX files_by_folder ON files(folder_id);
CREATE TABLE features (
    encoder_id TEXT NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    PRIMARY KEY (encoder_id, image_id)
) WITHOUT ROWID;
CREATE TABLE errors (
    path TEXT PRIMARY KEY,
    folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
    size INTEGER,
    mtime_ns INTEGER,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
"""

# v2: the catalog's identity, so a vector index knows which catalog it was built from.
_SCHEMA_V2 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('catalog_id', lower(hex(randomblob(16))))
"""

# v3: instance descriptors (the image encoder's second output, for "find similar" and duplicates),
# beside the features of the same encoder and written in the same transaction. Bundles without
# that output leave it empty.
_SCHEMA_V3 = """
CREATE TABLE instance_features (
    encoder_id TEXT NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    PRIMARY KEY (encoder_id, image_id)
) WITHOUT ROWID
"""

# MIGRATIONS[n] upgrades a database at version n to n + 1; the newest version is SCHEMA_VERSION.
MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1, 1: _SCHEMA_V2, 2: _SCHEMA_V3}
FEATURES, INSTANCE_FEATURES = "features", "instance_features"  # the two vector tables
# Room a batch commit needs beyond what is on disk (features of one batch are ~100 KB; the WAL
# and SQLite's temporary files want more): what a disk-full message asks the user to free.
WRITE_HEADROOM_BYTES = 64_000_000
# SQLite's words for a file whose pages are not what it wrote (or not a database at all).
_DAMAGE_SIGNS = ("malformed", "not a database", "file is encrypted", "disk i/o error")


@dataclass(frozen=True)
class FileRecord:
    """A catalogued file as search results and the app see it."""

    path: str
    image_id: int
    size: int
    mtime_ns: int
    width: int | None
    height: int | None
    taken_at: str | None
    camera: str | None
    content_hash: str = ""

    @property
    def date(self) -> str:
        """When the photo was taken (EXIF), else when the file was last modified; ISO 8601."""
        if self.taken_at:
            return self.taken_at
        import datetime as dt

        return dt.datetime.fromtimestamp(self.mtime_ns / 1e9).isoformat(timespec="seconds")


@dataclass(frozen=True)
class NewImage:
    """One successfully read file, ready to be committed with its features."""

    path: str
    folder_id: int
    size: int
    mtime_ns: int
    content_hash: str
    width: int
    height: int
    taken_at: str | None
    camera: str | None


_RECORD_COLUMNS = "SELECT f.path, f.image_id, f.size, f.mtime_ns, i.width, i.height, i.taken_at, i.camera, i.content_hash "


def catalog_path() -> Path:
    return paths.data_dir() / "catalog.sqlite3"


# File names are stored as the OS gives them. One that is valid UTF-8 (nearly all) is TEXT; one
# that is not (Latin-1 bytes from an old Windows or Samba copy reach Python as lone surrogates,
# PEP 383, which SQLite's UTF-8 cannot hold) is stored as a BLOB of its exact bytes. The two
# never collide: a name either is UTF-8 or it is not. Reasons naming such a file go the same way.
def _to_db(text: str) -> str | bytes:
    """A path (or text naming one) as SQLite can store it, losslessly."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def _from_db(value: str | bytes) -> str:
    """Back from `_to_db`: the str the OS would give (undecodable bytes as surrogates)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _record(row: tuple) -> FileRecord:
    return FileRecord(_from_db(row[0]), *row[1:])


def set_aside(path: str | Path | None = None) -> Path:
    """Move a damaged catalog (with its WAL and shared-memory files) out of the way, keeping its
    folder list beside the new catalog to come; returns where it went."""
    path = Path(path) if path else catalog_path()
    target = path.with_name(f"{path.stem}.damaged-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    backup = path.with_name(path.stem + ".folders.json")
    if not backup.exists():  # a catalog from before the backup existed: salvage its list if the page is whole
        folders = _salvage_folders(path)
        if folders:
            write_text_atomic(backup, json.dumps({"folders": folders}, indent=1) + "\n")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def _salvage_folders(path: Path) -> list[str]:
    from contextlib import closing
    from urllib.parse import quote

    try:
        with closing(sqlite3.connect(f"file:{quote(os.fsencode(path))}?mode=ro", uri=True)) as db:
            return [_from_db(row[0]) for row in db.execute("SELECT path FROM folders")]
    except sqlite3.Error:
        return []


class Catalog:
    """A connection to the catalog; use one per thread (SQLite connections are not shared)."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False):
        """`readonly`: an existing catalog, read only (SQLite's query_only: every write is refused)."""
        self.path = Path(path) if path else catalog_path()
        if readonly and not self.path.is_file():
            raise PicsiftError(f"{self.path}: there is no catalog here yet; add a folder first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.damaged = False  # set on the first sign of damage: from then on nothing is written
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
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

    def __enter__(self) -> Catalog:
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
        self._check_version()
        created = self._version() == 0
        while (version := self._version()) < SCHEMA_VERSION:
            with self.transaction():
                self._run_script(MIGRATIONS[version])
                self._db.execute(f"PRAGMA user_version={version + 1}")
        if created:
            self._restore_folders()

    def _run_script(self, script: str) -> None:
        for statement in filter(str.strip, script.split(";")):
            self._db.execute(statement)

    @functools.cached_property
    def catalog_id(self) -> str:
        """This catalog's identity, random at creation: a vector index is bound to it."""
        try:  # a property, so the translating wrapper below does not reach it
            return self._db.execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

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

    # --- folders ------------------------------------------------------------------------
    def add_folder(self, path: str | Path) -> int:
        path = _to_db(str(Path(path).resolve()))
        with self.transaction():
            self._db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (path, time.time()))
        self._save_folders()
        return self._db.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()[0]

    def remove_folder(self, path: str | Path) -> bool:
        """Forget a folder and its files (features stay, so re-adding it costs no decoding)."""
        path = _to_db(str(Path(path).resolve()))
        with self.transaction():
            cursor = self._db.execute("DELETE FROM folders WHERE path = ?", (path,))
        self._save_folders()
        return cursor.rowcount > 0

    def folders(self) -> list[tuple[int, str]]:
        return [(fid, _from_db(path)) for fid, path in self._db.execute("SELECT id, path FROM folders ORDER BY path")]

    @property
    def folders_backup(self) -> Path:
        """The folder list kept beside the catalog, so a rebuilt catalog knows the library's folders."""
        return self.path.with_name(self.path.stem + ".folders.json")

    def _save_folders(self) -> None:
        # ensure_ascii: undecodable names travel as \udcXX escapes, which json reads back exactly
        folders = [path for _, path in self.folders()]
        try:
            write_text_atomic(self.folders_backup, json.dumps({"folders": folders}, indent=1) + "\n")
        except OSError as exc:  # the catalog holds the truth; the backup catches up on the next change
            log.warning("%s: cannot write (%s)", self.folders_backup, exc.strerror or exc)

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
                self._db.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)", (_to_db(str(path)), time.time()))
        log.warning("%s: a new catalog; %d library folders restored from %s", self.path, len(folders), self.folders_backup.name)

    def folder_counts(self) -> dict[int, tuple[int, int]]:
        """folder id -> (files indexed, files that could not be read)."""
        counts = {fid: [0, 0] for fid, _ in self.folders()}
        for fid, n in self._db.execute("SELECT folder_id, COUNT(*) FROM files GROUP BY folder_id"):
            counts[fid][0] = n
        for fid, n in self._db.execute("SELECT folder_id, COUNT(*) FROM errors GROUP BY folder_id"):
            if fid in counts:
                counts[fid][1] = n
        return {fid: (a, b) for fid, (a, b) in counts.items()}

    # --- files --------------------------------------------------------------------------
    def file_states(self, folder_id: int) -> dict[str, tuple[int, int]]:
        """path -> (size, mtime_ns) for every catalogued file and recorded error under a folder."""
        rows = self._db.execute("SELECT path, size, mtime_ns FROM files WHERE folder_id = ?", (folder_id,))
        states = {_from_db(path): (size, mtime) for path, size, mtime in rows}
        errors = self._db.execute("SELECT path, size, mtime_ns FROM errors WHERE folder_id = ?", (folder_id,))
        states.update({_from_db(path): (size, mtime) for path, size, mtime in errors})
        return states

    def files_missing_features(self, folder_id: int, encoder_id: str) -> list[tuple[str, int, int]]:
        """(path, size, mtime_ns) of catalogued files whose image has no features from `encoder_id`
        (the active model's image encoder changed since they were indexed)."""
        rows = self._db.execute(
            "SELECT f.path, f.size, f.mtime_ns FROM files f WHERE f.folder_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM features x WHERE x.encoder_id = ? AND x.image_id = f.image_id) ORDER BY f.path",
            (folder_id, encoder_id),
        )
        return [(_from_db(path), size, mtime) for path, size, mtime in rows]

    def encoded_hashes(self, encoder_id: str) -> dict[str, int]:
        """content hash -> image id, for every image that has features from `encoder_id`."""
        rows = self._db.execute(
            "SELECT i.content_hash, i.id FROM images i JOIN features f ON f.image_id = i.id WHERE f.encoder_id = ?",
            (encoder_id,),
        )
        return dict(rows)

    def link_file(self, path: str, folder_id: int, size: int, mtime_ns: int, image_id: int) -> None:
        """Point `path` at an already known image (a rename, move or copy): no decoding needed."""
        with self.transaction():
            self._upsert_file(path, folder_id, size, mtime_ns, image_id)

    def add_images(self, items: list[NewImage], features: np.ndarray, encoder_id: str, instance: np.ndarray | None = None) -> list[int]:
        """Commit a batch of newly encoded files with their features (B, D), and instance descriptors
        (B, Dn) when the model gives them, in one transaction."""
        ids = []
        with self.transaction():
            for position, (item, vector) in enumerate(zip(items, features)):
                image_id = self._upsert_image(item)
                self._put_vector(FEATURES, encoder_id, image_id, vector)
                if instance is not None:
                    self._put_vector(INSTANCE_FEATURES, encoder_id, image_id, instance[position])
                self._upsert_file(item.path, item.folder_id, item.size, item.mtime_ns, image_id)
                ids.append(image_id)
        return ids

    def _put_vector(self, table: str, encoder_id: str, image_id: int, vector: np.ndarray) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {table}(encoder_id, image_id, vector) VALUES (?, ?, ?)",
            (encoder_id, image_id, np.asarray(vector, FEATURE_DTYPE).tobytes()),
        )

    def _upsert_image(self, item: NewImage) -> int:
        self._db.execute(
            "INSERT OR IGNORE INTO images(content_hash, width, height, taken_at, camera) VALUES (?, ?, ?, ?, ?)",
            (item.content_hash, item.width, item.height, item.taken_at, item.camera),
        )
        return self._db.execute("SELECT id FROM images WHERE content_hash = ?", (item.content_hash,)).fetchone()[0]

    def _upsert_file(self, path: str, folder_id: int, size: int, mtime_ns: int, image_id: int) -> None:
        path = _to_db(path)
        self._db.execute("DELETE FROM errors WHERE path = ?", (path,))
        self._db.execute(
            "INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET folder_id=excluded.folder_id, size=excluded.size, "
            "mtime_ns=excluded.mtime_ns, image_id=excluded.image_id",
            (path, folder_id, size, mtime_ns, image_id),
        )

    def remove_files(self, file_paths: Iterable[str]) -> int:
        """Drop vanished files (and their recorded errors); their images and features stay for reuse."""
        removed = 0
        with self.transaction():
            for path in map(_to_db, file_paths):
                removed += self._db.execute("DELETE FROM files WHERE path = ?", (path,)).rowcount
                self._db.execute("DELETE FROM errors WHERE path = ?", (path,))
        return removed

    def record_error(self, path: str, folder_id: int, size: int | None, mtime_ns: int | None, reason: str) -> None:
        path = _to_db(path)
        with self.transaction():
            self._db.execute("DELETE FROM files WHERE path = ?", (path,))
            self._db.execute(
                "INSERT OR REPLACE INTO errors(path, folder_id, size, mtime_ns, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
                (path, folder_id, size, mtime_ns, _to_db(reason), time.time()),
            )

    def errors(self) -> list[tuple[str, str]]:
        """(path, reason) for every file that could not be read, by path."""
        rows = self._db.execute("SELECT path, reason FROM errors ORDER BY path")
        return [(_from_db(path), _from_db(reason)) for path, reason in rows]

    # --- reading for search -------------------------------------------------------------
    def count_files(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def live_image_ids(self) -> set[int]:
        """Images that at least one catalogued file points at."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT image_id FROM files")}

    def features(self, encoder_id: str, after_id: int = 0, image_ids: Iterable[int] | None = None,
                 table: str = FEATURES) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (image ids (N,), features (N, D) float32) in chunks, by id, for live images only;
        `table=INSTANCE_FEATURES` gives the instance descriptors instead."""
        sql = (
            f"SELECT f.image_id, f.vector FROM {_vector_table(table)} f WHERE f.encoder_id = ? AND f.image_id > ? "
            "AND EXISTS (SELECT 1 FROM files WHERE files.image_id = f.image_id) ORDER BY f.image_id"
        )
        wanted = set(image_ids) if image_ids is not None else None
        cursor = self._db.execute(sql, (encoder_id, after_id))
        while rows := cursor.fetchmany(4096):
            if wanted is not None:
                rows = [r for r in rows if r[0] in wanted]
                if not rows:
                    continue
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            vectors = np.stack([np.frombuffer(r[1], FEATURE_DTYPE) for r in rows]).astype(np.float32)
            yield ids, vectors

    def vectors_for_images(self, encoder_id: str, image_ids: Iterable[int], table: str = FEATURES) -> dict[int, np.ndarray]:
        """image id -> its stored vector (D,) float32 from `table`, for those of `image_ids` that have one."""
        ids = list(dict.fromkeys(int(i) for i in image_ids))
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = f"SELECT image_id, vector FROM {_vector_table(table)} WHERE encoder_id = ? AND image_id IN ({','.join('?' * len(chunk))})"
            for image_id, blob in self._db.execute(sql, [encoder_id, *chunk]):
                found[image_id] = np.frombuffer(blob, FEATURE_DTYPE).astype(np.float32)
        return found

    def count_features(self, encoder_id: str, table: str = FEATURES) -> int:
        """Images with features (or instance descriptors) from `encoder_id` (what a vector index for it can hold at most)."""
        return self._db.execute(f"SELECT COUNT(*) FROM {_vector_table(table)} WHERE encoder_id = ?", (encoder_id,)).fetchone()[0]

    def max_image_id(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM images").fetchone()[0]

    def files_for_images(self, image_ids: Iterable[int]) -> dict[int, list[FileRecord]]:
        """image id -> the files showing it (more than one for exact copies), with metadata."""
        ids = list(dict.fromkeys(int(i) for i in image_ids))
        found: dict[int, list[FileRecord]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                _RECORD_COLUMNS
                + f"FROM files f JOIN images i ON i.id = f.image_id WHERE f.image_id IN ({marks}) ORDER BY f.path",
                chunk,
            )
            for row in rows:
                found.setdefault(row[1], []).append(_record(row))
        return found

    def recent_files(self, limit: int = 500) -> list[FileRecord]:
        """The newest photos by date taken (or modified): what the app shows before any query."""
        rows = self._db.execute(
            _RECORD_COLUMNS + "FROM files f JOIN images i ON i.id = f.image_id "
            "ORDER BY COALESCE(i.taken_at, strftime('%Y-%m-%dT%H:%M:%S', f.mtime_ns / 1e9, 'unixepoch', 'localtime')) DESC LIMIT ?",
            (limit,),
        )
        return [_record(row) for row in rows]

    def image_ids_matching(self, folder: str | None = None, date_from: str | None = None, date_to: str | None = None) -> set[int]:
        """Images with a file under `folder` (a subtree) taken within [date_from, date_to] (ISO dates).

        Photos without an EXIF date are dated by their file modification time.
        """
        clauses, args = [], []
        if folder:  # compared as bytes: names stored as TEXT and as BLOB alike
            root = os.fsencode(str(Path(folder).resolve()))
            prefix = root.rstrip(b"/\\") + b"/"
            clauses.append("(CAST(f.path AS BLOB) = ? OR substr(CAST(f.path AS BLOB), 1, ?) = ?)")
            args += [root, len(prefix), prefix]
        date = "COALESCE(i.taken_at, strftime('%Y-%m-%dT%H:%M:%S', f.mtime_ns / 1e9, 'unixepoch', 'localtime'))"
        if date_from:
            clauses.append(f"{date} >= ?")
            args.append(date_from)
        if date_to:
            clauses.append(f"substr({date}, 1, ?) <= ?")
            args += [len(date_to), date_to]
        where = " AND ".join(clauses) or "1"
        sql = f"SELECT DISTINCT f.image_id FROM files f JOIN images i ON i.id = f.image_id WHERE {where}"
        return {row[0] for row in self._db.execute(sql, args)}

    def image_features(self, encoder_id: str, image_id: int, table: str = FEATURES) -> np.ndarray | None:
        """One image's stored features (or instance descriptor) (D,) float32, or None."""
        sql = f"SELECT vector FROM {_vector_table(table)} WHERE encoder_id = ? AND image_id = ?"
        row = self._db.execute(sql, (encoder_id, image_id)).fetchone()
        return np.frombuffer(row[0], FEATURE_DTYPE).astype(np.float32) if row else None

    def file_by_path(self, path: str) -> FileRecord | None:
        row = self._db.execute(
            _RECORD_COLUMNS + "FROM files f JOIN images i ON i.id = f.image_id WHERE f.path = ?",
            (_to_db(path),),
        ).fetchone()
        return _record(row) if row else None


def _vector_table(table: str) -> str:
    if table not in (FEATURES, INSTANCE_FEATURES):  # the name goes into SQL text
        raise ValueError(f"no vector table {table!r}")
    return table


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


def _translating(method):
    """Wrap a Catalog method so SQLite's errors reach callers as `Catalog._translated` says."""
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


for _name, _member in list(vars(Catalog).items()):
    if inspect.isfunction(_member) and not _name.startswith("_") and _name not in {"transaction", "close"}:
        setattr(Catalog, _name, _translating(_member))
