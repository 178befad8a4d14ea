"""Units and attribute input that used to give silent wrong numbers or tracebacks: tables joined
to the unit layer, border slivers, sums that must be conserved, dates, ±inf, duplicate ids,
point layers as areas, empty study areas, the memory guard. Oracles: the source values, geopandas
overlays, hand-worked numbers."""

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from skikt.layers.errors import SkiktError
from skikt.layers.indicators import compute
from skikt.layers.project import IndicatorSpec, read_project
from skikt.layers.units import check_grid_fits, grid_memory, make_area_units, make_grid_units
from skikt.layers.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
REFERENCE = (SAMPLE / "sweden_reference.gpkg").as_posix()


def kommuner():
    return gpd.read_file(REFERENCE, layer="kommuner")


def write_project(tmp_path, layers: str, units: str) -> Path:
    text = f'schema_version = 1\n[project]\ntitle = "t"\n{layers}\n[units]\n{units}\n'
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


KOMMUNER_LAYER = f'''
[[layers]]
id = "kommuner"
path = "{REFERENCE}"
layer = "kommuner"
sector = "reference"
title = "Kommuner"
'''
AREA_UNITS = 'kind = "areas"\nlayer = "kommuner"\nid = "code"'


def shares_table(tmp_path, codes_values: dict) -> Path:
    """A Swedish CSV as spreadsheets write it: codes without leading zeros, decimal commas."""
    rows = [f"{int(c)};{v:.2f}".replace(".", ",") for c, v in codes_values.items()]
    path = tmp_path / "andelar.csv"
    path.write_text("Kommunkod;Andel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def indicator_layer(lid, path, extra=""):
    return f'''
[[layers]]
id = "{lid}"
path = "{Path(path).as_posix()}"
sector = "skills"
title = "{lid}"
{extra}
[layers.indicator]
method = "attribute"
column = "Andel"
weight = 1
'''


def raw_by_unit(path: Path, layer_id: str) -> pd.Series:
    ws = Workspace(read_project(path))
    ws.update()
    t = ws.result_table()
    return pd.Series(t[f"{layer_id}_raw"].to_numpy(), index=t["unit_id"])


def test_table_joined_to_the_unit_layer_gives_each_unit_exactly_its_value(tmp_path):
    """Håbo (0305) and Knivsta (0330) overlap in a sliver of the simplified boundaries: Håbo got
    18.52 instead of 18.5. A unit missing from the table must stay missing, not borrow a neighbour."""
    k = kommuner()
    rng = np.random.default_rng(7)
    values = {c: float(v) for c, v in zip(k["code"], rng.uniform(5, 95, len(k)).round(2))}
    values["0305"], values["0330"] = 18.5, 40.0
    del values["1814"]  # Lekeberg: its neighbour Örebro overlaps it in a sliver
    csv = shares_table(tmp_path, values)
    join = 'join = { layer = "kommuner", left = "Kommunkod", right = "code" }'
    raw = raw_by_unit(write_project(tmp_path, KOMMUNER_LAYER + indicator_layer("andel", csv, join), AREA_UNITS), "andel")
    expect = pd.Series(values).reindex(raw.index)
    assert raw["0305"] == 18.5
    assert np.isnan(raw["1814"])
    np.testing.assert_array_equal(raw.to_numpy(), expect.to_numpy())


def test_a_copy_of_the_unit_polygons_does_not_leak_across_borders(tmp_path):
    """Not the unit layer itself (another file), so no key mapping: the area-weighted mean must
    still ignore neighbours that overlap a unit only in a border sliver (under 1 % of the smaller)."""
    k = kommuner()
    k["Andel"] = np.random.default_rng(8).uniform(0, 100, len(k))
    copy = tmp_path / "kopia.gpkg"
    k.to_file(copy, layer="kopia")
    raw = raw_by_unit(write_project(tmp_path, KOMMUNER_LAYER + indicator_layer("kopia", copy), AREA_UNITS), "kopia")
    expect = pd.Series(k["Andel"].to_numpy(), index=k["code"]).reindex(raw.index)
    np.testing.assert_allclose(raw.to_numpy(), expect.to_numpy(), rtol=1e-12)


def test_area_weighted_mean_keeps_small_features_inside_a_unit():
    """The sliver tolerance is relative to the smaller area: 300 parcels of 0.01 % of the unit each
    all count. Oracle: a geopandas overlay."""
    unit = gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[shapely.box(0, 0, 10000, 10000),
                                                          shapely.box(10000, 0, 20000, 10000)], crs=3006)
    units = make_area_units(unit, "id")
    rng = np.random.default_rng(9)
    xy = rng.uniform(100, 19800, (300, 2)) * [1, 0.5]
    parcels = gpd.GeoDataFrame({"v": rng.uniform(0, 10, 300)},
                               geometry=[shapely.box(x, y, x + 100, y + 100) for x, y in xy], crs=3006)
    got = compute(IndicatorSpec("attribute", column="v", aggregate="area_weighted_mean"), parcels, units).values
    ov = gpd.overlay(parcels, unit, how="intersection")
    ov["a"] = ov.area
    big = ov["a"] >= 0.01 * 100 * 100  # the documented tolerance: a parcel cut by the border keeps ≥ 1 % pieces
    ov = ov[big]
    expect = (ov["v"] * ov["a"]).groupby(ov["id"]).sum() / ov["a"].groupby(ov["id"]).sum()
    np.testing.assert_allclose(got, expect.reindex(["A", "B"]).to_numpy(), rtol=1e-12)


