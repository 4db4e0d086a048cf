"""A stale, foreign or damaged library state is detected, explained, and recovered from; never used silently."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from engine_fixtures import damage_catalog, index_all, open_library, write_photos

from desktop.core.catalog import Catalog, catalog_path, set_aside
from desktop.core.library import Library
from desktop.core.vector_index import index_dir
from models.errors import CatalogDamagedError, DiskFullError
from models.runtime import ModelRuntime


def _indexed(toy, folder, names=None) -> Library:
    photos = write_photos(folder, **({"names": names} if names else {}))
    library = open_library(toy)
    library.catalog.add_folder(photos[0].parent)
    assert index_all(library).failed == 0
    return library


def _consistent(library: Library) -> bool:
    """Every vector the index serves is a live catalog image, and every live image is served."""
    return set(library.vector_index.labels().tolist()) == library.catalog.live_image_ids()


def _self_match(library: Library, photo) -> str:
    """The best hit for a library photo's own pixels: itself, when the index is right."""
    vector = library.runtime.encode_image_files([photo])[0]
    ids, _ = library.vector_index.search(vector, 1)
    return library.catalog.files_for_images(ids)[int(ids[0])][0].path


def test_catalog_moved_aside_rebuilds_the_index_and_keeps_the_folders(toy, tmp_path):
    library = _indexed(toy, tmp_path / "photos")
    folders = library.catalog.folders()
    library.close()
    for suffix in ("", "-wal", "-shm"):  # what the damaged-catalog advice says to do
        if os.path.exists(f"{catalog_path()}{suffix}"):
            os.replace(f"{catalog_path()}{suffix}", tmp_path / f"aside{suffix}")
    assert any(index_dir().iterdir())  # the old index files are still there

    rebuilt = open_library(toy)
    assert [p for _, p in rebuilt.catalog.folders()] == [p for _, p in folders]  # the folder list survived
    index_all(rebuilt)
    assert "another catalog" in rebuilt.vector_index.rebuild_reason
    assert _consistent(rebuilt)
    for photo in sorted((tmp_path / "photos").iterdir()):
        assert _self_match(rebuilt, photo) == str(photo)


def test_a_foreign_index_copied_in_is_detected_and_rebuilt(toy, tmp_path, monkeypatch):
    other = tmp_path / "other-data"
    monkeypatch.setenv("PICSIFT_DATA_DIR", str(other))
    _indexed(toy, tmp_path / "other-photos", names=("astronaut", "camera", "coins", "moon", "brick")).close()
    foreign = index_dir()
    monkeypatch.setenv("PICSIFT_DATA_DIR", str(tmp_path / "mine"))
    mine = _indexed(toy, tmp_path / "photos", names=("coffee", "chelsea", "rocket"))
    mine.close()
    shutil.rmtree(index_dir())
    shutil.copytree(foreign, index_dir())

    library = open_library(toy)
    assert "another catalog" in library.vector_index.rebuild_reason
    assert _consistent(library)
    assert _self_match(library, tmp_path / "photos" / "coffee.jpg") == str(tmp_path / "photos" / "coffee.jpg")


def test_an_index_newer_than_a_restored_catalog_is_rebuilt(toy, tmp_path):
    library = _indexed(toy, tmp_path / "photos", names=("coffee", "chelsea"))
    library.catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(catalog_path(), tmp_path / "backup.sqlite3")
    write_photos(tmp_path / "photos", names=("rocket", "astronaut", "moon"))
    index_all(library)
    library.close()
    os.replace(tmp_path / "backup.sqlite3", catalog_path())  # a backup of the catalog put back
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{catalog_path()}{suffix}"):
            os.remove(f"{catalog_path()}{suffix}")

    restored = open_library(toy)
    assert "older than the index" in restored.vector_index.rebuild_reason
    assert _consistent(restored)


