"""Compacting a catalog made with 4 KB pages: smaller, every photo kept, refused while it is open elsewhere, Ctrl+C safe."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing

import numpy as np
import pytest
from test_catalog_schema import _catalog_with_photos, _page_size

from desktop.cli import main
from desktop.core import catalog_compact, catalog_connection
from desktop.core.catalog import Catalog, catalog_path
from desktop.core.catalog_compact import catalog_layout, compact
from models.errors import DiskFullError, PicsiftError


@pytest.fixture
def old_catalog(monkeypatch):
    """A catalog of 300 photos made with 4 KB pages, as every catalog was before; closed."""
    with monkeypatch.context() as patched:
        patched.setattr(catalog_connection, "PAGE_SIZE", 4096)
        catalog, vectors = _catalog_with_photos(catalog_path(), count=300)
    catalog_id = catalog.catalog_id
    catalog.close()
    return vectors, catalog_id


def _stored(path):
    with Catalog(path) as catalog:
        ids, vectors = next(catalog.features("enc"))
        return catalog.catalog_id, catalog.count_files(), ids, vectors


def test_compacting_an_old_catalog_makes_it_smaller_and_keeps_every_photo(old_catalog):
    vectors, catalog_id = old_catalog
    before = catalog_layout(catalog_path())
    assert before.page_size == 4096 and before.compactable
    after = compact(catalog_path())
    assert after.page_size == 16384 and after.bytes < 0.8 * before.bytes and not after.compactable
    with closing(sqlite3.connect(catalog_path())) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    same_id, files, ids, stored = _stored(catalog_path())
    assert same_id == catalog_id and files == 300 and len(ids) == 300  # its index stays bound to it
    assert np.allclose(stored, vectors, atol=1e-2)


def test_compacting_is_refused_while_the_app_has_the_catalog_open(old_catalog):
    with Catalog() as open_elsewhere:
        with pytest.raises(PicsiftError, match="open in another picsift .* close it and run `picsift compact` again"):
            compact(catalog_path())
        assert open_elsewhere.count_files() == 300  # and the open one goes on working
    assert _page_size(catalog_path()) == 4096


def test_ctrl_c_while_compacting_leaves_the_catalog_as_it_was(old_catalog):
    vectors, _ = old_catalog

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compact(catalog_path(), tick=interrupted)
    assert _page_size(catalog_path()) == 4096
    _, files, _, stored = _stored(catalog_path())
    assert files == 300 and np.allclose(stored, vectors, atol=1e-2)


def test_a_ctrl_c_that_lands_once_the_new_file_is_written_reports_the_compacted_catalog(old_catalog, monkeypatch):
    real = catalog_compact._vacuum

    def finished_then_interrupted(path, tick):
        real(path, tick)
        raise KeyboardInterrupt  # SQLite's last stage makes no progress calls: Python sees the signal after it

    monkeypatch.setattr(catalog_compact, "_vacuum", finished_then_interrupted)
    assert compact(catalog_path()).page_size == 16384
    assert _stored(catalog_path())[1] == 300


def test_compacting_without_room_for_a_second_copy_says_how_much_to_free(old_catalog, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DiskFullError, match="is full .* free at least"):
        compact(catalog_path())
    assert _page_size(catalog_path()) == 4096


def test_status_suggests_compacting_and_compact_says_what_it_saved(old_catalog, capsys):
    assert main(["status"]) == 0
    assert "`picsift compact` would make it smaller (4 KB pages" in capsys.readouterr().out
    assert main(["compact"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("compacting the catalog") and "compacted: " in out and " -> " in out
    assert main(["compact"]) == 0
    assert "already compact; nothing to do" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "picsift compact" not in capsys.readouterr().out


def test_compact_without_a_catalog_says_so(capsys):
    assert main(["compact"]) == 1
    assert "there is no catalog here yet; add a folder first" in capsys.readouterr().err
