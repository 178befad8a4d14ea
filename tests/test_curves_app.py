"""The value-curve editor in the real window, driven by real mouse events on its canvas.

Oracles: numpy.interp of the raw values through the points the editor ended with (the curve is
flat beyond its ends and within 0–1), min–max by hand after undo, tomlkit's reading of the saved
file."""

from __future__ import annotations

import textwrap

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from skikt.app.curve_editor import PRESET_DISTANCE
from skikt.app.curves_ui import open_curve_editor
from skikt.layers.project import read_project

from conftest import open_sample_window

X0, Y0 = 600000.0, 6600000.0


def curve_project(tmp_path):
    """A 40 km × 4 km strip of 1 km cells, health centres at the west end and in the middle,
    a second indicator so that the score is a real combination."""
    gpkg = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(X0, Y0, X0 + 40000, Y0 + 4000)], crs=3006).to_file(
        gpkg, layer="area")
    gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.Point(X0 + 300, Y0 + 2000), shapely.Point(X0 + 17800, Y0 + 600)],
                     crs=3006).to_file(gpkg, layer="vard")
    rng = np.random.default_rng(11)
    xy = rng.uniform([X0, Y0], [X0 + 40000, Y0 + 4000], (25, 2))
    gpd.GeoDataFrame({"n": range(25)}, geometry=shapely.points(xy), crs=3006).to_file(gpkg, layer="pts")
    text = textwrap.dedent("""\
        # a comment that must survive the save
        schema_version = 1
        [project]
        title = "Kurvor"
        crs = "EPSG:3006"
        [[layers]]
        id = "area"
        path = "d.gpkg"
        layer = "area"
        visible = false
        [[layers]]
        id = "vard"
        path = "d.gpkg"
        layer = "vard"
        sector = "healthcare"
        title = "Vårdcentraler"
        [layers.indicator]
        method = "distance"
        direction = "high"
        normalize = "minmax"   # the editor turns this into a curve
        weight = 3
        [[layers]]
        id = "pts"
        path = "d.gpkg"
        layer = "pts"
        sector = "culture"
        [layers.indicator]
        method = "count"
        [units]
        kind = "grid"
        cell_size = 1000
        study_area = { layer = "area" }
        """)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def settle(qtbot, model):
    qtbot.waitUntil(lambda: not model.worker.busy, timeout=30000)


def qt_pos(editor, x: float, y: float) -> QPoint:
    """The widget position (logical pixels, y down) of the curve's data point (x, y)."""
    px, py = editor.ax_curve.transData.transform((x, y))
    dpr = editor.canvas.device_pixel_ratio
    return QPoint(int(round(px / dpr)), int(round((editor.figure.bbox.height - py) / dpr)))


def drag(editor, start, end, steps: int = 6) -> None:
    canvas = editor.canvas
    a, b = qt_pos(editor, *start), qt_pos(editor, *end)
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, a)
    for k in range(1, steps + 1):
        QTest.mouseMove(canvas, a + (b - a) * (k / steps))
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, b)


def norm_of(model, layer_id):
    df = model.ws.result_table()
    return df[f"{layer_id}_raw"].to_numpy(), df[f"{layer_id}_norm"].to_numpy()


@pytest.fixture
def curve_window(qtbot, tmp_path):
    win = open_sample_window(qtbot, curve_project(tmp_path))
    win.layers_panel.tree.setCurrentItem(win.layers_panel.item_for("vard"))
    return win


def open_from_menu(win, qtbot):
    edit = next(a.menu() for a in win.menuBar().actions() if a.menu() is not None and a.text() == "&Redigera")
    action = next(a for a in edit.actions() if a.objectName() == "value_curve")
    assert action.text() == "Värdekurva…"
    action.trigger()
    editor = win.curve_editor
    assert editor is not None
    qtbot.waitExposed(editor)
    editor.canvas.draw()
    return editor


