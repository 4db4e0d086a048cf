"""`picsift model ...`: list, activate, build, convert, export (also `picsift export`) and import model bundles."""

from __future__ import annotations

import argparse
import json
import sys

from desktop.core.trainer_process import run_trainer
from models import registry
from models.display import file_size, plural, rough_duration
from models.manifest import CONVERTED_FAMILIES


def ensure_default_model() -> None:
    """Build the built-in bundle on first use (a separate trainer process, with progress), unless another is active."""
    if registry.default_build_needed():
        print("First run: building the built-in offline model (about a minute)...", flush=True)
        run_trainer(["build-default"])
    elif registry.active_name() == registry.DEFAULT_BUNDLE and registry.builtin_outdated():
        print("note: a better built-in model is available (v2: multilingual, better on general photos); "
              "`picsift model build-default --force` installs it", file=sys.stderr)


def _list(args: argparse.Namespace) -> None:
    bundles = registry.list_bundles()
    if args.json:
        print(json.dumps([b.to_dict() for b in bundles], indent=2))
        return
    if not bundles:
        print("no model bundles installed; run `picsift model build-default`")
    for bundle in bundles:
        mark = "*" if bundle.active else " "
        detail = f"BROKEN: {bundle.problem}" if bundle.problem else f"{bundle.family}, {bundle.embedding_dim}-d"
        print(f"{bundle.name} {mark} {detail}")


def _use(args: argparse.Namespace) -> None:
    registry.use(args.name)
    print(f"active model: {args.name}")


def _export(args: argparse.Namespace) -> None:
    print(f"exported {args.name} to {registry.export(args.name, args.destination)}")


def _import(args: argparse.Namespace) -> None:
    bundle = registry.install(args.source, name=args.name, replace=args.replace)
    print(f"imported {bundle.name} (verified); activate it with `picsift model use {bundle.name}`")


def _remove(args: argparse.Namespace) -> None:
    registry.remove(args.name)
    print(f"removed {args.name}")


def _build_default(args: argparse.Namespace) -> None:
    run_trainer(["build-default"] + (["--force"] if args.force else []))


def _convert(args: argparse.Namespace) -> None:
    """A local folder goes to the trainer as is; a hub id is downloaded here first (a progress bar,
    resumable), converted by the trainer from that folder, and the download deleted once installed."""
    extra = [flag for flag, on in (("--replace", args.replace),) if on]
    extra += [f"--family={args.family}"] if args.family else []
    extra += [f"--name={args.name}"] if args.name else []
    if _is_local(args.source):
        run_trainer(["convert", args.source, *extra])
        return
    from desktop.core import hub_download
    from models.hub_catalog import check_hub_id

    folder = _download(check_hub_id(args.source))
    run_trainer(["convert", str(folder), "--hub-id", args.source, *extra])
    hub_download.discard(args.source)


def _is_local(source: str) -> bool:
    """A folder, or something that can only be a path (the trainer then says it is missing)."""
    from pathlib import Path

    return Path(source).expanduser().exists() or source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1


def _download(hub_id: str):
    """Download `hub_id` with a byte progress bar on stderr; the complete folder. Ctrl+C keeps what has
    arrived: the same command resumes it."""
    import threading

    from tqdm import tqdm

    from desktop.core import hub_download
    from models import hub_catalog

    model = hub_catalog.find(hub_id)
    if model is not None:
        hub_catalog.check_memory(model)
        hub_catalog.check_fits(model, _library_photos() or 0)
    cancel = threading.Event()
    with tqdm(desc=f"downloading {hub_id}", unit="B", unit_scale=True, unit_divisor=1000, file=sys.stderr,
              dynamic_ncols=True, leave=True) as bar:
        try:
            for progress in hub_download.download(hub_id, cancel):
                if progress.total_bytes and bar.total != progress.total_bytes:
                    bar.reset(total=progress.total_bytes)
                bar.update(progress.done_bytes - bar.n)
        except KeyboardInterrupt:
            cancel.set()
            raise
    return progress.folder


