"""A small real photo library from scikit-image's bundled samples, for first runs and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from models.atomic import write_bytes_atomic


@dataclass(frozen=True)
class DemoPhoto:
    """One sample photo and a query a person might type to find it."""

    name: str  # scikit-image loader name, also the file stem
    query: str


# Queries written by hand from what each photo shows (the loaders' docstrings describe them).
DEMO_PHOTOS = (
    DemoPhoto("astronaut", "an astronaut in a space suit"),
    DemoPhoto("camera", "a man with a camera on a tripod"),
    DemoPhoto("chelsea", "a tabby cat"),
    DemoPhoto("coffee", "a cup of coffee"),
    DemoPhoto("rocket", "a rocket on the launch pad"),
    DemoPhoto("horse", "the silhouette of a horse"),
    DemoPhoto("coins", "old coins"),
    DemoPhoto("moon", "the surface of the moon"),
    DemoPhoto("hubble_deep_field", "galaxies in deep space"),
    DemoPhoto("brick", "a brick wall"),
    DemoPhoto("grass", "a lawn of grass"),
    DemoPhoto("gravel", "gravel stones"),
    DemoPhoto("clock", "a clock"),
    DemoPhoto("page", "a page of a printed book"),
    DemoPhoto("text", "text written on a sign"),
    DemoPhoto("immunohistochemistry", "stained tissue under a microscope"),
    DemoPhoto("colorwheel", "a colour wheel"),
    DemoPhoto("retina", "the retina of a human eye"),
    DemoPhoto("cell", "a cell under a microscope"),
    DemoPhoto("checkerboard", "a checkerboard pattern"),
    DemoPhoto("stereo_motorcycle", "a motorcycle"),
)


def demo_image(name: str) -> Image.Image:
    """The sample as an RGB Pillow image (greyscale and boolean samples are expanded)."""
    from skimage import data

    array = getattr(data, name)()
    if isinstance(array, tuple):  # stereo pairs: keep the left view
        array = array[0]
    if array.dtype == bool:
        array = np.where(array, 255, 0).astype(np.uint8)
    if array.dtype != np.uint8:
        array = (255 * (array - array.min()) / max(float(np.ptp(array)), 1e-9)).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def write_demo_library(folder: Path) -> list[Path]:
    """Write every demo photo as a JPEG into `folder` (existing files are kept); returns their paths."""
    import io

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for photo in DEMO_PHOTOS:
        path = folder / f"{photo.name}.jpg"
        if not path.exists():
            buffer = io.BytesIO()
            demo_image(photo.name).save(buffer, "JPEG", quality=92)
            write_bytes_atomic(path, buffer.getvalue())
        written.append(path)
    return written
