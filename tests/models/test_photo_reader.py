"""Reading a photo, for the indexer and everyone else: upright, at model size, with its date and camera, or a one-line reason."""

from __future__ import annotations

import io
import sys
import warnings
from datetime import datetime

import numpy as np
import pytest
from image_zoo import (
    scene,
    write_12mp_library,
    write_bad_files,
    write_bomb,
    write_dng,
    write_photo,
    write_skipped_files,
)
from PIL import Image

from models.errors import ImageError
from models.photo_files import IMAGE_EXTENSIONS, RAW_EXTENSIONS
from models.photo_reader import read_photo, read_photo_file

SHOT = datetime(2021, 6, 1, 12, 30, 5)
CANON = ("Canon", "Canon EOS R5")
BAD_FILES = ("empty.jpg", "notes.png", "cut.jpg", "bomb.png", "icon.png", "broken.nef", "locked.jpg")


def _read(path, min_side=100):
    return read_photo(str(path), path.read_bytes(), min_side)


def _difference(image: Image.Image, expected: Image.Image) -> float:
    """Mean absolute pixel difference at a small common size (0 identical, ~60 unrelated)."""
    small = (64, round(64 * expected.height / expected.width))
    a = np.asarray(image.resize(small, Image.Resampling.BOX), np.float32)
    return float(np.abs(a - np.asarray(expected.resize(small, Image.Resampling.BOX), np.float32)).mean())


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied_and_the_full_size_is_reported_upright(tmp_path, orientation):
    path = write_photo(tmp_path / "p.jpg", "astronaut", (600, 400), exif_orientation=orientation)
    photo = _read(path)
    assert (photo.width, photo.height) == (600, 400)
    assert photo.image.mode == "RGB" and photo.image.width > photo.image.height
    assert _difference(photo.image, scene("astronaut", (600, 400))) < 8


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("JPEG", ".jpg"), ("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif"), ("HEIF", ".heic"), ("AVIF", ".avif")],
)
def test_every_format_with_exif_reads_upright_with_date_and_camera(tmp_path, fmt, suffix):
    path = write_photo(tmp_path / f"p{suffix}", "chelsea", (300, 400), 6, SHOT, CANON, fmt=fmt)
    photo = _read(path)
    assert (photo.width, photo.height) == (300, 400)
    assert _difference(photo.image, scene("chelsea", (300, 400))) < 8
    assert (photo.taken_at, photo.camera) == ("2021-06-01T12:30:05", "Canon EOS R5")
    assert suffix in IMAGE_EXTENSIONS


@pytest.mark.parametrize(("fmt", "suffix"), [("GIF", ".gif"), ("BMP", ".bmp")])
def test_formats_without_exif_read_with_no_date_or_camera(tmp_path, fmt, suffix):
    path = write_photo(tmp_path / f"p{suffix}", "coffee", (320, 240), fmt=fmt)
    photo = _read(path)
    assert (photo.image.mode, photo.width, photo.height) == ("RGB", 320, 240)
    assert _difference(photo.image, scene("coffee", (320, 240))) < 12  # GIF: 256 colours
    assert photo.taken_at is None and photo.camera is None


def test_heic_decodes_its_embedded_thumbnail_when_that_is_big_enough(tmp_path):
    path = write_photo(tmp_path / "IMG_0001.HEIC", "astronaut", (360, 480), 6, fmt="HEIF")  # portrait
    photo = _read(path, min_side=224)
    assert photo.image.size == (240, 320)  # the 320x240 thumbnail, upright
    assert (photo.width, photo.height) == (360, 480)
    assert _difference(photo.image, scene("astronaut", (360, 480))) < 8
    assert _read(path, min_side=300).image.size == (360, 480)  # the thumbnail is too small for that


def test_a_heic_named_jpg_is_still_read(tmp_path):
    heic = write_photo(tmp_path / "p.heic", "rocket", (200, 300), fmt="HEIF")
    photo = read_photo(str(tmp_path / "IMG_0001.jpg"), heic.read_bytes(), 100)
    assert (photo.width, photo.height) == (200, 300)


