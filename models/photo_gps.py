"""Where a photo was taken: the EXIF GPS IFD as signed decimal degrees, or None for anything doubtful.

Cameras and phones write latitude and longitude as three rationals (degrees, minutes, seconds)
with a hemisphere letter in a separate tag (N/S, E/W); altitude as one rational with a ref byte
(1: below sea level). What is read as no position at all, rather than a wrong one:
  - a missing coordinate or hemisphere, a zero denominator, NaN, a value out of range;
  - exactly (0, 0): what receivers without a fix and zeroed templates write ("Null Island");
  - a GPS IFD that Pillow cannot parse (a bad offset, a truncated block).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from PIL import ExifTags, Image

_GPS = ExifTags.GPS
_IFD_ERRORS = (SyntaxError, ValueError, OSError, IndexError, KeyError, TypeError, struct.error)
_MAX_ALTITUDE_M = 100_000.0  # above this a value is a unit mix-up, not a photo (airliners fly at ~12 km)


@dataclass(frozen=True)
class GpsPosition:
    """A WGS-84 position from EXIF."""

    latitude: float  # degrees, north positive, -90..90
    longitude: float  # degrees, east positive, -180..180
    altitude: float | None  # metres above sea level (negative below), None when absent or doubtful


def gps_position(exif: Image.Exif) -> GpsPosition | None:
    """The photo's position from its EXIF GPS IFD, None when absent, zeroed, out of range or broken."""
    try:
        tags = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except _IFD_ERRORS:
        return None
    if not isinstance(tags, dict):
        return None
    latitude = _coordinate(tags.get(_GPS.GPSLatitude), tags.get(_GPS.GPSLatitudeRef), "N", "S", 90.0)
    longitude = _coordinate(tags.get(_GPS.GPSLongitude), tags.get(_GPS.GPSLongitudeRef), "E", "W", 180.0)
    if latitude is None or longitude is None or (latitude == 0.0 and longitude == 0.0):
        return None
    return GpsPosition(latitude, longitude, _altitude(tags.get(_GPS.GPSAltitude), tags.get(_GPS.GPSAltitudeRef)))


def _coordinate(value: object, ref: object, positive: str, negative: str, limit: float) -> float | None:
    """(deg, min, sec) rationals and a hemisphere letter -> signed degrees; None unless both are sound."""
    degrees = _degrees(value)
    hemisphere = _letter(ref)
    if degrees is None or hemisphere not in (positive, negative) or not 0.0 <= degrees <= limit:
        return None
    return -degrees if hemisphere == negative else degrees


def _degrees(value: object) -> float | None:
    """Three parts (deg, min, sec) as most write; one or two parts (decimal minutes) as some do."""
    parts = value if isinstance(value, tuple | list) else (value,)
    numbers = [_number(part) for part in parts[:3]]
    if not numbers or any(number is None or number < 0 for number in numbers):
        return None
    if any(number >= 60 for number in numbers[1:]):
        return None
    return sum(number / 60**index for index, number in enumerate(numbers))


def _altitude(value: object, ref: object) -> float | None:
    metres = _number(value)
    if metres is None or metres > _MAX_ALTITUDE_M:
        return None
    flag = ref[0] if isinstance(ref, bytes | tuple) and ref else ref  # BYTE tags read as int or bytes
    return -metres if flag == 1 else metres


def _number(value: object) -> float | None:
    """An EXIF rational or integer as a finite float (Pillow gives NaN for a zero denominator)."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _letter(value: object) -> str | None:
    """A GPS ref tag ('N', b'N', 'N\\x00') as one upper-case letter."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip().upper()
    return value[:1] or None
