"""Installed model bundles in the data dir: list, activate, import (validated) and export (folder or zip)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from models import paths
from models.atomic import replace_folder, write_text_atomic
from models.bundle import Bundle, open_bundle
from models.errors import BundleError, PicsiftError
from models.manifest import BUNDLE_FILES, MANIFEST, read_manifest
from models.model_card import CARD_FILE, model_card

BUILTIN_VERSION = 2  # of the built-in model this picsift builds (trainer.export.default_model); 1: Lite0 + MiniLM
DEFAULT_BUNDLE = "picsift-builtin"  # the offline model built from the two packaged encoders
_ACTIVE_FILE = "active.json"
DOC_FILES = (CARD_FILE, "report.json", "curves.png")  # documentation that travels with a bundle when present
# Import limits, checked on the archive's directory before a byte is extracted. The built-in bundle
# is ~117 MB in 6 files; CLIP-L ~1.7 GB; its documents are a few hundred KB.
_MAX_BUNDLE_BYTES = 4 << 30  # manifest, graphs and tokenizer together
MAX_EXTRA_BYTES = 64 << 20  # everything else in an archive (documents, folders, stray files)
MAX_ZIP_MEMBERS = 256  # a bundle is 6 files and 3 documents; anything near this is not one


@dataclass(frozen=True)
class InstalledBundle:
    """One line of `picsift model list`."""

    name: str
    folder: Path
    active: bool
    family: str = ""
    embedding_dim: int = 0
    problem: str = ""  # why the bundle cannot be used, empty when it is fine
    base_weights: str = ""  # provenance: the hub id or folder it was made from, when recorded

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "active": self.active,
            "family": self.family,
            "embedding_dim": self.embedding_dim,
            "path": str(self.folder),
            "problem": self.problem,
        }


def safe_name(text: str, fallback: str = "model") -> str:
    """`text` as a bundle, cache or file name: runs of anything but ASCII letters, digits, `.`, `_` and `-`
    become one `-`, with no leading or trailing `.` or `-` (never hidden, never `..`); `fallback` if nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or fallback


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
            found.append(InstalledBundle(folder.name, folder, folder.name == active, manifest.family, manifest.embedding_dim,
                                         base_weights=str(manifest.provenance.get("base_weights") or "")))
        except BundleError as exc:
            found.append(InstalledBundle(folder.name, folder, folder.name == active, problem=str(exc)))
    return found


def builtin_outdated() -> bool:
    """Whether the installed built-in bundle is an older built-in model than this picsift builds
    (v1, English only, where v2 is multilingual): `picsift model build-default --force` updates it."""
    try:
        manifest = read_manifest(bundle_folder(DEFAULT_BUNDLE))
    except BundleError:
        return False
    version = manifest.provenance.get("builtin_version", 1) if manifest.family == "builtin" else BUILTIN_VERSION
    return isinstance(version, int) and version < BUILTIN_VERSION


def default_build_needed() -> bool:
    """Whether the built-in bundle must be built before search can run: only when it is the active
    one and absent. Any other active bundle (an import on a new machine) never waits for it, and a
    missing one is reported by `open_installed`, which building the built-in one would not cure."""
    return active_name() == DEFAULT_BUNDLE and not bundle_folder(DEFAULT_BUNDLE).exists()


def open_installed(name: str | None = None) -> Bundle:
    """Open and verify an installed bundle, the active one by default; probed the first time."""
    from models.probe import ensure_probed  # onnxruntime: loaded by commands that run a model, not by `model list`

    name = name or active_name()
    folder = bundle_folder(name)
    if not folder.exists():
        hint = "run `picsift model build-default`" if name == DEFAULT_BUNDLE else "see `picsift model list`"
        raise BundleError(f"model bundle {name!r} is not installed; {hint}")
    bundle = open_bundle(folder)
    ensure_probed(bundle)
    return bundle


def use(name: str) -> Bundle:
    """Make `name` the active bundle (it must exist and verify)."""
    bundle = open_installed(name)
    write_text_atomic(paths.models_dir() / _ACTIVE_FILE, json.dumps({"active": name}) + "\n")
    return bundle


