"""Benchmark: do image queries and duplicates recognise the same photo after everyday edits?

Library and edits: tests/benchmarks/edited_photos.py (a few hundred real photos; every library
photo gets one copy per edit). Sources are split in halves: the blend weight and the duplicates
threshold are chosen on the dev half and reported on the test half (queries are the copies of
that half's photos; the whole library is searched). Compared, through the real bundles' ONNX graphs:
  old: today's search (shared-space cosine) and duplicates on features at FEATURE_THRESHOLD;
  new: the shared space's nearest RERANK_POOL re-ranked by the instance/semantic blend, and
       duplicates on instance descriptors (duplicate_groups on a real catalog).
Also: whether the other photos of the query's scene still follow (scene recall@10), and the
image encoder's cost with and without the instance output. Writes results/edited_copies.json.

    PYTHONPATH=$PWD python tests/benchmarks/edited_copies.py [NEW_BUNDLE [OLD_BUNDLE]]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edited_photos import EDITS, edited, library_photos  # noqa: E402

from desktop.core.catalog import Catalog, NewImage  # noqa: E402
from desktop.core.duplicates import FEATURE_THRESHOLD, duplicate_groups  # noqa: E402
from desktop.core.search import RERANK_POOL  # noqa: E402
from models.preprocess import preprocess  # noqa: E402
from models.runtime import ModelRuntime  # noqa: E402

NEW_BUNDLE = Path("/work/builtin-v2-instance/picsift-builtin")
OLD_BUNDLE = Path("/work/builtin/picsift-builtin")  # the same weights exported before the instance output
RESULTS = Path(__file__).resolve().parent / "results" / "edited_copies.json"
WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0)  # instance weights tried on dev
THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.60, 0.951, 0.025))  # duplicates thresholds tried


def encode(runtime: ModelRuntime, images) -> dict[str, np.ndarray]:
    """Unit features, shared-space embeddings and instance descriptors of PIL images."""
    spec = runtime.manifest.image_preprocess
    features, instance = [], []
    for start in range(0, len(images), 32):
        f, i = runtime.image_features_and_instance(np.stack([preprocess(im, spec) for im in images[start : start + 32]]))
        features.append(f)
        instance.append(i)
    features = np.concatenate(features)
    return {"features": _unit(features), "semantic": runtime.map_images(features), "instance": np.concatenate(instance)}


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranking(query: dict, library: dict, weight: float | None) -> np.ndarray:
    """Library indices best first for each query: semantic only (weight None), else the re-ranked pool."""
    semantic = query["semantic"] @ library["semantic"].T  # (Q, N)
    order = np.argsort(-semantic, axis=1, kind="stable")
    if weight is None:
        return order
    pool = order[:, :RERANK_POOL]
    instance = np.einsum("qd,qpd->qp", query["instance"], library["instance"][pool])
    blended = weight * instance + (1 - weight) * np.take_along_axis(semantic, pool, 1)
    return np.take_along_axis(pool, np.argsort(-blended, axis=1, kind="stable"), 1)


def search_figures(order: np.ndarray, targets: np.ndarray, sources: np.ndarray, edits: np.ndarray) -> dict:
    r1 = order[:, 0] == targets
    scene = []
    for row, target in zip(order, targets):
        others = np.nonzero((sources == sources[target]) & (np.arange(len(sources)) != target))[0]
        if len(others):
            top = [i for i in row if i != target][:10]
            scene.append(len(set(top) & set(others)) / min(10, len(others)))
    return {"R@1": round(float(r1.mean()), 4), "R@1_per_edit": {e: round(float(r1[edits == e].mean()), 4) for e in EDITS},
            "in_pool": round(float((order == targets[:, None]).any(1).mean()), 4),
            "scene_recall@10": round(float(np.mean(scene)), 4) if scene else None, "queries": int(len(targets))}


def duplicates_figures(library: dict, copies: dict, targets: np.ndarray, space: str, thresholds) -> dict:
    """Pair precision and recall of duplicate_groups over library + copies, per threshold."""
    truth = np.concatenate([np.arange(len(library[space])), targets])  # the original each item shows
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        catalog = Catalog(Path(folder) / "catalog.sqlite3")
        fid = catalog.add_folder(folder)
        vectors = np.concatenate([library[space], copies[space]])
        items = [NewImage(f"{folder}/{n}.jpg", fid, 1, 1, f"h{n}", 1, 1, None, None) for n in range(len(vectors))]
        instance = vectors if space == "instance" else None
        catalog.add_images(items, vectors, "bench", instance)
        for threshold in thresholds:
            groups = duplicate_groups(catalog, "bench", threshold)
            found = [[int(Path(r.path).stem) for r in group] for group in groups]
            out[str(threshold)] = _pair_scores(found, truth)
        catalog.close()
    return out


def _pair_scores(groups: list[list[int]], truth: np.ndarray) -> dict:
    predicted = correct = 0
    for group in groups:
        labels = truth[group]
        predicted += len(group) * (len(group) - 1) // 2
        _, counts = np.unique(labels, return_counts=True)
        correct += int((counts * (counts - 1) // 2).sum())
    _, sizes = np.unique(truth, return_counts=True)
    actual = int((sizes * (sizes - 1) // 2).sum())
    precision = correct / predicted if predicted else 1.0
    return {"precision": round(precision, 4), "recall": round(correct / actual, 4), "groups": len(groups)}


def encoder_cost(new: ModelRuntime, old: ModelRuntime, images: list, repeats: int = 7) -> dict:
    """Median seconds per batch of the image encoder, with and without the instance output (each bundle's own input size)."""
    old_pixels, pixels = (np.stack([preprocess(i, r.manifest.image_preprocess) for i in images]) for r in (old, new))
    timings = {"old_features_only": [], "new_features_and_instance": []}
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        start = time.perf_counter()
        old.image_features(old_pixels)
        timings["old_features_only"].append(time.perf_counter() - start)
        start = time.perf_counter()
        new.image_features_and_instance(pixels)
        timings["new_features_and_instance"].append(time.perf_counter() - start)
    medians = {k: round(float(np.median(v)), 4) for k, v in timings.items()}
    return {**medians, "batch": len(pixels), "ratio": round(medians["new_features_and_instance"] / medians["old_features_only"], 3)}


def evaluate(library: dict, copies: dict, targets: np.ndarray, sources: np.ndarray, edits: np.ndarray, dev: np.ndarray) -> dict:
    """Blend weight and duplicates threshold chosen on the dev queries, figures on the test queries."""
    def on(mask, weight):
        sub = {k: v[mask] for k, v in copies.items()}
        return search_figures(ranking(sub, library, weight), targets[mask], sources, edits[mask])

    def dups(mask, space, thresholds):  # the whole library is catalogued; copies only of this half's photos
        return duplicates_figures(library, {k: v[mask] for k, v in copies.items()}, targets[mask], space, thresholds)

    dev_by_weight = {str(w): on(dev, w) for w in WEIGHTS}
    weight = max(WEIGHTS, key=lambda w: (dev_by_weight[str(w)]["R@1"], dev_by_weight[str(w)]["scene_recall@10"] or 0))
    dev_dups = dups(dev, "instance", THRESHOLDS)
    f1 = {t: 2 * v["precision"] * v["recall"] / max(v["precision"] + v["recall"], 1e-9) for t, v in dev_dups.items()}
    threshold = max(f1, key=f1.get)
    test = ~dev
    positives = np.einsum("qd,qd->q", copies["instance"][test], library["instance"][targets[test]])
    return {
        "library_photos": len(library["instance"]), "test_queries": int(test.sum()),
        "chosen_on_dev": {"instance_weight": weight, "duplicates_threshold": float(threshold)},
        "dev": {"search_by_instance_weight": dev_by_weight, "duplicates_instance": dev_dups},
        "test": {
            "search_old_semantic": on(test, None),
            "search_new_blend": on(test, weight),
            "search_instance_only": on(test, 1.0),
            "duplicates_old_features": dups(test, "features", (FEATURE_THRESHOLD,)),
            "duplicates_new_instance_curve": dups(test, "instance", THRESHOLDS),
            "instance_cosine_copy_to_original_p5_p50": {
                e: [round(float(np.percentile(positives[edits[test] == e], q)), 3) for q in (5, 50)] for e in EDITS},
        },
    }


def indexing_cost(new_bundle: Path, old_bundle: Path, photos, repeats: int = 2) -> dict:
    """Fastest of `repeats` interleaved runs of the real indexer over the same JPEGs with each bundle
    (the machine is shared: single runs varied 2-5x), and the vector bytes stored per photo."""
    from desktop.core.library import Library
    from desktop.core.thumbnails import ThumbnailCache
    from desktop.core.vector_index import VectorIndex

    seconds: dict[str, list[float]] = {"old": [], "new": []}
    stored = {}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "photos").mkdir()
        for photo in photos:
            photo.image.save(f"{folder}/photos/{photo.name}.jpg", quality=90)
        for run in range(repeats):
            for label, bundle in (("old", old_bundle), ("new", new_bundle)):
                data = Path(f"{folder}/data-{label}-{run}")  # a fresh catalog and index each run
                catalog, runtime = Catalog(data / "catalog.sqlite3"), ModelRuntime(bundle, device="cpu")
                library = Library(catalog, runtime, vector_index=VectorIndex.open(catalog, runtime, data / "index"),
                                  thumbnails=ThumbnailCache(data / "thumbnails"))
                library.catalog.add_folder(Path(folder) / "photos")
                start = time.perf_counter()
                for _ in library.indexer().run():
                    pass
                seconds[label].append(time.perf_counter() - start)
                db = library.catalog._db
                stored[label] = sum(db.execute(f"SELECT COALESCE(SUM(length(vector)), 0) FROM {t}").fetchone()[0]
                                    for t in ("features", "instance_features")) // len(photos)
                library.close()
    return {label: {"seconds": round(min(v), 2), "vector_bytes_per_photo": stored[label]} for label, v in seconds.items()} | {
        "photos": len(photos)}


