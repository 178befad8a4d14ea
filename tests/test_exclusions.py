"""Constraint layers (role = "exclude") against geopandas membership and hand-normalised scores."""

from __future__ import annotations

import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import rankdata

from skikt.layers.errors import SkiktError
from skikt.layers.exclusions import covered_units
from skikt.layers.project import read_project
from skikt.layers.units import make_area_units
from skikt.layers.workspace import Workspace

X0, Y0 = 600000.0, 6600000.0
K = 5


def exclusion_polygons():
    """Overlapping boxes, one edge exactly through a column of cell centres (x = X0 + 250),
    a polygon with a hole, and a sliver."""
    outer = shapely.box(X0 + 500, Y0 + 500, X0 + 900, Y0 + 900)
    with_hole = shapely.Polygon(outer.exterior.coords, [shapely.box(X0 + 600, Y0 + 600, X0 + 800, Y0 + 800).exterior.coords])
    mil = [shapely.box(X0, Y0, X0 + 250, Y0 + 450), shapely.box(X0 + 200, Y0 + 200, X0 + 400, Y0 + 400), with_hole,
           shapely.box(X0 + 1, Y0 + 960, X0 + 999, Y0 + 960.5)]
    nature = [shapely.box(X0 + 300, Y0 + 300, X0 + 700, Y0 + 700)]  # overlaps both of mil's
    return mil, nature


def write_project(tmp_path, extra_layers="", combine=""):
    gpkg = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=3006).to_file(gpkg, layer="area")
    rng = np.random.default_rng(7)
    xy = rng.uniform([X0, Y0], [X0 + 1000, Y0 + 1000], (9, 2))
    gpd.GeoDataFrame({"v": np.arange(9)}, geometry=shapely.points(xy), crs=3006).to_file(gpkg, layer="pts")
    mil, nature = exclusion_polygons()
    gpd.GeoDataFrame({"n": range(len(mil))}, geometry=mil, crs=3006).to_file(gpkg, layer="mil")
    gpd.GeoDataFrame({"n": [1]}, geometry=nature, crs=3006).to_file(gpkg, layer="nature")
    text = textwrap.dedent(f"""\
        schema_version = 1
        [project]
        title = "t"
        crs = "EPSG:3006"
        {combine}
        [[layers]]
        id = "area"
        path = "d.gpkg"
        layer = "area"
        [[layers]]
        id = "mil"
        path = "d.gpkg"
        layer = "mil"
        role = "exclude"
        [[layers]]
        id = "nature"
        path = "d.gpkg"
        layer = "nature"
        role = "exclude"
        [[layers]]
        id = "near"
        path = "d.gpkg"
        layer = "pts"
        sector = "healthcare"
        [layers.indicator]
        method = "distance"
        direction = "low"
        weight = 2
        [[layers]]
        id = "far"
        path = "d.gpkg"
        layer = "pts"
        sector = "transport"
        [layers.indicator]
        method = "distance"
        normalize = "rank"
        {extra_layers}
        [units]
        kind = "grid"
        cell_size = 100
        study_area = {{ layer = "area" }}
        """)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_exclusion_by_centre_matches_geopandas(tmp_path):
    ws = Workspace(read_project(write_project(tmp_path)))
    ws.update()
    df = ws.result_table()
    centres = gpd.GeoDataFrame(geometry=shapely.points(ws.units.centres), crs=3006)
    mil, nature = exclusion_polygons()
    in_mil = gpd.sjoin(centres, gpd.GeoDataFrame(geometry=mil, crs=3006), predicate="intersects").index.unique()
    in_nature = gpd.sjoin(centres, gpd.GeoDataFrame(geometry=nature, crs=3006), predicate="intersects").index.unique()
    want = np.full(ws.units.n, "", dtype=object)
    want[in_nature] = "nature"
    want[in_mil] = "mil"  # the first exclusion layer in project order names the unit
    assert list(df["excluded_by"]) == list(want)
    # The boundary case is really there: the centres on x = X0 + 250 below y = Y0 + 450 are out.
    on_edge = (ws.units.centres[:, 0] == X0 + 250) & (ws.units.centres[:, 1] < Y0 + 450)
    assert on_edge.sum() == 4 and (df["excluded_by"][on_edge] == "mil").all()
    # Inside the hole stays in; the sliver covers no centre.
    hole = (np.abs(ws.units.centres[:, 0] - (X0 + 700)) < 60) & (np.abs(ws.units.centres[:, 1] - (Y0 + 700)) < 60)
    assert hole.sum() == 4 and (df["excluded_by"][hole] != "mil").all()  # (650, 650) is in nature
    assert df["excluded_by"][hole & (ws.units.centres[:, 0] == X0 + 750) & (ws.units.centres[:, 1] == Y0 + 750)].tolist() == [""]


