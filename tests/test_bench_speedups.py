"""The speed-ups of issue 7 item 13 keep results as they were: each sped-up function against an
independent oracle (shapely, brute force, Python's own formatting), on nasty data. No timings
here (those are `skikt bench`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import shapely

from skikt.layers import indicators as ind
from skikt.layers.io import clean_geometries
from skikt.layers.metadata import LoadReport
from skikt.layers.raster import GridSpec, _overlapping, coverage_per_cell, disjoint_union


def _interiors_overlap_brute_force(geoms) -> np.ndarray:
    """Every pair by shapely's DE-9IM matrix: the interiors meet (not merely the boundaries)."""
    n = len(geoms)
    out = np.zeros(n, bool)
    for i in range(n):
        for j in range(i + 1, n):
            if shapely.relate_pattern(geoms[i], geoms[j], "T********"):
                out[i] = out[j] = True
    return np.flatnonzero(out)


def _nasty_boxes(rng, n):
    """Integer boxes: many share edges or corners only, some nest, some are duplicates."""
    x0, y0 = rng.integers(0, 30, n), rng.integers(0, 30, n)
    w, h = rng.integers(1, 6, n), rng.integers(1, 6, n)
    boxes = shapely.box(x0, y0, x0 + w, y0 + h)
    dup = rng.random(n) < 0.05
    boxes[dup] = boxes[0]
    return boxes


@pytest.mark.parametrize("seed", range(12))
def test_overlapping_finds_exactly_the_polygons_whose_interiors_meet(seed):
    rng = np.random.default_rng(seed)
    boxes = _nasty_boxes(rng, int(rng.integers(2, 120)))
    np.testing.assert_array_equal(_overlapping(boxes), _interiors_overlap_brute_force(boxes))


def test_overlapping_with_one_polygon_touching_many_and_overlapping_none():
    # A long strip touching 300 unit squares along its edge: many candidate rounds, no overlap;
    # one extra square overlaps the last unit square only.
    squares = [shapely.box(i, 1, i + 1, 2) for i in range(300)]
    strip = shapely.box(0, 0, 300, 1)
    extra = shapely.box(299.5, 1.5, 300.5, 2.5)
    geoms = np.array([strip, *squares, extra], dtype=object)
    got = _overlapping(geoms)
    assert got.tolist() == [300, 301]
    np.testing.assert_array_equal(got, _interiors_overlap_brute_force(geoms))


def test_overlapping_of_nothing_and_of_one():
    assert _overlapping(np.array([], dtype=object)).size == 0
    assert _overlapping(np.array([shapely.box(0, 0, 1, 1)], dtype=object)).size == 0


@pytest.mark.parametrize("seed", range(4))
def test_disjoint_union_keeps_the_union_and_separates_the_interiors(seed):
    rng = np.random.default_rng(100 + seed)
    centres = rng.uniform(0, 5000, (150, 2))
    circles = shapely.buffer(shapely.points(centres), rng.uniform(50, 600, 150), quad_segs=8)
    geoms = np.concatenate([circles, _nasty_boxes(rng, 40)])
    parts = disjoint_union(geoms)
    oracle = shapely.union_all(geoms)
    assert shapely.area(shapely.union_all(parts)) == pytest.approx(oracle.area, rel=1e-12)
    assert shapely.area(parts).sum() == pytest.approx(oracle.area, rel=1e-9)  # no interior counted twice


def test_coverage_of_overlapping_buffers_matches_shapely_cell_by_cell():
    rng = np.random.default_rng(8)
    circles = shapely.buffer(shapely.points(rng.uniform(0, 2000, (60, 2))), rng.uniform(50, 400, 60), quad_segs=8)
    grid = GridSpec(0.0, 0.0, 250.0, 9, 9)
    got = coverage_per_cell(circles, grid)
    union = shapely.union_all(circles)
    cells = [shapely.box(grid.x0 + c * 250, grid.y0 + r * 250, grid.x0 + (c + 1) * 250, grid.y0 + (r + 1) * 250)
             for r in range(grid.ny) for c in range(grid.nx)]
    expect = shapely.area(shapely.intersection(union, np.array(cells, dtype=object))) / 250**2
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)


