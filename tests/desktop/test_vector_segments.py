"""The float16 segments: exact and filtered search on them, graph recall, saves as segments, merges,
reloads from memory maps, replaced and hidden labels across saves, old hnswlib indexes rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from test_vector_index import SCORE_ATOL, add_photos, as_stored, exact_top_k, mapped, unit_queries
from toy_bundle import export_toy_bundle

from desktop.core import index_rebuild
from desktop.core.catalog import Catalog
from desktop.core.vector_index import FORMAT_VERSION, VectorIndex, index_dir
from desktop.core.vector_search import SearchableVectors
from desktop.core.vector_segments import merge_start
from models.runtime import ModelRuntime

DIM = 896  # the built-in model's first shared space
MANIFEST = SimpleNamespace(embedding_dim=DIM, image_encoder_id="clustered", name="clustered")


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """(count, DIM) unit vectors in 40 tight clusters: many near neighbours at almost equal scores."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 40, count)] + 0.35 * rng.standard_normal((count, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def recall(found: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found.tolist(), want.tolist())]))


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    return ModelRuntime(export_toy_bundle(tmp_path_factory.mktemp("bundles") / "toy"))


@pytest.fixture
def catalog():
    with Catalog() as catalog:
        yield catalog


@pytest.fixture(scope="module")
def built():
    """6,000 clustered 896-d vectors labelled 1000.. and 20 queries drawn from the same clusters."""
    everything = clustered(6_020)
    vectors, queries = everything[:6_000], everything[6_000:]
    index = SearchableVectors(DIM, m=16, ef_construction=64)
    ids = np.arange(6_000) + 1000
    index.add(ids, vectors)
    return index, ids, vectors, queries


def test_exact_search_scores_the_float16_vectors_within_a_ten_thousandth_of_float32(built):
    index, ids, vectors, queries = built
    index.exact_search_max = 10_000
    want_ids, want_scores = exact_top_k(ids, vectors, queries, 10)
    found_ids, found_scores = index.search(queries, 10)
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)
    float32_ids = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    assert recall(found_ids, float32_ids) >= 0.99
    np.testing.assert_allclose(found_scores, np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :10], atol=1e-4)


@pytest.mark.parametrize("allowed_count", [15, 700, 4_000])
def test_filtered_search_is_exact_on_the_float16_vectors(built, allowed_count):
    index, ids, vectors, queries = built
    rows = np.sort(np.random.default_rng(allowed_count).choice(len(ids), allowed_count, replace=False))
    want_ids, want_scores = exact_top_k(ids[rows], vectors[rows], queries, 20)
    found_ids, found_scores = index.search(queries, 20, allowed_ids=ids[rows])
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)


def test_scoring_every_candidate_returns_them_all_best_first(built):
    """Searcher._scores_on asks for all of a candidate set."""
    index, ids, vectors, queries = built
    candidates = ids[::25]  # 240
    found_ids, found_scores = index.search(queries[0], len(candidates), allowed_ids=candidates)
    assert sorted(found_ids.tolist()) == candidates.tolist()
    np.testing.assert_allclose(found_scores, as_stored(vectors[found_ids - 1000]) @ as_stored(queries[0]), atol=SCORE_ATOL)
    assert (np.diff(found_scores) <= 0).all()


def test_the_graph_finds_the_float32_best_10_at_0_99_on_clustered_vectors(built):
    index, ids, vectors, queries = built
    index.exact_search_max = index.segment_exact_max = 0
    try:
        found_ids, _ = index.search(queries, 10)
    finally:
        index.exact_search_max, index.segment_exact_max = 5_000, 5_000
    assert recall(found_ids, ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]) >= 0.99


def test_merges_keep_few_segments_and_rebuild_each_row_a_few_times():
    counts, rebuilt = [], 0
    for _ in range(1_000):
        counts.append(100)
        first = merge_start(counts)
        if first < len(counts) - 1:
            rebuilt, counts = rebuilt + sum(counts[first:]), [*counts[:first], sum(counts[first:])]
    assert len(counts) <= 9 and rebuilt / 100_000 < 5


