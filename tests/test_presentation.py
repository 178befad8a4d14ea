"""Presentation mode (issue 11, items 1 and 3): real key events on the presentation window.

Oracles: the sample project's TOML read with tomllib (view titles, extents, scenario weights),
hand-worked aspect fitting, numpy weighted means, and matplotlib's own text extents in pixels.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from skikt.app.presentation import PresentationWindow, run_present
from skikt.layers.project import read_project
from skikt.layers.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "sample_project.toml"


@pytest.fixture(scope="module")
def sample_ws():
    ws = Workspace(read_project(SAMPLE))
    ws.update(strict=True)
    return ws


@pytest.fixture(scope="module")
def sample_toml():
    return tomllib.loads(SAMPLE.read_text(encoding="utf-8"))


def _window(qtbot, ws, size=(1920, 1080), start=None):
    win = PresentationWindow(ws.fork(), "sv", start=start)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitUntil(lambda: win.figure.bbox.height == size[1] and win.figure.bbox.width == size[0])
    # laid out for the new size by the resize itself (no render_now here): the fonts follow it
    qtbot.waitUntil(lambda: win.title_art.get_fontsize() == pytest.approx(win.points(1 / 16), rel=0.3))
    win.activateWindow()
    return win


def _expected_limits(extent, ax_px_w, ax_px_h):
    """The view's extent grown in one direction to the map's pixel aspect, about its centre."""
    xmin, ymin, xmax, ymax = extent
    w, h = xmax - xmin, ymax - ymin
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    aspect = ax_px_w / ax_px_h
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return (cx - w / 2, cx + w / 2), (cy - h / 2, cy + h / 2)


def _assert_shows(win, entry):
    assert win.title_art.get_text() == entry["title"]
    if entry.get("subtitle"):
        # the subtitle may wrap onto two lines at 1280×720, never lose words
        assert " ".join(win.subtitle_art.get_text().split()) == entry["subtitle"]
    box = win.ax.get_window_extent()
    want_x, want_y = _expected_limits(entry["extent"], box.width, box.height)
    np.testing.assert_allclose(win.ax.get_xlim(), want_x, rtol=0, atol=1.0)
    np.testing.assert_allclose(win.ax.get_ylim(), want_y, rtol=0, atol=1.0)


def test_clicker_keys_step_through_the_views(qtbot, sample_ws, sample_toml):
    views = sample_toml["views"]
    win = _window(qtbot, sample_ws)
    _assert_shows(win, views[0])
    for i, key in enumerate([Qt.Key_PageDown, Qt.Key_Space, Qt.Key_Right, Qt.Key_Down], start=1):
        qtbot.keyClick(win, key)
        assert win.index == i
        _assert_shows(win, views[i])
    qtbot.keyClick(win, Qt.Key_PageDown)  # past the last view: stays on it
    _assert_shows(win, views[-1])
    qtbot.keyClick(win, Qt.Key_PageUp)
    _assert_shows(win, views[-2])
    qtbot.keyClick(win, Qt.Key_Left)
    _assert_shows(win, views[-3])
    qtbot.keyClick(win, Qt.Key_Home)
    _assert_shows(win, views[0])
    qtbot.keyClick(win, Qt.Key_Up)  # before the first: stays
    _assert_shows(win, views[0])
    qtbot.keyClick(win, Qt.Key_End)
    _assert_shows(win, views[-1])
    # the view's layers are the ones shown, every other layer hidden
    shown = {s.id for s in win.ws.project.layers if s.visible}
    assert shown == set(views[-1]["layers"])


def test_escape_leaves(qtbot, sample_ws):
    win = _window(qtbot, sample_ws)
    with qtbot.waitSignal(win.closed, timeout=2000):
        qtbot.keyClick(win, Qt.Key_Escape)
    assert not win.isVisible()


def _scenario_weights(toml, name):
    weights = {layer["id"]: float(layer["indicator"]["weight"]) for layer in toml["layers"] if "indicator" in layer}
    if name is not None:
        weights.update({k: float(v) for k, v in next(s for s in toml["scenarios"] if s["name"] == name)["weights"].items()})
    return weights


def test_weights_change_live_and_r_resets_to_the_views_scenario(qtbot, sample_ws, sample_toml):
    views = sample_toml["views"]
    vard = next(i for i, v in enumerate(views) if v.get("scenario") == "Vård först")
    win = _window(qtbot, sample_ws, start=views[vard]["name"])
    scenario = _scenario_weights(sample_toml, "Vård först")
    assert win.weights == scenario
    ids = list(win.weights)
    second = ids[1]
    qtbot.keyClick(win, Qt.Key_2)  # pick the second bar …
    assert win.selected == 1
    for _ in range(3):  # … and raise it three steps
        qtbot.keyClick(win, Qt.Key_Plus)
    qtbot.keyClick(win, Qt.Key_Minus)
    changed = dict(scenario, **{second: scenario[second] + 2})
    assert win.weights == changed
    assert all(win.ws.project.layer(i).indicator.weight == changed[i] for i in ids)
    # the bars animate to the new shares, worked out by hand
    total = sum(changed.values())
    qtbot.waitUntil(lambda: not win._timer.isActive(), timeout=10000)
    for lid, (bar, percent, full) in win._bars.items():
        assert bar.get_width() == pytest.approx(full * changed[lid] / total, abs=1e-9)
        assert percent.get_text() == f"{round(100 * changed[lid] / total)} %"
    finite = np.isfinite(win.ws.composite.score)
    matrix = np.vstack([win.ws._normalised_layer(win.ws.project.layer(i)) for i in win.ws.normalised.layer_ids])
    w = np.array([changed[i] for i in win.ws.normalised.layer_ids])[:, None]
    all_finite = np.isfinite(matrix).all(axis=0)
    oracle = (w * np.nan_to_num(matrix)).sum(axis=0) / w.sum()
    np.testing.assert_allclose(win.ws.composite.score[all_finite & finite], oracle[all_finite & finite], rtol=1e-5)
    assert "(ändrat)" in " ".join(t.get_text() for t in win.texts())
    qtbot.keyClick(win, Qt.Key_R)
    assert win.weights == scenario
    assert all(win.ws.project.layer(i).indicator.weight == scenario[i] for i in ids)
    qtbot.waitUntil(lambda: not win._timer.isActive(), timeout=10000)
    total = sum(scenario.values())
    for lid, (bar, percent, full) in win._bars.items():
        assert bar.get_width() == pytest.approx(full * scenario[lid] / total, abs=1e-9)
    assert "(ändrat)" not in " ".join(t.get_text() for t in win.texts())


def test_stepping_to_another_view_takes_its_scenario(qtbot, sample_ws, sample_toml):
    win = _window(qtbot, sample_ws)
    for index, view in enumerate(sample_toml["views"]):
        win.go(index)
        assert win.weights == _scenario_weights(sample_toml, view.get("scenario"))


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_text_is_large_enough_and_nothing_is_clipped(qtbot, sample_ws, sample_toml, size):
    win = _window(qtbot, sample_ws, size=size)
    renderer = win.canvas.get_renderer()
    fig_w, fig_h = size
    for index in range(len(sample_toml["views"])):
        win.go(index)
        win.show_notes = index % 2 == 1  # the notes overlay on every other view
        win.render_now()
        texts = win.texts()
        assert len(texts) > 20  # title, subtitle, legend, eight weights, names, scale bar
        for text in texts:
            px = text.get_fontsize() * win.figure.dpi / 72
            assert px >= fig_h / 40 - 1e-6, (text.get_text(), px)
            box = text.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig_w and box.y1 <= fig_h, (text.get_text(), box)
        # a capital letter's height on screen: at least 0.7 of the 1/40 em (DejaVu's cap height)
        assert win.title_art.get_window_extent(renderer).height >= fig_h / 40 * 2
    # the window is exactly the screen: no scroll bars, one canvas the size of the window
    assert (win.canvas.width(), win.canvas.height()) == size


def test_present_command_line(tmp_path, capsys, sample_toml):
    out = tmp_path / "p.png"
    assert run_present([str(SAMPLE), "--view", sample_toml["views"][1]["name"], "--screenshot", str(out),
                        "--size", "1280x720"]) == 0
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 720)
    assert run_present([str(SAMPLE), "--view", "Finns inte", "--screenshot", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Finns inte" in err[0]
    assert run_present([str(SAMPLE), "--screenshot", str(out), "--size", "big"]) == 2
    assert "--size" in capsys.readouterr().err


def test_f5_in_the_main_window_presents_and_leaves_the_desk_map_alone(qtbot, sample_copy, sample_toml):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    main = MainWindow(model)
    qtbot.addWidget(main)
    main.confirm_close = False
    main.resize(1400, 900)
    main.show()
    model.set_project_sync(sample_copy)
    qtbot.waitExposed(main)
    before = {s.id: (s.visible, s.indicator.weight if s.indicator else None) for s in model.project.layers}
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow)
    from PySide6.QtWidgets import QApplication

    qtbot.keyClick(QApplication.focusWidget() or main, Qt.Key_F5)
    pres = main._presentation
    qtbot.addWidget(pres)
    qtbot.waitUntil(pres.isVisible)
    assert pres.isFullScreen()
    assert pres.title_art.get_text() == sample_toml["views"][0]["title"]
    qtbot.keyClick(pres, Qt.Key_PageDown)
    qtbot.keyClick(pres, Qt.Key_2)
    qtbot.keyClick(pres, Qt.Key_Plus)
    assert pres.title_art.get_text() == sample_toml["views"][1]["title"]
    qtbot.keyClick(pres, Qt.Key_Escape)
    assert not pres.isVisible()
    # the presentation worked on a fork: the desk project's visibility and weights are untouched
    after = {s.id: (s.visible, s.indicator.weight if s.indicator else None) for s in model.project.layers}
    assert after == before
    assert model.undo.isClean()


def test_f5_before_the_first_result_picks_it_up_when_it_arrives(qtbot, sample_copy, sample_toml):
    """F5 pressed while the indicators are still being computed in the background: the
    presentation (a fork taken at F5, without scores) takes the result when it arrives."""
    from PySide6.QtWidgets import QApplication

    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    main = MainWindow(model)
    qtbot.addWidget(main)
    main.confirm_close = False
    main.resize(1400, 900)
    main.show()
    # The project is in, its computation not started yet: F5 is certain to come first (with
    # open_project the race would be up to the machine). Then the same background job as at start-up.
    from skikt.app.model import read_leniently

    model._replace_project(read_leniently(sample_copy)[0])
    qtbot.waitExposed(main)
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow)
    qtbot.keyClick(QApplication.focusWidget() or main, Qt.Key_F5)
    pres = main._presentation
    qtbot.addWidget(pres)
    assert pres.ws.composite is None and pres.weights == {}  # F5 came first
    model.recompute()
    qtbot.waitUntil(lambda: model.ws.composite is not None, timeout=120000)
    qtbot.waitUntil(lambda: pres.ws.composite is not None, timeout=10000)
    first = sample_toml["views"][0]
    assert pres.title_art.get_text() == first["title"]
    assert pres.weights == _scenario_weights(sample_toml, first.get("scenario"))
    # the projected map shows the priority classes and their legend, from the same scores
    assert len(pres.ws.composite.score) == model.ws.units.n
    assert pres.scene._priority is not None and pres.scene._priority.get_visible()
    shown = " ".join(t.get_text() for t in pres.texts())
    assert "Högst" in shown
    assert 0 < len(pres._bars) <= len(pres.weights)  # the weight strip is there (as many bars as fit)
    pres.close()


def test_choose_screens_puts_the_map_on_the_other_screen():
    from skikt.app.presenter_console import choose_screens, slider_top

    laptop, projector, third = object(), object(), object()
    assert choose_screens([laptop, projector], laptop) == (projector, laptop)
    assert choose_screens([projector, laptop, third], laptop) == (projector, laptop)
    assert choose_screens([laptop], laptop) == (laptop, None)
    assert choose_screens([laptop], None) == (laptop, None)
    assert slider_top({"a": 6.0, "b": 1.0}) == 12 and slider_top({"a": 30.0}) == 60 and slider_top({}) == 10


def test_presenter_console_follows_and_drives_the_presentation(qtbot, sample_ws, sample_toml):
    import re

    from PySide6.QtTest import QTest

    from skikt.app.presenter_console import PresenterConsole

    views = sample_toml["views"]
    win = _window(qtbot, sample_ws, size=(1280, 720))
    console = PresenterConsole(win, "sv")
    qtbot.addWidget(console)
    console.resize(1200, 800)
    console.show()
    assert console.now.text() == f"Nu (1/{len(views)}): {views[0]['title']}"
    assert console.next.text() == f"Nästa: {views[1]['title']}"
    assert console.notes.toPlainText() == views[0]["notes"].strip()
    assert re.fullmatch(r"\d\d:\d\d   \(0:\d\d\)", console.clock.text())
    qtbot.keyClick(console, Qt.Key_PageDown)  # the clicker, with the console in front
    assert win.index == 1 and win.title_art.get_text() == views[1]["title"]
    assert console.now.text().endswith(views[1]["title"]) and console.notes.toPlainText() == views[1]["notes"].strip()
    scenario = _scenario_weights(sample_toml, views[1].get("scenario"))
    assert {lid: s.value() for lid, s in console.sliders.items()} == {k: round(v) for k, v in scenario.items()}
    console.sliders["kultur"].setValue(7)  # a slider moved in the console …
    assert win.weights["kultur"] == 7 and win.ws.project.layer("kultur").indicator.weight == 7
    assert win.weights_modified()
    qtbot.keyClick(console, Qt.Key_R)  # … and R from the console puts the scenario back, sliders too
    assert win.weights == scenario and console.sliders["kultur"].value() == round(scenario["kultur"])
    vard = console.toggles["vard"]
    assert vard.isChecked() and win.ws.project.layer("vard").visible
    QTest.mouseClick(vard, Qt.LeftButton)  # a layer toggle hides the layer on the projected map
    assert not win.ws.project.layer("vard").visible
    art = win.scene._layer_art["vard"][1]
    assert not art.get_visible()
    qtbot.keyClick(console, Qt.Key_End)
    assert console.next.text() == "Sista vyn"
    qtbot.keyClick(console, Qt.Key_Escape)
    assert not win.isVisible() and not console.isVisible()


def test_a_project_without_views_is_one_view_of_the_study_area_in_english(qtbot, sample_ws, sample_toml):
    from skikt.layers.export import study_extent

    ws = sample_ws.fork()
    ws.project.extra.pop("views")
    win = PresentationWindow(ws, "en")
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitUntil(lambda: win.figure.bbox.height == 720)
    qtbot.waitUntil(lambda: win.title_art.get_fontsize() == pytest.approx(win.points(1 / 16), rel=0.3))
    assert len(win.views) == 1 and win.title_art.get_text() == sample_toml["project"]["title"]
    x0, x1, y0, y1 = study_extent(ws)
    box = win.ax.get_window_extent()
    want_x, want_y = _expected_limits((x0, y0, x1, y1), box.width, box.height)
    np.testing.assert_allclose(win.ax.get_xlim(), want_x, atol=1.0)
    np.testing.assert_allclose(win.ax.get_ylim(), want_y, atol=1.0)
    shown = [t.get_text() for t in win.texts()]
    assert ["Highest", "High", "Medium", "Low", "Lowest"] == [t for t in shown if t in
                                                              {"Highest", "High", "Medium", "Low", "Lowest"}]
    assert "Weights – Project weights" in shown and "1 / 1" in shown
    qtbot.keyClick(win, Qt.Key_PageDown)  # nowhere to go: stays
    assert win.index == 0


def test_g_steps_priority_consensus_disagreement_and_back(qtbot, sample_ws, sample_toml):
    """G with [[groups]]: the consensus is the composite of the mean of the groups' normalised
    point vectors (its weights in the strip); the disagreement is max − min of each unit's
    percentile rank over the groups. Oracles: the TOML's points, numpy weighted means, scipy ranks."""
    from scipy.stats import rankdata

    win = _window(qtbot, sample_ws, size=(1280, 720))
    room = dict(win.weights)
    ids = list(win.ws.normalised.layer_ids)
    vectors = []
    for group in sample_toml["groups"]:
        p = np.array([float(group["weights"].get(lid, 0)) for lid in ids])
        vectors.append(p / p.sum())
    mean = np.mean(vectors, axis=0)

    qtbot.keyClick(win, Qt.Key_G)
    assert win.map_kind == "consensus" and win.scene.unit_map is None
    total = sum(win.weights.values())
    np.testing.assert_allclose([win.weights[lid] / total for lid in ids], mean, rtol=1e-6)
    matrix = np.vstack([win.ws._normalised_layer(win.ws.project.layer(i)) for i in ids]).astype(np.float64)
    # Units with every indicator are scored by a plain weighted mean; the sample's excluded cells
    # (a constraint layer) have no values and no score.
    ok = np.isfinite(matrix).all(axis=0)
    assert ok.sum() > 0.9 * len(ok)
    scored = np.isfinite(win.ws.composite.score)
    np.testing.assert_array_equal(scored, ok)
    np.testing.assert_allclose(win.ws.composite.score[ok], mean @ matrix[:, ok], rtol=1e-5)
    assert "Samsyn" in " ".join(t.get_text() for t in win.texts())

    qtbot.keyClick(win, Qt.Key_G)
    assert win.map_kind == "disagreement"
    assert win.scene.unit_map is not None and win.scene.unit_map.kind == "disagreement"
    n = int(ok.sum())
    percentiles = [(n - rankdata(-(v @ matrix[:, ok]), method="average")) / (n - 1) for v in vectors]
    # Scores equal up to float rounding may rank as a tie in one computation and not the other:
    # a few rank places, out of some 25 000.
    values = win.scene.unit_map.values
    np.testing.assert_allclose(values[ok], np.max(percentiles, 0) - np.min(percentiles, 0), rtol=0, atol=4 / (n - 1))
    assert np.isnan(values[~ok]).all()  # not scored: not drawn
    shown = " ".join(t.get_text() for t in win.texts())
    assert win.scene.unit_map.title in shown and "Eniga" in shown
    assert win.weights == room  # the disagreement does not depend on the weights: the room's are back

    qtbot.keyClick(win, Qt.Key_G)
    assert win.map_kind == "priority" and win.scene.unit_map is None and win.weights == room
    # a weight moved during the consensus shows the priority map of the weights moved
    qtbot.keyClick(win, Qt.Key_G)
    qtbot.keyClick(win, Qt.Key_1)
    qtbot.keyClick(win, Qt.Key_Plus)
    assert win.map_kind == "priority" and win.scene.unit_map is None


