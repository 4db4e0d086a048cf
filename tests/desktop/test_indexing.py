"""Indexing is incremental, recognises moved photos by content, and never stops for a bad file."""

from __future__ import annotations

import os
import threading

import pytest
from engine_fixtures import index_all, write_photos
from image_zoo import write_bad_files, write_nas_labelled_folders
from toy_bundle import export_toy_bundle


@pytest.fixture
def photos(tmp_path):
    return write_photos(tmp_path / "photos")


def test_indexing_a_folder_catalogues_every_photo(library, photos):
    library.catalog.add_folder(photos[0].parent)
    progress = index_all(library)
    assert (progress.phase, progress.encoded, progress.failed) == ("done", len(photos), 0)
    assert library.catalog.count_files() == len(photos)
    ids, _ = library.vector_index.search(library.runtime.encode_texts(["anything"])[0], k=100)
    assert len(ids) == len(photos)


def test_second_run_reads_nothing_when_nothing_changed(library, photos):
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    again = index_all(library)
    assert (again.total, again.encoded, again.unchanged) == (0, 0, len(photos))


def test_renamed_and_moved_photo_keeps_its_vector_without_decoding(library, photos, tmp_path):
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    old = library.catalog.file_by_path(str(photos[0]))
    (photos[0].parent / "sub").mkdir()
    moved = photos[0].parent / "sub" / "renamed.jpg"
    os.rename(photos[0], moved)
    progress = index_all(library)
    assert (progress.encoded, progress.reused, progress.removed) == (0, 1, 1)
    assert library.catalog.file_by_path(str(moved)).image_id == old.image_id
    assert library.catalog.file_by_path(str(photos[0])) is None


def test_deleted_photo_leaves_the_results(library, photos):
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    gone = library.catalog.file_by_path(str(photos[1])).image_id
    photos[1].unlink()
    index_all(library)
    ids, _ = library.vector_index.search(library.runtime.encode_texts(["anything"])[0], k=100)
    assert gone not in set(ids.tolist()) and len(ids) == len(photos) - 1


def test_changed_photo_is_encoded_again(library, photos):
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    write_photos(photos[0].parent, names=("coins",), size=(500, 400))  # same name, new content
    os.replace(photos[0].parent / "coins.jpg", photos[0])
    progress = index_all(library)
    assert progress.encoded == 1


def test_bad_files_are_recorded_with_reasons_and_the_run_goes_on(library, photos):
    folder = photos[0].parent
    expected = write_bad_files(folder)
    library.catalog.add_folder(folder)
    progress = index_all(library)
    assert progress.encoded == len(photos)
    reasons = dict(library.catalog.errors())
    for name, reason in expected.items():
        matches = [r for p, r in reasons.items() if os.path.basename(p) == name]
        assert matches and reason in matches[0], (name, reasons)
    indexed = {os.path.basename(p) for p, *_ in library.catalog._db.execute("SELECT path FROM files")}
    assert not indexed & {"._IMG_0001.jpg", ".DS_Store", "Thumbs.db", "x.jpg"}


def test_nas_recycle_bins_thumbnails_and_hidden_files_are_never_scanned(library, tmp_path):
    root = tmp_path / "nas"
    expected = write_nas_labelled_folders(root)  # Synology @eaDir/#recycle, $RECYCLE.BIN, ._ files, ...
    library.catalog.add_folder(root)
    index_all(library)
    indexed = {os.path.relpath(p, root) for p, *_ in library.catalog._db.execute("SELECT path FROM files")}
    unreadable = {os.path.relpath(p, root) for p, _ in library.catalog.errors()}
    photos = {os.path.join(label, name) for label, names in expected.items() for name in names}
    assert unreadable == {os.path.join("cats", "notes.jpg")}  # a photo by its name, then a reason
    assert indexed == photos - unreadable


