"""App settings persisted as JSON in the data dir (window geometry, view options, recent choices)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from models import paths
from models.atomic import write_text_atomic

SETTINGS_VERSION = 1


@dataclass
class Settings:
    """Everything the app remembers between runs; unknown or broken values fall back to defaults."""

    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState() (docks, toolbars)
    splitter_state: str = ""  # base64 of the results/preview splitter
    sort_by: str = "relevance"  # "relevance" or "date"
    show_scores: bool = False
    results_per_query: int = 500
    last_folder: str = ""  # where "Add folder" opens
    last_query: str = ""
    watch_folders: bool = True  # the window indexes what changes in the library folders while it is open
    find_faces: str = ""  # find the people in photos (face data is personal, so asked once): "" not asked yet, "yes", "no"
    switching_to: str = ""  # a model whose background re-encoding has not finished: resumed on the next start
    version: int = SETTINGS_VERSION
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        defaults = cls()
        known = {}
        for f in fields(cls):
            value = data.get(f.name, getattr(defaults, f.name))
            known[f.name] = value if isinstance(value, type(getattr(defaults, f.name))) else getattr(defaults, f.name)
        return cls(**known)

    def save(self, path: Path | None = None) -> None:
        write_text_atomic(path or settings_path(), json.dumps(asdict(self), indent=2) + "\n")


def settings_path() -> Path:
    return paths.data_dir() / "settings.json"
