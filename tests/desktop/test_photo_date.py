"""A photo's date is stored on its file (catalog v7): the same value v6 computed per row, kept right on every change."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import numpy as np
from engine_fixtures import index_all, write_photos

from desktop.core.catalog import Catalog, NewImage, filter_conditions
from desktop.core.catalog_schema import MIGRATIONS, SCHEMA_VERSION, statements
from desktop.core.search import Query

# v6's date of a file, computed per row (what catalog v7 stores)
V6_DATE = "COALESCE(i.taken_at, strftime('%Y-%m-%dT%H:%M:%S', f.mtime_ns / 1e9, 'unixepoch', 'localtime'))"
JULY = 1_563_105_600 * 10**9  # 2019-07-14 12:00 UTC, in ns


def write_v6_catalog(path) -> None:
    """A v6 catalog as picsift v6 wrote it (its own migration scripts): photos with and without an EXIF date, one copy."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("BEGIN")
        for script in MIGRATIONS[:6]:
            for statement in statements(script):
                db.execute(statement)
        db.execute("PRAGMA user_version=6")
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/photos', 0)")
        taken = [None, "2019-07-14T10:00:00+02:00", None, "2021-01-02T03:04:05", None, "2019-07-14T10:00:00+02:00"]
        db.executemany("INSERT INTO images(id, content_hash, taken_at) VALUES (?, ?, ?)",
                       [(i + 1, f"h{i}", t) for i, t in enumerate(taken)])
        files = [(f"/photos/{i:02d}/p{i}.jpg", JULY + i * 86_400 * 10**9 * 40, i % 6 + 1) for i in range(8)]
        db.executemany("INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES (?, 1, 10, ?, ?)", files)
        db.execute("COMMIT")


def v6_listing(path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT f.path, {V6_DATE} FROM files f JOIN images i ON i.id = f.image_id "
                          f"ORDER BY {V6_DATE} DESC, f.id DESC").fetchall()


def test_a_v6_catalog_file_migrates_to_v7_with_every_date_as_v6_computed_it_and_lists_in_the_same_order(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    write_v6_catalog(path)
    before = v6_listing(path)
    with Catalog(path) as catalog:
        assert catalog._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        stored = catalog._db.execute("SELECT path, photo_date FROM files").fetchall()
        assert sorted(stored) == sorted(before)
        assert [r.path for r in catalog.recent_files()] == [p for p, _ in before]
        statements: list[str] = []
        catalog._db.set_trace_callback(statements.append)  # the SQL as run, its parameters in place
        folder = catalog.files_where(filter_conditions("/photos/03"), 10)
        catalog._db.set_trace_callback(None)
        assert [r.path for r in folder] == ["/photos/03/p3.jpg"]
        folder_plan = " ".join(str(row) for row in catalog._db.execute("EXPLAIN QUERY PLAN " + statements[-1]))
        assert "(path>? AND path<?)" in folder_plan and "SCAN f" not in folder_plan  # a folder is a range of the path index
        plan = " ".join(str(row) for row in catalog._db.execute(
            "EXPLAIN QUERY PLAN SELECT f.id FROM files f ORDER BY f.photo_date DESC, f.id DESC LIMIT 5"))
        assert "files_by_date" in plan and "TEMP B-TREE" not in plan  # newest first walks the index, no sort


def test_date_filters_read_the_stored_date_as_they_read_the_computed_one(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    write_v6_catalog(path)
    with closing(sqlite3.connect(path)) as db:
        v6_july = {p for (p,) in db.execute(f"SELECT f.path FROM files f JOIN images i ON i.id = f.image_id "
                                            f"WHERE substr({V6_DATE}, 1, 7) = '2019-07'")}
    with Catalog(path) as catalog:
        july = catalog.files_where(Query(date_from="2019-07-01", date_to="2019-07-31").conditions(), 100)
        assert {r.path for r in july} == v6_july and len(v6_july) >= 3


def add(catalog: Catalog, folder_id: int, path: str, content: str, mtime_ns: int, taken_at: str | None) -> int:
    item = NewImage(path, folder_id, 10, mtime_ns, content, 64, 48, taken_at, None)
    return catalog.add_images([item], np.zeros((1, 4), np.float32), "enc")[0]


def date_of(catalog: Catalog, path: str) -> str:
    return catalog._db.execute("SELECT photo_date FROM files WHERE path = ?", (path,)).fetchone()[0]


def computed_date(catalog: Catalog, path: str) -> str:
    return catalog._db.execute(f"SELECT {V6_DATE} FROM files f JOIN images i ON i.id = f.image_id WHERE f.path = ?",
                               (path,)).fetchone()[0]


def test_a_file_whose_mtime_image_or_taken_at_changes_gets_its_new_date(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite3") as catalog:
        folder = catalog.add_folder(tmp_path)
        add(catalog, folder, "/p/a.jpg", "ha", JULY, None)
        first = date_of(catalog, "/p/a.jpg")
        assert first == computed_date(catalog, "/p/a.jpg")
        image = catalog.file_by_path("/p/a.jpg").image_id
        catalog.link_file("/p/a.jpg", folder, 10, JULY + 86_400 * 10**9, image)  # touched: same content, new mtime
        assert date_of(catalog, "/p/a.jpg") == computed_date(catalog, "/p/a.jpg") != first
        add(catalog, folder, "/p/a.jpg", "ha-edited", JULY, "2001-02-03T04:05:06")  # edited: new content with EXIF
        assert date_of(catalog, "/p/a.jpg") == "2001-02-03T04:05:06"
        catalog.link_file("/p/b/moved.jpg", folder, 10, JULY * 2, catalog.file_by_path("/p/a.jpg").image_id)  # moved
        assert date_of(catalog, "/p/b/moved.jpg") == "2001-02-03T04:05:06"
        with catalog.transaction():
            catalog._db.execute("UPDATE images SET taken_at = NULL WHERE content_hash = 'ha-edited'")
        assert date_of(catalog, "/p/a.jpg") == computed_date(catalog, "/p/a.jpg")  # back to its mtime
        assert date_of(catalog, "/p/b/moved.jpg") == computed_date(catalog, "/p/b/moved.jpg")
        assert [r.path for r in catalog.recent_files()] == ["/p/b/moved.jpg", "/p/a.jpg"]


def test_a_rescan_after_a_photo_is_touched_lists_it_by_its_new_date(library, tmp_path):
    photos = write_photos(tmp_path / "photos")
    for i, photo in enumerate(photos):
        os.utime(photo, ns=(JULY + i * 10**9, JULY + i * 10**9))
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    assert library.catalog.recent_files(1)[0].path == str(photos[-1])
    os.utime(photos[0], ns=(JULY * 2, JULY * 2))  # no EXIF date: the file's mtime dates it
    index_all(library)
    newest = library.catalog.recent_files(1)[0]
    assert newest.path == str(photos[0]) and newest.mtime_ns == JULY * 2
    assert date_of(library.catalog, str(photos[0])) == computed_date(library.catalog, str(photos[0]))
