"""Realistic photo files for tests and benchmarks, made from scikit-image's real sample photos.

Photos carry what cameras write (EXIF orientation with the pixels stored turned, capture date,
make and model), in every format the reader claims; bad files fail the way real ones do.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageEnhance

from desktop.core.demo_library import demo_image

# Samples that look like photographs (not diagrams), for libraries that should feel real.
PHOTO_SAMPLES = (
    "astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "hubble_deep_field",
    "immunohistochemistry", "retina", "stereo_motorcycle", "brick", "grass", "gravel", "clock",
)
CAMERAS = (
    ("Canon", "Canon EOS 5D Mark IV"),
    ("NIKON CORPORATION", "NIKON D750"),
    ("SONY", "ILCE-7M3"),
    ("Apple", "iPhone 13 Pro"),
    ("FUJIFILM", "X-T4"),
)
# How to store an upright picture so that applying EXIF orientation N shows it upright again.
_STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # the camera was turned clockwise: the sensor saw it 90 degrees CCW
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"})  # GIF and BMP carry none


@functools.cache
def _sample(name: str) -> Image.Image:
    return demo_image(name)


def scene(base_name: str, size: tuple[int, int]) -> Image.Image:
    """The sample photo cropped to the aspect of `size` (centred) and scaled to it: the upright picture."""
    return _cover(_sample(base_name), size, 1.0, (0.5, 0.5))


def _cover(image: Image.Image, size: tuple[int, int], zoom: float, centre: tuple[float, float]) -> Image.Image:
    """Crop the largest box of `size`'s aspect, shrunk by `zoom` (<= 1) around `centre`, then scale."""
    aspect = size[0] / size[1]
    box_w = min(image.width, image.height * aspect) * zoom
    box_h = box_w / aspect
    left = (image.width - box_w) * centre[0]
    top = (image.height - box_h) * centre[1]
    return image.resize(size, Image.Resampling.BICUBIC, box=(left, top, left + box_w, top + box_h))


def exif_bytes(orientation: int | None = None, taken_at: datetime | None = None, camera: tuple[str, str] | None = None,
               gps: dict | None = None) -> bytes:
    """An EXIF block as cameras write it: Orientation, Make and Model in IFD0, the capture time in the Exif IFD,
    `gps` (ExifTags.GPS tag -> value) as the GPS IFD."""
    exif = Image.Exif()
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if camera is not None:
        exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = camera
    if taken_at is not None:
        stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
    return exif.tobytes()


def write_photo(
    path: str | Path,
    base_name: str,
    size: tuple[int, int] = (640, 480),
    exif_orientation: int | None = None,
    taken_at: datetime | None = None,
    camera: tuple[str, str] | None = None,
    fmt: str = "JPEG",
    picture: Image.Image | None = None,
    gps: dict | None = None,
) -> Path:
    """Write `base_name` (or `picture`) so that it shows upright at `size` once its orientation is applied.

    `fmt` is a Pillow format name; "HEIF" is written with pillow-heif. GIF and BMP carry no EXIF.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    upright = picture if picture is not None else scene(base_name, size)
    turn = _STORE_FOR_ORIENTATION.get(exif_orientation)
    stored = upright.transpose(turn) if turn is not None else upright
    options = {"quality": 90} if fmt in ("JPEG", "WEBP", "HEIF", "AVIF") else {}
    if exif_orientation is not None or taken_at is not None or camera is not None or gps is not None:
        if fmt not in _EXIF_FORMATS:
            raise ValueError(f"{fmt} files carry no EXIF")
        options["exif"] = exif_bytes(exif_orientation, taken_at, camera, gps)
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        options["thumbnails"] = [320]  # as phones store them (320x240)
    stored.save(path, fmt, **options)
    return path


def write_12mp_library(folder: str | Path, n: int, seed: int = 0) -> list[Path]:
    """`n` distinct 4000x3000 JPEGs (quality 90) as a camera writes them: stored landscape, EXIF
    orientation 1/3/6/8, capture date, make and model; each a different crop, flip, colour and
    sensor noise of a real sample photo."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start = datetime(2016, 1, 1)
    paths = []
    for i in range(n):
        orientation = int(rng.choice([1, 3, 6, 8]))
        size = (3000, 4000) if orientation in (6, 8) else (4000, 3000)  # upright: stored is 4000x3000
        taken_at = start + timedelta(seconds=int(rng.integers(0, 8 * 365 * 86400)))
        camera = CAMERAS[int(rng.integers(len(CAMERAS)))]
        path = folder / f"IMG_{i:04d}.jpg"
        write_photo(path, "", size, orientation, taken_at, camera, picture=_varied_picture(rng, size))
        paths.append(path)
    return paths


