"""Collections (albums): named selections of photos and saved queries, kept by image so they survive renames and moves.

A collection holds images (content identity), not paths: a photo renamed or moved, in picsift or
outside it, keeps its image id in the catalog, so it stays in every collection it was in. A photo
that leaves the library (trashed, its folder removed) drops out of the listings but not out of the
collection: indexed again, it is back in its albums. A saved query keeps its JSON (as its maker
wrote it, for the app or the command line to run again) beside the results it had when saved.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.core.catalog_connection import translates_sqlite_errors
from models.display import printable
from models.errors import PicsiftError

# The photos of a collection, as a condition on the catalog's files `f` (for Query.conditions and listings).
_IN_COLLECTION = "f.image_id IN (SELECT c.image_id FROM collection_items c WHERE c.collection_id = ?)"


@dataclass(frozen=True)
class Collection:
    """A collection as listings show it."""

    id: int
    name: str
    created_at: float  # seconds since the epoch
    query: dict | None  # the saved query, None for a hand-picked selection
    count: int  # its photos in the library now (files: a photo kept twice counts twice, as everywhere)


def in_collection(collection_id: int) -> tuple[str, list]:
    """The SQL condition (on files `f`) of the photos in a collection, with its parameters."""
    return _IN_COLLECTION, [collection_id]


@translates_sqlite_errors
class PhotoCollections:
    """The catalog's collections (a part of `Catalog`, on its connection)."""

    def create_collection(self, name: str, query: dict | None = None) -> int:
        """A new, empty collection; `query`: the saved query it stands for (JSON-able)."""
        name = checked_name(name)
        try:
            with self.transaction():
                cursor = self._db.execute(
                    "INSERT INTO collections(name, created_at, query) VALUES (?, ?, ?)",
                    (name, time.time(), None if query is None else json.dumps(query, ensure_ascii=False)),
                )
        except sqlite3.IntegrityError:
            raise _taken(name) from None
        return cursor.lastrowid

    def rename_collection(self, collection_id: int, name: str) -> None:
        name = checked_name(name)
        try:
            with self.transaction():
                self._db.execute("UPDATE collections SET name = ? WHERE id = ?", (name, collection_id))
        except sqlite3.IntegrityError:
            raise _taken(name) from None

    def delete_collection(self, collection_id: int) -> bool:
        """Forget a collection (its photos stay where they are)."""
        with self.transaction():
            return self._db.execute("DELETE FROM collections WHERE id = ?", (collection_id,)).rowcount > 0

    def collections(self) -> list[Collection]:
        """Every collection, by name, with how many of its photos are in the library."""
        rows = self._db.execute(
            f"SELECT c0.id, c0.name, c0.created_at, c0.query, (SELECT COUNT(*) FROM files f WHERE "
            f"{_IN_COLLECTION.replace('?', 'c0.id')}) FROM collections c0 ORDER BY c0.name COLLATE NOCASE"
        )
        return [Collection(cid, name, at, json.loads(query) if query else None, count) for cid, name, at, query, count in rows]

    def collection_named(self, name: str) -> Collection:
        """The collection of this name (case aside); a user error when there is none."""
        found = [c for c in self.collections() if c.name.casefold() == name.strip().casefold()]
        if not found:
            raise PicsiftError(f"there is no collection named {printable(name)!r}; see `picsift collection list`")
        return found[0]

    def add_to_collection(self, collection_id: int, image_ids: Iterable[int]) -> int:
        """Put images in a collection; returns how many were not in it yet."""
        now = time.time()
        with self.transaction():
            return sum(
                self._db.execute("INSERT OR IGNORE INTO collection_items(collection_id, image_id, added_at) VALUES (?, ?, ?)",
                                 (collection_id, int(image_id), now)).rowcount
                for image_id in dict.fromkeys(image_ids)
            )

    def remove_from_collection(self, collection_id: int, image_ids: Iterable[int]) -> int:
        """Take images out of a collection (the photos themselves stay); returns how many were in it."""
        with self.transaction():
            return sum(
                self._db.execute("DELETE FROM collection_items WHERE collection_id = ? AND image_id = ?",
                                 (collection_id, int(image_id))).rowcount
                for image_id in dict.fromkeys(image_ids)
            )

    def collection_files(self, collection_id: int) -> list:
        """The files (FileRecords) of a collection's photos in the library, newest first."""
        return self.files_where([in_collection(collection_id)], -1)  # LIMIT -1: SQLite's "no limit"


def checked_name(name: str, what: str = "a collection") -> str:
    """A name given by the user, stripped; a user error when it is empty, unprintable or not valid text."""
    name = name.strip()
    if not name or not name.isprintable():
        raise PicsiftError(f"{printable(name)!r} cannot name {what}; give a name of printable characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PicsiftError(f"{printable(name)!r} cannot name {what}: it is not valid text") from None
    return name


def _taken(name: str) -> PicsiftError:
    return PicsiftError(f"a collection named {printable(name)!r} exists already; choose another name")
