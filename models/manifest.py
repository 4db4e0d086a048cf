"""The bundle manifest: what a model bundle holds and how to feed it, versioned and checked on load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import BundleError
from models.preprocess import RESAMPLE_FILTERS, RESIZE_MODES, SHORTEST, ImagePreprocess

# 2: text.input ("tokens" or "strings"); a version-1 manifest is a version-2 "tokens" one.
# 3: image_preprocess.resize and text.padding (SigLIP's squash and fixed length). Only a bundle that uses
#    them is written as version 3, so a picsift reading 1-2 refuses it instead of silently computing
#    other embeddings (cropping where the model squashes, padding shorter than it was trained with).
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"
IMAGE_ENCODER = "image_encoder.onnx"
TEXT_ENCODER = "text_encoder.onnx"
IMAGE_MAPPER = "image_mapper.onnx"
TEXT_MAPPER = "text_mapper.onnx"
TOKENIZER = "tokenizer.json"
BUNDLE_FILES = (IMAGE_ENCODER, TEXT_ENCODER, IMAGE_MAPPER, TEXT_MAPPER, TOKENIZER)  # every file a bundle may hold
GRAPH_FILES = (IMAGE_ENCODER, TEXT_ENCODER, IMAGE_MAPPER, TEXT_MAPPER)

# Fixed graph input/output names, written by trainer.export.bundle and relied on by the runtime.
IMAGE_INPUT = "pixel_values"
TEXT_INPUTS = ("input_ids", "attention_mask")  # a "tokens" text encoder's inputs, int64 (B, L)
TEXT_STRINGS = "texts"  # a "strings" text encoder's one input: the raw queries, a string tensor (B,)
TOKENS, STRINGS = "tokens", "strings"  # what the text encoder reads (TextSpec.input)
FEATURES = "features"
EMBEDDINGS = "embeddings"
INSTANCE = "instance"  # optional second output of the image encoder: the instance-level descriptor
LONGEST, MAX_LENGTH = "longest", "max_length"  # TextSpec.padding: to the batch's longest text, or every text to max_length
PADDINGS = (LONGEST, MAX_LENGTH)
# Manifest.family of a converted transformers dual encoder, its config's model_type: what trainer.export.families
# converts, and the `--family` choices of both command lines (desktop cannot import the trainer).
CONVERTED_FAMILIES = ("clip", "align", "altclip", "groupvit", "siglip", "siglip2")

# Sane ranges for the manifest's numbers: a bundle outside them is refused on load, naming the field,
# instead of failing later (a 60000 px input asks ~1.4 TB for one batch of 32 and gets picsift
# OOM-killed). They leave room well past every model picsift converts.
MAX_WIDTH = 16384  # feature/embedding floats; encoders in use are 384..1280 wide (CLIP-L 1024, ALIGN 640)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 1024  # crop side, px; models use 224..336; 32 x 3 x 1024^2 floats is 400 MB
MAX_RESIZE_TO = 2048  # shortest side before the crop, px; at least the crop side
MEAN_RANGE = (-1.0, 2.0)  # per channel, 0..1 units: pixels lie in 0..1, so a mean like 127 means 0..255 units
STD_RANGE = (1e-3, 10.0)  # per channel, 0..1 units: 0 divides by zero; 1e-3 is a quarter of one grey level
MAX_TOKENS = 2048  # text.max_length; CLIP reads 77, BERT-likes 512; attention cost grows with its square
MAX_PAD_ID = 2**31 - 1  # must also lie inside the tokenizer's vocabulary, which the probe checks


@dataclass(frozen=True)
class TextSpec:
    """What the text encoder reads. "tokens": ids from the bundle's tokenizer.json, truncated to
    `max_length` and padded with `pad_id` to the batch's longest text, or with `padding` "max_length"
    every text to `max_length` (SigLIP was trained on fixed-length texts and pools the last position).
    "strings": the raw queries, tokenised inside the graph (by an allowed onnxruntime-extensions op,
    see models.bundle), so the token fields are unused."""

    max_length: int = 0  # tokens, including special tokens ("tokens" only)
    pooling: str = "mean"  # how the text encoder pools tokens ("mean", "eos", "cls"); informational
    pad_id: int = 0  # ("tokens" only)
    pad_token: str = ""  # ("tokens" only)
    input: str = TOKENS
    padding: str = LONGEST  # ("tokens" only); bundles from before the field pad to the longest

    @property
    def reads_strings(self) -> bool:
        return self.input == STRINGS

    @classmethod
    def from_dict(cls, data: dict) -> TextSpec:
        if data.get("input", TOKENS) == STRINGS:
            return cls(pooling=str(data.get("pooling", "mean")), input=STRINGS)
        return cls(int(data["max_length"]), str(data["pooling"]), int(data["pad_id"]), str(data["pad_token"]),
                   str(data.get("input", TOKENS)), str(data.get("padding", LONGEST)))

    def to_dict(self) -> dict:
        """The manifest's fields; `padding` only when it is not the default, as bundles before it had none."""
        if self.reads_strings:
            return {"input": self.input, "pooling": self.pooling}
        fields = {"input": self.input, "max_length": self.max_length, "pooling": self.pooling, "pad_id": self.pad_id,
                  "pad_token": self.pad_token}
        return fields if self.padding == LONGEST else {**fields, "padding": self.padding}


