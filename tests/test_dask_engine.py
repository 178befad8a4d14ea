"""The national engine (layers/tiled.py) on dask: the same numbers as the in-memory engine, tile
edges crossed many times, exact global ranks and classes, and the files it writes.

A local cluster of two threads is started once for the module (no timing is asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import rankdata

from skikt.layers.errors import SkiktError
from skikt.layers.project import read_project
from skikt.layers.raster import GridSpec
from skikt.layers.tiled import (Cancelled, run_score_dask, score_tiles, start_client, suggest_dask,
                                tiles_of)
from skikt.layers.workspace import Workspace

SECTORS = {"pts": "healthcare", "lines": "transport", "zones": "water"}
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "sample_project.toml"


@pytest.fixture(scope="module")
def client():
    c, cluster = start_client(workers=2, processes=False)
    yield c
    c.close()
    cluster.close()


def in_memory(project_path) -> pd.DataFrame:
    ws = Workspace(read_project(project_path))
    ws.update()
    return ws.result_table()


@pytest.fixture(scope="module")
def sample_reference():
    return in_memory(SAMPLE)


def assert_same(dask_frame: pd.DataFrame, ref: pd.DataFrame, layer_ids) -> None:
    assert len(dask_frame) == len(ref)
    np.testing.assert_array_equal(dask_frame[["x", "y"]].to_numpy(), ref[["x", "y"]].to_numpy())
    for lid in layer_ids:
        np.testing.assert_allclose(dask_frame[f"{lid}_raw"], ref[f"{lid}_raw"], rtol=0, atol=1e-9, err_msg=lid)
        np.testing.assert_array_equal(dask_frame[f"{lid}_norm"], ref[f"{lid}_norm"], err_msg=lid)
    for column in ("score", "geo_score", "rank", "priority_class"):  # rank and class empty where a constraint removes
        np.testing.assert_array_equal(dask_frame[column].to_numpy(float, na_value=np.nan),
                                      ref[column].to_numpy(float, na_value=np.nan), err_msg=column)


# ------------------------------------------------------------------------------------------------
# Tiles


def test_tiles_are_aligned_to_multiples_of_cell_times_tile_cells_and_partition_the_grid():
    grid = GridSpec.covering((612_345.0, 6_543_210.0, 701_000.0, 6_600_001.0), 250.0)
    tiles = tiles_of(grid, 16)
    step = 250.0 * 16
    covered = np.zeros(grid.shape, int)
    for t in tiles:
        w = t.window
        covered[t.r0:t.r0 + w.ny, t.c0:t.c0 + w.nx] += 1
        # Every edge is the grid's own edge or a line at a multiple of 4,000 m.
        for edge, outer in ((w.x0, grid.x0), (w.x0 + w.nx * 250, grid.x0 + grid.nx * 250),
                            (w.y0, grid.y0), (w.y0 + w.ny * 250, grid.y0 + grid.ny * 250)):
            assert edge == outer or edge % step == 0
        assert w.x0 == grid.x0 + t.c0 * 250 and w.y0 == grid.y0 + t.r0 * 250
    assert (covered == 1).all()  # each cell in exactly one tile


def test_suggest_dask_above_three_million_cells():
    assert not suggest_dask(25_016)  # the sample county
    assert not suggest_dask(3_000_000)
    assert suggest_dask(3_000_001)
    assert suggest_dask(6_988_686)  # Sweden at 250 m


# ------------------------------------------------------------------------------------------------
# Equality with the in-memory engine


def test_sample_county_gives_the_in_memory_engines_numbers_across_many_tile_edges(client, sample_reference):
    project = read_project(SAMPLE)
    result = score_tiles(project, client, tile_cells=37)
    assert len(result.prepared.tiles) > 30  # 330 × 350 cells in tiles of 37: many edges crossed
    frame = result.frame(client)
    assert_same(frame, sample_reference, result.layer_ids)
    # Independent oracles for the global steps: scipy's ranks, and the class rule from the ranks.
    score = sample_reference["score"].to_numpy()
    scored = ~np.isnan(score)
    np.testing.assert_array_equal(frame["rank"][scored], rankdata(-score[scored], method="min"))
    n, k = scored.sum(), project.units.classes
    np.testing.assert_array_equal(frame["priority_class"][scored], 1 + (frame["rank"][scored] - 1) * k // n)


def _nasty_project(tmp: Path) -> Path:
    """A study area of overlapping and nested squares off the grid; points on cell and tile edges
    with tied and missing values; lines and overlapping, nested and sliver polygons across tile
    edges; every method and every normalisation."""
    rng = np.random.default_rng(13)
    crs = 3006
    study = [shapely.box(500_030, 6_500_040, 503_470, 6_503_010), shapely.box(502_000, 6_502_000, 505_210, 6_505_130),
             shapely.box(501_000, 6_501_000, 502_000, 6_502_000)]
    gpd.GeoDataFrame({"id": ["a", "b", "c"]}, geometry=study, crs=crs).to_file(tmp / "study.gpkg", layer="study")
    on_edges = np.array([[500_000 + 700 * i, 6_500_000 + 700 * j] for i in range(8) for j in range(8)], float)
    random = rng.uniform([500_000, 6_500_000], [505_300, 6_505_200], (400, 2))
    xy = np.vstack([on_edges, random])
    value = rng.choice([1.0, 2.0, 2.0, 5.0, np.nan], len(xy))  # ties and missing values
    gpd.GeoDataFrame({"v": value}, geometry=shapely.points(xy), crs=crs).to_file(tmp / "pts.gpkg", layer="pts")
    lines = [shapely.LineString(rng.uniform([500_000, 6_500_000], [505_300, 6_505_200], (6, 2))) for _ in range(12)]
    gpd.GeoDataFrame({"w": rng.uniform(1, 9, 12)}, geometry=lines, crs=crs).to_file(tmp / "lines.gpkg", layer="lines")
    centres = rng.uniform([500_300, 6_500_300], [505_000, 6_505_000], (25, 2))
    polys = list(shapely.buffer(shapely.points(centres), rng.uniform(80, 900, 25), quad_segs=5))
    polys += [shapely.box(501_400, 6_501_400, 503_400, 6_503_400), shapely.box(502_000, 6_502_000, 502_700, 6_502_700),
              shapely.box(503_000, 6_500_000, 503_000.5, 6_505_000)]  # a big one, one nested in it, a sliver
    gpd.GeoDataFrame({"u": rng.uniform(0, 100, len(polys))}, geometry=polys, crs=crs).to_file(
        tmp / "zones.gpkg", layer="zones")

    def layer(lid, path, method, normalize, extra=""):
        return (f'[[layers]]\nid = "{lid}"\npath = "{path}"\nsector = "{SECTORS[lid.split("_")[1]]}"\n[layers.indicator]\n'
                f'method = "{method}"\nnormalize = "{normalize}"\nweight = 1.5\n{extra}\n')

    text = 'schema_version = 1\n[project]\ntitle = "nasty"\ncrs = "EPSG:3006"\n'
    text += '[[layers]]\nid = "study"\npath = "study.gpkg"\nsector = "reference"\n\n'
    text += layer("count_pts", "pts.gpkg", "count", "minmax")
    text += layer("dens_pts", "pts.gpkg", "density", "rank", 'direction = "low"')
    text += layer("sum_pts", "pts.gpkg", "attribute", "rank", 'column = "v"\naggregate = "sum"')
    text += layer("mean_pts", "pts.gpkg", "attribute", "classes", 'column = "v"\naggregate = "mean"\n'
                  'scheme = "natural_breaks"\nk = 4')
    text += layer("dist_pts", "pts.gpkg", "distance", "zscore")
    text += layer("len_lines", "lines.gpkg", "length", "classes", 'scheme = "equal_interval"\nk = 3')
    text += layer("dist_lines", "lines.gpkg", "distance", "minmax", 'direction = "low"')
    text += layer("sum_lines", "lines.gpkg", "attribute", "minmax", 'column = "w"\naggregate = "sum"')
    text += layer("cov_zones", "zones.gpkg", "coverage", "classes", 'scheme = "quantiles"\nk = 5')
    text += layer("sum_zones", "zones.gpkg", "attribute", "rank", 'column = "u"\naggregate = "sum"')
    text += layer("awm_zones", "zones.gpkg", "attribute", "zscore", 'column = "u"')
    text += layer("dist_zones", "zones.gpkg", "distance", "minmax")
    text += '[units]\nkind = "grid"\ncell_size = 100\nstudy_area = { layer = "study" }\nclasses = 4\n'
    path = tmp / "nasty.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# The score options on dask: --scenario, --groups, --uncertainty and the sector overlap


def in_memory_with(project, groups: bool, uncertainty) -> pd.DataFrame:
    """What `skikt score` (the in-memory engine) writes with these options (layers/cli.cmd_score)."""
    from skikt.layers.groups import score_table_with_groups

    ws = Workspace(project)
    ws.update()
    mc = ws.weight_uncertainty(*uncertainty) if uncertainty else None
    table = ws.result_table(mc)
    if groups:
        table = score_table_with_groups(ws)
        if mc is not None:
            for column, values in mc.columns().items():
                table[column] = values
    return table


def assert_same_table(frame: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Every column of the in-memory table (but the text cell id) in the same order, equal bit for bit."""
    assert list(frame.columns) == [c for c in ref.columns if c != "unit_id"]
    for column in frame.columns:
        if column == "excluded_by":
            assert list(frame[column]) == list(ref[column])
        elif column.endswith("_raw"):
            np.testing.assert_allclose(frame[column], ref[column], rtol=0, atol=1e-9, err_msg=column)
        else:
            np.testing.assert_array_equal(frame[column].to_numpy(float, na_value=np.nan),
                                          ref[column].to_numpy(float, na_value=np.nan), err_msg=column)


