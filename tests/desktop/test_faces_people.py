"""People: incremental clustering of real faces, naming, merging, splitting, "not a person", person search,
the command line, deleting all face data, and face data kept out of exported models."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import index_all, write_photos
from face_photos import EDITS, portrait, together, write

from desktop.core.face_pass import FacePass
from desktop.core.faces import FaceReader
from desktop.core.people import FaceClusters
from desktop.core.query_filters import parse_query
from desktop.core.search import Query
from models.errors import PicsiftError

pytestmark = pytest.mark.slow  # dlib reads each photo in 0.1-0.3 s on two shared cores


@pytest.fixture(scope="module")
def reader():
    return FaceReader()


def add_photos(library, folder: Path, reader, photos: dict):
    """Write `photos` (name -> image) into `folder`, index them and run the face pass."""
    for name, image in photos.items():
        write(image, folder / f"{name}.jpg")
    library.catalog.add_folder(folder)
    index_all(library)
    for progress in FacePass(library.catalog, reader).run():
        pass
    return progress


def person_of(library, folder: Path, name: str) -> set[int]:
    record = library.catalog.file_by_path(str((folder / f"{name}.jpg").resolve()))
    return {f.person_id for f in library.catalog.faces_of(record.image_id)}


@pytest.fixture
def people(library, tmp_path, reader):
    """A library of three photos of Eileen, two of Grace, one of both, and a cat; the face pass run."""
    folder = tmp_path / "photos"
    photos = {f"eileen_{edit}": portrait("eileen", edit) for edit in EDITS[:3]}
    photos |= {f"grace_{edit}": portrait("grace", edit) for edit in EDITS[:2]}
    photos["both"] = together(("eileen", "grace"))
    write_photos(folder, ("chelsea",))
    add_photos(library, folder, reader, photos)
    (eileen,), (grace,) = person_of(library, folder, "eileen_as_is"), person_of(library, folder, "grace_as_is")
    return folder, eileen, grace


def names(results) -> list[str]:
    return sorted(Path(r.path).stem for r in results)


def test_each_persons_photos_form_one_person_and_a_photo_of_both_joins_both(library, people):
    folder, eileen, grace = people
    assert eileen != grace
    assert all(person_of(library, folder, f"eileen_{edit}") == {eileen} for edit in EDITS[:3])
    assert all(person_of(library, folder, f"grace_{edit}") == {grace} for edit in EDITS[:2])
    assert person_of(library, folder, "both") == {eileen, grace}
    listed = library.catalog.people()
    assert [(p.id, p.photos, p.faces) for p in listed] == [(eileen, 4, 4), (grace, 3, 3)]  # most photos first


def test_new_photos_join_the_people_found_before_and_nobody_is_regrouped(library, people, reader, tmp_path):
    folder, eileen, grace = people
    before = {f.id: f.person_id for p in (eileen, grace) for f in library.catalog.faces_of_person(p)}
    more = tmp_path / "more"
    progress = add_photos(library, more, reader, {"grace_later": portrait("grace", "smaller"), "eileen_later": portrait("eileen", "in_a_scene")})
    assert (progress.total, progress.faces, progress.new_people) == (2, 2, 0)
    assert person_of(library, more, "grace_later") == {grace} and person_of(library, more, "eileen_later") == {eileen}
    after = {f.id: f.person_id for p in (eileen, grace) for f in library.catalog.faces_of_person(p)}
    assert {k: after[k] for k in before} == before


def test_two_faces_of_one_photo_never_join_the_same_person(library, people):
    _, eileen, _ = people
    _, persons, _, embeddings = library.catalog.face_embeddings()
    hers = embeddings[persons == eileen][0]
    assert FaceClusters(library.catalog).place(np.stack([hers + 0.01, hers])) == [None, eileen]  # the closer one takes her


def test_naming_finds_a_persons_photos_by_name_alone_or_with_the_rest_of_the_query(library, people):
    folder, eileen, grace = people
    library.catalog.name_person(eileen, "Eileen")
    library.catalog.name_person(grace, "Grace Hopper")
    parsed = parse_query("grace hopper and Eileen", date.today(), library.catalog.named_people())
    assert parsed.people == (grace, eileen) and parsed.semantic_text == ""
    assert [(c.kind, c.label) for c in parsed.chips] == [("person", "Grace Hopper"), ("person", "Eileen")]
    searcher = library.searcher()
    assert names(searcher.search(Query(people=parsed.people, k=10))) == ["both"]
    assert names(searcher.search(Query(people=(grace,), k=10))) == ["both", "grace_as_is", "grace_mirrored"]
    near_cat = parse_query("Eileen with a cat", date.today(), library.catalog.named_people())
    assert near_cat.people == (eileen,) and near_cat.semantic_text == "with a cat"
    found = searcher.search(Query(texts=((near_cat.semantic_text, 1.0),), people=near_cat.people, k=10))
    assert names(found) == ["both", "eileen_as_is", "eileen_darker", "eileen_mirrored"]  # never the cat: it shows no Eileen


def test_a_name_taken_by_another_person_is_refused_with_a_hint_to_merge(library, people):
    _, eileen, grace = people
    library.catalog.name_person(eileen, "Eileen")
    with pytest.raises(PicsiftError, match="merge"):
        library.catalog.name_person(grace, "eileen")
    with pytest.raises(PicsiftError, match="cannot name a person"):
        library.catalog.name_person(grace, "  ")


def test_merging_two_people_keeps_one_with_all_their_photos_and_a_name(library, people):
    _, eileen, grace = people
    library.catalog.name_person(grace, "Grace")
    library.catalog.merge_people(eileen, grace)
    (merged,) = library.catalog.people()
    assert (merged.id, merged.name, merged.photos, merged.faces) == (eileen, "Grace", 6, 7)
    with pytest.raises(PicsiftError, match="no person"):
        library.catalog.merge_people(eileen, grace)


def test_splitting_off_wrong_faces_makes_a_new_person_and_later_faces_follow_the_split(library, people, reader, tmp_path):
    folder, eileen, grace = people
    library.catalog.merge_people(eileen, grace)  # a wrong merge, undone by hand
    grace_faces = [f.id for f in library.catalog.faces_of_person(eileen) if f.id in _faces_nearest(library, folder, "grace_as_is")]
    split = library.catalog.split_faces(grace_faces)
    assert sorted((p.photos, p.id == split) for p in library.catalog.people()) == [(3, True), (4, False)]
    more = tmp_path / "more"
    add_photos(library, more, reader, {"grace_later": portrait("grace", "darker")})
    assert person_of(library, more, "grace_later") == {split}


def _faces_nearest(library, folder, name) -> set[int]:
    """The ids of the faces within 0.5 of the one in `name` (the same person's)."""
    record = library.catalog.file_by_path(str((folder / f"{name}.jpg").resolve()))
    ids, _, _, embeddings = library.catalog.face_embeddings()
    (mine,) = [i for i, f in enumerate(ids) if f in {x.id for x in library.catalog.faces_of(record.image_id)}]
    return {int(ids[i]) for i in np.flatnonzero(np.linalg.norm(embeddings - embeddings[mine], axis=1) < 0.5)}


def test_not_a_person_leaves_the_list_and_the_named_people_and_new_faces_of_it_stay_hidden(library, people, reader, tmp_path):
    _, eileen, grace = people
    library.catalog.name_person(grace, "Statue")
    library.catalog.set_not_a_person(grace)
    assert [p.id for p in library.catalog.people()] == [eileen] and library.catalog.named_people() == []
    more = tmp_path / "more"
    assert add_photos(library, more, reader, {"statue_again": portrait("grace", "smaller")}).new_people == 0
    assert person_of(library, more, "statue_again") == {grace}
    library.catalog.set_not_a_person(grace, False)
    assert sorted(p.id for p in library.catalog.people()) == sorted([eileen, grace])


def test_forgetting_all_face_data_leaves_no_embedding_in_the_catalog_file(library, people):
    _, eileen, _ = people
    _, _, _, embeddings = library.catalog.face_embeddings()
    library.catalog.forget_faces()
    assert library.catalog.people() == [] and library.catalog.count_faces() == (0, 0)
    assert library.catalog.count_faces_unread() == 7  # a later face pass (only if asked for) would look again
    on_disk = b"".join(Path(f"{library.catalog.path}{suffix}").read_bytes()
                       for suffix in ("", "-wal") if Path(f"{library.catalog.path}{suffix}").exists())
    assert not any(e.tobytes()[:32] in on_disk for e in embeddings)


def test_exporting_a_model_bundle_never_opens_the_catalog(installed_builtin, library, people, tmp_path, monkeypatch):
    from models import registry

    def refused(*args, **kwargs):
        raise AssertionError("the export opened a database")

    monkeypatch.setattr(sqlite3, "connect", refused)
    out = registry.export(registry.DEFAULT_BUNDLE, tmp_path / "exported.zip")
    monkeypatch.undo()
    _, _, _, embeddings = library.catalog.face_embeddings()
    assert not any(e.tobytes()[:32] in out.read_bytes() for e in embeddings)


def test_the_command_line_finds_faces_names_people_and_searches_by_person(installed_builtin, tmp_path, capsys):
    from desktop.cli import main

    folder = tmp_path / "photos"
    for edit in EDITS[:2]:
        write(portrait("grace", edit), folder / f"grace_{edit}.jpg")
    write(portrait("eileen"), folder / "eileen.jpg")
    assert main(["index", str(folder), "--no-text"]) == 0
    assert main(["status"]) == 0
    assert "people in photos: not looked for in 3 photos" in capsys.readouterr().out
    assert main(["index", "--no-text", "--faces"]) == 0
    assert "faces done: 3 photos read, 3 faces found in 3 photos, 2 new people" in capsys.readouterr().out
    assert main(["people", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["photos"] for p in listed] == [2, 1]
    assert main(["people", "name", str(listed[0]["id"]), "Grace"]) == 0
    capsys.readouterr()
    assert main(["search", "--person", "grace", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["filters"] == [{"kind": "person", "label": "Grace", "value": f"person:{listed[0]['id']}"}]
    assert sorted(Path(r["path"]).name for r in answer["results"]) == ["grace_as_is.jpg", "grace_mirrored.jpg"]
    assert main(["search", "photos of Grace", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 2
    assert main(["search", "--person", "Nobody"]) == 1
    assert "no person is named 'Nobody'" in capsys.readouterr().err
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["faces"] == {"unread": 0, "faces": 3, "photos": 3, "people": 2, "named": 1}
    assert main(["people", "forget-all"]) == 1 and "--yes" in capsys.readouterr().err
    assert main(["people", "forget-all", "--yes"]) == 0
    assert main(["people", "list"]) == 0
    assert "no people found yet" in capsys.readouterr().out
