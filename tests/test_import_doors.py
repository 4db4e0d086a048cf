"""The packages keep their one-way doors: models/ and desktop/core/ load no torch or Qt; trainer/ no Qt; desktop/ no torch."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    """Every module of the package, subpackages included; `__main__` would run a program, so not it."""
    folder = ROOT / package.replace(".", "/")
    found = pkgutil.walk_packages([str(folder)], prefix=f"{package}.")
    return [package] + [m.name for m in found if not m.name.endswith("__main__")]


def _loaded_after_importing(modules: list[str]) -> set[str]:
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", {"torch", "transformers", "PySide6", "trainer", "desktop"}),
        ("desktop.core", {"torch", "transformers", "PySide6", "trainer", "dlib"}),  # dlib: only once the face pass reads
        ("trainer", {"PySide6", "desktop"}),
        ("desktop", {"torch", "transformers", "trainer"}),  # the app runs the trainer as a process
    ],
)
def test_package_does_not_load_what_its_door_forbids(package, forbidden):
    loaded = _loaded_after_importing(_modules(package))
    assert not (loaded & forbidden), f"{package} pulled in {sorted(loaded & forbidden)}"