def _varied_picture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A random crop, mirror and colour of a random sample, scaled up, with sensor-like noise."""
    base = _sample(str(rng.choice(PHOTO_SAMPLES)))
    if rng.random() < 0.5:
        base = base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        base = enhancer(base).enhance(rng.uniform(0.75, 1.25))  # on the small image: cheap
    picture = _cover(base, size, rng.uniform(0.5, 1.0), (rng.random(), rng.random()))
    noise = Image.effect_noise(size, float(rng.uniform(3, 6))).convert("RGB")  # centred on 128
    return ImageChops.add(picture, noise, scale=1.0, offset=-128)


# --- RAW: a DNG (TIFF with a Bayer mosaic), optionally with an embedded preview like a camera's ---


def write_dng(
    path: str | Path,
    base_name: str,
    size: tuple[int, int] = (640, 480),
    preview: str | None = "jpeg",
    orientation: int = 1,
    taken_at: datetime | None = None,
    camera: tuple[str, str] = ("Canon", "Canon EOS R5"),
) -> Path:
    """A DNG whose first IFD holds a 16-bit RGGB mosaic of `size` (as the sensor saw it) and whose
    second IFD holds a preview of the same size: "jpeg", "bitmap" (uncompressed RGB) or None."""
    picture = scene(base_name, size)
    ifds = [_mosaic_ifd(picture, orientation, taken_at, camera)]
    if preview:
        ifds.append(_preview_ifd(picture, preview))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tiff_file(ifds))
    return path


def _mosaic_ifd(picture: Image.Image, orientation: int, taken_at: datetime | None, camera: tuple[str, str]):
    rgb = np.asarray(picture, np.uint16) * 257  # (H, W, 3) 16-bit
    mosaic = np.empty(rgb.shape[:2], "<u2")
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0]  # R G
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1]  # G B
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2]
    tags = {
        254: (4, [0]), 256: (4, [picture.width]), 257: (4, [picture.height]), 258: (3, [16]), 259: (3, [1]),
        262: (3, [32803]), 271: (2, camera[0]), 272: (2, camera[1]), 274: (3, [orientation]), 277: (3, [1]),
        278: (4, [picture.height]), 33421: (3, [2, 2]), 33422: (1, [0, 1, 1, 2]), 50706: (1, [1, 4, 0, 0]),
        50708: (2, camera[1]), 50721: (10, [(1, 1), (0, 1), (0, 1), (0, 1), (1, 1), (0, 1), (0, 1), (0, 1), (1, 1)]),
        50778: (3, [21]),  # D65
    }
    if taken_at is not None:
        tags[306] = (2, taken_at.strftime("%Y:%m:%d %H:%M:%S"))
    return tags, mosaic.tobytes()


def _preview_ifd(picture: Image.Image, kind: str):
    if kind == "jpeg":  # a complete JPEG stream, as cameras embed it (no EXIF inside)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=90)
        data, compression, photometric = buffer.getvalue(), 7, 6
    else:
        data, compression, photometric = picture.tobytes(), 1, 2
    tags = {
        254: (4, [1]), 256: (4, [picture.width]), 257: (4, [picture.height]), 258: (3, [8, 8, 8]),
        259: (3, [compression]), 262: (3, [photometric]), 277: (3, [3]), 278: (4, [picture.height]),
    }
    return tags, data


_TIFF_TYPES = {1: "B", 2: "B", 3: "H", 4: "I", 10: "ii"}  # BYTE, ASCII, SHORT, LONG, SRATIONAL


def _tiff_file(ifds: list[tuple[dict, bytes]]) -> bytes:
    """A little-endian TIFF with one strip per IFD; tags are {tag: (type, values)}."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    link = 4  # where the offset of the next IFD goes
    for tags, strip in ifds:
        strip_offset = len(out)
        out += strip + b"\x00" * (len(strip) % 2)
        tags = {**tags, 273: (4, [strip_offset]), 279: (4, [len(strip)])}
        entries = b"".join(_tiff_entry(out, tag, *tags[tag]) for tag in sorted(tags))
        out += b"\x00" * (len(out) % 2)
        struct.pack_into("<I", out, link, len(out))
        out += struct.pack("<H", len(tags)) + entries
        link = len(out)
        out += b"\x00\x00\x00\x00"
    return bytes(out)


def _tiff_entry(out: bytearray, tag: int, kind: int, values) -> bytes:
    """One 12-byte IFD entry; values over 4 bytes are appended to `out` and pointed at."""
    if kind == 2:
        raw = values.encode("ascii") + b"\x00"
        count = len(raw)
    else:
        flat = [part for value in values for part in (value if isinstance(value, tuple) else (value,))]
        raw = struct.pack("<" + _TIFF_TYPES[kind] * len(values), *flat)
        count = len(values)
    if len(raw) <= 4:
        return struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\x00")
    out += b"\x00" * (len(out) % 2)
    offset = len(out)
    out += raw
    return struct.pack("<HHII", tag, kind, count, offset)


# --- Files a real library also holds: broken ones, and ones a scanner must pass over ---


