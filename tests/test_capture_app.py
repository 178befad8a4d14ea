"""Pins, sketched areas and dot votes placed with the mouse on the real main window (issue 11,
item 5): real mouse and key events through QTest at the screen position of a known map point.

Oracles: the workshop GeoPackage read back with GDAL (geopandas/pyogrio), a fresh process that
wrote captures and died without closing, Counter tallies of the votes table, shapely geometry
equality within one pixel's size in map units, and the axes' own limits for pan/no-pan.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from conftest import open_sample_window
from skikt.layers.captures import DEFAULT_DOTS, SUFFIX


@pytest.fixture(scope="module")
def sample_toml():
    import tomllib
    from pathlib import Path

    return tomllib.loads((Path(__file__).resolve().parents[1] / "sample_data" / "sample_project.toml").read_text("utf-8"))


def _store_file(project_path):
    return project_path.with_name(project_path.stem + SUFFIX)


def _screen(canvas, x: float, y: float) -> QPoint:
    """The widget pixel (Qt, top-left origin) showing map point (x, y)."""
    px, py = _axes(canvas).transData.transform((x, y))
    ratio = canvas.device_pixel_ratio or 1.0
    return QPoint(int(round(px / ratio)), int(round(canvas.height() - py / ratio)))


def _map_point(canvas, fx: float, fy: float) -> tuple[float, float]:
    """A map point at fractions (fx, fy) of the current view."""
    x0, x1 = canvas.ax.get_xlim()
    y0, y1 = canvas.ax.get_ylim()
    return x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy


def _axes(canvas):
    """The map's axes: the desk canvas names it, presentation mode's is its figure's first."""
    return getattr(canvas, "ax", None) or canvas.figure.axes[0]


def _pixel(canvas) -> float:
    """One screen pixel in map units."""
    ax = _axes(canvas)
    x0, x1 = ax.get_xlim()
    return (x1 - x0) / ax.get_window_extent().width * (canvas.device_pixel_ratio or 1.0)


def _click(canvas, x, y):
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, _screen(canvas, x, y))


def _type(widget, text: str) -> None:
    """Real key events carrying the text (QTest.keyClicks only takes ASCII, and comments are Swedish)."""
    for ch in text:
        for kind in (QEvent.KeyPress, QEvent.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key_unknown, Qt.NoModifier, ch))


def _comment_edit(window):
    return window.canvas.findChild(QLineEdit, "capture_comment")


def _mode(qtbot, window, digit):
    qtbot.keyClick(window, digit, Qt.ControlModifier)


def _pick_group(window, gid):
    box = window.capture_controller.group_box
    box.setCurrentIndex(box.findData(gid))


def _unit_point(window, index):
    units = window.model.ws.units
    return tuple(units.centres[index])


def _central_units(window, n):
    """n distinct units near the middle of the view, well inside their cells."""
    units = window.model.ws.units
    cx, cy = _map_point(window.canvas, 0.5, 0.5)
    order = np.argsort(np.hypot(units.centres[:, 0] - cx, units.centres[:, 1] - cy))
    return [int(i) for i in order[:n * 7:7]]


def _assert_tally_drawn(overlay, expected: Counter, units) -> None:
    """The discs against the votes table: each disc's number is the sum of its units' dots
    (Counter), every voted unit is in exactly one disc, a disc sits at the dots-weighted mean of
    its units' centres, and no two discs overlap on screen (the diameter in points → pixels)."""
    members = [m for m, _ in overlay.tally_members]
    assert sorted(u for m in members for u in m) == sorted(expected)
    ids = list(units.ids)
    centres = []
    for units_of_disc, text in overlay.tally_members:
        assert int(text.get_text()) == sum(expected[u] for u in units_of_disc)
        weights = np.array([expected[u] for u in units_of_disc], float)
        xy = np.array([units.centres[ids.index(u)] for u in units_of_disc])
        np.testing.assert_allclose(text.get_position(), weights @ xy / weights.sum(), rtol=0, atol=1e-6)
        centres.append(overlay.ax.transData.transform(text.get_position()))
    assert sum(int(t.get_text()) for _, t in overlay.tally_members) == sum(expected.values())
    diameter = (overlay.size * 2.4 + overlay.size * 0.22) * overlay.ax.figure.dpi / 72
    for i in range(len(centres)):
        for j in range(i + 1, len(centres)):
            assert np.hypot(*(centres[i] - centres[j])) >= diameter, "two tally discs overlap"


