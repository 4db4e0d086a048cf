"""Real faces for the face tests, from packages picsift installs: two people, in photos made of their portraits.

Eileen Collins is scikit-image's `astronaut` (NASA, public domain); Grace Hopper is matplotlib's sample
`grace_hopper.jpg` (US Navy, public domain). Each person's "photos" are her one portrait edited the
ways a library's copies differ (mirrored, darker, smaller, cropped, pasted into another scene), so
the tests check real detection and embedding, not recognition across years.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from desktop.core.demo_library import demo_image


def eileen_collins() -> Image.Image:
    """scikit-image's astronaut (512x512), her face in the upper middle."""
    return demo_image("astronaut").convert("RGB")


def grace_hopper() -> Image.Image:
    """matplotlib's Grace Hopper portrait (512x600)."""
    import matplotlib

    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")


PEOPLE = {"eileen": eileen_collins, "grace": grace_hopper}
EDITS = ("as_is", "mirrored", "darker", "smaller", "in_a_scene")


def portrait(person: str, edit: str = "as_is") -> Image.Image:
    """One of a person's photos: her portrait with one edit of EDITS."""
    image = PEOPLE[person]()
    if edit == "mirrored":
        return ImageOps.mirror(image)
    if edit == "darker":
        return ImageEnhance.Brightness(image).enhance(0.6)
    if edit == "smaller":
        return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    if edit == "in_a_scene":
        return together((person,), "brick")
    return image


def together(people: tuple[str, ...], scene: str = "coffee") -> Image.Image:
    """The people's portraits, at half size, side by side in front of a sample scene (1200x800)."""
    canvas = demo_image(scene).convert("RGB").resize((1200, 800), Image.Resampling.BILINEAR)
    for slot, person in enumerate(people):
        face = PEOPLE[person]()
        face = face.resize((face.width // 2, face.height // 2), Image.Resampling.LANCZOS)
        canvas.paste(face, (80 + slot * 560, 250))
    return canvas


def write(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90)
    return path
