"""Sort the unsorted photos: suggest a label folder for every catalogued photo outside them, then file them with an undo.

The labels are the subfolders of a labelled root, as fine-tuning reads them (trainer/data/sources.py
`load_labelled_folders`: each subfolder, searched recursively, is one label; a fine-tuned bundle
records that root in its manifest, `trained_root`). Each label's prototype in the shared space is
the normalised mean of its catalogued photos' vectors, blended with its name's text vector
(TEXT_WEIGHT); a photo's scores are its cosines to the prototypes. Its confidence is the softmax
of those cosines at a temperature fitted on the labelled photos themselves (leave-one-out:
each labelled photo scored against prototypes made without it), so it reads as a probability
whatever the model's cosine scale, times how typical of the label the photo is: a softmax is sure of
the nearest label even for a photo like none of them, so a photo much less close to the prototype
than the label's own photos (left out in turn) are loses confidence (TYPICAL_Z). Suggestions at or
above DEFAULT_THRESHOLD are the confident ones.

Filing copies or moves accepted photos into root/label/ (desktop/core/file_actions.py); each
batch is journalled (`sort_journal.json` in the data dir, written atomically) so `undo_last` can move
them back or delete the copies it made, and only those: a file is touched only while its size
and content hash are still what the batch wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from desktop.core.catalog import Catalog, filter_conditions
from desktop.core.file_actions import COPY, MOVE, FileOutcome, copy_to, move_to
from models.atomic import write_text_atomic
from models.errors import PicsiftError
from models.paths import data_dir
from models.photo_files import label_text, subfolders
from models.runtime import ModelRuntime

# Share of a prototype that is its label's name's text vector, the rest the mean of its photos. On the dev split
# (tests/benchmarks/sort_unsorted.py, results/sort_unsorted.json) 0.5 ties the best top-1 with the built-in
# model v1 (0.25..0.5: 0.774, photos alone 0.766, 0.75: 0.596) and is within 0.006 of the best fine-tuned (0.75: 0.870).
TEXT_WEIGHT = 0.5
# Confidence from which a suggestion counts as sure: the lowest on the dev split whose sure suggestions were
# right at least 90% of the time, with the built-in model v1 and with it fine-tuned on the labelled folders.
DEFAULT_THRESHOLD = 0.7
# How typical of a label a photo is, from z = (its cosine to the prototype - the mean of the label's own
# photos' cosines, each left out of it) / their spread: full confidence from z >= -TYPICAL_Z[0], none at
# z <= -TYPICAL_Z[1], linear between; two standard deviations of a label's own photos stay within it. With no
# folder for two Fashion-MNIST classes, their photos sure of a wrong label fell from 36.5% to 26.5% (built-in v1;
# fine-tuned 30.5% to 6.0%) while the labelled classes' share sure fell 0.2 points (results/sort_unsorted.json, open_set).
TYPICAL_Z = (2.0, 4.0)
_TEMPERATURES = np.geomspace(0.002, 0.5, 48)  # softmax temperatures tried when fitting one on the labelled photos
JOURNAL = "sort_journal.json"
JOURNAL_VERSION = 1


@dataclass(frozen=True)
class Suggestion:
    """The label one unsorted photo most likely belongs to."""

    path: str
    image_id: int
    label: str  # the label folder's name
    confidence: float  # 0..1: the probability that `label` is right, lowered for a photo untypical of it
    runner_up: str  # the next most likely label
    runner_up_confidence: float  # its confidence, the same way


@dataclass(frozen=True)
class Labels:
    """The labels of a root, their prototypes in the shared space and the temperature of their softmax."""

    root: str
    names: tuple[str, ...]  # label folder names, in subfolder order
    prototypes: np.ndarray  # (L, D) unit vectors
    temperature: float
    member_cosines: np.ndarray  # (L, 2): mean and spread of each label's photos' cosines to its prototype made without them

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) unit vectors -> (N, L) probability of each label."""
        return _softmax(vectors.astype(np.float64) @ self.prototypes.T / self.temperature)

    def confidences(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) unit vectors -> (N, L) confidence in each label: its probability x how typical of it each photo is."""
        cosines = vectors.astype(np.float64) @ self.prototypes.T  # (N, L)
        z = (cosines - self.member_cosines[:, 0]) / self.member_cosines[:, 1]
        typical = np.clip((z + TYPICAL_Z[1]) / (TYPICAL_Z[1] - TYPICAL_Z[0]), 0.0, 1.0)
        return self.probabilities(vectors) * typical


def trained_root(runtime: ModelRuntime) -> Path | None:
    """The labelled root a fine-tuned bundle was trained on, when it was labelled folders still on disk."""
    data = runtime.manifest.provenance.get("training_data")
    if not isinstance(data, dict) or data.get("format") != "folders" or not Path(str(data.get("source"))).is_dir():
        return None
    return Path(str(data["source"])).resolve()


def learn_labels(catalog: Catalog, runtime: ModelRuntime, root: str | Path, text_weight: float = TEXT_WEIGHT) -> Labels:
    """The labels of `root` from its catalogued photos (those not indexed yet are not counted)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise PicsiftError(f"{root}: folder not found; give the folder that holds one subfolder per label")
    names, vectors, members = [], [], []
    for folder in subfolders(root):
        found = _mapped(catalog, runtime, catalog.image_ids_where(filter_conditions(folder)))[1]
        if len(found):
            names.append(os.path.basename(folder))
            vectors.append(found)
            members.append(np.full(len(found), len(members)))
    if len(names) < 2:
        raise PicsiftError(f"{root}: {len(names)} label folder(s) with indexed photos; at least two are needed "
                           "(add the folder to the library and let it index)")
    texts = runtime.encode_texts([label_text(name) for name in names])  # (L, D)
    labelled, label_of = np.concatenate(vectors), np.concatenate(members)  # (M, D), (M,)
    sums = np.stack([v.sum(0) for v in vectors])  # (L, D)
    counts = np.array([len(v) for v in vectors], np.float32)
    prototypes = _blend(sums / counts[:, None], texts, text_weight)
    scores = _left_out_scores(labelled, label_of, sums, counts, prototypes, texts, text_weight)  # (M, L)
    own = scores[np.arange(len(labelled)), label_of]
    return Labels(str(root), tuple(names), prototypes, _fit_temperature(scores, label_of),
                  np.array([_spread(own[label_of == j]) for j in range(len(names))]))


