"""Which files are photos: one rule for the scanner, the trainer and the dialog, by name and folder."""

from __future__ import annotations

import os

import pytest
from image_zoo import write_nas_labelled_folders

from models.photo_files import is_photo_name, is_skipped, photo_files, subfolders


@pytest.mark.parametrize("name", ["@eaDir", "#recycle", "$RECYCLE.BIN", "System Volume Information", "__MACOSX",
                                  ".Trashes", "._IMG_0001.jpg", ".DS_Store", "Thumbs.db", "desktop.ini"])
def test_nas_and_system_leftovers_are_skipped_whatever_their_case(name):
    assert is_skipped(name) and is_skipped(name.upper()) and not is_photo_name(name)


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "IMG_0002.hif", "DSC_0003.NEF", "photo.jpeg", "scan.TIFF", "a.avif"])
def test_photos_count_by_their_extension_in_any_case(name):
    assert is_photo_name(name) and not is_skipped(name)


def test_a_labelled_tree_lists_its_photos_and_not_its_leftovers(tmp_path):
    expected = write_nas_labelled_folders(tmp_path)
    assert [os.path.basename(f) for f in subfolders(tmp_path)] == ["cats", "dogs"]  # no @eaDir, #recycle, ...
    for label, names in expected.items():
        found = [os.path.relpath(p, tmp_path / label) for p in photo_files(tmp_path / label)]
        assert found == sorted(names)


def test_a_link_to_a_folder_is_not_followed_and_a_link_to_a_photo_is_listed(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.jpg").write_bytes(b"named like a photo")
    os.symlink(tmp_path / "lib", tmp_path / "lib" / "loop", target_is_directory=True)
    os.symlink(tmp_path / "lib" / "a.jpg", tmp_path / "lib" / "b.jpg")
    assert [os.path.basename(p) for p in photo_files(tmp_path / "lib")] == ["a.jpg", "b.jpg"]

