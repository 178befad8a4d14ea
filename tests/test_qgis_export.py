"""`skikt export`: every layer and every scenario's scores as a GeoPackage, and a QGIS project
(issue 10, item 5).

Oracles: geopandas reading the source files (counts, CRS), pandas merging the joined table by
hand, `skikt score` on the command line and Workspaces whose weights the test sets by hand (one per
scenario), mapclassify's quantiles, cell polygons rebuilt from the SCB-style cell ids, and QGIS
itself (PyQGIS in a subprocess with Debian's /usr/bin/python3) opening the written project.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from skikt.layers import cli
from skikt.layers.errors import SkiktError
from skikt.layers.project import read_project
from skikt.layers.qgis_export import export_gpkg, export_qgs, run_export, scenario_slugs, slug
from skikt.layers.workspace import Workspace

X0, Y0 = 660_000.0, 6_580_000.0
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]

# ------------------------------------------------------------------------------------------------
# A small project with awkward data


def _areas() -> gpd.GeoDataFrame:
    """Four 3 km squares in a row, and a fifth nested inside the second (overlapping areas)."""
    boxes = [shapely.box(X0 + i * 3000, Y0, X0 + (i + 1) * 3000, Y0 + 3000) for i in range(4)]
    boxes.append(shapely.box(X0 + 3500, Y0 + 500, X0 + 4500, Y0 + 1500))
    return gpd.GeoDataFrame({"code": ["0114", "0115", "0117", "0120", "0999"],
                             "namn": ["Åby", "Böda", "Cöln", "Dala", "Enklav"],
                             "andel": [1.0, 2.0, 2.0, np.nan, 7.5]},
                            geometry=boxes, crs=3006)


def _points_wgs84() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    xy = np.column_stack([X0 + rng.uniform(0, 12_000, 14), Y0 + rng.uniform(0, 3000, 14)])
    pts = gpd.GeoSeries(shapely.points(xy), crs=3006).to_crs(4326)
    # Floats that are whole (3.0 is written "3" by QGIS), a missing value, and a value on a boundary.
    kind = [1.0, 2.0, 3.0, 1.0, np.nan, 2.0, 3.0, 3.0, 1.0, 2.5, 2.5, 1.0, 2.0, np.nan]
    size = [0, 0, 1, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    return gpd.GeoDataFrame({"kind": kind, "size": size, "typ": ["a", "b"] * 7, "nr": list(range(14))},
                            geometry=pts, crs=4326)


def _lines() -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(X0, Y0 + 100), (X0 + 12_000, Y0 + 2900)]),
             shapely.LineString([(X0 + 500, Y0 + 2500), (X0 + 6000, Y0 + 200), (X0 + 6000, Y0 + 2800)])]
    return gpd.GeoDataFrame({"namn": ["E4", "väg 77"]}, geometry=lines, crs=3006)


PROJECT = """schema_version = 1
[project]
title = "Export & test <QGIS>"
crs = "EPSG:3006"

[[layers]]
id = "punkter"
path = "punkter.geojson"
sector = "healthcare"
title = "Punkter \\"vård\\""
style = {{ mode = "categorized", column = "kind" }}
[layers.indicator]
method = "distance"
weight = 2

[[layers]]
id = "scores"
path = "ytor.gpkg"
layer = "ytor"
sector = "water"
title = "Ytor graderade"
opacity = 0.6
style = {{ mode = "graduated", column = "andel", scheme = "quantiles", k = 4, palette = "Blues" }}

[[layers]]
id = "vagar"
path = "vagar.gpkg"
layer = "vagar"
sector = "transport"
title = "Vägar"
visible = false
[layers.indicator]
method = "distance"
direction = "low"
weight = 1

[[layers]]
id = "tabell"
path = "tabell.csv"
sector = "skills"
title = "Kompetens"
join = {{ layer = "ytor", left = "Kommunkod", right = "code" }}
[layers.indicator]
method = "attribute"
column = "gap"
weight = 1

