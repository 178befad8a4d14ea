"""Decision methods in the app (issue 12 items 1, 4 and 5): the pairwise dialog, the OWA slider and
the p_top map, driven by real key and mouse events on the real window. Oracles: numpy's eig for
the eigenvector, Saaty's random index typed in here, Yager's OWA written out with numpy, and the
core's Monte Carlo with the same seed."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QDoubleSpinBox, QPushButton, QSlider, QSpinBox

SAATY_RI = {3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41}  # Saaty (1980), Table 1.3


def settle(qtbot, ms: int = 50):
    qtbot.wait(ms)
    QApplication.processEvents()


def ctrl_z(win, qtbot):
    """The real key press; the shortcut only fires in the active window."""
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    steps = win.model.undo.index()
    QTest.keyClick(QApplication.focusWidget() or win, Qt.Key_Z, Qt.ControlModifier)
    assert win.model.undo.index() == steps - 1, "Ctrl+Z did not reach the undo action"
    settle(qtbot)


def open_dialog(window, qtbot):
    button = window.weights_panel.findChild(QPushButton, "ahp_open")
    qtbot.mouseClick(button, Qt.LeftButton)
    dialog = window.ahp_dialog
    qtbot.waitExposed(dialog)
    return dialog


def judgement(position: int) -> float:
    """What the dialog promises: left of the middle the left indicator matters 1 − p times more,
    right of it the right one 1 + p times more (Saaty's 9…2, 1, 2…9)."""
    return float(1 - position) if position < 0 else 1.0 / (1 + position)


def dialog_matrix(dialog, ids):
    n = len(ids)
    a = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            slider = dialog.findChild(QSlider, f"ahp_{ids[i]}_{ids[j]}")
            a[i, j] = judgement(slider.value())
            a[j, i] = 1 / a[i, j]
    return a


def eig_weights(a):
    values, vectors = np.linalg.eig(a)
    top = np.argmax(values.real)
    w = np.abs(vectors[:, top].real)
    return w / w.sum(), values[top].real


def shown_weights(dialog, ids):
    return np.array([float(dialog.findChild(object, f"ahp_weight_{lid}").format().rstrip("%")) / 100 for lid in ids])


def counted_ids(project):
    return [s.id for s in project.indicator_layers() if s.indicator.extra.get("active", True) is not False]


def test_pair_sliders_give_the_eigenvector_and_cr_and_name_the_worst_pair(window, qtbot):
    dialog = open_dialog(window, qtbot)
    ids = counted_ids(window.model.project)
    n = len(ids)
    assert n == 8
    # Care ≫ transport (Home: the left end, 9), transport ≫ skills, and skills ≫ care (End: the
    # right end): a circle of judgements that cannot all hold.
    for left, right, key in (("vard", "transport", Qt.Key_Home), ("transport", "kompetens", Qt.Key_Home),
                             ("vard", "kompetens", Qt.Key_End)):
        slider = dialog.findChild(QSlider, f"ahp_{left}_{right}")
        slider.setFocus()
        QTest.keyClick(slider, key)
    QTest.keyClick(dialog.findChild(QSlider, "ahp_vard_kultur"), Qt.Key_Left)
    settle(qtbot)
    assert dialog.findChild(QSlider, "ahp_vard_transport").value() == -8
    a = dialog_matrix(dialog, ids)
    assert a[ids.index("vard"), ids.index("transport")] == 9 and a[ids.index("vard"), ids.index("kompetens")] == 1 / 9
    w, lam = eig_weights(a)
    np.testing.assert_allclose(shown_weights(dialog, ids), w, atol=0.0006)  # shown to 0.1 %
    cr = (lam - n) / (n - 1) / SAATY_RI[n]
    assert cr > 0.10
    text = dialog.findChild(object, "ahp_cr").text()
    assert f"CR = {cr:.3f}".replace(".", ",") in text and "motsäger" in text  # Swedish decimal comma
    # The worst pair: the judgement furthest from the weights' own ratio (in log terms).
    err = np.abs(np.log(a * w[None, :] / w[:, None]))
    err[np.tril_indices(n)] = -1
    i, j = np.unravel_index(np.argmax(err), err.shape)
    title = {s.id: s.title for s in window.model.project.layers}
    assert f"{title[ids[i]]}–{title[ids[j]]} stämmer sämst" in text
    # Back to consistent answers: one slider to the middle is not enough, so the warning stays;
    # the words follow the scale.
    row = dialog.rows[0]
    assert row.sentence.text().startswith(f"{title['vard']} är extremt viktigare än {title['transport']}")


def test_use_as_weights_sets_the_model_weights_and_ctrl_z_restores(window, qtbot):
    model = window.model
    before = {s.id: s.indicator.weight for s in model.project.indicator_layers()}
    dialog = open_dialog(window, qtbot)
    ids = counted_ids(model.project)
    slider = dialog.findChild(QSlider, "ahp_vard_transport")
    slider.setFocus()
    for _ in range(3):
        QTest.keyClick(slider, Qt.Key_Left)
    QTest.keyClick(dialog.findChild(QSlider, "ahp_kultur_socio"), Qt.Key_Right)
    settle(qtbot)
    w, _ = eig_weights(dialog_matrix(dialog, ids))
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        qtbot.mouseClick(dialog.findChild(QPushButton, "ahp_apply"), Qt.LeftButton)
    live = np.array([model.project.layer(lid).indicator.weight for lid in ids])
    np.testing.assert_allclose(live / live.sum(), w, rtol=1e-9)
    # The map uses them: the composite's shares are the AHP weights.
    shares = dict(zip(model.ws.normalised.layer_ids, model.ws.composite.shares))
    np.testing.assert_allclose([shares[lid] for lid in ids], w, atol=1e-6)
    assert model.project.extra["ahp"]["order"] == ids
    # Saved, the judgements round-trip through [ahp] and give the same weights when read.
    saved = model.project.path.parent / "ahp.toml"
    model.save(saved)
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    ws = Workspace(read_project(saved))
    ws.update()
    np.testing.assert_allclose(ws.ahp.weights, w, atol=2e-4)  # the file holds reciprocals to 4 decimals
    ctrl_z(window, qtbot)
    assert {s.id: s.indicator.weight for s in model.project.indicator_layers()} == before
    assert "ahp" not in model.project.extra


def test_ahp_result_as_scenario_and_as_a_groups_points(window, qtbot):
    model = window.model
    model.project.extra["groups"] = [{"id": "kommunerna", "name": "Kommunerna", "colour": "#1f77b4",
                                      "weights": {"vard": 50, "transport": 50}}]
    dialog = open_dialog(window, qtbot)
    ids = counted_ids(model.project)
    slider = dialog.findChild(QSlider, "ahp_vard_transport")
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageDown)  # two steps right: transport 3 times more important
    settle(qtbot)
    w, _ = eig_weights(dialog_matrix(dialog, ids))
    dialog.ask_text = lambda title, label, default: "AHP-test"
    live_before = {s.id: s.indicator.weight for s in model.project.indicator_layers()}
    qtbot.mouseClick(dialog.findChild(QPushButton, "ahp_save_as_scenario"), Qt.LeftButton)
    from skikt.layers import scenarios as sc

    saved = sc.find_scenario(model.project, "AHP-test").weights
    got = np.array([saved[lid] for lid in ids])
    np.testing.assert_allclose(got / got.sum(), w, rtol=1e-9)
    assert {s.id: s.indicator.weight for s in model.project.indicator_layers()} == live_before  # not applied
    dialog.ask_item = lambda title, label, items: "Kommunerna"
    qtbot.mouseClick(dialog.findChild(QPushButton, "ahp_to_group"), Qt.LeftButton)
    points = model.project.extra["groups"][0]["weights"]
    assert sum(points.values()) == pytest.approx(100.0, abs=1e-9)
    np.testing.assert_allclose([points[lid] for lid in ids], 100 * w, atol=0.051)
    # Two undo steps: the group, then the scenario.
    model.undo.undo()
    assert model.project.extra["groups"][0]["weights"] == {"vard": 50, "transport": 50}
    model.undo.undo()
    assert "AHP-test" not in sc.scenario_names(model.project)


