"""Installed model bundles in the data dir: list, activate, import (validated) and export (folder or zip)."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from models import paths
from models.atomic import replace_folder, write_text_atomic
from models.bundle import Bundle, open_bundle
from models.errors import BundleError, PicsiftError
from models.manifest import BUNDLE_FILES, MANIFEST, read_manifest
from models.model_card import CARD_FILE, model_card

DEFAULT_BUNDLE = "picsift-builtin"  # the offline model built from the two packaged encoders
_ACTIVE_FILE = "active.json"
_MAX_ZIP_BYTES = 4 << 30  # refuse archives that would unpack to more than 4 GiB


@dataclass(frozen=True)
class InstalledBundle:
    """One line of `picsift model list`."""

    name: str
    folder: Path
    active: bool
    family: str = ""
    embedding_dim: int = 0
    problem: str = ""  # why the bundle cannot be used, empty when it is fine

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "active": self.active,
            "family": self.family,
            "embedding_dim": self.embedding_dim,
            "path": str(self.folder),
            "problem": self.problem,
        }


def bundle_folder(name: str) -> Path:
    _check_name(name)
    return paths.models_dir() / name


def active_name() -> str:
    """The bundle search uses; the built-in one until the user picks another."""
    path = paths.models_dir() / _ACTIVE_FILE
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["active"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_BUNDLE


def list_bundles() -> list[InstalledBundle]:
    """Every bundle folder in the data dir, sorted by name; broken ones say what is wrong."""
    active = active_name()
    found = []
    for folder in sorted(p for p in paths.models_dir().iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            manifest = read_manifest(folder)
            found.append(InstalledBundle(folder.name, folder, folder.name == active, manifest.family, manifest.embedding_dim))
        except BundleError as exc:
            found.append(InstalledBundle(folder.name, folder, folder.name == active, problem=str(exc)))
    return found


def open_installed(name: str | None = None) -> Bundle:
    """Open (and verify) an installed bundle; the active one by default."""
    name = name or active_name()
    folder = bundle_folder(name)
    if not folder.exists():
        hint = "run `picsift model build-default`" if name == DEFAULT_BUNDLE else "see `picsift model list`"
        raise BundleError(f"model bundle {name!r} is not installed; {hint}")
    return open_bundle(folder)


def use(name: str) -> Bundle:
    """Make `name` the active bundle (it must exist and verify)."""
    bundle = open_installed(name)
    write_text_atomic(paths.models_dir() / _ACTIVE_FILE, json.dumps({"active": name}) + "\n")
    return bundle


def install(source: str | Path, name: str | None = None, replace: bool = False) -> Bundle:
    """Import a bundle folder or .zip: unpack into a temp folder, verify everything, then rename into place."""
    source = Path(source)
    if not source.exists():
        raise PicsiftError(f"{source}: no such file or folder")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=paths.models_dir()))
    try:
        root = _unpack(source, staging)
        bundle = open_bundle(root)
        name = name or bundle.name
        target = bundle_folder(name)
        if target.exists() and not replace:
            raise PicsiftError(f"a bundle named {name!r} is already installed; pass --replace or choose --name")
        replace_folder(root, target)
        return open_bundle(target, verify_hashes=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export(name: str, destination: str | Path) -> Path:
    """Write an installed bundle to a folder, or to a .zip when `destination` ends in .zip."""
    bundle = open_installed(name)
    destination = Path(destination)
    if destination.suffix.lower() == ".zip":
        _zip_bundle(bundle, destination)
    else:
        if destination.exists():
            raise PicsiftError(f"{destination} already exists; choose a new folder or a .zip path")
        shutil.copytree(bundle.folder, destination)
        if not (destination / CARD_FILE).is_file():
            (destination / CARD_FILE).write_text(model_card(bundle.manifest), encoding="utf-8")
    return destination


def remove(name: str) -> None:
    """Delete an installed bundle (not the active one)."""
    if name == active_name():
        raise PicsiftError(f"{name!r} is the active model; `picsift model use` another one first")
    folder = bundle_folder(name)
    if not folder.exists():
        raise PicsiftError(f"model bundle {name!r} is not installed")
    shutil.rmtree(folder)


def _check_name(name: str) -> None:
    if not name or name in {".", ".."} or any(c in name for c in "/\\:") or name.startswith("."):
        raise PicsiftError(f"{name!r} is not a valid bundle name; use letters, digits, '-', '_' or '.'")


def _unpack(source: Path, staging: Path) -> Path:
    """Copy or extract `source` under `staging`; returns the folder holding manifest.json."""
    if source.is_dir():
        root = staging / "bundle"
        shutil.copytree(source, root)
        return root
    if not zipfile.is_zipfile(source):
        raise BundleError(f"{source}: not a bundle folder or .zip archive")
    with zipfile.ZipFile(source) as archive:
        _check_members(source, archive)
        archive.extractall(staging)
    manifests = list(staging.rglob(MANIFEST))
    if len(manifests) != 1:
        raise BundleError(f"{source}: archive holds {len(manifests)} manifest.json files, expected exactly one")
    return manifests[0].parent


def _check_members(source: Path, archive: zipfile.ZipFile) -> None:
    """Refuse members that would land outside the folder, links, and zip bombs."""
    total = 0
    for member in archive.infolist():
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
            raise BundleError(f"{source}: archive member {member.filename!r} escapes its folder; refusing to import")
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise BundleError(f"{source}: archive member {member.filename!r} is a symbolic link; refusing to import")
        total += member.file_size
    if total > _MAX_ZIP_BYTES:
        raise BundleError(f"{source}: archive unpacks to {total / 2**30:.1f} GiB, more than a bundle can be")


def _zip_bundle(bundle: Bundle, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_name in (MANIFEST, *BUNDLE_FILES, *_extra_files(bundle)):
            archive.write(bundle.path(file_name), f"{bundle.name}/{file_name}")
        if not bundle.path(CARD_FILE).is_file():
            archive.writestr(f"{bundle.name}/{CARD_FILE}", model_card(bundle.manifest))
    tmp.replace(destination)


def _extra_files(bundle: Bundle) -> list[str]:
    """Documentation that travels with the bundle (model card, training report and curves) when present."""
    return [name for name in (CARD_FILE, "report.json", "curves.png") if bundle.path(name).is_file()]