def random_polygons(rng, n, lo, hi, radius):
    out = []
    while len(out) < n:
        c = rng.uniform(lo, hi, 2)
        k = int(rng.integers(3, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.2, 1, k) * rng.uniform(radius / 20, radius)
        p = shapely.Polygon(np.column_stack([c[0] + r * np.cos(ang), c[1] + r * np.sin(ang)]))
        if p.is_valid:
            out.append(p)
    return out


def test_attribute_sum_on_a_grid_is_conserved_and_matches_an_overlay():
    """Polygons smaller than a cell (no cell centre inside) used to be dropped from a sum."""
    rng = np.random.default_rng(10)
    study = shapely.Polygon([(0, 0), (5000, 300), (4700, 5200), (200, 4800)])
    units = make_grid_units([study], 500.0, "EPSG:3006")
    polys = random_polygons(rng, 120, 800, 4200, 400)  # inside the study cells, overlapping, many tiny
    layer = gpd.GeoDataFrame({"v": rng.uniform(1, 100, len(polys))}, geometry=polys, crs=3006)
    got = compute(IndicatorSpec("attribute", column="v", aggregate="sum"), layer, units).values
    cells = gpd.GeoDataFrame({"cell": np.arange(units.n)}, geometry=units.geometry, crs=3006)
    layer["whole"] = layer.area
    ov = gpd.overlay(layer, cells, how="intersection", keep_geom_type=True)
    ov["share"] = ov["v"] * ov.area / ov["whole"]
    expect = ov.groupby("cell")["share"].sum().reindex(range(units.n), fill_value=0).to_numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-9)
    inside = shapely.covered_by(layer.geometry.to_numpy(), shapely.union_all(units.geometry))
    assert inside.all() and got.sum() == pytest.approx(layer["v"].sum(), rel=1e-12)
    assert (layer.area < 500**2 / 4).sum() > 10  # many features too small to hold a cell centre


def test_line_attribute_sum_is_conserved():
    rng = np.random.default_rng(11)
    units = make_grid_units([shapely.box(0, 0, 3000, 3000)], 250.0, "EPSG:3006")
    lines = [shapely.LineString(rng.uniform(10, 2990, (int(rng.integers(2, 6)), 2))) for _ in range(30)]
    layer = gpd.GeoDataFrame({"v": rng.uniform(0, 50, 30)}, geometry=lines, crs=3006)
    got = compute(IndicatorSpec("attribute", column="v", aggregate="sum"), layer, units).values
    share = np.array([sum(v * shapely.length(shapely.intersection(g, box)) / g.length
                          for v, g in zip(layer["v"], lines)) for box in units.geometry])
    np.testing.assert_allclose(got, share, rtol=1e-9, atol=1e-9)
    assert got.sum() == pytest.approx(layer["v"].sum(), rel=1e-12)


# ------------------------------------------------------------------------------------------------
# Input that used to be silently wrong


def test_date_columns_are_refused_as_numbers():
    units = make_grid_units([shapely.box(0, 0, 2000, 2000)], 1000.0, "EPSG:3006")
    pts = shapely.points([(100, 100), (1500, 1500)])
    for column in (pd.to_datetime(["2020-01-01", "2021-06-30"]), [dt.date(2020, 1, 1), dt.date(2021, 6, 30)]):
        layer = gpd.GeoDataFrame({"d": column}, geometry=pts, crs=3006)
        with pytest.raises(SkiktError, match="holds dates, not numbers"):
            compute(IndicatorSpec("attribute", column="d", aggregate="sum"), layer, units)