def suggest(catalog: Catalog, runtime: ModelRuntime, labels: Labels) -> list[Suggestion]:
    """A suggestion for every catalogued file outside the labelled root, the most confident first (photos the
    active model has not indexed yet get none, and exact copies of a photo already in a label folder neither)."""
    inside = catalog.image_ids_where(filter_conditions(labels.root))
    ids, vectors = _mapped(catalog, runtime, catalog.live_image_ids() - inside)
    if not len(ids):
        return []
    confidences = labels.confidences(vectors)  # (N, L)
    top = np.argsort(-confidences, axis=1)[:, :2]
    files = catalog.files_for_images(ids)
    out = [Suggestion(record.path, int(image_id), labels.names[first], float(p[first]), labels.names[second], float(p[second]))
           for image_id, p, (first, second) in zip(ids, confidences, top) for record in files.get(int(image_id), [])]
    return sorted(out, key=lambda s: (-s.confidence, s.path))


def _mapped(catalog: Catalog, runtime: ModelRuntime, image_ids) -> tuple[np.ndarray, np.ndarray]:
    """(image ids (N,), their shared-space vectors (N, D)) for those of `image_ids` with stored features."""
    chunks = list(catalog.features(runtime.manifest.image_encoder_id, image_ids=set(image_ids))) if image_ids else []
    if not chunks:
        return np.zeros(0, np.int64), np.zeros((0, runtime.manifest.embedding_dim), np.float32)
    return np.concatenate([ids for ids, _ in chunks]), runtime.map_images(np.concatenate([f for _, f in chunks]))


def _blend(means: np.ndarray, texts: np.ndarray, text_weight: float) -> np.ndarray:
    """Prototypes (L, D): the normalised photo means and label texts, weighted, normalised."""
    blended = (1 - text_weight) * _unit(means) + text_weight * texts
    return _unit(blended)


def _left_out_scores(labelled, label_of, sums, counts, prototypes, texts, text_weight) -> np.ndarray:
    """Each labelled photo's cosines to the prototypes (M, L), its own label's made without it (a photo
    alone in its label keeps its own: nothing to leave out)."""
    scores = labelled.astype(np.float64) @ prototypes.T  # (M, L)
    rows = np.arange(len(labelled))
    alone = counts[label_of] < 2
    own = (sums[label_of] - labelled) / np.maximum(counts[label_of] - 1, 1)[:, None]  # (M, D)
    loo = np.einsum("md,md->m", labelled, _blend(own, texts[label_of], text_weight))
    scores[rows, label_of] = np.where(alone, scores[rows, label_of], loo)
    return scores


def _fit_temperature(scores: np.ndarray, label_of: np.ndarray) -> float:
    """The temperature whose softmax of `scores` (M, L) best predicts each photo's label (least log loss)."""
    rows = np.arange(len(scores))
    losses = [-np.log(_softmax(scores / t)[rows, label_of] + 1e-12).mean() for t in _TEMPERATURES]
    return float(_TEMPERATURES[int(np.argmin(losses))])


