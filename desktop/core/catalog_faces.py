"""The faces found in photos and the people they belong to: the catalog's queries on them (schema v6).

Face data is personal: it stays in this SQLite file and nowhere else (a model bundle is written from
the models folder only, never from the catalog), and `forget_faces` deletes all of it in one call,
zeroing the freed pages and compacting the file so no embedding lingers on disk. Which person a new
face joins is desktop/core/people.py's choice; this module stores what it decides.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from desktop.core.catalog_collections import checked_name
from desktop.core.catalog_connection import from_db, translates_sqlite_errors
from desktop.core.catalog_schema import FACE_DTYPE
from desktop.core.faces import Face
from models.display import printable
from models.errors import PicsiftError

log = logging.getLogger(__name__)

_LIVE = "EXISTS (SELECT 1 FROM files f WHERE f.image_id = fc.image_id)"  # the face's photo is in the library
# The photos showing a person, as a condition on the catalog's images `i` (for Query.conditions).
_SHOWS_PERSON = "EXISTS (SELECT 1 FROM faces fc WHERE fc.image_id = i.id AND fc.person_id = ?)"


@dataclass(frozen=True)
class Person:
    """A person as the People list shows one."""

    id: int
    name: str | None  # None until named
    hidden: bool  # "not a person"
    photos: int  # photos of the library showing them
    faces: int
    cover: int  # the id of their best-scored face (the tile's picture)

    @property
    def label(self) -> str:
        return self.name or f"person {self.id}"


@dataclass(frozen=True)
class StoredFace:
    """A face as the catalog keeps it (its embedding left out)."""

    id: int
    image_id: int
    box: tuple[float, float, float, float]  # left, top, right, bottom, fractions of the image
    landmarks: tuple[tuple[float, float], ...]
    score: float
    person_id: int | None


def shows_person(person_id: int) -> tuple[str, list]:
    """The SQL condition (on images `i`) of the photos in which a person's face was found."""
    return _SHOWS_PERSON, [person_id]


