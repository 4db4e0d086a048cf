"""Relevance: each query part's raw cosine mapped to one 0..1 scale that means the same for every model.

Why: raw cosines of a text part and an image part live on different scales, and each model has its
own. With the built-in model a text matches its photo at ~0.2-0.5 while unrelated text-photo pairs
score 0.03 +- 0.06; an image matches itself at 1.0 while unrelated photo pairs score 0.09 +- 0.14.
Summing raw cosines let "like coffee.jpg" (1.0 on itself) swamp any typed text.

The formula, for a part of kind k (text or image) and a photo at raw cosine s:

    z = (s - mean_k) / spread_k         how far above an unrelated pair, in unrelated pairs' spreads
    relevance = 1 / (1 + exp(MATCH_Z - z))

`mean_k`, `spread_k` are the mean and standard deviation of the model's cosines over unrelated pairs
of that kind. So relevance is 0.5 at MATCH_Z spreads above unrelated (the "no match" line, below which
a result is hidden), ~0.05 for a typical unrelated pair, 0.95 three spreads past the line, and each
spread multiplies the odds by e: the same meaning whatever the model's raw range.

A query of several parts (weights w_j, negatives allowed) scores Σ w_j r_j / Σ_{w_j > 0} w_j: the
weighted mean of its calibrated parts (a part cannot pass 1, so an image's 1.0 on itself counts as one
strong match, not as ten). A result counts as a match when some positive part alone matches it.

Unrelated pairs come from a fixed reference bank: the scikit-image sample photos (DEMO_PHOTOS, shipped
with the app) against REFERENCE_TEXTS (every pair but a photo with its own description), and the
photos against each other. They are a property of the model, not of a library: relative to a library
of cat photos, "a cat" would stand out on none of them and be hidden. Computed once per bundle (a few
seconds: the image tower on 21 photos, the text tower on 40 texts), cached in memory and in
cache_dir/calibration/<bundle hash>.json, so a query pays a few vector operations and nothing else.

MATCH_Z = 3 was chosen on dev data reported nowhere else: the sample photos and 200 Fashion-MNIST
train images (10 classes) with their descriptions, against 9 nonsense queries
(tests/benchmarks/relevance_threshold.py writes the table). With the built-in model at z = 3, 1.5% of
unrelated pairs, 26% of labelled matches (a weak zero-shot model) and no nonsense pair pass; at 2.5
nonsense passes (0.35% of its pairs), at 3.5 a third of the matches kept at 3 are lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict, dataclass

import numpy as np

from desktop.core.demo_library import DEMO_PHOTOS, demo_image
from models import paths
from models.atomic import write_text_atomic

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 1  # bump when the bank or the formula changes: cached files are then recomputed
MATCH_Z = 3.0  # spreads above an unrelated pair where a part starts to match (relevance 0.5); see above
TEXT, IMAGE = "text", "image"  # the kinds of query part
# Everyday queries that describe none of the sample photos (with their own descriptions, the text bank).
REFERENCE_TEXTS = (
    "a dog running on the beach", "birthday cake with candles", "snowy mountains at sunrise", "a red car",
    "children playing in a park", "a plate of pasta", "the eiffel tower at night", "fireworks over a city",
    "an old stone bridge", "a bowl of fruit", "people dancing at a wedding", "a sailing boat on the sea",
    "a bird on a branch", "a waterfall in a forest", "a baby smiling", "a bicycle leaning on a wall",
    "a pizza", "a sunset over the ocean", "a family at the dinner table", "a train at the station",
)


@dataclass(frozen=True)
class PartScale:
    """Unrelated pairs' cosines for one kind of part: their mean and standard deviation."""

    mean: float
    spread: float

    def relevance(self, raw: np.ndarray) -> np.ndarray:
        """Raw cosines (N,) -> relevance (N,) in 0..1 (the module docstring's formula)."""
        z = (np.asarray(raw, np.float64) - self.mean) / self.spread
        return 1.0 / (1.0 + np.exp(MATCH_Z - z))