def test_excluded_units_have_no_score_and_the_rest_are_ranked_alone(tmp_path):
    ws = Workspace(read_project(write_project(tmp_path)))
    ws.update()
    df = ws.result_table()
    out = (df["excluded_by"] != "").to_numpy()
    kept = ~out
    assert 0 < out.sum() < len(df)
    assert df["score"][out].isna().all() and df["rank"][out].isna().all() and df["priority_class"][out].isna().all()
    # By hand over the kept units only: min–max (low is good) and percentile rank, weights 2 : 1.
    near, far = df["near_raw"][kept].to_numpy(), df["far_raw"][kept].to_numpy()
    n_near = (near.max() - near) / (near.max() - near.min())
    n_far = (rankdata(far) - 1) / (len(far) - 1)
    score = (2 * n_near + 1 * n_far) / 3
    assert np.allclose(df["score"][kept], score, atol=1e-6)
    rank = rankdata(-df["score"][kept].to_numpy(), method="min")
    assert np.array_equal(df["rank"][kept].to_numpy(int), rank)
    n = kept.sum()
    assert np.array_equal(df["priority_class"][kept].to_numpy(int), 1 + (rank - 1) * K // n)
    # The CSV leaves them empty.
    csv = tmp_path / "o.csv"
    df.to_csv(csv, index=False)
    back = pd.read_csv(csv, keep_default_na=False)
    assert (back["rank"][out] == "").all() and (back["score"][out] == "").all()
    assert ws.normalised.missing.tolist() == [0, 0]  # excluded units are not "missing"


def test_area_exclusion_by_share_matches_an_overlay():
    # Irregular areas: triangles, a polygon with a hole, a thin strip.
    areas = [shapely.Polygon([(0, 0), (100, 0), (0, 100)]), shapely.Polygon([(100, 0), (100, 100), (0, 100)]),
             shapely.Polygon(shapely.box(100, 0, 300, 200).exterior.coords, [shapely.box(150, 50, 250, 150).exterior.coords]),
             shapely.box(0, 100, 100, 103), shapely.box(300, 0, 400, 100), shapely.box(300, 100, 400, 200)]
    gdf = gpd.GeoDataFrame({"code": [f"a{i}" for i in range(len(areas))]}, geometry=areas, crs=3006)
    units = make_area_units(gdf, "code")
    excl = [shapely.box(40, -10, 160, 101.5), shapely.box(120, 20, 260, 180), shapely.box(300, 0, 350, 100),
            shapely.box(300, 100, 350.0, 200)]  # the last two: exactly 50 % of their squares
    cover = gpd.GeoDataFrame(geometry=[shapely.union_all(excl)], crs=3006)
    inter = gpd.overlay(gdf, cover, how="intersection", keep_geom_type=True)
    covered = inter.set_index("code").area.reindex(gdf["code"]).fillna(0).to_numpy() / gdf.area.to_numpy()
    for share in (0.5, 0.25, 0.9, 1.0):
        got = covered_units(units, np.array(excl, dtype=object), share)
        assert np.array_equal(got, covered >= share - 1e-12), share
    assert covered[4] == pytest.approx(0.5) and covered_units(units, np.array(excl, dtype=object), 0.5)[4]


def test_bad_exclude_share_and_non_polygon_layers_are_one_line(tmp_path):
    path = write_project(tmp_path)
    text = path.read_text().replace('role = "exclude"\n[[layers]]\nid = "nature"', 'role = "exclude"\nexclude_share = 1.5\n[[layers]]\nid = "nature"')
    path.write_text(text)
    with pytest.raises(SkiktError, match=r"^p.toml: .*exclude_share.*a number above 0 and at most 1, got 1.5$"):
        Workspace(read_project(path)).update()
    path = write_project(tmp_path, extra_layers='[[layers]]\nid = "ptsx"\npath = "d.gpkg"\nlayer = "pts"\nrole = "exclude"')
    with pytest.raises(SkiktError, match="'ptsx': role = \"exclude\" needs polygons"):
        Workspace(read_project(path)).update()