def yager_owa(norm, weights, alpha):
    """GIS-OWA (Yager 1996, Malczewski 2006), unit by unit: the unit's present values in descending
    order, their weights renormalised, order weights v_j = Q(Σ_{k≤j} u) − Q(Σ_{k<j} u), Q(p) = p^α."""
    norm = np.asarray(norm, float)
    out = np.full(norm.shape[1], np.nan)
    w = np.asarray(weights, float)
    for unit in range(norm.shape[1]):
        z = norm[:, unit]
        keep = ~np.isnan(z) & (w > 0)
        if not keep.any():
            continue
        zk, wk = z[keep], w[keep]
        order = np.argsort(-zk, kind="stable")
        cum = np.cumsum(wk[order]) / wk.sum()
        q = np.concatenate([[0.0], cum]) ** alpha
        out[unit] = float(np.sum(np.diff(q) * zk[order]))
    return out


def test_owa_slider_middle_is_the_mean_and_the_and_end_is_yagers_owa(window, qtbot):
    model = window.model
    ws = model.ws
    mean_classes = ws.composite.cls.copy()
    weights = np.array(model.live_weights())
    norm = ws.normalised.norm
    valid = ~np.isnan(norm)
    independent_mean = np.nansum(np.where(valid, norm, 0) * weights[:, None], axis=0) / (valid * weights[:, None]).sum(axis=0)
    slider = window.weights_panel.findChild(QSlider, "owa_alpha")
    assert slider.value() == 0
    slider.setFocus()
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        QTest.keyClick(slider, Qt.Key_End)  # the AND end: α = 10
    assert model.project.extra["combine"] == {"method": "owa", "alpha": 10.0}
    assert window.weights_panel.findChild(object, "combine_method").currentData() == "owa"
    # On a sample of units (the oracle is a plain loop), the scores are Yager's OWA.
    rng = np.random.default_rng(5)
    units = rng.choice(norm.shape[1], 600, replace=False)
    expected = yager_owa(norm[:, units], weights, 10.0)
    np.testing.assert_allclose(ws.composite.score[units], expected, atol=1e-5)
    scored = units[np.isfinite(independent_mean[units])]  # not the units a constraint layer removes
    assert len(scored) > 500 and np.isnan(ws.composite.score[units[~np.isfinite(independent_mean[units])]]).all()
    assert (ws.composite.score[scored] <= independent_mean[scored] + 1e-5).all()  # AND is below the mean
    assert not np.array_equal(ws.composite.cls, mean_classes)
    # Mean-only panels say so in one line.
    assert window.weights_panel.findChild(object, "combine_mean_only").isVisibleTo(window.weights_panel)
    out = model.project.path.parent / "owa.toml"
    model.save(out)
    with open(out, "rb") as f:
        assert tomllib.load(f)["combine"] == {"method": "owa", "alpha": 10.0}
    # Back to the middle tick with the keys: exactly the weighted mean's map.
    for _ in range(4):
        QTest.keyClick(slider, Qt.Key_PageDown)
    settle(qtbot)
    assert slider.value() == 0 and model.project.extra["combine"]["method"] == "mean"
    np.testing.assert_array_equal(ws.composite.cls, mean_classes)
    np.testing.assert_allclose(ws.composite.score, independent_mean, atol=1e-5)
    # A small α leans on each unit's best value: above the mean.
    for _ in range(8):
        QTest.keyClick(slider, Qt.Key_PageDown)
    settle(qtbot)
    alpha = model.project.extra["combine"]["alpha"]
    assert alpha == 0.1
    np.testing.assert_allclose(ws.composite.score[units], yager_owa(norm[:, units], weights, alpha), atol=1e-5)
    # The key presses since the save merged into one undo step, back to α = 10.
    ctrl_z(window, qtbot)
    assert model.project.extra["combine"] == {"method": "owa", "alpha": 10.0}


