"""Shared pieces for engine tests: a real toy bundle, a small real photo library, an opened Library."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance

from desktop.core.catalog import Catalog
from desktop.core.demo_library import demo_image
from desktop.core.library import Library
from models.runtime import ModelRuntime

PHOTO_NAMES = ("chelsea", "coffee", "rocket", "astronaut", "camera", "coins", "moon", "brick")


def write_photos(folder: Path, names=PHOTO_NAMES, size=(640, 480)) -> list[Path]:
    """Real sample photos as JPEGs, resized so each is a plausible small photo."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.jpg"
        demo_image(name).resize(size, Image.Resampling.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def scene_shot(name: str, i: int) -> Image.Image:
    """Shot `i` of a sample's scene (160x120): a crop at its own place and zoom, brighter or darker."""
    image = demo_image(name)
    zoom = 0.6 + 0.08 * (i % 4)
    w, h = int(image.width * zoom), int(image.height * zoom)
    left, top = (image.width - w) * (i % 3) // 2, (image.height - h) * ((i + 1) % 3) // 2
    picture = image.crop((left, top, left + w, top + h)).resize((160, 120))
    return ImageEnhance.Brightness(picture).enhance(0.85 + 0.1 * (i % 3))


def write_labelled_shots(base: Path, labels: dict[str, str], labelled=range(4), unsorted=(4, 5)) -> tuple[Path, Path]:
    """base/sorted/<label>/ with the `labelled` shots of its sample (labels: folder -> sample name), and
    base/inbox/ with the `unsorted` shots of each; returns (sorted root, inbox)."""
    root, inbox = base / "sorted", base / "inbox"
    inbox.mkdir(parents=True)
    for label, name in labels.items():
        (root / label).mkdir(parents=True)
        for i in labelled:
            scene_shot(name, i).save(root / label / f"{name}-{i}.jpg", quality=90)
        for i in unsorted:
            scene_shot(name, i).save(inbox / f"{name}-{i}.jpg", quality=90)
    return root, inbox


def open_library(bundle: Path) -> Library:
    return Library(Catalog(), ModelRuntime(bundle, device="cpu"))


def index_all(library: Library, **options):
    """Run the indexer to the end; returns the final progress."""
    progress = None
    for progress in library.indexer(**options).run():
        pass
    return progress


def damage_catalog(path, at_fraction: float = 0.5, length: int = 8192, table: str | None = None) -> None:
    """Write random bytes over whole pages in the middle of a (checkpointed) catalog file, or from
    the first page of `table` on (its rows, whatever else the schema holds)."""
    import os
    import sqlite3

    size = os.path.getsize(path)
    with sqlite3.connect(path) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        offset = int(size * at_fraction) // page * page
        if table is not None:
            offset = (db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0] - 1) * page
    db.close()
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(os.urandom(length))