[[layers]]
id = "ytor"
path = "ytor.gpkg"
layer = "ytor"
sector = "reference"
title = "Ytor"
where = "code <> '0999'"

[[layers]]
id = "nummer"
path = "punkter.geojson"
sector = "culture"
title = "Nummer"
style = {{ mode = "categorized", column = "nr" }}  # 14 values: 11 and "Övrigt"

[units]
{units}

[[scenarios]]
name = "Vård först"
weights = {{ punkter = 5, vagar = 0 }}

[[scenarios]]
name = "Vard forst"
weights = {{ tabell = 4 }}
description = "the same slug as the first: gets _2"
"""

AREA_UNITS = 'kind = "areas"\nlayer = "ytor"\nid = "code"\nclasses = 4'
GRID_UNITS = 'kind = "grid"\ncell_size = 1000\nstudy_area = { layer = "ytor" }\nclasses = 5'

SCENARIO_WEIGHTS = {"vard_forst": {"punkter": 5.0, "vagar": 0.0}, "vard_forst_2": {"tabell": 4.0}}


def _make_project(folder: Path, units: str) -> Path:
    _areas().to_file(folder / "ytor.gpkg", layer="ytor", driver="GPKG")
    _points_wgs84().to_file(folder / "punkter.geojson", driver="GeoJSON")
    _lines().to_file(folder / "vagar.gpkg", layer="vagar", driver="GPKG")
    # Codes that lost their leading zero, a code in no area, and no row for 0120; a text column
    # called "fid", which GDAL would take for its feature id.
    (folder / "tabell.csv").write_text("Kommunkod;gap;fid\n114;3,5;x\n0115;1;y\n117;2;z\n9999;4;w\n", encoding="utf-8")
    path = folder / "projekt.toml"
    path.write_text(PROJECT.format(units=units), encoding="utf-8")
    return path


@pytest.fixture
def area_project(tmp_path):
    (tmp_path / "src").mkdir()
    return _make_project(tmp_path / "src", AREA_UNITS)


@pytest.fixture
def grid_project(tmp_path):
    (tmp_path / "src").mkdir()
    return _make_project(tmp_path / "src", GRID_UNITS)


def _expected_layers(folder: Path) -> dict[str, gpd.GeoDataFrame]:
    """Each layer as geopandas reads its source, filtered and reprojected by the test itself."""
    areas = gpd.read_file(folder / "ytor.gpkg", layer="ytor")
    table = pd.read_csv(folder / "tabell.csv", sep=";", dtype=str)
    table["code"] = table["Kommunkod"].str.zfill(4)
    joined = areas.merge(table, on="code", how="inner")
    return {
        "punkter": gpd.read_file(folder / "punkter.geojson").to_crs(3006),
        "scores": areas,
        "vagar": gpd.read_file(folder / "vagar.gpkg", layer="vagar"),
        "tabell": joined,
        "ytor": areas[areas["code"] != "0999"],
        "nummer": gpd.read_file(folder / "punkter.geojson").to_crs(3006),
    }


# ------------------------------------------------------------------------------------------------
# Names


def test_slugs_drop_accents_and_number_collisions():
    assert slug("Vård först") == "vard_forst"
    assert slug("  Öst/Väst 2030!  ") == "ost_vast_2030"
    assert slug("???") == "scenario"
    assert scenario_slugs(["Vård först", "Vard forst", "vard-forst"]) == {
        "Vård först": "vard_forst", "Vard forst": "vard_forst_2", "vard-forst": "vard_forst_3"}


def test_table_names_keep_ids_except_scores_and_reserved_prefixes():
    from skikt.layers.qgis_export import table_names

    assert table_names(["vard", "scores", "gpkg_x", "rtree_y", "sqlite_z", "layer_scores"]) == {
        "vard": "vard", "scores": "layer_scores_", "gpkg_x": "layer_gpkg_x", "rtree_y": "layer_rtree_y",
        "sqlite_z": "layer_sqlite_z", "layer_scores": "layer_scores"}


# ------------------------------------------------------------------------------------------------
# The GeoPackage


def _table_of(layer_id: str) -> str:
    return "layer_scores" if layer_id == "scores" else layer_id  # the README's naming rule


def test_gpkg_has_every_layer_reprojected_with_the_source_counts(area_project, tmp_path):
    out = export_gpkg(area_project, tmp_path / "ut" / "export.gpkg")
    listed = {name: geom for name, geom in pyogrio.list_layers(out)}
    expected = _expected_layers(area_project.parent)
    assert set(listed) == {_table_of(lid) for lid in expected} | {"scores"}
    for lid, frame in expected.items():
        got = gpd.read_file(out, layer=_table_of(lid))
        assert got.crs.to_epsg() == 3006, lid
        assert len(got) == len(frame), lid
        # Reprojected as loaded: the same places as the test's own reprojection (to a millimetre).
        a = np.sort(shapely.get_coordinates(got.geometry.to_numpy()), axis=0)
        b = np.sort(shapely.get_coordinates(frame.geometry.to_numpy()), axis=0)
        np.testing.assert_allclose(a, b, atol=1e-3)
    # The joined table carries the table's values on the matched areas.
    tab = gpd.read_file(out, layer="tabell").sort_values("code")
    assert tab["code"].tolist() == ["0114", "0115", "0117"]
    np.testing.assert_allclose(tab["gap"].to_numpy(float), [3.5, 1.0, 2.0])
    # The text column called "fid" is kept under another name, with its values.
    assert tab["fid_2"].tolist() == ["x", "y", "z"]


def _skikt_score(project: Path, out: Path) -> pd.DataFrame:
    assert cli.main(["score", str(project), "--out", str(out)]) == 0
    return pd.read_csv(out, dtype={"unit_id": str}).set_index("unit_id")


def _scored_with(project: Path, weights: dict[str, float]) -> pd.DataFrame:
    """A Workspace whose weights the test sets itself: the scenario's, the project's for the rest."""
    p = read_project(project)
    for spec in p.indicator_layers():
        if spec.id in weights:
            spec.indicator.weight = weights[spec.id]
    ws = Workspace(p)
    ws.update()
    return ws.result_table().set_index("unit_id")


def _check_scores(project: Path, scores: pd.DataFrame, tmp_path: Path) -> None:
    current = _skikt_score(project, tmp_path / "score.csv")
    assert scores.index.tolist() == current.index.tolist()
    for column in current.columns:  # every column of `skikt score` for the current weights
        if column in ("x", "y"):
            continue
        if not pd.api.types.is_numeric_dtype(current[column]):
            assert scores[column].astype(str).tolist() == current[column].astype(str).tolist(), column
            continue
        np.testing.assert_allclose(scores[column].to_numpy(float), current[column].to_numpy(float),
                                   atol=1e-6, err_msg=column)
    for s, weights in SCENARIO_WEIGHTS.items():
        expected = _scored_with(project, weights)
        np.testing.assert_allclose(scores[f"score_{s}"], expected["score"], atol=1e-6, err_msg=s)
        assert scores[f"rank_{s}"].tolist() == expected["rank"].tolist(), s
        assert scores[f"class_{s}"].tolist() == expected["priority_class"].tolist(), s
    # The two scenarios really differ from each other and from the current weights.
    assert not np.allclose(scores["score_vard_forst"], scores["score_vard_forst_2"])
    assert not np.allclose(scores["score_vard_forst"], scores["score"])


def test_scores_table_matches_skikt_score_and_each_scenario_on_areas(area_project, tmp_path):
    out = export_gpkg(area_project, tmp_path / "export.gpkg")
    scores = gpd.read_file(out, layer="scores").set_index("unit_id")
    _check_scores(area_project, scores, tmp_path)
    # Area units are their polygons (the nested area is outside the filtered unit layer).
    areas = gpd.read_file(area_project.parent / "ytor.gpkg", layer="ytor").set_index("code")
    assert sorted(scores.index) == ["0114", "0115", "0117", "0120"]
    for uid, geom in scores.geometry.items():
        assert geom.equals(areas.geometry[uid]), uid


def test_scores_table_on_a_grid_has_the_cells_as_polygons(grid_project, tmp_path):
    out = export_gpkg(grid_project, tmp_path / "export.gpkg")
    scores = gpd.read_file(out, layer="scores").set_index("unit_id")
    _check_scores(grid_project, scores, tmp_path)
    for uid, geom in scores.geometry.items():  # "1000mE660000N6580000": size and lower-left corner
        size, x, y = map(float, re.fullmatch(r"(\d+)mE(\d+)N(\d+)", uid).groups())
        assert geom.normalize().equals(shapely.box(x, y, x + size, y + size).normalize()), uid
    assert len(scores) == 12 * 3  # the 12 km × 3 km row of areas in 1 km cells


# ------------------------------------------------------------------------------------------------
# The QGIS project, as XML


def _layer_tree(qgs: Path):
    root = ET.parse(qgs).getroot()
    tree = [(e.get("name"), e.get("checked"), e.get("source")) for e in root.find("layer-tree-group")]
    maplayers = {m.findtext("layername"): m for m in root.find("projectlayers")}
    return root, tree, maplayers


EXPECTED_ORDER = ['Punkter "vård"', "Ytor graderade", "Vägar", "Kompetens", "Ytor", "Nummer", "Prioriteringskarta",
                  "Prioritering: Vård först", "Prioritering: Vard forst"]


def test_qgs_is_xml_with_relative_sources_in_skikt_order(area_project, tmp_path):
    out = export_qgs(area_project, tmp_path / "ut" / "karta.qgs")
    assert (tmp_path / "ut" / "karta.gpkg").is_file()
    root, tree, maplayers = _layer_tree(out)
    assert root.tag == "qgis"
    assert [name for name, _, _ in tree] == EXPECTED_ORDER
    assert [checked for _, checked, _ in tree] == ["Qt::Checked"] * 2 + ["Qt::Unchecked"] + ["Qt::Checked"] * 4 + \
        ["Qt::Unchecked"] * 2
    for name, _, source in tree:
        path, _, table = source.partition("|layername=")
        assert path == "./karta.gpkg" and not os.path.isabs(path), source
        assert maplayers[name].findtext("datasource") == source
    assert root.find("properties/Paths/Absolute").text == "false"
    assert root.findtext("projectCrs/spatialrefsys/authid") == "EPSG:3006"
    types = {name: m.find("renderer-v2").get("type") for name, m in maplayers.items()}
    assert types == {'Punkter "vård"': "categorizedSymbol", "Ytor graderade": "graduatedSymbol",
                     "Vägar": "singleSymbol", "Kompetens": "singleSymbol", "Ytor": "singleSymbol",
                     "Nummer": "categorizedSymbol",
                     "Prioriteringskarta": "categorizedSymbol", "Prioritering: Vård först": "categorizedSymbol",
                     "Prioritering: Vard forst": "categorizedSymbol"}
    assert maplayers["Ytor graderade"].findtext("layerOpacity") == "0.6"
    # Graduated: upper bounds are mapclassify's quantile breaks of the column (NaN left out).
    v = _areas()["andel"].to_numpy(float)
    ranges = maplayers["Ytor graderade"].findall("renderer-v2/ranges/range")
    bins = np.unique(mapclassify.Quantiles(v[np.isfinite(v)], k=4).bins)
    np.testing.assert_allclose([float(r.get("upper")) for r in ranges], bins)
    assert float(ranges[0].get("lower")) == np.nanmin(v)
    # Categorized: the categories sorted as text, Okabe–Ito colours in that order, whole floats
    # as QGIS writes them ("3", not "3.0"), missing values as QGIS's empty catch-all category.
    cats = maplayers['Punkter "vård"'].findall("renderer-v2/categories/category")
    assert [(c.get("value"), c.get("label")) for c in cats] == [
        ("1", "1.0"), ("2", "2.0"), ("2.5", "2.5"), ("3", "3.0"), ("", "–")]
    colours = [p.get("v") for p in maplayers['Punkter "vård"'].iter("prop") if p.get("k") == "color"]
    assert colours == [",".join(str(int(OKABE_ITO[i][j:j + 2], 16)) for j in (1, 3, 5)) + ",255" for i in range(5)]
    # More than twelve values: the eleven most common and "Övrigt", QGIS's catch-all category.
    many = maplayers["Nummer"].findall("renderer-v2/categories/category")
    assert len(many) == 12 and (many[-1].get("value"), many[-1].get("label")) == ("", "Övrigt")
    assert all(c.get("value") for c in many[:-1])
    # Priority classes: 1 … k with the Swedish legend texts.
    prio = maplayers["Prioriteringskarta"].find("renderer-v2")
    assert prio.get("attr") == "priority_class"
    assert [(c.get("value"), c.get("label")) for c in prio.iter("category")] == [
        ("1", "Högst prioritet"), ("2", "Klass 2"), ("3", "Klass 3"), ("4", "Lägst prioritet")]
    assert maplayers["Prioritering: Vard forst"].find("renderer-v2").get("attr") == "class_vard_forst_2"


def test_run_export_chooses_by_suffix_and_refuses_others_in_one_line(area_project, tmp_path):
    for bad in ("ut.shp", "ut.qgz", "ut"):
        with pytest.raises(SkiktError) as err:
            run_export(area_project, tmp_path / bad)
        assert "\n" not in str(err.value) and ".gpkg" in str(err.value)
        assert not (tmp_path / bad).exists()
    # Never over a source: the .qgs's GeoPackage beside it would be the project's own data.
    before = (area_project.parent / "ytor.gpkg").read_bytes()
    with pytest.raises(SkiktError):
        run_export(area_project, area_project.parent / "ytor.qgs")
    assert (area_project.parent / "ytor.gpkg").read_bytes() == before
    assert run_export(area_project, tmp_path / "a.GPKG").is_file()
    assert run_export(area_project, tmp_path / "b.qgs").is_file() and (tmp_path / "b.gpkg").is_file()


# ------------------------------------------------------------------------------------------------
# The QGIS project, opened by QGIS

QGIS_PYTHON = "/usr/bin/python3"

QGIS_CHECK = r'''
import json, sys
from qgis.core import QgsApplication, QgsProject, QgsRenderContext
app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
ok = project.read(sys.argv[1])
layers = []
for layer in project.layerTreeRoot().layerOrder():
    renderer = layer.renderer()
    colours = []
    if layer.isValid():
        ctx = QgsRenderContext()
        renderer.startRender(ctx, layer.fields())
        for f in layer.getFeatures():
            ctx.expressionContext().setFeature(f)
            sym = renderer.symbolForFeature(f, ctx)
            colours.append(sym.color().name() if sym is not None else None)
        renderer.stopRender(ctx)
    node = project.layerTreeRoot().findLayer(layer.id())
    layers.append({"name": layer.name(), "valid": layer.isValid(), "renderer": renderer.type() if renderer else None,
                   "features": layer.featureCount(), "crs": layer.crs().authid(), "visible": node.isVisible(),
                   "opacity": layer.opacity(), "source": layer.source(), "colours": colours})
print(json.dumps({"read": ok, "crs": project.crs().authid(), "layers": layers}))
app.exitQgis()
'''


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                           env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return probe.returncode == 0


def _open_in_qgis(qgs: Path) -> dict:
    if not _qgis_available():
        pytest.skip("PyQGIS is not installed (apt-get install python3-qgis qgis-providers)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["HOME"] = str(qgs.parent)  # QGIS writes its profile under HOME; keep it out of the user's
    run = subprocess.run([QGIS_PYTHON, "-c", QGIS_CHECK, str(qgs)], capture_output=True, text=True, env=env,
                         cwd="/")
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _skikt_colours(frame: gpd.GeoDataFrame, spec) -> list[str]:
    from matplotlib.colors import to_hex

    from skikt.layers.render import feature_colours
    from skikt.layers.style import Style

    rgba, _ = feature_colours(frame, Style.from_dict(spec.style), "#000000")
    return [to_hex(c) for c in rgba]


@pytest.mark.parametrize("which", ["area_project", "grid_project"])
def test_qgis_opens_the_project_with_every_layer_valid(which, request, tmp_path):
    project = request.getfixturevalue(which)
    # The project and its GeoPackage moved together to another folder: the relative path still holds.
    export_qgs(project, tmp_path / "ut" / "karta.qgs")
    (tmp_path / "flyttad").mkdir()
    for name in ("karta.qgs", "karta.gpkg"):
        (tmp_path / "ut" / name).rename(tmp_path / "flyttad" / name)
    result = _open_in_qgis(tmp_path / "flyttad" / "karta.qgs")
    assert result["read"] is True and result["crs"] == "EPSG:3006"
    layers = result["layers"]
    assert [lay["name"] for lay in layers] == EXPECTED_ORDER  # top to bottom
    bad = [lay["name"] for lay in layers if not lay["valid"]]
    assert bad == [], bad
    assert all(lay["crs"] == "EPSG:3006" for lay in layers)
    assert all(str(tmp_path / "flyttad" / "karta.gpkg") in lay["source"] for lay in layers)
    assert [lay["renderer"] for lay in layers] == ["categorizedSymbol", "graduatedSymbol"] + \
        ["singleSymbol"] * 3 + ["categorizedSymbol"] * 4
    assert [lay["visible"] for lay in layers] == [True, True, False, True, True, True, True, False, False]
    assert layers[1]["opacity"] == pytest.approx(0.6)
    expected = _expected_layers(project.parent)
    for lay, lid in zip(layers, ["punkter", "scores", "vagar", "tabell", "ytor", "nummer"]):
        assert lay["features"] == len(expected[lid]), lid
    # QGIS gives each feature the colour Skikt draws it with (categories and class ranges as QGIS
    # reads them from the XML, whole floats and missing values included).
    gpkg = tmp_path / "flyttad" / "karta.gpkg"
    spec = read_project(project)
    for lay, lid in [(layers[0], "punkter"), (layers[1], "scores"), (layers[5], "nummer")]:
        frame = gpd.read_file(gpkg, layer=_table_of(lid))
        skikt = _skikt_colours(frame, spec.layer(lid))
        if lid == "scores":  # Skikt greys areas without a value; QGIS leaves them undrawn
            skikt = [None if np.isnan(v) else c for v, c in zip(frame["andel"], skikt)]
        assert lay["colours"] == skikt, lid
    # Priority classes: every scored unit gets its class's colour (class 1 darkest).
    scores = gpd.read_file(gpkg, layer="scores")
    from skikt.layers.render import priority_colours

    k = read_project(project).units.classes
    want = [priority_colours(k)[c - 1].lower() if c > 0 else None for c in scores["priority_class"]]
    assert layers[6]["colours"] == want
    assert layers[6]["features"] == len(scores)


def test_export_from_the_app_takes_the_weights_on_screen_and_touches_nothing(area_project, tmp_path):
    sources = {p: p.read_bytes() for p in area_project.parent.iterdir()}
    ws = Workspace(read_project(area_project))
    ws.update()
    ws.set_weight("vagar", 7.0)  # a slider moved, not saved
    shown = ws.composite
    export_qgs(ws, tmp_path / "app.qgs")
    assert ws.composite is shown  # the scenarios were scored beside it, the map on screen is unchanged
    scores = gpd.read_file(tmp_path / "app.gpkg", layer="scores").set_index("unit_id")
    expected = _scored_with(area_project, {"vagar": 7.0})
    np.testing.assert_allclose(scores["score"], expected["score"], atol=1e-6)
    assert scores["priority_class"].tolist() == expected["priority_class"].tolist()
    assert {p: p.read_bytes() for p in area_project.parent.iterdir()} == sources
