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


# ------------------------------------------------------------------------------------------------
# item 2: the first window fits the screen


SMALL_SCREEN_SCRIPT = r"""
import json, sys
from PySide6.QtCore import QRect, QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
app.setApplicationName("Skikt"); app.setOrganizationName("Skikt")
from skikt.app.i18n import set_language
from skikt.app.main import start_window
from skikt.app.main_window import MainWindow
from skikt.app.model import AppModel
set_language("sv", remember=False)
avail = app.primaryScreen().availableGeometry()

def inside(w):
    tl, br = w.mapToGlobal(w.rect().topLeft()), w.mapToGlobal(w.rect().bottomRight())
    return avail.contains(tl) and avail.contains(br)

def saved(rect):
    probe = MainWindow(AppModel())
    probe.setGeometry(rect)
    data = probe.saveGeometry()
    probe.deleteLater()
    return data

result = {}
for name, rect in [("too_big", QRect(200, 150, 1500, 950)), ("fits", QRect(60, 40, 900, 560))]:
    QSettings("Skikt", "Skikt").setValue("geometry", saved(rect))
    win = start_window(AppModel(), sys.argv[1])
    win.confirm_close = False
    for _ in range(20):
        app.processEvents()
    result[name] = dict(
        frame=win.frameGeometry().getRect(), minimum=[win.minimumSizeHint().width(), win.minimumSizeHint().height()],
        docks={k: inside(d) for k, d in win.docks.items() if not d.visibleRegion().isEmpty()},
        status=inside(win.statusBar()), geometry=win.geometry().getRect())
    win.close()
result["avail"] = avail.getRect()
print(json.dumps(result))
"""