def write_bad_files(folder: str | Path) -> dict[str, str]:
    """Broken files, plus the skip list (`write_skipped_files`); returns {file name: expected reason substring}.

    The unreadable file is left out (and removed) where permissions do not block reads: as root.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("Shopping list: milk, eggs, a new memory card\n")
    write_truncated_jpeg(folder / "cut.jpg")
    write_bomb(folder / "bomb.png")
    _sample("coins").save(folder / "icon.png", "ICO")  # an image, but not a photo format
    (folder / "broken.nef").write_bytes(b"NIKON raw? no: a text file with a RAW name\n" * 20)
    expected = {
        "empty.jpg": "empty file",
        "notes.png": "not an image",
        "cut.jpg": "truncated",
        "bomb.png": "too large",
        "icon.png": "cannot read",
        "broken.nef": "RAW",
    }
    if write_unreadable(folder / "locked.jpg"):
        expected["locked.jpg"] = "denied"  # "permission denied" / "Permission denied"
    write_skipped_files(folder)
    return expected


def write_skipped_files(folder: str | Path) -> list[Path]:
    """macOS AppleDouble and Finder files, Windows' thumbnail cache, a photo in a hidden folder."""
    folder = Path(folder)
    apple_double = struct.pack(">II16sH", 0x00051607, 0x00020000, b"Mac OS X        ", 2)  # magic, version, entries
    files = {
        "._IMG_0001.jpg": apple_double.ljust(4096, b"\x00"),
        ".DS_Store": b"\x00\x00\x00\x01Bud1".ljust(6148, b"\x00"),
        "Thumbs.db": bytes.fromhex("d0cf11e0a1b11ae1").ljust(1536, b"\x00"),  # an OLE compound file
    }
    written = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        written.append(folder / name)
    written.append(write_photo(folder / ".hidden" / "x.jpg", "chelsea", (320, 240)))
    return written


def write_truncated_jpeg(path: str | Path) -> Path:
    """A real photo under heavy noise, cut at 60%: noise makes every byte carry pixels, so the cut
    always lands inside the picture data (a smooth image can end in padding the decoder never misses)."""
    picture = scene("astronaut", (800, 600))
    noisy = ImageChops.add(picture, Image.effect_noise(picture.size, 40).convert("RGB"), 1.0, -128)
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=95)
    Path(path).write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 6 // 10])
    return Path(path)


def write_bomb(path: str | Path, side: int = 20_000) -> Path:
    """A valid all-black 1-bit PNG of side x side pixels: ~50 KB on disk, 400 megapixels declared
    (above 2x Pillow's limit, so it is refused at open; 14_000 lands between 1x and 2x, where
    Pillow only warns). Written row by row, so it never holds the pixels in memory."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_chunk = 256
    idat = b"".join(packer.compress(row * min(rows_per_chunk, side - i)) for i in range(0, side, rows_per_chunk))
    idat += packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return Path(path)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_unreadable(path: str | Path) -> bool:
    """A real photo with no read permission; False (and no file) where that does not block reads."""
    path = write_photo(path, "moon", (320, 240))
    path.chmod(0)
    if reads_are_blocked(path):
        return True
    path.chmod(0o644)
    path.unlink()
    return False


def reads_are_blocked(path: str | Path) -> bool:
    """Whether opening `path` for reading fails: root (and some file systems) ignore permission bits."""
    try:
        os.close(os.open(path, os.O_RDONLY))
    except PermissionError:
        return True
    return False


def write_nas_labelled_folders(root: str | Path) -> dict[str, list[str]]:
    """Two class folders as a NAS, a Mac and Windows leave them: photos in several formats (HEIC,
    a DNG, a nested folder) beside Synology's @eaDir thumbnails and #recycle, Windows' $RECYCLE.BIN,
    AppleDouble, Finder and Explorer files, a hidden folder, a text file and a text file with a
    .jpg name (a photo by its name; reading it fails later, with a reason).

    Returns {class folder: its photo files, relative to it}.
    """
    root = Path(root)
    photos = {
        "cats": ["a.jpg", "b.HEIC", "c.dng", "d.png", "nested/e.jpeg", "notes.jpg"],
        "dogs": ["f.jpg", "g.webp", "h.tif", "I.JPG", "j.heif"],
    }
    for label, names in photos.items():
        for number, name in enumerate(names):
            path = root / label / name
            suffix = path.suffix.lower()
            if name == "notes.jpg":
                path.write_text("buy a bigger memory card\n")
            elif suffix == ".dng":
                write_dng(path, "coffee", (320, 240))
            else:
                fmt = {".heic": "HEIF", ".heif": "HEIF", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF"}.get(suffix, "JPEG")
                write_photo(path, PHOTO_SAMPLES[number], (320, 240), fmt=fmt)
        write_skipped_files(root / label)  # ._IMG_0001.jpg, .DS_Store, Thumbs.db, .hidden/x.jpg
        (root / label / "desktop.ini").write_text("[.ShellClassInfo]\n")
        (root / label / "readme.txt").write_text("photos of our pets\n")
        write_photo(root / label / "@eaDir" / "a.jpg" / "SYNOPHOTO_THUMB_M.jpg", "moon", (320, 240))
    write_photo(root / "dogs" / "#recycle" / "old.jpg", "moon", (320, 240))
    for junk in ("@eaDir", "#recycle", "$RECYCLE.BIN", ".Trashes"):  # never classes either
        write_photo(root / junk / "thumb.jpg", "moon", (320, 240))
    return photos