def sector_overlap_oracle(frame: pd.DataFrame, project) -> np.ndarray:
    """Sector overlap from its definition, with numpy's sort: per sector with weight, the cells
    whose sector score (weighted mean of its own normalised indicators) is at least the
    ⌈n/k⌉-th largest."""
    k = project.units.classes
    specs = project.indicator_layers()
    overlap = np.zeros(len(frame), int)
    for sector in {s.sector for s in specs}:
        own = [s for s in specs if s.sector == sector and s.indicator.weight > 0]
        if not own:
            continue
        w = np.array([s.indicator.weight for s in own], np.float32)
        norm = np.vstack([frame[f"{s.id}_norm"].to_numpy(np.float32) for s in own])
        ok = ~np.isnan(norm)
        with np.errstate(invalid="ignore"):
            score = (np.where(ok, norm, 0) * w[:, None]).sum(0) / (ok * w[:, None]).sum(0)
        n = int((~np.isnan(score)).sum())
        threshold = np.sort(score[~np.isnan(score)])[::-1][-(-n // k) - 1]
        overlap += score >= threshold
    return overlap


OPTIONS = {"groups": dict(groups=True), "uncertainty": dict(uncertainty=(40, 0.3)),
           "scenario, no spread": dict(scenario="Beredskap", uncertainty=(5, 0.0)),
           "all": dict(scenario="Vård först", groups=True, uncertainty=(24, 0.2))}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_score_options_on_the_sample_county_give_the_in_memory_numbers(client, name):
    from skikt.layers.scenarios import apply_scenario

    options = dict(OPTIONS[name])
    project = read_project(SAMPLE)
    if "scenario" in options:
        project = apply_scenario(project, options.pop("scenario"))
    ref = in_memory_with(project, options.get("groups", False), options.get("uncertainty"))
    result = score_tiles(project, client, tile_cells=64, **options)  # 16 tiles
    frame = result.frame(client)
    assert_same_table(frame, ref)
    # Independent checks: the overlap's definition; p_top is a share of draws; ranks lie in 1…n.
    np.testing.assert_array_equal(frame["overlap"], sector_overlap_oracle(frame, project))
    if "uncertainty" in options:
        scored = ~np.isnan(frame["score"].to_numpy())
        p = frame["p_top"].to_numpy()[scored]
        draws = options["uncertainty"][0] if options["uncertainty"][1] else 1
        np.testing.assert_allclose(p * draws, np.round(p * draws), atol=1e-9)
        assert (frame["rank_p05"][scored] >= 1).all() and (frame["rank_p95"][scored] <= scored.sum()).all()
    if options.get("uncertainty", (0, 1))[1] == 0:  # no spread: every draw is the set weights
        top = frame["priority_class"].to_numpy() == 1
        np.testing.assert_array_equal(frame["p_top"][scored] == 1, top[scored])


def test_group_percentile_ranks_and_spread_against_scipy(client):
    """The groups' columns against scipy's average ranks, independently of layers/groups.py."""
    result = score_tiles(read_project(SAMPLE), client, tile_cells=64, groups=True)
    frame = result.frame(client)
    ids = result.extra.group_ids
    pct = []
    for gid in ids:
        s = frame[f"{gid}_score"].to_numpy()
        ok = ~np.isnan(s)
        np.testing.assert_array_equal(frame[f"{gid}_rank"][ok], rankdata(-s[ok], method="min"))
        n = ok.sum()
        p = np.full(len(s), np.nan)
        p[ok] = (n - rankdata(-s[ok], method="average")) / (n - 1)
        pct.append(p)
    np.testing.assert_allclose(frame["rank_spread"], np.nanmax(pct, 0) - np.nanmin(pct, 0), rtol=0, atol=1e-12)


def _with_groups_and_scenario(path: Path) -> Path:
    text = path.read_text(encoding="utf-8")
    text += ('[[groups]]\nid = "east"\nweights = { count_pts = 10, dist_lines = 50, cov_zones = 40 }\n'
             '[[groups]]\nid = "west"\nweights = { dens_pts = 70, awm_zones = 30, mean_pts = 5 }\n'
             '[[scenarios]]\nname = "only water"\nweights = { count_pts = 0, dens_pts = 0, sum_pts = 0, mean_pts = 0, '
             'dist_pts = 0, len_lines = 0, dist_lines = 0, sum_lines = 0 }\n')
    path.write_text(text, encoding="utf-8")
    return path


def test_score_options_on_the_awkward_project_give_the_in_memory_numbers(client, tmp_path):
    from skikt.layers.scenarios import apply_scenario

    path = _with_groups_and_scenario(_nasty_project(tmp_path))
    for scenario, options in ((None, dict(groups=True, uncertainty=(30, 0.5))), ("only water", dict(groups=True))):
        project = read_project(path)
        if scenario:
            project = apply_scenario(project, scenario)
        ref = in_memory_with(project, options["groups"], options.get("uncertainty"))
        result = score_tiles(project, client, tile_cells=7, **options)
        frame = result.frame(client)
        assert_same_table(frame, ref)
        np.testing.assert_array_equal(frame["overlap"], sector_overlap_oracle(frame, project))


def _decision_methods(project):
    """OWA with alpha 2, AHP weights for three layers, and a value curve on the distance to care."""
    project.extra["combine"] = {"method": "owa", "alpha": 2.0}
    project.extra["ahp"] = {"order": ["vard", "transport", "socio"],
                            "matrix": [[1, 3, 5], [0.333, 1, 3], [0.2, 0.333, 1]]}
    vard = project.layer("vard").indicator
    vard.normalize, vard.extra = "piecewise", {**vard.extra, "points": [[0, 1.0], [3000, 0.6], [20000, 0.0]]}
    return project


def test_owa_ahp_and_value_curves_on_dask_give_the_in_memory_numbers(client):
    ref = in_memory_with(_decision_methods(read_project(SAMPLE)), False, (16, 0.25))
    project = _decision_methods(read_project(SAMPLE))
    result = score_tiles(project, client, tile_cells=64, uncertainty=(16, 0.25))
    assert result.prepared.combine == ("owa", 2.0) and result.prepared.ahp is not None
    frame = result.frame(client)
    assert_same_table(frame, ref)
    # Independent: the curve by numpy's interp on the raw distances, the ranks by scipy.
    kept = (frame["excluded_by"] == "").to_numpy()  # the sample's training areas have no values
    curve = np.interp(frame["vard_raw"], [0, 3000, 20000], [1, 0.6, 0]).astype(np.float32)
    np.testing.assert_array_equal(frame["vard_norm"], np.where(kept, curve, np.nan))
    score = frame["score"].to_numpy()
    np.testing.assert_array_equal(frame["rank"][kept], rankdata(-score[kept], method="min"))


def test_monte_carlo_too_large_is_refused_before_any_tile(tmp_path):
    import skikt.layers.tiled_extras as extras

    out = tmp_path / "never.tif"
    with pytest.raises(SkiktError, match="cell-draws") as err:
        # 25,016 cells × 100,000 draws: far above the limit; no cluster is started for it.
        run_score_dask(SAMPLE, out, workers=1, uncertainty=(100_000, 0.2))
    assert "at most 39,9" in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.glob("never*")) == [] and extras.MC_MAX_CELL_DRAWS == 1_000_000_000


def test_constraint_layers_remove_cells_as_in_memory(client, tmp_path):
    """The sample's military training areas (role = "exclude") and a second, overlapping constraint
    of our own: the same excluded_by, empty ranks and classes, and normalisation over the rest."""
    path = _with_groups_and_scenario(_nasty_project(tmp_path))
    gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.box(501_050, 6_501_050, 502_650, 6_502_350),
                                               shapely.box(503_000, 6_503_000, 503_700, 6_504_000)],
                     crs=3006).to_file(tmp_path / "closed.gpkg", layer="closed")
    text = path.read_text(encoding="utf-8").replace("[units]", '[[layers]]\nid = "closed"\npath = "closed.gpkg"\n'
                                                   'sector = "reference"\nrole = "exclude"\n\n[units]')
    path.write_text(text, encoding="utf-8")
    for project_path, tiles in ((path, 7), (SAMPLE, 64)):
        ref = in_memory_with(read_project(project_path), True, (12, 0.2))
        result = score_tiles(read_project(project_path), client, tile_cells=tiles, groups=True, uncertainty=(12, 0.2))
        frame = result.frame(client)
        assert_same_table(frame, ref)
        assert list(frame["excluded_by"]) == list(ref["excluded_by"])
        out = (frame["excluded_by"] != "").to_numpy()
        assert out.sum() > 10 and frame["rank"][out].isna().all() and frame["p_top"][out].isna().all()
        if project_path == path:  # independent: removed when the centre lies in (or on) an area
            closed = shapely.union_all(gpd.read_file(tmp_path / "closed.gpkg").geometry.to_numpy())
            centres = shapely.points(frame[["x", "y"]].to_numpy())
            np.testing.assert_array_equal(out, shapely.intersects(centres, closed))
            scored = frame["score"].notna().to_numpy()
            np.testing.assert_array_equal(frame["rank"][scored], rankdata(-frame["score"][scored], method="min"))


