"""Photos with known text for the OCR tests and benchmark: real scikit-image photos with words rendered on them.

Every maker returns the picture and the words it carries, so recall can be counted. Fonts are the
DejaVu faces matplotlib ships (always there) and a CJK font when the machine has one.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
from image_zoo import scene
from PIL import Image, ImageDraw, ImageFont

MATPLOTLIB_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
LATIN_FONTS = ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf")
# Debian's fonts-droid-fallback and fonts-noto-cjk; the first one present is used
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
# Photos that hold no legible text (coffee's cup pattern and clock's numerals do; fur, coins and retina vessels can still pass the gate)
NO_TEXT_PHOTOS = ("astronaut", "chelsea", "rocket", "camera", "coins", "moon", "hubble_deep_field", "grass", "gravel", "brick",
                  "retina", "immunohistochemistry")


@functools.cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = Path(name) if Path(name).is_absolute() else MATPLOTLIB_FONTS / name
    return ImageFont.truetype(str(path), size)


def cjk_font_file() -> str | None:
    return next((path for path in CJK_FONT_FILES if Path(path).is_file()), None)


def sign_photo(base: str, words: str, font_name: str = "DejaVuSans.ttf", size: int = 40,
               photo_size: tuple[int, int] = (640, 480), angle: int = 0, at: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """`words` on a light sign (dark letters), turned by `angle` degrees counter-clockwise, centred at `at` of the photo."""
    text_font = font(font_name, size)
    left, top, right, bottom = text_font.getbbox(words)
    pad = size // 3
    sign = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), (245, 240, 225))
    ImageDraw.Draw(sign).text((pad - left, pad - top), words, font=text_font, fill=(20, 20, 30))
    sign = sign.rotate(angle, expand=True, fillcolor=(245, 240, 225)) if angle else sign
    photo = scene(base, photo_size).copy()
    photo.paste(sign, (round(at[0] * photo.width - sign.width / 2), round(at[1] * photo.height - sign.height / 2)))
    return photo


def sign_box(words: str, font_name: str, size: int, photo_size: tuple[int, int], at: tuple[float, float]) -> tuple[float, float, float, float]:
    """Where `sign_photo` (unturned) puts the letters: (left, top, right, bottom) as fractions of the photo."""
    left, top, right, bottom = font(font_name, size).getbbox(words)
    cx, cy = at[0] * photo_size[0], at[1] * photo_size[1]
    half_w, half_h = (right - left) / 2, (bottom - top) / 2
    return ((cx - half_w) / photo_size[0], (cy - half_h) / photo_size[1], (cx + half_w) / photo_size[0], (cy + half_h) / photo_size[1])


def receipt(lines: tuple[str, ...], base: str = "coffee", font_name: str = "DejaVuSansMono.ttf", size: int = 22) -> Image.Image:
    """A till receipt lying on a photo: monospaced lines on white paper, slightly turned as it would be snapped."""
    text_font = font(font_name, size)
    width = max(text_font.getbbox(line)[2] for line in lines) + 2 * size
    paper = Image.new("RGB", (width, round(len(lines) * size * 1.5) + 2 * size), (252, 252, 248))
    draw = ImageDraw.Draw(paper)
    for row, line in enumerate(lines):
        draw.text((size, size + round(row * size * 1.5)), line, font=text_font, fill=(30, 30, 30))
    paper = paper.rotate(4, expand=True, fillcolor=(90, 60, 40))
    photo = scene(base, (max(640, paper.width + 80), max(480, paper.height + 80))).copy()
    photo.paste(paper, ((photo.width - paper.width) // 2, (photo.height - paper.height) // 2))
    return photo


def screenshot(title: str, menu: str, body: tuple[str, ...], size: tuple[int, int] = (800, 500)) -> Image.Image:
    """A desktop window as a screenshot: a title bar, a menu line and body text on flat colours, small UI type."""
    shot = Image.new("RGB", size, (236, 236, 236))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, size[0], 34), fill=(52, 73, 94))
    draw.text((12, 8), title, font=font("DejaVuSans-Bold.ttf", 16), fill=(255, 255, 255))
    draw.text((12, 44), menu, font=font("DejaVuSans.ttf", 15), fill=(20, 20, 20))
    draw.rectangle((12, 74, size[0] - 12, size[1] - 12), fill=(255, 255, 255))
    for row, line in enumerate(body):
        draw.text((28, 92 + row * 30), line, font=font("DejaVuSans.ttf", 17), fill=(35, 35, 35))
    return shot


def words_of(text: str) -> set[str]:
    """The words recall is counted on: upper-cased, punctuation at the ends stripped."""
    return {word.strip(".,:;!?()").upper() for word in text.split() if word.strip(".,:;!?()")}
