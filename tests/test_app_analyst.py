"""Issue 9: the analyst's app tried as a new user would. Every test drives the real window with
QTest mouse and key events (press, move in steps, release; key presses; clicks) and checks the
outcome against hand-worked expectations, geopandas or the screen's own geometry."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, sample_copy):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    model.set_project_sync(sample_copy)
    win.dialog_exec = lambda dialog: QDialog.Accepted
    win.confirm_close = False
    return win


# ------------------------------------------------------------------------------------------------
# item 1: a real drag in the layer list

# The offscreen platform has no drag loop (its QDrag returns at once, nothing is dropped), so the
# drag runs in a child process on Qt's "minimal" platform, whose QDrag is Qt's own simple drag:
# press, moves past the drag distance start QDrag.exec, and the moves and the release that follow
# (sent from a timer inside the drag's event loop) are what decides the drop.
DRAG_SCRIPT = r"""
import json, sys
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication([])
from skikt.app.i18n import set_language
from skikt.app.main_window import MainWindow
from skikt.app.model import AppModel
set_language("sv", remember=False)
model = AppModel()
win = MainWindow(model)
win.confirm_close = False
win.resize(1400, 900)
win.show()
model.set_project_sync(sys.argv[1])
app.processEvents()
panel = win.layers_panel
tree, vp = panel.tree, panel.tree.viewport()
before = {s.id: s.visible for s in model.project.layers}
order_before = [s.id for s in model.project.layers]
steps_before = model.undo.index()
source, target = panel.item_for(sys.argv[2]), panel.item_for(sys.argv[3])
a, b = tree.visualItemRect(source).center(), tree.visualItemRect(target).center()
drag_started = []

def in_drag():
    drag_started.append(True)
    for i in range(1, 9):
        QTest.mouseMove(vp, a + (b - a) * (i / 8))
        app.processEvents()
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)

QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
QTimer.singleShot(0, in_drag)  # runs inside QDrag.exec's event loop
far = QApplication.startDragDistance() + 4
QTest.mouseMove(vp, a + QPoint(0, far // 2))
QTest.mouseMove(vp, a + QPoint(0, far))
app.processEvents()
after = {s.id: s.visible for s in model.project.layers}
ticks = {it.data(0, Qt.UserRole + 1): it.checkState(0) == Qt.Checked for it in panel._items()}
order = [s.id for s in model.project.layers]
steps = model.undo.index() - steps_before
win.activateWindow()
app.processEvents()
QTest.keyClick(win.windowHandle(), Qt.Key_Z, Qt.ControlModifier)
app.processEvents()
print(json.dumps(dict(before=before, after=after, ticks=ticks, order_before=order_before, order=order,
                      steps=steps, drag_started=bool(drag_started),
                      undone_order=[s.id for s in model.project.layers],
                      undone=dict((s.id, s.visible) for s in model.project.layers))))
"""


def real_drag(sample_copy, source: str, target: str) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="minimal", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", DRAG_SCRIPT, str(sample_copy), source, target],
                         capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dragging_a_layer_keeps_every_tick_and_is_one_undo_step(sample_copy):
    r = real_drag(sample_copy, "vattenverk", "vattenskydd")
    assert r["drag_started"]  # the timer ran inside the drag's own event loop
    assert r["order"].index("vattenverk") < r["order"].index("vattenskydd")  # the drop moved it
    assert r["order"].index("vattenverk") == r["order_before"].index("vattenskydd")
    assert r["after"] == r["before"]  # Vattenskyddsområden and Skyddsrum stay ticked
    assert r["ticks"] == r["before"]
    assert r["steps"] == 1  # the whole drag is one undo step
    assert r["undone_order"] == r["order_before"] and r["undone"] == r["before"]


def test_dragging_in_the_top_group_leaves_the_other_layers_alone(sample_copy):
    r = real_drag(sample_copy, "kommuner", "lan")
    assert r["order"][:2] == ["kommuner", "lan"]
    assert r["after"] == r["before"] and r["ticks"] == r["before"] and r["steps"] == 1