def wait_p_top(window, qtbot):
    state = window.model.decision_state
    qtbot.waitUntil(lambda: state.result is not None and not state.stale and not state.worker.busy, timeout=180000)
    settle(qtbot)
    return state.result


def test_p_top_map_is_the_seeded_monte_carlo_and_spread_zero_is_the_top_class(window, qtbot):
    from skikt.layers.uncertainty import DEFAULT_SEED, monte_carlo

    model = window.model
    panel = window.weights_panel
    draws = panel.findChild(QSpinBox, "ptop_draws")
    draws.setFocus()
    draws.selectAll()
    QTest.keyClicks(draws, "200")
    QTest.keyClick(draws, Qt.Key_Enter)
    assert draws.value() == 200
    qtbot.mouseClick(panel.findChild(QCheckBox, "ptop_check"), Qt.LeftButton)
    wait_p_top(window, qtbot)
    um = window.canvas.scene.unit_map
    assert um is not None and um.kind == "p_top"
    ws = model.ws
    oracle = monte_carlo(ws.normalised, np.array(model.live_weights()), 200, 0.2, ws.project.units.classes,
                         "mean", 1.0, DEFAULT_SEED)
    np.testing.assert_array_equal(um.values, oracle.p_top)
    assert um.labels[-1].startswith("säkert hög prioritet") and "90 %" in um.labels[-1]
    # A weight change marks the map stale and computes it again for the new weights.
    weight = panel.findChild(QSlider, "weight_transport")
    weight.setFocus()
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        QTest.keyClick(weight, Qt.Key_PageUp)
    assert model.decision_state.stale
    wait_p_top(window, qtbot)
    oracle = monte_carlo(ws.normalised, np.array(model.live_weights()), 200, 0.2, ws.project.units.classes,
                         "mean", 1.0, DEFAULT_SEED)
    np.testing.assert_array_equal(window.canvas.scene.unit_map.values, oracle.p_top)
    # Spread 0: every draw is the set weights, so p_top is 1 exactly in the top class, 0 elsewhere.
    spread = panel.findChild(QDoubleSpinBox, "ptop_spread")
    spread.setFocus()
    spread.selectAll()
    QTest.keyClicks(spread, "0")
    QTest.keyClick(spread, Qt.Key_Enter)
    assert spread.value() == 0
    wait_p_top(window, qtbot)
    p = window.canvas.scene.unit_map.values
    cls = ws.composite.cls
    scored = cls > 0
    assert set(np.unique(p[scored])) == {0.0, 1.0}
    np.testing.assert_array_equal(p[scored] == 1.0, cls[scored] == 1)
    # Off: the priority map comes back.
    qtbot.mouseClick(panel.findChild(QCheckBox, "ptop_check"), Qt.LeftButton)
    settle(qtbot)
    assert window.canvas.scene.unit_map is None


