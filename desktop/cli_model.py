"""`picsift model ...`: list, activate, build, convert, export and import model bundles."""

from __future__ import annotations

import argparse
import json
import sys

from desktop.core.trainer_process import run_trainer
from models import registry
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
    extra = [flag for flag, on in (("--replace", args.replace),) if on]
    extra += [f"--family={args.family}"] if args.family else []
    extra += [f"--name={args.name}"] if args.name else []
    run_trainer(["convert", args.source, *extra])


def add_parser(commands: argparse._SubParsersAction) -> None:
    model = commands.add_parser("model", help="manage model bundles").add_subparsers(dest="model_command", required=True)
    listing = model.add_parser("list", help="installed bundles, the active one marked *")
    listing.add_argument("--json", action="store_true", help="print a JSON list of objects")
    listing.set_defaults(run=_list)
    use = model.add_parser("use", help="make a bundle the active one")
    use.add_argument("name")
    use.set_defaults(run=_use)
    export = model.add_parser("export", help="copy a bundle to a folder, or a .zip")
    export.add_argument("name")
    export.add_argument("destination", help="a new folder, or a path ending in .zip")
    export.set_defaults(run=_export)
    imp = model.add_parser("import", help="verify and install a bundle folder or .zip")
    imp.add_argument("source")
    imp.add_argument("--name", help="install under this name instead of the manifest's")
    imp.add_argument("--replace", action="store_true", help="overwrite an installed bundle of that name")
    imp.set_defaults(run=_import)
    remove = model.add_parser("remove", help="delete an installed bundle")
    remove.add_argument("name")
    remove.set_defaults(run=_remove)
    build = model.add_parser("build-default", help="build the built-in offline model")
    build.add_argument("--force", action="store_true", help="rebuild even if installed")
    build.set_defaults(run=_build_default)
    convert = model.add_parser("convert", help="turn a CLIP/ALIGN/AltCLIP/GroupViT model into a bundle")
    convert.add_argument("source", help="hub id (online) or local folder saved with save_pretrained")
    convert.add_argument("--family", choices=CONVERTED_FAMILIES)
    convert.add_argument("--name")
    convert.add_argument("--replace", action="store_true")
    convert.set_defaults(run=_convert)
