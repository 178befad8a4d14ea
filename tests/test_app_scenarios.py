"""Scenario picker in the app (issue 10, item 1): real clicks and key presses on the docks,
numbers against the weights typed from the sample's TOML and scores computed with numpy."""

import numpy as np
import pytest

from conftest import open_sample_window
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

pytest.importorskip("pytestqt")

# The sample's [layers.indicator] weights and its two [[scenarios]], typed from the TOML.
PROJECT = {"vard": 3, "transport": 1, "kompetens": 2, "kultur": 1, "besoksmal": 1, "vattenskydd": 2,
           "skyddsrum": 2, "socio": 2}
VARD_FORST = {**PROJECT, "vard": 6, "socio": 3, "transport": 1}
BEREDSKAP = {**PROJECT, "skyddsrum": 5, "vattenskydd": 4, "vard": 1, "kultur": 0, "besoksmal": 0}


@pytest.fixture
def window(qtbot, sample_copy):
    win = open_sample_window(qtbot, sample_copy)
    win.docks["scenarios"].raise_()
    qtbot.waitExposed(win)
    return win


def click_scenario(win, qtbot, name):
    panel = win.scenarios_panel
    row = panel.names().index(name)
    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.LeftButton, pos=rect.center())
    settle(qtbot)


def settle(qtbot):
    qtbot.wait(20)  # the model recombines on the next event-loop turn


def ctrl_z(win, qtbot):
    """The real key press; the shortcut only fires in the active window."""
    from PySide6.QtWidgets import QApplication

    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win and QApplication.focusWindow() is win.windowHandle(),
                    timeout=2000)
    steps = win.model.undo.index()
    QTest.keyClick(QApplication.focusWidget() or win, Qt.Key_Z, Qt.ControlModifier)
    assert win.model.undo.index() == steps - 1, "Ctrl+Z did not reach the undo action"
    settle(qtbot)


def weights(win):
    return {s.id: s.indicator.weight for s in win.model.project.indicator_layers()}


def slider_weights(win):
    return {lid: row.slider.value() / 10 for lid, row in win.weights_panel.rows.items()}


def numpy_scores(ws, w):
    """Σ wᵢ nᵢ / Σ wᵢ over the indicators a unit has, in numpy."""
    norm = np.asarray(ws.normalised.norm, float)
    vec = np.array([w[lid] for lid in ws.normalised.layer_ids], float)[:, None] * np.ones_like(norm)
    ok = np.isfinite(norm)
    return np.where(ok, norm * vec, 0).sum(0) / np.where(ok, vec, 0).sum(0)


def test_click_picks_scenario_sliders_and_scores_follow_and_ctrl_z_undoes(window, qtbot):
    assert window.scenarios_panel.names() == [None, "Vård först", "Beredskap"]
    assert weights(window) == PROJECT
    click_scenario(window, qtbot, "Vård först")
    assert weights(window) == VARD_FORST
    assert slider_weights(window) == VARD_FORST
    ws = window.model.ws
    np.testing.assert_allclose(ws.composite.score, numpy_scores(ws, VARD_FORST), rtol=1e-5, atol=1e-6)
    click_scenario(window, qtbot, "Beredskap")
    assert weights(window) == BEREDSKAP
    np.testing.assert_allclose(ws.composite.score, numpy_scores(ws, BEREDSKAP), rtol=1e-5, atol=1e-6)
    # Back to the project's own weights: what the project had before any scenario was picked.
    click_scenario(window, qtbot, None)
    assert weights(window) == PROJECT
    ctrl_z(window, qtbot)
    assert weights(window) == BEREDSKAP
    ctrl_z(window, qtbot)
    assert weights(window) == VARD_FORST and slider_weights(window) == VARD_FORST
    ctrl_z(window, qtbot)
    assert weights(window) == PROJECT
    np.testing.assert_allclose(ws.composite.score, numpy_scores(ws, PROJECT), rtol=1e-5, atol=1e-6)


