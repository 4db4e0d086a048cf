"""Test-wide fixtures: every data dir points at a temp dir; Qt runs offscreen; nothing reaches a hub."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Point PICSIFT_DATA_DIR at a fresh temp dir so no test touches the user's library or models."""
    data = tmp_path / "picsift-data"
    monkeypatch.setenv("PICSIFT_DATA_DIR", str(data))
    return data
