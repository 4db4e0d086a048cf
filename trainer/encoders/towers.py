"""The torch side of a model bundle: two encoder towers, two mappers and their preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn


@dataclass
class TowerPair:
    """Everything export needs to write a bundle; each family module builds one.

    Tensor contracts (all float32 unless said otherwise; B = batch, L = tokens):
      image_encoder(pixel_values (B, 3, H, W))                    -> features (B, Di)
      text_encoder(input_ids (B, L) int64, attention_mask (B, L) int64) -> features (B, Dt)
      image_mapper(features (B, Di)) -> embeddings (B, D), L2-normalised
      text_mapper(features (B, Dt))  -> embeddings (B, D), L2-normalised
    Optionally the image encoder also has `features_and_instance(pixel_values)` -> (features (B, Di),
    instance (B, Dn) L2-normalised) from one pass: the instance-level descriptor "find similar" and
    duplicates use (trainer.encoders.instance), exported as the image graph's second output.
    Encoder features are what the catalog stores ("before the mapper"), so a new mapper can
    re-map a library without decoding any image.
    A text tower that is already an ONNX graph reading raw strings (tokeniser inside, e.g.
    trainer.encoders.multilingual) comes as `text_encoder_onnx`, with text = {"input": "strings", ...}
    and no text_encoder or tokenizer_json: export copies it into the bundle, fixing its names.
      text_encoder_onnx: texts (B,) strings -> features (B, Dt)
    """

    family: str  # "builtin", "clip", "align", "altclip" or "groupvit"
    image_encoder: nn.Module
    text_encoder: nn.Module | None  # None when the text tower is `text_encoder_onnx`
    image_mapper: nn.Module
    text_mapper: nn.Module
    image_preprocess: dict  # models.preprocess.ImagePreprocess fields, see there
    text: dict  # models.manifest.TextSpec fields: {"max_length": int, "pooling": str, "pad_id": int, "pad_token": str}
    tokenizer_json: Path | None  # a tokenizers-library tokenizer.json; None for `text_encoder_onnx`
    provenance: dict = field(default_factory=dict)  # base weights, training data, metrics
    text_encoder_onnx: Path | None = None  # an ONNX text encoder reading raw strings (one string input, one output)

    def torch_modules(self) -> list[nn.Module]:
        """The encoders and mappers that are torch modules (not the text tower when it is `text_encoder_onnx`)."""
        return [m for m in (self.image_encoder, self.text_encoder, self.image_mapper, self.text_mapper) if m is not None]
