"""Retrieval metrics in plain numpy: R@K, MRR and (class-level) mAP@k, as METHOD.md section 5 defines them.

Every function takes `scores` (Q, N), higher = more similar, one row per query and one column
per gallery item, and `relevant` (Q, N) bool. Rankings sort by descending score; ties keep
gallery order (a stable sort), so results are deterministic. Keys of `retrieval_metrics` are
flat and stable (`text_to_image_mAP@100`) so benchmark files can be compared across runs.
"""

from __future__ import annotations

import numpy as np


def rank_order(scores: np.ndarray) -> np.ndarray:
    """(Q, N) scores -> (Q, N) gallery indices, best first; ties keep gallery order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")


def ranked_relevance(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """(Q, N) bool: whether the item at each rank (0-based) of each query is relevant."""
    relevant = np.asarray(relevant, dtype=bool)
    if relevant.shape != np.shape(scores):
        raise ValueError(f"scores {np.shape(scores)} and relevant {relevant.shape} differ in shape")
    return np.take_along_axis(relevant, rank_order(scores), axis=1)


def average_precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """(Q,) average precision over each query's top k (the whole ranking when k is None).

    AP@k = sum_{r<=k} P(r) rel(r) / sum_{r<=k} rel(r): precision at every relevant rank in the
    top k, averaged over the relevant items retrieved there (0 when none is). This is the
    mAP@k of DSCMR and CLIP4CMR (`fx_calc_map_label`), the class-level metric METHOD.md quotes;
    with k = N it is the usual AP over all relevant items.
    """
    hits = ranked_relevance(scores, relevant)  # (Q, N)
    if k is not None:
        hits = hits[:, :k]
    ranks = np.arange(1, hits.shape[1] + 1)  # (K,)
    precision = np.cumsum(hits, axis=1) / ranks  # (Q, K): precision at each rank
    retrieved = hits.sum(axis=1)  # (Q,)
    total = (precision * hits).sum(axis=1)
    return np.where(retrieved > 0, total / np.maximum(retrieved, 1), 0.0)


def mean_average_precision(scores: np.ndarray, relevant: np.ndarray, k: int | None = None) -> float:
    """mAP@k: the mean of `average_precision_at_k` over queries (mAP@all when k is None)."""
    return float(average_precision_at_k(scores, relevant, k).mean())


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """(Q,) 1.0 where a relevant item is among the query's top k, else 0.0 (instance-level R@K)."""
    return ranked_relevance(scores, relevant)[:, :k].any(axis=1).astype(np.float64)


def reciprocal_rank(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """(Q,) 1 / (1-based rank of the first relevant item), 0.0 when none is; its mean is MRR."""
    hits = ranked_relevance(scores, relevant)  # (Q, N)
    first = hits.argmax(axis=1)  # (Q,): 0 also when nothing is relevant, masked below
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


def class_relevance(query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """(Q, N) bool: a gallery item is relevant to a query when their class labels match."""
    return np.asarray(query_labels)[:, None] == np.asarray(gallery_labels)[None, :]


def chance_average_precision(n_relevant: int, n_items: int) -> float:
    """Expected AP (over the whole ranking) of a uniformly random ranking.

    A relevant item at rank r has, in expectation, (r - 1)(R - 1)/(N - 1) relevant items above
    it, so E[P(r)] averaged over r uniform in 1..N is H_N/N + (R - 1)(N - H_N)/(N (N - 1)).
    """
    if not 0 < n_relevant <= n_items:
        raise ValueError(f"need 0 < n_relevant <= n_items, got {n_relevant} and {n_items}")
    harmonic = float(np.sum(1.0 / np.arange(1, n_items + 1)))
    if n_items == 1:
        return 1.0
    return harmonic / n_items + (n_relevant - 1) * (n_items - harmonic) / (n_items * (n_items - 1))


def retrieval_metrics(scores: np.ndarray, relevant: np.ndarray, prefix: str, map_ks=(None,), recall_ks=()) -> dict:
    """Flat metrics for one direction, e.g. {"text_to_image_mAP@all": .., "text_to_image_R@1": ..}."""
    out = {}
    for k in map_ks:
        out[f"{prefix}_mAP@{'all' if k is None else k}"] = mean_average_precision(scores, relevant, k)
    for k in recall_ks:
        out[f"{prefix}_R@{k}"] = float(recall_at_k(scores, relevant, k).mean())
    return out