def _available(args: argparse.Namespace) -> None:
    """The curated hub models with their cost for this library, what is installed, and how to get one."""
    from desktop.cli.library import print_json
    from models import hub_catalog

    photos = _library_photos()
    machine = hub_catalog.measure_machine()
    installed = hub_catalog.installed_bundles()
    rows = [_available_row(model, photos or 1000, machine, installed.get(model.hub_id)) for model in hub_catalog.hub_models()]
    if args.json:
        print_json({"photos": photos, "machine": machine.basis, "models": rows})
        return
    print(f"estimates for {'this library: ' + plural(photos, 'photo') if photos else 'every 1,000 photos'} on this computer "
          f"({machine.basis}); sizes are the hub's, re-read before a download")
    _print_table(rows)
    print("get one: `picsift model convert HUB_ID` (the app: Model > Get a better model...)")


def _library_photos() -> int | None:
    """Distinct photos in the library's catalog (what a new model must encode), None without one."""
    from desktop.core.catalog import Catalog, catalog_path
    from models.errors import PicsiftError

    if not catalog_path().exists():
        return None  # opening a catalog would create one
    try:
        with Catalog(readonly=True) as catalog:
            return len(catalog.live_image_ids()) or None
    except PicsiftError:  # a damaged catalog: estimate per 1,000 photos; `picsift status` says what is wrong
        return None


def _available_row(model, photos: int, machine, bundle: str | None) -> dict:
    from models import hub_catalog

    need = hub_catalog.disk_needed(model, photos)
    return {
        "hub_id": model.hub_id, "name": model.name, "family": model.family, "languages": model.languages,
        "download_bytes": model.download_bytes, "bundle_bytes": need.bundle_bytes, "vectors_bytes": need.vectors_bytes,
        "published": model.headline.label(), "gflops_image": model.gflops_image,
        "indexing_seconds": round(hub_catalog.indexing_seconds(model, photos, machine), 1),
        "recommended": list(model.recommended), "installed": bundle,
    }


def _print_table(rows: list[dict]) -> None:
    cells = [("hub id", "family", "download", "languages", "published (zero-shot)", "indexing", "")]
    for row in rows:
        marks = [f"best for {marker.upper()}" for marker in row["recommended"]]
        marks += [f"installed as {row['installed']}"] if row["installed"] else []
        cells.append((row["hub_id"], row["family"], file_size(row["download_bytes"]), row["languages"],
                      row["published"], rough_duration(row["indexing_seconds"]), ", ".join(marks)))
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def add_parser(commands: argparse._SubParsersAction) -> None:
    model = commands.add_parser("model", help="manage model bundles").add_subparsers(dest="model_command", required=True)
    _command(model, "list", _list, "installed bundles, the active one marked *").add_argument(
        "--json", action="store_true", help="print a JSON list of objects")
    _command(model, "available", _available, "hub models picsift can convert, their cost here, the installed ones marked"
             ).add_argument("--json", action="store_true", help="print {photos, machine, models: [...]} as JSON")
    _command(model, "use", _use, "make a bundle the active one").add_argument("name")
    add_export_parser(model)
    imp = _command(model, "import", _import, "verify and install a bundle folder or .zip")
    imp.add_argument("source")
    imp.add_argument("--name", help="install under this name instead of the manifest's")
    imp.add_argument("--replace", action="store_true", help="overwrite an installed bundle of that name")
    _command(model, "remove", _remove, "delete an installed bundle").add_argument("name")
    _command(model, "build-default", _build_default, "build the built-in offline model").add_argument(
        "--force", action="store_true", help="rebuild even if installed")
    convert = _command(model, "convert", _convert, "download (for a hub id) and turn a CLIP-like model into a bundle")
    convert.add_argument("source", help="hub id (online; see `picsift model available`) or local folder saved with save_pretrained")
    convert.add_argument("--family", choices=CONVERTED_FAMILIES)
    convert.add_argument("--name")
    convert.add_argument("--replace", action="store_true")


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    """`export NAME OUT`: under `picsift model`, and the same command (help, arguments, function) as `picsift export`."""
    export = _command(commands, "export", _export, "copy an installed bundle to a folder, or a .zip")
    export.add_argument("name")
    export.add_argument("destination", help="a new folder, or a path ending in .zip")


def _command(commands: argparse._SubParsersAction, name: str, run, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments go to `run`."""
    parser = commands.add_parser(name, help=summary)
    parser.set_defaults(run=run)
    return parser
