"""The general-photos benchmark's building blocks on synthetic inputs: captions, the photo rule, split, compositing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))

import general_photos as gp  # noqa: E402

CAPTION_FILE = """\ufeffA calculator.  6x7=42
de.utf8=Ein Taschenrechner.  6x7=42
zh_CN.utf8=计算器。
ja.utf8=
ca@valencia.utf8=Una calculadora.
pt_BR.utf8 = Uma calculadora.
de.utf8=Ein zweiter Eintrag wird nicht genommen.
"""


def _stamp(rgb: np.ndarray) -> Image.Image:
    """An RGBA stamp: the (H, W, 3) pixels inside an opaque disc on a transparent square."""
    h, w = rgb.shape[:2]
    y, x = np.mgrid[:h, :w]
    alpha = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 2.2) ** 2, 255, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def test_caption_file_gives_english_first_line_and_locale_keys_skipping_empty_and_repeated_ones():
    captions = gp.parse_captions(CAPTION_FILE)
    assert captions == {
        "en": "A calculator.  6x7=42",
        "de": "Ein Taschenrechner.  6x7=42",
        "zh_CN": "计算器。",
        "ca@valencia": "Una calculadora.",
        "pt_BR": "Uma calculadora.",
    }


def test_a_flat_colour_drawing_is_not_photographic_and_a_noisy_textured_patch_is():
    drawing = np.zeros((200, 200, 3), np.uint8)
    drawing[:, :100] = (220, 30, 30)
    drawing[:, 100:] = (30, 30, 220)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:200, :200]
    shading = (120 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0))[..., None] * np.array([1.0, 0.8, 0.6])
    photo = np.clip(shading + rng.normal(0, 6, (200, 200, 3)), 0, 255).astype(np.uint8)
    assert gp.photo_measures(_stamp(drawing))[0] < gp.MIN_COLOURS
    assert not gp.is_photographic(_stamp(drawing))
    colours, flat = gp.photo_measures(_stamp(photo))
    assert colours >= gp.MIN_COLOURS and flat < gp.MAX_FLAT_FRACTION
    assert gp.is_photographic(_stamp(photo))


def test_split_is_half_and_half_per_category_and_does_not_depend_on_input_order():
    names = [f"{category}/stamp{i}.png" for category in ("animals", "food", "vehicles") for i in range(7)]
    split = gp.split_of(names)
    assert split == gp.split_of(list(reversed(names)))
    assert sorted(split.values()).count("dev") in (10, 11)
    for category in ("animals", "food", "vehicles"):
        sides = [split[n] for n in names if n.startswith(category)]
        assert abs(sides.count("dev") - sides.count("test")) == 1
    smaller = gp.split_of([n for n in names if n.startswith("food")])
    assert all(smaller[n] == split[n] for n in smaller) or all(smaller[n] != split[n] for n in smaller)


def test_compositing_with_the_same_seed_gives_the_same_jpeg_bytes_and_another_seed_another_image():
    rng = np.random.default_rng(1)
    stamp = _stamp(rng.integers(0, 256, (120, 90, 3), dtype=np.uint8))
    sources = [Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)), Image.new("RGB", (512, 512), (40, 120, 40))]
    first = gp.jpeg_bytes(gp.composite(stamp, sources, "animals/stamp.png", seed=0))
    assert first == gp.jpeg_bytes(gp.composite(stamp, sources, "animals/stamp.png", seed=0))
    assert first != gp.jpeg_bytes(gp.composite(stamp, sources, "animals/stamp.png", seed=1))
    image = gp.composite(stamp, sources, "animals/other.png", seed=0)
    assert image.mode == "RGB" and sorted(image.size) in ([480, 640], [600, 800], [768, 1024])


def test_a_caption_shared_by_two_stamps_is_one_query_relevant_to_both_and_missing_ones_are_no_query():
    queries, relevance = gp.caption_queries(["A crow.", None, "A cat.", "A crow."])
    assert queries == ["A crow.", "A cat."]
    assert relevance.tolist() == [[True, False, False, True], [False, False, True, False]]
    text = np.eye(2)  # (Q=2, D=2)
    images = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.2, 0.8]])  # (N=4, D=2)
    # "A crow." ranks images 2, 3, 1, 0: its first relevant one (3) at rank 2;
    # "A cat." ranks images 0, 1, 3, 2: its only relevant one (2) at rank 4
    metrics = gp.text_to_image_metrics(text, images, relevance)
    assert metrics == {"R@1": 0.0, "R@5": 1.0, "MRR": (1 / 2 + 1 / 4) / 2, "queries": 2}
