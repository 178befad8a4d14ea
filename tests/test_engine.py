"""Indicators and composites checked against independent computations (geopandas, shapely, by hand)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from skikt.layers.composite import Normalised, combine, normalise, quantile_classes, ranks, sensitivity
from skikt.layers.indicators import compute
from skikt.layers.project import IndicatorSpec
from skikt.layers.raster import GridSpec, fill_polygons, label_polygons
from skikt.layers.units import make_area_units, make_grid_units

RNG = np.random.default_rng(42)
STUDY = shapely.Polygon([(1013, 1021), (21017, 2503), (19031, 17007), (9011, 21019), (2029, 14003)]).difference(
    shapely.box(8007, 8011, 12013, 12017))  # with a hole, as a county with a lake


@pytest.fixture(scope="module")
def grid():
    return make_grid_units([STUDY], 1000.0, "EPSG:3006")


def test_grid_is_scb_aligned_and_centre_based(grid):
    assert grid.grid.x0 % 1000 == 0 and grid.grid.y0 % 1000 == 0
    inside = shapely.contains_xy(STUDY, grid.grid.centres(np.arange(grid.grid.nx * grid.grid.ny))[:, 0],
                                 grid.grid.centres(np.arange(grid.grid.nx * grid.grid.ny))[:, 1])
    assert grid.n == inside.sum()
    assert not shapely.contains_xy(STUDY, 10500, 10500) and grid.unit_at(10500, 10500) is None
    i = grid.unit_at(3456, 5678)
    assert grid.ids[i] == "1000mE3000N5000"


def test_fill_and_labels_match_shapely():
    polys = [STUDY, shapely.box(30003, 7, 35011, 4013), shapely.MultiPolygon([shapely.box(40007, 3, 41011, 1013),
                                                                              shapely.box(43001, 7, 44009, 1019)])]
    g = GridSpec.covering(shapely.total_bounds(polys), 250)
    c = g.centres(np.arange(g.nx * g.ny))
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(shapely.points(c), predicate="within")
    expect = np.full(len(c), -1)
    expect[pi] = gi
    np.testing.assert_array_equal(label_polygons(polys, g).ravel(), expect)
    np.testing.assert_array_equal(fill_polygons(polys, g).ravel(), expect >= 0)


def test_count_and_density_match_sjoin(grid):
    pts = gpd.GeoDataFrame(geometry=shapely.points(RNG.uniform(0, 22000, (3000, 2))), crs=3006)
    got = compute(IndicatorSpec("count"), pts, grid).values
    cells = gpd.GeoDataFrame({"i": np.arange(grid.n)}, geometry=grid.geometry, crs=3006)
    j = gpd.sjoin(pts, cells, predicate="within")
    expect = np.bincount(j["i"], minlength=grid.n)
    np.testing.assert_array_equal(got, expect)
    dens = compute(IndicatorSpec("density"), pts, grid).values
    np.testing.assert_allclose(dens, expect / 1.0)  # 1 km² cells


def test_distance_matches_shapely(grid):
    pts = gpd.GeoDataFrame(geometry=shapely.points(RNG.uniform(-5000, 30000, (40, 2))), crs=3006)
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString(RNG.uniform(0, 22000, (6, 2))) for _ in range(5)], crs=3006)
    polys = gpd.GeoDataFrame(geometry=[shapely.box(5000, 5000, 7500, 6000), shapely.box(15000, 3000, 17000, 9000)],
                             crs=3006)
    centres = shapely.points(grid.centres)
    for layer in (pts, lines, polys):
        got = compute(IndicatorSpec("distance"), layer, grid).values
        expect = shapely.distance(centres[:, None], layer.geometry.to_numpy()[None, :]).min(axis=1)
        assert (got >= expect - 1e-6).all() and (got <= expect + 1000 / 4 + 1e-6).all()  # documented bound
        assert np.mean(np.abs(got - expect) < 1e-6) > 0.97, "exact for nearly every cell"


def test_distance_to_many_overlapping_buffers_and_multipart_lines_against_shapely():
    """Many overlapping circles (only centres outside all of them are measured; the rest are 0)
    and multi-part lines whose parts end near each other (a part's last vertex must not be joined
    to the next part's first): every distance is within the documented bound of shapely's."""
    rng = np.random.default_rng(7)
    units = make_grid_units([shapely.box(0, 0, 12_000, 9_000)], 100.0, "EPSG:3006")
    centres = shapely.points(units.centres)
    circles = shapely.buffer(shapely.points(rng.uniform(0, 12_000, (300, 2))), rng.uniform(100, 900, 300), quad_segs=4)
    tracks = rng.uniform(0, 12_000, (40, 2, 4, 2))  # 40 features of 2 parts of 4 vertices
    lines = [shapely.MultiLineString(list(parts)) for parts in tracks]
    for geoms in (circles, lines):
        layer = gpd.GeoDataFrame(geometry=list(geoms), crs=3006)
        got = compute(IndicatorSpec("distance"), layer, units).values
        expect = shapely.distance(shapely.union_all(layer.geometry.to_numpy()), centres)
        assert (got >= expect - 1e-6).all() and (got <= expect + 100 / 4 + 1e-6).all()
        assert np.mean(np.abs(got - expect) < 1e-6) > 0.97
        assert (got[expect == 0] == 0).all()


def test_distance_counts_features_outside_the_study_area(grid):
    outside = gpd.GeoDataFrame(geometry=[shapely.Point(-3000, 1500)], crs=3006)
    d = compute(IndicatorSpec("distance"), outside, grid).values
    assert np.isfinite(d).all() and d.min() > 0


def test_coverage_matches_exact_intersection(grid):
    zones = gpd.GeoDataFrame(geometry=[shapely.Point(6000, 6000).buffer(2600), shapely.Point(7000, 7000).buffer(1800),
                                       shapely.box(14000, 2000, 14700, 15000)], crs=3006)
    got = compute(IndicatorSpec("coverage"), zones, grid).values
    union = shapely.union_all(zones.geometry.to_numpy())
    expect = shapely.area(shapely.intersection(grid.geometry, union)) / 1e6
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)  # exact, not sampled
    assert got.max() == pytest.approx(1.0)


def test_length_matches_clipping(grid):
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString(RNG.uniform(0, 22000, (8, 2))) for _ in range(4)], crs=3006)
    got = compute(IndicatorSpec("length"), lines, grid).values
    expect = np.array([shapely.length(shapely.intersection(lines.geometry.to_numpy(), box)).sum()
                       for box in grid.geometry])
    np.testing.assert_allclose(got, expect, atol=1e-6)


def test_attribute_sum_mean_and_polygons(grid):
    xy = RNG.uniform(1000, 20000, (500, 2))
    vals = RNG.uniform(0, 100, 500)
    pts = gpd.GeoDataFrame({"v": vals}, geometry=shapely.points(xy), crs=3006)
    s = compute(IndicatorSpec("attribute", column="v", aggregate="sum"), pts, grid).values
    m = compute(IndicatorSpec("attribute", column="v", aggregate="mean"), pts, grid).values
    cells = gpd.GeoDataFrame({"i": np.arange(grid.n)}, geometry=grid.geometry, crs=3006)
    j = gpd.sjoin(pts, cells, predicate="within")
    sums = j.groupby("i")["v"].sum().reindex(range(grid.n), fill_value=0).to_numpy()
    means = j.groupby("i")["v"].mean().reindex(range(grid.n)).to_numpy()
    np.testing.assert_allclose(s, sums)
    np.testing.assert_allclose(m, means)
    areas = gpd.GeoDataFrame({"v": [10.0, 20.0]}, geometry=[shapely.box(0, 0, 11000, 22000),
                                                             shapely.box(11000, 0, 22000, 22000)], crs=3006)
    a = compute(IndicatorSpec("attribute", column="v"), areas, grid).values
    west = grid.centres[:, 0] < 11000
    assert (a[west] == 10).all() and (a[~west] == 20).all()
    apportioned = compute(IndicatorSpec("attribute", column="v", aggregate="sum"), areas, grid).values
    np.testing.assert_allclose(apportioned[west], 10 * 1e6 / (11000 * 22000))


def test_area_units_against_overlay():
    cells = [shapely.box(x, y, x + 10000, y + 10000) for x in (0, 10000) for y in (0, 10000)]
    areas = gpd.GeoDataFrame({"kod": ["0114", "0115", "0117", "0120"]}, geometry=cells, crs=3006)
    units = make_area_units(areas, "kod")
    pts = gpd.GeoDataFrame({"v": [1.0, 2.0, 4.0]}, geometry=shapely.points([(1, 1), (2, 2), (15000, 15000)]), crs=3006)
    np.testing.assert_array_equal(compute(IndicatorSpec("count"), pts, units).values, [2, 0, 0, 1])
    zone = gpd.GeoDataFrame({"v": [3.0]}, geometry=[shapely.box(5000, 5000, 15000, 15000)], crs=3006)
    np.testing.assert_allclose(compute(IndicatorSpec("coverage"), zone, units).values, [0.25] * 4)
    d = compute(IndicatorSpec("distance"), pts, units).values
    expect = shapely.distance(shapely.point_on_surface(areas.geometry.to_numpy())[:, None],
                              pts.geometry.to_numpy()[None, :]).min(axis=1)
    np.testing.assert_allclose(d, expect)


# ------------------------------------------------------------------------------------------------


def test_normalisations():
    x = np.array([0.0, 5.0, 10.0, np.nan])
    np.testing.assert_allclose(normalise(x, "minmax", "high")[:3], [0, 0.5, 1])
    np.testing.assert_allclose(normalise(x, "minmax", "low")[:3], [1, 0.5, 0])
    assert np.isnan(normalise(x, "minmax")[3])
    np.testing.assert_allclose(normalise(np.array([3.0, 1, 2, 2]), "rank"), [1, 0, 0.5, 0.5])
    z = normalise(np.array([1.0, 2, 3]), "zscore")
    assert z[1] == pytest.approx(0.5) and 0 < z[0] < 0.5 < z[2] < 1
    c = normalise(np.arange(100.0), "classes", k=5)
    np.testing.assert_allclose(np.unique(c), [0, 0.25, 0.5, 0.75, 1])
    assert (normalise(np.full(5, 7.0)) == 0.5).all()


def test_hand_computed_weighted_score_on_3x3():
    a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8], float)  # minmax → a/8
    b = np.array([8, 8, 8, 0, 0, 0, 4, 4, np.nan])  # low is good: (8 − b)/8
    na = normalise(a, "minmax", "high")
    nb = normalise(b, "minmax", "low")
    comp = combine(Normalised(["a", "b"], ["transport", "water"], np.vstack([na, nb])), [1, 3])
    expect = (1 * a / 8 + 3 * (8 - b) / 8) / 4
    expect[8] = 1.0  # b is missing: the unit is scored on a alone, weights renormalised
    np.testing.assert_allclose(comp.score, expect, atol=1e-6)
    assert comp.rank[8] == 1 and comp.rank[0] == 9
    assert comp.contributions(4) == pytest.approx([0.5 / 4, 3 * 1.0 / 4])
    geo = np.exp((1 * np.log(np.maximum(a / 8, 0.01)) + 3 * np.log(np.maximum((8 - b) / 8, 0.01))) / 4)
    np.testing.assert_allclose(comp.geo[:8], geo[:8], rtol=1e-5)


def test_ranks_and_classes():
    s = np.array([0.9, 0.1, 0.5, 0.5, np.nan, 0.3], np.float32)
    np.testing.assert_array_equal(ranks(s), [1, 5, 2, 2, 0, 4])
    many = np.linspace(0, 1, 1000, dtype=np.float32)
    cls = quantile_classes(many, 5)
    assert cls[-1] == 1 and cls[0] == 5 and (np.bincount(cls)[1:] == 200).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.1, 0.25, 0.5, 1.0, 2.5, np.nan, np.inf, -1.0]) | st.floats(0, 1e6, width=32),
                min_size=1, max_size=300),
       st.sampled_from([np.float32, np.float64]), st.integers(1, 9))
def test_ranks_and_classes_match_an_independent_ranking(values, dtype, k):
    from scipy.stats import rankdata

    s = np.array(values, dtype)
    ok = ~np.isnan(s)
    expect = np.zeros(len(s), np.int64)
    expect[ok] = rankdata(-s[ok].astype(float), method="min")  # 1 + number of higher scores
    np.testing.assert_array_equal(ranks(s), expect)
    n = ok.sum()
    cls = quantile_classes(s, k)
    expect_cls = np.where(ok, np.minimum(k, 1 + (np.maximum(expect, 1) - 1) * k // max(n, 1)), 0)
    np.testing.assert_array_equal(cls, expect_cls)


def test_ranks_of_a_large_score_array_with_ties_and_gaps():
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    s = rng.random(300_000).astype(np.float32)
    s[rng.integers(0, len(s), 5000)] = np.nan
    s[:20_000] = np.round(s[:20_000], 2)  # many ties
    ok = ~np.isnan(s)
    expect = np.zeros(len(s), np.int64)
    expect[ok] = rankdata(-s[ok], method="min")
    np.testing.assert_array_equal(ranks(s), expect)
    np.testing.assert_array_equal(ranks(s.astype(np.float64) - 0.5), expect)  # the general path


def test_overlap_counts_sectors_in_top_class():
    # Ten units, so the top class (top fifth) holds two units per sector.
    a = [1.0, 0.0, 0.5, 0.2, 0.9, 0.1, 0.3, 0.4, 0.6, 0.1]
    b = [1.0, 0.1, 0.2, 0.95, 0.0, 0.1, 0.3, 0.4, 0.6, 0.1]
    comp = combine(Normalised(["a", "b"], ["transport", "water"], np.array([a, b], np.float32)), [1, 1])
    np.testing.assert_array_equal(comp.overlap, [2, 0, 0, 1, 1, 0, 0, 0, 0, 0])


def test_sensitivity_reports_changes():
    norm = np.random.default_rng(0).random((3, 2000), dtype=np.float32)
    s = sensitivity(Normalised(["a", "b", "c"], ["x", "y", "z"], norm), [1, 1, 1], step=0.1)
    assert s.perturbations == 6 and 0 < s.any_change_share < 0.5
    assert s.stability.max() <= 6 and len(s.stability) == 2000
    stable = sensitivity(Normalised(["a"], ["x"], norm[:1]), [1], step=0.1)
    assert stable.any_change_share == 0  # one indicator: its weight cannot reorder anything


weights = st.lists(st.floats(0.01, 10), min_size=3, max_size=3)


@settings(max_examples=60, deadline=None)
@given(w=weights, scale=st.floats(0.01, 100))
def test_scaling_all_weights_leaves_scores_unchanged(w, scale):
    norm = np.random.default_rng(1).random((3, 50), dtype=np.float32)
    norm[1, ::7] = np.nan
    n = Normalised(["a", "b", "c"], ["x", "y", "z"], norm)
    np.testing.assert_allclose(combine(n, w).score, combine(n, np.array(w) * scale).score, rtol=1e-4, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(w=weights, unit=st.integers(0, 29), layer=st.integers(0, 2), gain=st.floats(0.01, 50),
       direction=st.sampled_from(["high", "low"]), method=st.sampled_from(["minmax", "rank", "zscore"]))
def test_improving_a_raw_value_never_lowers_the_score(w, unit, layer, gain, direction, method):
    raw = np.random.default_rng(2).uniform(0, 100, (3, 30))
    better = raw.copy()
    better[layer, unit] += gain if direction == "high" else -gain
    def score(r):
        dirs = ["high", "high", "high"]
        dirs[layer] = direction
        norm = np.vstack([normalise(r[i], method, dirs[i]) for i in range(3)])
        return combine(Normalised(["a", "b", "c"], ["x", "y", "z"], norm), w).score[unit]
    assert score(better) >= score(raw) - 1e-6
