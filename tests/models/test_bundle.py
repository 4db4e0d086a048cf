"""A bundle loads only when every file is present, intact and consistent with its manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from toy_bundle import edit_manifest, export_toy_bundle

from models.bundle import open_bundle
from models.errors import BundleError
from models.runtime import ModelRuntime


def test_exported_bundle_opens_and_encodes_both_modalities(exported):
    runtime = ModelRuntime(exported)
    texts = runtime.encode_texts(["a cat", "a much longer sentence about a dog"])
    images = runtime.encode_images(np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32))
    assert texts.shape == (2, 8) and images.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)


def test_runtime_reports_the_provider_it_really_uses(exported):
    runtime = ModelRuntime(exported)
    runtime.encode_texts(["x"])
    assert set(runtime.providers().values()) <= {"CPU", "CUDA", "CoreML"}
    assert runtime.active_provider() in {"CPU", "CUDA", "CoreML"}


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]),
        (["CoreMLExecutionProvider", "AzureExecutionProvider", "CPUExecutionProvider"], ["CoreMLExecutionProvider", "CPUExecutionProvider"]),
        (["AzureExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ],
    ids=["onnxruntime-gpu", "macos-wheel", "plain-wheel"],
)
def test_runtime_asks_for_the_accelerator_its_onnxruntime_package_has_then_cpu(monkeypatch, available, expected):
    import onnxruntime

    from models.runtime import preferred_providers

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: available)
    assert preferred_providers() == expected and preferred_providers("cpu") == ["CPUExecutionProvider"]


def test_missing_file_is_named_in_a_one_line_error(bundle_copy):
    (bundle_copy / "text_encoder.onnx").unlink()
    with pytest.raises(BundleError, match="text_encoder.onnx is missing") as caught:
        open_bundle(bundle_copy)
    assert "\n" not in str(caught.value)


def test_tampered_file_fails_its_checksum(bundle_copy):
    with open(bundle_copy / "image_mapper.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="image_mapper.onnx does not match its checksum"):
        open_bundle(bundle_copy)


def test_truncated_manifest_is_reported_as_corrupt(bundle_copy):
    text = (bundle_copy / "manifest.json").read_text()
    (bundle_copy / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(BundleError, match="not valid JSON"):
        open_bundle(bundle_copy)


def test_newer_schema_version_is_refused_with_advice(bundle_copy):
    data = json.loads((bundle_copy / "manifest.json").read_text())
    data["schema_version"] = 99
    (bundle_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="schema version 99 is not supported"):
        open_bundle(bundle_copy)


def test_manifest_width_that_disagrees_with_the_graph_is_refused(bundle_copy):
    data = json.loads((bundle_copy / "manifest.json").read_text())
    data["embedding_dim"] = 9
    (bundle_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="manifest says 9"):
        open_bundle(bundle_copy)


def test_manifest_declaring_an_instance_output_the_graph_lacks_is_refused(tmp_path):
    old = export_toy_bundle(tmp_path / "old", instance=False)
    data = json.loads((old / "manifest.json").read_text())
    data["instance_dim"] = 16
    (old / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match=r"outputs \['features'\], expected \['pixel_values'\] -> \['features', 'instance'\]"):
        open_bundle(old)


def test_bundle_from_before_the_instance_output_opens_and_gives_features_only(tmp_path):
    runtime = ModelRuntime(export_toy_bundle(tmp_path / "old", instance=False))
    pixels = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    features, instance = runtime.image_features_and_instance(pixels)
    assert not runtime.has_instance and instance is None and features.shape == (2, 16)


def test_instance_output_comes_from_the_same_run_as_the_features_as_unit_vectors(exported):
    runtime = ModelRuntime(exported)
    pixels = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    features, instance = runtime.image_features_and_instance(pixels)
    np.testing.assert_allclose(features, runtime.image_features(pixels), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(instance, axis=1), 1.0, atol=1e-5)


def test_garbage_onnx_with_matching_checksum_is_refused(bundle_copy):
    from models.bundle import sha256_of

    (bundle_copy / "text_mapper.onnx").write_bytes(b"this is not onnx")
    data = json.loads((bundle_copy / "manifest.json").read_text())
    data["files"]["text_mapper.onnx"] = sha256_of(bundle_copy / "text_mapper.onnx")
    (bundle_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="text_mapper.onnx"):
        open_bundle(bundle_copy)


def test_folder_that_is_not_a_bundle_says_so(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle"):
        open_bundle(tmp_path)


def _set(path, value):
    def edit(data):
        *parents, leaf = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if leaf.endswith("]"):
            leaf, index = leaf[:-1].split("[")
            node[leaf][int(index)] = value
        else:
            node[leaf] = value
    return edit


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("image_preprocess.size", 60000, "16..1024"),
        ("image_preprocess.size", 0, "16..1024"),
        ("image_preprocess.resize_to", 16, "32..2048"),  # smaller than the crop
        ("image_preprocess.std[1]", 0, "0.001..10"),
        ("image_preprocess.std[0]", float("nan"), "0.001..10"),
        ("image_preprocess.mean[2]", float("inf"), "-1..2"),
        ("image_preprocess.mean[0]", 127.0, "-1..2"),  # 0..255 units by mistake
        ("text.max_length", -5, "1..2048"),
        ("text.pad_id", -1, "0.."),
        ("image_feature_dim", 0, "1..16384"),
        ("embedding_dim", 10**9, "1..16384"),
    ],
)
def test_manifest_value_outside_its_sane_range_is_refused_naming_the_field(bundle_copy, field, value, allowed):
    edit_manifest(bundle_copy, _set(field, value))
    with pytest.raises(BundleError) as caught:
        open_bundle(bundle_copy)
    message = str(caught.value)
    assert f"manifest field {field} is " in message and allowed in message and "\n" not in message


def test_mean_with_two_channels_is_refused_naming_the_field(bundle_copy):
    edit_manifest(bundle_copy, _set("image_preprocess.mean", [0.5, 0.5]))
    with pytest.raises(BundleError, match=r"image_preprocess\.mean holds 2 values; it needs 3"):
        open_bundle(bundle_copy)


def test_unknown_resample_filter_is_refused_with_the_ones_allowed(bundle_copy):
    edit_manifest(bundle_copy, _set("image_preprocess.resample", "nearest"))
    with pytest.raises(BundleError, match=r"image_preprocess\.resample is 'nearest'.*bicubic"):
        open_bundle(bundle_copy)


def _replace_file(folder, file_name, data: bytes):
    from models.bundle import sha256_of

    (folder / file_name).write_bytes(data)
    edit_manifest(folder, lambda manifest: manifest["files"].__setitem__(file_name, sha256_of(folder / file_name)))


def _mapper_graph(in_width: int, out_width: int, declared_width, poison: str | None = None) -> bytes:
    """A mapper (B, in_width) -> (B, out_width) that passes the static interface check; `poison`
    "nan" makes its output NaN, "unnormalised" leaves out the L2 normalisation."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.full((in_width, out_width), 0.1, np.float32), "weights")
    nodes = [helper.make_node("MatMul", ["features", "weights"], ["projected"])]
    if poison == "nan":
        nodes += [helper.make_node("Abs", ["projected"], ["positive"]), helper.make_node("Neg", ["positive"], ["negative"]),
                  helper.make_node("Sqrt", ["negative"], ["embeddings"])]
    elif poison == "unnormalised":
        nodes += [helper.make_node("Identity", ["projected"], ["embeddings"])]
    else:
        nodes += [helper.make_node("LpNormalization", ["projected"], ["embeddings"], axis=-1, p=2)]
    graph = helper.make_graph(
        nodes, "mapper",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", in_width])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", declared_width])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_exported_bundle_passes_the_probe(exported):
    from models.probe import probe_bundle

    probe_bundle(open_bundle(exported))


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        (_mapper_graph(16, 8, 8, poison="nan"), "image_mapper.onnx gives NaN or infinite values"),
        (_mapper_graph(16, 4, "width"), r"image_mapper.onnx gives shape \(2, 4\) for 2 probe rows, the manifest declares width 8"),
        (_mapper_graph(16, 8, 8, poison="unnormalised"), "image_mapper.onnx gives vectors of length .* expected unit length"),
        (_mapper_graph(12, 8, 8), "image_mapper.onnx fails on a probe input"),  # reads text-width features
    ],
    ids=["nan", "runtime-width", "not-unit", "wrong-input-width"],
)
def test_graph_that_fails_on_a_probe_input_is_refused_naming_the_file(bundle_copy, graph, message):
    from models.probe import probe_bundle

    bundle = open_bundle(bundle_copy)  # static checks pass: names and declared widths are right
    _replace_file(bundle_copy, "image_mapper.onnx", graph)
    with pytest.raises(BundleError, match=message) as caught:
        probe_bundle(open_bundle(bundle_copy))
    assert "\n" not in str(caught.value) and bundle.name == "toy"