@translates_sqlite_errors
class PhotoFaces:
    """The catalog's faces and people (a part of `Catalog`, on its connection)."""

    def images_without_faces(self, limit: int | None = None) -> list[tuple[int, str]]:
        """(image id, one of its paths) of every catalogued image the face pass has not read, oldest first."""
        rows = self._db.execute(
            "SELECT i.id, MIN(f.path) FROM images i JOIN files f ON f.image_id = i.id "
            "WHERE i.faces_read_with IS NULL GROUP BY i.id ORDER BY i.id LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [(image_id, from_db(path)) for image_id, path in rows]

    def count_faces_unread(self) -> int:
        """Catalogued images the face pass still has to read."""
        return self._db.execute(
            "SELECT COUNT(*) FROM images i WHERE i.faces_read_with IS NULL AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id)"
        ).fetchone()[0]

    def count_faces(self) -> tuple[int, int]:
        """(faces, photos with a face) in the library's photos."""
        return self._db.execute(f"SELECT COUNT(*), COUNT(DISTINCT fc.image_id) FROM faces fc WHERE {_LIVE}").fetchone()

    def put_faces(self, image_id: int, faces: list[Face], person_ids: list[int | None], read_with: str) -> list[int]:
        """Store the faces the face pass found in an image, each in its person (None: a new person),
        and mark the image read, in one transaction; returns the new faces' ids."""
        with self.transaction():
            self._db.execute("DELETE FROM faces WHERE image_id = ?", (image_id,))
            ids = []
            for face, person_id in zip(faces, person_ids):
                if person_id is None:
                    person_id = self._db.execute("INSERT INTO people(created_at) VALUES (?)", (time.time(),)).lastrowid
                ids.append(self._db.execute(
                    "INSERT INTO faces(image_id, x0, y0, x1, y1, landmarks, score, embedding, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (image_id, *face.box, json.dumps([list(p) for p in face.landmarks]), face.score,
                     np.asarray(face.embedding, FACE_DTYPE).tobytes(), person_id),
                ).lastrowid)
            self._db.execute("UPDATE images SET faces_read_with = ? WHERE id = ?", (read_with, image_id))
        return ids

    def face_embeddings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every stored face: (face ids (N,), person ids (N,), image ids (N,), embeddings (N, 128) float32), by id."""
        rows = self._db.execute("SELECT id, COALESCE(person_id, 0), image_id, embedding FROM faces ORDER BY id").fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 128), np.float32)
        columns = [np.fromiter((r[k] for r in rows), np.int64, len(rows)) for k in range(3)]
        return (*columns, np.stack([np.frombuffer(r[3], FACE_DTYPE) for r in rows]).astype(np.float32))

    def persons_of_faces(self, face_ids: Iterable[int]) -> dict[int, int]:
        """face id -> the person it is in now (the user may have merged or split since it was placed)."""
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        rows = self._db.execute(f"SELECT id, person_id FROM faces WHERE person_id IS NOT NULL AND id IN ({','.join('?' * len(ids))})", ids)
        return dict(rows)

    def faces_of(self, image_id: int) -> list[StoredFace]:
        """The faces found in an image, best score first."""
        return self._stored("WHERE image_id = ? ORDER BY score DESC", (image_id,))

    def faces_of_person(self, person_id: int) -> list[StoredFace]:
        """A person's faces in the library's photos, best score first (what a split picks from)."""
        return self._stored(f"fc WHERE fc.person_id = ? AND {_LIVE} ORDER BY fc.score DESC", (person_id,))

    def faces_by_id(self, face_ids: Iterable[int]) -> dict[int, StoredFace]:
        """face id -> the face, for the ids still stored (a People tile's cover, by Person.cover)."""
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        found: dict[int, StoredFace] = {}
        for start in range(0, len(ids), 500):  # within SQLite's limit on parameters
            chunk = ids[start : start + 500]
            found.update((face.id, face) for face in self._stored(f"WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk)))
        return found

    def _stored(self, where: str, params: tuple) -> list[StoredFace]:
        rows = self._db.execute(f"SELECT id, image_id, x0, y0, x1, y1, landmarks, score, person_id FROM faces {where}", params)
        return [StoredFace(r[0], r[1], tuple(r[2:6]), tuple(tuple(p) for p in json.loads(r[6])), r[7], r[8]) for r in rows]

    def people(self, include_hidden: bool = False) -> list[Person]:
        """The people seen in the library's photos, most photos first ("not a person" ones only when asked)."""
        rows = self._db.execute(
            "SELECT p.id, p.name, p.hidden, COUNT(DISTINCT fc.image_id), COUNT(*), "
            "(SELECT b.id FROM faces b WHERE b.person_id = p.id ORDER BY b.score DESC LIMIT 1) "
            f"FROM people p JOIN faces fc ON fc.person_id = p.id WHERE {_LIVE} AND (p.hidden = 0 OR ?) "
            "GROUP BY p.id ORDER BY 4 DESC, p.name IS NULL, p.id",
            (include_hidden,),
        )
        return [Person(pid, name, bool(hidden), photos, faces, cover) for pid, name, hidden, photos, faces, cover in rows]

    def named_people(self) -> list[tuple[int, str]]:
        """(id, name) of every named person who is not hidden (what a typed query can name)."""
        return list(self._db.execute("SELECT id, name FROM people WHERE name IS NOT NULL AND hidden = 0 ORDER BY name"))

    def person_named(self, name: str) -> int:
        """The id of the person of this name (case aside); a user error when there is none."""
        row = self._db.execute("SELECT id FROM people WHERE name = ? COLLATE NOCASE", (name.strip(),)).fetchone()
        if row is None:
            raise PicsiftError(f"no person is named {printable(name)!r}; see `picsift people list` and `picsift people name`")
        return row[0]

    def name_person(self, person_id: int, name: str | None) -> None:
        """Give a person a name (None: unnamed again); a name taken by another person is a user error (merge them instead)."""
        name = None if name is None else checked_name(name, "a person")
        self._existing_person(person_id)
        try:
            with self.transaction():
                self._db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))
        except sqlite3.IntegrityError:
            raise PicsiftError(f"another person is named {printable(name)!r} already; merge the two "
                               f"(`picsift people merge`) if they are the same person") from None

    def merge_people(self, keep: int, other: int) -> None:
        """`other`'s faces become `keep`'s and `other` is forgotten; `keep` takes `other`'s name when it has none."""
        if keep == other:
            raise PicsiftError("a person cannot be merged with themselves; name two different people")
        self._existing_person(keep)
        self._existing_person(other)
        with self.transaction():
            self._db.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (keep, other))
            name = self._db.execute("SELECT name FROM people WHERE id = ?", (other,)).fetchone()[0]
            self._db.execute("DELETE FROM people WHERE id = ?", (other,))
            self._db.execute("UPDATE people SET name = ? WHERE id = ? AND name IS NULL", (name, keep))

    def split_faces(self, face_ids: Iterable[int]) -> int:
        """Move faces (wrongly put in a person) to a new, unnamed person; returns its id. People left
        with no face are forgotten."""
        ids = list(dict.fromkeys(int(i) for i in face_ids))
        if not ids:
            raise PicsiftError("no face given to split off")
        marks = ",".join("?" * len(ids))
        if self._db.execute(f"SELECT COUNT(*) FROM faces WHERE id IN ({marks})", ids).fetchone()[0] != len(ids):
            raise PicsiftError("some of those faces are not in the catalog (any more); list them again")
        with self.transaction():
            person_id = self._db.execute("INSERT INTO people(created_at) VALUES (?)", (time.time(),)).lastrowid
            self._db.execute(f"UPDATE faces SET person_id = ? WHERE id IN ({marks})", [person_id, *ids])
            self._db.execute("DELETE FROM people WHERE id != ? AND NOT EXISTS (SELECT 1 FROM faces fc WHERE fc.person_id = people.id)", (person_id,))
        return person_id

    def set_not_a_person(self, person_id: int, hidden: bool = True) -> None:
        """Mark a "person" as not one (a statue, a poster: left out of People and search), or undo that.
        Its faces stay, so new faces of the same statue keep joining it instead of showing up as a new person."""
        self._existing_person(person_id)
        with self.transaction():
            self._db.execute("UPDATE people SET hidden = ? WHERE id = ?", (int(hidden), person_id))

    def _existing_person(self, person_id: int) -> None:
        if self._db.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)).fetchone() is None:
            raise PicsiftError(f"there is no person {person_id}; see `picsift people list`")

    def forget_faces(self) -> None:
        """Delete all face data (faces, embeddings, people and their names) and mark every photo unread
        for faces; the freed pages are zeroed and the file compacted, so nothing of it stays on disk."""
        self._db.execute("PRAGMA secure_delete = ON")  # the deleted rows' pages are overwritten with zeros
        with self.transaction():
            self._db.execute("DELETE FROM faces")
            self._db.execute("DELETE FROM people")
            self._db.execute("UPDATE images SET faces_read_with = NULL WHERE faces_read_with IS NOT NULL")
        try:
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's copies of the old pages go too
        except sqlite3.OperationalError as exc:  # another connection busy: deleted and zeroed, compacted next time
            log.warning("%s: face data deleted; the file is compacted the next time (%s)", self.path, exc)
