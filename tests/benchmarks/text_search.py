"""Query latency with the printed text blended in, at library scale; writes results/text_search.json.

Run: PICSIFT_TEST_BUILTIN=/path/to/picsift-builtin python tests/benchmarks/text_search.py [--photos 100000] [--with-text 0.15]

A real catalog (SQLite, FTS5) of `--photos` images, `--with-text` of them with printed text (lines of
words drawn from ImageNet's class names, a sign or a receipt's worth each), a real HNSW index of
clustered synthetic vectors as wide as the bundle's shared space (tests/benchmarks/query.py makes
them), and the real built-in text tower encoding each query. Measured side by side in one run, per
query: the search as the app runs it (semantic + printed text) and the same search with the printed
text left out, for queries whose words are printed in some photos and for purely visual ones; and
the FTS5 lookup alone. Nothing is tuned here, so there is no dev/test split.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from query import build, clustered_unit_vectors, p50_p95, timed  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "text_search.json"
VISUAL = ["a dog running on the beach", "snowy mountains at sunrise", "a plate of pasta", "children playing in a park",
          "a cat asleep on a sofa", "fireworks over a city"]


def vocabulary() -> list[str]:
    names = (ROOT / "models" / "data" / "imagenet_classes.txt").read_text(encoding="utf-8").split()
    return sorted({w.strip(",").lower() for w in names if w.strip(",").isalpha() and len(w) > 3})


def fill_catalog(catalog, photos: int, with_text: float, words: list[str], rng: random.Random) -> list[str]:
    """`photos` images with one file each; a share with printed text. Returns phrases that are printed."""
    from desktop.core.text_match import spaced

    db = catalog._db
    printed = []
    with catalog.transaction():
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/library', 0)")
        db.executemany("INSERT INTO images(id, content_hash, width, height, text_read_with) VALUES (?, ?, 4000, 3000, 'bench')",
                       ((i, f"{i:032x}") for i in range(1, photos + 1)))
        db.executemany("INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES (?, 1, 1, ?, ?)",
                       ((f"/library/{i:07d}.jpg", i, i) for i in range(1, photos + 1)))
        for image_id in rng.sample(range(1, photos + 1), int(photos * with_text)):
            lines = [" ".join(rng.choices(words, k=rng.randint(2, 6))) for _ in range(rng.randint(1, 8))]
            db.execute("INSERT INTO image_text(image_id, lines) VALUES (?, ?)",
                       (image_id, json.dumps([[line, 0.9, [[0, 0], [1, 0], [1, 1], [0, 1]]] for line in lines])))
            db.execute("INSERT INTO image_text_fts(rowid, text) VALUES (?, ?)", (image_id, spaced("\n".join(lines))))
            if len(printed) < 200:
                printed.append(" ".join(lines[0].split()[:2]))
    return printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--with-text", type=float, default=0.15, help="share of photos with printed text")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("PICSIFT_DATA_DIR", tempfile.mkdtemp(prefix="picsift-bench-"))

    from desktop.core.catalog import Catalog
    from desktop.core.search import Query, Searcher
    from desktop.core.text_match import fts_query
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(Path(os.environ["PICSIFT_TEST_BUILTIN"]), device="cpu")
    rng = random.Random(0)
    catalog = Catalog(Path(os.environ["PICSIFT_DATA_DIR"]) / "bench.sqlite3")
    start = time.perf_counter()
    printed = fill_catalog(catalog, args.photos, args.with_text, vocabulary(), rng)
    fill_s = time.perf_counter() - start
    index, build_s = build(clustered_unit_vectors(args.photos, runtime.manifest.embedding_dim), None)
    searcher = Searcher(catalog, runtime, index)
    runtime.encode_texts(["warm up"])
    searcher.search(Query(texts=(("warm up", 1.0),)))

    blended, semantic_only = searcher._printed, lambda query, allowed: (allowed, set())
    result = {"photos": args.photos, "with_text": int(args.photos * args.with_text), "catalog_fill_s": round(fill_s, 1),
              "index_build_s": round(build_s, 1)}
    for kind, texts in (("printed_words", printed), ("visual", VISUAL)):
        queries = [texts[i % len(texts)] for i in range(args.queries)]
        row = {}
        for name, printed_part in (("blended", blended), ("semantic_only", semantic_only)):
            searcher._printed = printed_part
            times, found = timed(lambda i: searcher.search(Query(texts=((queries[i], 1.0),), k=20)), len(queries))
            row[name] = p50_p95(times)
            if name == "blended" and kind == "printed_words":
                row["printed_photo_first"] = round(np.mean([bool(r) and r[0].relevance >= 0.75 for r in found]), 3)
        row["fts_lookup_alone"] = p50_p95(timed(lambda i: catalog.text_matches(fts_query(queries[i])), len(queries))[0])
        result[kind] = row
    searcher._printed = blended
    result["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