def install(source: str | Path, name: str | None = None, replace: bool = False) -> Bundle:
    """Import a bundle folder or .zip: copy its files into a temp folder, verify and probe them, then
    rename into place. Installed under `name` (the manifest's name is rewritten to match) or the manifest's."""
    from models.probe import ensure_probed  # see open_installed

    source = Path(source)
    if not source.exists():
        raise PicsiftError(f"{source}: no such file or folder")
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=paths.models_dir()))
    try:
        root = _unpack(source, staging)
        bundle = _renamed(open_bundle(root), name)
        for stray in set(BUNDLE_FILES) - set(bundle.manifest.bundle_files):  # a tokenizer.json a strings bundle never reads
            bundle.path(stray).unlink(missing_ok=True)
        target = bundle_folder(bundle.name)
        if target.exists() and not replace:
            raise PicsiftError(f"a bundle named {bundle.name!r} is already installed; pass --replace or choose --name")
        ensure_probed(bundle)  # the marker moves in with the folder
        replace_folder(root, target)
        return open_bundle(target, verify_hashes=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _renamed(bundle: Bundle, name: str | None) -> Bundle:
    """The bundle under `name`: its manifest and model card say so too (the name labels the index and exports)."""
    if not name or name == bundle.name:
        return bundle
    bundle_folder(name)  # refuses an unusable name before anything is written
    manifest = dataclasses.replace(bundle.manifest, name=name)
    manifest.save(bundle.folder)
    if bundle.path(CARD_FILE).is_file():  # the card is written from the manifest
        bundle.path(CARD_FILE).write_text(model_card(manifest), encoding="utf-8")
    return Bundle(bundle.folder, manifest)


def export(name: str, destination: str | Path) -> Path:
    """Write an installed bundle to a folder, or to a .zip when `destination` ends in .zip."""
    bundle = open_installed(name)
    destination = Path(destination)
    if destination.suffix.lower() == ".zip":
        _zip_bundle(bundle, destination)
    else:
        if destination.exists():
            raise PicsiftError(f"{destination} already exists; choose a new folder or a .zip path")
        destination.mkdir(parents=True)
        for file_name in (MANIFEST, *bundle.manifest.bundle_files, *_extra_files(bundle)):
            shutil.copyfile(bundle.path(file_name), destination / file_name)
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
    """Copy the bundle's own files (manifest, graphs, tokenizer, documents) from a folder or .zip
    into `staging/bundle`; nothing else is copied, so stray files, subfolders and links are never followed."""
    root = staging / "bundle"
    root.mkdir()
    if source.is_dir():
        _copy_folder_files(source, root)
    elif zipfile.is_zipfile(source):
        try:
            with zipfile.ZipFile(source) as archive:
                _extract_bundle_files(source, archive, root)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a bad CRC, a cut-off or mangled stream
            raise BundleError(f"{source}: archive is corrupt ({exc}); export or download it again") from exc
    else:
        raise BundleError(f"{source}: not a bundle folder or .zip archive")
    return root


def _copy_folder_files(source: Path, root: Path) -> None:
    sizes = {}
    for file_name in (MANIFEST, *BUNDLE_FILES, *DOC_FILES):
        try:
            mode = (source / file_name).lstat().st_mode
        except FileNotFoundError:
            continue  # a missing bundle file is reported by open_bundle, naming it
        if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            raise BundleError(f"{source}: {file_name} is {kind}; put the file itself in the bundle folder and import again")
        sizes[file_name] = (source / file_name).stat().st_size
    _check_sizes(source, sum(sizes.values()), 0)
    for file_name in sizes:
        shutil.copyfile(source / file_name, root / file_name)


def _extract_bundle_files(source: Path, archive: zipfile.ZipFile, root: Path) -> None:
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise BundleError(f"{source}: archive holds {len(members)} entries, a bundle has about 10 (at most {MAX_ZIP_MEMBERS}); refusing to import")
    for member in members:
        _check_member(source, member)
    manifests = [m for m in members if _member_path(m).name == MANIFEST and not m.is_dir()]
    if len(manifests) != 1:
        raise BundleError(f"{source}: archive holds {len(manifests)} manifest.json files, expected exactly one")
    folder = _member_path(manifests[0]).parent
    wanted = {folder / name: name for name in (MANIFEST, *BUNDLE_FILES, *DOC_FILES)}
    chosen = [(m, wanted[_member_path(m)]) for m in members if _member_path(m) in wanted and not m.is_dir()]
    bundle_bytes = sum(m.file_size for m, _ in chosen)
    _check_sizes(source, bundle_bytes, sum(m.file_size for m in members) - bundle_bytes)
    for member, file_name in chosen:
        with archive.open(member) as packed, open(root / file_name, "wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)  # zipfile stops at the declared size and checks the CRC


def _member_path(member: zipfile.ZipInfo) -> PurePosixPath:
    return PurePosixPath(member.filename.replace("\\", "/"))


def _check_member(source: Path, member: zipfile.ZipInfo) -> None:
    """Refuse members that would land outside the folder, and links."""
    path = _member_path(member)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise BundleError(f"{source}: archive member {member.filename!r} escapes its folder; refusing to import")
    if (member.external_attr >> 16) & 0o170000 == 0o120000:
        raise BundleError(f"{source}: archive member {member.filename!r} is a symbolic link; refusing to import")


def _check_sizes(source: Path, bundle_bytes: int, extra_bytes: int) -> None:
    """Zip bombs and stray payloads: refused from the sizes the archive (or folder) declares, before copying."""
    if bundle_bytes > _MAX_BUNDLE_BYTES:
        raise BundleError(f"{source}: bundle files add up to {bundle_bytes / 2**30:.1f} GiB, more than a bundle can be (at most {_MAX_BUNDLE_BYTES >> 30} GiB)")
    if extra_bytes > MAX_EXTRA_BYTES:
        raise BundleError(
            f"{source}: archive unpacks to {extra_bytes / 2**20:.0f} MiB besides the bundle's files "
            f"(at most {MAX_EXTRA_BYTES >> 20} MiB); refusing to import, re-export the bundle"
        )


def _zip_bundle(bundle: Bundle, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file_name in (MANIFEST, *bundle.manifest.bundle_files, *_extra_files(bundle)):
            archive.write(bundle.path(file_name), f"{bundle.name}/{file_name}")
        if not bundle.path(CARD_FILE).is_file():
            archive.writestr(f"{bundle.name}/{CARD_FILE}", model_card(bundle.manifest))
    tmp.replace(destination)


def _extra_files(bundle: Bundle) -> list[str]:
    """Documentation that travels with the bundle (model card, training report and curves) when present."""
    return [name for name in DOC_FILES if bundle.path(name).is_file()]