def test_slider_changes_working_weights_reset_brings_scenario_back(window, qtbot):
    from skikt.layers.scenarios import find_scenario

    click_scenario(window, qtbot, "Vård först")
    slider = window.weights_panel.rows["vard"].slider
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)  # one page = 1 weight unit (10 steps)
    settle(qtbot)
    assert weights(window)["vard"] == pytest.approx(7.0)
    panel = window.scenarios_panel
    current = panel.list.item(panel.names().index("Vård först"))
    assert current.text().endswith("(ändrat)") and panel.reset_button.isEnabled()
    assert find_scenario(window.model.project, "Vård först").weights["vard"] == 6  # saved weights kept
    qtbot.mouseClick(panel.reset_button, Qt.LeftButton)
    settle(qtbot)
    assert weights(window) == VARD_FORST and slider_weights(window) == VARD_FORST
    assert not panel.reset_button.isEnabled()
    ctrl_z(window, qtbot)  # undo the reset: the moved slider again
    assert weights(window)["vard"] == pytest.approx(7.0)


def test_save_as_scenario_round_trips_through_the_file_and_undoes(window, qtbot):
    from skikt.layers.project import read_project
    from skikt.layers.scenarios import find_scenario, scenario_names

    window.weights_panel.rows["kultur"].slider.setValue(45)  # weight 4.5
    settle(qtbot)
    panel = window.scenarios_panel
    panel.ask_text = lambda title, label, default: "Kultur lyfts"
    qtbot.mouseClick(panel.save_button, Qt.LeftButton)
    assert panel.names() == [None, "Vård först", "Beredskap", "Kultur lyfts"]
    expected = {**PROJECT, "kultur": 4.5}
    assert find_scenario(window.model.project, "Kultur lyfts").weights == expected
    bold = panel.list.item(3).font().bold()
    assert bold  # the saved scenario is the current one
    window.model.save()
    again = read_project(window.model.project.path)
    assert find_scenario(again, "Kultur lyfts").weights == expected
    assert find_scenario(again, "Vård först").weights == {"vard": 6, "socio": 3, "transport": 1}
    ctrl_z(window, qtbot)
    assert scenario_names(window.model.project) == ["Vård först", "Beredskap"]
    # Saving under an existing name updates that scenario (one undo step, too).
    panel.ask_text = lambda title, label, default: "Beredskap"
    qtbot.mouseClick(panel.save_button, Qt.LeftButton)
    assert find_scenario(window.model.project, "Beredskap").weights == expected
    ctrl_z(window, qtbot)
    assert find_scenario(window.model.project, "Beredskap").weights == {
        "skyddsrum": 5, "vattenskydd": 4, "vard": 1, "kultur": 0, "besoksmal": 0}


def test_rename_and_delete_are_undoable_and_views_follow(window, qtbot):
    from skikt.layers.views import find_view

    click_scenario(window, qtbot, "Vård först")
    panel = window.scenarios_panel
    panel.ask_text = lambda title, label, default: "  Vård i fokus "
    qtbot.mouseClick(panel.rename_button, Qt.LeftButton)
    assert panel.names() == [None, "Vård i fokus", "Beredskap"]
    assert find_view(window.model.project, "Vård").scenario == "Vård i fokus"
    # A taken name is refused with one line; nothing changes and no undo step is added.
    steps = window.model.undo.count()
    panel.ask_text = lambda title, label, default: "Beredskap"
    qtbot.mouseClick(panel.rename_button, Qt.LeftButton)
    assert "Beredskap" in panel.message.text() and "\n" not in panel.message.text()
    assert panel.names() == [None, "Vård i fokus", "Beredskap"] and window.model.undo.count() == steps
    ctrl_z(window, qtbot)
    assert panel.names() == [None, "Vård först", "Beredskap"]
    assert find_view(window.model.project, "Vård").scenario == "Vård först"
    qtbot.mouseClick(panel.delete_button, Qt.LeftButton)
    assert panel.names() == [None, "Beredskap"]
    assert find_view(window.model.project, "Vård").scenario is None
    assert weights(window) == VARD_FORST  # the weights on screen stay
    ctrl_z(window, qtbot)
    assert panel.names() == [None, "Vård först", "Beredskap"]
    assert find_view(window.model.project, "Vård").scenario == "Vård först"


def test_english_labels(qtbot, sample_copy):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("en", remember=False)
    try:
        model = AppModel()
        win = MainWindow(model)
        qtbot.addWidget(win)
        win.confirm_close = False
        model.set_project_sync(sample_copy)
        assert win.scenarios_panel.list.item(0).text() == "Project weights"
        assert win.scenarios_panel.save_button.text() == "Save as scenario…"
        assert win.docks["scenarios"].windowTitle() == "Scenarios"
    finally:
        set_language("sv", remember=False)
