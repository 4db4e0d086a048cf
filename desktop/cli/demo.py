"""`picsift demo`: search scikit-image's sample photos with a few typed queries, on the active model."""

from __future__ import annotations

import argparse

import numpy as np

from desktop.cli.args import positive_int
from desktop.core.demo_library import DEMO_PHOTOS, write_demo_library
from models import paths, registry
from models.display import fixed, plural, printable, printable_path
from models.runtime import ModelRuntime


def _demo(args: argparse.Namespace) -> None:
    from desktop.cli.model import ensure_default_model

    ensure_default_model()
    runtime = ModelRuntime(registry.open_installed())
    photos = write_demo_library(paths.data_dir() / "demo")
    images = runtime.encode_image_files(photos)  # (N, D)
    queries = args.query or [p.query for p in DEMO_PHOTOS[:: max(1, len(DEMO_PHOTOS) // 6)]]
    scores = runtime.encode_texts(queries) @ images.T  # (Q, N)
    where = printable_path(photos[0].parent)
    print(f"model {runtime.manifest.name} on {runtime.active_provider()}; {plural(len(photos), 'demo photo')} in {where}")
    for query, row in zip(queries, scores):
        best = np.argsort(-row)[: args.k]
        print(f'"{printable(query)}": ' + ", ".join(f"{photos[i].stem} ({fixed(row[i], 2)})" for i in best))


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="search the bundled sample photos (builds the model if needed)")
    demo.add_argument("query", nargs="*", help="text queries (default: a few examples)")
    demo.add_argument("-k", type=positive_int, default=3, help="results per query")
    demo.set_defaults(run=_demo)
