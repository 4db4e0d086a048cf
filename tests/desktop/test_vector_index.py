"""The vector index: exact on small data, persistent, rebuilt when damaged, in step with the catalog."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from toy_bundle import export_toy_bundle

from desktop.core.catalog import Catalog, NewImage
from desktop.core.vector_index import VectorIndex, index_dir, index_key
from models.runtime import ModelRuntime

SCORE_ATOL = 1e-5  # the index's float32 sums of float16 products and numpy's differ only by summation order


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    return ModelRuntime(export_toy_bundle(tmp_path_factory.mktemp("bundles") / "toy"))


@pytest.fixture(scope="module")
def other_runtime(tmp_path_factory):
    return ModelRuntime(export_toy_bundle(tmp_path_factory.mktemp("bundles") / "toy2", name="toy2", seed=1))


@pytest.fixture
def catalog():
    with Catalog() as catalog:
        yield catalog


def add_photos(catalog, runtime, count, start=0, encoder_id=None, seed=None):
    """Commit `count` fake photos with random 16-d features; returns (image ids (N,), paths, folder id)."""
    folder_id = catalog.add_folder("/photos")
    features = np.random.default_rng(start if seed is None else seed).random((count, 16), dtype=np.float32)  # (N, 16)
    items = [
        NewImage(f"/photos/{i}.jpg", folder_id, 100, 1, f"hash-{i}", 64, 48, None, None) for i in range(start, start + count)
    ]
    ids = catalog.add_images(items, features, encoder_id or runtime.manifest.image_encoder_id)
    return np.array(ids), [item.path for item in items], folder_id


def mapped(catalog, runtime):
    """Every live image's vector as the index should hold it: ids (N,), vectors (N, D)."""
    chunks = list(catalog.features(runtime.manifest.image_encoder_id))
    ids = np.concatenate([c[0] for c in chunks])
    return ids, runtime.map_images(np.concatenate([c[1] for c in chunks]))


def as_stored(x):
    """Vectors and queries as the index holds and scores them: float16."""
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def exact_top_k(ids, vectors, queries, k):
    """Exact search over the vectors as the index holds them (float16)."""
    scores = as_stored(queries) @ as_stored(vectors).T  # (Q, N)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order], np.take_along_axis(scores, order, axis=1)


def unit_queries(count, dim, seed=99):
    q = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_search_returns_the_exact_top_k_on_small_data(catalog, runtime):
    add_photos(catalog, runtime, 300)
    index = VectorIndex.open(catalog, runtime)
    queries = unit_queries(5, 8)
    want_ids, want_scores = exact_top_k(*mapped(catalog, runtime), queries, 10)
    for exact_search_max in (10_000, 0):  # brute force, then the graph
        index.exact_search_max = exact_search_max
        ids, scores = index.search(queries, 10)
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
    single_ids, _ = index.search(queries[0], 10)
    np.testing.assert_array_equal(single_ids, want_ids[0])
    assert index.search(queries[0], 1000)[0].shape == (300,)


def test_an_empty_library_searches_to_nothing(catalog, runtime):
    index = VectorIndex.open(catalog, runtime)
    ids, scores = index.search(unit_queries(1, 8)[0], 10)
    assert ids.shape == scores.shape == (0,)


def test_index_persists_and_reloads_without_rebuilding(catalog, runtime):
    add_photos(catalog, runtime, 200)
    first = VectorIndex.open(catalog, runtime)
    assert first.rebuild_reason == "no saved index for this model yet"
    again = VectorIndex.open(catalog, runtime)
    assert again.rebuild_reason is None
    queries = unit_queries(3, 8)
    np.testing.assert_array_equal(again.search(queries, 10)[0], first.search(queries, 10)[0])
    assert len(again) == 200
    again.save()
    assert sorted(p.suffix for p in index_dir().iterdir()) == [".json", ".npz", ".usearch"]  # old generation gone


def test_a_save_cut_off_before_its_metadata_leaves_the_previous_index_loadable(catalog, runtime, monkeypatch):
    add_photos(catalog, runtime, 80)
    index = VectorIndex.open(catalog, runtime)
    add_photos(catalog, runtime, 20, start=80)
    index.sync_from_catalog(catalog, runtime)

    def crash(*args):
        raise OSError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr("desktop.core.vector_index.write_text_atomic", crash)
        with pytest.raises(OSError):
            index.save()  # the new generation's files are written, the JSON still names the old ones
    reopened = VectorIndex.open(catalog, runtime)
    assert reopened.rebuild_reason is None and len(reopened) == 100  # old generation + a sync


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_bytes(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def _break_json(path):
    path.write_text("{not json")


def _bump_version(path):
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "format_version": 99}))


@pytest.mark.parametrize(
    ("damage", "suffix", "reason"),
    [
        (_truncate, ".usearch", "truncated"),
        (_truncate, ".npz", "truncated"),
        (_flip_bytes, ".usearch", "corrupt"),
        (_break_json, ".json", "unreadable"),
        (_bump_version, ".json", "version 99"),
    ],
)
def test_damaged_or_stale_index_is_rebuilt_with_a_reason(catalog, runtime, damage, suffix, reason):
    add_photos(catalog, runtime, 150)
    before = VectorIndex.open(catalog, runtime)
    damage(next(index_dir().glob(f"{index_key(runtime.manifest)}*{suffix}")))
    after = VectorIndex.open(catalog, runtime)
    assert reason in after.rebuild_reason
    queries = unit_queries(3, 8)
    np.testing.assert_array_equal(after.search(queries, 10)[0], before.search(queries, 10)[0])
    assert VectorIndex.open(catalog, runtime).rebuild_reason is None  # the rebuild was saved


