"""Image loading: upright, RGB, fast for big JPEGs, and a clear ImageError for anything unreadable."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from models.errors import ImageError
from models.preprocess import ImagePreprocess, load_and_preprocess, load_rgb, preprocess

SPEC = ImagePreprocess(size=224, resize_to=224, resample="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def _photo(width=640, height=480) -> Image.Image:
    """A landscape photo-like image: red left half, blue right half."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (220, 20, 20)
    array[:, width // 2 :] = (20, 20, 220)
    return Image.fromarray(array)


def test_exif_orientation_is_applied_before_encoding(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    _photo().save(path, exif=exif.tobytes())
    image = load_rgb(path)
    assert image.size == (480, 640)  # portrait once upright
    top, bottom = np.asarray(image)[10, 240], np.asarray(image)[630, 240]
    assert top[0] > 150 and bottom[2] > 150  # red on top, blue below


def test_large_jpeg_is_decoded_at_reduced_size_but_never_below_the_model_side(tmp_path):
    path = tmp_path / "big.jpg"
    _photo(4000, 3000).save(path, quality=90)
    image = load_rgb(path, min_side=224)
    assert 224 <= min(image.size) < 3000
    assert preprocess(image, SPEC).shape == (3, 224, 224)


def test_preprocess_normalises_and_centre_crops():
    pixels = preprocess(Image.new("RGB", (300, 200), (255, 0, 128)), SPEC)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[:, 100, 100], [1.0, -1.0, (128 / 255 - 0.5) / 0.5], atol=1e-5)


def test_transparent_png_is_composited_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(path)
    assert np.asarray(load_rgb(path)).min() == 255


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a readable image"),
        (b"this is a text file with a .jpg name", "not a readable image"),
    ],
)
def test_unreadable_files_raise_image_error_with_the_path(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as caught:
        load_and_preprocess(path, SPEC)
    assert str(path) in str(caught.value)


def test_truncated_jpeg_raises_image_error(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG")  # noise: every byte carries pixels
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError):
        load_and_preprocess(path, SPEC)


def test_missing_file_says_it_was_moved_or_deleted(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_rgb(tmp_path / "gone.jpg")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (2000, 2000)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageError, match="too large"):
        load_rgb(path)
