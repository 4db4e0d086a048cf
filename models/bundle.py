"""A model bundle on disk: a folder with a manifest, four ONNX graphs and a tokenizer, verified on load."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import onnx

from models.errors import BundleError
from models.manifest import (
    BUNDLE_FILES,
    EMBEDDINGS,
    FEATURES,
    IMAGE_ENCODER,
    IMAGE_INPUT,
    IMAGE_MAPPER,
    INSTANCE,
    TEXT_ENCODER,
    TEXT_INPUTS,
    TEXT_MAPPER,
    Manifest,
    read_manifest,
)

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A verified bundle folder. Build one with `open_bundle`."""

    folder: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    def path(self, file_name: str) -> Path:
        return self.folder / file_name


def open_bundle(folder: str | Path, verify_hashes: bool = True) -> Bundle:
    """Read and check a bundle: manifest, every file present, checksums, graph interfaces and widths.

    Raises BundleError, with one actionable line, for anything missing, corrupt, tampered or
    incompatible. Hashing reads every byte (~100 MB for the built-in model, well under a second);
    `verify_hashes=False` skips it where the caller verified the folder already. Running the graphs
    is `models.probe`'s job, done on import and on the first open of an installed bundle.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    for file_name in BUNDLE_FILES:
        _check_file(folder, manifest, file_name, verify_hashes)
    _check_interfaces(folder, manifest)
    return Bundle(folder, manifest)


def _check_file(folder: Path, manifest: Manifest, file_name: str, verify_hashes: bool) -> None:
    path = folder / file_name
    if not path.is_file():
        raise BundleError(f"{folder}: bundle file {file_name} is missing; re-export or re-import the bundle")
    expected = manifest.files.get(file_name)
    if expected is None:
        raise BundleError(f"{folder}: manifest lists no checksum for {file_name}; re-export the bundle")
    if verify_hashes and sha256_of(path) != expected:
        raise BundleError(
            f"{folder}: {file_name} does not match its checksum (corrupt or modified); re-export or re-import the bundle"
        )


def _check_interfaces(folder: Path, manifest: Manifest) -> None:
    """The graphs take and give the named tensors at the widths the manifest declares (the image
    encoder's INSTANCE output exactly when the manifest declares an instance_dim)."""
    image_outputs = {FEATURES: manifest.image_feature_dim} | ({INSTANCE: manifest.instance_dim} if manifest.instance_dim else {})
    dims = {
        IMAGE_ENCODER: ([IMAGE_INPUT], image_outputs),
        TEXT_ENCODER: (list(TEXT_INPUTS), {FEATURES: manifest.text_feature_dim}),
        IMAGE_MAPPER: ([FEATURES], {EMBEDDINGS: manifest.embedding_dim}),
        TEXT_MAPPER: ([FEATURES], {EMBEDDINGS: manifest.embedding_dim}),
    }
    for file_name, (inputs, outputs) in dims.items():
        graph = _load_graph(folder / file_name)
        names = [value.name for value in graph.input if value.name not in {i.name for i in graph.initializer}]
        if sorted(names) != sorted(inputs) or [value.name for value in graph.output] != list(outputs):
            raise BundleError(
                f"{folder}: {file_name} has inputs {names} and outputs {[v.name for v in graph.output]}, "
                f"expected {inputs} -> {list(outputs)}; re-export the bundle with this picsift"
            )
        for value, width in zip(graph.output, outputs.values()):
            declared = _last_dim(value)
            if declared is not None and declared != width:
                raise BundleError(f"{folder}: {file_name} output {value.name!r} has width {declared}, "
                                  f"manifest says {width}; re-export the bundle")


def _load_graph(path: Path) -> onnx.GraphProto:
    try:
        return onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError and friends from protobuf
        raise BundleError(f"{path}: not a readable ONNX graph ({exc}); re-export the bundle") from exc


def _last_dim(value: onnx.ValueInfoProto) -> int | None:
    dims = value.type.tensor_type.shape.dim
    if not dims or not dims[-1].HasField("dim_value"):
        return None
    return int(dims[-1].dim_value)
