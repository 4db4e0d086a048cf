"""A model bundle on disk: a folder with a manifest, four ONNX graphs and (for token ids) a tokenizer, verified on load."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError

from models.errors import BundleError
from models.manifest import (
    EMBEDDINGS,
    FEATURES,
    IMAGE_ENCODER,
    IMAGE_INPUT,
    IMAGE_MAPPER,
    INSTANCE,
    TEXT_ENCODER,
    TEXT_INPUTS,
    TEXT_MAPPER,
    TEXT_STRINGS,
    Manifest,
    read_manifest,
)

if TYPE_CHECKING:
    import onnx  # imported where a bundle is read: it takes 1.4 s, which the app's window need not wait for

_CHUNK = 1 << 20
_OPSET_IMPORT_FIELD = 8  # ModelProto.opset_import's field number (onnx.proto)
_MAX_OPSET_ENTRY = 4096  # bytes
# Operators a bundle's graphs may use: the domains ONNX Runtime itself implements, and the text
# tokenisers of onnxruntime-extensions (registered by models.runtime only for graphs that import its
# domain). Anything else (another custom-op library, the extensions' PyOp, which calls back into
# Python) is refused on open: a bundle is data, never code.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
EXTENSIONS_DOMAIN = "ai.onnx.contrib"
EXTENSIONS_TEXT_OPS = frozenset({  # those onnxruntime-extensions 0.15 registers (checked by building each one)
    "SentencepieceTokenizer", "SpmTokenizer", "BertTokenizer", "BasicTokenizer", "WordpieceTokenizer",
    "GPT2Tokenizer", "CLIPTokenizer", "RobertaTokenizer",
})


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
    for file_name in manifest.bundle_files:
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
    encoder's INSTANCE output exactly when the manifest declares an instance_dim), and use only
    allowed operators."""
    import onnx

    image_outputs = {FEATURES: manifest.image_feature_dim} | ({INSTANCE: manifest.instance_dim} if manifest.instance_dim else {})
    text_inputs = [TEXT_STRINGS] if manifest.text.reads_strings else list(TEXT_INPUTS)
    dims = {
        IMAGE_ENCODER: ([IMAGE_INPUT], image_outputs),
        TEXT_ENCODER: (text_inputs, {FEATURES: manifest.text_feature_dim}),
        IMAGE_MAPPER: ([FEATURES], {EMBEDDINGS: manifest.embedding_dim}),
        TEXT_MAPPER: ([FEATURES], {EMBEDDINGS: manifest.embedding_dim}),
    }
    for file_name, (inputs, outputs) in dims.items():
        model = _load_model(folder / file_name)
        graph = model.graph
        fed = [value for value in graph.input if value.name not in {i.name for i in graph.initializer}]
        names = [value.name for value in fed]
        if sorted(names) != sorted(inputs) or [value.name for value in graph.output] != list(outputs):
            raise BundleError(
                f"{folder}: {file_name} has inputs {names} and outputs {[v.name for v in graph.output]}, "
                f"expected {inputs} -> {list(outputs)}; re-export the bundle with this picsift"
            )
        if inputs == [TEXT_STRINGS] and fed[0].type.tensor_type.elem_type != onnx.TensorProto.STRING:
            raise BundleError(f"{folder}: {file_name} input {TEXT_STRINGS!r} is not a string tensor, and the manifest "
                              "says the text encoder reads strings; re-export the bundle")
        for value, width in zip(graph.output, outputs.values()):
            declared = _last_dim(value)
            if declared is not None and declared != width:
                raise BundleError(f"{folder}: {file_name} output {value.name!r} has width {declared}, "
                                  f"manifest says {width}; re-export the bundle")
        _check_operators(folder / file_name, model)


def _check_operators(path: Path, model: onnx.ModelProto) -> None:
    """Every node, in subgraphs (If/Loop/Scan bodies) and model-local functions too, is an allowed operator;
    a call of a local function is allowed, its body is what gets checked."""
    local = {(function.domain, function.name) for function in model.functions}
    bodies = [graph.node for graph in all_graphs(model.graph)]
    for function in model.functions:
        bodies += [function.node, *(g.node for node in function.node for sub in nested_graphs(node) for g in all_graphs(sub))]
    for node in (node for nodes in bodies for node in nodes):
        allowed = node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in local or (
            node.domain == EXTENSIONS_DOMAIN and node.op_type in EXTENSIONS_TEXT_OPS)
        if not allowed:
            raise BundleError(
                f"{path}: graph uses operator {node.domain}::{node.op_type}, which picsift does not run (only "
                "standard ONNX operators and the onnxruntime-extensions text tokenizers); re-export the bundle without it"
            )


def all_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """`graph` and every graph nested in its nodes, depth first."""
    yield graph
    for node in graph.node:
        for sub in nested_graphs(node):
            yield from all_graphs(sub)


def nested_graphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs in a node's attributes: If branches, Loop and Scan bodies."""
    import onnx

    return [sub for attribute in node.attribute
            for sub in ([attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else []) + list(attribute.graphs)]


def imported_domains(path: Path) -> set[str]:
    """The operator domains a graph file imports (ModelProto.opset_import), read without parsing its
    graph: the protobuf's top-level fields are walked and the graph's bytes skipped, so this costs
    microseconds on a 1 GB encoder. Empty for a file that cannot be read or is no ONNX graph (loading it says why)."""
    try:
        with open(path, "rb") as handle:
            return _opset_domains(handle)
    except (OSError, ValueError, DecodeError):  # a seek past any size, a torn varint, a garbled entry
        return set()


def _opset_domains(handle) -> set[str]:
    import onnx

    domains = set()
    while (key := _varint(handle)) is not None:
        field_number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _varint(handle)
        elif wire_type in (1, 5):
            handle.seek(8 if wire_type == 1 else 4, 1)
        elif wire_type == 2 and (size := _varint(handle)) is not None:
            if field_number == _OPSET_IMPORT_FIELD:
                if size > _MAX_OPSET_ENTRY:
                    break  # garbage: a real entry is a domain name and a version number
                entry = onnx.OperatorSetIdProto()
                entry.ParseFromString(handle.read(size))
                domains.add(entry.domain)
            else:
                handle.seek(size, 1)
        else:
            break
    return domains


def _varint(handle) -> int | None:
    """One protobuf base-128 varint from `handle`; None at the end of the file."""
    value, shift = 0, 0
    while byte := handle.read(1):
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    return None


def _load_model(path: Path) -> onnx.ModelProto:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends from protobuf
        raise BundleError(f"{path}: not a readable ONNX graph ({exc}); re-export the bundle") from exc


def _last_dim(value: onnx.ValueInfoProto) -> int | None:
    dims = value.type.tensor_type.shape.dim
    if not dims or not dims[-1].HasField("dim_value"):
        return None
    return int(dims[-1].dim_value)
