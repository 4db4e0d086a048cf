"""The catalog's tables and the step-by-step migrations between their versions: a schema change goes here.

A change is one more script at the end of MIGRATIONS, with a comment saying what it adds and why;
it runs once, in one transaction, on every catalog below its version (new ones run them all).
An old script is never edited: catalogs already past it would never see the edit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np

FEATURE_DTYPE = np.float16  # half the disk of float32; retrieval is unaffected at this precision
FEATURES, INSTANCE_FEATURES = "features", "instance_features"  # the two vector tables
FACE_DTYPE = np.float32  # face embeddings: distances of ~0.6 decide, float16 would blur the last digits

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

# v4: where a photo was taken (EXIF GPS and the place it falls in, reverse geocoded offline) and the
# text printed in it (the text pass's OCR), with an FTS5 index over that text. `text_read_with` NULL:
# the text pass has not read the image yet; image_text holds a row only for images with text.
_SCHEMA_V4 = """
ALTER TABLE images ADD COLUMN latitude REAL;
ALTER TABLE images ADD COLUMN longitude REAL;
ALTER TABLE images ADD COLUMN country_code TEXT;
ALTER TABLE images ADD COLUMN country TEXT;
ALTER TABLE images ADD COLUMN region TEXT;
ALTER TABLE images ADD COLUMN city TEXT;
ALTER TABLE images ADD COLUMN text_read_with TEXT;
CREATE INDEX images_by_place ON images(country_code, city);
CREATE INDEX images_text_unread ON images(id) WHERE text_read_with IS NULL;
CREATE TABLE image_text (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    lines TEXT NOT NULL     -- JSON [[text, score, [[x, y] x 4]], ...], the box corners as fractions of the image
);
CREATE VIRTUAL TABLE image_text_fts USING fts5(text, tokenize='unicode61 remove_diacritics 2')
"""

# v5: collections (albums): a named selection of photos, or a saved query (its JSON) with the results it
# had when saved. Items are images (content identity), not paths, so a photo stays in its collections
# when it is renamed or moved (its file row then points at the same image).
_SCHEMA_V5 = """
CREATE TABLE collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at REAL NOT NULL,
    query TEXT              -- JSON of the saved query, NULL for a hand-picked selection
);
CREATE TABLE collection_items (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    added_at REAL NOT NULL,
    PRIMARY KEY (collection_id, image_id)
) WITHOUT ROWID;
CREATE INDEX collection_items_by_image ON collection_items(image_id)
"""

# v6: people in photos (the face pass, desktop/core/face_pass.py): each face found, its box and 5 landmarks
# (fractions of the image), the detector's score and its 128-d embedding (float32), and the person it
# belongs to (desktop/core/people.py clusters them as they come). `faces_read_with` NULL: the face pass
# has not read the image yet. A person is unnamed until named; `hidden` 1: "not a person" (a statue,
# a poster), left out of the People list and of search. Face data never leaves this file.
_SCHEMA_V6 = """
ALTER TABLE images ADD COLUMN faces_read_with TEXT;
CREATE INDEX images_faces_unread ON images(id) WHERE faces_read_with IS NULL;
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT UNIQUE COLLATE NOCASE,    -- NULL until the user names the person
    hidden INTEGER NOT NULL DEFAULT 0,  -- 1: "not a person"
    created_at REAL NOT NULL
);
CREATE TABLE faces (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,  -- the box, fractions of the image
    landmarks TEXT NOT NULL,            -- JSON [[x, y] x 5], fractions of the image
    score REAL NOT NULL,                -- the detector's score
    embedding BLOB NOT NULL,            -- 128 float32
    person_id INTEGER REFERENCES people(id) ON DELETE SET NULL
);
CREATE INDEX faces_by_image ON faces(image_id);
CREATE INDEX faces_by_person ON faces(person_id)
"""

# v7: a photo's date stored on its file (it was computed per row, so listing the newest 500 of a million read
# every row: 1.8 s): EXIF's date when known, else the file's modification time in local time (as SQLite's
# 'localtime' gives it when the row is written), ISO 8601. Triggers keep it right whenever a file's mtime or
# image changes (a rescan, a move, an edit) or an image's taken_at does, whoever writes the row; indexed for
# "newest first" (the rowid, last in every index, breaks ties).
_V7_DATE = "COALESCE((SELECT taken_at FROM images WHERE id = {image}), strftime('%Y-%m-%dT%H:%M:%S', {mtime} / 1e9, 'unixepoch', 'localtime'))"
_SCHEMA_V7 = f"""
ALTER TABLE files ADD COLUMN photo_date TEXT;
UPDATE files SET photo_date = {_V7_DATE.format(image="files.image_id", mtime="files.mtime_ns")};
CREATE INDEX files_by_date ON files(photo_date);
CREATE TRIGGER files_dated AFTER INSERT ON files BEGIN
    UPDATE files SET photo_date = {_V7_DATE.format(image="new.image_id", mtime="new.mtime_ns")} WHERE id = new.id;
END;
CREATE TRIGGER files_redated AFTER UPDATE OF mtime_ns, image_id ON files
WHEN new.mtime_ns IS NOT old.mtime_ns OR new.image_id IS NOT old.image_id BEGIN
    UPDATE files SET photo_date = {_V7_DATE.format(image="new.image_id", mtime="new.mtime_ns")} WHERE id = new.id;
END;
CREATE TRIGGER images_redated AFTER UPDATE OF taken_at ON images WHEN new.taken_at IS NOT old.taken_at BEGIN
    UPDATE files SET photo_date = {_V7_DATE.format(image="new.id", mtime="files.mtime_ns")} WHERE image_id = new.id;
END
"""

# MIGRATIONS[n] upgrades a catalog at version n (SQLite's user_version) to n + 1.
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3, _SCHEMA_V4, _SCHEMA_V5, _SCHEMA_V6, _SCHEMA_V7)
SCHEMA_VERSION = len(MIGRATIONS)  # what this picsift writes; a newer catalog is refused, not downgraded


def statements(script: str) -> Iterator[str]:
    """A migration's statements one by one (executescript would commit the migration's transaction
    first); a trigger's BEGIN ... END body, semicolons and all, stays one statement."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                yield pending
            pending = ""
    if pending.strip(" \t\n;"):
        yield pending  # not a whole statement: SQLite says what is wrong with it
