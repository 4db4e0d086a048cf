"""Query tokenisation with the `tokenizers` library alone (no transformers at inference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from models.errors import BundleError
from models.manifest import MAX_LENGTH, TextSpec


class TextTokenizer:
    """Turns strings into padded (input_ids, attention_mask) int64 arrays for the text encoder."""

    def __init__(self, tokenizer_json: Path, spec: TextSpec):
        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        except Exception as exc:  # tokenizers raises plain Exception subclasses from Rust
            raise BundleError(f"{tokenizer_json}: tokenizer cannot be loaded ({exc}); re-export the bundle") from exc
        self._tokenizer.enable_truncation(max_length=spec.max_length)
        fixed = spec.max_length if spec.padding == MAX_LENGTH else None  # None: to the batch's longest
        self._tokenizer.enable_padding(pad_id=spec.pad_id, pad_token=spec.pad_token, length=fixed)

    @property
    def vocab_size(self) -> int:
        """How many token ids exist; every id (the pad id too) lies below it."""
        return self._tokenizer.get_vocab_size()

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """texts -> input_ids (B, L) int64, attention_mask (B, L) int64, padded to the longest
        (or every row to max_length when the spec's padding is "max_length")."""
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        return input_ids, attention_mask
