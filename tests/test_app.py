"""The desktop app, offscreen with pytest-qt: load, toggle, reorder, weight, identify, undo, drop, errors."""

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialog

from conftest import ROOT

pytest.importorskip("pytestqt")


def layer_titles(win):
    return [win.layers_panel.tree.topLevelItem(g).child(i).text(0)
            for g in range(win.layers_panel.tree.topLevelItemCount())
            for i in range(win.layers_panel.tree.topLevelItem(g).childCount())]


def test_sample_project_loads_with_every_sector(window):
    model = window.model
    assert not model.ws.errors
    groups = [window.layers_panel.tree.topLevelItem(i).text(0) for i in range(window.layers_panel.tree.topLevelItemCount())]
    assert groups[0] == "Referens" and len(groups) == 9  # reference + the eight sectors
    assert "Besöksmål  (illustrativ)" in layer_titles(window)
    assert model.ws.composite is not None and len(window.weights_panel.rows) == 8
    assert window.canvas.scene._priority is not None
    legend = window.legend_panel.titles()
    assert legend[0] == "Prioriteringskarta" and any("illustrativ" in t for t in legend)


def test_toggle_visibility_is_a_look_change_and_undoable(window, qtbot):
    model = window.model
    raw_before = model.ws._raw["vard"][1]
    item = window.layers_panel.item_for("vard")
    item.setCheckState(0, Qt.Unchecked)
    assert model.project.layer("vard").visible is False
    assert not window.canvas.scene._layer_art["vard"][1].get_visible()
    assert model.ws._raw["vard"][1] is raw_before  # no indicator was recomputed
    model.undo.undo()
    assert model.project.layer("vard").visible is True
    assert window.layers_panel.item_for("vard").checkState(0) == Qt.Checked


def test_reorder_within_sector_and_undo(window):
    model = window.model
    ids = lambda: [s.id for s in model.project.layers]  # noqa: E731
    before = ids()
    target = window.layers_panel.item_for("vattenskydd")
    window.layers_panel.tree.setCurrentItem(window.layers_panel.item_for("vattenverk"))
    window.layers_panel._dropped("vattenverk", target)
    after = ids()
    assert after.index("vattenverk") < after.index("vattenskydd")
    art = window.canvas.scene._layer_art
    assert art["vattenverk"][1].get_zorder() > art["vattenskydd"][1].get_zorder()
    model.undo.undo()
    assert ids() == before


def test_weight_slider_changes_the_composite(window, qtbot):
    model = window.model
    row = window.weights_panel.rows["vard"]
    score_before = model.ws.composite.score.copy()
    share_before = row.share.text()
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        row.slider.setValue(150)  # weight 15
    assert model.project.layer("vard").indicator.weight == 15
    assert not np.allclose(model.ws.composite.score, score_before)
    assert row.share.text() != share_before
    # A drag is one undo step, and undo restores the scores.
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        row.slider.setValue(160)
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        model.undo.undo()
    assert model.project.layer("vard").indicator.weight == 3
    np.testing.assert_allclose(model.ws.composite.score, score_before, atol=1e-6)
    assert row.slider.value() == 30
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        model.undo.redo()
    assert model.project.layer("vard").indicator.weight == 16


def test_direction_toggle_renormalises(window, qtbot):
    model = window.model
    before = model.ws.normalised.norm[model.ws.normalised.layer_ids.index("besoksmal")].copy()
    with qtbot.waitSignal(model.computed, timeout=30000):
        window.weights_panel.rows["besoksmal"].direction.setChecked(False)
    after = model.ws.normalised.norm[model.ws.normalised.layer_ids.index("besoksmal")]
    np.testing.assert_allclose(after, 1 - before, atol=1e-6)


def test_identify_explains_the_score(window):
    from skikt.app.panels.info_panel import explain_unit

    ws = window.model.ws
    top = int(np.nanargmax(ws.composite.score))
    x, y = ws.units.centres[top]
    window.canvas.clicked.emit(x, y)
    html = window.info_panel.text.toPlainText()
    assert "Rang 1 av" in html and "Vårdcentraler" in html
    rows = explain_unit(ws, top)
    assert sum(r["contribution"] for r in rows) == pytest.approx(float(ws.composite.score[top]), abs=1e-5)
    assert window.model.selected == top
    assert window.info_panel.chart.isVisible()