def _jpeg_with(exif: Image.Exif) -> bytes:
    buffer = io.BytesIO()
    scene("coffee", (320, 240)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_date_falls_back_to_datetime_and_keeps_the_recorded_utc_offset():
    exif = Image.Exif()
    exif[0x0132] = "2019:12:24 18:00:00"  # DateTime only
    assert read_photo("a.jpg", _jpeg_with(exif), 100).taken_at == "2019-12-24T18:00:00"
    exif.get_ifd(0x8769).update({0x9003: "2020:01:02 03:04:05", 0x9011: "+02:00"})
    assert read_photo("a.jpg", _jpeg_with(exif), 100).taken_at == "2020-01-02T03:04:05+02:00"


@pytest.mark.parametrize("stamp", ["0000:00:00 00:00:00", "    :  :     :  :  ", "2021:13:45 99:00:00", ""])
def test_blank_or_impossible_dates_read_as_none(stamp):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = stamp
    assert read_photo("a.jpg", _jpeg_with(exif), 100).taken_at is None


@pytest.mark.parametrize(
    ("make", "model", "camera"),
    [
        ("Canon", "Canon EOS R5", "Canon EOS R5"),
        ("NIKON CORPORATION", "NIKON D750", "NIKON D750"),
        ("Apple", "iPhone 13 Pro", "Apple iPhone 13 Pro"),
        ("  SONY\x00", "ILCE-7M3 ", "SONY ILCE-7M3"),
        ("", "DMC-GX7", "DMC-GX7"),
    ],
)
def test_camera_is_make_and_model_without_repeating_the_maker(make, model, camera):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    assert read_photo("a.jpg", _jpeg_with(exif), 100).camera == camera


def test_corrupt_exif_still_gives_the_photo(tmp_path):
    buffer = io.BytesIO()
    scene("coffee", (320, 240)).save(buffer, "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\x00\x00")
    photo = read_photo("a.jpg", buffer.getvalue(), 100)
    assert (photo.width, photo.height, photo.taken_at, photo.camera) == (320, 240, None, None)


def test_a_12mp_jpeg_decodes_reduced_but_never_below_min_side(tmp_path):
    (path,) = write_12mp_library(tmp_path, 1, seed=1)
    photo = _read(path, min_side=224)
    assert 224 <= min(photo.image.size) < 3000
    assert sorted((photo.width, photo.height)) == [3000, 4000]
    assert (photo.width > photo.height) == (photo.image.width > photo.image.height)
    assert photo.taken_at and photo.camera


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, write_bad_files(folder)


def test_every_bad_file_of_the_zoo_is_covered_here(bad_files):
    assert set(bad_files[1]) <= set(BAD_FILES)


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_raises_image_error_with_its_reason_and_path(bad_files, name):
    folder, expected = bad_files
    if name not in expected:
        pytest.skip("permission bits do not block reads here (running as root)")
    with pytest.raises(ImageError, match=expected[name]) as caught:
        read_photo_file(folder / name, 224)
    message = str(caught.value)
    assert message.startswith(str(folder / name)) and "\n" not in message


def test_transparent_png_is_composited_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(path)
    assert np.asarray(_read(path, min_side=0).image).min() == 255


def test_a_missing_file_says_it_was_moved_or_deleted(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        read_photo_file(tmp_path / "gone.jpg", 224)


def test_bomb_between_one_and_two_times_the_limit_is_refused_where_warnings_are_ignored(tmp_path):
    path = write_bomb(tmp_path / "bomb.png", side=14_000)  # Pillow only warns at this size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageError, match="too large"):
            _read(path)


def test_files_a_scanner_skips_are_not_read_as_photos_either(tmp_path):
    for path in write_skipped_files(tmp_path)[:3]:  # AppleDouble, .DS_Store, Thumbs.db
        with pytest.raises(ImageError, match="not an image"):
            _read(path)


# --- RAW, through rawpy's embedded preview ---


@pytest.mark.parametrize(("orientation", "upright"), [(1, (400, 300)), (3, (400, 300)), (6, (300, 400)), (8, (300, 400))])
@pytest.mark.parametrize("preview", ["jpeg", "bitmap", None])
def test_raw_reads_its_preview_upright_with_date_and_camera(tmp_path, preview, orientation, upright):
    pytest.importorskip("rawpy")
    path = write_dng(tmp_path / "IMG_0001.DNG", "chelsea", (400, 300), preview, orientation, SHOT, CANON)
    photo = _read(path)
    assert (photo.width, photo.height) == upright
    assert (photo.taken_at, photo.camera) == ("2021-06-01T12:30:05", "Canon EOS R5")
    expected = scene("chelsea", (400, 300)).rotate({1: 0, 3: 180, 6: -90, 8: 90}[orientation], expand=True)
    if preview:  # without one LibRaw develops the mosaic: right shape, colours of its own
        assert _difference(photo.image, expected) < 8
    else:
        grey = [np.asarray(im.convert("L").resize(upright), np.float32).ravel() for im in (photo.image, expected)]
        assert np.corrcoef(*grey)[0, 1] > 0.8


def test_raw_camera_name_matches_the_cameras_jpegs(tmp_path):
    pytest.importorskip("rawpy")
    path = write_dng(tmp_path / "DSC_0001.NEF", "coffee", (400, 300), camera=("NIKON CORPORATION", "NIKON D750"))
    assert _read(path).camera == "NIKON D750"  # not LibRaw's "Nikon D750"


def test_raw_without_rawpy_says_how_to_install_it(tmp_path, monkeypatch):
    path = write_dng(tmp_path / "IMG_0001.dng", "chelsea", (400, 300))
    monkeypatch.setitem(sys.modules, "rawpy", None)  # import rawpy now raises ImportError
    with pytest.raises(ImageError, match=r"pip install picsift\[raw\]"):
        _read(path)
    assert ".dng" in RAW_EXTENSIONS and RAW_EXTENSIONS <= IMAGE_EXTENSIONS
