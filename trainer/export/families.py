"""Load a transformers dual encoder (CLIP, ALIGN, AltCLIP, GroupViT, SigLIP, SigLIP 2) and split it into a TowerPair.

Each family is cut at the same place: the encoders stop at the towers' pooled features, *before*
the projection, and the mappers are the model's own projections followed by L2 normalisation, so
    image_mapper(image_encoder(x)) == normalize(model.get_image_features(x).pooler_output)
and likewise for text. The cut per family (transformers 5.x source):
    family    image features (pooler)   image mapper       text features             text mapper
    clip      CLS + post-LayerNorm      visual_projection  hidden at end-of-text     text_projection
    align     EfficientNet avg pool     none (identity)    last_hidden_state[:, 0]   text_projection
    altclip   CLS + post-LayerNorm      visual_projection  last_hidden_state[:, 0]*  text_projection
    groupvit  mean of group tokens      MLP (BatchNorm)    hidden at end-of-text     MLP (BatchNorm)
    siglip    MAP attention-pool head   none (identity)    hidden at last position** text_model.head
    siglip2   MAP head, NaFlex tower*** none (identity)    hidden at last position** text_model.head
* AltCLIP's text model already applies its `transformation` Linear, so position 0 of its
  last_hidden_state is its pooler_output.
** SigLIP's texts are padded to the fixed length they were trained with (64 for Google's checkpoints,
  text.padding "max_length") and read with no attention mask, as big_vision trained them: the last
  position, padding or not, pools. The graph still declares attention_mask (trainer.export.bundle keeps it).
*** Siglip2Model (model_type "siglip2", NaFlex) takes patches + pixel_attention_mask + spatial_shapes;
  the bundle's graph takes square (B, 3, H, W) pixels and patchifies inside for one fixed grid of
  sqrt(max_num_patches) patches a side (SquareNaFlexVision). Fixed-resolution SigLIP 2 checkpoints
  (google/siglip2-base-patch16-224) are model_type "siglip" with a Gemma tokenizer: the first row.
  Both SigLIP processors squash the photo to size x size (image_preprocess.resize "squash").
Scores: SigLIP was trained with a sigmoid, logit = cosine * exp(logit_scale) + logit_bias; its bundle
records both in its provenance, while its embeddings are unit vectors like every family's, so
picsift's relevance scale, calibrated per bundle from cosines (desktop.core.calibration), applies.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from torch import nn
from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

from models import paths, registry
from models.errors import PicsiftError, first_line
from models.manifest import CONVERTED_FAMILIES, LONGEST, MAX_LENGTH
from models.preprocess import SHORTEST, SQUASH
from trainer.encoders.towers import TowerPair
from trainer.export.spm_tokenizer import siglip_tokenizer

FAMILIES = CONVERTED_FAMILIES  # each config model_type picsift converts; the one list both CLIs offer

_MODEL_CLASSES = {"clip": "CLIPModel", "align": "AlignModel", "altclip": "AltCLIPModel",
                  "groupvit": "GroupViTModel", "siglip": "SiglipModel", "siglip2": "Siglip2Model"}
_TEXT_POOLING = {"clip": "eos", "align": "cls", "altclip": "cls", "groupvit": "eos", "siglip": "last", "siglip2": "last"}
_SIGMOID_FAMILIES = ("siglip", "siglip2")  # sigmoid-trained: fixed-length texts, a logit bias, a text head
_CLIP_CONTEXT = 77  # tokens; the context length CLIP-style text towers were trained with
_LEGACY_EOS_ID = 2  # configs saved before transformers PR #24773 carry this placeholder
# PIL filter numbers -> the filters models.preprocess can apply. Lanczos is closest to bicubic;
# nearest, box and hamming are approximated by bilinear.
_RESAMPLE = {0: "bilinear", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bilinear"}


class VisionPooled(nn.Module):
    """pixel_values (B, 3, H, W) -> the vision tower's pooled output (B, Di), before projection."""

    def __init__(self, vision_model: nn.Module):
        super().__init__()
        self.vision_model = vision_model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixel_values=pixel_values).pooler_output  # (B, Di)


class ClsPooledText(nn.Module):
    """(input_ids, attention_mask) (B, L) int64 -> the first token's last hidden state (B, Dt)."""

    def __init__(self, text_model: nn.Module):
        super().__init__()
        self.text_model = text_model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        output = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        return output.last_hidden_state[:, 0, :]  # (B, Dt)


