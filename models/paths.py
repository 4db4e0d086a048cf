"""Where picsift keeps its state: one data directory, overridable with PICSIFT_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA_DIR = "PICSIFT_DATA_DIR"


def data_dir() -> Path:
    """The root of everything picsift writes (bundles, catalog, index, settings); created on demand."""
    override = os.environ.get(ENV_DATA_DIR)
    return _created(Path(override) if override else Path(platformdirs.user_data_dir("picsift", appauthor=False)))


def models_dir() -> Path:
    """Installed model bundles, one folder each, named after the bundle."""
    return _created(data_dir() / "models")


def cache_dir() -> Path:
    """Rebuildable data (feature caches, thumbnails): safe to delete."""
    return _created(data_dir() / "cache")


def logs_dir() -> Path:
    """The desktop app's log file (errors with their tracebacks, for bug reports): safe to delete."""
    return _created(data_dir() / "logs")


def _created(folder: Path) -> Path:
    """`folder`, made (with its parents) if it is not there yet: every place here exists once asked for."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder
