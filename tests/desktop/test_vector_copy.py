"""The int8 copy exact and filtered search read: float32-exact results, saved and loaded, old float32 copies migrated."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_vector_index import SCORE_ATOL, add_photos, exact_top_k, mapped, unit_queries
from toy_bundle import export_toy_bundle

from desktop.core import vector_index
from desktop.core.catalog import Catalog
from desktop.core.vector_index import FORMAT_VERSION, VectorIndex, index_dir
from desktop.core.vector_search import RESCORE_TOP, SearchableVectors, quantized
from models.runtime import ModelRuntime

DIM = 896  # the built-in model's shared space


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """(count, DIM) unit vectors in 40 tight clusters: many near neighbours at almost equal scores."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 40, count)] + 0.35 * rng.standard_normal((count, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


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
    index = SearchableVectors(DIM, m=8, ef_construction=40)
    ids = np.arange(6_000) + 1000
    index.add(ids, vectors)
    return index, ids, vectors, queries


def test_quantized_rows_come_back_within_half_a_step():
    vectors = np.vstack([unit_queries(50, DIM), np.zeros((1, DIM), np.float32)])
    codes, scales = quantized(vectors)
    assert codes.dtype == np.int8 and codes.shape == vectors.shape and scales.shape == (51,)
    assert (np.abs(codes[:50]).max(axis=1) == 127).all()  # each row uses the whole range
    assert (np.abs(codes * scales[:, None] - vectors).max(axis=1) <= scales / 2 * (1 + 1e-5)).all()
    assert not codes[50].any()  # a zero row stays zero


def test_exact_search_on_the_int8_copy_returns_float32_exact_results(built):
    index, ids, vectors, queries = built
    index.exact_search_max = 10_000
    want_ids, want_scores = exact_top_k(ids, vectors, queries, 10)
    found_ids, found_scores = index.search(queries, 10)
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)


@pytest.mark.parametrize("allowed_count", [15, 700, 4_000])
def test_filtered_search_on_the_int8_copy_returns_float32_exact_results(built, allowed_count):
    index, ids, vectors, queries = built
    rows = np.sort(np.random.default_rng(allowed_count).choice(len(ids), allowed_count, replace=False))
    want_ids, want_scores = exact_top_k(ids[rows], vectors[rows], queries, 20)
    found_ids, found_scores = index.search(queries, 20, allowed_ids=ids[rows])
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)


def test_scoring_every_candidate_gives_the_first_ranks_float32_scores_and_the_rest_int8_ones(built):
    """Searcher._scores_on asks for all of a candidate set: every one comes back, the best RESCORE_TOP
    with float32 scores, the rest with the int8 copy's, each within a thousandth."""
    index, ids, vectors, queries = built
    candidates = ids[::25]  # 240
    found_ids, found_scores = index.search(queries[0], len(candidates), allowed_ids=candidates)
    assert sorted(found_ids.tolist()) == candidates.tolist()
    exact = vectors[found_ids - 1000] @ queries[0]
    np.testing.assert_allclose(found_scores[:RESCORE_TOP], exact[:RESCORE_TOP], atol=SCORE_ATOL)
    np.testing.assert_allclose(found_scores, exact, atol=1e-3)
    assert (np.diff(found_scores) <= 0).all()  # still best first
    want_ids, _ = exact_top_k(ids[::25], vectors[::25], queries[:1], RESCORE_TOP)
    np.testing.assert_array_equal(found_ids[:RESCORE_TOP], want_ids[0])


def test_the_int8_copy_is_what_is_saved_and_it_reloads(catalog, runtime):
    add_photos(catalog, runtime, 300)
    VectorIndex.open(catalog, runtime)
    meta = json.loads(next(index_dir().glob("*.json")).read_text())
    assert meta["format_version"] == FORMAT_VERSION == 3
    with np.load(index_dir() / meta["files"]["vectors"]["name"]) as arrays:
        assert sorted(arrays.files) == ["codes", "labels", "scales"] and arrays["codes"].dtype == np.int8
    again = VectorIndex.open(catalog, runtime)
    assert again.rebuild_reason is None
    queries = unit_queries(4, runtime.manifest.embedding_dim)
    want_ids, want_scores = exact_top_k(*mapped(catalog, runtime), queries, 10)
    found_ids, found_scores = again.search(queries, 10)
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)


def test_an_index_saved_with_a_float32_copy_loads_and_is_rewritten_as_int8(catalog, runtime):
    add_photos(catalog, runtime, 300)
    VectorIndex.open(catalog, runtime)
    meta_path = next(index_dir().glob("*.json"))
    meta = json.loads(meta_path.read_text())
    npz = index_dir() / meta["files"]["vectors"]["name"]
    ids, vectors = mapped(catalog, runtime)
    with open(npz, "wb") as handle:  # what format 2 wrote: labels and a float32 copy
        np.savez(handle, labels=ids.astype(np.int64), vectors=vectors.astype(np.float32))
    meta["files"]["vectors"] |= {"bytes": npz.stat().st_size, "crc32": vector_index._crc32(npz)}
    meta_path.write_text(json.dumps({**meta, "format_version": 2}))
    old = VectorIndex.open(catalog, runtime)
    assert old.rebuild_reason is None  # migrated, not rebuilt
    queries = unit_queries(4, runtime.manifest.embedding_dim)
    want_ids, want_scores = exact_top_k(ids, vectors, queries, 10)
    found_ids, found_scores = old.search(queries, 10)
    np.testing.assert_array_equal(found_ids, want_ids)
    np.testing.assert_allclose(found_scores, want_scores, atol=SCORE_ATOL)
    old.save()
    assert json.loads(meta_path.read_text())["format_version"] == 3
    assert VectorIndex.open(catalog, runtime).search(queries, 10)[0].tolist() == found_ids.tolist()
