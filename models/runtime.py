"""Run a bundle with ONNX Runtime: batched image and text encoding and the mappers, CUDA or CoreML, then CPU."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.bundle import EXTENSIONS_DOMAIN, Bundle, imported_domains, open_bundle
from models.errors import BundleError
from models.manifest import (
    EMBEDDINGS,
    FEATURES,
    IMAGE_ENCODER,
    IMAGE_INPUT,
    IMAGE_MAPPER,
    INSTANCE,
    TEXT_ENCODER,
    TEXT_INPUTS,
    TEXT_MAPPER,
    TEXT_STRINGS,
    TOKENIZER,
)
from models.preprocess import load_and_preprocess
from models.text import TextTokenizer

CUDA = "CUDAExecutionProvider"
COREML = "CoreMLExecutionProvider"  # in the standard macOS wheel (Apple GPU and Neural Engine)
CPU = "CPUExecutionProvider"
_ACCELERATORS = (CUDA, COREML)  # in order of preference; each package has at most one of them
_ORT_ERROR_SEVERITY, _ORT_FATAL_SEVERITY = 2, 4
EXTENSIONS_INSTALL = "pip install onnxruntime-extensions==0.15.0"


def preferred_providers(device: str = "auto") -> list[str]:
    """Execution providers to ask for: the accelerator this onnxruntime build has (CUDA on Linux and
    Windows with onnxruntime-gpu, CoreML on macOS), then CPU for whatever it cannot run."""
    if device == "cpu":
        return [CPU]
    available = ort.get_available_providers()
    return [p for p in _ACCELERATORS if p in available][:1] + [CPU]


def create_session(path: Path, device: str = "auto") -> ort.InferenceSession:
    """An InferenceSession on the best provider that really loads.

    onnxruntime-gpu lists CUDA even where no GPU or CUDA library exists and then falls back to
    CPU after logging an error; that fallback is expected, so its log line is silenced here and
    `session.get_providers()` tells what really runs.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads would spin on the CPU between runs, starving the UI thread and the
    # decoders: off, the longest UI stall while indexing fell from ~140 to ~95 ms and indexing sped
    # up 31 -> 44 photos/s on 2 cores (tests/benchmarks/ui_responsiveness.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if EXTENSIONS_DOMAIN in imported_domains(path):  # a tokeniser inside the graph (models.bundle allows only those)
        options.register_custom_ops_library(_extensions_library(path))
    ort.set_default_logger_severity(_ORT_FATAL_SEVERITY)
    try:
        return ort.InferenceSession(str(path), options, providers=preferred_providers(device))
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise BundleError(f"{path}: ONNX Runtime cannot load this graph ({exc}); re-export the bundle") from exc
    finally:
        ort.set_default_logger_severity(_ORT_ERROR_SEVERITY)


def _extensions_library(path: Path) -> str:
    """The custom-op library file of onnxruntime-extensions, found without importing the package.

    Importing `onnxruntime_extensions` runs its converters' imports: onnx, transformers and torch, 5-6 s
    on 2 cores and torch in the app's query path. Its op library is a plain file in the package folder.
    """
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("onnxruntime_extensions")  # a top-level find runs none of the package's code
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            library = Path(folder) / f"_extensions_pydll{suffix}"
            if library.is_file():
                return str(library)
    raise BundleError(f"{path}: this graph tokenises text with onnxruntime-extensions, which is not installed; "
                      f"run `{EXTENSIONS_INSTALL}`")


