"""Read one photo, the one way picsift decodes: upright RGB at model size, full size, date, camera.

The library's indexer, query images (`--image`, a photo dropped on the window), the preview, the
thumbnails and the trainer's labelled folders all read through here, so a photo gives the same
pixels, and the same vector, wherever it comes from. Which files count as photos is
`models.photo_files`. What this adds to a plain `Image.open`:
  - decoders chosen by content from the photo formats only (a HEIC named .jpg still reads);
  - HEIF through pillow-heif, RAW through rawpy (the camera's embedded preview);
  - EXIF orientation applied, transparency on white;
  - JPEG and HEIF decoded reduced (`draft`) while the shortest side stays >= `min_side`;
  - a decompression-bomb limit, and one ImageError line naming the file for anything unreadable.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from models.errors import ImageError
from models.photo_files import HEIF_EXTENSIONS, RAW_EXTENSIONS
from models.photo_gps import GpsPosition, gps_position

# A decompression-bomb guard: larger images are refused with a clear message.
MAX_IMAGE_PIXELS = 178_956_970  # Pillow's own default, ~179 megapixels
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Decoders tried by content, whatever the extension claims. Pillow's other plugins (EPS runs
# Ghostscript, PSD, ICO, ...) are not what a photo library holds and widen the attack surface.
_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
# Formats whose draft() decodes less: JPEG and MPO (a JPEG with extra frames, as many cameras
# write) at a DCT scale; HEIF (pillow-heif) from an embedded thumbnail no smaller than asked,
# which phones store at 320x240 and which decodes ~50x faster than the 12-megapixel picture.
_DRAFT_FORMATS = frozenset({"JPEG", "MPO", "HEIF"})
# What Pillow's plugins raise on malformed input, besides OSError.
_DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, ZeroDivisionError)
# How decoders say the data ended early (Pillow's JPEG/PNG/TIFF/GIF/BMP, libwebp, libheif).
_CUT_SHORT = ("truncated", "broken data stream", "could not create decoder object", "end of file")
_ORIENTATION = ExifTags.Base.Orientation
_SIDES_SWAPPED = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture by 90 degrees
_EXIF_DATE = re.compile(r"\s*(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_UTC_OFFSET = re.compile(r"\s*[+-]\d\d:\d\d\s*$")
_EXIF_ERRORS = (SyntaxError, ValueError, OSError, IndexError, struct.error)  # from Pillow's TIFF parser


@dataclass(frozen=True)
class Photo:
    """One decoded photo: pixels for the model and the thumbnail, facts for the catalog."""

    image: Image.Image  # upright RGB; JPEG and HEIF decode reduced, shortest side still >= min_side
    width: int  # full-resolution width once upright, pixels
    height: int  # full-resolution height once upright, pixels
    taken_at: str | None  # ISO-8601 local time from EXIF, with its UTC offset when the camera wrote one
    camera: str | None  # "Make Model", e.g. "Canon EOS R5"
    gps: GpsPosition | None = None  # where it was taken, from the EXIF GPS IFD


def read_photo(path: str | Path, data: bytes, min_side: int) -> Photo:
    """Decode `data`, the whole content of the file at `path` (named in errors, picks RAW by extension).

    Raises ImageError with a one-line reason for anything that is not a readable photo.
    """
    if not data:
        raise ImageError(f"{path}: empty file (0 bytes)")
    if Path(path).suffix.lower() in RAW_EXTENSIONS:
        return _read_raw(path, data, min_side)
    with image_errors(path), Image.open(io.BytesIO(data), formats=_formats_for(path, data)) as opened:
        full_size = opened.size  # before draft() shrinks it
        image = decode_rgb(opened, min_side)
        exif = _exif(opened)  # after loading: PNG may keep EXIF after the pixels
        width, height = _upright(full_size, exif.get(_ORIENTATION))
        return Photo(image, width, height, _taken_at(exif), _camera(exif), gps_position(exif))


def read_photo_file(path: str | Path, min_side: int) -> Photo:
    """`read_photo` for callers that have not read the file yet (the indexer reads it once to hash it)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ImageError(f"{path}: file not found (moved or deleted?)") from exc
    except PermissionError as exc:
        raise ImageError(f"{path}: permission denied; check the file's read permissions") from exc
    except OSError as exc:
        raise ImageError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return read_photo(path, data, min_side)


def _formats_for(path: str | Path, data: bytes) -> list[str]:
    """The decoders to try, HEIF only for files that look like it (the opener registers lazily)."""
    wanted = list(_FORMATS)
    if Path(path).suffix.lower() in HEIF_EXTENSIONS or data[4:8] == b"ftyp":  # ISO media file
        _register_heif()
        wanted.append("HEIF")
    Image.init()  # a Pillow built without a plugin (AVIF before 11.2) must not turn into a KeyError
    return [name for name in wanted if name in Image.OPEN]


