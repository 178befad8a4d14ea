"""Grid rasterisation, coverage, apportioned sums and area-unit means against independent
oracles (shapely intersections and predicates, geopandas overlays), on nasty seeded data:
overlapping and nested polygons, holes, slivers, vertices on grid lines and cell corners."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from skikt.layers.indicators import compute
from skikt.layers.project import IndicatorSpec
from skikt.layers.raster import GridSpec, area_per_cell, coverage_per_cell, fill_polygons
from skikt.layers.units import make_grid_units

CELL = 100.0


def random_polygon(rng, cx, cy, radius, n=None):
    """A random star-shaped polygon, 3–40 vertices (drawn again until valid)."""
    while True:
        k = n or int(rng.integers(3, 40))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = radius * rng.uniform(0.2, 1.0, k)
        poly = shapely.Polygon(np.column_stack([cx + r * np.cos(ang), cy + r * np.sin(ang)]))
        if poly.is_valid:
            return poly


def nasty_polygons(seed):
    """Overlapping random polygons, nested ones, a polygon with holes, slivers, and polygons whose
    vertices sit on grid lines and exactly on cell corners."""
    rng = np.random.default_rng(seed)
    polys = [random_polygon(rng, *rng.uniform(200, 1800, 2), rng.uniform(30, 600)) for _ in range(25)]
    outer = shapely.box(300.5, 300.5, 1100.25, 1000.75)
    polys += [outer, shapely.box(400.1, 400.1, 700.3, 650.7),  # nested inside outer
              outer.difference(shapely.box(500, 500, 900, 800)).difference(shapely.Point(1000, 900).buffer(60))]
    polys.append(shapely.Polygon([(150, 1210.3), (1850.7, 1210.31), (1850.7, 1210.9)]))  # sliver
    polys.append(shapely.Polygon([(1200, 200), (1300, 300), (1200, 400), (1100, 300)]))  # cell corners
    polys.append(shapely.box(1400, 1400, 1600, 1500))  # edges on grid lines
    polys.append(shapely.Polygon([(1700, 100), (1800.0, 100), (1700, 200)]))  # diagonal through corners
    return polys


def all_cells(g: GridSpec):
    return g.boxes(np.arange(g.nx * g.ny))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coverage_is_exact_against_shapely_on_random_polygons(seed):
    polys = nasty_polygons(seed)
    g = GridSpec.covering((0, 0, 2000, 2000), CELL)
    union = shapely.union_all(polys)
    expect = shapely.area(shapely.intersection(all_cells(g), union)) / CELL**2
    got = coverage_per_cell(polys, g)
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)
    assert ((got > 0) & (got < 1)).sum() > 100  # many partly covered cells were checked


def test_coverage_of_cells_clipped_only_at_a_corner():
    """A long edge that cuts 3 m triangles off cell corners: sampling the ring every quarter cell
    missed such cells and judged them by their centre."""
    g = GridSpec(0.0, 0.0, CELL, 4, 4)
    big = shapely.Polygon([(-517.3, 720.3), (720.3, -517.3), (-517.3, -517.3)])  # x + y < 203
    corner = shapely.Polygon([(0, 0), (100.5, 0), (0, 100.5)])
    for poly in (big, corner):
        expect = shapely.area(shapely.intersection(all_cells(g), poly)) / CELL**2
        np.testing.assert_allclose(coverage_per_cell([poly], g), expect, rtol=0, atol=1e-12)
    assert 0 < expect[1] < 1e-4


@pytest.mark.parametrize("seed", [4, 5])
def test_area_per_cell_of_overlapping_features_adds_each_feature(seed):
    polys = nasty_polygons(seed)
    g = GridSpec.covering((0, 0, 2000, 2000), CELL)
    weights = np.random.default_rng(seed).uniform(-2, 5, len(polys))
    cells = all_cells(g)
    expect = sum(w * shapely.area(shapely.intersection(cells, p)) for w, p in zip(weights, polys))
    np.testing.assert_allclose(area_per_cell(polys, g, weights), expect, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("seed", [6, 7])
def test_fill_counts_overlapping_and_nested_polygons_as_inside(seed):
    polys = nasty_polygons(seed)
    g = GridSpec.covering((0, 0, 2000, 2000), 37.0)
    c = g.centres(np.arange(g.nx * g.ny))
    pts = shapely.points(c)
    union = shapely.union_all(polys)
    inside = shapely.contains(union, pts)
    on_edge = shapely.distance(shapely.boundary(union), pts) < 1e-9
    got = fill_polygons(polys, g).ravel()
    assert (got[~on_edge] == inside[~on_edge]).all()
    # Under even–odd across features, a cell inside two overlapping features came out as outside.
    depth = sum(shapely.contains(p, pts).astype(int) for p in polys)
    assert (got[depth == 2]).all() and (depth == 2).sum() > 50


def test_distance_is_zero_inside_overlapping_and_nested_polygons():
    polys = nasty_polygons(8)
    units = make_grid_units([shapely.box(0, 0, 2000, 2000)], 50.0, "EPSG:3006")
    layer = gpd.GeoDataFrame(geometry=polys, crs=3006)
    got = compute(IndicatorSpec("distance"), layer, units).values
    expect = shapely.distance(shapely.union_all(polys), shapely.points(units.centres))
    assert (got[expect == 0] == 0).all()
    assert (got >= expect - 1e-6).all() and (got <= expect + 50 / 4 + 1e-6).all()


def test_area_unit_coverage_of_overlapping_polygons_against_shapely():
    from skikt.layers.units import make_area_units

    rng = np.random.default_rng(12)
    frame = shapely.box(0, 0, 2000, 2000)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(rng.uniform(0, 2000, (30, 2)))))
    cells = shapely.intersection(cells, frame)
    areas = gpd.GeoDataFrame({"kod": [f"{i:04d}" for i in range(len(cells))]}, geometry=cells, crs=3006)
    units = make_area_units(areas, "kod")
    polys = nasty_polygons(12)
    got = compute(IndicatorSpec("coverage"), gpd.GeoDataFrame(geometry=polys, crs=3006), units).values
    union = shapely.union_all(polys)
    expect = shapely.area(shapely.intersection(units.geometry, union)) / shapely.area(units.geometry)
    np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-12)


def test_polygons_with_z_and_holes_are_rasterised_in_plan():
    """3-D polygons (PolygonZ shapefiles) used to crash the ragged-array path."""
    outer = [(3, 3, 5.0), (97.5, 3, 5.0), (97.5, 96, 7.0), (3, 96, 7.0)]
    hole = [(21, 21, 1.0), (49, 21, 1.0), (49, 63, 1.0), (21, 63, 1.0)]
    p = shapely.Polygon(outer, holes=[hole])
    g = GridSpec(0.0, 0.0, 10.0, 10, 10)
    flat = shapely.force_2d(p)
    expect = shapely.area(shapely.intersection(all_cells(g), flat)) / 100
    np.testing.assert_allclose(coverage_per_cell([p], g), expect, atol=1e-12)
    centres = shapely.points(g.centres(np.arange(100)))
    np.testing.assert_array_equal(fill_polygons([p], g).ravel(), shapely.contains(flat, centres))