def test_dragging_a_point_changes_the_curve_the_map_follows_and_undo_restores(curve_window, qtbot, tmp_path):
    win, model = curve_window, curve_window.model
    raw0, norm0 = norm_of(model, "vard")
    editor = open_from_menu(win, qtbot)
    # A distance indicator starts from the example: 0–5 km → 0, 30 km and beyond → 1.
    assert editor.points == PRESET_DISTANCE
    # The histogram holds the units' raw values (no NaN here), in the layer's unit.
    assert sum(p.get_height() for p in editor.ax_hist.patches) == len(raw0) == model.ws.units.n
    assert "(m)" in editor.ax_hist.get_xlabel()

    # Drag the 30 km point to 20 km, 0.8 with the mouse: the map follows (preview) on release.
    drag(editor, (30000, 1.0), (20000, 0.8))
    x_px = abs(editor.ax_curve.transData.inverted().transform((1, 0))[0]
               - editor.ax_curve.transData.inverted().transform((0, 0))[0])
    assert len(editor.points) == 3
    assert abs(editor.points[2][0] - 20000) <= 2 * x_px + editor.step and abs(editor.points[2][1] - 0.8) < 0.02
    settle(qtbot, model)
    assert model.project.layer("vard").indicator.normalize == "piecewise"  # previewed, not yet committed
    assert model.undo.count() == 0

    # A point cannot pass its neighbour: drag the 5 km point far to the right.
    drag(editor, (5000, 0.0), (35000, 0.0))
    assert editor.points[0][0] < editor.points[1][0] < editor.points[2][0]
    drag(editor, tuple(editor.points[1]), (5000, 0.0))

    # Double-click adds a point, right-click removes one; the table takes exact numbers.
    QTest.mouseDClick(editor.canvas, Qt.LeftButton, Qt.NoModifier, qt_pos(editor, 12000, 0.1))
    assert len(editor.points) == 4 and editor.points[2][0] == pytest.approx(12000, abs=2 * x_px + editor.step)
    QTest.mouseClick(editor.canvas, Qt.RightButton, Qt.NoModifier, qt_pos(editor, *editor.points[2]))
    assert len(editor.points) == 3
    editor.table.item(1, 1).setText("0,25")
    assert editor.points[1][1] == 0.25
    editor.table.item(1, 0).setText("6000")
    assert editor.points[1][0] == 6000
    # Two points always stay.
    QTest.mouseClick(editor.canvas, Qt.RightButton, Qt.NoModifier, qt_pos(editor, *editor.points[0]))
    QTest.mouseClick(editor.canvas, Qt.RightButton, Qt.NoModifier, qt_pos(editor, *editor.points[0]))
    assert len(editor.points) == 2
    QTest.mouseDClick(editor.canvas, Qt.LeftButton, Qt.NoModifier, qt_pos(editor, 2000, 0.0))
    points = [list(p) for p in editor.points]
    assert len(points) == 3

    qtbot.mouseClick(editor.buttons.button(QDialogButtonBox.Ok), Qt.LeftButton)
    settle(qtbot, model)
    assert model.undo.count() == 1
    ind = model.project.layer("vard").indicator
    assert ind.normalize == "piecewise" and ind.extra["points"] == points
    raw, norm = norm_of(model, "vard")
    xs, ys = np.array(points).T
    assert np.allclose(norm, np.clip(np.interp(raw, xs, ys), 0, 1), atol=1e-6)
    assert not np.allclose(norm, norm0)

    # Undo restores min–max (by hand), redo the curve; the save keeps the curve and the comment.
    model.undo.undo()
    settle(qtbot, model)
    ind = model.project.layer("vard").indicator
    assert ind.normalize == "minmax" and "points" not in ind.extra
    raw, norm = norm_of(model, "vard")
    assert np.allclose(norm, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
    model.undo.redo()
    settle(qtbot, model)
    out = tmp_path / "saved.toml"
    model.save(out)
    text = out.read_text(encoding="utf-8")
    assert "# a comment that must survive the save" in text and 'normalize = "piecewise"' in text
    back = read_project(out).layer("vard").indicator
    assert back.normalize == "piecewise" and back.extra["points"] == points


def test_cancel_puts_the_layer_back_and_adds_no_step(curve_window, qtbot):
    win, model = curve_window, curve_window.model
    _, norm0 = norm_of(model, "vard")
    editor = open_from_menu(win, qtbot)
    drag(editor, (30000, 1.0), (10000, 0.5))
    settle(qtbot, model)
    assert model.project.layer("vard").indicator.normalize == "piecewise"  # the preview
    qtbot.mouseClick(editor.buttons.button(QDialogButtonBox.Cancel), Qt.LeftButton)
    settle(qtbot, model)
    assert model.project.layer("vard").indicator.normalize == "minmax" and model.undo.count() == 0
    assert np.allclose(norm_of(model, "vard")[1], norm0)


def test_without_preview_the_map_waits_for_ok(curve_window, qtbot):
    win, model = curve_window, curve_window.model
    editor = open_from_menu(win, qtbot)
    editor.preview.setChecked(False)
    drag(editor, (30000, 1.0), (25000, 1.0))
    settle(qtbot, model)
    assert model.project.layer("vard").indicator.normalize == "minmax"


def test_no_indicator_selected_says_so(curve_window, qtbot):
    win = curve_window
    assert open_curve_editor(win, "area") is None
    assert win.statusBar().currentMessage() == "Välj ett indikatorlager i Lager först"
