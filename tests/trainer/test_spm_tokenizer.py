"""A SigLIP folder with only spiece.model gets a tokenizer.json that encodes exactly like SiglipTokenizer."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sentencepiece
from tiny_models import SIGLIP_LENGTH, make_tiny
from transformers import SiglipTokenizer

from models import registry
from models.runtime import ModelRuntime
from trainer.cli import main as trainer_main
from trainer.export.spm_tokenizer import siglip_tokenizer

GLOSSES = Path(__file__).parents[2] / "models" / "data" / "imagenet_glosses.txt"
SIGLIP_MAX_LENGTH = 64  # google/siglip-*'s text positions, every text padded to them

TEXTS = [
    "a photo of a cat", "A Photo, of a CAT!!", "!!hello", "don't stop-me now", "(x) [y] {z} <w> a/b c:d",
    "", " ", " hello", "hello ", "  leading   and\ttrailing \n ", "tab\there", "\u00a0nbsp\u2003em\x1cfs",
    "café naïve Ångström", "İstanbul", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ！", "ﬁne ﬂy ½ ²", "a ¨ b", "\u200bzero\u200bwidth",
    "日本語 テキスト", "emoji 🐶🐱 dogs", "zqxj qqqq zzz", "x▁y ▁z", "▁",
    "</s>", "<unk>",  # special tokens alone are cut out whole, as the slow tokenizer's trie does
    "word " * 80,  # past max_length: truncated, still ending in </s>
]


@pytest.fixture(scope="module")
def spiece_model(tmp_path_factory) -> Path:
    """A real unigram SentencePiece model (T5/SigLIP ids: pad 0, eos 1, unk 2, no bos) trained on WordNet glosses.

    Character coverage below 1 leaves rare letters out, so unknown characters occur.
    """
    lines = [line for line in GLOSSES.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=400, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.98, num_threads=1, minloglevel=2)
    path = tmp_path_factory.mktemp("spm") / "spiece.model"
    path.write_bytes(model.getvalue())
    return path


def _slow_ids(slow: SiglipTokenizer, texts: list[str], max_length: int) -> dict[str, list[int]]:
    return {t: slow(t, padding="max_length", max_length=max_length, truncation=True)["input_ids"] for t in texts}


def test_generated_tokenizer_gives_siglip_tokenizers_ids_for_punctuation_case_spaces_accents_and_unknowns(spiece_model):
    slow = SiglipTokenizer(str(spiece_model))
    fast = siglip_tokenizer(spiece_model, slow.all_special_tokens, slow.eos_token, slow.do_lower_case)
    fast.enable_truncation(max_length=SIGLIP_MAX_LENGTH)
    fast.enable_padding(pad_id=slow.pad_token_id, pad_token=slow.pad_token, length=SIGLIP_MAX_LENGTH)
    expected = _slow_ids(slow, TEXTS, SIGLIP_MAX_LENGTH)
    assert {t: fast.encode(t).ids for t in TEXTS} == expected
    # The set really exercises what it claims: an unknown character, a truncated text, an empty one.
    assert slow.unk_token_id in expected["zqxj qqqq zzz"] or slow.unk_token_id in expected["日本語 テキスト"]
    assert expected["word " * 80][-1] == slow.eos_token_id != expected["word " * 80][0]
    assert expected[""][0] == slow.eos_token_id


def test_siglip_folder_with_only_spiece_model_converts_and_its_bundle_tokenises_like_siglip_tokenizer(
        spiece_model, tmp_path):
    source = make_tiny("siglip", tmp_path / "siglip", spiece_model=spiece_model)
    assert (source / "spiece.model").is_file() and not (source / "tokenizer.json").exists()
    assert trainer_main(["convert", str(source), "--name", "tiny-siglip-spm"]) == 0  # parity gate included
    runtime = ModelRuntime(registry.open_installed("tiny-siglip-spm"), device="cpu")
    slow = SiglipTokenizer.from_pretrained(source)
    text = runtime.manifest.text
    assert (text.pad_id, text.pad_token, text.padding) == (slow.pad_token_id, "</s>", "max_length")
    assert text.max_length == SIGLIP_LENGTH  # the tiny tower's positions, below the tokenizer's 64
    ids, mask = runtime.tokenizer(TEXTS)
    assert dict(zip(TEXTS, ids.tolist())) == _slow_ids(slow, TEXTS, SIGLIP_LENGTH)
    assert runtime.manifest.provenance["export_parity"]["text_encoder"]["min_cosine"] >= 0.9999
