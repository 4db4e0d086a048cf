"""The bundle manifest: what a model bundle holds and how to feed it, versioned and checked on load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import BundleError
from models.preprocess import ImagePreprocess

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
IMAGE_ENCODER = "image_encoder.onnx"
TEXT_ENCODER = "text_encoder.onnx"
IMAGE_MAPPER = "image_mapper.onnx"
TEXT_MAPPER = "text_mapper.onnx"
TOKENIZER = "tokenizer.json"
BUNDLE_FILES = (IMAGE_ENCODER, TEXT_ENCODER, IMAGE_MAPPER, TEXT_MAPPER, TOKENIZER)

# Fixed graph input/output names, written by trainer.export and relied on by the runtime.
IMAGE_INPUT = "pixel_values"
TEXT_INPUTS = ("input_ids", "attention_mask")
FEATURES = "features"
EMBEDDINGS = "embeddings"


@dataclass(frozen=True)
class TextSpec:
    """How a query becomes token ids: the tokenizer truncates to `max_length` and pads with `pad_id`."""

    max_length: int  # tokens, including special tokens
    pooling: str  # how the text encoder pools tokens ("mean", "eos", "cls"); informational
    pad_id: int
    pad_token: str

    @classmethod
    def from_dict(cls, data: dict) -> TextSpec:
        return cls(int(data["max_length"]), str(data["pooling"]), int(data["pad_id"]), str(data["pad_token"]))

    def to_dict(self) -> dict:
        return {"max_length": self.max_length, "pooling": self.pooling, "pad_id": self.pad_id, "pad_token": self.pad_token}


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
    schema_version: int = SCHEMA_VERSION

    @property
    def image_encoder_id(self) -> str:
        """Identifies the image features: same id means stored features can be re-mapped as they are."""
        return self.files[IMAGE_ENCODER][:16] + "-" + _short_hash(json.dumps(self.image_preprocess.to_dict(), sort_keys=True))

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "family": self.family,
            "created": self.created,
            "image_feature_dim": self.image_feature_dim,
            "text_feature_dim": self.text_feature_dim,
            "embedding_dim": self.embedding_dim,
            "image_preprocess": self.image_preprocess.to_dict(),
            "text": self.text.to_dict(),
            "files": dict(self.files),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Manifest:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{where}: manifest schema version {version!r} is not supported by this picsift "
                f"(it reads version {SCHEMA_VERSION}); re-export the bundle or update picsift"
            )
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
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{where}: manifest is incomplete or malformed ({exc!r}); re-export the bundle") from exc

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
    return Manifest.from_dict(data, str(folder))


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]
