"""Image loading and preprocessing in numpy/Pillow, reproducing each model's train-time transform.

The transform is data, carried in the bundle manifest (`ImagePreprocess`):
  1. decode; apply the EXIF orientation; convert to RGB (alpha composited on white);
  2. resize so the shortest side is `resize_to` pixels (`resample` filter);
  3. centre-crop `size` x `size`;
  4. x = (rgb / 255 - mean) / std per channel, laid out (3, size, size) float32.
For EfficientNet-Lite0 this is `(pixel - 127) / 128` (mean 127/255, std 128/255); for CLIP it is
torchvision's Resize(224, bicubic) + CenterCrop(224) + Normalize(OpenAI mean/std).
JPEGs are decoded with `Image.draft()` at the smallest DCT scale that still covers `resize_to`,
which makes a 12-megapixel photo about 4x cheaper to decode (HEIF: an embedded thumbnail).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models.errors import ImageError

# A decompression-bomb guard: larger images are refused with a clear message.
MAX_IMAGE_PIXELS = 178_956_970  # Pillow's own default, ~179 megapixels
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

# Formats whose draft() decodes less: JPEG and MPO (a JPEG with extra frames, as many cameras
# write) at a DCT scale; HEIF (pillow-heif) from an embedded thumbnail no smaller than asked,
# which phones store at 320x240 and which decodes ~50x faster than the 12-megapixel picture.
_DRAFT_FORMATS = frozenset({"JPEG", "MPO", "HEIF"})
# What Pillow's plugins raise on malformed input, besides OSError.
_DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, ZeroDivisionError)
# How decoders say the data ended early (Pillow's JPEG/PNG/TIFF/GIF/BMP, libwebp, libheif).
_CUT_SHORT = ("truncated", "broken data stream", "could not create decoder object", "end of file")

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
RESAMPLE_FILTERS = tuple(_RESAMPLE)  # what `ImagePreprocess.resample` may name


@dataclass(frozen=True)
class ImagePreprocess:
    """The exact image transform of one model; stored in the manifest under `image_preprocess`."""

    size: int  # side of the square model input, pixels
    resize_to: int  # the shortest side is resized to this before the centre crop, pixels
    resample: str  # "bilinear" or "bicubic"
    mean: tuple[float, float, float]  # per RGB channel, in 0..1 units
    std: tuple[float, float, float]  # per RGB channel, in 0..1 units

    @classmethod
    def from_dict(cls, data: dict) -> ImagePreprocess:
        """Parse the types only; `Manifest.check_values` checks the ranges and the filter name."""
        return cls(
            size=int(data["size"]),
            resize_to=int(data["resize_to"]),
            resample=str(data["resample"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}


def load_rgb(path: str | Path, min_side: int = 0) -> Image.Image:
    """Open an image file as upright RGB, decoding JPEGs at reduced size when `min_side` allows.

    Raises ImageError with the reason for anything that is not a readable image.
    """
    with image_errors(path), Image.open(path) as image:
        return decode_rgb(image, min_side)  # a new image: safe to use after the file closes


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


def preprocess(image: Image.Image, spec: ImagePreprocess) -> np.ndarray:
    """An upright RGB image -> model input (3, size, size) float32."""
    width, height = image.size
    scale = spec.resize_to / min(width, height)
    new_size = (max(spec.size, round(width * scale)), max(spec.size, round(height * scale)))
    resized = image.resize(new_size, _RESAMPLE[spec.resample])
    left = (resized.width - spec.size) // 2
    top = (resized.height - spec.size) // 2
    cropped = resized.crop((left, top, left + spec.size, top + spec.size))
    array = np.asarray(cropped, dtype=np.float32) / 255.0  # (H, W, 3)
    array = (array - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def load_and_preprocess(path: str | Path, spec: ImagePreprocess) -> np.ndarray:
    """A file -> model input (3, size, size) float32; raises ImageError for unreadable files."""
    return preprocess(load_rgb(path, min_side=spec.resize_to), spec)
