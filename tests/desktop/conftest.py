"""Fixtures the engine tests share: a real toy bundle (built once per run) and a Library opened on it."""

from __future__ import annotations

import os

import pytest
from engine_fixtures import open_library
from toy_bundle import export_toy_bundle

from models.runtime import ModelRuntime


@pytest.fixture(autouse=True)
def _windows_freed():
    """After each test (once pytest-qt has closed its widgets and called deleteLater on them) their Qt objects are
    deleted: a deferred delete posted outside an event loop waits for a loop at its own level, which a test run
    never returns to, so every window's widgets, pixmaps and threads would live to the end of the run."""
    yield
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()


@pytest.fixture(scope="session")
def toy(tmp_path_factory):
    return export_toy_bundle(tmp_path_factory.mktemp("bundle") / "toy")


@pytest.fixture
def library(toy):
    engine = open_library(toy)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def runtime(builtin_bundle):
    """The built-in model on CPU, for tests of the real window (a module may define its own). One for the run:
    each ModelRuntime holds its ONNX sessions (100-250 MB), and a window closed by pytest-qt keeps its library
    and model referenced from Qt's side for the rest of the run, so one per test ran a full suite out of memory."""
    return ModelRuntime(builtin_bundle, device="cpu")


@pytest.fixture
def user_trash(tmp_path, monkeypatch):
    """The freedesktop trash of a home in tmp_path (send2trash reads XDG_DATA_HOME once, at import)."""
    from send2trash import plat_other

    home = tmp_path / "home"
    data = home / ".local" / "share"
    data.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data / "Trash"))
    return data / "Trash"
