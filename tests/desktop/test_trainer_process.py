"""The desktop runs the trainer as a separate process: exit codes become one clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from desktop.core import trainer_process
from models.errors import PicsiftError


def _fake_trainer(monkeypatch, code: str) -> None:
    monkeypatch.setattr(trainer_process, "trainer_command", lambda args: [sys.executable, "-c", textwrap.dedent(code)])


@pytest.mark.parametrize(("exit_code", "message"), [(130, "--resume"), (1, "exit code 1")])
def test_a_cancelled_or_failed_trainer_gives_one_actionable_line(monkeypatch, exit_code, message):
    _fake_trainer(monkeypatch, f"raise SystemExit({exit_code})")
    with pytest.raises(PicsiftError, match="cancelled" if exit_code == 130 else "stopped") as raised:
        trainer_process.run_trainer(["train", "--data", "x"])
    assert message in str(raised.value)


def test_ctrl_c_lets_the_trainer_save_its_checkpoint_before_reporting(tmp_path):
    """Ctrl-C goes to the whole process group; picsift must wait for the trainer's own clean exit."""
    saved = tmp_path / "checkpoint"
    script = textwrap.dedent(f"""
        import signal, sys, time
        from desktop.core import trainer_process
        from models.errors import PicsiftError
        trainer_process.trainer_command = lambda args: [sys.executable, "-c", '''
        import signal, sys, time, pathlib
        def stop(*_):
            time.sleep(0.5)  # a checkpoint being written
            pathlib.Path({str(saved)!r}).write_text("saved")
            sys.exit(130)
        signal.signal(signal.SIGINT, stop)
        print("ready", flush=True)
        time.sleep(30)
        ''']
        try:
            trainer_process.run_trainer(["train"])
        except PicsiftError as error:
            print("picsift:", error, flush=True)
        """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               start_new_session=True, cwd=os.getcwd())
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, _ = process.communicate(timeout=30)
    assert saved.read_text() == "saved" and "cancelled" in out
