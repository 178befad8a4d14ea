"""A weight moved by hand after pairwise comparisons must survive saving and opening again."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSlider

from skikt.layers.project import read_project
from skikt.layers.workspace import Workspace

AHP = ('\n[ahp]\norder = ["vard", "transport", "kultur"]\n'
       'matrix = [[1, 3, 5], [0.3333, 1, 3], [0.2, 0.3333, 1]]\n')


def test_a_hand_set_weight_drops_ahp_so_reopening_keeps_it_and_undo_brings_ahp_back(qtbot, sample_copy):
    from tests.conftest import open_sample_window

    sample_copy.write_text(sample_copy.read_text(encoding="utf-8") + AHP, encoding="utf-8")
    window = open_sample_window(qtbot, sample_copy)
    model = window.model
    slider = window.weights_panel.findChild(QSlider, "weight_transport")
    before = model.project.layer("transport").indicator.weight
    slider.setFocus()
    for _ in range(5):
        QTest.keyClick(slider, Qt.Key_PageUp)  # real keys: PageUp moves a QSlider by its page step
    qtbot.waitUntil(lambda: model.project.layer("transport").indicator.weight != before)
    moved = model.project.layer("transport").indicator.weight
    assert "ahp" not in model.project.extra
    out = sample_copy.with_name("saved.toml")
    model.save(out)
    assert "[ahp]" not in out.read_text(encoding="utf-8")
    # Read again (as skikt score and the app do): the hand-set weight stands.
    ws = Workspace(read_project(out))
    ws.update(strict=True)
    assert ws.project.layer("transport").indicator.weight == moved
    # Undo (the menu's own action, as Ctrl+Z triggers it) goes back to the pairwise weights and
    # the comparisons. Bounded: a step that did not undo must fail the test, not loop forever.
    edit_menu = window.menuBar().actions()[1].menu()  # Redigera: Ångra is its first entry
    undo = edit_menu.actions()[0]
    assert undo.shortcut().matches(QKeySequence(QKeySequence.Undo)) == QKeySequence.ExactMatch
    for _ in range(model.undo.index()):
        undo.trigger()
    assert not model.undo.canUndo()
    assert model.project.extra["ahp"]["order"] == ["vard", "transport", "kultur"]
    assert np.isclose(model.project.layer("transport").indicator.weight, before)