# ------------------------------------------------------------------------------------------------


def test_a_pin_lands_where_clicked_with_its_comment_and_group(qtbot, window, sample_copy):
    canvas = window.canvas
    _pick_group(window, "regionen")
    _mode(qtbot, window, Qt.Key_2)
    assert canvas.mode == "pin"
    x, y = _map_point(canvas, 0.42, 0.61)
    _click(canvas, x, y)
    edit = _comment_edit(window)
    assert edit is not None and edit.isVisible()
    _type(edit, "Här behövs en vårdcentral")
    qtbot.keyClick(edit, Qt.Key_Return)
    # Esc on a second pin stores nothing.
    _click(canvas, *_map_point(canvas, 0.3, 0.3))
    _type(_comment_edit(window), "glöm mig")
    qtbot.keyClick(_comment_edit(window), Qt.Key_Escape)

    pins = gpd.read_file(_store_file(sample_copy), layer="pins")
    assert len(pins) == 1
    assert pins["comment"].iloc[0] == "Här behövs en vårdcentral"
    assert pins["group_id"].iloc[0] == "regionen"
    assert pins.crs.to_epsg() == 3006
    point = pins.geometry.iloc[0]
    assert abs(point.x - x) <= _pixel(canvas) and abs(point.y - y) <= _pixel(canvas)
    # and it is drawn: the overlay holds it at the same place
    drawn = window.capture_controller.overlay.data.pins
    assert shapely.equals_exact(drawn.geometry.iloc[0], point, tolerance=1e-6)


def test_an_area_drawn_by_clicks_has_the_clicked_vertices(qtbot, window, sample_copy):
    canvas = window.canvas
    _pick_group(window, "lansstyrelsen")
    _mode(qtbot, window, Qt.Key_3)
    clicked = [_map_point(canvas, fx, fy) for fx, fy in ((0.30, 0.30), (0.55, 0.32), (0.60, 0.58), (0.35, 0.62))]
    for x, y in clicked:
        _click(canvas, x, y)
    assert len(canvas.sketch) == 4 and canvas._sketch_art is not None  # the rubber band
    qtbot.keyClick(canvas, Qt.Key_Return)  # Enter closes the polygon
    edit = _comment_edit(window)
    _type(edit, "Vattenskydd viktigt här")
    qtbot.keyClick(edit, Qt.Key_Return)
    # A second area closed by a double-click on its last vertex.
    second = [_map_point(canvas, fx, fy) for fx, fy in ((0.7, 0.2), (0.85, 0.2), (0.78, 0.35))]
    for x, y in second[:-1]:
        _click(canvas, x, y)
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, _screen(canvas, *second[-1]))
    QTest.mouseDClick(canvas, Qt.LeftButton, Qt.NoModifier, _screen(canvas, *second[-1]))
    qtbot.keyClick(_comment_edit(window), Qt.Key_Return)  # an empty comment is allowed

    areas = gpd.read_file(_store_file(sample_copy), layer="areas")
    assert list(areas["comment"]) == ["Vattenskydd viktigt här", ""]
    assert list(areas["group_id"]) == ["lansstyrelsen", "lansstyrelsen"]
    tol = _pixel(canvas)
    for polygon, vertices in zip(areas.geometry, (clicked, second)):
        assert shapely.equals_exact(shapely.normalize(polygon), shapely.normalize(shapely.Polygon(vertices)),
                                    tolerance=tol)
    # Esc drops a sketch: nothing written
    _click(canvas, *_map_point(canvas, 0.2, 0.2))
    _click(canvas, *_map_point(canvas, 0.25, 0.2))
    qtbot.keyClick(canvas, Qt.Key_Escape)
    assert canvas.sketch == [] and len(gpd.read_file(_store_file(sample_copy), layer="areas")) == 2


