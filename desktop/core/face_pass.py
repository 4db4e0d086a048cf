"""The face pass: after indexing, find the faces in each photo, embed them and place them in people.

Design. Like the text pass (desktop/core/text_pass.py), it runs after the embeddings, in the
background, at low priority: `FacePass.run()` is a generator of `FaceProgress` that reads the photos
whose faces are not read yet, oldest first, checks a cancel flag between photos and commits each
photo on its own (its faces, each in its person, and the photo marked read, in one transaction), so
cancelling, closing the app or a crash loses at most the photo in flight and the next run goes on
from there. A photo that cannot be read is recorded as read with no face (its reason logged). Faces
are placed as they come (desktop/core/people.py): a library is never re-clustered from scratch.

It is off by default (`picsift index --faces` runs it; the app asks once), because face data is
personal: it stays in the catalog (desktop/core/catalog_faces.py), never in an exported model, and
`Catalog.forget_faces` deletes all of it. Without dlib or its models the pass raises
FaceReaderMissingError before reading any photo, saying how to install them; nothing else in
picsift needs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from desktop.core.catalog import Catalog
from desktop.core.faces import READ_MIN_SIDE, FaceReader
from desktop.core.people import FaceClusters
from desktop.core.photo_pass import PassProgress, read_each
from models.errors import FaceReaderMissingError, FaceReadingError, ImageError
from models.photo_reader import read_photo_file

log = logging.getLogger(__name__)

READ_WITH = "dlib-hog-resnet-v1"  # stored with each photo read: a better reader later can read those again


@dataclass
class FaceProgress(PassProgress):
    """Where a face pass stands (desktop/core/photo_pass.PassProgress), and what it found this run."""

    faces: int = 0  # faces found
    with_faces: int = 0  # photos in which some face was found
    new_people: int = 0  # people seen for the first time


class FacePass:
    """Finds the faces of every photo of the catalog not read for faces yet, and places them in people."""

    def __init__(self, catalog: Catalog, reader: FaceReader | None = None, clusters: FaceClusters | None = None):
        self.catalog = catalog
        self.reader = reader or FaceReader()
        self._given_clusters = clusters  # None: each run loads the stored faces afresh
        self._clusters: FaceClusters | None = None

    def run(self, cancel: threading.Event | None = None) -> Iterator[FaceProgress]:
        """Read what is left to read. Raises FaceReaderMissingError (before any photo), DiskFullError or
        CatalogDamagedError (what was committed stays); a photo that cannot be read is only counted in `failed`."""
        todo = self.catalog.images_without_faces()
        if todo:
            self.reader.loaded()  # a missing dlib says so now, once, not once per photo
        self._clusters = self._given_clusters or FaceClusters(self.catalog)
        yield from read_each(todo, self._read, FaceProgress(), cancel)

    def _read(self, image_id: int, path: str, progress: FaceProgress) -> None:
        """Find one photo's faces, place them in people and commit them with the photo marked read."""
        faces = []
        try:
            faces = self.reader.read(read_photo_file(path, READ_MIN_SIDE).image, source=path)
        except FaceReaderMissingError:
            raise
        except (ImageError, FaceReadingError, OSError) as exc:  # this photo only: the pass goes on
            log.info("faces not read: %s", exc)
            progress.failed += 1
        embeddings = np.stack([f.embedding for f in faces]) if faces else np.zeros((0, 128), np.float32)
        persons = self._clusters.place(embeddings)
        face_ids = self.catalog.put_faces(image_id, faces, persons, READ_WITH)
        self._clusters.add(face_ids, embeddings)
        progress.faces += len(faces)
        progress.with_faces += bool(faces)
        progress.new_people += sum(p is None for p in persons)

