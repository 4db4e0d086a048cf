"""Find the faces in a photo and describe each by 128 numbers, offline: dlib's detector, 5-point alignment and ResNet.

`FaceReader.read(image)` shrinks the photo to a `FACE_SIDE` long side, finds faces with dlib's HOG
detector (upsampled once, so faces from about 40 px on are seen) keeping those scoring `MIN_SCORE`
or more, places the 5 landmarks (eye corners, nose) of each, and embeds each face aligned by them
(`compute_face_descriptor` warps the face to dlib's 150 px chip first) into dlib's 128-d space,
where two faces of one person lie within about 0.6 of each other (euclidean).

Why dlib and not ONNX, why HOG by default (tests/benchmarks/faces.py measures, results/faces.json):
on this project's two shared cores the HOG detector takes ~0.15 s a photo, its CNN (MMOD) detector
~1.5 s (2-3 s at a full 1024 px), and the CNN missed a face HOG found, on the benchmark's real portraits; the embedding takes
~0.06 s a face, so an ONNX port of the ResNet (no converter exists for dlib's format) would save
little. `FaceReader(detector="cnn")` uses the CNN detector (better on turned and small faces).

The models are the files of the `face-recognition-models` package (Davis King's dlib-models, released
into the public domain, CC0): `mmod_human_face_detector.dat`, `shape_predictor_5_face_landmarks.dat`
(trained on dlib's own 5-point dataset) and `dlib_face_recognition_resnet_model_v1.dat`. The package
also holds the 68-point landmark model, whose training data (iBUG 300-W) forbids commercial use:
picsift never loads it. The package's own `__init__` needs pkg_resources, so it is never imported:
its folder is found with `importlib.util.find_spec`.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from models.errors import FaceReaderMissingError, FaceReadingError, first_line
from models.photo_reader import read_photo_file, rgb_array, shrunk

# Tuning constants; tests/benchmarks/faces.py measures them (results/faces.json).
FACE_SIDE = 1024  # long side (pixels) faces are looked for at: HOG 0.12-0.22 s there on the benchmark's photos
UPSAMPLE = 1  # the HOG detector's window is 80 px; one doubling finds faces of ~40 px of the 1024 px copy
MIN_SCORE = 0.3  # HOG score below which a detection is dropped (real faces >= 0.68 on the benchmark, a suit patch 0.15)
MIN_CNN_CONFIDENCE = 0.5  # the same for the CNN detector (its faces scored 0.74-1.12)
READ_MIN_SIDE = 768  # a JPEG decodes reduced while its short side stays >= this (4000x3000 -> 2000x1500)
INSTALL = "pip install 'picsift[faces]'  (or: pip install dlib-bin face-recognition-models==0.3.0)"
DETECTORS = ("hog", "cnn")

_MODELS = {  # role -> file of the face-recognition-models package (never the 68-point model)
    "cnn": "mmod_human_face_detector.dat",
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "embedding": "dlib_face_recognition_resnet_model_v1.dat",
}


@dataclass(frozen=True)
class Face:
    """One face found in a photo."""

    box: tuple[float, float, float, float]  # left, top, right, bottom as fractions (0-1) of the image's width and height
    score: float  # the detector's score (HOG: margin, ~0-3; CNN: confidence, ~0.5-1.2)
    landmarks: tuple[tuple[float, float], ...]  # 5 points (x, y) as fractions: eye corners and the bottom of the nose
    embedding: np.ndarray  # (128,) float32; the same person within ~0.6 euclidean


class FaceReader:
    """Finds and embeds faces; loads dlib and its models on first use, once.

    One reader may be shared by threads: reads take turns (dlib's HOG detector runs on one core)."""

    def __init__(self, detector: str = "hog"):
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
        self.detector = detector
        self._lock = threading.Lock()
        self._models = None

    def read(self, image: Image.Image | np.ndarray, source: str | Path = "image") -> list[Face]:
        """The faces of an upright image (PIL, or an (H, W, 3) uint8 RGB array), best score first.

        Raises FaceReaderMissingError when dlib or its models are not installed, FaceReadingError
        when dlib cannot process this image."""
        rgb = shrunk(np.ascontiguousarray(rgb_array(image)), FACE_SIDE)
        with self._lock:
            models = self.loaded()
            try:
                return _faces(models, rgb, self.detector)
            except RuntimeError as exc:  # dlib's own errors (an image it cannot take)
                raise FaceReadingError(f"{source}: faces could not be read ({first_line(exc)}); the photo is skipped") from exc

    def read_file(self, path: str | Path) -> list[Face]:
        """`read` for a photo file, decoded the one way picsift decodes (ImageError when unreadable)."""
        return self.read(read_photo_file(path, READ_MIN_SIDE).image, source=path)

    def loaded(self) -> dict:
        """dlib's models, loaded on the first call (FaceReaderMissingError when they cannot be)."""
        if self._models is None:
            self._models = _load_models(self.detector)
        return self._models


def models_folder() -> Path:
    """Where the face-recognition-models package keeps its files (FaceReaderMissingError when not installed)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceReaderMissingError(f"finding people in photos needs the face models (face-recognition-models); run `{INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _load_models(detector: str) -> dict:
    try:
        import dlib
    except ImportError as exc:
        raise FaceReaderMissingError(f"finding people in photos needs dlib ({exc}); run `{INSTALL}`") from exc
    folder = models_folder()
    for name in _MODELS.values():
        if not (folder / name).is_file():
            raise FaceReaderMissingError(f"the face model {name} is missing from {folder}; run `pip install --force-reinstall face-recognition-models==0.3.0`")
    try:
        return {
            "detect": dlib.cnn_face_detection_model_v1(str(folder / _MODELS["cnn"])) if detector == "cnn" else dlib.get_frontal_face_detector(),
            "landmarks": dlib.shape_predictor(str(folder / _MODELS["landmarks"])),
            "embed": dlib.face_recognition_model_v1(str(folder / _MODELS["embedding"])),
            "dlib": dlib,
        }
    except RuntimeError as exc:  # a damaged model file
        raise FaceReaderMissingError(f"the face models in {folder} cannot be loaded ({first_line(exc)}); "
                                     "run `pip install --force-reinstall face-recognition-models==0.3.0`") from exc


def _faces(models: dict, rgb: np.ndarray, detector: str) -> list[Face]:
    """Detect, place landmarks, embed (aligned): the faces of `rgb`, best score first."""
    dlib = models["dlib"]
    if detector == "cnn":
        found = [(d.rect, d.confidence) for d in models["detect"](rgb, 0) if d.confidence >= MIN_CNN_CONFIDENCE]
    else:
        rects, scores, _ = models["detect"].run(rgb, UPSAMPLE, MIN_SCORE)
        found = list(zip(rects, scores))
    if not found:
        return []
    found.sort(key=lambda pair: -pair[1])
    shapes = dlib.full_object_detections()
    for rect, _ in found:
        shapes.append(models["landmarks"](rgb, rect))
    embeddings = np.asarray(models["embed"].compute_face_descriptor(rgb, shapes), np.float32)  # (F, 128)
    height, width = rgb.shape[:2]
    faces = []
    for (rect, score), shape, embedding in zip(found, shapes, embeddings):
        box = (_fraction(rect.left(), width), _fraction(rect.top(), height), _fraction(rect.right(), width), _fraction(rect.bottom(), height))
        points = tuple((_fraction(p.x, width), _fraction(p.y, height)) for p in shape.parts())
        faces.append(Face(box, float(score), points, embedding))
    return faces


def _fraction(value: float, extent: int) -> float:
    return min(1.0, max(0.0, float(value) / extent))
