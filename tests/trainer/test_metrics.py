"""Retrieval metrics: hand-computable toy rankings and a brute-force reference agree with trainer.evaluation.metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trainer.evaluation.metrics import (
    average_precision_at_k,
    chance_average_precision,
    class_relevance,
    mean_average_precision,
    rank_order,
    recall_at_k,
    reciprocal_rank,
    retrieval_metrics,
)

# One query over 5 items; scores rank items 0, 1, 2, 3, 4 in that order.
DESCENDING = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])


def brute_force_ap(scores: np.ndarray, relevant: np.ndarray, k: int | None) -> np.ndarray:
    """AP@k straight from the definition, one query and one rank at a time."""
    out = []
    for row, rel in zip(scores, relevant):
        ranked = sorted(range(len(row)), key=lambda i: (-row[i], i))[: k or len(row)]
        hits, precisions = 0, []
        for rank, item in enumerate(ranked, start=1):
            if rel[item]:
                hits += 1
                precisions.append(hits / rank)
        out.append(sum(precisions) / hits if hits else 0.0)
    return np.array(out)


def test_a_perfect_ranking_has_average_precision_one():
    relevant = np.array([[True, True, False, False, False]])
    assert average_precision_at_k(DESCENDING, relevant)[0] == pytest.approx(1.0)


def test_relevant_items_at_ranks_one_and_three_give_five_sixths():
    relevant = np.array([[True, False, True, False, False]])
    # precision 1/1 at rank 1 and 2/3 at rank 3
    assert average_precision_at_k(DESCENDING, relevant)[0] == pytest.approx((1 + 2 / 3) / 2)


def test_ap_at_k_averages_over_the_relevant_items_retrieved_in_the_top_k():
    relevant = np.array([[False, True, False, False, True]])  # ranks 2 and 5
    assert average_precision_at_k(DESCENDING, relevant, k=3)[0] == pytest.approx(1 / 2)
    assert average_precision_at_k(DESCENDING, relevant)[0] == pytest.approx((1 / 2 + 2 / 5) / 2)


def test_no_relevant_item_in_the_top_k_scores_zero():
    relevant = np.array([[False, False, False, True, True]])
    assert average_precision_at_k(DESCENDING, relevant, k=3)[0] == 0.0
    assert average_precision_at_k(DESCENDING, np.zeros((1, 5), bool))[0] == 0.0


def test_ties_keep_gallery_order():
    scores = np.array([[0.5, 0.5, 0.5]])
    assert rank_order(scores).tolist() == [[0, 1, 2]]
    assert average_precision_at_k(scores, np.array([[False, True, False]]))[0] == pytest.approx(1 / 2)


def test_recall_at_k_counts_a_hit_anywhere_in_the_top_k():
    relevant = np.array([[False, False, True, False, False], [False, False, False, False, True]])
    scores = np.repeat(DESCENDING, 2, axis=0)
    assert recall_at_k(scores, relevant, 1).tolist() == [0.0, 0.0]
    assert recall_at_k(scores, relevant, 3).tolist() == [1.0, 0.0]
    assert recall_at_k(scores, relevant, 5).tolist() == [1.0, 1.0]


def test_reciprocal_rank_is_one_over_the_rank_of_the_first_relevant_item_and_zero_without_one():
    relevant = np.array([[False, False, True, True, False], [False] * 5, [True, False, False, False, False]])
    scores = np.repeat(DESCENDING, 3, axis=0)
    assert reciprocal_rank(scores, relevant).tolist() == pytest.approx([1 / 3, 0.0, 1.0])


def test_one_hot_embeddings_retrieve_their_own_class_perfectly():
    labels = np.array([0, 1, 2, 0, 1, 2])
    images = np.eye(3)[labels]  # (6, 3)
    texts = np.eye(3)  # (3, 3)
    relevant = class_relevance(np.arange(3), labels)
    assert mean_average_precision(texts @ images.T, relevant) == pytest.approx(1.0)
    assert mean_average_precision(images @ texts.T, relevant.T) == pytest.approx(1.0)


@pytest.mark.parametrize("k", [None, 1, 7, 40])
def test_average_precision_matches_a_brute_force_reference(k):
    rng = np.random.default_rng(k or 0)
    scores = rng.normal(size=(25, 40)).round(1)  # rounding makes ties common
    relevant = rng.random((25, 40)) < 0.2
    np.testing.assert_allclose(average_precision_at_k(scores, relevant, k), brute_force_ap(scores, relevant, k))


@pytest.mark.parametrize("n_relevant, n_items", [(1, 1), (1, 4), (2, 5), (3, 6)])
def test_chance_average_precision_is_the_mean_over_every_ranking(n_relevant, n_items):
    relevant = np.array([[i < n_relevant for i in range(n_items)]])
    aps = [
        average_precision_at_k(np.array([perm], float), relevant)[0]
        for perm in itertools.permutations(range(n_items))
    ]
    assert chance_average_precision(n_relevant, n_items) == pytest.approx(np.mean(aps))


def test_chance_for_ten_balanced_classes_is_a_little_above_one_tenth():
    assert chance_average_precision(200, 2000) == pytest.approx(0.1032, abs=1e-4)
    assert chance_average_precision(1, 10) == pytest.approx(sum(1 / r for r in range(1, 11)) / 10)


def test_retrieval_metrics_uses_flat_stable_keys():
    relevant = np.array([[True, False, False, False, False]])
    metrics = retrieval_metrics(DESCENDING, relevant, "text_to_image", map_ks=(100, None), recall_ks=(1, 5))
    assert metrics == {
        "text_to_image_mAP@100": 1.0,
        "text_to_image_mAP@all": 1.0,
        "text_to_image_R@1": 1.0,
        "text_to_image_R@5": 1.0,
    }


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError):
        average_precision_at_k(np.zeros((2, 3)), np.zeros((2, 4), bool))
