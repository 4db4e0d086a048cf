"""Text printed in photos and where they were taken, through the engine: indexing, the text pass, search."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest
from engine_fixtures import index_all, write_photos
from PIL import ExifTags, Image
from text_photos import receipt, sign_photo

from desktop.core import catalog_schema
from desktop.core.catalog import Catalog
from desktop.core.ocr import TextReader
from desktop.core.query_filters import parse_query, place_filter
from desktop.core.search import Query
from desktop.core.text_pass import TextPass

GPS = ExifTags.GPS
PORTO = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (41.0, 8.0, 26.4), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (8.0, 36.0, 48.0)}
OSLO = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (59.0, 54.0, 49.0), GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (10.0, 45.0, 7.0)}
MID_ATLANTIC = {GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (35.0, 0.0, 0.0), GPS.GPSLongitudeRef: "W", GPS.GPSLongitude: (40.0, 0.0, 0.0)}


@pytest.fixture(scope="module")
def reader():
    return TextReader()


def save(image: Image.Image, path, gps: dict | None = None, taken: str | None = None):
    exif = Image.Exif()
    if gps:
        exif[ExifTags.IFD.GPSInfo] = gps
    if taken:
        exif[ExifTags.Base.DateTime] = taken
    image.save(path, quality=92, exif=exif.tobytes())
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    write_photos(folder, ("chelsea", "rocket", "astronaut"))
    save(sign_photo("coffee", "HARVEST MARKET"), folder / "poster.jpg", PORTO, "2019:07:14 10:00:00")
    save(receipt(("CORNER SHOP", "MILK 1.20", "BREAD 2.10", "TOTAL 8.40")), folder / "receipt.jpg", OSLO, "2021:12:03 18:30:00")
    save(sign_photo("brick", "EXIT"), folder / "exit.jpg", MID_ATLANTIC)
    return folder


def read_text(library, reader, cancel=None):
    progress = None
    for progress in TextPass(library.catalog, reader).run(cancel):
        pass
    return progress


def paths(results):
    return [r.path.rsplit("/", 1)[-1] for r in results]


def test_indexing_stores_where_each_photo_was_taken_and_at_sea_no_place(library, photos):
    library.catalog.add_folder(photos)
    index_all(library)
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in library.catalog.recent_files()}
    assert by_name["poster.jpg"].place == "Porto, Portugal"
    assert by_name["receipt.jpg"].place == "Oslo, Norway"
    assert by_name["exit.jpg"].place is None and by_name["chelsea.jpg"].place is None
    counts = [(c.label, c.count) for c in library.catalog.place_counts()]
    assert counts == [("Norway", 1), ("Oslo, Norway", 1), ("Portugal", 1), ("Porto, Portugal", 1)]


def test_a_place_or_a_date_alone_finds_the_photos_taken_there_newest_first(library, photos):
    library.catalog.add_folder(photos)
    index_all(library)
    searcher = library.searcher()
    parsed = parse_query("photos from Norway", date(2026, 12, 1))
    assert parsed.semantic_text == ""
    assert paths(searcher.search(Query(places=parsed.place_filters))) == ["receipt.jpg"]
    assert paths(searcher.search(Query(places=(place_filter("PT", "Porto"),)))) == ["poster.jpg"]
    assert paths(searcher.search(Query(dates=parse_query("July 2019", date(2026, 12, 1)).date_filter))) == ["poster.jpg"]
    assert searcher.search(Query(places=(place_filter("ZA"),))) == []


def test_the_text_pass_reads_printed_text_and_search_ranks_those_photos_first(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    searcher = library.searcher()
    before = paths(searcher.search(Query(texts=(("a tabby cat", 1.0),), k=6)))
    assert library.catalog.count_text_unread() == 6
    progress = read_text(library, reader)
    assert (progress.phase, progress.done, progress.with_text, progress.failed) == ("done", 6, 3, 0)
    assert library.catalog.count_text_unread() == 0
    assert paths(searcher.search(Query(texts=(("harvest market", 1.0),), k=3)))[0] == "poster.jpg"
    assert paths(searcher.search(Query(texts=(("total 8.40", 1.0),), k=3)))[0] == "receipt.jpg"
    assert paths(searcher.search(Query(texts=(('"exit"', 1.0),), k=6))) == ["exit.jpg"]  # quoted: exact words only
    assert paths(searcher.search(Query(texts=(("a tabby cat", 1.0),), k=6))) == before  # a visual query is unaffected
    assert paths(searcher.search(Query(has_text=True, k=6))) == ["exit.jpg", "receipt.jpg", "poster.jpg"]  # newest first (exit.jpg: its file date)
    record = library.catalog.file_by_path(str((photos / "receipt.jpg").resolve()))
    assert record.has_text and "TOTAL 8.40" in [line.text for line in library.catalog.text_of(record.image_id)]


def test_a_cancelled_text_pass_keeps_what_it_read_and_the_next_run_reads_the_rest(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    cancel = threading.Event()
    for progress in TextPass(library.catalog, reader).run(cancel):
        if progress.done >= 1:
            cancel.set()
    assert progress.phase == "cancelled" and library.catalog.count_text_unread() == 6 - progress.done
    assert read_text(library, reader).done == 6 - progress.done
    assert library.catalog.count_text_unread() == 0


def test_a_photo_that_cannot_be_read_is_counted_and_not_read_again(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    (photos / "exit.jpg").write_bytes(b"not a jpeg any more")
    progress = read_text(library, reader)
    assert progress.failed == 1 and progress.done == 6
    assert read_text(library, reader).total == 0


def test_a_photo_indexed_before_places_gets_its_place_from_the_text_pass(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    library.catalog._db.execute("UPDATE images SET latitude = NULL, longitude = NULL, country_code = NULL, country = NULL, city = NULL")
    assert library.catalog.place_counts() == []
    read_text(library, reader)
    assert [c.label for c in library.catalog.place_counts()][:2] == ["Norway", "Oslo, Norway"]


def test_a_version_3_catalog_migrates_to_4_with_its_photos_unread(tmp_path):
    path = tmp_path / "v3.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(";\n".join(catalog_schema.MIGRATIONS[:3]) + ";\nPRAGMA user_version=3;")
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/photos', 0)")
        db.execute("INSERT INTO images(id, content_hash, taken_at) VALUES (7, 'abc', '2019-07-14T10:00:00')")
        db.execute("INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES ('/photos/a.jpg', 1, 10, 5, 7)")
    db.close()
    with Catalog(path) as migrated:
        record = migrated.file_by_path("/photos/a.jpg")
        assert (record.image_id, record.place, record.has_text) == (7, None, False)
        assert migrated.images_without_text() == [(7, "/photos/a.jpg")]
        assert migrated.text_of(7) == [] and not migrated.text_read(7)


def test_the_command_line_reads_text_while_indexing_and_turns_a_place_in_the_query_into_a_filter(installed_builtin, photos, capsys):
    import json

    from desktop.cli import main

    assert main(["index", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "text done: 6 photos read, text found in 3" in out
    assert main(["search", "photos from Norway", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["filters"] == [{"kind": "place", "label": "Norway", "value": "country:NO"}]
    assert [Path(r["path"]).name for r in answer["results"]] == ["receipt.jpg"]
    assert answer["results"][0]["place"] == "Oslo, Norway" and answer["results"][0]["has_text"]
    assert main(["search", "harvest market", "-k", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("poster.jpg")
    assert main(["search", "--place", "Porto", "--json"]) == 0
    assert [Path(r["path"]).name for r in json.loads(capsys.readouterr().out)["results"]] == ["poster.jpg"]
    assert main(["search", "--place", "Cape Town"]) == 0
    assert capsys.readouterr().out.strip() == "no photo matches these filters"
    assert main(["search", "--place", "Qwxzville"]) == 1
    assert "no country, region or city" in capsys.readouterr().err
    assert main(["status"]) == 0
    assert "text in photos: found in 3 photos, every photo read" in capsys.readouterr().out