@dataclass(frozen=True)
class Calibration:
    """One model's scales for text parts and image parts."""

    text: PartScale
    image: PartScale

    def scale(self, kind: str) -> PartScale:
        return {TEXT: self.text, IMAGE: self.image}[kind]

    def to_dict(self) -> dict:
        return {"version": CALIBRATION_VERSION, "match_z": MATCH_Z, TEXT: asdict(self.text), IMAGE: asdict(self.image)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        if data.get("version") != CALIBRATION_VERSION:
            raise ValueError(f"calibration version {data.get('version')!r}, expected {CALIBRATION_VERSION}")
        return cls(PartScale(**data[TEXT]), PartScale(**data[IMAGE]))


def combine(relevances: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-part relevances (P, N) and weights (P,) -> (relevance (N,), matched (N,) bool).

    relevance = Σ w_j r_j / Σ_{w_j > 0} w_j; matched: some positive part alone reaches 0.5.
    """
    weights = np.asarray(weights, np.float64)
    positive = weights > 0
    relevance = weights @ relevances / weights[positive].sum()
    matched = (relevances[positive] >= 0.5).any(axis=0)
    return relevance, matched


def unrelated_scales(texts: np.ndarray, photos: np.ndarray, matched_pairs: int) -> Calibration:
    """The scales from vectors: texts (T, D) whose first `matched_pairs` describe photos (M, D) in order."""
    text_scores = texts @ photos.T  # (T, M)
    unrelated = np.ones_like(text_scores, bool)
    unrelated[np.arange(matched_pairs), np.arange(matched_pairs)] = False
    photo_scores = photos @ photos.T  # (M, M)
    others = ~np.eye(len(photos), dtype=bool)
    return Calibration(_scale(text_scores[unrelated]), _scale(photo_scores[others]))


def compute_calibration(runtime) -> Calibration:
    """Encode the reference bank with the model and measure its unrelated pairs (a few seconds)."""
    from models.preprocess import preprocess

    spec = runtime.manifest.image_preprocess
    photos = runtime.encode_images(np.stack([preprocess(demo_image(p.name), spec) for p in DEMO_PHOTOS]))
    texts = runtime.encode_texts([p.query for p in DEMO_PHOTOS] + list(REFERENCE_TEXTS))
    return unrelated_scales(texts, photos, len(DEMO_PHOTOS))


_memo: dict[str, Calibration] = {}
_memo_lock = threading.Lock()


def calibration_for(runtime) -> Calibration:
    """The runtime's calibration: from memory, else the cache file, else computed and cached."""
    key = bundle_key(runtime.manifest)
    with _memo_lock:  # one computation per bundle even when two threads ask at once
        if key not in _memo:
            _memo[key] = _cached(key) or _compute_and_cache(key, runtime)
        return _memo[key]


def bundle_key(manifest) -> str:
    """What makes the model's vectors: every file's hash and the preprocessing, with the bank's version."""
    identity = json.dumps([CALIBRATION_VERSION, manifest.files, manifest.image_preprocess.to_dict()], sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def _cached(key: str) -> Calibration | None:
    path = paths.cache_dir() / "calibration" / f"{key}.json"
    try:
        return Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # recomputed and rewritten: it is only a cache
        log.warning("%s: unreadable relevance calibration, recomputing it (%s)", path, exc)
        return None


def _compute_and_cache(key: str, runtime) -> Calibration:
    calibration = compute_calibration(runtime)
    path = paths.cache_dir() / "calibration" / f"{key}.json"
    try:
        write_text_atomic(path, json.dumps(calibration.to_dict(), indent=1) + "\n")
    except OSError as exc:  # a full or read-only disk: it is recomputed next run, nothing else suffers
        log.warning("%s: the relevance calibration was not saved (%s)", path, exc)
    return calibration


def _scale(scores: np.ndarray) -> PartScale:
    return PartScale(round(float(scores.mean()), 6), round(max(float(scores.std()), 1e-3), 6))
