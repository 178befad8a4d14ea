"""Piecewise-linear value curves (normalize = "piecewise"), worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from skikt.layers.composite import Normalised, check_points, combine, normalise
from skikt.layers.errors import SkiktError
from skikt.layers.project import IndicatorSpec, LayerSpec, Project, UnitsSpec
from skikt.layers.workspace import Workspace

# Distance to a health centre: 0–5 km → 0, rising linearly to 1 at 30 km and flat beyond.
HEALTH = [[0, 0], [5000, 0], [30000, 1]]


def test_health_centre_curve_by_hand():
    raw = np.array([0, 2500, 5000, 10000, 17500, 30000, 45000, -10, np.nan])
    # 10 km: (10000 − 5000)/25000 = 0.2; 17.5 km: 0.5; beyond either end the curve is flat.
    want = [0, 0, 0, 0.2, 0.5, 1, 1, 0, np.nan]
    assert np.allclose(normalise(raw, "piecewise", points=HEALTH), want, atol=1e-7, equal_nan=True)


def test_direction_is_not_applied_to_a_curve():
    raw = np.array([1.0, 2.0, 3.0])
    pts = [[1, 1], [3, 0]]  # a falling curve says "low is good" by itself
    for direction in ("high", "low"):
        assert np.allclose(normalise(raw, "piecewise", direction, points=pts), [1, 0.5, 0])


def test_a_constant_indicator_goes_through_the_curve():
    # Other methods send a constant to 0.5; a curve is absolute, so 20 km is 0.6 here too.
    assert np.allclose(normalise(np.full(4, 20000.0), "piecewise", points=HEALTH), 0.6)


def test_non_monotone_curve_peaks_where_said():
    pts = [[0, 0], [10, 1], [20, 0.25]]
    assert np.allclose(normalise(np.array([5.0, 10, 15, 40]), "piecewise", points=pts), [0.5, 1, 0.625, 0.25])


@pytest.mark.parametrize("points, words", [
    ([[0, 0]], "at least two"),
    ([], "at least two"),
    ([[0, 0, 1], [1, 1, 1]], "at least two"),
    ([[0, 0], [0, 1]], "strictly increasing"),
    ([[5, 0], [1, 1]], "strictly increasing"),
    ([[0, 0], [1, 1.5]], "within 0–1"),
    ([[0, -0.1], [1, 1]], "within 0–1"),
    ([[0, 0], [float("inf"), 1]], "finite"),
    ([[0, 0], ["a", 1]], "pairs of numbers"),
])
def test_bad_points_are_one_line(points, words):
    with pytest.raises(SkiktError) as err:
        check_points(points, "p.toml")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_curve_through_the_workspace(tmp_path):
    import geopandas as gpd
    import shapely

    x0, y0 = 600000.0, 6600000.0
    gpkg = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(x0, y0, x0 + 40000, y0 + 1000)], crs=3006).to_file(gpkg, layer="area")
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(x0, y0 + 500)], crs=3006).to_file(gpkg, layer="vard")
    spec = LayerSpec("vard", "d.gpkg", sector="healthcare", layer="vard",
                     indicator=IndicatorSpec("distance", normalize="piecewise", extra={"points": HEALTH}))
    project = Project(layers=[LayerSpec("area", "d.gpkg", layer="area"), spec],
                      units=UnitsSpec(kind="grid", cell_size=1000, study_area={"layer": "area"}),
                      path=tmp_path / "p.toml")
    ws = Workspace(project)
    ws.update()
    df = ws.result_table()
    # Cell centres at 500, 1500, … m east of the point on its row: the curve by hand.
    d = ws.units.centres[:, 0] - x0
    want = np.clip((d - 5000) / 25000, 0, 1)
    assert np.allclose(df["vard_norm"], want, atol=1e-6)
    # Moving a point renormalises (the points are part of the cache key).
    spec.indicator.extra["points"] = [[0, 0], [40000, 1]]
    ws.update()
    assert np.allclose(ws.result_table()["vard_norm"], d / 40000, atol=1e-6)
