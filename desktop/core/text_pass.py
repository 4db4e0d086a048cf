"""The second, lower-priority pass after indexing: read the text printed in each photo (OCR).

Reading text costs about a second a photo with text on two cores (the gate turns most photos
without text away in a fifth of that), so it cannot ride along with the embeddings: the indexer
makes photos searchable first, then `TextPass.run()` reads the photos whose text is not read yet,
oldest first. It is a generator of `TextProgress`, like the indexer's, that checks a cancel flag
between photos and commits each photo on its own, so cancelling, closing the app or a crash loses
at most the photo in flight and the next run goes on from there. A photo that cannot be read is
recorded as read with no text (and its reason logged), so it is not retried on every run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from desktop.core.catalog import Catalog
from desktop.core.indexer import rate_and_eta
from desktop.core.ocr import READ_MIN_SIDE, TextReader
from models.errors import ImageError, TextReaderMissingError, TextReadingError
from models.photo_reader import read_photo_file
from models.places import place_at

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5  # text is read a photo a second at best: two reports a second are plenty
READ_WITH = "rapidocr-3.10.0-ppocrv6"  # stored with each photo's text: a better reader later can read those again
READER_THREADS = 1  # ONNX Runtime threads the pass may use: one core stays free for searching and the UI


@dataclass
class TextProgress:
    """Where a text pass stands; `done`/`total` count the photos this run had to read."""

    phase: str = "reading"  # "reading", "done" or "cancelled"
    total: int = 0
    done: int = 0
    with_text: int = 0  # photos in which some text was found
    failed: int = 0
    photos_per_s: float = 0.0
    eta_s: float | None = None
    current: str = ""

    def snapshot(self) -> TextProgress:
        return replace(self)


class TextPass:
    """Reads the text of every photo of the catalog that has none read yet."""

    def __init__(self, catalog: Catalog, reader: TextReader | None = None):
        self.catalog = catalog
        self.reader = reader or TextReader(threads=READER_THREADS)

    def run(self, cancel: threading.Event | None = None) -> Iterator[TextProgress]:
        """Read what is left to read. Raises TextReaderMissingError, DiskFullError or CatalogDamagedError
        (what was committed stays); a photo that cannot be read is only counted in `failed`."""
        cancel = cancel or threading.Event()
        todo = self.catalog.images_without_text()
        progress = TextProgress(total=len(todo))
        yield progress.snapshot()
        started = last_report = time.monotonic()
        for image_id, path in todo:
            if cancel.is_set():
                break
            progress.current = path
            self._read(image_id, path, progress)
            progress.done += 1
            if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
                last_report = time.monotonic()
                yield _timed(progress, started).snapshot()
        progress.phase = "cancelled" if cancel.is_set() else "done"
        yield _timed(progress, started).snapshot()

    def _read(self, image_id: int, path: str, progress: TextProgress) -> None:
        """Read one photo's text, and its GPS position for a place not known yet, then commit both."""
        gps, lines = None, []
        try:
            photo = read_photo_file(path, READ_MIN_SIDE)
            gps = photo.gps
            lines = self.reader.read(photo.image, source=path)
        except TextReaderMissingError:
            raise
        except (ImageError, TextReadingError, OSError) as exc:  # this photo only: the pass goes on
            log.info("text not read: %s", exc)
            progress.failed += 1
        self.catalog.put_text(image_id, lines, READ_WITH, gps, place_at(gps))
        progress.with_text += bool(lines)


def _timed(progress: TextProgress, started: float) -> TextProgress:
    progress.photos_per_s, progress.eta_s = rate_and_eta(progress.done, progress.total, started)
    return progress
