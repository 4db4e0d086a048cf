"""Fixtures of the bundle tests: one exported toy bundle per module, and a fresh copy of it per test."""

from __future__ import annotations

import shutil

import pytest
from toy_bundle import export_toy_bundle


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_toy_bundle(tmp_path_factory.mktemp("bundles") / "toy")


@pytest.fixture
def bundle_copy(exported, tmp_path):
    return shutil.copytree(exported, tmp_path / "copy")
