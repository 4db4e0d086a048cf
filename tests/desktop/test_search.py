"""Search on the real built-in model over real photos: text, image, both, negatives and filters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from engine_fixtures import index_all, open_library, write_photos
from image_zoo import write_dng, write_photo
from PIL import Image

from desktop.cli import main
from desktop.core.demo_library import demo_image
from desktop.core.search import Query, matches

NAMES = ("chelsea", "coffee", "rocket", "astronaut", "camera", "coins", "moon", "brick", "clock", "stereo_motorcycle")


@pytest.fixture
def library(builtin_bundle, tmp_path):
    write_photos(tmp_path / "photos" / "pets", names=("chelsea",))
    write_photos(tmp_path / "photos" / "misc", names=NAMES[1:])
    engine = open_library(builtin_bundle)
    engine.catalog.add_folder(tmp_path / "photos")
    index_all(engine)
    yield engine
    engine.close()


def _names(results) -> list[str]:
    return [os.path.splitext(os.path.basename(r.path))[0] for r in results]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a tabby cat", "chelsea"), ("a cup of coffee", "coffee"), ("a clock", "clock"), ("a motorcycle", "stereo_motorcycle")],
)
def test_text_query_ranks_the_matching_photo_near_the_top(library, text, expected):
    results = library.searcher().search(Query(texts=((text, 1.0),), k=3))
    assert expected in _names(results)
    assert [r.relevance for r in results] == sorted((r.relevance for r in results), reverse=True)


def test_image_query_with_an_outside_photo_finds_its_original(library, tmp_path):
    query = tmp_path / "query.png"
    demo_image("coffee").resize((300, 200)).save(query)
    assert _names(library.searcher().search(Query(images=((str(query), 1.0),), k=1))) == ["coffee"]


def test_heic_raw_and_rotated_query_images_give_the_vector_of_their_indexed_copy(builtin_bundle, tmp_path):
    library = tmp_path / "photos"
    indexed = [
        write_photo(library / "IMG_0001.HEIC", "coffee", (480, 360), exif_orientation=6, fmt="HEIF"),
        write_dng(library / "IMG_0002.DNG", "rocket", (480, 360), orientation=8),
        write_photo(library / "IMG_0003.JPG", "chelsea", (480, 360), exif_orientation=8),
        write_photo(library / "IMG_0004.PNG", "astronaut", (480, 360), exif_orientation=3, fmt="PNG"),
    ]
    engine = open_library(builtin_bundle)
    try:
        engine.catalog.add_folder(library)
        assert index_all(engine).encoded == len(indexed)
        searcher = engine.searcher()
        for photo in indexed:  # dropped on the window from elsewhere: decoded, not looked up
            dropped = shutil.copy(photo, tmp_path / f"query{photo.suffix}")
            similarity = float(searcher.image_vector(dropped) @ searcher.image_vector(photo))
            assert similarity > 0.9999, photo.name
    finally:
        engine.close()


def test_search_by_a_heic_photo_works_from_the_command_line(installed_builtin, tmp_path):
    write_photos(tmp_path / "lib", names=("chelsea", "rocket", "moon"))
    photo = write_photo(tmp_path / "lib" / "IMG_0001.HEIC", "coffee", (480, 360), exif_orientation=6, fmt="HEIF")
    assert main(["index", str(tmp_path / "lib")]) == 0
    query = shutil.copy(photo, tmp_path / "query.heic")
    # A fresh process: nothing in it has loaded the HEIF decoder before the query image is read.
    run = subprocess.run([sys.executable, "-m", "desktop.cli", "search", "--image", str(query), "-k", "1", "--json"],
                         cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert [Path(r["path"]).name for r in json.loads(run.stdout)["results"]] == ["IMG_0001.HEIC"]


def test_similar_excludes_the_photo_itself(library, tmp_path):
    path = tmp_path / "photos" / "misc" / "rocket.jpg"
    results = library.searcher().similar(path, k=5)
    assert "rocket" not in _names(results) and len(results) == 5


def test_a_negative_text_pushes_its_matches_down(library):
    plain = library.searcher().search(Query(texts=(("a photo", 1.0),), k=10))
    negated = library.searcher().search(Query(texts=(("a photo", 1.0), ("a cat", -1.0)), k=10))
    assert _names(negated).index("chelsea") > _names(plain).index("chelsea")


def test_folder_filter_keeps_only_that_subtree(library, tmp_path):
    results = library.searcher().search(Query(texts=(("a cup of coffee", 1.0),), k=10, folder=str(tmp_path / "photos" / "pets")))
    assert _names(results) == ["chelsea"]


def test_date_filter_uses_exif_date_taken(library, tmp_path):
    from image_zoo import write_photo

    write_photo(tmp_path / "photos" / "dated.jpg", "coffee", size=(400, 300), taken_at=datetime(2019, 7, 14, 10, 0, 0))
    index_all(library)
    results = library.searcher().search(Query(texts=(("coffee", 1.0),), k=10, date_from="2019-07-01", date_to="2019-07-31"))
    assert _names(results) == ["dated"]


def test_search_json_prints_path_and_score_best_first(installed_builtin, tmp_path, capsys):
    write_photos(tmp_path / "lib", names=("chelsea", "coffee", "rocket"))
    assert main(["index", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["search", "a cup of coffee", "-k", "2", "--json", "--all"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert len(results) == 2 and results[0]["path"].endswith("coffee.jpg")
    assert results[0]["relevance"] >= results[1]["relevance"] and results[0]["score"] >= results[1]["score"]
    assert results[0]["matched"] and not results[1]["matched"]


def test_status_lists_folders_and_unreadable_files(installed_builtin, tmp_path, capsys):
    write_photos(tmp_path / "lib", names=("coffee",))
    (tmp_path / "lib" / "empty.jpg").write_bytes(b"")
    main(["index", str(tmp_path / "lib")])
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["files"] == 1 and status["folders"][0]["online"]
    assert status["errors"][0]["path"].endswith("empty.jpg") and "empty" in status["errors"][0]["reason"]


def test_duplicates_groups_a_resized_copy_with_its_original(library, tmp_path, capsys):
    from desktop.core.duplicates import duplicate_groups

    original = tmp_path / "photos" / "misc" / "rocket.jpg"
    with Image.open(original) as image:
        image.resize((320, 240)).save(tmp_path / "photos" / "rocket-small.jpg", quality=70)
    index_all(library)
    groups = duplicate_groups(library.catalog, library.runtime.manifest.image_encoder_id)
    assert [sorted(_names(g)) for g in groups] == [["rocket", "rocket-small"]]


@pytest.fixture
def sample_library(builtin_bundle, tmp_path):
    """The eight sample photos the issue's scenario was seen on."""
    write_photos(tmp_path / "sample")
    engine = open_library(builtin_bundle)
    engine.catalog.add_folder(tmp_path / "sample")
    index_all(engine)
    yield engine
    engine.close()