def test_every_method_and_normalisation_matches_and_sums_are_conserved_across_tile_edges(client, tmp_path):
    path = _nasty_project(tmp_path)
    ref = in_memory(path)
    result = score_tiles(read_project(path), client, tile_cells=7)  # 700 m tiles: ~60 tiles
    assert len(result.prepared.tiles) > 50
    frame = result.frame(client)
    assert_same(frame, ref, result.layer_ids)

    # Independent oracles, cell by cell and in total.
    cells = shapely.box(frame.x - 50, frame.y - 50, frame.x + 50, frame.y + 50)
    covered = shapely.union_all(cells)
    pts = gpd.read_file(tmp_path / "pts.gpkg")
    pxy = shapely.get_coordinates(pts.geometry.to_numpy())
    key = pd.Series(list(zip(np.floor(pxy[:, 0] / 100) * 100 + 50, np.floor(pxy[:, 1] / 100) * 100 + 50)))
    counts = key.value_counts()
    expected = np.array([counts.get((x, y), 0) for x, y in zip(frame.x, frame.y)], float)
    np.testing.assert_array_equal(frame["count_pts_raw"], expected)
    zones = gpd.read_file(tmp_path / "zones.gpkg")
    geoms = zones.geometry.to_numpy()
    share = shapely.area(shapely.intersection(geoms, covered)) / shapely.area(geoms)
    assert frame["sum_zones_raw"].sum() == pytest.approx((zones.u.to_numpy() * share).sum(), rel=1e-9)
    lines = gpd.read_file(tmp_path / "lines.gpkg")
    inside = shapely.length(shapely.intersection(lines.geometry.to_numpy(), covered))
    assert frame["len_lines_raw"].sum() * 0.01 == pytest.approx(inside.sum(), rel=1e-9)  # m/km², cells of 0.01 km²
    truth = shapely.distance(shapely.points(frame[["x", "y"]].to_numpy()), shapely.union_all(pts.geometry.to_numpy()))
    np.testing.assert_allclose(frame["dist_pts_raw"], truth, rtol=0, atol=1e-9)
    score = frame["score"].to_numpy()
    scored = ~np.isnan(score)
    np.testing.assert_array_equal(frame["rank"][scored], rankdata(-score[scored], method="min"))


