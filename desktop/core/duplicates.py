"""Near-duplicate groups: photos whose instance descriptors (or, for older models, features) are almost the same.

The instance descriptor (the image encoder's GeM output) is made to recognise one photo after
edits; models without it fall back to the features (before the mapper), never the shared space:
the mapper keeps meaning ("a cat") and drops appearance, so two different cats would look alike there.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from desktop.core.catalog import FEATURES, INSTANCE_FEATURES, Catalog, FileRecord

# Cosine of instance descriptors above which two photos are one: the best F1 on the dev half of the
# distinct-photo library of tests/benchmarks/edited_copies.py with built-in model v1 (test: precision
# 0.95, recall 0.94; results/edited_copies_v1.json). With v2 the same threshold gives 0.88 / 0.94 and
# v2's dev half prefers 0.825 (results/edited_copies.json has both curves). Lower finds more heavily cropped or downscaled copies and merges more
# different photos of one scene (bursts, textures), higher the reverse.
DEFAULT_THRESHOLD = 0.775
# Cosine of EfficientNet-Lite0 features, for models without instance descriptors: re-encoded, resized or
# lightly edited copies of one photo score above this, different photos of similar scenes below.
FEATURE_THRESHOLD = 0.90
_BLOCK = 2048  # rows per similarity block: bounds memory at BLOCK x N floats


def duplicate_groups(catalog: Catalog, encoder_id: str, threshold: float | None = None, progress=None) -> list[list[FileRecord]]:
    """Groups of two or more files showing the same or nearly the same photo, largest group first.

    `threshold` None: DEFAULT_THRESHOLD on instance descriptors, FEATURE_THRESHOLD where the catalog has none."""
    space = space_of(catalog, encoder_id)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD if space == INSTANCE_FEATURES else FEATURE_THRESHOLD
    ids, vectors = _load(catalog, encoder_id, space)
    parent = np.arange(len(ids))
    for rows, cols in _similar_pairs(vectors, threshold, progress):
        for a, b in zip(rows, cols):
            _union(parent, a, b)
    roots = np.array([_find(parent, i) for i in range(len(ids))], dtype=np.int64)
    members: dict[int, list[int]] = {}
    for index, root in enumerate(roots):
        members.setdefault(int(root), []).append(int(ids[index]))
    files = catalog.files_for_images(ids.tolist())
    groups = [[record for image_id in group for record in files.get(image_id, [])] for group in members.values()]
    groups = [g for g in groups if len(g) > 1]  # exact copies share one image and form a group alone
    return sorted(groups, key=lambda g: (-len(g), g[0].path))


def space_of(catalog: Catalog, encoder_id: str) -> str:
    """The catalog table duplicates compare: instance descriptors when every image has one."""
    instance = catalog.count_features(encoder_id, INSTANCE_FEATURES)
    return INSTANCE_FEATURES if instance and instance == catalog.count_features(encoder_id) else FEATURES


def _load(catalog: Catalog, encoder_id: str, space: str) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(catalog.features(encoder_id, table=space))
    if not chunks:
        return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
    ids = np.concatenate([c[0] for c in chunks])
    vectors = np.concatenate([c[1] for c in chunks])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return ids, vectors


def _similar_pairs(vectors: np.ndarray, threshold: float, progress) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row indices, column indices) of pairs i < j with cosine >= threshold, block by block."""
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start : start + _BLOCK] @ vectors.T  # (b, N)
        rows, cols = np.nonzero(block >= threshold)
        rows = rows + start
        keep = rows < cols
        if progress is not None:
            progress(min(start + _BLOCK, len(vectors)), len(vectors))
        yield rows[keep], cols[keep]


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return int(i)


def _union(parent: np.ndarray, a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
