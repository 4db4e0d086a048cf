"""Refining a query from its results: "more like this" lifts similar photos, "not this" drops a photo and its near copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import index_all
from PIL import Image, ImageEnhance

from desktop.core.demo_library import demo_image
from desktop.core.search import Query


def _shot(name: str, i: int, folder: Path) -> Path:
    """Another shot of the sample: its own crop, brightness and size."""
    image = demo_image(name)
    w, h = int(image.width * (0.7 + 0.1 * i)), int(image.height * (0.7 + 0.1 * i))
    path = folder / f"{name}-{i}.jpg"
    ImageEnhance.Brightness(image.crop((0, 0, w, h)).resize((200, 150))).enhance(0.9 + 0.1 * i).save(path, quality=90)
    return path


@pytest.fixture
def photos(library, tmp_path):
    """Three shots each of a cat, a coffee cup and a rocket, plus a smaller re-save of coffee-0, indexed."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        for i in range(3):
            _shot(name, i, folder)
    Image.open(folder / "coffee-0.jpg").resize((120, 90)).save(folder / "coffee-0-small.jpg", quality=70)
    library.catalog.add_folder(folder)
    index_all(library)
    return folder


def _ranked(library, query: Query) -> list[str]:
    return [Path(r.path).stem for r in library.searcher().search(query)]


def _id(library, folder: Path, stem: str) -> int:
    return library.catalog.file_by_path(str((folder / f"{stem}.jpg").resolve())).image_id


TEXT = Query(texts=(("a photo of something", 1.0),), k=20)  # the toy model ranks coffee, cats, rockets


def test_not_this_drops_the_photo_and_its_near_copy_to_the_bottom(library, photos):
    before = _ranked(library, TEXT)
    assert {"coffee-0", "coffee-0-small"} <= set(before[:4])

    after = _ranked(library, Query(texts=TEXT.texts, k=20, feedback=((_id(library, photos, "coffee-0"), -1.0),)))
    assert sorted(after) == sorted(before)
    assert set(after[-2:]) == {"coffee-0", "coffee-0-small"}


def test_more_like_this_lifts_the_photos_like_the_one_marked(library, photos):
    assert set(_ranked(library, TEXT)[-3:]) == {"rocket-0", "rocket-1", "rocket-2"}
    after = _ranked(library, Query(texts=TEXT.texts, k=20, feedback=((_id(library, photos, "rocket-0"), 1.0),)))
    assert set(after[:3]) == {"rocket-0", "rocket-1", "rocket-2"}


def test_feedback_alone_is_a_query_of_the_photos_marked(library, photos):
    results = _ranked(library, Query(feedback=((_id(library, photos, "rocket-0"), 1.0), (_id(library, photos, "coffee-0"), -1.0))))
    assert results[0] == "rocket-0" and results[-1] in ("coffee-0", "coffee-0-small")
