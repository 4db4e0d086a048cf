"""Two indexers on one library: the second says who is indexing instead of encoding everything again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import index_all, open_library, write_photos
from toy_bundle import export_toy_bundle

from desktop.core.catalog import catalog_path
from models.errors import BusyError

ROOT = Path(__file__).resolve().parents[2]
_HOLD_THE_LOCK = """
import sys
from desktop.core.index_lock import IndexLock
with IndexLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_indexer_names_the_first_and_searching_still_works(tmp_path):
    toy = export_toy_bundle(tmp_path / "toy")
    photos = write_photos(tmp_path / "photos", names=("coffee", "rocket", "chelsea"))
    library = open_library(toy)
    library.catalog.add_folder(photos[0].parent)
    index_all(library)
    write_photos(tmp_path / "photos", names=("moon",))
    command = [sys.executable, "-c", _HOLD_THE_LOCK, str(catalog_path())]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(BusyError, match=f"another picsift is indexing this library \\(pid {holder.pid}\\)"):
                index_all(library)
            assert library.catalog.count_files() == 3  # nothing encoded twice meanwhile
            assert library.searcher().similar(photos[0], k=2)  # searching takes no lock
        finally:
            holder.send_signal(signal.SIGKILL)  # a crashed indexer leaves no stale lock behind
    assert index_all(library).encoded == 1
    library.close()