def test_drop_an_awkward_csv_and_join_it(window, qtbot, tmp_path):
    model = window.model
    csv = tmp_path / "vårdbehov.csv"
    lines = ["Kommunkod;Kommun;Behov"] + [f"{int(c)};{n};{i},5" for i, (c, n) in
                                         enumerate(zip(model.ws.layers["kompetens"].geo["code"],
                                                       model.ws.layers["kompetens"].geo["name"]))]
    csv.write_bytes("\r\n".join(lines).encode("cp1252"))

    def accept(dialog):
        dialog.area_layer.setCurrentIndex(dialog.area_layer.findData("kommuner"))
        dialog.table_key.setCurrentText("Kommunkod")
        dialog.area_key.setCurrentText("code")
        assert dialog.match.text().startswith("<span") and "100%" in dialog.match.text()
        dialog.method.setCurrentIndex(dialog.method.findData("attribute"))
        dialog.column.setCurrentIndex(dialog.column.findData("Behov"))
        dialog.sector.setCurrentIndex(dialog.sector.findData("healthcare"))
        return QDialog.Accepted

    window.dialog_exec = accept
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(csv))])
    event = QDropEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(model.computed, timeout=30000):
        window.dropEvent(event)
    spec = model.project.layers[0]
    assert spec.title == "vårdbehov" and spec.join == {"layer": "kommuner", "left": "Kommunkod", "right": "code"}
    assert spec.id in model.ws.normalised.layer_ids and spec.id in window.weights_panel.rows
    assert model.ws.layers[spec.id].join_report.matched == 26
    with qtbot.waitSignal(model.computed, timeout=30000):
        model.undo.undo()
    assert spec.id not in [s.id for s in model.project.layers]


def test_bad_file_shows_a_message_and_the_app_lives_on(window, qtbot, tmp_path):
    bad = tmp_path / "trasig.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x01" * 100)
    assert window.add_file(bad) is False
    assert window.last_error.startswith("trasig.gpkg:") and "\n" not in window.last_error
    notgis = tmp_path / "anteckning.txt"
    notgis.write_text("bara text", encoding="utf-8")
    assert window.add_file(notgis) is False
    assert "anteckning.txt" in window.last_error
    with qtbot.waitSignal(window.model.composite_changed, timeout=5000):
        window.weights_panel.rows["kultur"].slider.setValue(50)  # still alive and working


def test_missing_crs_dialog_suggests_sweref(window, tmp_path):
    import geopandas as gpd
    import shapely

    from skikt.app.dialogs import AddLayerDialog

    gdf = gpd.GeoDataFrame({"namn": ["Skärholmen"]}, geometry=[shapely.Point(667000, 6570000)], crs=3006)
    gdf.to_file(tmp_path / "p.shp", encoding="cp1252")
    (tmp_path / "p.prj").unlink()
    dialog = AddLayerDialog(window.model, tmp_path / "p.shp", window)
    assert dialog.crs.isEnabled() and dialog.crs.currentData() == "EPSG:3006"
    assert dialog.spec().crs == "EPSG:3006"


def test_style_change_is_undoable_and_keeps_indicators(window):
    from skikt.app.commands import SetStyle

    model = window.model
    raw_before = model.ws._raw["skyddsrum"][1]
    model.undo.push(SetStyle(model, "skyddsrum", {"mode": "graduated", "column": "platser", "palette": "viridis"}))
    entries = window.canvas.scene._layer_art["skyddsrum"][2]
    assert len(entries) == 5 and model.ws._raw["skyddsrum"][1] is raw_before
    model.undo.undo()
    assert model.project.layer("skyddsrum").style == {}


def test_language_switch_rebuilds_in_english(window, qtbot):
    from skikt.app.i18n import language, set_language

    window.switch_language("en")
    new = window._replaced_by
    qtbot.addWidget(new)
    assert language() == "en"
    assert [a.text() for a in new.menuBar().actions()][:2] == ["&File", "&Edit"]
    assert new.docks["weights"].windowTitle() == "Weights"
    assert new.model is window.model
    set_language("sv", remember=False)


