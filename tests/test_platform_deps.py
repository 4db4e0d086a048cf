"""picsift's dependency list installs beyond Linux: each platform gets exactly one ONNX Runtime package.

Offline: the markers in pyproject.toml are evaluated for each platform. Whether PyPI has wheels for
what they select is checked by tests/benchmarks/platform_deps.py (online; results in
tests/benchmarks/results/platform_deps.json).
"""

from __future__ import annotations

import pytest
from benchmarks.platform_deps import PLATFORMS, project_requirements, selected

ONNX_RUNTIMES = {"onnxruntime", "onnxruntime-gpu"}
HNSW = {"hnswlib", "chroma-hnswlib"}


@pytest.mark.parametrize(
    ("platform", "onnx_runtime", "hnsw"),
    [("linux-x86_64", "onnxruntime-gpu", "hnswlib"), ("windows-x64", "onnxruntime-gpu", "chroma-hnswlib"),
     ("macos-arm64", "onnxruntime", "chroma-hnswlib"), ("linux-aarch64", "onnxruntime", "hnswlib")],
)
def test_each_platform_gets_one_onnx_runtime_and_one_hnswlib_it_has_wheels_or_a_compiler_for(platform, onnx_runtime, hnsw):
    names = {requirement.name for requirement in selected(project_requirements(), PLATFORMS[platform])}
    assert names & ONNX_RUNTIMES == {onnx_runtime}
    assert names & HNSW == {hnsw}


def test_every_platform_gets_the_same_packages_apart_from_onnx_runtime_and_hnswlib():
    requirements = project_requirements()
    named = [{r.name for r in selected(requirements, env)} - ONNX_RUNTIMES - HNSW for env in PLATFORMS.values()]
    assert all(names == named[0] for names in named) and "numpy" in named[0]