def test_a_damaged_catalog_page_is_refused_with_the_way_out_and_never_written(toy, tmp_path):
    library = _indexed(toy, tmp_path / "photos")
    library.catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    library.close()
    damage_catalog(catalog_path(), table="files")
    before = catalog_path().read_bytes()

    damaged = open_library(toy)
    with pytest.raises(CatalogDamagedError, match="picsift repair"):
        index_all(damaged)
    from desktop.core.duplicates import duplicate_groups

    with pytest.raises(CatalogDamagedError):
        duplicate_groups(damaged.catalog, damaged.runtime.manifest.image_encoder_id, 0.95)
    with pytest.raises(CatalogDamagedError):
        damaged.catalog.add_folder(tmp_path)  # once damage is seen, nothing is written
    damaged.close()
    assert catalog_path().read_bytes() == before


def test_repair_sets_the_damaged_catalog_aside_and_reindexing_restores_the_library(toy, tmp_path):
    library = _indexed(toy, tmp_path / "photos")
    count = library.catalog.count_files()
    library.catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    library.close()
    damage_catalog(catalog_path())
    catalog_path().with_name("catalog.folders.json").unlink()  # a catalog older than the backup file

    aside = set_aside()
    assert aside.exists() and not catalog_path().exists()
    fresh = open_library(toy)
    assert [p for _, p in fresh.catalog.folders()] == [str((tmp_path / "photos").resolve())]  # salvaged
    assert index_all(fresh).encoded == count
    assert _consistent(fresh)


def test_a_full_disk_keeps_committed_work_and_search_goes_on(toy, tmp_path, monkeypatch):
    monkeypatch.setattr("desktop.core.catalog_connection.PAGE_SIZE", 4096)  # 40 small rows fill 3 of its pages
    photos = write_photos(tmp_path / "photos")
    library = open_library(toy)
    library.catalog.add_folder(photos[0].parent)
    index_all(library, batch_size=2)
    library.close()
    for i in range(40):
        write_photos(tmp_path / "more", names=("chelsea",), size=(300 + i, 200))
        os.replace(tmp_path / "more" / "chelsea.jpg", tmp_path / "photos" / f"extra{i:02d}.jpg")

    library = open_library(toy)
    pages = library.catalog._db.execute("PRAGMA page_count").fetchone()[0]
    library.catalog._db.execute(f"PRAGMA max_page_count={pages + 3}")  # SQLite's own "disk is full"
    with pytest.raises(DiskFullError, match="is full"):
        index_all(library, batch_size=2)
    kept = library.catalog.count_files()
    assert kept >= len(photos)
    library.close()

    reopened = open_library(toy)
    assert reopened.catalog._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert reopened.catalog.count_files() == kept
    results = reopened.searcher().similar(photos[1], k=3)
    assert results and all(os.path.exists(r.path) for r in results)