def test_saves_write_segments_that_merge_and_reload_as_memory_maps(tmp_path):
    everything = clustered(6_020, seed=5)
    vectors, queries, replacements = everything[:6_000], everything[6_000:6_010], everything[6_010:]
    ids = np.arange(6_000) * 3 + 7
    index = VectorIndex(DIM, tmp_path / "clustered", encoder_id="clustered", m=16, ef_construction=64)
    index.segment_exact_max = 1_000  # the big segments are searched by graph
    sizes = []
    for start, stop in ((0, 3_000), (3_000, 4_000), (4_000, 4_500), (4_500, 6_000)):
        index.add(ids[start:stop], vectors[start:stop])
        index.save()
        sizes.append([len(s) for s in index._segments])
    assert sizes == [[3_000], [3_000, 1_000], [3_000, 1_000, 500], [6_000]]  # 1,500 >= 500, 2,000 >= 1,000, 3,000 >= 3,000
    files = sorted(p.name for p in tmp_path.iterdir())
    meta = json.loads((tmp_path / "clustered.json").read_text())
    assert files == sorted(["clustered.json", meta["files"]["rows"]["name"], *(s["name"] for s in meta["files"]["segments"])])
    assert meta["format_version"] == FORMAT_VERSION == 4
    index.mark_removed(ids[:100])
    index.add(ids[100:110], replacements)  # replaced: the new vector answers, the old row is retired
    index.save()
    again = VectorIndex.load(tmp_path / "clustered", MANIFEST)
    again.segment_exact_max = 1_000
    assert len(again) == len(index) == 5_900 and again.total == 6_010
    vectors = vectors.copy()
    vectors[100:110] = replacements
    live = np.arange(100, 6_000)
    want_ids, want_scores = exact_top_k(ids[live], vectors[live], queries, 10)
    for opened in (index, again):
        opened.segment_exact_max = 10_000  # every segment scanned: exactly the best of the stored vectors
        found, scores = opened.search(queries, 10)
        np.testing.assert_array_equal(found, want_ids)
        np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)
        opened.segment_exact_max = 1_000  # by graph (usearch's threaded build varies run to run: a margin)
        found, _ = opened.search(queries, 10)
        assert recall(found, want_ids) >= 0.95 and not np.isin(found, ids[:100]).any()
        exact_ids, _ = opened.search(queries, 10, allowed_ids=ids[100:2_000])
        in_range = np.arange(100, 2_000)
        np.testing.assert_array_equal(exact_ids, exact_top_k(ids[in_range], vectors[in_range], queries, 10)[0])
    assert sorted(again.labels(removed=True).tolist()) == sorted(ids[:100].tolist())


def saved_then_added(tmp_path, saved: int, added: int, seed: int) -> tuple[VectorIndex, np.ndarray]:
    """An index of `saved` clustered rows saved as one segment, then `added` more not saved yet (a merge is due
    at the next save once added >= saved), and all their vectors."""
    index = VectorIndex(DIM, tmp_path / "clustered", encoder_id="clustered", m=8, ef_construction=40)
    vectors = clustered(saved + added, seed=seed)
    index.add(np.arange(saved), vectors[:saved])
    index.save()
    index.add(np.arange(saved, saved + added), vectors[saved:])
    return index, vectors


def test_a_cancelled_save_skips_its_merge_and_still_saves(tmp_path):
    index, _ = saved_then_added(tmp_path, 600, 600, seed=8)
    cancel = threading.Event()
    cancel.set()
    index.save(cancel)
    assert [len(s) for s in index._segments] == [600, 600]
    assert len(VectorIndex.load(tmp_path / "clustered", MANIFEST)) == 1_200
    index.save()
    assert [len(s) for s in index._segments] == [1_200]


def test_an_hnswlib_index_of_format_3_is_rebuilt_once_with_a_reason(catalog, runtime):
    add_photos(catalog, runtime, 120)
    VectorIndex.open(catalog, runtime)
    meta_path = next(index_dir().glob("*.json"))
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "format_version": 3}))
    rebuilt = VectorIndex.open(catalog, runtime)
    assert "older picsift" in rebuilt.rebuild_reason and len(rebuilt) == 120
    assert VectorIndex.open(catalog, runtime).rebuild_reason is None


