"""A text tower that is already an ONNX graph reading raw strings: copied into a bundle under its names, and run as is.

Such a graph (trainer.encoders.multilingual's, with its SentencePiece tokeniser inside) has one string
input and one float output under names of its own; a bundle's text encoder reads TEXT_STRINGS and
gives FEATURES (models.manifest), so the copy renames both wherever they occur, weights untouched.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx

from models.bundle import all_graphs
from models.errors import PicsiftError
from models.manifest import FEATURES, TEXT_STRINGS


def copy_strings_graph(source: Path, destination: Path) -> None:
    """Write `source` to `destination` with its input named TEXT_STRINGS and its output FEATURES."""
    model = onnx.load(str(source))  # the 72 MB multilingual graph takes ~0.3 GB while this runs
    graph = model.graph
    fed = [value for value in graph.input if value.name not in {i.name for i in graph.initializer}]
    if len(fed) != 1 or fed[0].type.tensor_type.elem_type != onnx.TensorProto.STRING or len(graph.output) != 1:
        raise PicsiftError(f"{source}: a strings text encoder needs one string input and one output; "
                           f"this graph has inputs {[v.name for v in fed]} and outputs {[v.name for v in graph.output]}")
    renames = {fed[0].name: TEXT_STRINGS, graph.output[0].name: FEATURES}
    taken = _names(graph) - set(renames)
    if taken & set(renames.values()):
        raise PicsiftError(f"{source}: the graph already has a tensor named {sorted(taken & set(renames.values()))}; "
                           "rename it before exporting")
    _rename(graph, renames)
    onnx.save(model, str(destination))


def run_strings_graph(path: Path, texts: list[str]) -> np.ndarray:
    """(B, Dt) the graph's output for `texts`, exactly as it computes it (no normalisation)."""
    session = _session(path)
    return session.run(None, {session.get_inputs()[0].name: np.asarray(list(texts), dtype=object)})[0]


@functools.lru_cache(maxsize=1)  # a build embeds ~16,000 texts and its export runs it 4 times; a session takes ~0.5-1 s
def _session(path: Path):
    from models.runtime import create_session

    return create_session(path, "cpu")


def forget_sessions() -> None:
    """Let the cached session go (export calls it when done: it holds the graph's weights)."""
    _session.cache_clear()


def _names(graph: onnx.GraphProto) -> set[str]:
    return {name for g in all_graphs(graph) for node in g.node for name in (*node.input, *node.output)} | \
        {value.name for g in all_graphs(graph) for value in (*g.input, *g.output, *g.value_info)}


def _rename(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    """Rename tensors in every node (subgraphs too: they may read outer tensors) and value declaration."""
    for g in all_graphs(graph):
        for node in g.node:
            node.input[:] = [renames.get(name, name) for name in node.input]
            node.output[:] = [renames.get(name, name) for name in node.output]
        for value in (*g.input, *g.output, *g.value_info):
            value.name = renames.get(value.name, value.name)