def test_deleted_files_leave_results_and_coming_back_restores_them(catalog, runtime):
    ids, paths, folder_id = add_photos(catalog, runtime, 100)
    index = VectorIndex.open(catalog, runtime)
    gone = set(ids[:40].tolist())
    catalog.remove_files(paths[:40])
    assert index.sync_from_catalog(catalog, runtime).removed == 40
    found, _ = index.search(unit_queries(20, 8), 60)
    assert not gone & set(found.ravel().tolist())
    index.save()
    assert len(VectorIndex.open(catalog, runtime)) == 60  # removals persist

    for path, image_id in zip(paths[:40], ids[:40]):
        catalog.link_file(path, folder_id, 100, 1, int(image_id))
    assert index.sync_from_catalog(catalog, runtime).restored == 40
    found, _ = index.search(unit_queries(1, 8), 100)
    assert set(found.ravel().tolist()) == set(ids.tolist())


def test_a_different_bundle_gets_a_different_index_file_and_switching_back_loads(catalog, runtime, other_runtime):
    add_photos(catalog, runtime, 50)
    add_photos(catalog, other_runtime, 50, encoder_id=other_runtime.manifest.image_encoder_id, seed=7)
    assert index_key(runtime.manifest) != index_key(other_runtime.manifest)
    VectorIndex.open(catalog, runtime)
    other = VectorIndex.open(catalog, other_runtime)
    assert len(list(index_dir().glob("*.json"))) == 2
    assert len(other) == 50 and other.encoder_id == other_runtime.manifest.image_encoder_id
    assert VectorIndex.open(catalog, runtime).rebuild_reason is None


@pytest.mark.parametrize("filter_exact_max", [100_000, 0], ids=["exact", "over-fetch"])
def test_filtered_search_returns_only_allowed_ids(catalog, runtime, filter_exact_max):
    add_photos(catalog, runtime, 400)
    index = VectorIndex.open(catalog, runtime)
    index.filter_exact_max = filter_exact_max
    ids, vectors = mapped(catalog, runtime)
    allowed = set(np.random.default_rng(3).choice(ids, 60, replace=False).tolist())
    mask = np.isin(ids, list(allowed))
    queries = unit_queries(4, 8)
    found, scores = index.search(queries, 10, allowed_ids=allowed)
    want_ids, want_scores = exact_top_k(ids[mask], vectors[mask], queries, 10)
    assert set(found.ravel().tolist()) <= allowed
    np.testing.assert_array_equal(found, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
    assert index.search(queries[0], 10, allowed_ids=set())[0].shape == (0,)


def test_catalog_rows_added_after_a_save_are_picked_up_by_sync(catalog, runtime):
    add_photos(catalog, runtime, 100)
    VectorIndex.open(catalog, runtime)
    new_ids, _, _ = add_photos(catalog, runtime, 30, start=100)
    index = VectorIndex.open(catalog, runtime)
    assert index.rebuild_reason is None and len(index) == 130
    assert index.sync_from_catalog(catalog, runtime).changed is False  # nothing new the second time
    ids, vectors = mapped(catalog, runtime)
    found, _ = index.search(vectors[-1], 1)
    assert found[0] == new_ids[-1]


def test_features_arriving_later_for_known_images_are_added(catalog, runtime):
    add_photos(catalog, runtime, 40, encoder_id="some-other-encoder")  # indexed under another model only
    index = VectorIndex.open(catalog, runtime)
    assert len(index) == 0
    add_photos(catalog, runtime, 40)  # the same photos (same hashes), now encoded for this model
    assert index.sync_from_catalog(catalog, runtime).added == 40
    assert len(index) == 40


@pytest.mark.slow  # ~4-7 s: building a 20k graph on 2 cores
def test_recall_at_10_is_at_least_0_99_on_20k_random_unit_vectors():
    dim = 32  # uniform on the sphere: no clusters to lean on, harder per dimension than real embeddings
    vectors = unit_queries(20_000, dim, seed=1)
    index = VectorIndex(dim)
    index.add(np.arange(20_000), vectors)
    index.exact_search_max = 0
    queries = unit_queries(200, dim, seed=2)
    found, _ = index.search(queries, 10)
    want, _ = exact_top_k(np.arange(20_000), vectors, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.tolist(), want.tolist())])
    assert recall >= 0.99


def test_searches_run_while_the_indexer_adds():
    dim, total = 16, 6_000
    vectors = unit_queries(total, dim, seed=4)
    index = VectorIndex(dim)
    index.add(np.arange(500), vectors[:500])
    index.exact_search_max = 0
    errors, done = [], threading.Event()

    def search_until_done():
        try:
            while not done.is_set():
                found, _ = index.search(vectors[:4], 5)
                assert found.shape == (4, 5) and (found >= 0).all()
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    searchers = [threading.Thread(target=search_until_done) for _ in range(2)]
    for thread in searchers:
        thread.start()
    for start in range(500, total, 250):
        index.add(np.arange(start, start + 250), vectors[start : start + 250])
    done.set()
    for thread in searchers:
        thread.join()
    assert not errors
    assert index.search(vectors[total - 1], 1)[0][0] == total - 1