def test_a_project_with_ahp_opens_with_its_weights_and_the_dialog_starts_from_its_judgements(qtbot, sample_copy):
    from tests.conftest import open_sample_window

    text = sample_copy.read_text(encoding="utf-8")
    sample_copy.write_text(text + '\n[ahp]\norder = ["vard", "transport", "kultur"]\n'
                           'matrix = [[1, 3, 5], [0.3333, 1, 3], [0.2, 0.3333, 1]]\n', encoding="utf-8")
    window = open_sample_window(qtbot, sample_copy)
    model = window.model
    trio = ["vard", "transport", "kultur"]
    w = np.array([model.project.layer(lid).indicator.weight for lid in trio])
    # Saaty's 3×3: the row geometric means 15^(1/3), 1, 15^(-1/3), normalised (README worked example).
    g = np.array([15 ** (1 / 3), 1, 15 ** (-1 / 3)])
    np.testing.assert_allclose(w / w.sum(), g / g.sum(), atol=2e-4)
    # The other layers keep their weights, so the three keep their previous total.
    from skikt.layers.project import read_project

    before = read_project(sample_copy)
    assert w.sum() == pytest.approx(sum(before.layer(lid).indicator.weight for lid in trio))
    assert model.undo.isClean()
    dialog = open_dialog(window, qtbot)
    positions = {name: dialog.findChild(QSlider, f"ahp_{name}").value()
                 for name in ("vard_transport", "vard_kultur", "transport_kultur")}
    assert positions == {"vard_transport": -2, "vard_kultur": -4, "transport_kultur": -2}  # 3, 5, 3 to the left
