"""Export of a pair whose text tower is an ONNX graph reading raw strings: copied under the bundle's names, weights kept, parity-gated."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from toy_bundle import toy_pair

from models.bundle import open_bundle
from models.errors import PicsiftError
from models.runtime import ModelRuntime
from trainer.encoders.mappers import LinearMapper
from trainer.export.bundle import ParityError, export_bundle
from trainer.export.onnx_text import copy_strings_graph

TEXTS = ["a cat", "two dogs on a red sofa", "boat"]


def _cat_detector() -> onnx.ModelProto:
    """query (B,) strings -> vec (B, 2) floats: (2, 2) for "a cat", (1, 3) otherwise. The comparison sits
    in an If branch that reads the outer input, so a rename has to reach into subgraphs."""
    def const(name, tensor):
        return helper.make_node("Constant", [], [name], value=tensor)

    def branch(name):
        return helper.make_graph([helper.make_node("Equal", ["query", "cat"], [f"hit_{name}"])], name, [],
                                 [helper.make_tensor_value_info(f"hit_{name}", TensorProto.BOOL, ["batch"])])

    nodes = [
        const("cat", helper.make_tensor("cat_value", TensorProto.STRING, [1], [b"a cat"])),
        const("cond", helper.make_tensor("cond_value", TensorProto.BOOL, [], [True])),
        const("one", helper.make_tensor("one_value", TensorProto.FLOAT, [1], [1.0])),
        const("three", helper.make_tensor("three_value", TensorProto.FLOAT, [1], [3.0])),
        const("axes", helper.make_tensor("axes_value", TensorProto.INT64, [1], [1])),
        helper.make_node("If", ["cond"], ["hit"], then_branch=branch("then"), else_branch=branch("else")),
        helper.make_node("Cast", ["hit"], ["hit_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["hit_float", "axes"], ["column"]),
        helper.make_node("Add", ["column", "one"], ["left"]),
        helper.make_node("Sub", ["three", "column"], ["right"]),
        helper.make_node("Concat", ["left", "right"], ["vec"], axis=1),
    ]
    graph = helper.make_graph(nodes, "cat_detector", [helper.make_tensor_value_info("query", TensorProto.STRING, ["batch"])],
                              [helper.make_tensor_value_info("vec", TensorProto.FLOAT, ["batch", 2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)


@pytest.fixture
def cat_graph(tmp_path):
    path = tmp_path / "cat_detector.onnx"
    onnx.save(_cat_detector(), str(path))
    return path


def _strings_pair(graph_path, width: int):
    return replace(toy_pair(), text_encoder=None, tokenizer_json=None, text_encoder_onnx=graph_path,
                   text={"input": "strings", "pooling": "mean"}, text_mapper=LinearMapper(width, 8))


def test_copied_strings_graph_reads_texts_and_gives_features_everywhere_it_named_them(cat_graph, tmp_path):
    copy_strings_graph(cat_graph, tmp_path / "copy.onnx")
    graph = onnx.load(str(tmp_path / "copy.onnx")).graph
    branch_inputs = {name for node in graph.node if node.op_type == "If" for attribute in node.attribute for n in attribute.g.node
                     for name in n.input}
    assert [v.name for v in graph.input] == ["texts"] and [v.name for v in graph.output] == ["features"]
    assert "texts" in branch_inputs and "query" not in branch_inputs  # the If branches read the renamed outer input
    assert any("features" in node.output for node in graph.node)


def test_strings_pair_exports_a_bundle_whose_text_encoder_gives_its_graphs_numbers_exactly(cat_graph, tmp_path):
    bundle = export_bundle(_strings_pair(cat_graph, 2), tmp_path / "cats", "cats", TEXTS, torch.randn(3, 3, 32, 32))
    manifest = open_bundle(bundle).manifest
    runtime = ModelRuntime(bundle, device="cpu")
    np.testing.assert_array_equal(runtime.text_features(["a cat", "a dog"]), [[2.0, 2.0], [1.0, 3.0]])
    assert manifest.text.reads_strings and not (bundle / "tokenizer.json").exists()
    assert manifest.provenance["export_parity"]["text_encoder"]["max_abs_diff"] == 0.0


def test_a_copy_that_changes_the_strings_graphs_numbers_fails_the_parity_gate(cat_graph, tmp_path, monkeypatch):
    import trainer.export.bundle

    def copy_with_a_drift(source, destination):
        model = _cat_detector()
        for node in model.graph.node:
            if node.output[0] == "one":  # 1.0 -> 1.001 in every row's first feature
                node.attribute[0].t.CopyFrom(helper.make_tensor("one_value", TensorProto.FLOAT, [1], [1.001]))
        onnx.save(model, str(tmp_path / "drifted.onnx"))
        copy_strings_graph(tmp_path / "drifted.onnx", destination)

    monkeypatch.setattr(trainer.export.bundle, "copy_strings_graph", copy_with_a_drift)
    with pytest.raises(ParityError, match="text encoder: ONNX output differs from its source graph"):
        export_bundle(_strings_pair(cat_graph, 2), tmp_path / "cats", "cats", TEXTS, torch.randn(3, 3, 32, 32))
    assert not (tmp_path / "cats").exists()


def test_a_token_ids_graph_is_not_taken_for_a_strings_one(tmp_path):
    from toy_bundle import export_toy_bundle

    tokens = export_toy_bundle(tmp_path / "toy")
    with pytest.raises(PicsiftError, match=r"needs one string input and one output; this graph has inputs \['input_ids', 'attention_mask'\]"):
        copy_strings_graph(tokens / "text_encoder.onnx", tmp_path / "copy.onnx")


def test_a_strings_text_spec_without_an_onnx_text_tower_is_a_bug(tmp_path):
    pair = replace(toy_pair(), text={"input": "strings", "pooling": "mean"})
    with pytest.raises(ValueError, match="needs text_encoder_onnx exactly when it is 'strings'"):
        export_bundle(pair, tmp_path / "bad", "bad", TEXTS, torch.randn(3, 3, 32, 32))


multilingual = pytest.importorskip("trainer.encoders.multilingual")


@pytest.mark.skipif(not multilingual.available(), reason=f"run `{multilingual.INSTALL}`")
@pytest.mark.slow
def test_the_multilingual_graph_is_copied_with_every_weight_and_node_kept(tmp_path):
    from toy_bundle import multilingual_toy_pair

    bundle = export_bundle(multilingual_toy_pair(), tmp_path / "ml", "ml", TEXTS, torch.randn(3, 3, 32, 32))
    source, copy = (onnx.load(str(p), load_external_data=False).graph for p in (multilingual.model_path(), bundle / "text_encoder.onnx"))
    assert [(t.name, t.raw_data) for t in copy.initializer] == [(t.name, t.raw_data) for t in source.initializer]
    assert [n.op_type for n in copy.node] == [n.op_type for n in source.node]
    parity = open_bundle(bundle).manifest.provenance["export_parity"]
    assert parity["text_encoder"]["max_abs_diff"] == 0.0 and parity["text_mapper"]["min_cosine"] > 0.9999
