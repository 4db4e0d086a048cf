"""kill -9 during indexing loses nothing committed; the next run resumes and ends consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import index_all, open_library, write_photos
from toy_bundle import export_toy_bundle

from desktop.core.catalog import Catalog

ROOT = Path(__file__).resolve().parents[2]

_INDEX_SLOWLY = """
import sys
from desktop.core.catalog import Catalog
from desktop.core.library import Library
from models.runtime import ModelRuntime
library = Library(Catalog(), ModelRuntime(sys.argv[1], device="cpu"))
library.catalog.add_folder(sys.argv[2])
for progress in library.indexer(batch_size=2, decode_workers=1).run():
    pass
"""


@pytest.fixture
def library_folder(tmp_path):
    folder = tmp_path / "photos"
    for i in range(60):
        write_photos(folder, names=("chelsea", "rocket", "coffee")[i % 3 : i % 3 + 1], size=(200 + i, 160))
        src = folder / f"{('chelsea', 'rocket', 'coffee')[i % 3]}.jpg"
        os.replace(src, folder / f"p{i:03d}.jpg")
    return folder


def _wait_for_commits(catalog_path: Path, at_least: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if catalog_path.exists():
            with Catalog(catalog_path, readonly=True) as catalog:
                try:
                    count = catalog.count_files()
                except Exception:  # schema not created yet
                    count = 0
            if count >= at_least:
                return count
        time.sleep(0.05)  # polling another process's progress; nothing to wait on in-process
    pytest.fail("the indexing process committed nothing in time")


def test_kill_9_mid_run_then_resume_indexes_everything_once(tmp_path, library_folder):
    bundle = export_toy_bundle(tmp_path / "toy")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", _INDEX_SLOWLY, str(bundle), str(library_folder)], env=env, cwd=ROOT)
    catalog_path = Path(os.environ["PICSIFT_DATA_DIR"]) / "catalog.sqlite3"
    committed = _wait_for_commits(catalog_path, 6, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert committed < 60, "the run finished before it could be killed; make it slower"

    library = open_library(bundle)
    assert library.catalog._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = library.catalog.count_files()
    assert kept >= committed
    progress = index_all(library)
    assert progress.phase == "done" and progress.total == 60 - kept and progress.failed == 0
    assert library.catalog.count_files() == 60
    encoder = library.runtime.manifest.image_encoder_id
    with_features = library.catalog._db.execute("SELECT COUNT(*) FROM features WHERE encoder_id = ?", (encoder,)).fetchone()[0]
    assert with_features == 60  # every photo encoded exactly once: no duplicates, none missing
    ids, _ = library.vector_index.search(np.ones(8, np.float32) / np.sqrt(8), k=100)
    assert len(ids) == 60
