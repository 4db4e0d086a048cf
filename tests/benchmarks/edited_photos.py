"""Real photos and the edits people make to them: the data of tests/benchmarks/edited_copies.py.

Library (all resized to a 480 px long side), from real photographs only: scikit-image's and
scikit-learn's sample photos and, when Debian's tuxpaint data is installed, its 19 photo templates
and its photographed stamps (cut-outs, told from drawings by their colour count):
  - each source photograph whole;
  - up to `per_source` crops of 40-60% of its sides whose pairwise overlap (IoU) stays under 0.2:
    "other photos of the same scene" (many are textures: grass, gravel, bark, where two crops look
    alike to a person too);
  - each photographed stamp pasted, at 60% of the height, onto a random crop of a source photo.
Edits (one per copy): crop to 70-90% of each side, rotate by up to 10 degrees (straightened
crop, as phone editors do), mirror, brightness and contrast 0.7-1.3, JPEG re-save at quality
60, downscale to a quarter of each side, a small text and logo overlay in a corner.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon", "hubble_deep_field", "brick",
                  "grass", "gravel", "clock", "immunohistochemistry", "retina", "stereo_motorcycle")
TUXPAINT_TEMPLATES = Path("/usr/share/tuxpaint/templates")  # 19 real photographs (Debian tuxpaint-data)
TUXPAINT_STAMPS = Path("/usr/share/tuxpaint/stamps")
MIN_STAMP_COLOURS = 800  # distinct 15-bit colours in a stamp's opaque pixels: photographs have more than drawings
LONG_SIDE = 480  # px, library photos
MAX_IOU = 0.2  # between two library photos of one source
EDITS = ("crop", "rotate", "mirror", "brightness_contrast", "jpeg_q60", "downscale_quarter", "overlay")


@dataclass(frozen=True)
class LibraryPhoto:
    name: str  # "<source>-<n>"
    source: str  # the photograph it was cut from: same source = same scene
    image: Image.Image


def source_photos() -> dict[str, Image.Image]:
    """Every real photograph available offline, by name, RGB."""
    from sklearn.datasets import load_sample_images

    from desktop.core.demo_library import demo_image

    photos = {name: demo_image(name) for name in SKIMAGE_PHOTOS}
    sample = load_sample_images()
    for file_name, array in zip(sample.filenames, sample.images):
        photos[Path(file_name).stem] = Image.fromarray(array).convert("RGB")
    for path in sorted(TUXPAINT_TEMPLATES.glob("*.jpg")):
        with Image.open(path) as image:
            photos[path.stem] = image.convert("RGB")
    return photos


def library_photos(per_source: int = 10, seed: int = 0) -> list[LibraryPhoto]:
    rng = np.random.default_rng(seed)
    sources = source_photos()
    out = []
    for source, image in sources.items():
        out.append(LibraryPhoto(f"{source}-whole", source, _fit(image, LONG_SIDE)))
        for n, box in enumerate(_distinct_boxes(image.size, per_source, rng)):
            out.append(LibraryPhoto(f"{source}-{n}", source, _fit(image.crop(box), LONG_SIDE)))
    backgrounds = list(sources.values())
    for name, stamp in photographed_stamps():
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        out.append(LibraryPhoto(f"stamp-{name}", f"stamp-{name}", _pasted(stamp, background, rng)))
    return out


def photographed_stamps() -> list[tuple[str, Image.Image]]:
    """(name, RGBA cut-out) of Tux Paint's stamps that are photographs, by name; none without tuxpaint."""
    found = []
    for path in sorted(TUXPAINT_STAMPS.glob("**/*.png")):
        if path.stem.endswith("_mirror"):
            continue
        with Image.open(path) as image:
            rgba = np.asarray(image.convert("RGBA"))
        opaque = rgba[..., 3] > 200
        colours = (rgba[opaque][:, :3] // 8).astype(np.int32) @ np.array([1024, 32, 1])
        if opaque.sum() >= 3000 and len(np.unique(colours)) > MIN_STAMP_COLOURS:
            found.append((path.stem, Image.fromarray(rgba, "RGBA")))
    return found


def _pasted(stamp: Image.Image, background: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = background.size
    cw, ch = int(w * rng.uniform(0.4, 0.7)), int(h * rng.uniform(0.4, 0.7))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    canvas = _fit(background.crop((x, y, x + cw, y + ch)), LONG_SIDE).convert("RGB")
    scale = 0.6 * canvas.height / stamp.height
    stamp = stamp.resize((max(1, round(stamp.width * scale)), max(1, round(stamp.height * scale))), Image.Resampling.LANCZOS)
    stamp = stamp.crop((0, 0, min(stamp.width, canvas.width), stamp.height))
    px = int(rng.integers(0, canvas.width - stamp.width + 1))
    py = int(rng.integers(0, canvas.height - stamp.height + 1))
    canvas.paste(stamp, (px, py), stamp)
    return canvas


def _distinct_boxes(size: tuple[int, int], count: int, rng: np.random.Generator, tries: int = 400) -> list[tuple]:
    width, height = size
    boxes: list[tuple] = []
    for _ in range(tries):
        if len(boxes) == count:
            break
        w, h = int(width * rng.uniform(0.4, 0.6)), int(height * rng.uniform(0.4, 0.6))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        box = (x, y, x + w, y + h)
        if all(_iou(box, other) < MAX_IOU for other in boxes):
            boxes.append(box)
    return boxes


def _iou(a: tuple, b: tuple) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    scale = long_side / max(image.size)
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)


def edited(image: Image.Image, edit: str, rng: np.random.Generator) -> Image.Image:
    """`image` after one of EDITS, with random strength."""
    width, height = image.size
    if edit == "crop":
        s = rng.uniform(0.7, 0.9)
        w, h = round(width * s), round(height * s)
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        return image.crop((x, y, x + w, y + h))
    if edit == "rotate":
        angle = float(rng.uniform(3, 10) * rng.choice([-1, 1]))
        return _straightened(image, angle)
    if edit == "mirror":
        return ImageOps.mirror(image)
    if edit == "brightness_contrast":
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
        return ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3))
    if edit == "jpeg_q60":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=60)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if edit == "downscale_quarter":
        return image.resize((max(1, width // 4), max(1, height // 4)), Image.Resampling.BILINEAR)
    if edit == "overlay":
        return _overlaid(image, rng)
    raise ValueError(edit)


def _straightened(image: Image.Image, angle: float) -> Image.Image:
    """Rotate by `angle` degrees and crop the largest centred rectangle with no empty corner."""
    width, height = image.size
    rotated = image.rotate(angle, Image.Resampling.BICUBIC)
    a = math.radians(abs(angle))
    # the centred w x h rectangle of the same aspect that fits inside the rotated frame
    scale = min(width / (width * math.cos(a) + height * math.sin(a)), height / (width * math.sin(a) + height * math.cos(a)))
    w, h = width * scale, height * scale
    box = ((width - w) / 2, (height - h) / 2, (width + w) / 2, (height + h) / 2)
    return rotated.crop(tuple(round(v) for v in box))


def _overlaid(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A caption ("© 2024 J. Smith") and a small filled logo in a random corner, about 1/12 of the height."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    size = max(10, image.height // 12)
    font = ImageFont.load_default(size=size)
    text = "\u00a9 2024 J. Smith"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = size // 2
    corner = int(rng.integers(0, 4))
    x = margin if corner in (0, 2) else image.width - (right - left) - 2 * size - margin
    y = margin if corner in (0, 1) else image.height - size - margin
    draw.ellipse((x, y, x + size, y + size), fill=(230, 40, 40), outline=(255, 255, 255))  # the logo
    draw.text((x + size + size // 2, y - top // 2), text, fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))
    return image
