"""Where picsift keeps its state: one data directory, overridable with PICSIFT_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA_DIR = "PICSIFT_DATA_DIR"


def data_dir() -> Path:
    """The root of everything picsift writes (bundles, catalog, index, settings); created on demand."""
    override = os.environ.get(ENV_DATA_DIR)
    root = Path(override) if override else Path(platformdirs.user_data_dir("picsift", appauthor=False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Installed model bundles, one folder each, named after the bundle."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Rebuildable data (feature caches, thumbnails): safe to delete."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    """The desktop app's log file (errors with their tracebacks, for bug reports): safe to delete."""
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