def test_the_console_grows_its_sliders_when_the_first_result_arrives(qtbot, sample_ws, sample_copy, sample_toml):
    """A presentation started before anything was computed, with its console: no weights, no
    sliders; the result arrives (adopt) → one slider per weight, at the view's weights."""
    from skikt.app.presenter_console import PresenterConsole
    from skikt.layers.workspace import Workspace

    empty = Workspace(read_project(sample_copy))  # nothing loaded or computed yet
    win = PresentationWindow(empty, "sv")
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    console = PresenterConsole(win, "sv")
    qtbot.addWidget(console)
    console.show()
    assert win.weights == {} and console.sliders == {}
    win.adopt(sample_ws)
    first = sample_toml["views"][0]
    want = _scenario_weights(sample_toml, first.get("scenario"))
    assert win.weights == want
    assert {lid: s.value() for lid, s in console.sliders.items()} == {lid: round(w) for lid, w in want.items()}
    assert all(s.focusPolicy() == Qt.NoFocus for s in console.sliders.values())  # the clicker's keys stay with the map
    # a slider drives the presentation as before
    lid = next(iter(console.sliders))
    console.sliders[lid].setValue(int(want[lid]) + 3)
    assert win.weights[lid] == want[lid] + 3


# ------------------------------------------------------------------------------------------------
# The weight strip keeps every weight in use (mock workshop, shots 12, 14, 15, 29–33)


