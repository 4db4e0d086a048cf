"""File names that are not UTF-8, and single files that fail mid-batch, never stop indexing."""

from __future__ import annotations

import os
import shutil

import pytest
from engine_fixtures import index_all, write_photos

from desktop.core.catalog import Catalog
from models.display import printable_path

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows file names are always Unicode")


def _latin1_copies(folder, photos) -> list[str]:
    """Two photos renamed with Latin-1 bytes, as old Windows/Samba copies leave them."""
    names = []
    for photo, raw in zip(photos, (b"caf\xe9.jpg", b"\xc9t\xe9 \xe0 Nice.jpg")):
        target = os.path.join(os.fsencode(folder), raw)
        os.rename(photo, target)
        names.append(os.fsdecode(target))
    return names


def test_latin1_file_names_are_indexed_and_searchable(library, tmp_path):
    photos = write_photos(tmp_path / "photos")
    odd = _latin1_copies(tmp_path / "photos", photos[:2])
    library.catalog.add_folder(tmp_path / "photos")
    progress = index_all(library)
    assert (progress.phase, progress.failed, progress.encoded) == ("done", 0, len(photos))
    record = library.catalog.file_by_path(odd[0])
    assert record is not None and record.path == odd[0]  # the OS name back, byte for byte
    assert os.fsencode(record.path) == os.path.join(os.fsencode(tmp_path / "photos"), b"caf\xe9.jpg")
    with open(record.path, "rb") as handle:  # opens the real file
        assert handle.read(2) == b"\xff\xd8"
    again = index_all(library)
    assert (again.total, again.unchanged) == (0, len(photos))  # unchanged, not re-read every run
    found = library.searcher().similar(odd[0], k=len(photos))
    assert odd[1] in {r.path for r in found}
    assert printable_path(odd[0]).endswith("caf\\xe9.jpg")


def test_latin1_folder_name_is_a_library_folder(library, tmp_path):
    folder = os.path.join(os.fsencode(tmp_path), b"Vacances \xe9t\xe9")
    os.mkdir(folder)
    write_photos(tmp_path / "plain", names=("coffee", "rocket"))
    for name in os.listdir(tmp_path / "plain"):
        shutil.move(os.path.join(tmp_path, "plain", name), os.path.join(os.fsdecode(folder), name))
    library.catalog.add_folder(os.fsdecode(folder))
    progress = index_all(library)
    assert (progress.failed, progress.encoded) == (0, 2)
    assert [path for _, path in library.catalog.folders()] == [os.fsdecode(folder)]
    assert library.catalog.folder_counts() == {1: (2, 0)}
    assert len(library.catalog.image_ids_matching(folder=os.fsdecode(folder))) == 2


def test_unreadable_latin1_file_is_recorded_with_a_printable_reason(library, tmp_path):
    folder = tmp_path / "photos"
    write_photos(folder, names=("coffee",))
    bad = os.path.join(os.fsencode(folder), b"cass\xe9.jpg")
    with open(bad, "wb") as handle:
        handle.write(b"not a jpeg at all")
    library.catalog.add_folder(folder)
    progress = index_all(library)
    assert (progress.encoded, progress.failed) == (1, 1)
    [(path, reason)] = library.catalog.errors()
    assert path == os.fsdecode(bad)
    assert "not a readable image" in reason


def test_a_file_the_catalog_cannot_store_fails_alone_not_its_batch(library, tmp_path, monkeypatch):
    photos = write_photos(tmp_path / "photos")
    doomed = str(photos[3])
    original = Catalog._upsert_image

    def refuse_one(self, item):
        if item.path == doomed:
            raise ValueError("simulated failure storing one photo")
        return original(self, item)

    monkeypatch.setattr(Catalog, "_upsert_image", refuse_one)
    library.catalog.add_folder(photos[0].parent)
    progress = index_all(library)
    assert (progress.phase, progress.encoded, progress.failed) == ("done", len(photos) - 1, 1)
    assert library.catalog.count_files() == len(photos) - 1
    [(path, reason)] = library.catalog.errors()
    assert path == doomed and "could not be catalogued" in reason


def test_a_failed_thumbnail_write_does_not_make_the_photo_unreadable(library, tmp_path, monkeypatch):
    photos = write_photos(tmp_path / "photos", names=("coffee", "rocket"))

    def disk_trouble(self, content_hash, image):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(library.thumbnails), "put", disk_trouble)
    library.catalog.add_folder(photos[0].parent)
    progress = index_all(library)
    assert (progress.encoded, progress.failed) == (2, 0)
    assert library.catalog.errors() == []
