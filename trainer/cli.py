"""The trainer's command line: build the built-in model, convert transformers models to bundles."""

from __future__ import annotations

import argparse
import sys

from models.errors import PicsiftError


def _build_default(args: argparse.Namespace) -> None:
    from trainer.default_model import build_default_bundle

    folder = build_default_bundle(force=args.force)
    print(f"built-in model ready: {folder}")


def _convert(args: argparse.Namespace) -> None:
    from trainer.convert import convert_to_bundle

    folder = convert_to_bundle(args.source, family=args.family, name=args.name, replace=args.replace)
    print(f"installed {folder.name}: {folder}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-default", help="build the offline built-in model bundle")
    build.add_argument("--force", action="store_true", help="rebuild even if it is installed")
    build.set_defaults(run=_build_default)
    convert = commands.add_parser("convert", help="export a CLIP/ALIGN/AltCLIP/GroupViT model to a bundle")
    convert.add_argument("source", help="a hub id (needs internet) or a local model folder")
    convert.add_argument("--family", choices=("clip", "align", "altclip", "groupvit"), help="detected when omitted")
    convert.add_argument("--name", help="bundle name (default: from the source)")
    convert.add_argument("--replace", action="store_true", help="overwrite an installed bundle of that name")
    convert.set_defaults(run=_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except PicsiftError as exc:
        print(f"picsift: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("picsift: cancelled", file=sys.stderr)
        return 130
    return 0