def test_dots_tally_matches_an_independent_count_and_a_spent_budget_is_refused(qtbot, window, sample_copy):
    canvas = window.canvas
    controller = window.capture_controller
    a, b, c = _central_units(window, 3)
    units = window.model.ws.units
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "kommunerna")
    for unit in (a, a, a, b, b):
        _click(canvas, *_unit_point(window, unit))
    _pick_group(window, "regionen")
    for unit in (b, c):
        _click(canvas, *_unit_point(window, unit))
    assert controller.dots_label.text().strip() == f"{DEFAULT_DOTS - 2} prickar kvar"
    path = _store_file(sample_copy)
    with sqlite3.connect(path) as con:
        before = con.execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    _pick_group(window, "kommunerna")
    window.statusBar().clearMessage()
    _click(canvas, *_unit_point(window, c))  # the sixth dot of "kommunerna": refused
    line = window.statusBar().currentMessage()
    assert "\n" not in line and "Kommunerna" in line  # the group as the room knows it
    assert str(DEFAULT_DOTS) in line
    # a refusal, not an error: upper case, Swedish quotes, no "Fel:" and no file name in front
    assert line.startswith("Gruppen ”Kommunerna”"), line
    assert "Fel" not in line and ".gpkg" not in line
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == before

    votes = pyogrio.read_dataframe(path, layer="votes")
    expected = Counter()
    for unit_id, dots in zip(votes["unit_id"], votes["dots"]):
        expected[unit_id] += int(dots)
    assert expected == Counter({units.ids[a]: 3, units.ids[b]: 3, units.ids[c]: 1})
    _assert_tally_drawn(controller.overlay, expected, units)
    # zoomed in far enough, every unit has its own disc at its centre again
    xs, ys = zip(*(units.centres[list(units.ids).index(u)] for u in expected))
    canvas.set_view((min(xs) - 3000, max(xs) + 3000, min(ys) - 3000, max(ys) + 3000))
    _assert_tally_drawn(controller.overlay, expected, units)
    assert len(controller.overlay.tally_members) == len(expected)


def test_a_dot_needs_a_group_and_a_unit(qtbot, window, sample_copy):
    canvas = window.canvas
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, None)
    _click(canvas, *_unit_point(window, _central_units(window, 1)[0]))
    assert "Välj en grupp" in window.statusBar().currentMessage()
    _pick_group(window, "regionen")
    x0, x1 = canvas.ax.get_xlim()
    y0, y1 = canvas.ax.get_ylim()
    _click(canvas, x0 + (x1 - x0) * 0.02, y1 - (y1 - y0) * 0.3)  # west of the county: no unit
    assert "studieområdet" in window.statusBar().currentMessage()
    path = _store_file(sample_copy)
    assert not path.exists() or len(pyogrio.read_dataframe(path, layer="votes")) == 0


def _drag(canvas, start: QPoint, end: QPoint):
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, start)
    for t in (0.25, 0.5, 0.75, 1.0):
        QTest.mouseMove(canvas, QPoint(int(start.x() + (end.x() - start.x()) * t),
                                       int(start.y() + (end.y() - start.y()) * t)))
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, end)