def test_first_window_fits_a_1280x720_screen_and_a_saved_geometry_only_if_it_fits(sample_copy, tmp_path):
    import json
    import os
    import subprocess
    import sys

    screens = tmp_path / "screen.json"
    screens.write_text(json.dumps({"screens": [{"name": "small", "x": 0, "y": 0, "width": 1280, "height": 720,
                                                "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}", MPLBACKEND="Agg",
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out = subprocess.run([sys.executable, "-c", SMALL_SCREEN_SCRIPT, str(sample_copy)],
                         capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["avail"] == [0, 0, 1280, 720]
    big = r["too_big"]
    x, y, w, h = big["frame"]
    assert x >= 0 and y >= 0 and x + w <= 1280 and y + h <= 720  # not the saved 1500×950
    assert big["minimum"][0] <= 1280 and big["minimum"][1] <= 720
    assert big["status"] and all(big["docks"].values()) and {"layers", "weights", "legend"} <= set(big["docks"])
    assert r["fits"]["geometry"] == [60, 40, 900, 560]  # a saved geometry that fits is restored
    assert r["fits"]["status"] and all(r["fits"]["docks"].values())


# ------------------------------------------------------------------------------------------------
# item 6 (direction), 7, 8, 9, 14


def test_direction_says_what_it_means_and_a_click_reverses_it(window, qtbot):
    row = next(iter(window.weights_panel.rows.values()))
    before = window.model.project.layer(row.layer_id).indicator.direction
    words = {"high": "Högt värde = hög prioritet", "low": "Lågt värde = hög prioritet"}
    assert words[before] in row.direction.text()
    with qtbot.waitSignal(window.model.computed, timeout=20000):
        QTest.mouseClick(row.direction, Qt.LeftButton)
    after = window.model.project.layer(row.layer_id).indicator.direction
    assert after != before and words[after] in row.direction.text()


def test_language_switch_keeps_the_info_selection_and_the_stability_view(window, qtbot):
    from test_app_trust import widget_pos

    canvas = window.canvas
    units = window.model.ws.units
    import shapely

    best = int(np.nanargmax(window.model.ws.composite.score))
    point = shapely.point_on_surface(units.geometry[best])
    x, y = point.x, point.y
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(canvas, x, y))
    selected = window.model.selected
    assert selected is not None
    QTest.mouseClick(window.weights_panel.show_stability, Qt.LeftButton)
    assert window.weights_panel.show_stability.isChecked()
    window.menuBar().findChild(type(window.labels_action), "lang_en").trigger()
    new = window._replaced_by
    qtbot.addWidget(new)
    assert new.weights_panel.show_stability.isChecked()  # "Show stability" stays on
    assert new.canvas.scene.show_stability is not None
    assert window.model.selected == selected
    assert "Score" in new.info_panel.text.toPlainText()  # the clicked place, now in English
    new.confirm_close = False


def test_opacity_slider_never_reads_0_when_no_layer_is_selected(window):
    panel = window.layers_panel
    panel.tree.setCurrentItem(None)
    panel.tree.clearSelection()
    panel._current_changed(None, None)
    assert not panel.opacity.isEnabled() and panel.opacity_value.text() == "–"
    item = panel.item_for("vattenskydd")
    QTest.mouseClick(panel.tree.viewport(), Qt.LeftButton, Qt.NoModifier,
                     panel.tree.visualItemRect(item).center() + QPoint(40, 0))
    expected = round(window.model.project.layer("vattenskydd").opacity * 100)
    assert panel.opacity.isEnabled() and panel.opacity_value.text() == f"{expected} %"
    QTest.keyClick(panel.opacity, Qt.Key_PageDown)
    assert panel.opacity_value.text() == f"{panel.opacity.value()} %"


def test_export_dialog_suggests_names_in_the_interface_language(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (asked.append(a[2]), ("", ""))[1]))
    window.menuBar().findChild(type(window.labels_action), "lang_en").trigger()
    new = window._replaced_by
    qtbot.addWidget(new)
    new.confirm_close = False
    new.activateWindow()
    QTest.keyClick(new.windowHandle(), Qt.Key_E, Qt.ControlModifier)
    from skikt.app.export_dialog import ExportDialog  # Ctrl+E opens the page dialog first

    dialog = new.findChild(ExportDialog)
    assert dialog is not None
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    assert asked == ["map.png"]
    dialog.reject()


def test_missing_x11_library_is_one_line_with_the_install_command(monkeypatch, capsys):
    from skikt.app import main

    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(main, "XCB_CURSOR_LIB", "libskikt-no-such-library.so.0")
    assert main.run(["--lang", "en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["skikt: Qt's X11 support needs the system library libxcb-cursor0; install it with: "
                   "sudo apt-get install libxcb-cursor0"]


# ------------------------------------------------------------------------------------------------
# items 3 and 5: a CSV of municipal codes joins by itself and does not cover the priority map


def stockholm_municipalities(sample_copy):
    """Oracle: the municipalities whose inner point lies in the study area (county 01), by geopandas."""
    import geopandas as gpd

    gpkg = sample_copy.parent / "sweden_reference.gpkg"
    kommuner = gpd.read_file(gpkg, layer="kommuner")
    county = gpd.read_file(gpkg, layer="lan").query("code == '01'")
    inner = kommuner.set_geometry(kommuner.representative_point())
    inside = gpd.sjoin(inner, county[["geometry"]], predicate="within")
    return kommuner.loc[sorted(set(inside.index))]


def test_a_csv_of_municipal_codes_joins_to_the_municipalities_untouched(window, qtbot, tmp_path, sample_copy):
    inside = stockholm_municipalities(sample_copy)
    assert len(inside) > 5
    rows = inside.iloc[1:]  # one municipality of the study area has no row
    csv = tmp_path / "kommunstatistik.csv"
    # Codes as a spreadsheet leaves them: integers, the leading zero gone.
    csv.write_text("kommun;kod;andel\n" + "".join(f"{n};{int(c)};{i * 1.5}\n" for i, (c, n) in
                                                    enumerate(zip(rows.code, rows.name))), encoding="utf-8")
    seen = {}

    def accept_untouched(dialog):
        seen.update(area=dialog.area_layer.currentData(), left=dialog.table_key.currentText(),
                    right=dialog.area_key.currentText(), match=dialog.match.text(),
                    sector=dialog.sector.currentData(), method=dialog.method.currentData(),
                    column=dialog.column.currentText(), methods=[dialog.method.itemData(i) for i in range(dialog.method.count())],
                    note=dialog.hidden_note.text())
        QTest.mouseClick(dialog.ok, Qt.LeftButton)
        return dialog.result()

    window.dialog_exec = accept_untouched
    with qtbot.waitSignal(window.model.computed, timeout=30000):
        assert window.add_file(csv)
    assert (seen["area"], seen["left"], seen["right"]) == ("kommuner", "kod", "code")
    assert ">100%<" in seen["match"].replace(" ", "")
    missing = f"1 av {len(inside)} områden i studieområdet har ingen rad i tabellen"
    assert missing in seen["match"]  # not "… av 290 områden": only the study area counts
    assert seen["sector"] == "socioeconomics" and seen["method"] == "attribute" and seen["column"] == "andel"
    assert seen["methods"] == [None, "attribute"]
    spec = window.model.project.layers[0]
    assert spec.join == {"layer": "kommuner", "left": "kod", "right": "code"}
    # Item 3: the filled areas would recolour the classes, so the layer starts hidden, says why,
    # and still counts in the score.
    assert not spec.visible and "räknas i poängen" in seen["note"]
    assert spec.id in window.model.ws.normalised.layer_ids
    assert spec.id in window.weights_panel.rows
    assert "räknas i poängen" in window.statusBar().currentMessage()


def test_join_report_says_1_row_and_counts_only_the_study_area(sample_copy):
    import geopandas as gpd
    import pandas as pd

    from skikt.layers.joins import join_table

    gpkg = sample_copy.parent / "sweden_reference.gpkg"
    kommuner = gpd.read_file(gpkg, layer="kommuner")
    county = gpd.read_file(gpkg, layer="lan").query("code == '01'")
    inside = stockholm_municipalities(sample_copy)
    table = pd.DataFrame({"kod": [inside.code.iloc[0], "9999"], "v": [1.0, 2.0]})
    _, rep = join_table(table, "kod", kommuner, "code", study_area=county.geometry.to_numpy())
    lines = rep.lines("sv")
    assert lines[0] == "1 av 2 tabellrader matchade ett område (50%)"
    assert lines[1] == "1 rad matchade inget område: koden finns inte i områdeslagret (9999)"
    assert lines[2] == f"{len(inside) - 1} av {len(inside)} områden i studieområdet har ingen rad i tabellen"
    one = pd.DataFrame({"kod": [inside.code.iloc[0]], "v": [1.0]})
    assert join_table(one, "kod", kommuner, "code")[1].lines("en")[0] == "1 of 1 table row matched an area (100%)"


# ------------------------------------------------------------------------------------------------
# item 4: "shown on the map" and "counts in the score" are two switches


def weighted_score_oracle(ws, weights: dict) -> tuple[np.ndarray, np.ndarray]:
    """Σwᵢnᵢ / Σwᵢ (numpy) on the cells where every indicator has a value."""
    ids = ws.normalised.layer_ids
    w = np.array([weights.get(i, 0.0) for i in ids], float)
    norm = ws.normalised.norm.astype(float)
    full = np.isfinite(norm).all(0)
    return full, (w[:, None] * norm[:, full]).sum(0) / w.sum()


def test_hiding_a_layer_keeps_it_in_the_score_and_the_switch_takes_it_out(window, qtbot):
    model, panel = window.model, window.layers_panel
    lid = "vard"
    weights = {s.id: s.indicator.weight for s in model.project.layers if s.indicator is not None}
    score_before = model.ws.composite.score.copy()
    item = panel.item_for(lid)
    QTest.mouseClick(panel.tree.viewport(), Qt.LeftButton, Qt.NoModifier,
                     panel.tree.visualItemRect(item).center() + QPoint(40, 0))
    QTest.keyClick(panel.tree, Qt.Key_Space)  # untick: hidden on the map
    qtbot.waitUntil(lambda: not model.project.layer(lid).visible, timeout=5000)
    window.canvas.redraw()
    QApplication.processEvents()
    np.testing.assert_array_equal(model.ws.composite.score, score_before)  # still counts
    note = window.legend_panel.findChild(type(window.legend_panel.body.layout().itemAt(0).widget()), "also_weighted")
    assert note is not None and model.project.layer(lid).title in note.text()
    # The switch in Weights takes it out of the score (and keeps the weight for later).
    row = window.weights_panel.rows[lid]
    assert row.counted.isChecked()
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        QTest.mouseClick(row.counted, Qt.LeftButton, Qt.NoModifier, QPoint(6, row.counted.height() // 2))
    assert not row.counted.isChecked() and not row.slider.isEnabled()
    spec = model.project.layer(lid)
    # The switch adds its two keys next to vard's value curve, which it leaves alone.
    assert spec.indicator.weight == 0 and spec.indicator.extra == {
        "points": [[0, 0], [5000, 0], [30000, 1]], "active": False, "weight_when_counted": weights[lid]}
    full, expected = weighted_score_oracle(model.ws, {**weights, lid: 0.0})
    np.testing.assert_allclose(model.ws.composite.score[full], expected, atol=1e-5)
    # It round-trips through the project file and one undo brings the weight back.
    saved = window.model.project.path.parent / "counted.toml"
    window.model.save(saved)
    from skikt.layers.project import read_project

    again = read_project(saved).layer(lid).indicator
    assert again.weight == 0 and again.extra.get("active") is False
    assert again.normalize == "piecewise" and again.extra["points"] == [[0, 0], [5000, 0], [30000, 1]]
    window.activateWindow()
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        QTest.keyClick(window.windowHandle(), Qt.Key_Z, Qt.ControlModifier)
    assert model.project.layer(lid).indicator.weight == weights[lid] and row.counted.isChecked()


# ------------------------------------------------------------------------------------------------
# items 6 (cell names, chart labels) and 13 (fonts)


def test_cells_are_named_by_their_municipality_and_labels_are_whole(window, qtbot):
    import geopandas as gpd
    import shapely
    from test_app_trust import widget_pos

    model, canvas = window.model, window.canvas
    ws = model.ws
    best = int(np.nanargmax(ws.composite.score))
    x, y = ws.units.centres[best]
    gpkg = window.model.project.path.parent / "sweden_reference.gpkg"
    kommuner = gpd.read_file(gpkg, layer="kommuner")
    oracle = kommuner.loc[kommuner.contains(shapely.Point(x, y)), "name"].iloc[0]  # geopandas
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(canvas, x, y))
    assert model.selected == best
    assert f"{oracle}, 500 m-ruta" in window.info_panel.text.toPlainText()
    window.docks["charts"].raise_()
    window.docks["charts"].show()
    qtbot.waitUntil(lambda: len(window.charts_panel.figure.axes) == 2, timeout=5000)
    top, profile = window.charts_panel.figure.axes
    top_labels = [t.get_text().replace("\n", " ") for t in top.get_yticklabels()]
    assert all("500 m-ruta" in t and "mE" not in t for t in top_labels)
    shown = [t.get_text().replace("\n", " ") for t in profile.get_xticklabels()]
    titles = [ws.project.layer(lid).title for lid in ws.normalised.layer_ids]
    assert shown == titles  # whole titles ("Vårdcentraler", not "Vårdcentrale")


def test_chart_text_follows_the_window_font_and_the_screen_dpi(window, qtbot):
    from PySide6.QtGui import QFont

    app = QApplication.instance()
    old = app.font()
    try:
        big = QFont(old)
        big.setPointSizeF(15)
        app.setFont(big)
        window.docks["charts"].raise_()
        window.docks["charts"].show()
        window.charts_panel.redraw()
        fig = window.charts_panel.figure
        assert fig.axes and fig._original_dpi == app.primaryScreen().logicalDotsPerInch()
        top = fig.axes[0]
        assert top._left_title.get_text() and top._left_title.get_fontsize() == pytest.approx(15)
        assert all(t.get_fontsize() == pytest.approx(13.5) for t in top.get_yticklabels())
    finally:
        app.setFont(old)


# ------------------------------------------------------------------------------------------------
# item 10: source, licence and year in the Add-layer dialog


def test_add_layer_asks_for_the_source_and_the_page_credits_it(window, qtbot, tmp_path, sample_copy):
    import geopandas as gpd
    import shapely

    from skikt.layers.export import attribution_lines

    pts = gpd.GeoDataFrame({"namn": ["a", "b"]}, geometry=shapely.points([(680000, 6580000), (690000, 6590000)]),
                           crs=3006)
    own = tmp_path / "egna_punkter.gpkg"
    pts.to_file(own)
    typed = {}

    def type_source(dialog):
        assert dialog.source.text() == dialog.licence.text() == dialog.year.text() == ""  # no sidecar
        for field, text in ((dialog.source, "Region Stockholm"), (dialog.licence, "CC BY 4.0"), (dialog.year, "2024")):
            QTest.mouseClick(field, Qt.LeftButton)
            QTest.keyClicks(field, text)
        typed.update(source=dialog.source.text())
        QTest.mouseClick(dialog.ok, Qt.LeftButton)
        return dialog.result()

    window.dialog_exec = type_source
    with qtbot.waitSignal(window.model.computed, timeout=30000):
        assert window.add_file(own)
    spec = window.model.project.layers[0]
    assert (spec.meta.source, spec.meta.licence, spec.meta.year) == ("Region Stockholm", "CC BY 4.0", 2024)
    lines = attribution_lines(window.model.ws, "sv")
    assert any(line.endswith(": Region Stockholm, CC BY 4.0") and spec.title in line for line in lines)

    # A sidecar pre-fills the fields, and an untouched field is not copied into the project.
    csv = sample_copy.parent / "national_sarbarhet_kommun.csv"
    seen = {}

    def look(dialog):
        seen.update(source=dialog.source.text(), licence=dialog.licence.text(), year=dialog.year.text())
        return QDialog.Rejected

    window.dialog_exec = look
    assert not window.add_file(csv)
    assert seen == {"source": "Skikt sample_data/generate_national.py (seed 2613), derived from SCB tätorter 2020",
                    "licence": "CC0 (illustrative)", "year": "2026"}


# ------------------------------------------------------------------------------------------------
# item 11: map furniture on a panel of its own


def test_scale_bar_and_north_arrow_sit_on_a_light_panel_when_zoomed_in(window):
    from matplotlib.patches import FancyBboxPatch

    canvas, ws = window.canvas, window.model.ws
    best = int(np.nanargmax(ws.composite.score))
    x, y = ws.units.centres[best]
    canvas.set_view((x - 2500, x + 2500, y - 1500, y + 1500))  # inside the priority map
    canvas.redraw()
    QApplication.processEvents()
    rgba = np.asarray(canvas.buffer_rgba())
    panels = [a for a in canvas._furniture if isinstance(a, FancyBboxPatch)]
    assert len(panels) == 2
    height = rgba.shape[0]
    for panel in panels:
        box = panel.get_window_extent()
        # Just inside the panel's corner, clear of the bar and the arrow: panel white over the map.
        for px, py in ((box.x0 + 5, box.y0 + 5), (box.x1 - 5, box.y1 - 5)):
            r, g, b = rgba[int(height - py), int(px), :3].astype(int)
            assert min(r, g, b) >= 225, (px, py, (r, g, b))  # 90 % white over any colour: >= 229
    # And the map right next to the panels is the priority map's colour, not white.
    box = panels[0].get_window_extent()
    r, g, b = rgba[int(height - box.y1) - 12, int(box.x1) + 12, :3].astype(int)
    assert min(r, g, b) < 225


def test_water_zones_over_the_priority_map_are_outlines_not_tinted_classes(window, qtbot):
    import shapely
    from matplotlib.colors import to_rgb

    from skikt.layers.render import priority_colours
    from test_app_trust import screen_rgb, widget_pos

    canvas, ws = window.canvas, window.model.ws
    canvas.redraw()
    QApplication.processEvents()
    zones = ws.layers["vattenskydd"].geo.geometry.to_numpy()
    others = [ws.layers[s.id].geo.geometry.to_numpy() for s in window.model.project.layers
              if s.visible and s.id != "vattenskydd" and s.sector != "reference" and s.id in ws.layers]
    clutter = shapely.union_all(np.concatenate(others))
    inner = shapely.union_all(shapely.buffer(zones, -400))
    centres = shapely.points(ws.units.centres)
    # Cells well inside a zone and clear of every other symbol: what shows there is the class.
    pick = np.flatnonzero(shapely.contains(inner, centres) & (shapely.distance(centres, clutter) > 1500))
    assert len(pick) >= 5
    c = ws.composite
    colours = np.array([to_rgb(col) for col in priority_colours(c.k)])
    paper = np.array(to_rgb(canvas.ax.get_facecolor()))
    rgb = screen_rgb(canvas)
    hits = 0
    for i in pick:
        pos = widget_pos(canvas, *ws.units.centres[i])
        want = 255 * (0.9 * colours[c.cls[i] - 1] + 0.1 * paper)
        hits += np.abs(rgb[pos.y(), pos.x()] - want).sum() < 12
    # The class colour itself, not class + light blue (the rest sit on a cell edge, a border or a name).
    assert hits >= 0.6 * len(pick)
    art = canvas.scene._layer_art["vattenskydd"][1]
    assert (art.get_facecolor()[:, 3] == 0).all()
    # With the priority map switched off (a real click), the zones get their fill back.
    QTest.mouseClick(window.weights_panel.show_composite, Qt.LeftButton, Qt.NoModifier,
                     QPoint(6, window.weights_panel.show_composite.height() // 2))
    assert not window.weights_panel.show_composite.isChecked()
    assert (art.get_facecolor()[:, 3] > 0).all()


def test_stability_legend_says_what_changes_class_means(window, qtbot):
    from skikt.layers.composite import sensitivity

    QTest.mouseClick(window.weights_panel.show_stability, Qt.LeftButton, Qt.NoModifier,
                     QPoint(6, window.weights_panel.show_stability.height() // 2))
    window.canvas.redraw()
    QApplication.processEvents()
    ws = window.model.ws
    sens = sensitivity(ws.normalised, ws.composite.weights, ws.composite.k, 0.10)
    tries = 2 * int((np.asarray(ws.composite.weights) > 0).sum())
    assert sens.perturbations == tries  # the count the legend names is the core's own number of tries
    top = int(sens.stability.max())
    # Hand-worked thirds: count v is in shade j when v < j·top/3 + 0.5.
    first = max(v for v in range(1, top + 1) if v < top / 3 + 0.5)
    from PySide6.QtWidgets import QLabel

    note = window.legend_panel.findChild(QLabel, "stability_explained")
    assert note is not None
    assert f"{tries} försök" in note.text() and f"(1/3) 1–{first}" in note.text() and f"{top} försök" in note.text()
