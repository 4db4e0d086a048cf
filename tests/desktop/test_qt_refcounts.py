"""Guard against Qt bindings that leak references to None/True (PySide6 6.12.0 on Python 3.11 did,
and the app then aborted with "Fatal Python error: none_dealloc" after enough signals)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal


class _Emitter(QObject):
    fired = Signal(object)


def test_signals_and_void_calls_keep_none_and_true_refcounts_steady(qtbot):
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    timer = QTimer()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(1000):
        emitter.fired.emit(1)
        timer.stop()
    after = sys.getrefcount(None), sys.getrefcount(True)
    assert len(received) == 1000
    assert abs(after[0] - before[0]) < 50 and abs(after[1] - before[1]) < 50, (before, after)