def test_onnxruntime_imports_and_runs_after_the_index_module():
    """usearch links its own libstdc++: importing onnxruntime after it crashed the process (SIGSEGV)."""
    code = ("import desktop.core.vector_index, onnxruntime, numpy as np; from usearch.index import Index; "
            "i = Index(ndim=4, dtype='f16'); i.add(1, np.ones(4, np.float32)); print(onnxruntime.get_device(), len(i))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_big_librarys_rebuild_runs_in_a_child_process_and_is_opened_as_memory_maps(catalog, runtime, monkeypatch, caplog):
    """usearch's save holds the GIL (4.4 s at a million photos): a big rebuild is saved by a child process."""
    monkeypatch.setattr("desktop.core.index_rebuild.REBUILD_IN_CHILD_MIN", 100)
    ids, _, _ = add_photos(catalog, runtime, 150)
    index = VectorIndex.open(catalog, runtime)
    assert index.rebuild_reason == "no saved index for this model yet"
    assert [len(s) for s in index._segments] == [150] and len(index._tail) == 0  # loaded, not built here
    queries = unit_queries(3, runtime.manifest.embedding_dim)
    want_ids, _ = exact_top_k(*mapped(catalog, runtime), queries, 10)
    np.testing.assert_array_equal(index.search(queries, 10)[0], want_ids)
    assert VectorIndex.open(catalog, runtime).rebuild_reason is None


def test_a_child_rebuild_is_stopped_when_the_app_quits(catalog, runtime, monkeypatch):
    monkeypatch.setattr("desktop.core.index_rebuild.REBUILD_IN_CHILD_MIN", 100)
    add_photos(catalog, runtime, 150)
    closing = threading.Event()
    closing.set()
    index = VectorIndex.open(catalog, runtime, closing=closing)
    assert index.rebuild_reason and len(index) == 0  # the child was stopped; nothing is built in the quitting app
    assert not list(index_dir().glob("*.json"))  # nor saved: the next start rebuilds


def test_a_big_merge_runs_in_a_child_process_and_gives_the_same_answers(tmp_path, monkeypatch, caplog):
    """A merge's save holds the GIL like a rebuild's (2.3 s at a million rows): a big one is done by a child."""
    monkeypatch.setattr("desktop.core.index_rebuild.REBUILD_IN_CHILD_MIN", 1_000)
    started = []
    real_run = index_rebuild._run_child
    monkeypatch.setattr(index_rebuild, "_run_child", lambda *a: started.append(a[0][0]) or real_run(*a))
    index, vectors = saved_then_added(tmp_path, 700, 800, seed=9)
    queries = clustered(10, seed=19)
    with caplog.at_level("WARNING"):
        index.save()
    assert started == ["merge"] and not caplog.records  # no failure, no merge here
    assert [len(s) for s in index._segments] == [1_500]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # its job files are gone
    want_ids, want_scores = exact_top_k(np.arange(1_500), vectors, queries, 10)
    for opened in (index, VectorIndex.load(tmp_path / "clustered", MANIFEST)):
        opened.segment_exact_max = 10_000
        found, scores = opened.search(queries, 10)
        np.testing.assert_array_equal(found, want_ids)
        np.testing.assert_allclose(scores, want_scores, atol=SCORE_ATOL)


def test_a_child_merge_that_fails_is_done_here_and_a_cancelled_one_not_at_all(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("desktop.core.index_rebuild.REBUILD_IN_CHILD_MIN", 1_000)
    index, _ = saved_then_added(tmp_path, 600, 600, seed=10)
    cancel = threading.Event()
    with monkeypatch.context() as patched:  # the app quits while the child merges: the child is stopped
        patched.setattr(index_rebuild, "_run_child", lambda arguments, doing, stop: cancel.set() or False)
        index.save(cancel)
    assert [len(s) for s in index._segments] == [600, 600]  # and nothing is merged here
    with monkeypatch.context() as patched, caplog.at_level("WARNING"):
        patched.setattr(sys, "executable", "false")  # a child that exits 1 at once
        index.save()
    assert [len(s) for s in index._segments] == [1_200]  # merged here after all
    assert any("merging the search index's segments in a child process failed" in r.message for r in caplog.records)
    assert len(VectorIndex.load(tmp_path / "clustered", MANIFEST)) == 1_200