def test_infinite_values_count_as_missing_with_a_warning(tmp_path):
    k = kommuner()
    codes = ["0114", "0115", "0117", "0120"]
    k = k[k["code"].isin(codes)].copy()
    k["Andel"] = [10.0, np.inf, 30.0, -np.inf]
    k["Annan"] = [1.0, 2.0, 3.0, 4.0]
    data = tmp_path / "fyra.gpkg"
    k.to_file(data, layer="fyra")
    second = indicator_layer("annan", data).replace('column = "Andel"', 'column = "Annan"')
    path = write_project(tmp_path, f'''
[[layers]]
id = "fyra"
path = "{data.as_posix()}"
sector = "reference"
title = "fyra"
''' + indicator_layer("andel", data) + second, 'kind = "areas"\nlayer = "fyra"\nid = "code"')
    ws = Workspace(read_project(path))
    c = ws.update()
    t = ws.result_table().set_index("unit_id")
    assert t.loc["0114", "andel_raw"] == 10 and np.isnan(t.loc["0115", "andel_raw"])
    assert np.isnan(t.loc["0120", "andel_raw"])
    assert list(ws.normalised.missing) == [2, 0]
    assert any("2 values in column 'Andel' are ±infinite" in w for w in ws.layers["andel"].report.warnings)
    # Scored on what is known: 0115 has only 'annan' (minmax of 1..4 → 1/3), so its score is that.
    assert t.loc["0115", "score"] == pytest.approx(1 / 3, abs=1e-6)
    assert np.isfinite(c.score).all()


def test_area_units_refuse_points_and_duplicate_ids():
    pts = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=shapely.points([(0, 0), (1, 1)]), crs=3006)
    with pytest.raises(SkiktError, match="needs a polygon layer; 'pts' has point"):
        make_area_units(pts, "code", layer_id="pts")
    lines = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=3006)
    with pytest.raises(SkiktError, match="has line"):
        make_area_units(lines, "code", layer_id="l")
    four = gpd.GeoDataFrame({"code": ["01", "01", "01", "01", "02"]},
                            geometry=[shapely.box(i, 0, i + 1, 1) for i in range(5)], crs=3006)
    with pytest.raises(SkiktError, match="1 ids in column 'code' occur more than once: '01'") as err:
        make_area_units(four, "code", layer_id="lan")
    assert "\n" not in str(err.value)


def test_an_empty_study_area_is_one_line(tmp_path):
    empty = gpd.GeoDataFrame({"code": pd.Series([], dtype=str)}, geometry=gpd.GeoSeries([], crs=3006), crs=3006)
    data = tmp_path / "tom.gpkg"
    empty.to_file(data, layer="tom")
    layers = f'''
[[layers]]
id = "tom"
path = "{data.as_posix()}"
sector = "reference"
title = "tom"
''' + indicator_layer("andel", REFERENCE).replace('column = "Andel"', 'column = "pop"').replace(
        'title = "andel"', 'title = "andel"\nlayer = "tatorter"')
    path = write_project(tmp_path, layers, 'kind = "grid"\ncell_size = 1000\nstudy_area = { layer = "tom" }')
    with pytest.raises(SkiktError) as err:
        Workspace(read_project(path)).update()
    assert "no features" in str(err.value) and "\n" not in str(err.value)


def test_memory_guard_refuses_up_front_and_suggests_a_cell_size_that_fits():
    county = [shapely.box(0, 0, 60000, 60000)]
    need, units, cells = grid_memory(county, 9.0, 8)
    # Hand-worked: 60 km / 9 m → 6667 × 6667 bounding-box cells; 3.6e9 m² / 81 m² units.
    assert cells == 6667 * 6667 and units == pytest.approx(3.6e9 / 81)
    assert need == pytest.approx(units * (200 + 8 * 24) + cells * 48)
    with pytest.raises(SkiktError) as err:
        check_grid_fits(county, 9.0, 8, available=4e9)
    text = str(err.value)
    suggest = float(text.split("cell_size = ")[1].split()[0])
    # 80 % of 4 GB usable; the suggested size fits and the next smaller nice size would not.
    assert grid_memory(county, suggest, 8)[0] <= 0.8 * 4e9 < grid_memory(county, suggest * 0.8, 8)[0]
    check_grid_fits(county, suggest, 8, available=4e9)


def test_normalised_cache_is_keyed_by_what_the_raw_values_came_from(tmp_path):
    """Keys built from id() can match a different, later object at the same address."""
    k = kommuner()
    csv = shares_table(tmp_path, {c: float(i) for i, c in enumerate(k["code"])})
    join = 'join = { layer = "kommuner", left = "Kommunkod", right = "code" }'
    ws = Workspace(read_project(write_project(tmp_path, KOMMUNER_LAYER + indicator_layer("andel", csv, join),
                                              AREA_UNITS)))
    ws.update()
    norm_key = ws._norm["andel"][0]
    assert norm_key[0] == ws._raw["andel"][0] and isinstance(norm_key[0], tuple)
    assert not hasattr(Workspace, "raw_matrix")
