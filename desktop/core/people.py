"""People: the faces of one person grouped as they are found, never re-clustered from scratch.

Design. Each new face is compared with every face stored so far (euclidean distance in dlib's 128-d
space, where faces of one person lie within ~0.6): it joins the person of its nearest stored faces
when one is within `MATCH_DISTANCE`, else it starts a new person. Nearest face rather than a
person's mean, because one person's faces spread (age, light, glasses) and the mean of a spread
cluster sits far from its ends; the threshold is stricter than dlib's 0.6 pair threshold because
joining by the nearest face chains (tests/benchmarks/faces.py chose it on its dev split). Two faces of
one photo are never one person: the closer of the two takes the person, the other the next one in
reach or a new one. A face, once placed, is never moved by clustering: only the user moves faces
(merge, split, "not a person"), and since a new face looks up the person its nearest faces are in
*now*, those edits steer where later faces go. A "not a person" (a statue, a poster) keeps its
faces, so new faces of the same statue join it and stay hidden instead of popping up as a person.

Cost: one (F, N) distance matrix per photo (F new faces, N stored): 100,000 faces are 51 MB of
float32 in memory and a few milliseconds a photo.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from desktop.core.catalog import Catalog
from models.display import printable
from models.errors import PicsiftError

MATCH_DISTANCE = 0.5  # euclidean; chosen on the dev split of tests/benchmarks/faces.py (results/faces.json)
NEIGHBOURS = 16  # stored faces looked at for each new face (their persons are the candidates)


class FaceClusters:
    """The stored faces' embeddings in memory, to place new faces in people."""

    def __init__(self, catalog: Catalog, match_distance: float = MATCH_DISTANCE):
        self.catalog = catalog
        self.match_distance = match_distance
        face_ids, _, _, embeddings = catalog.face_embeddings()
        self._ids = face_ids  # (N,)
        self._embeddings = embeddings  # (N, 128)

    def __len__(self) -> int:
        return len(self._ids)

    def place(self, embeddings: np.ndarray) -> list[int | None]:
        """The person each of one photo's new faces (F, 128) joins; None: a new person."""
        placed: list[int | None] = [None] * len(embeddings)
        if not len(self._ids) or not len(embeddings):
            return placed
        distances = _distances(embeddings, self._embeddings)  # (F, N)
        k = min(NEIGHBOURS, len(self._ids))
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]  # (F, k)
        persons = self.catalog.persons_of_faces(self._ids[nearest].ravel().tolist())
        pairs = sorted(
            (float(distances[f, n]), f, persons[int(self._ids[n])])
            for f in range(len(embeddings)) for n in nearest[f]
            if distances[f, n] <= self.match_distance and int(self._ids[n]) in persons
        )
        taken: set[int] = set()
        for _, face, person in pairs:  # closest first: the closer face of a photo takes the person
            if placed[face] is None and person not in taken:
                placed[face] = person
                taken.add(person)
        return placed

    def add(self, face_ids: Iterable[int], embeddings: np.ndarray) -> None:
        """Faces just stored join the ones later faces are compared with."""
        ids = np.fromiter(face_ids, np.int64)
        if len(ids):
            self._ids = np.concatenate([self._ids, ids])
            self._embeddings = np.concatenate([self._embeddings, np.asarray(embeddings, np.float32).reshape(len(ids), -1)])


def person_ids(catalog: Catalog, names: Iterable[str]) -> tuple[int, ...]:
    """The ids of the people of these names (case aside); a user error naming the first unknown one."""
    return tuple(catalog.person_named(name) for name in names)


def person_by_reference(catalog: Catalog, reference: str) -> int:
    """A person named on the command line: their name, or their number in `picsift people list` ("12" or "#12")."""
    text = reference.strip().removeprefix("#")
    if text.isdigit():
        number = int(text)
        if any(p.id == number for p in catalog.people(include_hidden=True)):
            return number
        raise PicsiftError(f"there is no person {number}; see `picsift people list`")
    if not text:
        raise PicsiftError(f"{printable(reference)!r} names no person; give a name or a number from `picsift people list`")
    return catalog.person_named(text)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (A, B) between the rows of a (A, D) and b (B, D)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))