def test_typing_a_text_after_find_similar_balances_the_text_against_the_image(sample_library, tmp_path):
    """The image's 1.0 on itself no longer swamps the text: each part is calibrated before weighting."""
    coffee = str(tmp_path / "sample" / "coffee.jpg")
    names = _names(sample_library.searcher().search(Query(texts=(("an astronaut", 1.0),), images=((coffee, 1.0),), k=8)))
    assert "astronaut" in names[:3]  # the built-in model ranks the rocket first for "an astronaut" alone
    unrelated = ("chelsea", "camera", "coins", "moon", "brick")
    assert all(names.index("coffee") < names.index(name) for name in unrelated)


NONSENSE = ("qwxz zzkj", "xkcd blorp", "zzzz", "asdf", "lorem ipsum dolor", "the", "photo", "jjjj kkkk", "blah blah")


def test_nonsense_queries_match_almost_no_photo_of_a_small_library(sample_library):
    """Model v2 lets 0.5% of nonsense pairs through on the dev data (tests/benchmarks/relevance_threshold.py;
    v1: none); in this library, which holds two of the photos it is loosest on (coffee, brick), "the" and
    "zzzz" reach them. Each query still hides at least 6 of its 8 photos, and 9 in 10 pairs are hidden."""
    searcher = sample_library.searcher()
    shown = [matches(searcher.search(Query(texts=((text, 1.0),), k=8)))[0] for text in NONSENSE]
    assert all(len(photos) <= 2 for photos in shown), [_names(p) for p in shown]
    assert sum(map(len, shown)) <= 0.1 * 8 * len(NONSENSE), [_names(p) for p in shown]


def test_a_good_text_query_keeps_its_match_and_hides_the_rest(sample_library):
    results = sample_library.searcher().search(Query(texts=(("a tabby cat", 1.0),), k=8))
    shown, hidden = matches(results)
    assert _names(shown) == ["chelsea"] and hidden == 7
    assert [r.relevance for r in results] == sorted((r.relevance for r in results), reverse=True)


def test_a_text_match_and_an_image_match_score_alike_on_the_relevance_scale(sample_library, tmp_path):
    searcher = sample_library.searcher()
    by_text = searcher.search(Query(texts=(("a tabby cat", 1.0),), k=1))[0]
    by_image = searcher.search(Query(images=((str(tmp_path / "sample" / "chelsea.jpg"), 1.0),), k=1))[0]
    assert by_text.path == by_image.path
    assert by_image.score > 0.99 and by_text.score < 0.6  # raw cosines: far apart
    # calibrated: both strong matches (an image on itself reads 0.88 with model v2, whose unrelated photo
    # pairs spread wider than v1's, 0.96 with v1), within 0.15 of each other where the raw ones differ by 0.4+
    assert 0.85 < by_text.relevance <= 1 and 0.85 < by_image.relevance <= 1
    assert abs(by_text.relevance - by_image.relevance) < 0.15


def test_search_hides_weak_matches_and_says_how_many_and_all_shows_them(installed_builtin, tmp_path, capsys):
    write_photos(tmp_path / "lib", names=("chelsea", "coffee", "rocket"))
    assert main(["index", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["search", "a tabby cat"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 and out.strip().endswith("chelsea.jpg")
    assert "2 weak matches hidden" in err and "--all" in err
    assert main(["search", "qwxz zzkj"]) == 0
    out, err = capsys.readouterr()
    assert "no photo matches" in out and "3 weak matches hidden" in err
    assert main(["search", "qwxz zzkj", "--all", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert len(results) == 3 and not any(r["matched"] for r in results)
    assert main(["similar", str(tmp_path / "lib" / "coffee.jpg"), "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
