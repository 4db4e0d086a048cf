"""The catalog's v6 -> v7 migration (the stored, indexed photo date) on a large v6 catalog. Writes results/catalog_migration.json.

Run: python tests/benchmarks/catalog_migration.py [--files 1000000] [--no-exif] [--out FILE]
A v6 catalog is written directly by SQLite (v6's own migration scripts, then --files files in
500-photo folders, 50,000 under each top one, two thirds of their images with an EXIF date, the
rest dated by mtime; --no-exif: none has one, the worst case, every date from SQLite's localtime),
and timed: the newest 500 of the library and of one 50,000-photo folder as v6 listed them (its
query, the date computed per row), opening it with this picsift (the migration), the same two
listings on v7, and a check that every stored date equals v6's expression.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query import p50_p95, timed  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "catalog_migration.json"
V6_DATE = "COALESCE(i.taken_at, strftime('%Y-%m-%dT%H:%M:%S', f.mtime_ns / 1e9, 'unixepoch', 'localtime'))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--no-exif", action="store_true", help="no photo has an EXIF date: all are dated by mtime")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="picsift-migration-"))
    try:
        result = run(tmp / "catalog.sqlite3", args.files, not args.no_exif)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def write_v6(path: Path, count: int, exif: bool = True, root: str = "/photos") -> None:
    """A v6 catalog of `count` files under `root` (one library folder), written by SQLite directly."""
    from desktop.core.catalog_schema import MIGRATIONS, statements

    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN")
        for script in MIGRATIONS[:6]:
            for statement in statements(script):
                db.execute(statement)
        db.execute("PRAGMA user_version=6")
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, ?, 0)", (root,))
        day = 86_400
        db.executemany(
            "INSERT INTO images(id, content_hash, width, height, taken_at) VALUES (?, ?, 4000, 3000, ?)",
            ((i + 1, f"h{i}", None if i % 3 == 0 or not exif else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1.2e9 + (i * 7919 % count) * day / 40)))
             for i in range(count)))
        db.executemany(
            "INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES (?, 1, 2000000, ?, ?)",
            ((f"{root}/{i // 50000:02d}/{i // 500:04d}/IMG_{i:07d}.jpg", int((1.3e9 + i * 60) * 1e9), i + 1) for i in range(count)))
        db.execute("COMMIT")


def run(path: Path, count: int, exif: bool = True) -> dict:
    from desktop.core.catalog import _RECORD_COLUMNS, Catalog, filter_conditions

    started = time.perf_counter()
    write_v6(path, count, exif)
    setup_s = time.perf_counter() - started
    folder = filter_conditions("/photos/00")[0]
    with closing(sqlite3.connect(path)) as db:
        def v6_listing(where: str, params: list) -> list:
            sql = f"{_RECORD_COLUMNS}FROM files f JOIN images i ON i.id = f.image_id WHERE {where} ORDER BY {V6_DATE} DESC LIMIT 500"
            return db.execute(sql, params).fetchall()
        v6_recent, _ = timed(lambda _: v6_listing("1", []), 3)
        v6_folder, _ = timed(lambda _: v6_listing(*folder), 10)
    size_mb = sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 2**20
    started = time.perf_counter()
    catalog = Catalog(path)
    migration_s = time.perf_counter() - started
    wrong = catalog._db.execute(
        f"SELECT COUNT(*) FROM files f JOIN images i ON i.id = f.image_id WHERE f.photo_date IS NOT {V6_DATE}").fetchone()[0]
    v7_recent, _ = timed(lambda _: catalog.recent_files(500), 10)
    v7_folder, rows = timed(lambda _: catalog.files_where([folder], 500), 20)
    catalog.close()
    return {"files": count, "with_exif_date": round(2 / 3 if exif else 0, 2), "v6_catalog_mb": round(size_mb), "v6_setup_s": round(setup_s, 1),
            "migration_s": round(migration_s, 2), "dates_differing_from_v6": wrong,
            "newest_500_of_the_library": {"v6": p50_p95(v6_recent), "v7": p50_p95(v7_recent)},
            "newest_500_of_a_50000_photo_folder": {"v6": p50_p95(v6_folder), "v7": p50_p95(v7_folder), "listed": len(rows[0])},
            "sqlite": sqlite3.sqlite_version, "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}


if __name__ == "__main__":
    main()