def _attach_temp_store(win, tmp_path):
    """Dots and pins into a store in tmp_path: the user's own workshop file is never touched."""
    from skikt.layers.captures import WorkshopStore
    from skikt.layers.groups import read_groups

    groups = [g.id for g in read_groups(win.base_project)] or None
    store = WorkshopStore(tmp_path / "pf_workshop.gpkg", win.base_project.crs, groups=groups)
    win.attach_captures(lambda: store, lambda: store)
    return store


def _assert_every_weight_row_drawn(win, h):
    renderer = win.canvas.get_renderer()
    ids = list(win.weights)
    assert all(win.weights[lid] > 0 for lid in ids)
    assert set(win.strip_labels) == set(ids), "a weight in use is hidden"
    assert win._more is None
    shown = {t.get_text() for t in win.texts()}
    boxes = []
    for lid in ids:
        art = win.strip_labels[lid]
        assert art.get_text() in shown
        assert art.get_fontsize() * win.figure.dpi / 72 >= h / 40 * 0.99  # the MIN_TEXT rule
        ext = art.get_window_extent(renderer)
        assert ext.y0 >= 0  # inside the window
        boxes.append(ext)
    for a, b in zip(boxes, boxes[1:]):  # the rows do not overlap
        assert not a.overlaps(b)
    # the percentages add up to about 100 (each rounded)
    total = sum(int(win._bars[lid][1].get_text().split()[0].rstrip("%")) for lid in ids)
    assert abs(total - 100) <= len(ids) / 2


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_the_weight_strip_shows_every_weight_in_use(qtbot, sample_ws, tmp_path, size):
    win = _window(qtbot, sample_ws, size=size)
    h = size[1]
    for lid in win.weights:  # every weight in use, as in the workshop's scenario
        win.weights[lid] = max(win.weights[lid], 5.0)
    win._recombine()
    win.render_now()
    _assert_every_weight_row_drawn(win, h)

    qtbot.keyClick(win, Qt.Key_2)  # changed: the heading says "(ändrat)", the second row selected
    for _ in range(4):
        qtbot.keyClick(win, Qt.Key_Plus)
    assert win.weights_modified()
    qtbot.waitUntil(lambda: not win._timer.isActive())
    _assert_every_weight_row_drawn(win, h)
    heading = [t.get_text() for t in win.texts() if "ändrat" in t.get_text()]
    assert heading and all("\n" not in t for t in heading)  # "(ändrat)" forces no second line

    qtbot.keyClick(win, Qt.Key_G)  # consensus: the groups' mean weights, titled so
    assert win.map_kind == "consensus"
    qtbot.waitUntil(lambda: not win._timer.isActive())
    _assert_every_weight_row_drawn(win, h)
    texts = [t.get_text() for t in win.texts()]
    assert "Samsyn – gruppernas medelvikter" in [" ".join(t.split()) for t in texts]
    assert not any(t.startswith("Vikter") for t in texts)

    qtbot.keyClick(win, Qt.Key_G)  # disagreement: the weights do not drive the map, no strip
    assert win.map_kind == "disagreement"
    assert win.strip_labels == {} and not win._bars
    assert any("hur långt isär" in " ".join(t.get_text().split()) for t in win.texts())
    qtbot.keyClick(win, Qt.Key_G)

    _attach_temp_store(win, tmp_path)
    qtbot.keyClick(win, Qt.Key_V)  # dot voting: the banner makes the title band taller
    assert win.capture_mode == "dot" and win.banner_art is not None
    _assert_every_weight_row_drawn(win, h)
    qtbot.keyClick(win, Qt.Key_Escape)
    win.close()


