"""Sorting the unsorted photos into labelled folders: suggestions, confidence, filing and undo, on real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from engine_fixtures import index_all, write_labelled_shots

from desktop.core.demo_library import demo_image
from desktop.core.sorting import file_photos, learn_labels, suggest, trained_root, undo_last
from models.errors import PicsiftError
from models.paths import data_dir
from models.runtime import ModelRuntime

LABELS = {"cats": "chelsea", "coffee": "coffee", "rockets": "rocket"}  # label folder -> the sample its photos show
PHOTOS_ONLY = 0.0  # the toy model's text tower is random: its label names mean nothing, so prototypes are the photos'


@pytest.fixture
def sorted_library(library, tmp_path):
    """root/<label>/ with four shots of its sample each, and inbox/ with two more of each, indexed."""
    root, inbox = write_labelled_shots(tmp_path / "photos", LABELS)
    library.catalog.add_folder(tmp_path / "photos")
    index_all(library)
    return library, root, inbox


def test_each_unsorted_photo_gets_the_label_of_the_folder_whose_photos_it_looks_like(sorted_library):
    library, root, inbox = sorted_library
    labels = learn_labels(library.catalog, library.runtime, root, PHOTOS_ONLY)
    suggestions = suggest(library.catalog, library.runtime, labels)
    assert labels.names == ("cats", "coffee", "rockets")
    assert sorted(Path(s.path).name for s in suggestions) == sorted(p.name for p in inbox.iterdir())  # none from root
    expected = {sample: label for label, sample in LABELS.items()}
    assert {Path(s.path).name: s.label for s in suggestions} == {p.name: expected[p.stem.split("-")[0]] for p in inbox.iterdir()}
    assert all(0.0 <= s.runner_up_confidence <= s.confidence <= 1.0 and s.runner_up != s.label for s in suggestions)
    assert [s.confidence for s in suggestions] == sorted((s.confidence for s in suggestions), reverse=True)


def test_a_photo_unlike_every_label_is_less_confident_than_one_like_a_label(sorted_library, tmp_path):
    library, root, inbox = sorted_library
    demo_image("checkerboard").resize((160, 120)).save(inbox / "checkerboard.jpg", quality=90)
    index_all(library)
    suggestions = suggest(library.catalog, library.runtime, learn_labels(library.catalog, library.runtime, root, PHOTOS_ONLY))
    by_name = {Path(s.path).stem: s.confidence for s in suggestions}
    assert by_name["checkerboard"] < min(c for name, c in by_name.items() if name != "checkerboard")


def test_a_root_with_fewer_than_two_indexed_label_folders_is_refused_with_a_reason(library, tmp_path):
    (tmp_path / "root" / "only").mkdir(parents=True)
    with pytest.raises(PicsiftError, match="at least two"):
        learn_labels(library.catalog, library.runtime, tmp_path / "root")


def test_copying_accepted_photos_files_them_under_fresh_names_and_undo_deletes_only_those_copies(sorted_library):
    library, root, inbox = sorted_library
    clash = root / "cats" / "chelsea-4.jpg"
    clash.write_bytes(b"a photo already there")
    accepted = [(str(inbox / "chelsea-4.jpg"), "cats"), (str(inbox / "coffee-4.jpg"), "coffee")]
    batch = file_photos(accepted, root, "copy", library.catalog)
    copy = root / "cats" / "chelsea-4 (2).jpg"
    assert [Path(f.dest).relative_to(root).as_posix() for f in batch.filed] == ["cats/chelsea-4 (2).jpg", "coffee/coffee-4.jpg"]
    assert copy.read_bytes() == (inbox / "chelsea-4.jpg").read_bytes()
    assert (inbox / "chelsea-4.jpg").is_file() and clash.read_bytes() == b"a photo already there"
    assert library.catalog.file_by_path(str(copy)).image_id == library.catalog.file_by_path(str(inbox / "chelsea-4.jpg")).image_id
    assert json.loads((data_dir() / "sort_journal.json").read_text())["batches"][0]["action"] == "copy"

    undone = undo_last(library.catalog)
    assert len(undone.undone) == 2 and not undone.left
    assert not copy.exists() and not (root / "coffee" / "coffee-4.jpg").exists()
    assert library.catalog.file_by_path(str(copy)) is None
    assert clash.read_bytes() == b"a photo already there" and (inbox / "chelsea-4.jpg").is_file()
    assert undo_last() is None


def test_undoing_a_move_puts_the_photos_back_but_leaves_one_edited_since(sorted_library):
    library, root, inbox = sorted_library
    original = (inbox / "rocket-5.jpg").read_bytes()
    accepted = [(str(inbox / "rocket-4.jpg"), "rockets"), (str(inbox / "rocket-5.jpg"), "rockets")]
    file_photos(accepted, root, "move", library.catalog)
    assert not (inbox / "rocket-4.jpg").exists() and (root / "rockets" / "rocket-5.jpg").read_bytes() == original
    assert library.catalog.file_by_path(str(inbox / "rocket-5.jpg")) is None
    (root / "rockets" / "rocket-4.jpg").write_bytes(b"edited after filing")

    undone = undo_last(library.catalog)
    assert (inbox / "rocket-5.jpg").read_bytes() == original and not (root / "rockets" / "rocket-5.jpg").exists()
    assert library.catalog.file_by_path(str(inbox / "rocket-5.jpg")) is not None
    assert [path for path, _ in undone.left] == [str(root / "rockets" / "rocket-4.jpg")]
    assert (root / "rockets" / "rocket-4.jpg").read_bytes() == b"edited after filing"


def test_undo_reverses_only_the_last_batch(sorted_library):
    _, root, inbox = sorted_library
    file_photos([(str(inbox / "coffee-4.jpg"), "coffee")], root, "copy")
    file_photos([(str(inbox / "coffee-5.jpg"), "coffee")], root, "move")
    undo_last()
    assert (inbox / "coffee-5.jpg").is_file() and (root / "coffee" / "coffee-4.jpg").is_file()


def test_a_bundle_without_folder_training_data_names_no_trained_root(library):
    assert trained_root(library.runtime) is None


def test_a_bundle_fine_tuned_on_labelled_folders_names_the_root_it_was_trained_on(toy, tmp_path):
    tuned = tmp_path / "tuned"
    shutil.copytree(toy, tuned)
    manifest = json.loads((tuned / "manifest.json").read_text())
    manifest["provenance"]["training_data"] = {"source": str(tmp_path / "clothes"), "format": "folders", "classes": ["a", "b"]}
    (tuned / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "clothes").mkdir()
    assert trained_root(ModelRuntime(tuned, device="cpu")) == (tmp_path / "clothes").resolve()