@functools.cache
def _register_heif() -> None:
    """Libraries without HEIC photos never load libheif. Two threads racing here is harmless:
    the second registration replaces the first with the same opener."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def decode_rgb(image: Image.Image, min_side: int = 0) -> Image.Image:
    """An opened (not yet loaded) image -> upright RGB; JPEG and HEIF decode reduced where the
    shortest side stays >= `min_side`. Call it inside `image_errors`."""
    _refuse_bombs(image)
    if min_side and image.format in _DRAFT_FORMATS:
        image.draft("RGB", _draft_size(image.size, min_side))
    image.load()
    return to_upright_rgb(image)


@contextmanager
def image_errors(source: str | Path) -> Iterator[None]:
    """Turn what Pillow raises on a bad file into an ImageError naming `source` and the reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # "Corrupt EXIF data" and the like: the pixels still decode, the photo is still usable
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{source}: image too large to decode safely ({exc})") from exc
    except FileNotFoundError as exc:
        raise ImageError(f"{source}: file not found (moved or deleted?)") from exc
    except PermissionError as exc:
        raise ImageError(f"{source}: permission denied; check the file's read permissions") from exc
    except UnidentifiedImageError as exc:  # its own message names a file object, not the file
        raise ImageError(f"{source}: not a readable image (not an image, or a format picsift cannot read)") from exc
    except _DECODER_ERRORS as exc:
        raise ImageError(f"{source}: not a readable image ({_reason(exc)})") from exc


def _refuse_bombs(image: Image.Image) -> None:
    """Pillow's own guard only warns between 1x and 2x the limit, and the warnings filter that
    makes it an error is process-wide state that decoding threads can race on: check here too."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        raise Image.DecompressionBombError(f"{image.width}x{image.height} pixels exceeds the limit of {limit} pixels")


def _reason(exc: Exception) -> str:
    """Pillow's message, with the cause spelled out where it is cryptic."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or any(sign in message for sign in _CUT_SHORT):
        return f"truncated or corrupt: {message}"
    return message


def _draft_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The request for `draft()`: the shortest side stays >= min_side whatever scale it picks
    (rotation by EXIF swaps the sides but not which one is shortest)."""
    width, height = size
    scale = min_side / min(width, height)
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def to_upright_rgb(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation and convert to RGB (transparent areas become white)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def _exif(image: Image.Image) -> Image.Exif:
    """The image's EXIF, Exif IFD parsed; a garbled block reads as empty, the pixels are still a photo.
    Call it inside `image_errors`, which quiets Pillow's "Corrupt EXIF data" warnings."""
    try:
        exif = image.getexif()
        exif.get_ifd(ExifTags.IFD.Exif)  # parsed now and cached, while the warnings are quiet
    except _EXIF_ERRORS:
        return Image.Exif()
    return exif


def _upright(size: tuple[int, int], orientation: object) -> tuple[int, int]:
    """Full size once upright. Read after loading, as `exif_transpose` does: TIFF and HEIF open
    already upright and by then report no turning orientation."""
    width, height = size
    return (height, width) if orientation in _SIDES_SWAPPED else (width, height)


def _taken_at(exif: Image.Exif) -> str | None:
    """DateTimeOriginal (when the shutter fired), else DateTime (last edit), as ISO-8601."""
    details = _exif_ifd(exif)
    taken = _parse_exif_date(details.get(ExifTags.Base.DateTimeOriginal))
    if taken:
        offset = _text(details.get(ExifTags.Base.OffsetTimeOriginal))
        return taken + offset.strip() if offset and _UTC_OFFSET.fullmatch(offset) else taken
    return _parse_exif_date(exif.get(ExifTags.Base.DateTime))


def _exif_ifd(exif: Image.Exif) -> dict:
    try:
        return exif.get_ifd(ExifTags.IFD.Exif)
    except _EXIF_ERRORS:
        return {}


def _parse_exif_date(value: object) -> str | None:
    """'2021:06:01 12:00:00' -> '2021-06-01T12:00:00'; blank, zeroed or impossible dates -> None."""
    match = _EXIF_DATE.match(_text(value) or "")
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups())).isoformat()
    except ValueError:  # "0000:00:00 00:00:00", month 13, ...
        return None


def _camera(exif: Image.Exif) -> str | None:
    """'Make Model', without repeating the maker: 'Canon' + 'Canon EOS R5' -> 'Canon EOS R5'.
    The first word decides, so 'NIKON CORPORATION' + 'NIKON D750' -> 'NIKON D750'."""
    make = (_text(exif.get(ExifTags.Base.Make)) or "").strip()
    model = (_text(exif.get(ExifTags.Base.Model)) or "").strip()
    if make and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(part for part in (make, model) if part) or None


