"""Rebuild a model's search index from the catalog in a child process, for big libraries.

A rebuild (a new model, a damaged index, an index of an older format) builds the whole graph and
saves it as one segment, and usearch's save holds Python's GIL while it writes the vectors: 4.4 s
at a million photos here (results/index_scale.json), a frozen window if it ran in the app's process.
In a child process it stalls nothing; the app's process then opens the saved files as memory maps.

Run as: python -m desktop.core.index_rebuild CATALOG BUNDLE INDEX_FOLDER
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

REBUILD_IN_CHILD_MIN = 50_000  # photos; below it the save stalls other threads under 0.2 s: the child's start costs more


def rebuild_in_child(catalog_path: Path, bundle_folder: Path, folder: Path, closing: threading.Event | None = None) -> bool:
    """Rebuild and save the index in a child process; True when it did, False when it failed (said in
    the log: the caller then rebuilds in its own process) or `closing` was set meanwhile (it is killed)."""
    command = [sys.executable, "-m", "desktop.core.index_rebuild", str(catalog_path), str(bundle_folder), str(folder)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        errors: list[bytes] = []
        reader = threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True)
        reader.start()
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if closing is not None and closing.is_set():
                    child.kill()
                    child.wait()
                    return False
        reader.join()
    if code:
        last = b"".join(errors).decode(errors="replace").strip().splitlines()[-1:]
        log.warning("rebuilding the search index in a child process failed (exit %s: %s); rebuilding here", code, last)
    return code == 0


def main(argv: list[str]) -> int:
    from desktop.core.catalog import Catalog
    from desktop.core.vector_index import VectorIndex, index_key
    from models.runtime import ModelRuntime

    catalog_path, bundle_folder, folder = argv
    runtime = ModelRuntime(bundle_folder, device="cpu")  # only the mapper runs: a matrix product
    manifest = runtime.manifest
    with Catalog(catalog_path, readonly=True) as catalog:
        index = VectorIndex(manifest.embedding_dim, Path(folder) / index_key(manifest), encoder_id=manifest.image_encoder_id,
                            bundle=manifest.name, catalog_id=catalog.catalog_id)
        index.sync_from_catalog(catalog, runtime)
        index.save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
