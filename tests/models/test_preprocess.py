"""Model input: a photo file becomes exactly what the indexer feeds the model, normalised and centre-cropped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from image_zoo import write_dng, write_photo
from models.errors import ImageError
from models.photo_reader import read_photo
from models.preprocess import ImagePreprocess, load_and_preprocess, preprocess

SPEC = ImagePreprocess(size=224, resize_to=224, resample="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_preprocess_normalises_and_centre_crops():
    pixels = preprocess(Image.new("RGB", (300, 200), (255, 0, 128)), SPEC)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[:, 100, 100], [1.0, -1.0, (128 / 255 - 0.5) / 0.5], atol=1e-5)


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "IMG_0002.DNG", "IMG_0003.jpg", "IMG_0004.png"])
def test_a_photo_file_becomes_the_model_input_the_indexer_computes(tmp_path, name):
    path = tmp_path / name
    if path.suffix == ".DNG":
        write_dng(path, "rocket", (480, 360), orientation=6)
    else:
        write_photo(path, "coffee", (480, 360), exif_orientation=8, fmt={".HEIC": "HEIF", ".png": "PNG"}.get(path.suffix, "JPEG"))
    indexed = preprocess(read_photo(str(path), path.read_bytes(), SPEC.resize_to).image, SPEC)
    np.testing.assert_array_equal(load_and_preprocess(path, SPEC), indexed)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"this is a text file with a .jpg name", "not a readable image")],
)
def test_unreadable_files_raise_image_error_with_the_path(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as caught:
        load_and_preprocess(path, SPEC)
    assert str(path) in str(caught.value)
