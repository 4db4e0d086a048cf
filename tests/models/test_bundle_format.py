"""Bundle format version 2: text encoders that read raw strings, version-1 bundles still load, and only allowed operators run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from onnx import TensorProto, helper
from toy_bundle import edit_manifest, export_toy_bundle

from models.bundle import open_bundle, sha256_of
from models.errors import BundleError
from models.manifest import Manifest, TextSpec, read_manifest
from models.runtime import ModelRuntime


def _replace_graph(folder, file_name, model) -> None:
    (folder / file_name).write_bytes(model.SerializeToString())
    edit_manifest(folder, lambda data: data["files"].__setitem__(file_name, sha256_of(folder / file_name)))


# --- the manifest ------------------------------------------------------------------------------

def test_strings_text_spec_round_trips_without_token_fields():
    spec = TextSpec(pooling="mean", input="strings")
    assert spec.to_dict() == {"input": "strings", "pooling": "mean"}
    assert TextSpec.from_dict(spec.to_dict()) == spec and spec.reads_strings


def test_manifest_of_a_strings_bundle_round_trips_and_lists_no_tokenizer(exported):
    from dataclasses import replace

    manifest = replace(read_manifest(exported), text=TextSpec(input="strings"))
    again = Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())), "here")
    assert again == manifest and again.schema_version == 2
    assert "tokenizer.json" not in again.bundle_files and "text_encoder.onnx" in again.bundle_files


def test_tokens_bundles_still_range_check_their_token_fields(bundle_copy):
    edit_manifest(bundle_copy, lambda data: data["text"].__setitem__("max_length", 0))
    with pytest.raises(BundleError, match=r"manifest field text.max_length is 0; allowed 1..2048"):
        open_bundle(bundle_copy)


def test_unknown_text_input_is_refused_naming_the_field(bundle_copy):
    edit_manifest(bundle_copy, lambda data: data["text"].__setitem__("input", "pixels"))
    with pytest.raises(BundleError, match=r"manifest field text.input is 'pixels'; use 'tokens' or 'strings'"):
        open_bundle(bundle_copy)


def test_schema_version_4_is_refused_naming_the_versions_read(bundle_copy):
    edit_manifest(bundle_copy, lambda data: data.__setitem__("schema_version", 4))
    with pytest.raises(BundleError, match=r"schema version 4 is not supported by this picsift \(it reads versions 1, 2, 3\)"):
        open_bundle(bundle_copy)


@pytest.mark.parametrize("edit", [lambda d: d["image_preprocess"].__setitem__("resize", "squash"),
                                  lambda d: d["text"].__setitem__("padding", "max_length")])
def test_a_bundle_using_squash_or_fixed_padding_is_written_as_version_3_so_older_readers_refuse_it(bundle_copy, edit):
    from models.manifest import read_manifest

    assert read_manifest(bundle_copy).to_dict()["schema_version"] == 2  # nothing new used: still readable by older picsift
    edit_manifest(bundle_copy, edit)
    assert read_manifest(bundle_copy).to_dict()["schema_version"] == 3


def test_version_1_bundle_opens_probes_and_ranks_texts_against_images(bundle_copy):
    from models.probe import probe_bundle

    def as_version_1(data):  # exactly what picsift wrote before text.input existed
        data["schema_version"] = 1
        del data["text"]["input"]

    edit_manifest(bundle_copy, as_version_1)
    bundle = open_bundle(bundle_copy)
    probe_bundle(bundle)
    runtime = ModelRuntime(bundle)
    scores = runtime.encode_texts(["a cat", "boat"]) @ runtime.encode_images(np.zeros((3, 3, 32, 32), np.float32)).T
    assert bundle.manifest.text.input == "tokens" and scores.shape == (2, 3) and np.isfinite(scores).all()
    assert runtime.encode_texts([]).shape == (0, 8)


# --- allowed operators -------------------------------------------------------------------------

def _mapper(nodes, extra_opsets=(), functions=()):
    """A text mapper (B, 12) -> (B, 8) whose body is `nodes` from "projected" to "embeddings"."""
    from onnx import numpy_helper

    weights = numpy_helper.from_array(np.full((12, 8), 0.1, np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "weights"], ["projected"]), *nodes], "mapper",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 12])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 8])], [weights])
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(domain, 1) for domain in extra_opsets)]
    return helper.make_model(graph, opset_imports=opsets, functions=list(functions), ir_version=9)


def _branch(name, node):
    return helper.make_graph([node], name, [], [helper.make_tensor_value_info("out_" + name, TensorProto.FLOAT, None)])


def _if_with(then_node):
    cond = helper.make_node("Constant", [], ["cond"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True]))
    return [cond, helper.make_node("If", ["cond"], ["embeddings"],
                                   then_branch=_branch("then", then_node),
                                   else_branch=_branch("else", helper.make_node("Identity", ["projected"], ["out_else"])))]


def _local_function(body_node, domain="local"):
    return helper.make_function(domain, "Project", ["x"], ["y"], [body_node],
                                [helper.make_opsetid("", 17), helper.make_opsetid("evil.domain", 1)])


EVIL = helper.make_node("Steal", ["projected"], ["embeddings"], domain="evil.domain")
BAD_GRAPHS = {
    "other-domain": (_mapper([EVIL], ["evil.domain"]), "evil.domain::Steal"),
    "python-op": (_mapper([helper.make_node("PyOp", ["projected"], ["embeddings"], domain="ai.onnx.contrib")], ["ai.onnx.contrib"]),
                  "ai.onnx.contrib::PyOp"),
    "unlisted-contrib-op": (_mapper([helper.make_node("StringRegexReplace", ["projected"], ["embeddings"], domain="ai.onnx.contrib")],
                                    ["ai.onnx.contrib"]), "ai.onnx.contrib::StringRegexReplace"),
    "if-branch": (_mapper(_if_with(helper.make_node("Steal", ["projected"], ["out_then"], domain="evil.domain")), ["evil.domain"]),
                  "evil.domain::Steal"),
    "local-function": (_mapper([helper.make_node("Project", ["projected"], ["embeddings"], domain="local")], ["local", "evil.domain"],
                               [_local_function(helper.make_node("Steal", ["x"], ["y"], domain="evil.domain"))]), "evil.domain::Steal"),
}


@pytest.mark.parametrize("case", list(BAD_GRAPHS))
def test_graph_with_an_operator_outside_the_allowed_ones_is_refused_on_open(bundle_copy, case):
    model, operator = BAD_GRAPHS[case]
    _replace_graph(bundle_copy, "text_mapper.onnx", model)
    with pytest.raises(BundleError) as caught:
        open_bundle(bundle_copy)
    message = str(caught.value)
    assert f"text_mapper.onnx: graph uses operator {operator}, which picsift does not run" in message
    assert "re-export the bundle" in message and "\n" not in message


def test_local_functions_and_if_branches_of_standard_operators_are_allowed(bundle_copy):
    normalise = helper.make_node("LpNormalization", ["x"], ["y"], axis=-1, p=2)
    model = _mapper(_if_with(helper.make_node("Project", ["projected"], ["out_then"], domain="local")), ["local"],
                    [_local_function(normalise)])
    _replace_graph(bundle_copy, "text_mapper.onnx", model)
    runtime = ModelRuntime(open_bundle(bundle_copy))
    np.testing.assert_allclose(np.linalg.norm(runtime.map_texts(np.ones((2, 12), np.float32)), axis=1), 1.0, atol=1e-6)


def test_imported_domains_are_read_from_the_graph_header(bundle_copy):
    from models.bundle import imported_domains

    _replace_graph(bundle_copy, "text_mapper.onnx", BAD_GRAPHS["python-op"][0])
    assert imported_domains(bundle_copy / "text_mapper.onnx") == {"", "ai.onnx.contrib"}
    assert imported_domains(bundle_copy / "image_mapper.onnx") == {""}


# --- a text encoder that reads strings ---------------------------------------------------------

multilingual = pytest.importorskip("trainer.encoders.multilingual")
needs_graph = pytest.mark.skipif(not multilingual.available(), reason=f"run `{multilingual.INSTALL}`")


@pytest.fixture(scope="module")
def strings_bundle(tmp_path_factory):
    return export_toy_bundle(tmp_path_factory.mktemp("bundles") / "multilingual", name="multilingual", multilingual=True)


@needs_graph
@pytest.mark.slow
def test_strings_bundle_opens_and_probes_without_a_tokenizer(strings_bundle):
    from models.probe import probe_bundle

    bundle = open_bundle(strings_bundle)
    probe_bundle(bundle)
    assert bundle.manifest.text.reads_strings and not (strings_bundle / "tokenizer.json").exists()
    assert bundle.manifest.text_feature_dim == 512


@needs_graph
@pytest.mark.slow
def test_strings_bundle_puts_one_meaning_in_three_languages_together(strings_bundle):
    embeddings = ModelRuntime(strings_bundle, device="cpu").encode_texts(["a cat", "un gato", "eine Katze", "the stock market fell sharply"])
    cosines = embeddings @ embeddings.T
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert cosines[0, 1] > 0.8 and cosines[0, 2] > 0.8 and cosines[1, 2] > 0.8
    assert cosines[3, :3].max() < 0.5


@needs_graph
@pytest.mark.slow
def test_strings_bundle_encodes_the_empty_query_and_a_10000_character_one(strings_bundle):
    runtime = ModelRuntime(strings_bundle, device="cpu")
    embeddings = runtime.encode_texts(["", "a cat " * 1667, "猫" * 10_000])
    assert embeddings.shape == (3, 64) and np.isfinite(embeddings).all()
    assert runtime.encode_texts([]).shape == (0, 64)


@needs_graph
@pytest.mark.slow
def test_strings_bundle_whose_text_graph_reads_token_ids_is_refused(strings_bundle, exported, tmp_path):
    folder = shutil.copytree(strings_bundle, tmp_path / "mixed")
    shutil.copyfile(exported / "text_encoder.onnx", folder / "text_encoder.onnx")
    edit_manifest(folder, lambda data: (data["files"].__setitem__("text_encoder.onnx", sha256_of(folder / "text_encoder.onnx")),
                                         data.__setitem__("text_feature_dim", 12)))
    with pytest.raises(BundleError, match=r"text_encoder.onnx has inputs \[.*'input_ids'.*\].*expected \['texts'\]"):
        open_bundle(folder)


@needs_graph
@pytest.mark.slow
def test_a_text_query_through_a_strings_bundle_imports_no_torch(strings_bundle):
    """onnxruntime_extensions' own __init__ imports onnx, transformers and torch (5-6 s); the runtime only
    needs its op library file, so a query in the app's process stays torch-free and its first query fast."""
    import subprocess
    import sys

    code = ("import sys; from models.runtime import ModelRuntime; "
            f"ModelRuntime({str(strings_bundle)!r}, device='cpu').encode_texts(['a cat']); "
            "print(sorted(m for m in ('torch', 'transformers', 'onnxruntime_extensions') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_runtime_without_onnxruntime_extensions_names_the_pip_line(bundle_copy, monkeypatch):
    import sys

    from models.runtime import create_session

    _replace_graph(bundle_copy, "text_mapper.onnx", BAD_GRAPHS["python-op"][0])  # imports ai.onnx.contrib
    monkeypatch.setitem(sys.modules, "onnxruntime_extensions", None)  # what an environment without it gives
    with pytest.raises(BundleError, match=r"not installed; run `pip install onnxruntime-extensions==0.15.0`"):
        create_session(bundle_copy / "text_mapper.onnx")


@needs_graph
@pytest.mark.slow
def test_strings_bundle_imports_and_exports_without_a_tokenizer(strings_bundle, tmp_path):
    import zipfile

    from toy_bundle import minilm_tokenizer_json

    from models import registry

    source = shutil.copytree(strings_bundle, tmp_path / "source")
    shutil.copyfile(minilm_tokenizer_json(), source / "tokenizer.json")  # a stray one the bundle never reads
    registry.install(source)
    assert not (registry.bundle_folder("multilingual") / "tokenizer.json").exists()
    archive = registry.export("multilingual", tmp_path / "multilingual.zip")
    assert "multilingual/tokenizer.json" not in zipfile.ZipFile(archive).namelist()
    copy = registry.install(archive, name="copy")
    assert ModelRuntime(copy, device="cpu").encode_texts(["un gato"]).shape == (1, 64)


@pytest.mark.parametrize("content", [b"this is not onnx", b"\x42" + b"\xff" * 8 + b"\x0f" + b"x" * 16], ids=["text", "huge-entry"])
def test_a_file_that_is_no_graph_gets_the_runtimes_one_line_error(tmp_path, content):
    from models.runtime import create_session

    (tmp_path / "bad.onnx").write_bytes(content)  # 0x42: an opset_import entry, here claiming 2**60 bytes
    with pytest.raises(BundleError, match="bad.onnx: ONNX Runtime cannot load this graph"):
        create_session(tmp_path / "bad.onnx")
