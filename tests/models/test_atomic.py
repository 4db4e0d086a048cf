"""Atomic writes give files the permissions the umask allows, and never touch the process umask."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from models import atomic
from models.atomic import replace_folder, write_bytes_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    """A known umask for the test (the umask is process-wide; restored after)."""
    previous = os.umask(0o022)
    yield 0o022
    os.umask(previous)


def test_files_written_while_other_threads_write_all_get_the_umasks_permissions(tmp_path, umask_022, monkeypatch):
    # A second thread creates a file at the worst moment: right after an atomic write changes the umask,
    # if it ever does. Every file, atomic or plain, must come out 0o644 under umask 0o022.
    real_umask, interleaved = os.umask, threading.Event()

    def umask_with_a_writer_in_between(mask):
        previous = real_umask(mask)
        if not interleaved.is_set():
            interleaved.set()
            with ThreadPoolExecutor(2) as pool:
                pool.submit(write_bytes_atomic, tmp_path / "during-atomic.bin", b"x").result()
                pool.submit((tmp_path / "during-plain.txt").write_text, "x").result()
        return previous

    monkeypatch.setattr(os, "umask", umask_with_a_writer_in_between)
    monkeypatch.setattr(atomic, "_UMASK", 0o022, raising=False)  # what the module read at import
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: write_bytes_atomic(tmp_path / f"{k}.bin", b"data"), range(64)))
    written = sorted(tmp_path.iterdir())
    assert written and {p.name: _mode(p) for p in written} == {p.name: 0o644 for p in written}


def test_the_umask_is_never_called_after_import(tmp_path, monkeypatch):
    def refuse(mask):
        raise AssertionError("os.umask changes the umask of every thread")

    monkeypatch.setattr(os, "umask", refuse)
    write_bytes_atomic(tmp_path / "a.bin", b"data")
    new = tmp_path / "new"
    new.mkdir()
    replace_folder(new, tmp_path / "folder")
    assert (tmp_path / "a.bin").read_bytes() == b"data" and (tmp_path / "folder").is_dir()


def test_the_umask_read_at_import_is_the_process_umask():
    current = os.umask(0o022)  # the test process's own umask, put straight back
    os.umask(current)
    assert atomic._read_umask() == current


def test_without_proc_the_umask_is_probed_once_and_put_back(monkeypatch):
    def no_proc(*args, **kwargs):
        raise FileNotFoundError("/proc/self/status")

    monkeypatch.setattr(atomic, "open", no_proc, raising=False)  # as on macOS and Windows
    current = os.umask(0o027)
    try:
        assert atomic._read_umask() == 0o027
        assert os.umask(current) == 0o027  # left as it was
    finally:
        os.umask(current)
