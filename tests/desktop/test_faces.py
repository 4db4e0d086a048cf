"""Faces in photos: dlib's real models on real portraits, the face pass over a catalog, the v5 -> v6 migration."""

from __future__ import annotations

import socket
import sqlite3
import sys
import threading

import numpy as np
import pytest
from engine_fixtures import index_all, write_photos
from face_photos import EDITS, PEOPLE, portrait, together, write

from desktop.core import catalog_schema, faces
from desktop.core.catalog import Catalog
from desktop.core.face_pass import FacePass
from desktop.core.faces import FaceReader
from desktop.core.people import MATCH_DISTANCE
from models.errors import FaceReaderMissingError

pytestmark = pytest.mark.slow  # each photo takes 0.1-0.3 s of dlib on two shared cores


def _refuse_connections(*args, **kwargs):
    raise OSError("network blocked by the test: the face models must come from the installed package")


@pytest.fixture(scope="module")
def reader():
    """One reader for the module, its models loaded while the network is blocked."""
    shared = FaceReader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_connections)
        assert len(shared.read(portrait("grace"))) == 1
    return shared


@pytest.fixture
def photos(tmp_path):
    """Five photos of each of two people, one of both, and three without anyone."""
    folder = tmp_path / "photos"
    for person in PEOPLE:
        for edit in EDITS:
            write(portrait(person, edit), folder / f"{person}_{edit}.jpg")
    write(together(("eileen", "grace")), folder / "both.jpg")
    write_photos(folder, ("chelsea", "coffee", "rocket"))
    return folder


def run_pass(library, reader, cancel=None):
    progress = None
    for progress in FacePass(library.catalog, reader).run(cancel):
        pass
    return progress


def test_a_face_in_a_real_photo_is_found_with_its_box_five_landmarks_and_embedding(reader):
    found = reader.read(portrait("eileen"))
    assert len(found) == 1
    face = found[0]
    left, top, right, bottom = face.box
    assert 0.25 < left < right < 0.6 and 0.05 < top < bottom < 0.4  # the astronaut's face, upper middle of the photo
    assert len(face.landmarks) == 5 and all(left - 0.02 <= x <= right + 0.02 and top <= y <= bottom + 0.02 for x, y in face.landmarks)
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32 and np.isfinite(face.embedding).all()
    assert face.score >= faces.MIN_SCORE


def test_one_persons_edited_photos_embed_close_and_two_people_far_apart(reader):
    reference = {person: reader.read(portrait(person))[0].embedding for person in PEOPLE}
    for person in PEOPLE:
        for edit in EDITS:
            (face,) = reader.read(portrait(person, edit))
            assert np.linalg.norm(face.embedding - reference[person]) < MATCH_DISTANCE, (person, edit)
    assert np.linalg.norm(reference["eileen"] - reference["grace"]) > 0.6  # dlib's own "different people"


def test_a_photo_of_two_people_gives_both_faces_and_photos_without_people_none(reader):
    both = reader.read(together(("eileen", "grace")))
    assert len(both) == 2 and both[0].box[0] != both[1].box[0]
    for scene in ("chelsea", "coffee", "rocket", "brick"):
        assert reader.read(together((), scene)) == []


def test_the_models_loaded_are_the_three_public_domain_files_never_the_68_point_one(reader):
    assert sorted(faces._MODELS.values()) == ["dlib_face_recognition_resnet_model_v1.dat", "mmod_human_face_detector.dat",
                                              "shape_predictor_5_face_landmarks.dat"]
    assert all((faces.models_folder() / name).is_file() for name in faces._MODELS.values())


def test_without_dlib_the_reader_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    with pytest.raises(FaceReaderMissingError, match=r"pip install 'picsift\[faces\]'"):
        FaceReader().read(portrait("grace"))


def test_without_the_models_package_the_reader_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(faces.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FaceReaderMissingError, match="face-recognition-models"):
        FaceReader().read(portrait("grace"))


def test_the_face_pass_stores_each_photos_faces_and_marks_every_photo_read(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    progress = run_pass(library, reader)
    assert (progress.phase, progress.done, progress.faces, progress.with_faces, progress.failed) == ("done", 14, 12, 11, 0)
    assert library.catalog.count_faces_unread() == 0 and library.catalog.count_faces() == (12, 11)
    record = library.catalog.file_by_path(str((photos / "both.jpg").resolve()))
    stored = library.catalog.faces_of(record.image_id)
    assert len(stored) == 2 and all(len(f.landmarks) == 5 and f.person_id is not None for f in stored)
    assert run_pass(library, reader).total == 0  # nothing left to read


def test_a_cancelled_face_pass_keeps_what_it_read_and_the_next_run_reads_the_rest(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    cancel = threading.Event()
    for progress in FacePass(library.catalog, reader).run(cancel):
        if progress.done >= 1:
            cancel.set()
    assert progress.phase == "cancelled" and library.catalog.count_faces_unread() == 14 - progress.done
    rest = run_pass(library, reader)
    assert rest.done == 14 - progress.done and library.catalog.count_faces_unread() == 0
    assert library.catalog.count_faces() == (12, 11)


def test_a_photo_that_cannot_be_read_is_counted_and_not_read_again(library, photos, reader):
    library.catalog.add_folder(photos)
    index_all(library)
    (photos / "grace_darker.jpg").write_bytes(b"not a jpeg any more")
    progress = run_pass(library, reader)
    assert progress.failed == 1 and progress.done == 14 and progress.faces == 11
    assert run_pass(library, reader).total == 0


def test_without_dlib_the_face_pass_stops_before_any_photo_and_the_catalog_is_untouched(library, photos, monkeypatch):
    library.catalog.add_folder(photos)
    index_all(library)
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(FaceReaderMissingError):
        run_pass(library, FaceReader())
    assert library.catalog.count_faces_unread() == 14 and library.catalog.count_faces() == (0, 0)


def test_a_version_5_catalog_migrates_to_6_with_its_photos_unread_for_faces(tmp_path):
    path = tmp_path / "v5.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(";\n".join(catalog_schema.MIGRATIONS[:5]) + ";\nPRAGMA user_version=5;")
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/photos', 0)")
        db.execute("INSERT INTO images(id, content_hash, text_read_with) VALUES (7, 'abc', 'ocr')")
        db.execute("INSERT INTO files(path, folder_id, size, mtime_ns, image_id) VALUES ('/photos/a.jpg', 1, 10, 5, 7)")
    db.close()
    with Catalog(path) as migrated:
        assert migrated._version() == catalog_schema.SCHEMA_VERSION >= 6  # through v6 to the latest
        assert migrated.images_without_faces() == [(7, "/photos/a.jpg")] and migrated.count_faces_unread() == 1
        assert migrated.images_without_text() == [] and migrated.people() == [] and migrated.faces_of(7) == []