class EosPooledText(nn.Module):
    """(input_ids, attention_mask) (B, L) int64 -> the hidden state at end-of-text (B, Dt).

    Pools here rather than taking the text model's pooler_output so the exported graph's
    pooling is ours to pin down (see `eos_positions`); the text model's own pooling is then
    unused and dropped from the ONNX graph.
    """

    def __init__(self, text_model: nn.Module, eos_token_id: int):
        super().__init__()
        self.text_model = text_model
        self.eos_token_id = eos_token_id

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        output = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        hidden = output.last_hidden_state  # (B, L, Dt)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return hidden[rows, eos_positions(input_ids, self.eos_token_id)]  # (B, Dt)


def eos_positions(input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """(B, L) token ids -> (B,) int64 position of each row's end-of-text token, as HF finds it.

    Legacy configs (eos_token_id == 2) take the highest token id, which is end-of-text in OpenAI's
    vocabulary; newer ones take the first eos_token_id (padding may repeat it). A row without
    one pools position 0, as in transformers. Ties go to the first position in both torch and
    ONNX ArgMax. The ids are cast to int32 because ONNX Runtime has no int64 ArgMax kernel.
    """
    ids = input_ids.to(torch.int32)  # (B, L)
    if eos_token_id == _LEGACY_EOS_ID:
        return ids.argmax(dim=-1)
    return (ids == eos_token_id).to(torch.int32).argmax(dim=-1)


class LastTokenText(nn.Module):
    """(input_ids, attention_mask) (B, L) int64 -> the last position's hidden state (B, Dt), before the head.

    SigLIP was trained on fixed-length texts with no attention mask (big_vision; open_clip passes
    none): every position, padding too, is attended to. `attention_mask` is taken, as every text
    graph takes it, and ignored; transformers 5's tokenizer returns one, which would change the result.
    """

    def __init__(self, text_model: nn.Module):
        super().__init__()
        self.text_model = text_model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.text_model(input_ids=input_ids).last_hidden_state  # (B, L, Dt), after final_layer_norm
        return hidden[:, -1, :]  # (B, Dt)


class SquareNaFlexVision(nn.Module):
    """pixel_values (B, 3, G*P, G*P) -> a SigLIP 2 NaFlex vision tower's pooled output (B, Di), on a fixed G x G grid.

    Patchifies as Siglip2ImageProcessor does ((3, H, W) -> (G*G, P*P*3): patches row by row, each
    laid out (row, column, channel)) and gives every image spatial shape (G, G). No patch is padding,
    so no pixel_attention_mask is passed: HF's all-ones mask adds nothing to the attention.
    """

    def __init__(self, vision_model: nn.Module, patch_size: int, grid: int):
        super().__init__()
        self.vision_model = vision_model
        self.patch_size, self.grid = patch_size, grid
        self.register_buffer("spatial_shapes", torch.tensor([[grid, grid]]), persistent=False)  # (1, 2)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        g, p = self.grid, self.patch_size
        patches = pixel_values.reshape(-1, 3, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(-1, g * g, p * p * 3)
        shapes = self.spatial_shapes.expand(patches.shape[0], 2)  # (B, 2)
        output = self.vision_model(pixel_values=patches, pixel_attention_mask=None, spatial_shapes=shapes)
        return output.pooler_output  # (B, Di)


class ProjectAndNormalise(nn.Module):
    """features (B, D_in) -> the model's projection of them, L2-normalised (B, D)."""

    def __init__(self, projection: nn.Module | None = None):
        super().__init__()
        self.projection = projection if projection is not None else nn.Identity()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(features), dim=-1)  # (B, D)


def load_family_pair(source: str, family: str | None = None) -> TowerPair:
    """Load a CLIP/ALIGN/AltCLIP/GroupViT/SigLIP/SigLIP 2 model from a hub id or local folder as a TowerPair.

    `family` defaults to the config's model_type; raises PicsiftError when the model cannot be
    loaded or is of another kind.
    """
    source = str(source)
    _check_local_folder(source)
    config = _from_pretrained(AutoConfig, source, "its config")
    family = _family_of(config.model_type, family, source)
    model_class = getattr(transformers, _MODEL_CLASSES[family])
    # float32 whatever the checkpoint's dtype: TowerPair's tensor contract, and export parity.
    model = _from_pretrained(model_class, source, "its weights", dtype=torch.float32).eval()
    tokenizer = _from_pretrained(AutoTokenizer, source, "its tokenizer")
    # The PIL backend is the processor picsift's own Pillow preprocessing reproduces.
    processor = _from_pretrained(AutoImageProcessor, source, "its image processor", backend="pil")
    return TowerPair(
        family=family,
        image_encoder=_image_encoder(model, processor).eval(),
        text_encoder=_text_encoder(family, model).eval(),
        image_mapper=ProjectAndNormalise(getattr(model, "visual_projection", None)).eval(),
        text_mapper=ProjectAndNormalise(_text_projection(family, model)).eval(),
        image_preprocess=image_preprocess_of(processor),
        text=_text_settings(family, config.text_config, tokenizer),
        tokenizer_json=_tokenizer_json(source, tokenizer),
        provenance={"base_weights": _weights_name(source), "family": family, **_logit_parameters(model)},
    )


def _image_encoder(model: nn.Module, processor) -> nn.Module:
    if _is_naflex(processor):
        return SquareNaFlexVision(model.vision_model, int(processor.patch_size), naflex_grid(processor))
    return VisionPooled(model.vision_model)


def _text_encoder(family: str, model: nn.Module) -> nn.Module:
    if _TEXT_POOLING[family] == "eos":
        # transformers reads the text model's own eos_token_id attribute; so do we.
        return EosPooledText(model.text_model, model.text_model.eos_token_id)
    if _TEXT_POOLING[family] == "last":
        return LastTokenText(model.text_model)
    return ClsPooledText(model.text_model)


def _text_projection(family: str, model: nn.Module) -> nn.Module:
    """SigLIP's text tower ends in its own `head` Linear (no text_projection): that is its projection."""
    return model.text_model.head if family in _SIGMOID_FAMILIES else model.text_projection


def _logit_parameters(model: nn.Module) -> dict:
    """A sigmoid-trained model's logit = cosine * exp(logit_scale) + logit_bias, its raw parameters, for provenance."""
    if not hasattr(model, "logit_bias"):
        return {}
    return {"logit_scale": float(model.logit_scale.detach().reshape(())),
            "logit_bias": float(model.logit_bias.detach().reshape(()))}


def _check_local_folder(source: str) -> None:
    """A path-like source that is not a folder would otherwise be tried as a hub id."""
    looks_like_path = source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1
    if looks_like_path and not Path(source).expanduser().is_dir():
        raise PicsiftError(f"model folder {source!r} not found; check the path")


def _from_pretrained(loader, source: str, what: str, **kwargs):
    """`loader.from_pretrained(source)`, with hub and file failures turned into a PicsiftError."""
    try:
        return loader.from_pretrained(source, **kwargs)
    except ImportError as exc:  # a tokenizer whose backend package is missing (sentencepiece, tiktoken)
        raise PicsiftError(f"loading {what} from {source!r} needs a package that is not installed ({first_line(exc)}); "
                           "install it with pip and run the conversion again") from exc
    except (OSError, ValueError) as exc:  # missing files, no network, malformed hub id
        raise PicsiftError(
            f"could not load {what} from {source!r} ({first_line(exc)}); give a local model "
            "folder or a Hugging Face hub id, and for a hub id check the name and the network"
        ) from exc


def _family_of(model_type: str, family: str | None, source: str) -> str:
    if model_type not in FAMILIES:
        raise PicsiftError(
            f"{source!r} is a {model_type!r} model; picsift can load {', '.join(FAMILIES)} models"
        )
    if family is not None and family != model_type:
        raise PicsiftError(f"{source!r} is a {model_type!r} model, not {family!r}; drop the family")
    return model_type


def _text_settings(family: str, text_config, tokenizer) -> dict:
    """The runtime's tokenisation settings: pad with pad_id to the longest text, at most max_length,
    or (SigLIP) every text to max_length."""
    pad_token = tokenizer.pad_token or tokenizer.eos_token  # CLIP-style vocabularies pad with eos
    return {
        "max_length": _max_length(family, text_config, tokenizer),
        "pooling": _TEXT_POOLING[family],
        "pad_id": int(tokenizer.convert_tokens_to_ids(pad_token)),
        "pad_token": pad_token,
        "padding": MAX_LENGTH if family in _SIGMOID_FAMILIES else LONGEST,
    }


def _max_length(family: str, text_config, tokenizer) -> int:
    """Tokens the text tower can take: its positions, capped by the tokenizer and CLIP's 77."""
    positions = text_config.max_position_embeddings
    if family == "altclip":
        positions -= text_config.pad_token_id + 1  # XLM-R numbers positions from pad_token_id + 1
    limits = [positions]
    if tokenizer.model_max_length < 1_000_000:  # transformers' "no limit" is a huge sentinel
        limits.append(tokenizer.model_max_length)
    if _TEXT_POOLING[family] == "eos":
        limits.append(_CLIP_CONTEXT)
    return int(min(limits))


def _tokenizer_json(source: str, tokenizer) -> Path:
    """The folder's tokenizer.json, or one saved into the cache when it has none: from a fast tokenizer, or
    (SigLIP's SentencePiece vocabulary, which transformers cannot convert) built by trainer.export.spm_tokenizer."""
    local = Path(source).expanduser() / "tokenizer.json"
    if local.is_file():
        return local.resolve()
    folder = paths.cache_dir() / "tokenizers" / registry.safe_name(_weights_name(source))
    tokenizer.save_pretrained(folder)
    if type(tokenizer).__name__ == "SiglipTokenizer":  # by name: importing the class needs sentencepiece
        siglip_tokenizer(Path(tokenizer.vocab_file), tokenizer.all_special_tokens, tokenizer.eos_token,
                         tokenizer.do_lower_case).save(str(folder / "tokenizer.json"))
    if not (folder / "tokenizer.json").is_file():
        raise PicsiftError(f"{source!r}: its tokenizer cannot be converted to a tokenizer.json")
    return folder / "tokenizer.json"


def _weights_name(source: str) -> str:
    path = Path(source).expanduser()
    return str(path.resolve()) if path.is_dir() else source


def image_preprocess_of(processor) -> dict:
    """An image processor's settings as a models.preprocess.ImagePreprocess dict.

    HF's pipeline is resize -> centre crop -> x * rescale_factor (- 1 with rescale_offset) ->
    (x - image_mean) / image_std (do_normalize) -> x / image_std (include_top). All of it is
    affine per channel, so it folds into one (x / 255 - mean) / std. A shortest_edge resize keeps
    the aspect ratio (resize "shortest"); a fixed height x width one (SigLIP; EfficientNet/ALIGN,
    before its crop) squashes the photo to a square, and so does picsift (resize "squash"). Until
    that mode existed ALIGN was converted with "shortest", equal to its processor on square photos only.
    SigLIP 2's NaFlex processor keeps the aspect ratio within max_num_patches patches; picsift
    squashes to the fixed square grid the bundle's graph reads (naflex_grid), equal on square photos.
    """
    mean, std = _folded_normalisation(processor)
    return {
        **_geometry(processor),
        "resample": _RESAMPLE.get(int(processor.resample), "bicubic"),
        "mean": mean,
        "std": std,
    }


def _geometry(processor) -> dict:
    """The size, resize_to and resize fields."""
    if _is_naflex(processor):
        side = naflex_grid(processor) * int(processor.patch_size)
        return {"size": side, "resize_to": side, "resize": SQUASH}
    fixed = processor.do_resize and not _size_field(processor.size, "shortest_edge")
    return {"size": _crop_side(processor), "resize_to": _resize_side(processor), "resize": SQUASH if fixed else SHORTEST}


def _is_naflex(processor) -> bool:
    return bool(getattr(processor, "max_num_patches", None))


def naflex_grid(processor) -> int:
    """Patches a side of the square grid a NaFlex processor gives a square photo: sqrt(max_num_patches)."""
    return math.isqrt(int(processor.max_num_patches))


def _crop_side(processor) -> int:
    size = processor.crop_size if processor.do_center_crop else processor.size
    shortest = _size_field(size, "shortest_edge")
    if shortest:  # no crop after an aspect-keeping resize: the nearest picsift can do is crop it
        return int(shortest)
    height, width = _size_field(size, "height"), _size_field(size, "width")
    if height != width:
        raise PicsiftError(f"model input {height}x{width} is not square; picsift needs square")
    return int(height)


def _resize_side(processor) -> int:
    if not processor.do_resize:
        return _crop_side(processor)  # crop straight from the photo; the nearest picsift can do
    size = processor.size
    shortest = _size_field(size, "shortest_edge")
    return int(shortest or min(_size_field(size, "height"), _size_field(size, "width")))


def _size_field(size, key: str) -> int | None:
    """A field of a size spec: transformers 5 gives a SizeDict, older configs a plain dict."""
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def _folded_normalisation(processor) -> tuple[list[float], list[float]]:
    """(mean, std) in 0..1 units such that (x / 255 - mean) / std equals HF's pixel_values."""
    # HF's x * rescale_factor is (x / 255) * scale; without rescaling it works on 0..255 values.
    scale = 255.0 * (processor.rescale_factor if processor.do_rescale else 1.0)
    offset = 1.0 if processor.do_rescale and getattr(processor, "rescale_offset", False) else 0.0
    mean, std = _per_channel(0.0), _per_channel(1.0)
    if processor.do_normalize:
        mean, std = _per_channel(processor.image_mean), _per_channel(processor.image_std)
    if getattr(processor, "include_top", False):  # EfficientNet divides by image_std once more
        std = [s * t for s, t in zip(std, _per_channel(processor.image_std))]
    folded_mean = [round((offset + m) / scale, 10) for m in mean]
    folded_std = [round(s / scale, 10) for s in std]
    return folded_mean, folded_std


def _per_channel(value) -> list[float]:
    """A scalar or per-channel sequence -> three floats (R, G, B)."""
    values = [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]
    return values * 3 if len(values) == 1 else values
