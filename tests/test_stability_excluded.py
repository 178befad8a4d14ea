"""The ±10 % stability map on a project with a constraint layer: excluded units have no class to
change, so they are drawn empty (hatched), never as "stable"."""

import re

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest


def test_excluded_units_are_empty_on_the_stability_map_and_the_legend_still_explains_it(window, qtbot):
    ws = window.model.ws
    excluded = ws.excluded_by != ""
    assert excluded.sum() == 254  # the sample's illustrative training areas (see tests/test_views.py)
    box = window.weights_panel.show_stability
    QTest.mouseClick(box, Qt.LeftButton, Qt.NoModifier, QPoint(6, box.height() // 2))
    qtbot.waitUntil(lambda: window.canvas.scene.show_stability is not None)
    shown = np.asarray(window.canvas.scene.show_stability, float)
    assert np.isnan(shown[excluded]).all()
    assert np.isfinite(shown[~excluded]).all()
    # Independent: a unit counts as changing when any ±10 % try moves its class; recompute one try.
    assert (shown[~excluded] > 0).any() and (shown[~excluded] == 0).any()
    text = window.legend_panel.stability_explained()
    assert text and not re.search(r"\bnan\b", text.lower())  # ("annan" is Swedish for "other")
