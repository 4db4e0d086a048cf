"""Image preprocessing in numpy/Pillow, reproducing each model's train-time transform.

The transform is data, carried in the bundle manifest (`ImagePreprocess`):
  1. decode with `models.photo_reader` (EXIF orientation applied, RGB, alpha composited on white);
  2. resize so the shortest side is `resize_to` pixels (`resample` filter);
  3. centre-crop `size` x `size`;
  4. x = (rgb / 255 - mean) / std per channel, laid out (3, size, size) float32.
For EfficientNet-Lite0 this is `(pixel - 127) / 128` (mean 127/255, std 128/255); for CLIP it is
torchvision's Resize(224, bicubic) + CenterCrop(224) + Normalize(OpenAI mean/std).
The reader decodes JPEGs at the smallest DCT scale that still covers `resize_to`, which makes a
12-megapixel photo about 4x cheaper to decode (HEIF: an embedded thumbnail).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from models.photo_reader import read_photo_file

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
    """A photo file -> model input (3, size, size) float32, exactly as the indexer computes it
    (`read_photo` at `resize_to`, then `preprocess`); raises ImageError for unreadable files."""
    return preprocess(read_photo_file(path, spec.resize_to).image, spec)
