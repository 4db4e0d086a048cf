"""The catalog's migration scripts: each runs statement by statement inside one transaction."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from desktop.core.catalog_schema import MIGRATIONS, SCHEMA_VERSION, statements


def test_a_migration_with_a_trigger_keeps_the_trigger_body_as_one_statement():
    script = """
    CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
    CREATE TABLE words (note_id INTEGER NOT NULL, text TEXT NOT NULL);  -- filled by the trigger; never by hand
    CREATE TRIGGER notes_added AFTER INSERT ON notes BEGIN
        INSERT INTO words(note_id, text) VALUES (new.id, new.text);
        INSERT INTO words(note_id, text) VALUES (new.id, upper(new.text));
    END;
    """
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        for statement in statements(script):
            db.execute(statement)
        db.execute("COMMIT")
        db.execute("INSERT INTO notes(text) VALUES ('boat')")
        assert db.execute("SELECT text FROM words ORDER BY text").fetchall() == [("BOAT",), ("boat",)]


def test_the_schema_version_is_the_number_of_migrations_and_each_one_runs_on_an_empty_catalog():
    assert SCHEMA_VERSION == len(MIGRATIONS)
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
        for script in MIGRATIONS:
            db.execute("BEGIN IMMEDIATE")
            for statement in statements(script):
                db.execute(statement)
            db.execute("COMMIT")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"folders", "images", "files", "features", "errors", "meta", "instance_features"} <= tables


def _page_size(path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA page_size").fetchone()[0]


def _catalog_with_photos(path, count: int = 40):
    import numpy as np

    from desktop.core.catalog import Catalog, NewImage

    catalog = Catalog(path)
    folder_id = catalog.add_folder(path.parent / "photos")
    items = [NewImage(str(path.parent / "photos" / f"{i}.jpg"), folder_id, 100, i, f"h{i}", 64, 48, None, None)
             for i in range(count)]
    vectors = np.random.default_rng(0).standard_normal((count, 1280)).astype(np.float32)
    catalog.add_images(items, vectors, "enc", vectors)
    return catalog, vectors


def test_a_new_catalog_has_pages_that_hold_a_photos_features(tmp_path):
    from desktop.core import catalog_connection

    catalog, vectors = _catalog_with_photos(tmp_path / "catalog.sqlite3")
    catalog.close()
    assert _page_size(tmp_path / "catalog.sqlite3") == catalog_connection.PAGE_SIZE == 16384
    with closing(sqlite3.connect(tmp_path / "catalog.sqlite3")) as db:
        overflow = db.execute("SELECT count(*) FROM dbstat WHERE name = 'features' AND pagetype = 'overflow'").fetchone()[0]
    assert overflow == 0  # 4 KB pages: one overflow page a vector


def test_a_catalog_made_with_small_pages_keeps_them_and_its_photos(tmp_path, monkeypatch):
    import numpy as np

    from desktop.core import catalog_connection
    from desktop.core.catalog import Catalog

    monkeypatch.setattr(catalog_connection, "PAGE_SIZE", 4096)  # as every catalog was made before
    catalog, vectors = _catalog_with_photos(tmp_path / "catalog.sqlite3")
    catalog.close()
    monkeypatch.undo()
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    ids, stored = next(catalog.features("enc"))
    catalog.close()
    assert _page_size(tmp_path / "catalog.sqlite3") == 4096
    assert len(ids) == 40 and np.allclose(stored, vectors, atol=1e-2)
