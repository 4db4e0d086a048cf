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
