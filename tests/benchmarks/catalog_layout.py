"""Bytes on disk per stored feature vector for SQLite table layouts and page sizes; writes results/catalog_layout.json.

Run: python tests/benchmarks/catalog_layout.py [--rows 20000] [--dim 1280]
The catalog keeps one float16 vector per image and encoder in `features` (and `instance_features`),
a WITHOUT ROWID table on 4 KB pages. A 2.5 KB row does not fit a WITHOUT ROWID page's local payload
(about a quarter of a page), so most of it spills to an overflow page of its own; this measures
what each layout costs, on the table as desktop/core/catalog_schema.py declares it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "catalog_layout.json"
COLUMNS = "encoder_id TEXT NOT NULL, image_id INTEGER NOT NULL, vector BLOB NOT NULL"
LAYOUTS = {
    "without rowid, 4 KB pages (the catalog today)": (4096, f"({COLUMNS}, PRIMARY KEY (encoder_id, image_id)) WITHOUT ROWID"),
    "without rowid, 8 KB pages": (8192, f"({COLUMNS}, PRIMARY KEY (encoder_id, image_id)) WITHOUT ROWID"),
    "without rowid, 16 KB pages": (16384, f"({COLUMNS}, PRIMARY KEY (encoder_id, image_id)) WITHOUT ROWID"),
    "rowid table + unique index, 4 KB pages": (4096, f"({COLUMNS}, UNIQUE (encoder_id, image_id))"),
    "rowid table + unique index, 16 KB pages": (16384, f"({COLUMNS}, UNIQUE (encoder_id, image_id))"),
}


def bytes_per_row(page_size: int, table: str, rows: int, dim: int) -> float:
    vector = np.random.default_rng(0).standard_normal(dim).astype(np.float16).tobytes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "layout.sqlite3"
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA page_size={page_size}")
        db.execute(f"CREATE TABLE features {table}")
        encoder = "picsift-builtin:" + "0" * 64  # as long as a real encoder id
        db.executemany("INSERT INTO features VALUES (?, ?, ?)", ((encoder, i, vector) for i in range(rows)))
        db.commit()
        db.close()
        return os.path.getsize(path) / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=1280, help="float16 values a vector (the built-in v2 image tower: 1280)")
    args = parser.parse_args()
    result = {"rows": args.rows, "vector_bytes": 2 * args.dim, "sqlite": sqlite3.sqlite_version,
              "bytes_per_row": {name: round(bytes_per_row(page, table, args.rows, args.dim)) for name, (page, table) in LAYOUTS.items()}}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
