"""A bundle loads only when every file is present, intact and consistent with its manifest."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from models.bundle import open_bundle
from models.errors import BundleError
from models.runtime import ModelRuntime
from toy_bundle import export_toy_bundle


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_toy_bundle(tmp_path_factory.mktemp("bundles") / "toy")


@pytest.fixture
def bundle_copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "copy")


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
    assert set(runtime.providers().values()) <= {"CPU", "CUDA"}
    assert runtime.active_provider() in {"CPU", "CUDA"}


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
