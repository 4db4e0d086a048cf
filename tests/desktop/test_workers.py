"""The Qt adapters around core generators: a run that has reported its end is over."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.ui.workers import GeneratorWorker
from models.errors import PicsiftError


def _ends(succeeding: bool):
    def generator(cancel):
        yield 1
        if not succeeding:
            raise PicsiftError("the catalog is damaged")
    return generator


def test_a_worker_is_no_longer_running_once_it_reports_its_end(qtbot):
    for succeeding, signal_name in ((True, "finished"), (False, "errored")):
        worker = GeneratorWorker(_ends(succeeding))
        seen = []
        # Direct: the slot runs in the worker's thread at the very moment it reports, before that
        # thread has quit, which is when a GUI slot may see it too.
        getattr(worker, signal_name).connect(lambda *_, w=worker: seen.append(w.is_running()), Qt.ConnectionType.DirectConnection)
        worker.start()
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
        assert seen == [False], signal_name  # a new run (Rescan, Repair) may start right away
        assert worker.wait()


def test_a_thumbnail_that_finishes_loading_after_its_window_was_destroyed_is_dropped_quietly(qtbot, tmp_path):
    """CI once failed on "Signal source has been deleted": a closed window's loader got a late thumbnail."""
    import shiboken6
    from image_zoo import scene

    from desktop.core.thumbnails import ThumbnailCache
    from desktop.ui.thumbnail_loader import ThumbnailLoader

    photo = tmp_path / "late.jpg"
    scene("astronaut", (1600, 1200)).save(photo)
    loader = ThumbnailLoader(ThumbnailCache(tmp_path / "thumbs"))
    relays = loader._relays  # what keeps the call's relay alive after the loader is gone
    loader.request("ab" * 16, str(photo))
    shiboken6.delete(loader)  # as Qt deletes a closed window's children; its pool waits for the load first
    assert relays
    qtbot.wait(200)  # the queued answer arrives: pytest-qt fails the test on any exception in the event loop
