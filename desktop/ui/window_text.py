"""The main window's text in photos: the background text pass (OCR) with its progress, and the preview's text.

The pass is the second, lower-priority job after indexing, run as every pass after indexing is
(window_passes.BackgroundPass): it starts when an indexing run ends and at start-up while photos are
left unread, on a low-priority thread with its own catalog connection; indexing has priority, and
the user's Cancel stops it until the next indexing run or restart; it goes on from where it stopped.
"""

from __future__ import annotations

from desktop.core.library import Library
from desktop.core.text_pass import TextProgress
from desktop.ui.window_passes import BackgroundPass


class TextPassController(BackgroundPass):
    """Runs `Library.text_pass()` for the window (`window.library`, its status bar, its preview and engine thread).

    Signals (BackgroundPass's):
        progressed(object): each TextProgress of a run, once the status bar shows it.
        finished(object): the last TextProgress of a run (done or cancelled), or None when it failed.
    """

    NAME = "text-pass"
    DOING = "Reading text in photos"
    STOPPING = "Stopping reading text after the current photo..."
    STOPPED = "Reading text stopped"

    def __init__(self, window):
        super().__init__(window, "Stop reading text in photos until the next indexing run")
        window.preview.textWanted.connect(self._read_text_for_preview)
        window._on_engine(lambda: window.library.catalog.count_text_unread(), lambda unread: unread and self.start())

    def _run(self, library: Library, cancel):
        return library.text_pass().run(cancel)

    def _done_line(self, progress: TextProgress) -> str:
        return f"Text in photos: {progress.done:,} read, {progress.with_text:,} with text"

    def _read_more(self) -> None:
        self._window.preview.ask_text_again()  # the photo shown may just have been read

    def _read_text_for_preview(self, image_id: int) -> None:
        catalog = self._window.library.catalog
        self._window._on_engine(lambda: (catalog.text_read(image_id), catalog.text_of(image_id)),
                                lambda answer: self._window.preview.show_text(image_id, *answer))