def test_in_dot_mode_a_drag_does_not_pan_and_a_click_does_not_identify(qtbot, window):
    canvas = window.canvas
    info = window.info_panel
    centre = _screen(canvas, *_map_point(canvas, 0.5, 0.5))
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "regionen")
    limits = (canvas.ax.get_xlim(), canvas.ax.get_ylim())
    _drag(canvas, centre, centre + QPoint(120, 60))
    assert (canvas.ax.get_xlim(), canvas.ax.get_ylim()) == limits
    _click(canvas, *_unit_point(window, _central_units(window, 1)[0]))
    assert info._last is None  # no identify
    # back in Navigera: the drag pans, the click identifies
    _mode(qtbot, window, Qt.Key_1)
    assert canvas.mode == "navigate"
    _drag(canvas, centre, centre + QPoint(120, 60))
    x0 = canvas.ax.get_xlim()[0]
    assert x0 == pytest.approx(limits[0][0] - 120 * _pixel(canvas), rel=0, abs=3 * _pixel(canvas))
    _click(canvas, *_map_point(canvas, 0.5, 0.5))
    assert info._last is not None


def test_ctrl_z_on_the_map_undoes_the_last_capture_not_a_project_step(qtbot, window, sample_copy):
    canvas = window.canvas
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "regionen")
    a, b = _central_units(window, 2)
    _click(canvas, *_unit_point(window, a))
    _click(canvas, *_unit_point(window, b))
    steps = window.model.undo.index()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Z, Qt.ControlModifier)
    votes = pyogrio.read_dataframe(_store_file(sample_copy), layer="votes")
    assert list(votes["unit_id"]) == [window.model.ws.units.ids[a]]
    assert window.model.undo.index() == steps
    log = pyogrio.read_dataframe(_store_file(sample_copy), layer="decision_log")
    assert list(log["kind"]) == ["vote", "vote", "undo"]


def test_export_captures_to_geopackage_and_csv(qtbot, window, sample_copy, tmp_path):
    canvas = window.canvas
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "regionen")
    _click(canvas, *_unit_point(window, _central_units(window, 1)[0]))
    out = tmp_path / "ut" / "fangster.gpkg"
    out.parent.mkdir()
    written = window.capture_controller.export(out)
    assert written == [out]
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"pins", "areas", "votes", "tally", "decision_log"} <= layers
    assert "fangster.gpkg" in window.statusBar().currentMessage()
    csv = window.capture_controller.export(tmp_path / "ut" / "f.csv")
    assert {p.name for p in csv} >= {"f_votes.csv", "f_tally.csv", "f_pins.csv"}
    # A project input is never overwritten by an export: one line, nothing written.
    before = (sample_copy.parent / "kultur_besoksnaring.gpkg").read_bytes()
    assert window.capture_controller.export(sample_copy.parent / "kultur_besoksnaring.gpkg") == []
    assert (sample_copy.parent / "kultur_besoksnaring.gpkg").read_bytes() == before


WRITER = """
import os, sys, shapely
from skikt.layers.captures import WorkshopStore
from skikt.layers.project import read_project
project = read_project(sys.argv[1])
s = WorkshopStore.for_project(project)
s.add_pin((float(sys.argv[2]), float(sys.argv[3])), "nål före kraschen", "kommunerna")
s.add_area(shapely.box(670000, 6575000, 676000, 6581000), "område före kraschen", "regionen")
for unit in sys.argv[4:]:
    s.add_vote(unit, "regionen", 1)
s.add_vote(sys.argv[4], "kommunerna", 2)
os._exit(0)  # the laptop dies: no close, no clean exit
"""


