"""Query tokenisation: padded to the batch's longest text, or (SigLIP) every text to max_length."""

from __future__ import annotations

import numpy as np
from toy_bundle import minilm_tokenizer_json

from models.manifest import TextSpec
from models.text import TextTokenizer

CLS_ID, SEP_ID = 101, 102  # MiniLM's [CLS] and [SEP]


def test_texts_pad_to_the_longest_by_default():
    ids, mask = TextTokenizer(minilm_tokenizer_json(), TextSpec(8, "mean", 0, "[PAD]"))(["cat", "a red car"])
    assert ids.shape == (2, 5) and mask.tolist() == [[1, 1, 1, 0, 0], [1] * 5]


def test_fixed_padding_pads_every_text_to_max_length_and_truncates_longer_ones():
    spec = TextSpec(6, "last", 0, "[PAD]", padding="max_length")
    ids, mask = TextTokenizer(minilm_tokenizer_json(), spec)(["cat", "a very long sentence about boats on a lake"])
    assert ids.shape == (2, 6) and ids.dtype == np.int64
    assert ids[0].tolist()[0] == CLS_ID and ids[0].tolist()[2:] == [SEP_ID, 0, 0, 0]
    assert mask.tolist() == [[1, 1, 1, 0, 0, 0], [1] * 6] and ids[1, -1] == SEP_ID


def test_fixed_padding_round_trips_and_the_default_writes_no_padding_field():
    fixed = TextSpec(64, "last", 1, "</s>", padding="max_length")
    assert TextSpec.from_dict(fixed.to_dict()) == fixed and fixed.to_dict()["padding"] == "max_length"
    assert "padding" not in TextSpec(77, "eos", 0, "[PAD]").to_dict()
