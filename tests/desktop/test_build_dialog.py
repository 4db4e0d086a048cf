"""First run: the model-build dialog shows the trainer's real steps on a determinate bar, never its raw output."""

from __future__ import annotations

import re
import sys

import pytest
from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QPushButton

from desktop.ui import error_log, trainer_run
from desktop.ui.dialogs import BuildModelDialog
from models import registry

BUILD_MS = 600_000  # the real build takes about a minute on 2 CPU cores; tests return when it ends
WAIT_MS = 30_000
TQDM_TEXT = re.compile(r"\||it/s|s/it|\d+%")


def _recording(dialog: BuildModelDialog) -> list[tuple[str, int, int]]:
    """(step line, bar value, bar maximum) after every event the dialog handles."""
    seen: list[tuple[str, int, int]] = []
    handle = dialog.handle_event

    def spy(event: dict) -> None:
        handle(event)
        seen.append((dialog.step.text(), dialog.bar.value(), dialog.bar.maximum()))

    dialog.handle_event = spy  # _read calls self.handle_event for every JSON line
    return seen


def _fake_trainer(monkeypatch, script: str) -> None:
    """The trainer replaced by a small script (what reaches the dialog is the process's output only)."""
    monkeypatch.setattr(trainer_run, "trainer_command", lambda args: [sys.executable, "-c", script])


@pytest.mark.slow
def test_the_real_build_walks_every_step_on_a_determinate_bar_to_its_end(qtbot):
    dialog = BuildModelDialog()
    qtbot.addWidget(dialog)
    seen = _recording(dialog)
    width = dialog.width()
    with qtbot.waitSignal(dialog.built, timeout=BUILD_MS):
        dialog.start()
    assert registry.bundle_folder(registry.DEFAULT_BUNDLE).is_dir()
    assert dialog.bar.maximum() > 0 and dialog.bar.value() == dialog.bar.maximum()  # determinate, and full
    steps = [int(re.match(r"Step (\d) of 7: [a-z]", text).group(1)) for text, _, _ in seen]
    assert sorted(set(steps)) == list(range(1, 8)) and steps == sorted(steps)
    values = [value for _, value, _ in seen]
    assert values == sorted(values)
    assert not [text for text, _, _ in seen if TQDM_TEXT.search(text)]  # transformers' own bars stay out
    assert dialog.width() == width


def test_tqdm_text_on_the_trainers_stderr_never_reaches_the_dialog(qtbot, monkeypatch):
    _fake_trainer(monkeypatch, (
        "import sys\n"
        "sys.stderr.write('Loading weights: 100%|##########| 103/103 [00:00<00:00, 9408.98it/s]\\r')\n"
        "print('{\"event\": \"step\", \"step\": 1, \"steps\": 2, \"name\": \"loading the encoders\"}')\n"
        "print('Loading weights:  50%|#####     | 51/103')\n"  # a library printing to stdout
        "print('{\"event\": \"step\", \"step\": 2, \"steps\": 2, \"name\": \"exporting\", \"done\": 1, \"total\": 2}')\n"))
    dialog = BuildModelDialog()
    qtbot.addWidget(dialog)
    seen = _recording(dialog)
    with qtbot.waitSignal(dialog.built, timeout=WAIT_MS):
        dialog.start()
    assert seen == [("Step 1 of 2: loading the encoders", 0, 200), ("Step 2 of 2: exporting", 150, 200)]
    assert dialog.bar.value() == dialog.bar.maximum() == 200


def _failure(qtbot) -> str:
    """Start the dialog; the line it reports when the build fails."""
    dialog = BuildModelDialog()
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as failed:
        dialog.start()
    return failed.args[0]


def test_a_trainer_crash_shows_one_line_naming_the_log_that_holds_its_traceback(qtbot, monkeypatch, isolated_data_dir):
    _fake_trainer(monkeypatch, (
        "print('{\"event\": \"step\", \"step\": 1, \"steps\": 7, \"name\": \"loading\"}', flush=True)\n"
        "raise RuntimeError('exporter bug')\n"))
    assert _failure(qtbot) == f"The built-in model could not be built: {error_log.bug_message()}"
    log_text = (isolated_data_dir / "logs" / "picsift.log").read_text()
    assert "Traceback" in log_text and "RuntimeError: exporter bug" in log_text


def test_a_user_error_from_the_trainer_is_shown_as_its_own_message(qtbot, monkeypatch):
    _fake_trainer(monkeypatch, (
        "import sys\n"
        "print('{\"event\": \"error\", \"message\": \"/data/models: no space left on device; free some space\"}')\n"
        "sys.exit(1)\n"))
    assert _failure(qtbot) == "The built-in model could not be built: /data/models: no space left on device; free some space"


def test_a_trainer_that_cannot_start_is_reported_instead_of_a_stuck_dialog(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(trainer_run, "trainer_command", lambda args: [str(tmp_path / "no-such-python"), *args])
    assert _failure(qtbot).startswith("The built-in model could not be built: could not start the trainer")


def test_cancel_stops_the_build_without_reporting_a_failure(qtbot, monkeypatch):
    _fake_trainer(monkeypatch, (
        "import sys\n"
        "print('{\"event\": \"step\", \"step\": 1, \"steps\": 7, \"name\": \"loading\"}', flush=True)\n"
        "sys.stdin.read()\n"))  # blocks until killed
    dialog = BuildModelDialog()
    qtbot.addWidget(dialog)
    failures: list[str] = []
    dialog.failed.connect(failures.append)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.step.text().startswith("Step 1 of 7"), timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.rejected, timeout=WAIT_MS):
        next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel").click()
    assert dialog.process.state() == QProcess.ProcessState.NotRunning and not failures