def test_cancel_stops_a_computation(window, qtbot, monkeypatch):
    model = window.model
    model.worker.wait()
    model.project.layer("vard").indicator.method = "count"  # force a recompute of one indicator
    from skikt.layers.workspace import Workspace

    loaded = []
    real_load = Workspace.load_layer

    def load_then_press_cancel(ws, spec):
        # Cancel arrives while the worker is busy, as when the user presses it mid-run; pressing
        # it right after start() could lose the race to a fast job on a fast machine.
        assert ws is not model.ws  # the worker loads into its own copy, never the live model
        loaded.append(spec.id)
        if len(loaded) == 1:
            model.worker.cancel()
        return real_load(ws, spec)

    monkeypatch.setattr(Workspace, "load_layer", load_then_press_cancel)
    finished = []
    model.worker.finished.connect(finished.append)
    with qtbot.waitSignal(model.worker.cancelled, timeout=30000):
        model.recompute()
    assert len(loaded) == 1 and not finished
    assert not model.worker.busy
    # The cancelled layer's indicator was never computed, so the next run does it.
    monkeypatch.undo()
    with qtbot.waitSignal(model.composite_changed, timeout=60000):
        model.recompute()
    assert model.ws.composite is not None


def test_screenshot_cli_writes_a_map(tmp_path):
    out = tmp_path / "shot.png"
    res = subprocess.run([sys.executable, "-m", "app", "--screenshot", str(out), "--size", "1000x700"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[:2] == (700, 1000)
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200
    # The priority colours (ColorBrewer YlOrRd) are on screen, so the composite was drawn.
    from skikt.layers.render import priority_colours
    from matplotlib.colors import to_rgb

    # The image is drawn at 90 % opacity over the map background.
    darkest = 255 * (0.9 * np.array(to_rgb(priority_colours(5)[0])) + 0.1 * np.array(to_rgb("#fbfbf9")))
    assert (np.abs(img[..., :3] * 255 - darkest).sum(axis=2) < 12).sum() > 500


def test_project_with_a_missing_file_still_opens(qtbot, sample_copy):
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    text = sample_copy.read_text(encoding="utf-8").replace('path = "civilforsvar.fgb"', 'path = "borta.fgb"')
    sample_copy.write_text(text, encoding="utf-8")
    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    qtbot.addWidget(win)
    model.set_project_sync(sample_copy)
    assert win.last_error == "borta.fgb: filen finns inte"  # Swedish in the app, English on the CLI
    assert "skyddsrum" in model.ws.errors and model.ws.composite is not None
    assert "skyddsrum" not in model.ws.normalised.layer_ids  # the others still make a priority map
    item = win.layers_panel.item_for("skyddsrum")
    assert item.toolTip(0) == "borta.fgb: filen finns inte"


def test_export_map_and_scores_from_the_app(window, qtbot, tmp_path):
    with qtbot.waitSignal(window.export_worker.finished, timeout=60000):
        window.export_map(tmp_path / "karta.pdf")
    assert (tmp_path / "karta.pdf").read_bytes()[:4] == b"%PDF"
    window.charts_panel.export(tmp_path / "diagram.png")
    assert (tmp_path / "diagram.png").stat().st_size > 10_000


def test_save_keeps_the_users_changes(window, tmp_path):
    from skikt.layers.project import read_project

    from skikt.app.commands import SetOpacity

    window.model.undo.push(SetOpacity(window.model, "vard", 0.4))
    assert not window.model.undo.isClean()
    out = window.model.save(tmp_path / "mitt.toml")
    assert window.model.undo.isClean()
    again = read_project(out)
    assert again.layer("vard").opacity == 0.4
    assert again.resolve(again.layer("vard").path).exists()


def test_async_open_shows_the_study_area_first(qtbot, sample_copy):
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    with qtbot.waitSignal(model.layers_ready, timeout=60000):
        model.open_project(sample_copy)
    qtbot.waitUntil(lambda: win.canvas.first_draw_at is not None, timeout=10000)
    x0, x1 = win.canvas.ax.get_xlim()
    assert 550_000 < x0 < 640_000 and 720_000 < x1 < 820_000  # Stockholms län, not all of Sweden
    qtbot.waitUntil(lambda: model.ws.composite is not None and not model.worker.busy, timeout=60000)
    assert win.canvas.scene._priority is not None and win.progress.isHidden()


def test_add_layer_dialog_reads_large_files_in_a_worker(window, qtbot, monkeypatch, tmp_path):
    import geopandas as gpd
    import shapely

    from skikt.app.dialogs import AddLayerDialog

    monkeypatch.setattr(AddLayerDialog, "ASYNC_BYTES", 0)  # treat every file as large
    gdf = gpd.GeoDataFrame({"namn": ["Nacka", "Lidingö"], "v": [1.0, 2.0]},
                           geometry=shapely.points([(680000, 6575000), (683000, 6585000)]), crs=3006)
    gdf.to_file(tmp_path / "stor.gpkg", layer="punkter")
    dialog = AddLayerDialog(window.model, tmp_path / "stor.gpkg", window)
    assert dialog.raw is None and not dialog.ok.isEnabled()  # still reading, the window is free
    qtbot.waitUntil(lambda: dialog.raw is not None, timeout=20000)
    assert dialog.ok.isEnabled() and dialog.column.findData("v") >= 0
    # A file that lists its layers but fails to read: the worker's error lands in the dialog.
    csv = tmp_path / "stor.csv"
    csv.write_bytes(b"\x00\x01binary")
    broken = AddLayerDialog(window.model, csv, window)
    qtbot.waitUntil(lambda: broken.read_error is not None, timeout=20000)
    assert "stor.csv" in broken.read_error and not broken.ok.isEnabled()


def test_two_reprojecting_jobs_in_a_row_on_the_worker(qtbot, sample_copy, tmp_path):
    """Regression: a second reprojection on a reused Qt pool thread used a freed PROJ context."""
    import geopandas as gpd
    import shapely

    from skikt.app.commands import AddLayer
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel
    from skikt.layers.project import LayerSpec

    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    qtbot.addWidget(win)
    model.open_project(sample_copy)  # reprojects the WGS 84 and RT90 sample layers in the worker
    qtbot.waitUntil(lambda: model.ws.composite is not None and not model.worker.busy, timeout=60000)
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(18.07, 59.33)], crs=4326).to_file(tmp_path / "p.geojson")
    for i in range(3):
        spec = LayerSpec(id=f"punkt_{i}", path=str(tmp_path / "p.geojson"), sector="culture", title=f"Punkt {i}")
        model.undo.push(AddLayer(model, spec))
        qtbot.waitUntil(lambda: not model.worker.busy, timeout=60000)
        x, y = shapely.get_coordinates(model.ws.layers[spec.id].geo.geometry)[0]
        assert abs(x - 674_000) < 2_000 and abs(y - 6_580_000) < 2_000  # Stockholm in SWEREF 99 TM


