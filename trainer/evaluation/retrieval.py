"""Retrieval evaluation of a split: both directions, flat stable keys, from embeddings or through a bundle's ONNX runtime.

Labelled data (class level, METHOD.md section 5): the queries are the label texts; an image is
relevant to the text of its class, and to an image query the text of its class is.
Caption data (instance level): a caption's own image is relevant to it, and an image's own
captions are relevant to it. Per direction the keys are
    {direction}_mAP@all, {direction}_mAP@{MAP_AT}, {direction}_R@1, _R@5, _R@10,
    {direction}_mean_rank, {direction}_median_rank   (1-based rank of the first relevant item)
with direction text_to_image or image_to_text, plus mean_mAP@all (the mean of both directions).
Queries with nothing relevant in the gallery (a class without test images) are left out.
"""

from __future__ import annotations

import numpy as np

from models.runtime import ModelRuntime
from trainer.data.feature_cache import image_features, text_features
from trainer.data.sources import Dataset
from trainer.evaluation.metrics import (
    class_relevance,
    ranked_relevance,
    retrieval_metrics,
)

MAP_AT = 100  # the k of mAP@k: about a screenful of results
RECALL_AT = (1, 5, 10)
PRIMARY = {"labelled": "text_to_image_mAP@all", "captions": "text_to_image_R@5"}  # selects the best epoch


def direction_metrics(scores: np.ndarray, relevant: np.ndarray, prefix: str) -> dict:
    """(Q, N) scores and relevance -> every metric of one direction, over queries with a relevant item."""
    has_relevant = relevant.any(axis=1)
    scores, relevant = scores[has_relevant], relevant[has_relevant]
    out = retrieval_metrics(scores, relevant, prefix, map_ks=(None, MAP_AT), recall_ks=RECALL_AT)
    first = ranked_relevance(scores, relevant).argmax(axis=1) + 1  # (Q,) rank of the first relevant item
    out[f"{prefix}_mean_rank"] = float(first.mean())
    out[f"{prefix}_median_rank"] = float(np.median(first))
    return out


def labelled_metrics(query_emb: np.ndarray, image_emb: np.ndarray, labels: np.ndarray) -> dict:
    """Class-level metrics: query_emb (C, D) one per class text, image_emb (N, D), labels (N,) in [0, C)."""
    scores = np.asarray(query_emb, np.float64) @ np.asarray(image_emb, np.float64).T  # (C, N)
    relevant = class_relevance(np.arange(len(query_emb)), labels)  # (C, N)
    return _both(scores, relevant)


def caption_metrics(text_emb: np.ndarray, image_emb: np.ndarray, text_image: np.ndarray) -> dict:
    """Instance-level metrics: text_emb (M, D) captions, image_emb (N, D), text_image (M,) row of each caption's image."""
    scores = np.asarray(text_emb, np.float64) @ np.asarray(image_emb, np.float64).T  # (M, N)
    relevant = np.asarray(text_image)[:, None] == np.arange(len(image_emb))[None, :]  # (M, N)
    return _both(scores, relevant)


def within_modality_metrics(emb: np.ndarray, labels: np.ndarray, prefix: str) -> dict:
    """Leave-one-out retrieval inside one modality (image_to_image, text_to_text): each item queries the others."""
    emb = np.asarray(emb, np.float64)
    scores = emb @ emb.T
    np.fill_diagonal(scores, -np.inf)
    relevant = np.asarray(labels)[:, None] == np.asarray(labels)[None, :]
    np.fill_diagonal(relevant, False)
    if not relevant.any():
        return {f"{prefix}_mAP@all": 0.0, f"{prefix}_R@1": 0.0}
    return retrieval_metrics(scores[relevant.any(1)], relevant[relevant.any(1)], prefix, recall_ks=(1,))


def _both(scores: np.ndarray, relevant: np.ndarray) -> dict:
    out = direction_metrics(scores, relevant, "text_to_image")
    out.update(direction_metrics(scores.T, relevant.T, "image_to_text"))
    out["mean_mAP@all"] = (out["text_to_image_mAP@all"] + out["image_to_text_mAP@all"]) / 2
    return out


def split_metrics(dataset: Dataset, image_emb: np.ndarray, rows: np.ndarray, text_emb: np.ndarray) -> dict:
    """Metrics of one split from embeddings: image_emb (K, D) of dataset images `rows`; text_emb of dataset.texts."""
    if dataset.labels is not None:
        return labelled_metrics(text_emb, image_emb, dataset.labels[rows])
    position = {int(r): k for k, r in enumerate(rows)}  # captions of unreadable images are left out
    kept = [(position[i], t) for i, t in dataset.pairs if i in position]
    return caption_metrics(text_emb[[t for _, t in kept]], image_emb, np.array([k for k, _ in kept]))


def evaluate_bundle(runtime: ModelRuntime, dataset: Dataset, progress=None) -> dict:
    """Metrics of `dataset` searched with the bundle, exactly as the app would (its ONNX graphs)."""
    found = image_features(runtime, dataset, progress=progress)
    if not len(found.indices):
        from models.errors import PicsiftError

        raise PicsiftError(f"{dataset.name}: none of its images could be read; check the files")
    image_emb = runtime.map_images(found.features)
    text_emb = runtime.map_texts(text_features(runtime, dataset.texts))
    return split_metrics(dataset, image_emb, found.indices, text_emb)
