"""Test-wide fixtures: every data dir points at a temp dir; Qt runs offscreen; nothing reaches a hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Point PICSIFT_DATA_DIR at a fresh temp dir so no test touches the user's library or models."""
    data = tmp_path / "picsift-data"
    monkeypatch.setenv("PICSIFT_DATA_DIR", str(data))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: a download attempt is refused
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return data


@pytest.fixture(scope="session")
def builtin_bundle(tmp_path_factory):
    """The real built-in bundle (model v2: EfficientNet-Lite2 + multilingual text + zero-shot bridge), built once per run."""
    from trainer.export.default_model import build_default_bundle

    reuse = os.environ.get("PICSIFT_TEST_BUILTIN")  # developers: an already built bundle, to skip the build
    if reuse:
        return Path(reuse)
    return build_default_bundle(destination=tmp_path_factory.mktemp("builtin") / "picsift-builtin")


@pytest.fixture(scope="session")
def builtin_v1_bundle(tmp_path_factory):
    """Built-in model v1 (EfficientNet-Lite0 + MiniLM), the base fine-tuning starts from; built once per run."""
    from trainer.export.default_model import V1_FOLDER_NAME, build_default_bundle

    reuse = os.environ.get("PICSIFT_TEST_BUILTIN_V1")  # developers: an already built v1 bundle
    if reuse:
        return Path(reuse)
    return build_default_bundle(destination=tmp_path_factory.mktemp("builtin-v1") / V1_FOLDER_NAME, version=1)


@pytest.fixture
def installed_builtin(builtin_bundle):
    """The built-in bundle installed (linked, not copied) in this test's data dir."""
    from models import paths, registry

    link = paths.models_dir() / registry.DEFAULT_BUNDLE
    link.symlink_to(builtin_bundle, target_is_directory=True)
    return link


@pytest.fixture
def fine_tune_base(installed_builtin, builtin_v1_bundle):
    """The built-in installed and model v1 in this test's cache, where fine-tuning finds its base (trainer.base)."""
    from models import paths
    from trainer.export.default_model import V1_FOLDER_NAME

    link = paths.cache_dir() / "base-bundles" / V1_FOLDER_NAME
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(builtin_v1_bundle, target_is_directory=True)
    return installed_builtin
