"""Frozen-encoder features cached on disk, so training a mapper never decodes an image twice.

Features come from the bundle's ONNX towers through models.runtime: faster than torch on a CPU,
and exactly what the app stores in its catalog. Files live under
    cache_dir()/features/<encoder id>/<fingerprint>.npz (images) or .npy (texts)
where the encoder id changes with the encoder's weights and its input transform (images) or its
weights, tokenizer and text spec (texts), and the fingerprint with the inputs: each image file's
path, size and modification time, or the bytes of an in-memory image; the texts themselves.
Writes are atomic; an unreadable cache file is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import paths
from models.atomic import write_bytes_atomic
from models.manifest import TEXT_ENCODER, TOKENIZER
from trainer.data.sources import Dataset, image_pixels

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when what a cache file holds, or how it is keyed, changes
Progress = Callable[[int, int], None]  # (done, total) items
_UNREADABLE_CACHE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


@dataclass(frozen=True)
class ImageFeatures:
    """Features of the readable images of a request, in request order."""

    features: np.ndarray  # (K, Di) float32
    indices: np.ndarray  # (K,) int64 dataset image index of each row
    skipped: list[str]  # one message per unreadable image left out


def image_features(runtime, dataset: Dataset, indices=None, batch_size: int = 64,
                   progress: Progress | None = None) -> ImageFeatures:
    """Image-encoder features of `indices` (all images when None), from the cache when it has them."""
    indices = np.arange(len(dataset.images), dtype=np.int64) if indices is None else np.asarray(indices, np.int64)
    path = features_dir(runtime.manifest.image_encoder_id) / f"{image_fingerprint(dataset, indices)}.npz"
    cached = _load(path, ("features", "kept", "skipped"))
    if cached is None:
        cached = _encode_images(runtime, dataset, indices, batch_size, progress)
        _save_npz(path, cached)
    elif progress is not None:
        progress(len(indices), len(indices))
    kept = cached["kept"].astype(bool)
    return ImageFeatures(cached["features"], indices[kept], [str(s) for s in cached["skipped"]])


def text_features(runtime, texts: list[str], batch_size: int = 256, progress: Progress | None = None) -> np.ndarray:
    """(N, Dt) float32 text-encoder features of `texts`, from the cache when it has them."""
    path = features_dir(text_encoder_id(runtime.manifest)) / f"{_sha256(json.dumps(list(texts)).encode())}.npy"
    cached = _load(path, None)
    if cached is not None:
        if progress is not None:
            progress(len(texts), len(texts))
        return cached
    chunks = [np.zeros((0, runtime.manifest.text_feature_dim), np.float32)]
    for start in range(0, len(texts), batch_size):
        chunks.append(runtime.text_features(list(texts[start:start + batch_size])).astype(np.float32))
        if progress is not None:
            progress(min(start + batch_size, len(texts)), len(texts))
    features = np.concatenate(chunks)
    buffer = io.BytesIO()
    np.save(buffer, features)
    write_bytes_atomic(path, buffer.getvalue())
    return features


def features_dir(encoder_id: str) -> Path:
    return paths.cache_dir() / "features" / encoder_id


def text_encoder_id(manifest) -> str:
    """Identifies text features: same text encoder weights, tokenizer and text spec."""
    key = json.dumps({"tokenizer": manifest.files.get(TOKENIZER), "text": manifest.text.to_dict()}, sort_keys=True)
    return manifest.files[TEXT_ENCODER][:16] + "-" + _sha256(key.encode())[:8]


def image_fingerprint(dataset: Dataset, indices: np.ndarray) -> str:
    """sha256 of the requested images: path, size and mtime of files; the pixels of arrays."""
    digest = hashlib.sha256(f"picsift-image-features-v{CACHE_VERSION}\n".encode())
    for index in indices:
        ref = dataset.images[index]
        if ref.path is None:
            row = np.ascontiguousarray(dataset.arrays[ref.row])
            digest.update(f"array {row.shape} {row.dtype}\n".encode())
            digest.update(row.tobytes())
        else:
            digest.update(f"file {ref.path} {_size_and_mtime(ref.path)}\n".encode())
    return digest.hexdigest()


def _size_and_mtime(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _encode_images(runtime, dataset: Dataset, indices: np.ndarray, batch_size: int,
                   progress: Progress | None) -> dict[str, np.ndarray]:
    spec = runtime.manifest.image_preprocess
    features = [np.zeros((0, runtime.manifest.image_feature_dim), np.float32)]
    kept, skipped = [], []
    for start in range(0, len(indices), batch_size):
        pixels = image_pixels(dataset, indices[start:start + batch_size], spec)
        if len(pixels.values):
            features.append(runtime.image_features(pixels.values).astype(np.float32))  # (B, Di)
        kept.append(pixels.kept)
        skipped += pixels.skipped
        if progress is not None:
            progress(min(start + batch_size, len(indices)), len(indices))
    return {"features": np.concatenate(features), "kept": np.concatenate(kept or [np.zeros(0, bool)]),
            "skipped": np.array(skipped, dtype=str)}


def _load(path: Path, keys: tuple[str, ...] | None) -> dict[str, np.ndarray] | np.ndarray | None:
    """The cached arrays (.npz: those named `keys`; .npy: the array), or None when absent or
    unreadable, in which case the caller computes them again."""
    if not path.is_file():
        return None
    try:
        if keys is None:
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as loaded:
            return {key: loaded[key] for key in keys}
    except _UNREADABLE_CACHE as exc:
        log.warning("%s: unreadable feature cache (%s); computing again", path, exc)
        return None


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
