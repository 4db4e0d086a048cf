"""Where a photo was taken: real JPEG, HEIC, PNG, TIFF and WebP files with an EXIF GPS IFD, read back as decimal degrees."""

from __future__ import annotations

import io
import struct

import pytest
from image_zoo import scene
from PIL import ExifTags, Image, TiffImagePlugin

from models.photo_reader import read_photo

GPS = ExifTags.GPS
PORTO = {  # Ribeira, Porto: 41°08'26.4"N 8°36'48.0"W, 85.5 m
    GPS.GPSLatitudeRef: "N",
    GPS.GPSLatitude: (41.0, 8.0, 26.4),
    GPS.GPSLongitudeRef: "W",
    GPS.GPSLongitude: (8.0, 36.0, 48.0),
    GPS.GPSAltitudeRef: 0,
    GPS.GPSAltitude: 85.5,
}
CAPE_TOWN = {GPS.GPSLatitudeRef: "S", GPS.GPSLatitude: (33.0, 55.0, 30.0), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (18.0, 25.0, 12.0)}


def photo_bytes(gps: dict | None, fmt: str = "JPEG") -> bytes:
    """A real photo file in `fmt` whose EXIF holds `gps` as its GPS IFD."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    out = io.BytesIO()
    scene("coffee", (160, 120)).save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def with_gps_pointer(jpeg: bytes, offset: int) -> bytes:
    """The JPEG with its IFD0 GPSInfo entry (tag 0x8825, type LONG, count 1) pointing at `offset`."""
    entry = jpeg.index(struct.pack(">HHI", 0x8825, 4, 1))  # Pillow writes big-endian TIFF
    return jpeg[: entry + 8] + struct.pack(">I", offset) + jpeg[entry + 12 :]


def gps_of(data: bytes, name: str = "photo.jpg"):
    return read_photo(name, data, min_side=64).gps


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "p.jpg"), ("HEIF", "p.heic"), ("PNG", "p.png"), ("TIFF", "p.tif"), ("WEBP", "p.webp")])
def test_position_is_read_from_every_format_that_carries_exif(fmt, name):
    gps = gps_of(photo_bytes(PORTO, fmt), name)
    assert gps.latitude == pytest.approx(41 + 8 / 60 + 26.4 / 3600)
    assert gps.longitude == pytest.approx(-(8 + 36 / 60 + 48 / 3600))
    assert gps.altitude == pytest.approx(85.5)


def test_southern_and_eastern_hemispheres_sign_the_degrees_and_a_missing_altitude_is_none():
    gps = gps_of(photo_bytes(CAPE_TOWN))
    assert (gps.latitude, gps.longitude) == pytest.approx((-33.925, 18.42))
    assert gps.altitude is None


def test_altitude_below_sea_level_is_negative():
    dead_sea = {**CAPE_TOWN, GPS.GPSAltitudeRef: 1, GPS.GPSAltitude: 430.0}
    assert gps_of(photo_bytes(dead_sea)).altitude == pytest.approx(-430.0)


def test_refs_written_as_bytes_with_padding_and_decimal_minutes_are_understood():
    odd = {GPS.GPSLatitudeRef: b"N\x00", GPS.GPSLatitude: (59.0, 54.75), GPS.GPSLongitudeRef: b"E\x00", GPS.GPSLongitude: (10.0, 45.0)}
    gps = gps_of(photo_bytes(odd))
    assert (gps.latitude, gps.longitude) == pytest.approx((59.9125, 10.75))


def test_a_photo_without_gps_has_no_position():
    assert gps_of(photo_bytes(None)) is None


@pytest.mark.parametrize(
    "broken",
    [
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (0.0, 0.0, 0.0), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (0.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (91.0, 0.0, 0.0), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (45.0, 0.0, 0.0), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (181.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (45.0, 75.0, 0.0), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "X", GPS.GPSLatitude: (45.0, 0.0, 0.0), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
        {GPS.GPSLatitude: (45.0, 0.0, 0.0), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (TiffImagePlugin.IFDRational(45, 0), 0.0, 0.0),
         GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
        {GPS.GPSLatitudeRef: "N", GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (10.0, 0.0, 0.0)},
    ],
    ids=["null-island", "latitude-91", "longitude-181", "75-minutes", "bad-ref", "no-ref", "zero-denominator", "no-latitude"],
)
def test_zeroed_out_of_range_or_incomplete_positions_read_as_none(broken):
    assert gps_of(photo_bytes(broken)) is None


@pytest.mark.parametrize("pointer", [0xFFFFFF, 8, 3])
def test_a_gps_ifd_pointer_to_garbage_reads_as_no_position_and_the_photo_still_reads(pointer):
    photo = read_photo("p.jpg", with_gps_pointer(photo_bytes(PORTO), pointer), min_side=64)
    assert photo.gps is None
    assert photo.camera == "Apple"

