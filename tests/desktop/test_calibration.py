"""Relevance calibration: the formula worked by hand, the combination of parts, and the per-model cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop.core import calibration
from desktop.core.calibration import MATCH_Z, Calibration, PartScale, combine, unrelated_scales


def test_relevance_is_one_half_on_the_match_line_and_small_for_a_typical_unrelated_pair():
    scale = PartScale(mean=0.1, spread=0.05)
    line = 0.1 + MATCH_Z * 0.05
    np.testing.assert_allclose(scale.relevance(np.array([line, 0.1, line + 3 * 0.05])),
                               [0.5, 1 / (1 + math.exp(MATCH_Z)), 1 / (1 + math.exp(-3))], rtol=1e-9)


def test_parts_combine_as_a_weighted_mean_over_the_positive_weights_and_match_when_one_part_does():
    relevances = np.array([[0.9, 0.2, 0.6],   # text
                           [0.1, 0.3, 0.4],   # image, weight 3
                           [0.5, 0.0, 1.0]])  # negative text, weight -1
    relevance, matched = combine(relevances, np.array([1.0, 3.0, -1.0]))
    np.testing.assert_allclose(relevance, [(0.9 + 0.3 - 0.5) / 4, (0.2 + 0.9) / 4, (0.6 + 1.2 - 1.0) / 4])
    assert matched.tolist() == [True, False, True]  # a negative part never makes a match


def test_scales_come_from_unrelated_pairs_only():
    photos = np.eye(3)  # three orthogonal photos: unrelated photo pairs score 0
    texts = np.array([[1.0, 0, 0], [0, 0.6, 0.8]])  # the first describes photo 0 and is left out there
    scales = unrelated_scales(texts, photos, matched_pairs=1)
    unrelated_text = [0, 0, 0, 0.6, 0.8]
    assert scales.text == PartScale(round(np.mean(unrelated_text), 6), round(np.std(unrelated_text), 6))
    assert scales.image.mean == 0 and scales.image.spread == 1e-3  # no spread at all: the floor


def test_a_model_is_calibrated_once_and_then_read_from_the_cache(toy, monkeypatch):
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(toy, device="cpu")
    monkeypatch.setattr(calibration, "_memo", {})
    first = calibration.calibration_for(runtime)
    assert isinstance(first, Calibration) and first.text.spread > 0 and first.image.spread > 0
    monkeypatch.setattr(calibration, "_memo", {})  # a new process: only the cache file is left
    monkeypatch.setattr(calibration, "compute_calibration", lambda runtime: pytest.fail("computed again"))
    assert calibration.calibration_for(runtime) == first


def test_a_converted_siglip_bundle_is_calibrated_onto_the_same_relevance_scale(tmp_path):
    """SigLIP is trained with a sigmoid over cos * exp(t) + b; picsift keeps its cosines and calibrates them
    like any model's, from its own unrelated pairs (a tiny random model: only that the scales exist)."""
    from tiny_models import make_tiny

    from models import registry
    from models.runtime import ModelRuntime
    from trainer.cli import main as trainer_main

    assert trainer_main(["convert", str(make_tiny("siglip", tmp_path / "siglip")), "--name", "tiny-siglip"]) == 0
    runtime = ModelRuntime(registry.open_installed("tiny-siglip"), device="cpu")
    scales = calibration.calibration_for(runtime)
    for part in (scales.text, scales.image):
        assert np.isfinite(part.mean) and part.spread > 0
    relevance = scales.text.relevance(np.array([-1.0, scales.text.mean, 1.0]))
    assert 0 <= relevance[0] < relevance[1] < relevance[2] <= 1