def test_distance_to_polylines_in_blocks_matches_shapely(monkeypatch):
    """More centres than a block, so the blocks' seams are crossed; every distance against
    shapely's exact one (never shorter, longer by at most half the vertex spacing)."""
    monkeypatch.setattr(ind, "DISTANCE_BLOCK", 1000)
    rng = np.random.default_rng(4)
    paths = np.cumsum(rng.normal(0, 300, (40, 30, 2)), axis=1) + rng.uniform(0, 20000, (40, 1, 2))
    lines = shapely.linestrings(paths.reshape(-1, 2), indices=np.repeat(np.arange(40), 30))
    step = 125.0
    parts = shapely.get_parts(shapely.segmentize(lines, step))
    coords, part = shapely.get_coordinates(parts, return_index=True)
    centres = rng.uniform(-2000, 22000, (4321, 2))
    got = ind._distance_to_polylines(centres, coords, part)
    exact = shapely.distance(shapely.points(centres), shapely.union_all(lines))
    assert (got >= exact - 1e-9).all()
    assert (got <= exact + step / 2 + 1e-9).all()
    # Blocks change nothing: the same call in one block gives the same bits.
    monkeypatch.setattr(ind, "DISTANCE_BLOCK", 10**9)
    np.testing.assert_array_equal(ind._distance_to_polylines(centres, coords, part), got)


def test_clean_geometries_counts_families_of_a_mixed_layer():
    import geopandas as gpd

    from skikt.layers.errors import SkiktError

    geoms = [shapely.Point(0, 0), shapely.LineString([(0, 0), (1, 1)]), shapely.box(0, 0, 1, 1),
             shapely.Point(2, 2), None, shapely.Polygon()]
    gdf = gpd.GeoDataFrame({"v": range(6)}, geometry=geoms, crs=3006)
    kept = clean_geometries(gdf, LoadReport(path="x.gpkg"), "point", "x.gpkg")
    assert kept["v"].tolist() == [0, 3]
    with pytest.raises(SkiktError) as info:
        clean_geometries(gdf, LoadReport(path="x.gpkg"), None, "x.gpkg")
    # The counts per family, as a person would count them.
    assert "line: 1" in str(info.value) and "point: 2" in str(info.value) and "polygon: 1" in str(info.value)


def test_csv_batches_do_not_change_the_bytes(tmp_path, monkeypatch):
    """write_scores' CSV in small batches (many seams) equals pyarrow's default batching."""
    from skikt.layers import output
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    from skikt.layers.bench import SAMPLE

    ws = Workspace(read_project(SAMPLE / "sample_project.toml"))
    ws.update()
    monkeypatch.setattr(output, "CSV_BATCH_ROWS", 1024)
    small = output.write_scores(ws, tmp_path / "small.csv").read_bytes()
    monkeypatch.setattr(output, "CSV_BATCH_ROWS", 7)
    seams = output.write_scores(ws, tmp_path / "seams.csv").read_bytes()
    assert small == seams
    header = small.split(b"\n", 1)[0]
    assert header.startswith(b'"unit_id","x","y","score"')


def _run_python(code: str) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_core_modules_are_imported_before_qt_on_start():
    """On the way to the first map geopandas, pandas, matplotlib and pydantic are imported
    before PySide6 (whose import hook would read each later module's source), and the window's
    start reports the first paint of each map."""
    out = _run_python(
        "import sys, json\n"
        "from skikt.app.main import run\n"
        "code = run(['--quit-after-map'])\n"
        "order = list(sys.modules)\n"
        "print(json.dumps({'code': code, 'order': {m: order.index(m) for m in "
        "('PySide6', 'geopandas', 'pandas', 'matplotlib.figure', 'pydantic', 'skikt.layers.workspace')}}))\n")
    lines = out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["code"] == 0
    order = result["order"]
    for name in ("geopandas", "pandas", "matplotlib.figure", "pydantic", "skikt.layers.workspace"):
        assert order[name] < order["PySide6"], name
    stamps = {" ".join(line.split()[:-1]): float(line.split()[-1]) for line in lines[:-1] if " map " in line}
    assert stamps["first map painted at"] <= stamps["priority map painted at"]
    assert 0 < stamps["first map cpu"] <= stamps["priority map cpu"]


def test_import_core_before_qt_does_not_import_qt():
    out = _run_python("import sys\nfrom skikt.app.main import import_core_before_qt\nimport_core_before_qt()\n"
                      "print('PySide6' in sys.modules, 'matplotlib.backends.backend_qtagg' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_bench_processes_start_with_compiled_bytecode(tmp_path):
    """The bench's fresh processes find their bytecode (as an installed copy does) even where the
    environment says never to write it; nothing else in the environment changes."""
    from skikt.layers.bench import _as_installed

    env = _as_installed({"PYTHONDONTWRITEBYTECODE": "1", "QT_QPA_PLATFORM": "offscreen"}, tmp_path)
    assert env == {"QT_QPA_PLATFORM": "offscreen", "PYTHONPYCACHEPREFIX": str(tmp_path)}
    code = "import sys; print(sys.dont_write_bytecode, sys.pycache_prefix)"
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | env
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)
    assert res.stdout.split() == ["False", str(tmp_path)]