def test_an_index_save_on_a_full_disk_writes_nothing_and_search_uses_memory(toy, tmp_path, monkeypatch):
    library = _indexed(toy, tmp_path / "photos")
    index = library.vector_index
    saved = sorted(p.name for p in index_dir().iterdir())
    monkeypatch.setattr("shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DiskFullError, match="is full"):
        index.save()
    assert sorted(p.name for p in index_dir().iterdir()) == saved  # the old generation stays whole
    library.close()

    write_photos(tmp_path / "new", names=("moon",), size=(500, 400))
    os.replace(tmp_path / "new" / "moon.jpg", tmp_path / "photos" / "moon2.jpg")
    later = Library(Catalog(), ModelRuntime(toy, device="cpu"))
    later.catalog.add_folder(tmp_path / "photos")
    with pytest.raises(DiskFullError):
        index_all(later)  # the final save cannot happen
    searcher = Library(Catalog(), ModelRuntime(toy, device="cpu")).searcher()  # opening syncs; its save fails quietly
    query = np.ones(searcher.runtime.manifest.embedding_dim, np.float32)
    assert len(searcher.vector_index.search(query / np.linalg.norm(query), 20)[0]) == 9


_INDEX_ON_A_SMALL_DISK = """
import json, sys
from desktop.core.catalog import Catalog
from desktop.core.library import Library
from models.errors import DiskFullError
from models.runtime import ModelRuntime
bundle, folder = sys.argv[1:3]
library = Library(Catalog(), ModelRuntime(bundle, device="cpu"))
library.catalog.add_folder(folder)
outcome = {}
try:
    for progress in library.indexer(batch_size=4).run():
        pass
    outcome["error"] = None
except DiskFullError as exc:
    outcome["error"] = str(exc)
outcome["kept"] = Library(Catalog(), ModelRuntime(bundle, device="cpu")).catalog.count_files()
searcher = Library(Catalog(), ModelRuntime(bundle, device="cpu")).searcher()
outcome["found"] = [r.path for r in searcher.similar(sys.argv[3], k=3)]
print(json.dumps(outcome))
"""


def test_indexing_onto_a_really_full_disk_says_so_once_and_search_still_works(toy, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    disk = tmp_path / "disk"
    disk.mkdir()
    can_mount = ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]
    if not shutil.which("unshare") or subprocess.run(can_mount, capture_output=True).returncode:
        pytest.skip("no private mount namespace here to make a small disk in")
    for i in range(60):
        write_photos(tmp_path / "one", names=(("chelsea", "coffee", "rocket")[i % 3],), size=(320 + i, 240))
        os.replace(next((tmp_path / "one").iterdir()), tmp_path / f"p{i:02d}.jpg")
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in tmp_path.glob("p*.jpg"):
        os.replace(path, photos / path.name)
    root = Path(__file__).resolve().parents[2]
    script = (
        f"mount -t tmpfs -o size=1400k tmpfs {disk} && PICSIFT_DATA_DIR={disk}/data PYTHONPATH={root} "
        f'{sys.executable} -c "$0" {toy} {photos} {photos / "p00.jpg"}'
    )
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, _INDEX_ON_A_SMALL_DISK], capture_output=True, text=True, cwd=root)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["error"] and "is full" in outcome["error"] and str(disk) in outcome["error"]
    assert 0 < outcome["kept"] < 60  # what was committed before the disk filled is still there
    assert outcome["found"]


def test_the_damaged_catalog_advice_works_from_the_command_line(installed_builtin, tmp_path, capsys):
    from desktop.cli import main

    write_photos(tmp_path / "lib", names=("coffee", "rocket", "chelsea"))
    assert main(["index", str(tmp_path / "lib")]) == 0
    with Catalog() as catalog:
        catalog._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage_catalog(catalog_path(), at_fraction=0.6)
    capsys.readouterr()

    assert main(["index"]) == 1
    shown = [line.split("\r")[-1] for line in capsys.readouterr().err.split("\n")]  # as a terminal shows it
    [line] = [text for text in shown if text.strip()]
    assert "the catalog is damaged" in line and "picsift repair" in line
    assert main(["repair"]) == 0
    out = capsys.readouterr().out
    assert "moved to" in out and "1 library folder" in out and "3 encoded" in out
    assert main(["repair"]) == 0 and "nothing to repair" in capsys.readouterr().out
    assert main(["search", "a cup of coffee", "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["path"].endswith("coffee.jpg")


def test_a_version_1_catalog_is_migrated_keeping_its_rows_and_gains_an_identity(tmp_path):
    import sqlite3

    from desktop.core import catalog_schema as catalog_module

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(catalog_module.MIGRATIONS[0] + ";\nPRAGMA user_version=1;")
        db.execute("INSERT INTO folders(path, added_at) VALUES ('/photos', 0)")
    db.close()
    with Catalog(path) as migrated:
        assert migrated._version() == catalog_module.SCHEMA_VERSION
        assert [p for _, p in migrated.folders()] == ["/photos"]
        assert len(migrated.catalog_id) == 32
    with Catalog(path) as again:
        assert again.catalog_id == migrated.catalog_id  # stable across opens


def test_a_read_only_catalog_reads_and_refuses_every_write(tmp_path):
    import sqlite3

    from models.errors import PicsiftError

    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        catalog.add_folder(tmp_path / "photos")
    with Catalog(path, readonly=True) as catalog:
        assert [p for _, p in catalog.folders()] == [str(tmp_path / "photos")]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            catalog.add_folder(tmp_path / "other")
    with Catalog(path) as catalog:
        assert len(catalog.folders()) == 1
    with pytest.raises(PicsiftError, match="no catalog here yet"):
        Catalog(tmp_path / "none.sqlite", readonly=True)
    assert not (tmp_path / "none.sqlite").exists()
