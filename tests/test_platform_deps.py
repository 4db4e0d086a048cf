"""picsift's dependency list installs beyond Linux: each platform gets exactly one ONNX Runtime package.

Offline: the markers in pyproject.toml are evaluated for each platform. Whether PyPI has wheels for
what they select is checked by tests/benchmarks/platform_deps.py (online; results in
tests/benchmarks/results/platform_deps.json).
"""

from __future__ import annotations

import pytest
from benchmarks.platform_deps import PLATFORMS, project_requirements, selected

ONNX_RUNTIMES = {"onnxruntime", "onnxruntime-gpu"}


@pytest.mark.parametrize(
    ("platform", "onnx_runtime"),
    [("linux-x86_64", "onnxruntime-gpu"), ("windows-x64", "onnxruntime-gpu"), ("macos-arm64", "onnxruntime"),
     ("linux-aarch64", "onnxruntime")],
)
def test_each_platform_gets_one_onnx_runtime_and_the_usearch_index(platform, onnx_runtime):
    names = {requirement.name for requirement in selected(project_requirements(), PLATFORMS[platform])}
    assert names & ONNX_RUNTIMES == {onnx_runtime}
    assert {"usearch", "numkong"} <= names and not names & {"hnswlib", "chroma-hnswlib"}  # hnswlib: benchmarks only


def test_every_platform_gets_the_same_packages_apart_from_onnx_runtime():
    requirements = project_requirements()
    named = [{r.name for r in selected(requirements, env)} - ONNX_RUNTIMES for env in PLATFORMS.values()]
    assert all(names == named[0] for names in named) and "numpy" in named[0]
