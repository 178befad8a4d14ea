"""The Qt binding must not spend references it does not own.

PySide6 6.12.0 on CPython 3.11 drops one reference to ``None`` on every void Qt call and one to
``True`` on every ``Signal.emit``; a long meeting (or a test run) then aborts the interpreter with
"none_dealloc". pyproject.toml keeps that version out; this test stops any version we move to
that brings it back. (On CPython 3.12+ None and True are immortal and the counts do not move.)
"""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

CALLS = 2000


class _Emitter(QObject):
    fired = Signal(int)


def test_signals_and_void_calls_keep_none_and_true_alive(qtbot):
    emitter = _Emitter()
    seen = []
    emitter.fired.connect(seen.append)
    label = QLabel()
    qtbot.addWidget(label)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(CALLS):
        emitter.fired.emit(i)
        label.setText(str(i))
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    assert len(seen) == CALLS
    # A handful may move with unrelated bookkeeping; the bug loses one per call (2,000 here).
    assert lost_none < CALLS // 10, f"{lost_none} references to None lost in {CALLS} calls"
    assert lost_true < CALLS // 10, f"{lost_true} references to True lost in {CALLS} emits"