def _text(value: object) -> str | None:
    """An EXIF ASCII value as str; cameras pad with NULs and some write bytes."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.replace("\x00", "") if isinstance(value, str) else None


# --- RAW: the camera's embedded JPEG preview, through rawpy (LibRaw) ---

# LibRaw's `flip` (bits: 1 mirror, 2 flip, 4 transpose) -> the transform that makes it upright.
_FLIP_TRANSPOSE = {
    1: Image.Transpose.FLIP_LEFT_RIGHT,
    2: Image.Transpose.FLIP_TOP_BOTTOM,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.TRANSPOSE,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
}
# RAW formats built on TIFF keep EXIF in their first IFD; ORF and RW2 only change the magic number.
_TIFF_HEADERS = {
    b"II*\x00": b"II*\x00",
    b"MM\x00*": b"MM\x00*",
    b"IIRO": b"II*\x00",
    b"IIRS": b"II*\x00",
    b"MMOR": b"MM\x00*",
    b"IIU\x00": b"II*\x00",
}
_RAW_EXIF_BYTES = 1 << 20  # EXIF sits near the start; parsing a 50 MB file's head is enough


def _read_raw(path: str | Path, data: bytes, min_side: int) -> Photo:
    rawpy = _import_rawpy(path)
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            return _raw_photo(path, raw, data, min_side)
    except rawpy.LibRawError as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ImageError(f"{path}: not a readable RAW file ({reason})") from exc


def _import_rawpy(path: str | Path):
    try:
        import rawpy
    except ImportError as exc:
        raise ImageError(f"{path}: unsupported without rawpy; RAW support needs `pip install picsift[raw]`") from exc
    return rawpy


def _raw_photo(path: str | Path, raw, data: bytes, min_side: int) -> Photo:
    sizes = raw.sizes
    width, height = (sizes.height, sizes.width) if sizes.flip & 4 else (sizes.width, sizes.height)
    image, preview_exif = _raw_preview(path, raw, min_side)
    if image is None:  # no usable preview: develop the sensor data at half size (slow, rare)
        image = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True))  # LibRaw turns it
    # The file's own EXIF first: LibRaw rewrites the preview's ("NIKON D750" becomes "Nikon D750"),
    # and a RAW+JPEG pair should name one camera.
    file_exif = _raw_file_exif(data)
    taken_at = _taken_at(file_exif) or _taken_at(preview_exif) or _libraw_time(raw)
    gps = gps_position(file_exif) or gps_position(preview_exif)
    return Photo(image, width, height, taken_at, _camera(file_exif) or _camera(preview_exif), gps)


def _raw_preview(path: str | Path, raw, min_side: int) -> tuple[Image.Image | None, Image.Exif]:
    """The embedded preview, upright, or None when there is none at least `min_side` pixels."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, Image.Exif()
    exif = Image.Exif()
    if thumb.format == rawpy.ThumbFormat.JPEG:
        with image_errors(path), Image.open(io.BytesIO(thumb.data), formats=["JPEG", "MPO"]) as opened:
            image = decode_rgb(opened, min_side)
            exif = _exif(opened)
    else:
        pixels = thumb.data.squeeze()  # (h, w, 3) or (h, w)
        pixels = pixels if pixels.dtype == np.uint8 else (pixels >> 8).astype(np.uint8)  # 16-bit: keep the top byte
        image = Image.fromarray(pixels).convert("RGB")
    # Previews are stored as the sensor saw them. LibRaw tags a JPEG preview with the file's
    # orientation (decode_rgb applied it); a bitmap, or a camera's own Exif saying 1, it does not.
    if exif.get(_ORIENTATION, 1) == 1:
        image = _turn(image, raw.sizes.flip)
    return (image if min(image.size) >= min_side else None), exif


def _turn(image: Image.Image, flip: int) -> Image.Image:
    method = _FLIP_TRANSPOSE.get(flip)
    return image.transpose(method) if method is not None else image


def _raw_file_exif(data: bytes) -> Image.Exif:
    """EXIF of a TIFF-based RAW (CR2, NEF, ARW, DNG, ORF, RW2, PEF, SRW); empty for the others."""
    exif = Image.Exif()
    header = _TIFF_HEADERS.get(data[:4])
    if not header:
        return exif
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": the photo itself is fine
            exif.load(header + data[4:_RAW_EXIF_BYTES])
            exif.get_ifd(ExifTags.IFD.Exif)  # parsed now and cached
    except _EXIF_ERRORS:
        return Image.Exif()
    return exif


def _libraw_time(raw) -> str | None:
    """LibRaw's own capture time, for RAW formats not built on TIFF (CR3, RAF) without preview EXIF."""
    stamp = raw.other.timestamp
    return stamp.replace(microsecond=0).isoformat() if stamp and stamp.year > 1970 else None


def rgb_array(image: Image.Image | np.ndarray) -> np.ndarray:
    """An image as the (H, W, 3) uint8 RGB array the readers of text and faces take (PIL converted;
    an array of another shape or type is a bug: ValueError)."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}")
    return image


def shrunk(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """`rgb` with its long side at most `long_side` pixels, area averaged (thin strokes and small faces survive)."""
    height, width = rgb.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