# ------------------------------------------------------------------------------------------------
# Outputs, progress and cancel


@pytest.fixture(scope="module")
def sample_tif(tmp_path_factory):
    out = tmp_path_factory.mktemp("cog") / "sample.tif"
    steps = []
    summary = run_score_dask(SAMPLE, out, workers=1, processes=False, tile_cells=64,
                             progress=lambda f, m: steps.append((f, m)))
    return out, summary, steps


def test_cog_holds_one_band_per_column_with_descriptions_overviews_and_the_engines_values(sample_tif, sample_reference):
    import rasterio
    from rasterio.transform import rowcol

    out, summary, steps = sample_tif
    ids = [c[:-5] for c in sample_reference.columns if c.endswith("_norm")]
    names = [f"{i}_norm" for i in ids] + ["score", "rank", "priority_class"]
    with rasterio.open(out) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.count == len(names) and list(ds.descriptions) == names
        assert ds.nodata == -9999.0 and ds.crs.to_epsg() == 3006
        assert ds.profile["tiled"] and ds.block_shapes[0] == (512, 512)
        assert ds.overviews(1)  # at least one level
        rows, cols = rowcol(ds.transform, sample_reference.x.to_numpy(), sample_reference.y.to_numpy())
        data = ds.read()
    for b, name in enumerate(names):
        got = data[b][rows, cols].astype(float)
        want = sample_reference[name].to_numpy(float, na_value=np.nan)  # excluded cells: no rank, class
        np.testing.assert_array_equal(np.where(got == -9999.0, np.nan, got), want, err_msg=name)
    assert (data[:, 0, 0] == -9999.0).all()  # the north-west corner is outside Stockholms län
    assert summary["cells"] == len(sample_reference)
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_geoparquet_holds_every_cell_as_its_centre_point(tmp_path, sample_reference):
    out = tmp_path / "sample.parquet"
    run_score_dask(SAMPLE, out, workers=1, processes=False, tile_cells=128)
    frame = gpd.read_parquet(out)
    assert frame.crs.to_epsg() == 3006 and len(frame) == len(sample_reference)
    frame = frame.sort_values(["y", "x"]).reset_index(drop=True)
    ref = sample_reference.sort_values(["y", "x"]).reset_index(drop=True)
    np.testing.assert_array_equal(shapely.get_coordinates(frame.geometry.to_numpy()), ref[["x", "y"]].to_numpy())
    for column in ("score", "rank", "priority_class", "vard_raw", "vattenskydd_norm"):
        np.testing.assert_array_equal(frame[column].to_numpy(float, na_value=np.nan),
                                      ref[column].to_numpy(float, na_value=np.nan), err_msg=column)