def test_malformed_tokenizer_with_a_matching_checksum_is_refused_by_the_probe(bundle_copy):
    from models.probe import probe_bundle

    _replace_file(bundle_copy, "tokenizer.json", b'{"version": "1.0", "model": ')
    with pytest.raises(BundleError, match="tokenizer cannot be loaded"):
        probe_bundle(open_bundle(bundle_copy))


def test_pad_id_outside_the_tokenizer_vocabulary_is_refused_with_the_range(bundle_copy):
    from models.probe import probe_bundle

    edit_manifest(bundle_copy, _set("text.pad_id", 10**6))
    with pytest.raises(BundleError, match=r"text.pad_id is 1000000; allowed 0..30521"):
        probe_bundle(open_bundle(bundle_copy))


def test_probe_runs_once_per_manifest_and_again_when_the_manifest_changes(bundle_copy, monkeypatch):
    from models import probe

    runs = []
    monkeypatch.setattr(probe, "probe_bundle", lambda bundle: runs.append(bundle.name))
    probe.ensure_probed(open_bundle(bundle_copy))
    probe.ensure_probed(open_bundle(bundle_copy))
    assert runs == ["toy"] and (bundle_copy / probe.PROBE_FILE).is_file()
    edit_manifest(bundle_copy, _set("name", "renamed"))
    probe.ensure_probed(open_bundle(bundle_copy))
    assert runs == ["toy", "renamed"]
