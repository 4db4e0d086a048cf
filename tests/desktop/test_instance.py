"""Instance descriptors: stored in the indexing pass, used by image queries and duplicates; old bundles still work."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest
from engine_fixtures import index_all, open_library, write_photos
from PIL import Image, ImageEnhance, ImageOps
from toy_bundle import export_toy_bundle

from desktop.core import catalog_schema as catalog_module
from desktop.core.catalog import INSTANCE_FEATURES, Catalog
from desktop.core.duplicates import duplicate_groups, space_of
from desktop.core.search import Query

NAMES = ("chelsea", "coffee", "rocket", "astronaut", "camera", "coins", "moon", "brick", "clock", "stereo_motorcycle")


def _names(results) -> list[str]:
    return [os.path.splitext(os.path.basename(r.path))[0] for r in results]


def _edited_copy(source, target):
    """Cropped to 80%, turned 6 degrees, mirrored, brighter, re-saved at JPEG quality 60."""
    with Image.open(source) as image:
        w, h = image.size
        image = image.crop((w // 10, h // 10, w - w // 10, h - h // 10)).rotate(6, Image.Resampling.BICUBIC)
        image = ImageEnhance.Brightness(ImageOps.mirror(image)).enhance(1.2)
        image.crop((20, 20, image.width - 20, image.height - 20)).save(target, quality=60)
    return target


@pytest.fixture
def library(builtin_bundle, tmp_path):
    write_photos(tmp_path / "photos", names=NAMES)
    engine = open_library(builtin_bundle)
    engine.catalog.add_folder(tmp_path / "photos")
    index_all(engine)
    yield engine
    engine.close()


@pytest.fixture(params=[True, False], ids=["toy-with-instance", "toy-without-instance"])
def toy_library(request, tmp_path):
    write_photos(tmp_path / "photos", names=NAMES[:4])
    engine = open_library(export_toy_bundle(tmp_path / "toy", instance=request.param))
    engine.catalog.add_folder(tmp_path / "photos")
    yield engine
    engine.close()


def test_indexing_stores_an_instance_descriptor_beside_each_features_row_when_the_model_has_one(toy_library):
    index_all(toy_library)
    encoder_id = toy_library.runtime.manifest.image_encoder_id
    expected = 4 if toy_library.runtime.has_instance else 0
    assert toy_library.catalog.count_features(encoder_id) == 4
    assert toy_library.catalog.count_features(encoder_id, INSTANCE_FEATURES) == expected


def test_a_bundle_with_or_without_instance_output_indexes_searches_and_finds_duplicates(toy_library, tmp_path):
    index_all(toy_library)
    photo = tmp_path / "photos" / "coffee.jpg"
    searcher = toy_library.searcher()
    assert _names(searcher.search(Query(images=((str(photo), 1.0),), k=1))) == ["coffee"]
    assert len(searcher.similar(photo, k=3)) == 3 and "coffee" not in _names(searcher.similar(photo, k=3))
    assert len(searcher.search(Query(texts=(("a cat", 1.0),), k=2))) == 2
    encoder_id = toy_library.runtime.manifest.image_encoder_id
    assert space_of(toy_library.catalog, encoder_id) == (INSTANCE_FEATURES if toy_library.runtime.has_instance else "features")
    assert all(len(group) > 1 for group in duplicate_groups(toy_library.catalog, encoder_id))


def test_an_edited_copy_scores_higher_with_its_original_than_any_other_photo_through_onnx(library, tmp_path):
    searcher = library.searcher()
    copy = _edited_copy(tmp_path / "photos" / "rocket.jpg", tmp_path / "edited.jpg")
    query = searcher.image_instance(copy)
    scores = {name: float(query @ searcher.image_instance(tmp_path / "photos" / f"{name}.jpg")) for name in NAMES}
    assert max(scores, key=scores.get) == "rocket"
    assert scores["rocket"] - max(v for n, v in scores.items() if n != "rocket") > 0.1, scores


def test_a_dropped_edited_copy_finds_its_original_first(library, tmp_path):
    copy = _edited_copy(tmp_path / "photos" / "coffee.jpg", tmp_path / "edited.jpg")
    assert _names(library.searcher().search(Query(images=((str(copy), 1.0),), k=3)))[0] == "coffee"


def test_duplicates_group_an_edited_copy_with_its_original_and_nothing_else(library, tmp_path):
    _edited_copy(tmp_path / "photos" / "chelsea.jpg", tmp_path / "photos" / "chelsea-edited.jpg")
    index_all(library)
    groups = duplicate_groups(library.catalog, library.runtime.manifest.image_encoder_id)
    assert [sorted(_names(g)) for g in groups] == [["chelsea", "chelsea-edited"]]


def test_text_queries_are_not_reranked(library, monkeypatch):
    searcher = library.searcher()
    monkeypatch.setattr(searcher, "_instance_rerank", lambda *args: pytest.fail("a text query was re-ranked"))
    assert searcher.search(Query(texts=(("a cup of coffee", 1.0),), k=3))


def test_a_version_2_catalog_migrates_to_3_keeping_its_rows(tmp_path):
    path = tmp_path / "v2.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(catalog_module.MIGRATIONS[0] + ";\n" + catalog_module.MIGRATIONS[1] + ";\nPRAGMA user_version=2;")
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/photos', 0)")
        db.execute("INSERT INTO images(id, content_hash) VALUES (7, 'abc')")
        db.execute("INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES ('/photos/a.jpg', 1, 10, 5, 7)")
        db.execute("INSERT INTO features(encoder_id, image_id, vector) VALUES ('enc', 7, ?)", (np.ones(4, np.float16).tobytes(),))
        catalog_id = db.execute("SELECT value FROM meta").fetchone()[0]
    db.close()
    with Catalog(path) as migrated:
        assert migrated._version() == catalog_module.SCHEMA_VERSION
        assert migrated.catalog_id == catalog_id and migrated.file_by_path("/photos/a.jpg").image_id == 7
        np.testing.assert_array_equal(migrated.image_features("enc", 7), np.ones(4))
        assert migrated.image_features("enc", 7, INSTANCE_FEATURES) is None
        assert space_of(migrated, "enc") == "features"  # a library indexed before: duplicates use its features
