"""A `tokenizers` tokenizer.json for SigLIP's SentencePiece vocabulary (spiece.model), encoding like SiglipTokenizer.

transformers has no fast converter for SiglipTokenizer, a slow tokenizer that, for each text t:
  1. prefixes "▁" and turns any "▁" in t into a space, then canonicalises (big_vision's canonicalize_text):
     lowercases (do_lower_case), deletes ASCII punctuation (string.punctuation), collapses every run of
     whitespace (Python's str.isspace) to one space and strips the end;
  2. encodes "<unk>" + that text with SentencePiece and drops the pieces of "<unk>": SentencePiece
     normalises with the model's precompiled charsmap (NFKC), collapses runs of spaces (a leading one
     into the "▁" prefix), strips trailing ones, escapes spaces as "▁", then takes the Viterbi path
     through the unigram pieces over the whole string (consecutive unknown characters fuse into one <unk>);
  3. appends "</s>".
The tokenizer built here runs the same steps as normalizers, a Unigram model and a post-processor. Special
tokens typed in a text ("a </s> b") are cut out first, as the slow tokenizer's added-token trie does.
Not reproduced (tests/trainer/test_spm_tokenizer.py checks the rest): the text after a special token gets
the "▁" prefix here, the slow tokenizer gives it only to the start of the text; a text ending in "</s>"
gets a second one here (SigLIP's pad id, so only the attention mask differs); a compatibility form that
NFKC turns into a control piece ("＜／ｓ＞") matches that piece here, SentencePiece never does; and
Python's final sigma (str.lower maps a word-final "Σ" to "ς", Rust's per-character lowercase to "σ").
"""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, processors
from tokenizers.models import Unigram
from transformers.convert_slow_tokenizer import import_protobuf

SPACE = "▁"  # SentencePiece's escaped space (U+2581)


def siglip_tokenizer(spiece_model: Path, special_tokens: list[str], eos_token: str = "</s>",
                     do_lower_case: bool = True) -> Tokenizer:
    """The tokenizer SiglipTokenizer(spiece_model) is, as a `tokenizers.Tokenizer` (save it as tokenizer.json).

    special_tokens: the slow tokenizer's all_special_tokens, which it cuts out of a text before step 1.
    """
    proto = import_protobuf().ModelProto.FromString(Path(spiece_model).read_bytes())
    pieces = [piece.piece for piece in proto.pieces]
    tokenizer = Tokenizer(Unigram([(piece.piece, piece.score) for piece in proto.pieces],
                                  unk_id=proto.trainer_spec.unk_id, byte_fallback=proto.trainer_spec.byte_fallback))
    tokenizer.normalizer = normalizers.Sequence(
        _canonicalisation(do_lower_case) + _sentencepiece_normalisation(proto.normalizer_spec))
    # lstrip/rstrip: the slow tokenizer's special AddedTokens eat the whitespace beside them.
    tokenizer.add_special_tokens([AddedToken(token, lstrip=True, rstrip=True, normalized=False, special=True)
                                  for token in special_tokens])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos_token}", special_tokens=[(eos_token, pieces.index(eos_token))])
    tokenizer.decoder = decoders.Metaspace(replacement=SPACE, prepend_scheme="always")
    return tokenizer


def _canonicalisation(do_lower_case: bool) -> list:
    """Step 1: SiglipTokenizer.tokenize's "▁" swap and canonicalize_text, all before SentencePiece sees the text."""
    steps = [normalizers.Replace(SPACE, " ")]
    if do_lower_case:
        steps.append(normalizers.Lowercase())
    # Every character str.isspace() accepts, as Python's `\s` and str.strip() do: the Rust side's notion of
    # whitespace lacks some (U+001C..U+001F), so the class is spelt out.
    whitespace = "[" + re.escape("".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())) + "]"
    return steps + [
        normalizers.Replace(Regex(f"[{re.escape(string.punctuation)}]"), ""),
        normalizers.Replace(Regex(f"{whitespace}+"), " "),
        normalizers.Replace(Regex(r"\A +| +\z"), ""),
    ]


def _sentencepiece_normalisation(spec) -> list:
    """Step 2's normaliser: charsmap, space runs, the "▁" prefix, escaped spaces. No pre-tokenizer follows:
    SentencePiece's Viterbi runs over the whole string."""
    steps = [normalizers.Precompiled(spec.precompiled_charsmap)] if spec.precompiled_charsmap else []
    if spec.remove_extra_whitespaces:
        # A space the charsmap leaves right after SiglipTokenizer's "▁" prefix merges into it, as at the end.
        steps += [normalizers.Replace(Regex(r"\A +| +\z"), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    # SiglipTokenizer writes "▁" in front of every text, whatever add_dummy_prefix says; Prepend leaves an
    # empty text empty, as SentencePiece strips that lone trailing "▁".
    return steps + [normalizers.Prepend(SPACE), normalizers.Replace(" ", SPACE)]
