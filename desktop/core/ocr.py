"""Read the text in a photo, offline: PP-OCRv6 through rapidocr on ONNX Runtime, gated so photos without text cost little.

`TextReader.read(image)` first runs the text detector alone on a copy whose long side is
`GATE_SIDE` pixels; a photo where it finds no region scoring `GATE_SCORE` or more comes back `[]`
at once. Only photos that pass run rapidocr's whole pipeline on the full picture (detection with
its long side capped at `FULL_SIDE`, the 0/180-degree direction classifier, recognition of the
regions found), and lines under `MIN_LINE_SCORE`, or without a single letter or digit, are dropped.
Text turned by 90 degrees still reads: rapidocr turns every region taller than it is wide before
recognising it, and the classifier then fixes the upside-down ones.

The models are the ONNX files inside rapidocr's wheel, named by path, so nothing is ever downloaded
(given no `model_path`, rapidocr would fetch a missing model from the internet). The recogniser
reads Chinese (simplified and traditional), Japanese, English and the Latin-script languages that
rapidocr's `default_models.yaml` lists for PP-OCRv6.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from models.errors import TextReaderMissingError, TextReadingError, first_line
from models.photo_reader import read_photo_file, rgb_array, shrunk

# Tuning constants; tests/benchmarks/ocr_throughput.py measures them (dev half chooses, test half reports).
GATE_SIDE = 480  # long side (pixels) of the gate's copy: ~60% of 640's cost on dev, text still scored >= 0.71 there
GATE_SCORE = 0.65  # a region's mean text probability needed to pass the gate (dev: text photos >= 0.71; rapidocr keeps >= 0.5)
FULL_SIDE = 2000  # long side (pixels) the full pass reads at most: rapidocr's own default
MIN_LINE_SCORE = 0.65  # recognition confidence below which a line is junk (best word F1 on dev)
READ_MIN_SIDE = 1024  # a JPEG decodes reduced while its short side stays >= this (4000x3000 -> 2000x1500)

_MODELS = {  # rapidocr config section -> the ONNX file inside its wheel
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}


@dataclass(frozen=True)
class TextLine:
    """One line of text found in a photo."""

    text: str
    score: float  # recognition confidence, 0-1
    box: tuple[tuple[float, float], ...]  # 4 corners (x, y), clockwise from top-left, as fractions (0-1) of the image's width and height


class TextReader:
    """Reads text lines from photos; loads rapidocr and its models on first use, once.

    One reader may be shared by threads: reads take turns (each already spreads over `threads`
    cores through ONNX Runtime, so running two at once would gain nothing).
    """

    def __init__(self, threads: int | None = None, gate: bool = True):
        self._threads = threads  # ONNX Runtime intra-op threads per model; None: all cores
        self._gate = gate  # False: every photo runs the whole pipeline (rapidocr at its defaults, for comparison)
        self._lock = threading.Lock()
        self._engine = None

    def read(self, image: Image.Image | np.ndarray, source: str | Path = "image") -> list[TextLine]:
        """The text lines of an upright image (PIL, or an (H, W, 3) uint8 RGB array), top to bottom.

        `source` names the image in errors. Raises TextReadingError when the OCR engine cannot
        process it; a wrong argument (not RGB, not uint8) is a bug and raises ValueError.
        """
        rgb = rgb_array(image)
        with self._lock:
            engine = self._loaded()
            try:
                if self._gate and _gate_score(engine, rgb) < GATE_SCORE:
                    return []
                return _lines(engine(np.ascontiguousarray(rgb[:, :, ::-1])), rgb.shape)  # rapidocr reads BGR
            except _engine_errors() as exc:
                raise TextReadingError(f"{source}: text could not be read ({first_line(exc)}); the photo is skipped") from exc

    def read_file(self, path: str | Path) -> list[TextLine]:
        """`read` for a photo file, decoded the one way picsift decodes (ImageError when unreadable)."""
        return self.read(read_photo_file(path, READ_MIN_SIDE).image, source=path)

    def gate_score(self, image: Image.Image | np.ndarray) -> float:
        """The gate alone: the best text region's score on the small copy (0 when none); `read` goes on at GATE_SCORE."""
        rgb = rgb_array(image)
        with self._lock:
            engine = self._loaded()
            try:
                return _gate_score(engine, rgb)
            except _engine_errors() as exc:
                raise TextReadingError(f"image: text could not be read ({first_line(exc)})") from exc

    def _loaded(self):
        if self._engine is None:
            self._engine = _load_engine(self._threads)
        return self._engine


def _load_engine(threads: int | None):
    """rapidocr on ONNX Runtime's CPU provider, every model named by its path inside the wheel."""
    try:
        import rapidocr
        from rapidocr import EngineType, RapidOCR
    except ImportError as exc:
        raise TextReaderMissingError(f"reading text in photos needs rapidocr ({exc}); run `pip install rapidocr==3.10.0`") from exc
    folder = Path(rapidocr.__file__).parent / "models"
    params = {"Global.log_level": "error", "Global.max_side_len": FULL_SIDE, "Global.text_score": float(MIN_LINE_SCORE)}
    for section, name in _MODELS.items():
        if not (folder / name).is_file():
            raise TextReaderMissingError(f"rapidocr's model {name} is missing from {folder}; run `pip install --force-reinstall rapidocr==3.10.0`")
        params[f"{section}.model_path"] = str(folder / name)
        params[f"{section}.engine_type"] = EngineType.ONNXRUNTIME
    if threads:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
    return RapidOCR(params=params)


def _gate_score(engine, rgb: np.ndarray) -> float:
    """The detector alone on a copy with a GATE_SIDE long side: the best region's score, 0 when none."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    detector = engine._load_det_model()  # rapidocr's own detector: the same session the full pass uses
    small = shrunk(rgb, GATE_SIDE)[:, :, ::-1]
    tensor = DetPreProcess(GATE_SIDE, "max", detector.mean, detector.std)(small)
    if tensor is None:  # a sliver that rounds to zero pixels
        return 0.0
    _, scores = detector.postprocess_op(detector.session(tensor), small.shape[:2])
    return float(max(scores, default=0.0))


def _lines(result, shape: tuple[int, ...]) -> list[TextLine]:
    """rapidocr's output (pixel boxes of the array it was given) -> kept lines, boxes as fractions."""
    if not getattr(result, "txts", None):
        return []
    height, width = shape[:2]
    lines = []
    for box, text, score in zip(result.boxes, result.txts, result.scores):
        text = text.strip()
        if score >= MIN_LINE_SCORE and any(ch.isalnum() for ch in text):
            corners = tuple((_fraction(x, width), _fraction(y, height)) for x, y in np.asarray(box, dtype=float))
            lines.append(TextLine(text, float(score), corners))
    return lines


def _fraction(value: float, extent: int) -> float:
    return min(1.0, max(0.0, float(value) / extent))


def _engine_errors() -> tuple[type[BaseException], ...]:
    """What rapidocr and OpenCV raise when an image defeats them (not bugs of ours)."""
    import cv2
    from rapidocr.ch_ppocr_det.utils import ResizeImgError
    from rapidocr.inference_engine.onnxruntime.main import ONNXRuntimeError

    return (ONNXRuntimeError, ResizeImgError, cv2.error)