def test_when_rows_run_out_the_smallest_weights_are_summed_and_the_selected_stays(qtbot, sample_ws):
    """The last resort, forced by a strip only a few rows high: the selected row stays, the
    smallest weights go into one line that carries their summed share (hand-summed here)."""
    win = _window(qtbot, sample_ws, size=(1280, 720))
    ids = list(win.weights)
    last = len(ids) - 1
    win.weights = {lid: float(10 + i) for i, lid in enumerate(ids)}
    win.weights[ids[last]] = 1.0  # the smallest, and selected
    win.selected = last
    win._recombine()
    win.shown_shares = {lid: v / sum(win.weights.values()) for lid, v in win.weights.items()}
    for art in win._overlay:
        art.remove()
    win._overlay, win._bars = [], {}
    h = 720
    win._draw_weight_strip(10, 100, 300, 100 + h / 37 * 0.45 + h / 37 * 1.2 + 4 * h / 40 * 1.02 * 1.8)
    assert ids[last] in win.strip_labels
    assert win._more is not None
    art, grouped = win._more
    assert ids[last] not in grouped and set(grouped) | set(win.strip_labels) == set(ids)
    # the smallest of the rest are grouped: every grouped weight ≤ every shown one except the selected
    shown_rest = [win.weights[lid] for lid in win.strip_labels if lid != ids[last]]
    assert max(win.weights[lid] for lid in grouped) <= min(shown_rest)
    total = sum(win.weights.values())
    expected = round(100 * sum(win.weights[lid] for lid in grouped) / total)
    assert art.get_text() == f"+ {len(grouped)} till ({expected} %)"
    win.close()


