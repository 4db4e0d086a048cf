"""The search index's big rebuilds, in a child process: a whole index from the catalog, or a merge of segments.

A rebuild (a new model, a damaged index, an index of an older format) builds the whole graph and
saves it as one segment; a save that merges the newest segments into one rebuilds their graph. usearch's
save holds Python's GIL while it writes the vectors: 4.4 s for a rebuild at a million photos here
(results/index_scale.json), 2.3 s for a merge of as many, a frozen window if it ran in the app's process.
In a child process it stalls nothing; the app's process then opens the saved files as memory maps.

Run as: python -m desktop.core.index_rebuild rebuild CATALOG BUNDLE INDEX_FOLDER
        python -m desktop.core.index_rebuild merge JOB   (JOB: an .npz `merge_in_child` writes)
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REBUILD_IN_CHILD_MIN = 50_000  # photos; below it the save stalls other threads under 0.2 s: the child's start costs more


def rebuild_in_child(catalog_path: Path, bundle_folder: Path, folder: Path, closing: threading.Event | None = None) -> bool:
    """Rebuild and save the index in a child process; True when it did, False when it failed (said in
    the log: the caller then rebuilds in its own process) or `closing` was set meanwhile (it is killed)."""
    return _run_child(["rebuild", str(catalog_path), str(bundle_folder), str(folder)], "rebuilding the search index", closing)


def merge_in_child(segments: list, path: Path, *, m: int, ef_construction: int,
                   cancel: threading.Event | None = None) -> np.ndarray | None:
    """Merge adjacent saved `segments` into one segment file at `path` in a child process and return its
    (rows,) row -> slot map; None when the child failed (said in the log: the caller then merges in its
    own process) or `cancel` was set meanwhile (it is killed; its temp files go at the next save)."""
    job = path.with_name(f".{path.name}.job.tmp")
    result = path.with_name(f".{path.name}.slots.tmp")
    try:
        with open(job, "wb") as handle:
            np.savez(handle, paths=np.array([str(s.path) for s in segments]), starts=np.array([s.start for s in segments]),
                     slots=np.concatenate([s.slots for s in segments]), counts=np.array([len(s) for s in segments]),
                     dim=segments[0].index.ndim, m=m, ef_construction=ef_construction, out=str(path), result=str(result))
        if not _run_child(["merge", str(job)], "merging the search index's segments", cancel):
            return None
        with open(result, "rb") as handle:
            return np.load(handle)
    finally:
        job.unlink(missing_ok=True)
        result.unlink(missing_ok=True)


def _run_child(arguments: list[str], doing: str, stop: threading.Event | None) -> bool:
    """Run this module with `arguments`; True when it succeeded, False when it failed (logged) or `stop` was set."""
    command = [sys.executable, "-m", "desktop.core.index_rebuild", *arguments]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        errors: list[bytes] = []
        reader = threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True)
        reader.start()
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop is not None and stop.is_set():
                    child.kill()
                    child.wait()
                    return False
        reader.join()
    if code:
        last = b"".join(errors).decode(errors="replace").strip().splitlines()[-1:]
        log.warning("%s in a child process failed (exit %s: %s); doing it here", doing, code, last)
    return code == 0


def _rebuild(catalog_path: str, bundle_folder: str, folder: str) -> None:
    from desktop.core.catalog import Catalog
    from desktop.core.vector_index import VectorIndex, index_key
    from models.runtime import ModelRuntime

    runtime = ModelRuntime(bundle_folder, device="cpu")  # only the mapper runs: a matrix product
    manifest = runtime.manifest
    with Catalog(catalog_path, readonly=True) as catalog:
        index = VectorIndex(manifest.embedding_dim, Path(folder) / index_key(manifest), encoder_id=manifest.image_encoder_id,
                            bundle=manifest.name, catalog_id=catalog.catalog_id)
        index.sync_from_catalog(catalog, runtime)
        index.save()


def _merge(job_path: str) -> None:
    from desktop.core.vector_segments import SavedSegment, merged_file
    from models.atomic import write_bytes_atomic

    with open(job_path, "rb") as handle:
        job = dict(np.load(handle))
    dim, bounds = int(job["dim"]), np.cumsum([0, *job["counts"]])
    segments = [SavedSegment(Path(str(p)), int(start), job["slots"][bounds[i] : bounds[i + 1]], dim)
                for i, (p, start) in enumerate(zip(job["paths"], job["starts"]))]
    slots = merged_file(segments, Path(str(job["out"])), dim, m=int(job["m"]), ef_construction=int(job["ef_construction"]))
    buffer = io.BytesIO()
    np.save(buffer, slots)
    write_bytes_atomic(str(job["result"]), buffer.getvalue())


def main(argv: list[str]) -> int:
    command, *arguments = argv
    {"rebuild": _rebuild, "merge": _merge}[command](*arguments)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