def main(new_bundle: Path = NEW_BUNDLE, old_bundle: Path = OLD_BUNDLE) -> dict:
    started = time.monotonic()
    new, old = ModelRuntime(new_bundle, device="cpu"), ModelRuntime(old_bundle, device="cpu")
    photos = library_photos()
    sources = np.array([p.source for p in photos])
    names = sorted(set(sources))
    dev_sources = set(np.random.default_rng(0).permutation(names)[: len(names) // 2])
    library = encode(new, [p.image for p in photos])
    rng = np.random.default_rng(1)
    queries = [(i, e, edited(p.image, e, rng)) for i, p in enumerate(photos) for e in EDITS]
    targets = np.array([i for i, _, _ in queries])
    edits = np.array([e for _, e, _ in queries])
    copies = encode(new, [im for _, _, im in queries])
    dev = np.array([sources[t] in dev_sources for t in targets])
    # The same without the same-scene crops: only distinct photos (each source whole, each stamp).
    distinct = np.array([not p.name[-1].isdigit() for p in photos])
    remap = np.cumsum(distinct) - 1
    keep = distinct[targets]
    results = {
        "library": {"photos": len(photos), "sources": len(names), "dev_sources": len(dev_sources),
                    "edits": list(EDITS), "copies_per_photo": len(EDITS)},
        "bundles": {"new": str(new_bundle), "old": str(old_bundle)},
        "full_library": evaluate(library, copies, targets, sources, edits, dev),
        "distinct_photos_only": evaluate({k: v[distinct] for k, v in library.items()}, {k: v[keep] for k, v in copies.items()},
                                         remap[targets[keep]], sources[distinct], edits[keep], dev[keep]),
        "encoder_cost_s": encoder_cost(new, old, [p.image for p in photos[:32]]),
        "indexing": indexing_cost(new_bundle, old_bundle, [p for p, d in zip(photos, distinct) if d]),
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    found = main(*(Path(a) for a in sys.argv[1:3]))
    print(json.dumps(found["encoder_cost_s"]), json.dumps(found["indexing"]))
    for part in ("full_library", "distinct_photos_only"):
        figures = found[part]
        chosen = figures["chosen_on_dev"]
        print(part, figures["library_photos"], "photos; chosen on dev:", chosen)
        for name in ("search_old_semantic", "search_new_blend", "search_instance_only"):
            print(" ", name, figures["test"][name]["R@1"], figures["test"][name]["R@1_per_edit"], "scene", figures["test"][name]["scene_recall@10"])
        print("  duplicates old", figures["test"]["duplicates_old_features"])
        curve = figures["test"]["duplicates_new_instance_curve"]
        print("  duplicates new", {t: (v["precision"], v["recall"]) for t, v in curve.items()})
        print("  positives p5/p50", figures["test"]["instance_cosine_copy_to_original_p5_p50"])
