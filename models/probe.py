"""Run a bundle once on tiny inputs before calling it verified: the tokenizer (if any) loads, every graph runs,
its outputs are finite float32 at the declared widths, the mappers (and the instance output) give unit vectors.

Checksums only prove the files are the ones the manifest lists; this proves the bundle works. It
costs a few hundred milliseconds (sessions are created on CPU), so it runs when a bundle is
imported, or the first time an installed one is opened, and a marker file records that it passed.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from PIL import Image

from models.atomic import write_text_atomic
from models.bundle import Bundle
from models.errors import BundleError
from models.manifest import IMAGE_ENCODER, IMAGE_MAPPER, MANIFEST, TEXT_ENCODER, TEXT_MAPPER, TOKENIZER
from models.preprocess import preprocess
from models.runtime import ModelRuntime

PROBE_FILE = ".probed.json"  # in the bundle folder; never exported
PROBE_VERSION = 2  # raise it when the probe checks more, so bundles probed by an older picsift run it again
_LONG_QUERY_REPEATS = 100  # ~1400 characters, ~500 tokens: past what anyone types, ~0.1 s on the multilingual encoder
_UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed for a mapper's rows (float32 normalisation is ~1e-7 off)
# What session.run raises on a graph that loads but cannot run these inputs.
_RUN_ERRORS = (ort_state.Fail, ort_state.InvalidArgument, ort_state.RuntimeException, ort_state.NotImplemented)


def ensure_probed(bundle: Bundle) -> None:
    """Probe `bundle` unless its marker says this very manifest passed already; then write the marker."""
    stamp = _stamp(bundle)
    marker = bundle.path(PROBE_FILE)
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == stamp:
            return
    except (OSError, ValueError):
        pass  # no marker, or a torn one: probe
    probe_bundle(bundle)
    try:
        write_text_atomic(marker, json.dumps(stamp) + "\n")
    except OSError:
        pass  # a read-only bundle folder is probed again next time; slower, still correct


def probe_bundle(bundle: Bundle) -> None:
    """Run the tokenizer and all four graphs once on CPU; raises BundleError naming the file that fails."""
    manifest = bundle.manifest
    runtime = ModelRuntime(bundle, device="cpu")  # CPU: no GPU start-up for a check, and the same answer everywhere
    images = np.stack([preprocess(image, manifest.image_preprocess) for image in _probe_images(manifest.image_preprocess.resize_to)])
    # Two rows each, the texts of two lengths, one as long as the tokenizer lets through (a graph that
    # tokenises strings itself gets a long paragraph): a frozen batch or sequence axis, or a text
    # encoder shorter than max_length (position embeddings), fails here.
    if manifest.text.reads_strings:
        texts = ["a photo", "a long query, " * _LONG_QUERY_REPEATS]
    else:
        _check_tokenizer(bundle, runtime)
        texts = ["a photo", "word " * manifest.text.max_length]
    image_features = _checked(bundle, IMAGE_ENCODER, lambda: runtime.image_features(images), manifest.image_feature_dim)
    if runtime.has_instance:  # its instance descriptors are compared by dot product, like the mappers' rows
        instance = _checked(bundle, IMAGE_ENCODER, lambda: runtime.image_features_and_instance(images)[1], manifest.instance_dim)
        _check_unit_rows(bundle, IMAGE_ENCODER, instance)
    text_features = _checked(bundle, TEXT_ENCODER, lambda: runtime.text_features(texts), manifest.text_feature_dim)
    for file_name, run in ((IMAGE_MAPPER, lambda: runtime.map_images(image_features)), (TEXT_MAPPER, lambda: runtime.map_texts(text_features))):
        _check_unit_rows(bundle, file_name, _checked(bundle, file_name, run, manifest.embedding_dim))


def _check_tokenizer(bundle: Bundle, runtime: ModelRuntime) -> None:
    vocabulary = runtime.tokenizer.vocab_size  # loading it raises BundleError for a malformed tokenizer.json
    if bundle.manifest.text.pad_id >= vocabulary:
        raise BundleError(
            f"{bundle.folder}: manifest field text.pad_id is {bundle.manifest.text.pad_id}; allowed 0..{vocabulary - 1} "
            f"(inside {TOKENIZER}'s vocabulary); re-export the bundle"
        )


def _checked(bundle: Bundle, file_name: str, run, width: int) -> np.ndarray:
    """`run()`'s output, after checking it is a finite float32 (2, width) array."""
    try:
        out = run()
    except _RUN_ERRORS as exc:
        raise BundleError(f"{bundle.folder}: {file_name} fails on a probe input ({_first_line(exc)}); re-export the bundle") from exc
    problem = None
    if out.dtype != np.float32:
        problem = f"gives {out.dtype} values, expected float32"
    elif out.shape != (2, width):
        problem = f"gives shape {tuple(out.shape)} for 2 probe rows, the manifest declares width {width}"
    elif not np.isfinite(out).all():
        problem = "gives NaN or infinite values on a probe input"
    if problem:
        raise BundleError(f"{bundle.folder}: {file_name} {problem}; re-export the bundle")
    return out


def _check_unit_rows(bundle: Bundle, file_name: str, embeddings: np.ndarray) -> None:
    """Search scores are dot products, so each mapper must end in an L2 normalisation."""
    norms = np.linalg.norm(embeddings, axis=1)
    if np.abs(norms - 1.0).max() > _UNIT_TOLERANCE:
        raise BundleError(
            f"{bundle.folder}: {file_name} gives vectors of length {norms.min():.3g}..{norms.max():.3g}, "
            "expected unit length; re-export the bundle with a last step that L2-normalises"
        )


def _probe_images(side: int) -> list[Image.Image]:
    """A noise picture wider than tall (the resize and the crop both work) and a flat grey one."""
    noise = np.random.default_rng(0).integers(0, 256, (side, side + side // 2, 3), dtype=np.uint8)
    return [Image.fromarray(noise, "RGB"), Image.new("RGB", (side, side), (128, 128, 128))]


def _stamp(bundle: Bundle) -> dict:
    """What the marker must hold: the manifest (with every file's sha256, checked on open) it probed."""
    digest = hashlib.sha256(bundle.path(MANIFEST).read_bytes()).hexdigest()
    return {"probe_version": PROBE_VERSION, "manifest_sha256": digest}


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