def test_hidden_charts_catch_up_when_shown(window, qtbot):
    window.docks["info"].raise_()
    qtbot.wait(50)
    with qtbot.waitSignal(window.model.composite_changed, timeout=5000):
        window.weights_panel.rows["kultur"].slider.setValue(70)
    assert window.charts_panel._stale  # not redrawn behind the Info tab
    window.docks["charts"].raise_()
    qtbot.waitUntil(lambda: not window.charts_panel._stale, timeout=5000)
    assert len(window.charts_panel.figure.axes) == 2


def test_project_errors_are_shown_in_swedish(window, tmp_path):
    bad = tmp_path / "nytt.toml"
    bad.write_text('schema_version = 9\n[project]\ntitle = "x"\n', encoding="utf-8")
    window.open_project(bad)
    assert window.last_error == ("nytt.toml: schema_version 9 är nyare än denna Skikt förstår (1); "
                                 "uppdatera Skikt för att öppna den")
    assert window.model.project.title.startswith("Prioritering")  # the open project is untouched


def test_properties_speak_the_interface_language(window):
    from PySide6.QtWidgets import QTextBrowser

    from skikt.app.dialogs import PropertiesDialog

    model = window.model
    dialog = PropertiesDialog(model.project.layer("tatorter"), model.ws.layers["tatorter"], None, window)
    text = dialog.findChild(QTextBrowser).toPlainText()
    assert "filtret 'lan_code = '01'' behöll 159 av 2017 poster" in text
    assert "Statistiska centralbyrån" in text  # the source, from the data file's sidecar
    join = PropertiesDialog(model.project.layer("kompetens"), model.ws.layers["kompetens"], None, window)
    jtext = join.findChild(QTextBrowser).toPlainText()
    assert "26 av 27 tabellrader matchade ett område (96%)" in jtext and "Illustrativ" in jtext
