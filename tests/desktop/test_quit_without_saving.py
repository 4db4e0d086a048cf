"""Quitting never waits for a vector-index save, and a search before the index is loaded says so."""

from __future__ import annotations

import json
import threading

from engine_fixtures import index_all, write_photos
from window_fixtures import WAIT_MS, indexed_folder, open_window

from desktop.core import vector_index
from desktop.core.vector_index import VectorIndex, index_dir


def saved_count() -> int | None:
    """The vector count the saved index's metadata names, None when nothing is saved."""
    metas = list(index_dir().glob("*.json")) if index_dir().is_dir() else []
    return json.loads(metas[0].read_text())["count"] if metas else None


def test_an_index_opened_while_the_app_quits_is_not_saved_and_the_next_open_catches_up(library, tmp_path):
    library.catalog.add_folder(write_photos(tmp_path / "photos")[0].parent)
    for _ in library.indexer().run():
        pass
    for path in index_dir().iterdir():  # as if the index were lost: the next open rebuilds it from the catalog
        path.unlink()
    closing = threading.Event()
    closing.set()
    index = VectorIndex.open(library.catalog, library.runtime, closing=closing)
    assert index.rebuild_reason and len(index) == library.catalog.count_files()
    assert saved_count() is None  # rebuilt in memory, searchable, and not saved
    again = VectorIndex.open(library.catalog, library.runtime)
    assert len(again) == library.catalog.count_files() and saved_count() == len(again)


def test_a_cancelled_indexing_run_leaves_its_save_to_the_next_open(library, tmp_path):
    library.catalog.add_folder(write_photos(tmp_path / "first", names=("chelsea", "coffee"))[0].parent)
    index_all(library)
    assert saved_count() == 2
    library.catalog.add_folder(write_photos(tmp_path / "second", names=("rocket", "moon", "clock", "coins"))[0].parent)
    cancel = threading.Event()
    for progress in library.indexer(batch_size=1).run(cancel=cancel):
        if progress.encoded >= 1:
            cancel.set()
    assert progress.phase == "cancelled" and library.catalog.count_files() > 2
    assert saved_count() == 2  # the run committed photos to the catalog and did not wait for a save
    reopened = VectorIndex.open(library.catalog, library.runtime)
    assert reopened.rebuild_reason is None and len(reopened) == library.catalog.count_files()


def test_a_search_before_the_index_is_loaded_says_so_then_shows_results(qtbot, runtime, tmp_path, monkeypatch):
    indexed_folder(runtime, tmp_path, ("chelsea", "coffee", "rocket"))
    release, real_open = threading.Event(), VectorIndex.open.__func__

    def slow_open(cls, *args, **kwargs):  # a big index still loading on the engine thread
        release.wait(WAIT_MS / 1000)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(vector_index.VectorIndex, "open", classmethod(slow_open))
    window = open_window(qtbot, runtime)
    window.search_field.setText("a cat")
    window.search_now()
    assert window.status_label.text() == "loading the search index..."
    with qtbot.waitSignal(window.resultsShown, timeout=WAIT_MS):
        release.set()
    qtbot.waitUntil(lambda: window.search_field.text() == "a cat" and window.model.rowCount() > 0, timeout=WAIT_MS)
    assert window.status_label.text() != "loading the search index..."


def test_the_catalog_and_thumbnails_answer_at_once_while_another_thread_opens_the_index(library, monkeypatch):
    """The GUI thread reads library.catalog and library.thumbnails; a big index opening on the engine thread took
    the one lock of every lazy part and froze the window for the whole load."""
    from desktop.core.library import Library

    fresh = Library(library.catalog, library.runtime)  # nothing opened yet but what is given
    opening, release, real_open = threading.Event(), threading.Event(), VectorIndex.open.__func__

    def slow_open(cls, *args, **kwargs):
        opening.set()
        release.wait(WAIT_MS / 1000)
        return real_open(cls, *args, **kwargs)

    monkeypatch.setattr(vector_index.VectorIndex, "open", classmethod(slow_open))
    loader = threading.Thread(target=lambda: fresh.vector_index)
    loader.start()
    try:
        assert opening.wait(WAIT_MS / 1000)
        answered = []
        reader = threading.Thread(target=lambda: answered.append((fresh.catalog, fresh.thumbnails)))
        reader.start()
        reader.join(5)  # generous: both are instant unless they wait for the index
        assert answered, "library.catalog / library.thumbnails waited for the vector index to open"
        assert not fresh.index_loaded
    finally:
        release.set()
        loader.join()
    assert fresh.index_loaded
