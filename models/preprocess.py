"""Image preprocessing in numpy/Pillow, reproducing each model's train-time transform.

The transform is data, carried in the bundle manifest (`ImagePreprocess`):
  1. decode with `models.photo_reader` (EXIF orientation applied, RGB, alpha composited on white);
  2. resize (`resample` filter): `resize` "shortest" scales the shortest side to `resize_to` pixels,
     keeping the aspect ratio; "squash" scales the photo to `resize_to` x `resize_to`, ignoring it;
  3. centre-crop `size` x `size`;
  4. x = (rgb / 255 - mean) / std per channel, laid out (3, size, size) float32.
For EfficientNet-Lite0 this is `(pixel - 127) / 128` (mean 127/255, std 128/255); for CLIP it is
torchvision's Resize(224, bicubic) + CenterCrop(224) + Normalize(OpenAI mean/std); for SigLIP it is
HF's squash Resize((224, 224), bicubic) + Normalize(0.5, 0.5) (resize_to == size: no crop).
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
SHORTEST, SQUASH = "shortest", "squash"
RESIZE_MODES = (SHORTEST, SQUASH)  # what `ImagePreprocess.resize` may name


@dataclass(frozen=True)
class ImagePreprocess:
    """The exact image transform of one model; stored in the manifest under `image_preprocess`."""

    size: int  # side of the square model input, pixels
    resize_to: int  # the shortest side is resized to this before the centre crop, pixels
    resample: str  # "bilinear" or "bicubic"
    mean: tuple[float, float, float]  # per RGB channel, in 0..1 units
    std: tuple[float, float, float]  # per RGB channel, in 0..1 units
    # "shortest" (aspect kept; the default, and what bundles without the field mean) or "squash"
    resize: str = SHORTEST

    @classmethod
    def from_dict(cls, data: dict) -> ImagePreprocess:
        """Parse the types only; `Manifest.check_values` checks the ranges and the filter name."""
        return cls(
            size=int(data["size"]),
            resize_to=int(data["resize_to"]),
            resample=str(data["resample"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            resize=str(data.get("resize", SHORTEST)),
        )

    def to_dict(self) -> dict:
        """The manifest's fields; `resize` only when it is not the default, so a bundle from before it
        keeps its manifest and its image_encoder_id (stored features stay valid)."""
        fields = {**asdict(self), "mean": list(self.mean), "std": list(self.std)}
        if self.resize == SHORTEST:
            del fields["resize"]
        return fields


def preprocess(image: Image.Image, spec: ImagePreprocess) -> np.ndarray:
    """An upright RGB image -> model input (3, size, size) float32."""
    resized = image.resize(_resized_size(image.size, spec), _RESAMPLE[spec.resample])
    left = (resized.width - spec.size) // 2
    top = (resized.height - spec.size) // 2
    cropped = resized.crop((left, top, left + spec.size, top + spec.size))
    array = np.asarray(cropped, dtype=np.float32) / 255.0  # (H, W, 3)
    array = (array - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def _resized_size(size: tuple[int, int], spec: ImagePreprocess) -> tuple[int, int]:
    """(width, height) the photo is resized to before the centre crop."""
    if spec.resize == SQUASH:
        return spec.resize_to, spec.resize_to
    width, height = size
    scale = spec.resize_to / min(width, height)
    return max(spec.size, round(width * scale)), max(spec.size, round(height * scale))


def load_and_preprocess(path: str | Path, spec: ImagePreprocess) -> np.ndarray:
    """A photo file -> model input (3, size, size) float32, exactly as the indexer computes it
    (`read_photo` at `resize_to`, then `preprocess`); raises ImageError for unreadable files."""
    return preprocess(read_photo_file(path, spec.resize_to).image, spec)
