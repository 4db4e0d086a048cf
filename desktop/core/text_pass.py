"""The second, lower-priority pass after indexing: read the text printed in each photo (OCR).

Reading text costs about a second a photo with text on two cores (the gate turns most photos
without text away in a fifth of that), so it cannot ride along with the embeddings: the indexer
makes photos searchable first, then `TextPass.run()` reads the photos whose text is not read yet,
oldest first. It is a generator of `TextProgress`, like the indexer's, that checks a cancel flag
between photos and commits each photo on its own (desktop/core/photo_pass.py, shared with the face
pass), so cancelling, closing the app or a crash loses at most the photo in flight and the next run
goes on from there. A photo that cannot be read is
recorded as read with no text (and its reason logged), so it is not retried on every run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from desktop.core.catalog import Catalog
from desktop.core.ocr import READ_MIN_SIDE, TextReader
from desktop.core.photo_pass import PassProgress, read_each
from models.errors import ImageError, TextReaderMissingError, TextReadingError
from models.photo_reader import read_photo_file
from models.places import place_at

log = logging.getLogger(__name__)

READ_WITH = "rapidocr-3.10.0-ppocrv6"  # stored with each photo's text: a better reader later can read those again
READER_THREADS = 1  # ONNX Runtime threads the pass may use: one core stays free for searching and the UI


@dataclass
class TextProgress(PassProgress):
    """Where a text pass stands (desktop/core/photo_pass.PassProgress), and in how many photos text was found."""

    with_text: int = 0  # photos in which some text was found


class TextPass:
    """Reads the text of every photo of the catalog that has none read yet."""

    def __init__(self, catalog: Catalog, reader: TextReader | None = None):
        self.catalog = catalog
        self.reader = reader or TextReader(threads=READER_THREADS)

    def run(self, cancel: threading.Event | None = None) -> Iterator[TextProgress]:
        """Read what is left to read. Raises TextReaderMissingError, DiskFullError or CatalogDamagedError
        (what was committed stays); a photo that cannot be read is only counted in `failed`."""
        yield from read_each(self.catalog.images_without_text(), self._read, TextProgress(), cancel)

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