def test_captures_survive_a_killed_process_and_are_back_on_the_map(qtbot, sample_copy, sample_ws):
    units = sample_ws.units
    centre = units.centres.mean(axis=0)
    picked = [str(units.ids[i]) for i in np.argsort(np.hypot(*(units.centres - centre).T))[:3]]
    done = subprocess.run([sys.executable, "-c", WRITER, str(sample_copy), str(centre[0]), str(centre[1]), *picked],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    window = open_sample_window(qtbot, sample_copy)
    data = window.capture_controller.overlay.data
    assert data is not None
    assert list(data.pins["comment"]) == ["nål före kraschen"]
    assert shapely.equals_exact(data.pins.geometry.iloc[0], shapely.Point(centre), tolerance=1e-6)
    assert shapely.equals(data.areas.geometry.iloc[0], shapely.box(670000, 6575000, 676000, 6581000))
    expected = Counter(picked) + Counter({picked[0]: 2})
    _assert_tally_drawn(window.capture_controller.overlay, expected, window.model.ws.units)
    # the drawn artists are on the desk map's axes
    assert all(art.axes is window.canvas.ax for art in window.capture_controller.overlay.artists)


# ------------------------------------------------------------------------------------------------
# Presentation mode: V/P, a digit for the group, a click on the projected map


def test_dots_and_pins_in_presentation_mode_reach_the_file_and_the_desk_map(qtbot, window, sample_copy, sample_toml):
    from skikt.app.presentation import start_presentation

    pres = start_presentation(window)
    qtbot.addWidget(pres)
    pres.resize(1280, 720)
    qtbot.waitUntil(lambda: pres.figure.bbox.height == 720)
    groups = [g["id"] for g in sample_toml["groups"]]
    units = pres.ws.units
    cx, cy = np.mean(pres.ax.get_xlim()), np.mean(pres.ax.get_ylim())
    near = np.argsort(np.hypot(units.centres[:, 0] - cx, units.centres[:, 1] - cy))
    a, b = int(near[0]), int(near[9])

    qtbot.keyClick(pres, Qt.Key_V)
    assert pres.capture_mode == "dot"
    qtbot.keyClick(pres, Qt.Key_2)  # the second group in the corner list
    assert pres.capture_group == groups[1]
    assert pres.weights and pres.selected is None  # the digit picked a group, not a weight
    for unit in (a, a, b):
        QTest.mouseClick(pres.canvas, Qt.LeftButton, Qt.NoModifier, _screen(pres.canvas, *units.centres[unit]))
    qtbot.keyClick(pres, Qt.Key_1)
    QTest.mouseClick(pres.canvas, Qt.LeftButton, Qt.NoModifier, _screen(pres.canvas, *units.centres[b]))
    shown = " ".join(t.get_text() for t in pres.texts())
    name1 = sample_toml["groups"][0]["name"]
    assert f"{name1} ({DEFAULT_DOTS - 1} kvar)" in shown  # the banner: group and dots left

    votes = pyogrio.read_dataframe(_store_file(sample_copy), layer="votes")
    assert sorted(zip(votes["unit_id"], votes["group_id"])) == sorted(
        [(units.ids[a], groups[1])] * 2 + [(units.ids[b], groups[1]), (units.ids[b], groups[0])])
    expected = Counter(votes["unit_id"])
    _assert_tally_drawn(pres.captures, expected, units)
    _assert_tally_drawn(window.capture_controller.overlay, expected, window.model.ws.units)
    # drawn large: the tally's numbers at least the projector's minimum text size
    assert all(t.get_fontsize() * pres.figure.dpi / 72 >= 720 / 40 * 0.95 for _, t in pres.captures.tally_texts)

    # P: a pin with its comment, Z takes it back, Esc leaves the mode, the next Esc the presentation
    qtbot.keyClick(pres, Qt.Key_P)
    assert pres.capture_mode == "pin"
    QTest.mouseClick(pres.canvas, Qt.LeftButton, Qt.NoModifier, _screen(pres.canvas, cx, cy))
    edit = pres.canvas.findChild(QLineEdit, "capture_comment")
    _type(edit, "Ny pendelstation?")
    qtbot.keyClick(edit, Qt.Key_Return)
    pins = gpd.read_file(_store_file(sample_copy), layer="pins")
    assert list(pins["comment"]) == ["Ny pendelstation?"] and list(pins["group_id"]) == [groups[0]]
    assert abs(pins.geometry.iloc[0].x - cx) <= _pixel(pres.canvas) * 1.5
    qtbot.keyClick(pres, Qt.Key_Z)
    assert len(gpd.read_file(_store_file(sample_copy), layer="pins")) == 0
    qtbot.keyClick(pres, Qt.Key_Escape)
    assert pres.capture_mode is None and pres.isVisible()
    qtbot.keyClick(pres, Qt.Key_Escape)
    assert not pres.isVisible()


def test_a_spent_budget_is_refused_on_the_projector_in_one_line(qtbot, window, sample_copy):
    from skikt.app.presentation import start_presentation

    pres = start_presentation(window)
    qtbot.addWidget(pres)
    pres.resize(1280, 720)
    qtbot.waitUntil(lambda: pres.figure.bbox.height == 720)
    units = pres.ws.units
    qtbot.keyClick(pres, Qt.Key_V)
    qtbot.keyClick(pres, Qt.Key_3)
    unit = units.centres[len(units.ids) // 2]
    for _ in range(DEFAULT_DOTS + 1):
        QTest.mouseClick(pres.canvas, Qt.LeftButton, Qt.NoModifier, _screen(pres.canvas, *unit))
    votes = pyogrio.read_dataframe(_store_file(sample_copy), layer="votes")
    assert int(votes["dots"].sum()) == DEFAULT_DOTS
    assert "\n" not in pres.capture_message and str(DEFAULT_DOTS) in pres.capture_message
    shown = [" ".join(t.get_text().split()) for t in pres.texts()]
    assert pres.capture_message in shown  # on the projector, whole (wrapped at most once)
    pres.close()


def test_the_desk_comment_editor_leaves_the_tally_discs_free(qtbot, window, sample_copy):
    """Mock workshop (1280 shot 27): the pin's comment line covered the dots it was about. The
    discs' boxes here come from the drawn discs' map coordinates and diameter (2.4 × size pt)."""
    from PySide6.QtCore import QRect

    canvas = window.canvas
    controller = window.capture_controller
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "kommunerna")
    for unit in _central_units(window, 4):
        _click(canvas, *_unit_point(window, unit))
    _mode(qtbot, window, Qt.Key_2)
    assert canvas.mode == "pin"
    tally = controller.overlay.data.tally
    x, y = float(tally["x"].iloc[0]), float(tally["y"].iloc[0])
    _click(canvas, x, y)
    edit = _comment_edit(window)
    assert edit is not None and edit.isVisible()
    ratio = canvas.device_pixel_ratio or 1.0
    radius = controller.overlay.size * 2.4 / 2 * canvas.figure.dpi / 72 / ratio
    for _, text in controller.overlay.tally_members:  # the discs drawn (clustered at this scale)
        tx, ty = text.get_position()
        px, py = _axes(canvas).transData.transform((tx, ty))
        cx, cy = px / ratio, canvas.height() - py / ratio
        disc = QRect(int(cx - radius), int(cy - radius), int(2 * radius), int(2 * radius))
        assert not edit.geometry().intersects(disc), "the comment line covers a tally disc"
    qtbot.keyClick(edit, Qt.Key_Escape)


def test_the_status_line_after_a_dot_names_the_place_not_the_cell_id(qtbot, window, sample_copy):
    """Mock workshop: "Prick på 500mE708500N6676500 …". The municipality is found here with
    shapely's contains on the sample's municipality polygons, the cell size from the grid."""
    from skikt.layers.export import base_layers

    canvas = window.canvas
    units = window.model.ws.units
    unit = _central_units(window, 1)[0]
    _mode(qtbot, window, Qt.Key_4)
    _pick_group(window, "regionen")
    _click(canvas, *_unit_point(window, unit))
    line = window.statusBar().currentMessage()
    _, municipalities = base_layers(window.model.ws)
    centre = shapely.Point(units.centres[unit])
    names = [str(n) for n, g in zip(municipalities["name"], municipalities.geometry) if g.contains(centre)]
    assert len(names) == 1
    assert f"{names[0]}, {units.grid.cell:g} m-ruta" in line, line
    assert str(units.ids[unit]) not in line
