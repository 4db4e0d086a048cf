"""Model input: a photo file becomes exactly what the indexer feeds the model, normalised and centre-cropped
(or squashed), and bundles from before the resize mode read as they always did."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest
from image_zoo import write_dng, write_photo
from PIL import Image
from toy_bundle import edit_manifest

from models.errors import BundleError, ImageError
from models.manifest import read_manifest
from models.photo_reader import read_photo
from models.preprocess import ImagePreprocess, load_and_preprocess, preprocess

SPEC = ImagePreprocess(size=224, resize_to=224, resample="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def test_preprocess_normalises_and_centre_crops():
    pixels = preprocess(Image.new("RGB", (300, 200), (255, 0, 128)), SPEC)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[:, 100, 100], [1.0, -1.0, (128 / 255 - 0.5) / 0.5], atol=1e-5)


def _dark_left_quarter(width: int, height: int) -> Image.Image:
    """White with its left quarter black: whether that quarter survives shows how the photo was resized."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, width // 4, height))
    return image


def test_squash_keeps_the_whole_photo_where_shortest_crops_its_sides():
    spec = ImagePreprocess(size=4, resize_to=4, resample="bilinear", mean=(0, 0, 0), std=(1, 1, 1))
    photo = _dark_left_quarter(16, 4)  # wide: the shortest-side resize keeps only its middle 4 columns
    squashed = preprocess(photo, replace(spec, resize="squash"))
    expected = np.asarray(photo.resize((4, 4), Image.Resampling.BILINEAR), np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(squashed, expected, atol=1e-6)
    assert squashed[0, :, 0].max() < 0.5  # the dark quarter is in
    np.testing.assert_allclose(preprocess(photo, spec), 1.0)  # cropped away


def test_squash_then_centre_crop_cuts_the_square_not_the_photo():
    spec = ImagePreprocess(size=4, resize_to=8, resample="bilinear", mean=(0, 0, 0), std=(1, 1, 1), resize="squash")
    photo = _dark_left_quarter(32, 8)
    square = np.asarray(photo.resize((8, 8), Image.Resampling.BILINEAR), np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(preprocess(photo, spec), square[:, 2:6, 2:6], atol=1e-6)


def test_a_preprocess_without_resize_field_is_the_shortest_side_one_and_writes_none():
    old = {"size": 224, "resize_to": 256, "resample": "bicubic", "mean": [0.5] * 3, "std": [0.5] * 3}
    spec = ImagePreprocess.from_dict(old)
    assert spec.resize == "shortest" and spec.to_dict() == old
    assert ImagePreprocess.from_dict({**old, "resize": "squash"}).to_dict() == {**old, "resize": "squash"}


def test_a_bundle_manifest_from_before_resize_and_padding_loads_and_saves_unchanged(bundle_copy):
    def drop_new_fields(data):
        data["image_preprocess"].pop("resize", None)
        data["text"].pop("padding", None)

    edit_manifest(bundle_copy, drop_new_fields)
    written = json.loads((bundle_copy / "manifest.json").read_text())
    manifest = read_manifest(bundle_copy)
    assert (manifest.image_preprocess.resize, manifest.text.padding) == ("shortest", "longest")
    assert manifest.to_dict() == written
    # The id stored features are kept under hashes the old fields alone: a library indexed before stays valid.
    old_hash = hashlib.sha256(json.dumps(written["image_preprocess"], sort_keys=True).encode()).hexdigest()[:8]
    assert manifest.image_encoder_id.endswith("-" + old_hash)


@pytest.mark.parametrize(("section", "field", "value"),
                         [("image_preprocess", "resize", "stretch"), ("text", "padding", "right")])
def test_an_unknown_resize_or_padding_mode_is_refused_naming_the_field(bundle_copy, section, field, value):
    edit_manifest(bundle_copy, lambda data: data[section].__setitem__(field, value))
    with pytest.raises(BundleError, match=f"manifest field {section}.{field} is '{value}'; use one of"):
        read_manifest(bundle_copy)


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