def _spread(cosines: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of a label's own cosines; the deviation at least 0.01, so a label of
    one photo, or of near copies, does not refuse every other photo."""
    return float(cosines.mean()), max(float(cosines.std()), 0.01)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- filing and undo ----------------------------------------------------------------------

@dataclass(frozen=True)
class Filed:
    """One photo filed by a batch: where it came from, where it went, and what it was."""

    source: str
    dest: str
    size: int
    content_hash: str


@dataclass(frozen=True)
class Batch:
    """What one "accept" did: copied or moved these photos into label folders."""

    action: str  # file_actions.COPY or MOVE
    filed: tuple[Filed, ...]
    errors: tuple[str, ...] = ()  # one line per photo that could not be filed (not journalled)


@dataclass(frozen=True)
class UndoResult:
    """What undoing a batch did: the files it put back (or deleted), and those it left, with why."""

    undone: tuple[str, ...]
    left: tuple[tuple[str, str], ...]  # (path, reason)


def file_photos(accepted: list[tuple[str, str]], root: str | Path, action: str = COPY,
                catalog: Catalog | None = None, cancel: threading.Event | None = None,
                on_filed: Callable[[FileOutcome], None] | None = None) -> Batch:
    """Copy or move each accepted (photo path, label) into root/label/ (desktop/core/file_actions.py: names
    never overwrite, the catalog kept right when given) and journal the batch. A full disk stops it
    (DiskFullError), and so does `cancel` after the photo in hand, what was filed before still journalled.
    `on_filed(outcome)` hears of each photo as it is done (or could not be), for a progress bar."""
    if action not in (COPY, MOVE):
        raise ValueError(f"action must be {COPY} or {MOVE}, not {action!r}")
    by_label: dict[str, list[str]] = {}
    for path, label in accepted:
        by_label.setdefault(label, []).append(path)
    filed, errors = [], []
    try:
        for label, paths in by_label.items():
            for outcome in (copy_to if action == COPY else move_to)(paths, Path(root) / label, catalog, cancel):
                if on_filed is not None:
                    on_filed(outcome)
                if not outcome.done:
                    errors.append(outcome.error)
                elif outcome.target != outcome.source:  # a move into the folder it is already in does nothing
                    filed.append(Filed(outcome.source, outcome.target, Path(outcome.target).stat().st_size, file_hash(outcome.target)))
    finally:
        if filed:
            _save_journal([*_journal(), Batch(action, tuple(filed))])
    return Batch(action, tuple(filed), tuple(errors))


def last_batch() -> Batch | None:
    """The batch `undo_last` would reverse, None when there is none."""
    batches = _journal()
    return batches[-1] if batches else None


def undo_last(catalog: Catalog | None = None) -> UndoResult | None:
    """Reverse the last batch filed (None when there is none): its copies deleted, its moved photos moved back;
    a file changed since, or a place now taken, is left as it is and said why."""
    batches = _journal()
    if not batches:
        return None
    batch = batches[-1]
    undone, left = [], []
    for item in batch.filed:
        dest, source = Path(item.dest), Path(item.source)
        if not dest.is_file() or dest.stat().st_size != item.size or file_hash(dest) != item.content_hash:
            left.append((item.dest, "changed or gone since it was filed; left as it is"))
        elif batch.action == MOVE and source.exists():
            left.append((item.dest, f"{source} exists again; moved nothing back over it"))
        elif batch.action == COPY:
            dest.unlink()
            if catalog is not None:
                catalog.remove_files([item.dest])
            undone.append(item.dest)
        else:
            outcome = next(move_to([dest], source.parent, catalog))
            if outcome.done:
                undone.append(item.dest)
            else:
                left.append((item.dest, outcome.error))
    _save_journal(batches[:-1])
    return UndoResult(tuple(undone), tuple(left))


def file_hash(path: str | Path) -> str:
    """The content hash the catalog identifies a photo by (blake2b, 16 bytes, hex)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _journal() -> list[Batch]:
    path = data_dir() / JOURNAL
    if not path.is_file():
        return []
    data = json.loads(path.read_text("utf-8"))
    if data.get("version") != JOURNAL_VERSION:
        raise PicsiftError(f"{path}: written by another picsift version; delete it to start a new undo history")
    return [Batch(b["action"], tuple(Filed(**f) for f in b["filed"])) for b in data["batches"]]


def _save_journal(batches: list[Batch]) -> None:
    write_text_atomic(data_dir() / JOURNAL, json.dumps({"version": JOURNAL_VERSION, "batches": [asdict(b) for b in batches]}, indent=1))