def test_the_groups_legend_is_shown_only_while_voting_or_pinning(qtbot, sample_ws, tmp_path):
    """Mock workshop shot 34: the legend "Grupper · prickar kvar" stayed over the map's upper
    left on every view once a capture existed. Now only in V (with the dots left) and P (the
    groups only: no "prickar kvar"); the dot itself stays on the map (the votes table's count)."""
    from PySide6.QtTest import QTest

    win = _window(qtbot, sample_ws, size=(1280, 720))
    _attach_temp_store(win, tmp_path)
    units = win.ws.units
    target = units.centres[len(units.ids) // 2]
    qtbot.keyClick(win, Qt.Key_V)
    qtbot.keyClick(win, Qt.Key_1)
    px, py = win.ax.transData.transform(target)
    ratio = win.canvas.device_pixel_ratio or 1.0
    from PySide6.QtCore import QPoint
    QTest.mouseClick(win.canvas, Qt.LeftButton, Qt.NoModifier,
                     QPoint(int(round(px / ratio)), int(round(win.canvas.height() - py / ratio))))
    import sqlite3
    with sqlite3.connect(tmp_path / "pf_workshop.gpkg") as con:
        assert con.execute("SELECT SUM(dots) FROM votes").fetchone()[0] == 1
    assert win.captures.legend is not None and win.captures.legend.get_title().get_text() == "Grupper · prickar kvar"
    qtbot.keyClick(win, Qt.Key_Escape)  # V off: the dot stays, the legend goes
    assert win.capture_mode is None
    assert win.captures.legend is None
    assert [int(t.get_text()) for _, t in win.captures.tally_texts] == [1]
    assert not any("prickar kvar" in t.get_text() for t in win.texts())
    qtbot.keyClick(win, Qt.Key_PageDown)  # another view: still no legend over the map
    assert win.captures.legend is None
    qtbot.keyClick(win, Qt.Key_P)  # pins: the groups, without dots left
    assert win.captures.legend is not None
    legend_texts = [win.captures.legend.get_title().get_text(), *(t.get_text() for t in win.captures.legend.get_texts())]
    assert legend_texts[0] == "Grupper" and not any("kvar" in t or " · " in t for t in legend_texts)
    qtbot.keyClick(win, Qt.Key_Escape)
    win.close()


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_the_pin_comment_line_sits_in_the_title_band_whole_and_large(qtbot, sample_ws, tmp_path, size):
    """Mock workshop shot 32: the comment line covered the priority legend, its prompt was cut
    ("Esc avbry…") and its text was below 1/40 of the screen height."""
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLineEdit

    win = _window(qtbot, sample_ws, size=size)
    _attach_temp_store(win, tmp_path)
    qtbot.keyClick(win, Qt.Key_P)
    units = win.ws.units
    px, py = win.ax.transData.transform(units.centres[len(units.ids) // 2])
    ratio = win.canvas.device_pixel_ratio or 1.0
    QTest.mouseClick(win.canvas, Qt.LeftButton, Qt.NoModifier,
                     QPoint(int(round(px / ratio)), int(round(win.canvas.height() - py / ratio))))
    edit = win.canvas.findChild(QLineEdit, "capture_comment")
    assert edit is not None and edit.isVisible()
    geo = edit.geometry()
    map_top = win.canvas.height() * (1 - win.ax.get_position().y1)  # the title band's lower edge
    assert geo.bottom() <= map_top + 1 and geo.top() >= 0
    side_left = win.canvas.width() * (1 - 0.29)  # the side column: priority legend and weights
    assert geo.right() <= side_left
    assert edit.font().pixelSize() >= size[1] / 40
    prompt = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
    assert prompt <= edit.contentsRect().width() - 8, "the prompt is cut"
    qtbot.keyClick(edit, Qt.Key_Escape)
    win.close()


def test_a_long_layer_title_in_the_strip_is_whole_when_there_is_room(qtbot, sample_ws, sample_toml):
    """Mock workshop: "Vårdcentraler, läkare och sj…" with room to spare under the rows. The
    titles come from the TOML; a title may take two lines, at no less than 1/40 of the height."""
    win = _window(qtbot, sample_ws, size=(1920, 1080))
    titles = {layer["id"]: layer["title"] for layer in sample_toml["layers"]}
    for lid, art in win.strip_labels.items():
        assert " ".join(art.get_text().split()) == titles[lid]
        assert art.get_fontsize() * win.figure.dpi / 72 >= 1080 / 40 * 0.99
    win.close()