def test_unchanged_bad_file_is_not_retried_but_a_fixed_one_is(library, photos):
    folder = photos[0].parent
    (folder / "broken.jpg").write_bytes(b"")
    library.catalog.add_folder(folder)
    index_all(library)
    assert index_all(library).total == 0
    write_photos(folder / ".staging", names=("moon",), size=(333, 222))  # new content
    os.replace(folder / ".staging" / "moon.jpg", folder / "broken.jpg")
    assert index_all(library).encoded == 1
    assert library.catalog.errors() == []


def test_missing_folder_is_offline_and_its_photos_are_kept(library, photos, tmp_path):
    folder = photos[0].parent
    library.catalog.add_folder(folder)
    index_all(library)
    os.rename(folder, tmp_path / "unplugged")
    progress = index_all(library)
    assert progress.offline_folders == [str(folder)]
    assert library.catalog.count_files() == len(photos)


def test_cancel_keeps_committed_work_and_the_next_run_finishes(library, tmp_path, monkeypatch):
    monkeypatch.setattr("desktop.core.indexer.PROGRESS_INTERVAL_S", 0.0)  # report after every photo
    write_photos(tmp_path / "many", names=("chelsea", "coffee", "rocket", "moon"), size=(320, 240))
    for i in range(40):  # distinct content: a different crop of a real photo each
        write_photos(tmp_path / "many", names=("astronaut",), size=(300 + i, 240))
        os.replace(tmp_path / "many" / "astronaut.jpg", tmp_path / "many" / f"a{i:02d}.jpg")
    library.catalog.add_folder(tmp_path / "many")
    cancel = threading.Event()
    for progress in library.indexer(batch_size=4).run(cancel=cancel):
        if progress.encoded >= 8:
            cancel.set()
    assert progress.phase == "cancelled" and 8 <= library.catalog.count_files() < 44
    final = index_all(library)
    assert final.phase == "done" and library.catalog.count_files() == 44
    assert final.encoded == final.total


def test_switching_to_a_model_with_another_image_encoder_encodes_unchanged_files_again(library, photos, tmp_path):
    from engine_fixtures import open_library as reopen

    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    other = reopen(export_toy_bundle(tmp_path / "other", name="other", seed=7))
    progress = index_all(other)
    assert (progress.total, progress.encoded, progress.unchanged) == (len(photos), len(photos), 0)
    assert index_all(other).total == 0
    assert index_all(library).total == 0  # the first model's features are still there


def test_searching_while_indexing_runs_sees_photos_as_they_are_committed(library, tmp_path, monkeypatch):
    monkeypatch.setattr("desktop.core.indexer.PROGRESS_INTERVAL_S", 0.0)
    folder = tmp_path / "growing"
    for i in range(40):
        write_photos(folder / ".staging", names=("coffee",), size=(220 + i, 180))
        os.replace(folder / ".staging" / "coffee.jpg", folder / f"c{i:02d}.jpg")
    library.catalog.add_folder(folder)
    searcher = library.for_thread()  # the search side: its own catalog connection, shared index
    query = library.runtime.encode_texts(["coffee"])[0]
    seen, errors = [], []

    def index() -> None:
        try:
            for _ in library.indexer(batch_size=4).run():
                pass
        except Exception as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=index)
    worker.start()
    while worker.is_alive():
        ids, _ = searcher.vector_index.search(query, k=100)
        seen.append(len(ids))
        searcher.catalog.files_for_images(ids.tolist())
    worker.join()
    assert not errors
    assert seen == sorted(seen) and seen[-1] <= 40  # results only grow while indexing
    assert len(searcher.vector_index.search(query, k=100)[0]) == 40


def test_a_slow_index_save_spaces_out_the_saves_while_indexing():
    from desktop.core.indexer import INDEX_SAVE_INTERVAL_S, save_interval

    assert save_interval(0.0) == save_interval(0.5) == INDEX_SAVE_INTERVAL_S  # a small index: every 30 s
    assert save_interval(13.5) == 270.0  # a million photos' save (13.5 s) at most 5% of the time