def bundle_files(text: TextSpec) -> tuple[str, ...]:
    """The files a bundle holds besides its manifest: no tokenizer.json when its text encoder reads strings."""
    return GRAPH_FILES if text.reads_strings else BUNDLE_FILES


@dataclass(frozen=True)
class Manifest:
    """Everything about a bundle but its weights. `files` maps each file name to its sha256."""

    name: str
    family: str
    image_feature_dim: int  # width of the image encoder's output (what the catalog stores)
    text_feature_dim: int  # width of the text encoder's output
    embedding_dim: int  # width of the shared space both mappers project into
    image_preprocess: ImagePreprocess
    text: TextSpec
    files: dict[str, str]
    provenance: dict = field(default_factory=dict)
    created: str = ""
    # Width of the image encoder's INSTANCE output (unit vectors that recognise the same photo after
    # edits); 0 when the graph has none, as in bundles from before it existed: then "find similar" and
    # duplicates use the features.
    instance_dim: int = 0

    @property
    def schema_version(self) -> int:
        """The oldest schema that holds everything this manifest says (see SCHEMA_VERSION)."""
        return 3 if self.image_preprocess.resize != SHORTEST or self.text.padding != LONGEST else 2

    @property
    def image_encoder_id(self) -> str:
        """Identifies the image features: same id means stored features can be re-mapped as they are."""
        return self.files[IMAGE_ENCODER][:16] + "-" + _short_hash(json.dumps(self.image_preprocess.to_dict(), sort_keys=True))

    @property
    def bundle_files(self) -> tuple[str, ...]:
        return bundle_files(self.text)

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "family": self.family,
            "created": self.created,
            "image_feature_dim": self.image_feature_dim,
            "text_feature_dim": self.text_feature_dim,
            "embedding_dim": self.embedding_dim,
            "instance_dim": self.instance_dim,
            "image_preprocess": self.image_preprocess.to_dict(),
            "text": self.text.to_dict(),
            "files": dict(self.files),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Manifest:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise BundleError(
                f"{where}: manifest schema version {version!r} is not supported by this picsift "
                f"(it reads versions {', '.join(map(str, READABLE_VERSIONS))}); re-export the bundle or update picsift"
            )
        if version == 1 and isinstance(data.get("text"), dict):
            data = {**data, "text": {**data["text"], "input": TOKENS}}  # version 1 knew only token ids
        try:
            return cls(
                name=str(data["name"]),
                family=str(data["family"]),
                image_feature_dim=int(data["image_feature_dim"]),
                text_feature_dim=int(data["text_feature_dim"]),
                embedding_dim=int(data["embedding_dim"]),
                image_preprocess=ImagePreprocess.from_dict(data["image_preprocess"]),
                text=TextSpec.from_dict(data["text"]),
                files={str(k): str(v) for k, v in data["files"].items()},
                provenance=dict(data.get("provenance", {})),
                created=str(data.get("created", "")),
                instance_dim=int(data.get("instance_dim", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{where}: manifest is incomplete or malformed ({exc!r}); re-export the bundle") from exc

    def check_values(self, where: str) -> None:
        """Refuse any number outside its sane range (above), with one line naming the field and the range."""
        pre = self.image_preprocess
        if pre.resample not in RESAMPLE_FILTERS:
            _refuse(where, f"manifest field image_preprocess.resample is {pre.resample!r}; use one of {', '.join(RESAMPLE_FILTERS)}")
        if pre.resize not in RESIZE_MODES:
            _refuse(where, f"manifest field image_preprocess.resize is {pre.resize!r}; use one of {', '.join(RESIZE_MODES)}")
        for name in ("mean", "std"):
            if len(getattr(pre, name)) != 3:
                _refuse(where, f"manifest field image_preprocess.{name} holds {len(getattr(pre, name))} values; it needs 3 (R, G, B)")
        ranges = [
            ("image_feature_dim", self.image_feature_dim, 1, MAX_WIDTH),
            ("text_feature_dim", self.text_feature_dim, 1, MAX_WIDTH),
            ("embedding_dim", self.embedding_dim, 1, MAX_WIDTH),
            ("instance_dim", self.instance_dim, 0, MAX_WIDTH),
            ("image_preprocess.size", pre.size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
            ("image_preprocess.resize_to", pre.resize_to, pre.size, MAX_RESIZE_TO),
            *((f"image_preprocess.mean[{i}]", v, *MEAN_RANGE) for i, v in enumerate(pre.mean)),
            *((f"image_preprocess.std[{i}]", v, *STD_RANGE) for i, v in enumerate(pre.std)),
        ]
        if self.text.input not in (TOKENS, STRINGS):
            _refuse(where, f"manifest field text.input is {self.text.input!r}; use {TOKENS!r} or {STRINGS!r}")
        if not self.text.reads_strings and self.text.padding not in PADDINGS:
            _refuse(where, f"manifest field text.padding is {self.text.padding!r}; use one of {', '.join(PADDINGS)}")
        if not self.text.reads_strings:
            ranges += [("text.max_length", self.text.max_length, 1, MAX_TOKENS), ("text.pad_id", self.text.pad_id, 0, MAX_PAD_ID)]
        for name, value, low, high in ranges:
            if not low <= value <= high:  # NaN fails every comparison, so it lands here too
                _refuse(where, f"manifest field {name} is {value!r}; allowed {low:g}..{high:g}")

    def save(self, folder: Path) -> None:
        from models.atomic import write_text_atomic

        write_text_atomic(folder / MANIFEST, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")


def read_manifest(folder: Path) -> Manifest:
    """Parse `folder/manifest.json` (no file checks; see models.bundle for those)."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BundleError(f"{folder}: model bundle folder not found; run `picsift model list` to see installed bundles")
    if not path.is_file():
        raise BundleError(f"{folder}: not a model bundle (no {MANIFEST}); re-export or re-import it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: manifest is not valid JSON ({exc}); the bundle is corrupt, re-import it") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: manifest is not a JSON object; the bundle is corrupt, re-import it")
    manifest = Manifest.from_dict(data, str(folder))
    manifest.check_values(str(folder))
    return manifest


def _refuse(where: str, problem: str) -> None:
    raise BundleError(f"{where}: {problem}; re-export the bundle (or correct manifest.json)")


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]