def test_csv_warns_about_its_size(tmp_path, monkeypatch, sample_reference):
    import skikt.layers.tiled_output as output

    monkeypatch.setattr(output, "CSV_WARN_ROWS", 1000)
    out = tmp_path / "sample.csv"
    summary = run_score_dask(SAMPLE, out, workers=1, processes=False, tile_cells=128)
    assert any("CSV of 25,016 rows" in w for w in summary["warnings"])
    frame = pd.read_csv(out).sort_values("unit_id").reset_index(drop=True)
    ref = sample_reference.sort_values("unit_id").reset_index(drop=True)
    assert list(frame.unit_id) == list(ref.unit_id)
    np.testing.assert_array_equal(frame["rank"].to_numpy(float), ref["rank"].to_numpy(float, na_value=np.nan))


def test_cancel_stops_the_run_and_leaves_no_file(tmp_path):
    out = tmp_path / "never.tif"
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        run_score_dask(SAMPLE, out, workers=1, processes=False, tile_cells=64, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(SkiktError, match="writes .tif"):
        run_score_dask(SAMPLE, tmp_path / "out.shp", workers=1, processes=False)
    areas = tmp_path / "areas.toml"
    areas.write_text(SAMPLE.read_text(encoding="utf-8").replace(
        'kind = "grid"\ncell_size = 500', 'kind = "areas"\nlayer = "kommuner"\nid = "code"'), encoding="utf-8")
    shutil.copytree(SAMPLE.parent, tmp_path / "data", ignore=shutil.ignore_patterns("*.toml", "__pycache__"))
    moved = tmp_path / "data" / "areas.toml"
    areas.replace(moved)
    with pytest.raises(SkiktError, match="scores grids"):
        run_score_dask(moved, tmp_path / "out.tif", workers=1, processes=False)
    assert not (tmp_path / "out.tif").exists()


QGIS_CHECK = """
import json, sys
from qgis.core import QgsApplication, QgsRasterLayer
app = QgsApplication([], False)
app.initQgis()
layer = QgsRasterLayer(sys.argv[1], "national", "gdal")
print(json.dumps({"valid": layer.isValid(), "bands": layer.bandCount(),
                  "names": [layer.bandName(i) for i in range(1, layer.bandCount() + 1)]}))
"""


def test_cog_opens_in_qgis(sample_tif, tmp_path):
    python = shutil.which("python3", path="/usr/bin")
    if python is None or subprocess.run([python, "-c", "import qgis.core"], capture_output=True).returncode != 0:
        pytest.skip("PyQGIS is not installed")
    out, _, _ = sample_tif
    script = tmp_path / "check.py"
    script.write_text(QGIS_CHECK, encoding="utf-8")
    run = subprocess.run([python, str(script), str(out)], capture_output=True, text=True, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["valid"] and found["bands"] == 11
    # QGIS shows "Band 01: <description>" (zero-padded when there are ten bands or more).
    described = [name.split(": ", 1)[1] for name in found["names"]]
    assert described[0] == "vard_norm" and described[-3:] == ["score", "rank", "priority_class"]



def test_cog_names_its_weights_classes_and_project_for_the_national_view(sample_tif):
    """The national view re-weights a COG from these tags; they must say what the scores used."""
    import json

    import rasterio
    import tomllib

    out, _, _ = sample_tif
    with rasterio.open(out) as ds:
        tags = ds.tags()
    with open(SAMPLE, "rb") as f:
        doc = tomllib.load(f)  # the file itself, not Skikt's reader
    expected = {lay["id"]: float(lay["indicator"].get("weight", 1.0)) for lay in doc["layers"]
                if "indicator" in lay and lay["indicator"].get("active", True) and lay.get("role") != "exclude"}
    weights = json.loads(tags["SKIKT_WEIGHTS"])
    assert {k: v for k, v in weights.items()} == {k: expected[k] for k in weights}
    assert set(weights) <= set(expected)
    assert int(tags["SKIKT_CLASSES"]) == doc["units"].get("classes", 5)
    assert (out.parent / tags["SKIKT_PROJECT"]).resolve() == Path(SAMPLE).resolve()