class ModelRuntime:
    """A loaded bundle. Sessions are created on first use, so text search never waits for the image tower.

    Thread-safe: ONNX Runtime sessions may run concurrently; lazy creation is guarded by a lock.
    """

    def __init__(self, bundle: Bundle | str | Path, device: str = "auto"):
        self.bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle)
        self.manifest = self.bundle.manifest
        self.device = device
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._tokenizer: TextTokenizer | None = None
        self._lock = threading.Lock()

    # --- sessions -------------------------------------------------------------------------
    def _session(self, file_name: str) -> ort.InferenceSession:
        session = self._sessions.get(file_name)
        if session is None:
            with self._lock:
                session = self._sessions.get(file_name)
                if session is None:
                    session = create_session(self.bundle.path(file_name), self.device)
                    self._sessions[file_name] = session
        return session

    @property
    def tokenizer(self) -> TextTokenizer:
        """The bundle's tokenizer.json; only "tokens" bundles have one (a "strings" text encoder tokenises inside)."""
        if self.manifest.text.reads_strings:
            raise AttributeError(f"{self.bundle.folder}: this bundle's text encoder reads strings; it has no tokenizer")
        if self._tokenizer is None:
            self._tokenizer = TextTokenizer(self.bundle.path(TOKENIZER), self.manifest.text)
        return self._tokenizer

    def providers(self) -> dict[str, str]:
        """The execution provider really used by each tower loaded so far, e.g. {"text_encoder.onnx": "CPU"}."""
        return {name: session.get_providers()[0].removesuffix("ExecutionProvider") for name, session in self._sessions.items()}

    def active_provider(self) -> str:
        """"CUDA", "CoreML" or "CPU": what the image encoder (the heavy tower) runs on; loads it if needed."""
        return self._session(IMAGE_ENCODER).get_providers()[0].removesuffix("ExecutionProvider")

    # --- encoding -------------------------------------------------------------------------
    def image_features(self, pixel_values: np.ndarray) -> np.ndarray:
        """(B, 3, S, S) float32 preprocessed images -> (B, Di) features (what the catalog stores)."""
        return self._session(IMAGE_ENCODER).run([FEATURES], {IMAGE_INPUT: np.ascontiguousarray(pixel_values, np.float32)})[0]

    @property
    def has_instance(self) -> bool:
        """Whether the image encoder also gives the instance-level descriptor (bundles from before it do not)."""
        return self.manifest.instance_dim > 0

    def image_features_and_instance(self, pixel_values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(B, 3, S, S) preprocessed images -> ((B, Di) features, (B, Dn) unit instance descriptors or
        None when the bundle has none), from one run of the image encoder."""
        if not self.has_instance:
            return self.image_features(pixel_values), None
        features, instance = self._session(IMAGE_ENCODER).run(
            [FEATURES, INSTANCE], {IMAGE_INPUT: np.ascontiguousarray(pixel_values, np.float32)})
        return features, instance

    def text_features(self, texts: list[str]) -> np.ndarray:
        """texts -> (B, Dt) text features."""
        if len(texts) == 0:  # neither kind of text graph runs on an empty batch
            return np.zeros((0, self.manifest.text_feature_dim), np.float32)
        if self.manifest.text.reads_strings:  # (B,) object array of str: ONNX Runtime's string tensor
            feed = {TEXT_STRINGS: np.asarray(list(texts), dtype=object).reshape(-1)}
        else:
            feed = dict(zip(TEXT_INPUTS, self.tokenizer(texts)))
        return self._session(TEXT_ENCODER).run([FEATURES], feed)[0]

    def map_images(self, features: np.ndarray) -> np.ndarray:
        """(B, Di) image features -> (B, D) unit vectors in the shared space."""
        return self._map(IMAGE_MAPPER, features)

    def map_texts(self, features: np.ndarray) -> np.ndarray:
        """(B, Dt) text features -> (B, D) unit vectors in the shared space."""
        return self._map(TEXT_MAPPER, features)

    def _map(self, file_name: str, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros((0, self.manifest.embedding_dim), np.float32)
        return self._session(file_name).run([EMBEDDINGS], {FEATURES: np.ascontiguousarray(features, np.float32)})[0]

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """texts -> (B, D) unit vectors in the shared space."""
        return self.map_texts(self.text_features(texts))

    def encode_images(self, pixel_values: np.ndarray) -> np.ndarray:
        """(B, 3, S, S) preprocessed images -> (B, D) unit vectors in the shared space."""
        return self.map_images(self.image_features(pixel_values))

    def encode_image_files(self, paths: list[str | Path], batch_size: int = 32) -> np.ndarray:
        """Image files -> (B, D) unit vectors; raises ImageError on the first unreadable file."""
        spec = self.manifest.image_preprocess
        out = []
        for start in range(0, len(paths), batch_size):
            batch = np.stack([load_and_preprocess(p, spec) for p in paths[start : start + batch_size]])
            out.append(self.encode_images(batch))
        return np.concatenate(out) if out else np.zeros((0, self.manifest.embedding_dim), np.float32)
