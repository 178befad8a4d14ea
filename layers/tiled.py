"""The national engine: the same scores as the in-memory engine, computed tile by tile on dask.

The grid is the in-memory engine's grid (cells of ``cell_size`` with edges at multiples of the
cell size, the centre rule for the study area). It is cut into tiles along the lines at
multiples of ``cell_size × tile_cells`` (SCB-aligned: a tile never splits a cell and the same
tiles come out whatever the study area). Every step that touches cells runs per tile on a
``dask.distributed`` cluster; only small global statistics travel to the client.

Exactness, step by step (the equality test checks each against the in-memory engine):

* raw values: each tile calls the in-memory indicator code (``indicators.compute``) on its own
  window of the grid. Distances get the WHOLE layer (the source features are broadcast to every
  worker once), so the nearest feature beyond a tile's edge is found. Count, density, coverage,
  length and attribute get the features that touch the tile, whole (never clipped), so a
  polygon's area share and a line's length share are the same as on the whole grid and sums are
  conserved. Exact areas (coverage, polygon ``sum``) run Green's theorem on the tile's rows of
  the whole grid (``raster.area_per_cell_rows``), with the layer's disjoint union made once on
  the client, so they are the in-memory values bit for bit;
* normalisation uses global statistics: min and max by reduction; ``rank`` and class breaks from
  the global table of distinct values and their counts (a tree-merge of per-tile
  ``np.unique`` tables), which gives every order statistic and every tie exactly; ``zscore``'s
  mean and standard deviation from the column gathered in the in-memory engine's cell order
  (8 bytes per cell on the client), so they are the in-memory engine's numbers bit for bit;
* scores: the composite's own ``Normalised.weighted_mean`` per tile (elementwise);
* ranks and priority classes: from the global distinct-score table: rank = 1 + number of
  scores above, class = 1 + number of the k − 1 class thresholds (order statistics read from the
  table) the score is below, exactly as ``composite.ranks`` and ``composite.quantile_classes``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from . import indicators as ind
from .composite import (_equal_interval_breaks, _fisher_jenks, _quantile_breaks, _spread_breaks, classify,
                        combined_score, JENKS_MAX_VALUES, piecewise)
from .errors import SkiktError
from .project import IndicatorSpec, Project, check_scorable, read_project
from .raster import GridSpec, area_per_cell_rows, disjoint_union, fill_polygons
from .tiled_extras import (distinct_table, draw_ranks, draw_scores, extra_scores, ExtraSpec, group_columns,
                           MC_TABLE_BYTES, merge_sorted, overlap_of, sorted_scores, tile_rows, uncertainty_columns)
from .units import Units
from .workspace import Cancelled, Workspace

TILE_CELLS = 1024  # cells along a tile side: 1024² cells ≈ 8 MB per float64 band per tile
# Above this many cells `skikt score` suggests --engine dask: the in-memory engine's peak is
# about 1.2 GB at 2.5 M cells with 8 indicators (docs/notes/N.md); at 3 M cells it passes 1.5 GB
# and the national 250 m grid (6.5 M) would need several GB on one core.
DASK_SUGGEST_CELLS = 3_000_000

TEST_DELAY_ENV = "SKIKT_TEST_TILE_DELAY"

Progress = Callable[[float, str], None]


def suggest_dask(n_cells: int) -> bool:
    """Whether a grid of ``n_cells`` cells should be scored with ``--engine dask``."""
    return n_cells > DASK_SUGGEST_CELLS


# ------------------------------------------------------------------------------------------------
# Tiles


@dataclass(frozen=True)
class Tile:
    """A window of the global grid: rows r0…r0+ny-1, columns c0…c0+nx-1 (row 0 south)."""

    index: int
    r0: int
    c0: int
    window: GridSpec


def tiles_of(grid: GridSpec, tile_cells: int = TILE_CELLS) -> list[Tile]:
    """The grid cut along the lines at multiples of cell × tile_cells (absolute coordinates), so
    a tile's edges are SCB grid lines of the coarser tile grid; the outer tiles are clipped to the grid."""

    def cuts(origin: float, n: int) -> list[int]:
        first = round(origin / grid.cell)  # the grid's origin in cells from 0 (an integer: SCB-aligned)
        inner = range(-(-first // tile_cells) * tile_cells - first, n, tile_cells)
        return sorted({0, n, *[c for c in inner if 0 < c < n]})

    rows, cols = cuts(grid.y0, grid.ny), cuts(grid.x0, grid.nx)
    out = []
    for r0, r1 in zip(rows[:-1], rows[1:]):
        for c0, c1 in zip(cols[:-1], cols[1:]):
            window = GridSpec(grid.x0 + c0 * grid.cell, grid.y0 + r0 * grid.cell, grid.cell, c1 - c0, r1 - r0)
            out.append(Tile(len(out), r0, c0, window))
    return out


def window_units(study: np.ndarray, window: GridSpec, crs) -> Units:
    """The study area's cells inside one window, as grid Units over that window (no text ids:
    the indicator code does not need them and 45 M strings would not fit)."""
    flat = np.flatnonzero(fill_polygons(study, window).ravel())
    centres = window.centres(flat)
    area = np.full(len(flat), (window.cell / 1000.0) ** 2)
    return Units("grid", np.empty(len(flat), dtype=object), centres, area, crs, grid=window, flat=flat)


# ------------------------------------------------------------------------------------------------
# Per-tile work (runs on the workers)


@dataclass
class TileRaw:
    tile: Tile
    flat: np.ndarray  # (n,) cell index within the tile's window
    raw: np.ndarray  # (m, n) float64
    # (n,) int8: 0 for a cell that stays, i + 1 for a cell the i-th constraint layer removes
    excluded: np.ndarray | None = None

    def masked(self, j: int) -> np.ndarray:
        """Indicator j's raw values with removed cells missing: what is normalised (the in-memory
        engine normalises over the remaining units only)."""
        if self.excluded is None:
            return self.raw[j]
        return np.where(self.excluded > 0, np.nan, self.raw[j])


@dataclass
class TileScored:
    tile: Tile
    flat: np.ndarray
    norm: np.ndarray  # (m, n) float32
    score: np.ndarray  # (n,) float32
    geo: np.ndarray  # (n,) float32
    rank: np.ndarray | None = None  # (n,) int64, 0 = no score
    cls: np.ndarray | None = None  # (n,) int16, 0 = no score
    overlap: np.ndarray | None = None  # (n,) int8: sectors in whose own top class the cell is
    excluded: np.ndarray | None = None  # (n,) int8 codes as TileRaw.excluded
    extra: dict = field(default_factory=dict)  # --groups / --uncertainty columns, in output order


@dataclass
class IndicatorJob:
    """What a tile needs to compute one raw indicator."""

    layer_id: str
    spec: IndicatorSpec
    whole: bool  # distance, or a mixed layer: the tile gets every feature
    fill: float  # the value where a tile holds no feature of the layer (0 for sums, NaN for means)
    band: bool = False  # exact areas per cell (coverage, polygon sums): computed on the tile's rows


def _band_values(job: IndicatorJob, part, tile: Tile, grid: GridSpec, units: Units) -> np.ndarray:
    """Areas per cell by Green's theorem on the tile's rows of the WHOLE grid: the cumulative sum
    along each row then runs over the same cells as on the whole grid, so the values are the
    in-memory engine's bit for bit (a window of its own would differ in the last bits, and a
    class bound on a tie would then put a cell in another class)."""
    r0, r1 = tile.r0, tile.r0 + tile.window.ny
    geoms = part.geometry.to_numpy()
    if job.spec.method == "coverage":  # ``part`` holds the layer's disjoint union, made once on the client
        values = np.clip(area_per_cell_rows(geoms, grid, r0, r1) / grid.cell**2, 0.0, 1.0)
    else:  # raster.apportion_per_cell: each polygon's value spread by area share
        v = _numbers(part, job.spec.column)
        whole = shapely.area(geoms)
        ok = np.isfinite(v) & (whole > 0)
        share = np.where(ok, v / np.where(ok, whole, 1.0), 0.0)
        values = area_per_cell_rows(np.where(ok, geoms, None), grid, r0, r1, share)
    window = values.reshape(r1 - r0, grid.nx)[:, tile.c0: tile.c0 + tile.window.nx]
    return np.clip(window.ravel()[units.flat], 0, 1) if job.spec.method == "coverage" else window.ravel()[units.flat]


def _excluded_codes(units: Units, exclusions: list | None) -> np.ndarray | None:
    """exclusions.excluded_by on the tile's cells (a cell is removed by its centre: elementwise),
    as small integer codes instead of 45 M strings."""
    if exclusions is None:
        return None
    from .exclusions import excluded_by

    names = excluded_by(units, exclusions)
    codes = np.zeros(units.n, np.int8)
    for i, (layer_id, _, _) in enumerate(exclusions):
        codes[names == layer_id] = i + 1
    return codes


def _raw_of_tile(tile: Tile, study, crs, jobs: list[IndicatorJob], frames: list, subsets: list,
                 grid: GridSpec, exclusions: list | None = None) -> TileRaw:
    _test_delay()
    units = window_units(study, tile.window, crs)
    raw = np.empty((len(jobs), units.n))
    if units.n == 0:
        return TileRaw(tile, units.flat, raw, np.zeros(0, np.int8) if exclusions is not None else None)
    for j, (job, frame, subset) in enumerate(zip(jobs, frames, subsets)):
        part = frame if job.whole else frame.iloc[subset]
        if len(part) == 0 or (job.spec.method == "attribute" and not np.isfinite(
                _numbers(part, job.spec.column)).any()):
            raw[j] = job.fill  # nothing of this layer touches the tile: what the whole grid has there
            continue
        if job.band:
            raw[j] = _band_values(job, part, tile, grid, units)
        else:
            raw[j] = ind.compute(job.spec, part, units, job.layer_id).values
    return TileRaw(tile, units.flat, raw, _excluded_codes(units, exclusions))


def _test_delay() -> None:
    """SKIKT_TEST_TILE_DELAY=SECONDS makes every tile sleep that long before its work: a hook that
    lets the cancel test interrupt a run that is certainly still going. Only a sleep, and only
    when the variable holds a number of seconds (at most a minute)."""
    text = os.environ.get(TEST_DELAY_ENV)
    if text:
        try:
            seconds = float(text)
        except ValueError:
            return
        if 0 < seconds <= 60:
            time.sleep(seconds)


def _numbers(frame, column: str) -> np.ndarray:
    import pandas as pd

    v = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    return np.where(np.isinf(v), np.nan, v)


def _raw_column(t: TileRaw, j: int) -> np.ndarray:
    v = t.masked(j)
    return v[~np.isnan(v)]


def _tile_summary(t: TileRaw, tables: list[bool]) -> dict:
    """Per indicator: count, min and max of the values, and where asked the distinct-value table."""
    out = []
    for j in range(t.raw.shape[0]):
        v = _raw_column(t, j)
        entry = {"n": len(v), "min": v.min() if len(v) else np.inf, "max": v.max() if len(v) else -np.inf}
        if tables[j]:
            entry["table"] = np.unique(v, return_counts=True)
        out.append(entry)
    return {"cells": len(t.flat), "indicators": out}


def _gather_column(t: TileRaw, j: int, grid_nx: int):
    """(global flat index, value) of the tile's cells: the zscore column in the in-memory order."""
    r, c = np.divmod(t.flat, t.tile.window.nx)
    return (r + t.tile.r0) * grid_nx + (c + t.tile.c0), t.masked(j)


def merge_tables(a, b):
    """Two (sorted distinct values, counts) tables as one. A stable sort of two sorted runs is a
    merge (numpy's timsort finds the runs), so this is linear, not a full sort."""
    values = np.concatenate([a[0], b[0]])
    counts = np.concatenate([a[1], b[1]])
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    if len(values) == 0:
        return values, counts
    first = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return values[first], np.add.reduceat(counts, first)


@dataclass
class NormStats:
    """Global statistics that normalise one indicator exactly as the in-memory engine does."""

    method: str
    direction: str
    n: int
    lo: float
    hi: float
    mean: float = 0.0
    std: float = 1.0
    breaks: np.ndarray | None = None
    k: int = 5
    points: list | None = None  # the value curve of normalize = "piecewise"


class SortedView:
    """The sorted values behind a distinct-value table, indexable by position without being built:
    ``view[p]`` is the p-th smallest value (0-based), ``len(view)`` the number of values."""

    def __init__(self, values: np.ndarray, counts: np.ndarray):
        self.values = values
        self.cum = np.cumsum(counts)  # values ≤ values[i]

    def __len__(self) -> int:
        return int(self.cum[-1]) if len(self.cum) else 0

    def __getitem__(self, positions):
        return self.values[np.searchsorted(self.cum, np.asarray(positions), side="right")]

    def below_and_equal(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For values present in the table: how many values are below each and how many equal it.
        The queries are looked up once per distinct value, in sorted order (cache-friendly)."""
        distinct, inverse = np.unique(x, return_inverse=True)
        i = np.searchsorted(self.values, distinct)
        le = self.cum[i]
        eq = le - np.r_[0, self.cum][i]
        return (le - eq)[inverse], eq[inverse]


def class_breaks_from_table(view: SortedView, scheme: str, k: int) -> np.ndarray:
    """``composite.class_breaks`` from the global table, without the values themselves."""
    if len(view) == 0:
        return np.array([])
    if scheme == "quantiles":
        return _quantile_breaks(view, k)  # reads v[position] and len(v) only
    if scheme == "equal_interval":
        return _equal_interval_breaks(view[np.array([0, len(view) - 1])], k)
    if scheme == "natural_breaks":
        distinct, counts = view.values, np.diff(np.r_[0, view.cum])
        if len(distinct) <= k:
            return _spread_breaks(distinct, k)
        if len(distinct) > JENKS_MAX_VALUES:  # composite._order_statistics, on the table
            sample = view[np.round(np.linspace(0, len(view) - 1, JENKS_MAX_VALUES)).astype(np.int64)]
            if len(np.unique(sample)) < k:
                picks = np.round(np.linspace(0, len(distinct) - 1, JENKS_MAX_VALUES)).astype(np.int64)
                sample = np.concatenate([sample, distinct[picks]])
            distinct, counts = np.unique(sample, return_counts=True)
        return _fisher_jenks(distinct, counts.astype(np.float64), k)
    raise ValueError(f"unknown classification scheme '{scheme}'")


def normalise_tile(raw: np.ndarray, st: NormStats, table: tuple | None) -> np.ndarray:
    """``composite.normalise`` of one tile's values with the global statistics (same operations,
    same order, so the same float32 results)."""
    if st.method == "piecewise":  # elementwise and absolute: no global statistic at all
        return piecewise(raw, st.points)
    x = np.asarray(raw, np.float64)
    ok = ~np.isnan(x)
    out = np.full(x.shape, np.nan)
    if st.n == 0:
        return out.astype(np.float32)
    v = x[ok]
    if st.hi == st.lo:
        out[ok] = 0.5
        return out.astype(np.float32)
    if st.method == "minmax":
        n = (v - st.lo) / (st.hi - st.lo)
    elif st.method == "rank":
        below, equal = table.below_and_equal(v)
        starts, ends = below, below + equal
        n = ((starts + ends + 1) / 2.0 - 1) / max(st.n - 1, 1)
    elif st.method == "zscore":
        from scipy.special import ndtr

        n = ndtr((v - st.mean) / st.std)
    elif st.method == "classes":
        n = (classify(v, st.breaks) - 1) / max(st.k - 1, 1)
    else:
        raise ValueError(f"unknown normalisation '{st.method}'")
    out[ok] = n if st.direction == "high" else 1.0 - n
    return out.astype(np.float32)


def _score_tile(t: TileRaw, stats: list[NormStats], tables: list, ids, sectors, weights, all_valid: bool,
                extra: ExtraSpec) -> TileScored:
    norm = np.vstack([normalise_tile(t.masked(j), st, tables[j]) for j, st in enumerate(stats)]) if stats else \
        np.zeros((0, len(t.flat)), np.float32)
    rows = tile_rows(norm, ids, sectors, all_valid)
    w = np.asarray(weights, np.float32)
    score = combined_score(rows, w, extra.method, extra.alpha)  # [combine]: per cell, as composite.combine
    return TileScored(t.tile, t.flat, norm, score, rows.geometric_mean(w), excluded=t.excluded)


def _score_table(t: TileScored):
    s = t.score[~np.isnan(t.score)]
    return np.unique(s, return_counts=True)


def _rank_tile(t: TileScored, table, thresholds: np.ndarray) -> TileScored:
    """Rank 1 + (scores above), class 1 + (thresholds above the score); 0 where no score."""
    s = t.score
    scored = ~np.isnan(s)
    rank = np.zeros(len(s), np.int64)
    cls = np.ones(len(s), np.int16)
    if scored.any():
        view = table
        below, equal = view.below_and_equal(s[scored])
        rank[scored] = 1 + len(view) - below - equal
        for threshold in thresholds:
            cls += s < threshold  # NaN compares False
    cls[~scored] = 0
    t.rank, t.cls = rank, cls
    return t


# The sector and group scores are recomputed from the tile's normalised values each time they are
# needed (a few multiply-adds per cell) rather than held: at 100 m over Sweden three sector
# scores alone would hold half a gigabyte between the scoring and the overlap.


def _sector_table(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, i: int):
    return distinct_table(tile_rows(t.norm, ids, sectors, all_valid).weighted_mean(spec.sectors[i]))


def _group_table(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, i: int):
    rows = tile_rows(t.norm, ids, sectors, all_valid)
    return distinct_table(rows.weighted_mean(np.asarray(spec.group_vectors[i], np.float32)))


def _finish_tile(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, sector_thresholds: list,
                 group_views: list) -> TileScored:
    """Overlap and group columns from the global thresholds and tables."""
    sector, group = extra_scores(tile_rows(t.norm, ids, sectors, all_valid), spec)
    t.overlap = overlap_of(sector, sector_thresholds)
    if group_views:
        t.extra.update(group_columns(group, group_views, spec.group_ids))
    return t


def _draw_scored(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool):
    rows = tile_rows(t.norm, ids, sectors, all_valid)
    scored = ~np.isnan(combined_score(rows, spec.draws[0], spec.method, spec.alpha))
    return rows, scored


def _mc_sorted(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, start: int, stop: int):
    rows, _ = _draw_scored(t, spec, ids, sectors, all_valid)
    return sorted_scores(draw_scores(rows, spec, start, stop))


def _mc_ranks(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, start: int, stop: int, merged,
              dtype) -> np.ndarray:
    rows, scored = _draw_scored(t, spec, ids, sectors, all_valid)
    return draw_ranks(draw_scores(rows, spec, start, stop), merged, scored, dtype)


def _mc_finish(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool, top_size: int, *chunks) -> TileScored:
    _, scored = _draw_scored(t, spec, ids, sectors, all_valid)
    t.extra.update(uncertainty_columns(list(chunks), scored, top_size))
    return t


# ------------------------------------------------------------------------------------------------
# The client side


@dataclass
class Prepared:
    """The project loaded on the client: the grid, tiles and what every tile needs."""

    project: Project
    grid: GridSpec
    tiles: list[Tile]
    study: np.ndarray
    jobs: list[IndicatorJob]
    frames: list
    subsets: list[list[np.ndarray]]  # per indicator, per tile: feature indices touching the tile
    sectors: list[str]
    warnings: list[str] = field(default_factory=list)
    combine: tuple[str, float] = ("mean", 1.0)  # [combine] method and alpha
    ahp: object = None  # the [ahp] result whose weights the project now carries, or None
    exclusions: list | None = None  # constraint layers: [(layer id, geometries, share)]


def _job(spec, frame) -> IndicatorJob:
    i = spec.indicator
    fam = ind.family(frame)
    if i.method == "attribute":
        how = i.aggregate or ind.default_aggregate(frame)
        if how == "area_weighted_mean" and fam == "point":
            how = "mean"
        i = IndicatorSpec(i.method, i.column, how, i.direction, i.normalize, i.weight, i.scheme, i.k, i.extra)
        fill = 0.0 if how == "sum" else np.nan
    else:
        fill = 0.0
    band = fam == "polygon" and (i.method == "coverage" or (i.method == "attribute" and i.aggregate == "sum"))
    return IndicatorJob(spec.id, i, i.method == "distance" or fam == "mixed", fill, band)


def _validate(job: IndicatorJob, frame, study, crs) -> list[str]:
    """Run the layer once on one cell: the in-memory engine's refusals (missing column, coverage
    of lines, dates…) and warnings come out here, before any tile is computed."""
    x0, y0, _, _ = shapely.total_bounds(study)
    one = GridSpec(math.floor(x0 / 1000) * 1000, math.floor(y0 / 1000) * 1000, 1000.0, 1, 1)
    units = Units("grid", np.array(["probe"], dtype=object), one.centres(np.array([0])), np.array([1.0]), crs,
                  grid=one, flat=np.array([0]))
    return ind.compute(job.spec, frame, units, job.layer_id).warnings


def _exclusions(project: Project, ws: Workspace) -> list | None:
    """The constraint layers as Workspace._update_exclusions passes them to exclusions.excluded_by:
    [(layer id, geometries, share)], None when the project has none."""
    from .exclusions import exclusion_share, is_exclusion

    specs = [s for s in project.layers if is_exclusion(s)]
    for spec in specs:
        ws.load_layer(spec)
    layers = [(s.id, ws.layers[s.id].geo.geometry.to_numpy(), exclusion_share(s, project.path))
              for s in specs if ws.layers[s.id].geo is not None]
    return layers or None


def prepare(project: Project, tile_cells: int = TILE_CELLS) -> Prepared:
    check_scorable(project)
    if project.units.kind != "grid":
        raise SkiktError(f"{project.path}: --engine dask scores grids; this project's units are areas "
                         "(a few hundred areas need no cluster: use the default engine)")
    ws = Workspace(project)
    combine = ws.combine_method()  # refuses a bad [combine] table as the in-memory engine does
    ws._update_ahp()  # the [ahp] weights replace the layers' weights, as in memory, before any job is made
    specs = project.indicator_layers()
    for spec in specs:
        ws.load_layer(spec)
    sa = project.units.study_area
    if sa:
        ws.load_layer(project.layer(sa["layer"]))
        study = ws._study_area()
    else:
        b = np.array([ws.layers[s.id].geo.total_bounds for s in specs])
        study = np.array([shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())])
    cell = float(project.units.cell_size)
    grid = GridSpec.covering(shapely.total_bounds(study), cell)
    tiles = tiles_of(grid, tile_cells)
    boxes = shapely.box(*np.array([[t.window.x0, t.window.y0, t.window.x0 + t.window.nx * cell,
                                     t.window.y0 + t.window.ny * cell] for t in tiles]).T)
    # Tiles the study area does not touch hold no cell.
    touched = np.unique(shapely.STRtree(boxes).query(study, predicate="intersects")[1])
    tiles = [Tile(n, t.r0, t.c0, t.window) for n, t in enumerate(tiles[i] for i in touched)]
    boxes = boxes[touched]
    band_boxes = shapely.box(grid.x0, [t.window.y0 for t in tiles], grid.x0 + grid.nx * cell,
                             [t.window.y0 + t.window.ny * cell for t in tiles])
    jobs, frames, subsets, warnings = [], [], [], []
    for spec in specs:
        frame = ws.layers[spec.id].geo
        if frame is None or len(frame) == 0:
            raise SkiktError(f"layer '{spec.id}' has no features to compute '{spec.indicator.method}' from")
        job = _job(spec, frame)
        warnings += [f"{spec.id}: {w}" for w in _validate(job, frame, study, project.crs)]
        keep = [c for c in (job.spec.column,) if c and c in frame.columns]
        frame = frame[[*keep, frame.geometry.name]]
        if job.band and job.spec.method == "coverage":
            # The union once, for every tile: the same polygons the in-memory engine measures.
            frame = gpd.GeoDataFrame(geometry=disjoint_union(frame.geometry.to_numpy()), crs=frame.crs)
        frames.append(frame)
        # Features touching the tile, or for exact areas the tile's rows across the whole grid.
        reach = band_boxes if job.band else boxes
        if job.whole:
            subsets.append([None] * len(tiles))
        else:
            # Features touching the tile (a margin of a millionth of a cell for those on its edge).
            ti, fi = shapely.STRtree(frame.geometry.to_numpy()).query(
                shapely.buffer(reach, cell * 1e-6, cap_style="square", join_style="mitre"), predicate="intersects")
            order = np.lexsort((fi, ti))
            ti, fi = ti[order], fi[order]
            bounds = np.searchsorted(ti, np.arange(len(tiles) + 1))
            subsets.append([fi[bounds[i]:bounds[i + 1]] for i in range(len(tiles))])
        jobs.append(job)
    return Prepared(project, grid, tiles, study, jobs, frames, subsets, [s.sector for s in specs], warnings,
                    combine, ws.ahp, _exclusions(project, ws))


def start_client(scheduler: str | None = None, workers: int | None = None, processes: bool = False):
    """A client of the cluster at ``scheduler`` (tcp://host:8786), or of a new local cluster with
    ``workers`` single-threaded workers (default: one per core), sharing 80 % of the free memory.

    Local workers are threads of this process by default: numpy, shapely and the KD-tree release
    the GIL in their heavy loops, and tiles then move between steps without being serialised
    (measured: 127 s against 216 s for Sweden at 250 m on two busy cores). ``processes=True``
    gives each worker its own process, as on a real cluster."""
    from dask.distributed import Client, LocalCluster

    from .units import available_memory

    if scheduler:
        return Client(scheduler), None
    n = int(workers or os.cpu_count() or 1)
    avail = available_memory()
    limit = int(avail * 0.8 / n) if avail else "auto"
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes, memory_limit=limit,
                           dashboard_address=":0")
    return Client(cluster), cluster


class _Runner:
    """Waits on futures with progress and cancel."""

    def __init__(self, client, progress: Progress | None, cancel: Callable[[], bool] | None):
        self.client, self.progress, self.cancel = client, progress, cancel

    def say(self, fraction: float, message: str) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled()
        if self.progress is not None:
            self.progress(float(fraction), message)

    def wait(self, futures: list, lo: float, hi: float, message: str) -> None:
        from dask.distributed import wait

        pending = list(futures)
        total = max(len(pending), 1)
        while pending:
            if self.cancel is not None and self.cancel():
                self.client.cancel(futures)
                raise Cancelled()
            try:
                done = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # nothing finished yet: look at cancel again
                continue
            pending = [f for f in pending if f not in done]
            for f in done:
                if f.status == "error":
                    f.result()  # raises the worker's exception here
            if self.progress is not None:
                self.progress(lo + (hi - lo) * (total - len(pending)) / total,
                              f"{message} {total - len(pending)}/{total}")


def _tree_merge(client, parts: list, merge=None):
    """Merge tables pairwise on the cluster (a tree, so no single task holds every table twice)."""
    merge = merge or merge_tables
    while len(parts) > 1:
        parts = [client.submit(merge, parts[i], parts[i + 1], pure=False) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]




def _pick(summary, j):
    return summary["indicators"][j]["table"]


@dataclass
class TiledResult:
    """Scored tiles, still on the cluster, and what describes them."""

    prepared: Prepared
    raw: list  # futures of TileRaw
    scored: list  # futures of TileScored (with ranks and classes)
    n_cells: int
    n_scored: int
    layer_ids: list[str]
    warnings: list[str]
    extra: ExtraSpec | None = None

    @property
    def exclusion_ids(self) -> list[str] | None:
        ex = self.prepared.exclusions
        return [layer_id for layer_id, _, _ in ex] if ex else None

    @property
    def extra_names(self) -> list[str]:
        """The --groups and --uncertainty columns, in the order the tables write them."""
        if not self.extra:
            return []
        names = [c for g in self.extra.group_ids for c in (f"{g}_score", f"{g}_rank")]
        names += ["consensus_score", "consensus_rank", "rank_spread"] if self.extra.groups else []
        return names + (["p_top", "rank_p05", "rank_p50", "rank_p95"] if self.extra.uncertainty else [])

    def frame(self, client):
        """All cells in the in-memory engine's order, as a DataFrame (small grids and tests only)."""
        import pandas as pd

        g = self.prepared.grid
        parts = []
        for raw, sc in zip(client.gather(self.raw), client.gather(self.scored)):
            r, c = np.divmod(sc.flat, sc.tile.window.nx)
            d = cell_columns(raw, sc, self.layer_ids, self.exclusion_ids)
            d.insert(0, "flat", (r + sc.tile.r0) * g.nx + (c + sc.tile.c0))
            parts.append(d)
        df = pd.concat(parts).sort_values("flat").reset_index(drop=True)
        xy = g.centres(df["flat"].to_numpy())
        df.insert(0, "x", xy[:, 0])
        df.insert(1, "y", xy[:, 1])
        return df.drop(columns="flat")


def cell_columns(raw: TileRaw | None, sc: TileScored, layer_ids: list[str], exclusion_ids: list[str] | None = None):
    """One tile's cells as the in-memory engine's result table orders its columns (``x`` and
    ``y`` are added by the caller): score, geo_score, rank, priority_class, overlap, the Monte
    Carlo's columns, raw and normalised values, then the groups' (and the Monte Carlo's after
    them when both are asked for, as ``skikt score --groups --uncertainty`` writes them)."""
    import pandas as pd

    d = {"score": sc.score.astype(float), "geo_score": sc.geo.astype(float), "rank": sc.rank,
         "priority_class": sc.cls.astype(int), "overlap": sc.overlap.astype(int)}
    if exclusion_ids is not None:  # as Workspace.result_table: removed cells have no rank or class
        out = sc.excluded > 0
        d["geo_score"] = np.where(out, np.nan, d["geo_score"])
        d["rank"] = pd.Series(sc.rank, dtype="Int64").mask(out)
        d["priority_class"] = pd.Series(d["priority_class"], dtype="Int64").mask(out)
        d["excluded_by"] = np.array(["", *exclusion_ids], dtype=object)[sc.excluded]
    uncertainty = {k: v for k, v in sc.extra.items() if k in ("p_top", "rank_p05", "rank_p50", "rank_p95")}
    grouped = {k: v for k, v in sc.extra.items() if k not in uncertainty}
    if not grouped:
        d.update(uncertainty)
    for j, lid in enumerate(layer_ids):
        if raw is not None:
            d[f"{lid}_raw"] = raw.raw[j]
        d[f"{lid}_norm"] = sc.norm[j].astype(float)
    for name, values in grouped.items():
        d[name] = pd.Series(values, dtype="Int64").mask(values == 0) if name.endswith("_rank") else values
    if grouped:
        d.update(uncertainty)
    return pd.DataFrame(d)


def plan_extras(prepared: Prepared, groups: bool = False, uncertainty: tuple[int, float] | None = None) -> ExtraSpec:
    """What the run adds to the standard columns: the sector vectors of the overlap always, the
    groups' vectors with ``groups``, the Monte Carlo draws with ``uncertainty`` = (draws, spread).
    Bad groups and a Monte Carlo too large are refused here, before any tile is computed."""
    from .tiled_extras import check_group_columns, group_vectors, monte_carlo_draws, sector_vectors
    from .units import grid_memory

    project = prepared.project
    ids = [j.layer_id for j in prepared.jobs]
    weights = np.asarray([j.spec.weight for j in prepared.jobs], np.float32)
    spec = ExtraSpec(sector_vectors(weights, prepared.sectors), [], None, k=project.units.classes,
                     method=prepared.combine[0], alpha=prepared.combine[1])
    if groups:
        spec.group_ids, spec.group_vectors = group_vectors(project, ids)
        columns = ["unit_id", "x", "y", "score", "geo_score", "rank", "priority_class", "overlap", "excluded_by"]
        check_group_columns(project, spec.group_ids, columns + [f"{i}_{c}" for i in ids for c in ("raw", "norm")])
    if uncertainty is not None:
        draws, spread = uncertainty
        cells_about = grid_memory(prepared.study, prepared.grid.cell, len(ids))[1]
        sampled, c, seed = monte_carlo_draws(weights, draws, spread, cells_about, project.path)
        spec.spread_zero = bool(np.isinf(c))
        spec.draws = sampled[:1] if spec.spread_zero else sampled
        spec.n_draws, spec.spread, spec.concentration, spec.seed = draws, float(spread), c, seed
    return spec


def score_tiles(project: Project, client, tile_cells: int = TILE_CELLS, progress: Progress | None = None,
                cancel: Callable[[], bool] | None = None, prepared: Prepared | None = None,
                groups: bool = False, uncertainty: tuple[int, float] | None = None,
                extra: ExtraSpec | None = None) -> TiledResult:
    """Every step of the in-memory engine, tile by tile on ``client``'s cluster; with ``groups``
    the workshop groups' columns, with ``uncertainty`` = (draws, spread) the Monte Carlo's."""
    run = _Runner(client, progress, cancel)
    run.say(0.0, "loading layers")
    p = prepared or prepare(project, tile_cells)
    extra = extra or plan_extras(p, groups, uncertainty)
    run.say(0.05, f"{len(p.tiles)} tiles")
    study = client.scatter(p.study, broadcast=True)
    frames = [client.scatter(f, broadcast=True) for f in p.frames]
    exclusions = client.scatter(p.exclusions, broadcast=True) if p.exclusions else None
    raws = [client.submit(_raw_of_tile, t, study, project.crs, p.jobs, frames, [s[i] for s in p.subsets],
                          p.grid, exclusions, pure=False) for i, t in enumerate(p.tiles)]
    end_scores = 0.6 if extra.uncertainty else 0.8
    run.wait(raws, 0.05, end_scores * 0.75, "raw indicators, tile")

    # Global statistics.
    specs = [j.spec for j in p.jobs]
    wants_table = [s.normalize == "rank" or (s.normalize == "classes" and s.scheme != "equal_interval")
                   for s in specs]
    summaries = [client.submit(_tile_summary, r, wants_table, pure=False) for r in raws]
    small = client.gather([client.submit(_without_tables, s, pure=False) for s in summaries])
    run.say(end_scores * 0.8, "global statistics")
    n_cells = sum(s["cells"] for s in small)
    stats, tables = [], []
    for j, s in enumerate(specs):
        col = [x["indicators"][j] for x in small]
        n = sum(c["n"] for c in col)
        st = NormStats(s.normalize, s.direction, n, min(c["min"] for c in col), max(c["max"] for c in col), k=s.k,
                       points=s.extra.get("points") if s.normalize == "piecewise" else None)
        table = None
        if wants_table[j] and n:
            table = _tree_merge(client, [client.submit(_pick, sm, j, pure=False) for sm in summaries])
            if s.normalize == "classes":
                st.breaks = client.submit(_breaks_of_table, table, s.scheme, s.k, pure=False).result()
        if s.normalize == "classes" and s.scheme == "equal_interval" and n:
            st.breaks = _equal_interval_breaks(np.array([st.lo, st.hi]), s.k)
        if s.normalize == "zscore" and n and st.hi != st.lo:
            st.mean, st.std = _zscore_moments(client, raws, j, p.grid.nx)
        stats.append(st)
        tables.append(client.submit(_as_view, table, pure=False) if s.normalize == "rank" and table is not None else None)
    all_valid = all(st.n == n_cells for st in stats)
    ids = [j.layer_id for j in p.jobs]
    weights = [j.spec.weight for j in p.jobs]
    scored = [client.submit(_score_tile, r, stats, tables, ids, p.sectors, weights, all_valid, extra, pure=False)
              for r in raws]
    run.wait(scored, end_scores * 0.8, end_scores * 0.9, "scores, tile")

    # Global ranks and classes from the distinct-score table; the overlap's and the groups' from theirs.
    score_table = _tree_merge(client, [client.submit(_score_table, s, pure=False) for s in scored])
    score_table = client.submit(_as_view, score_table, pure=False)
    n_scored, thresholds = client.submit(_thresholds_of_table, score_table, project.units.classes,
                                         pure=False).result()
    ranked = [client.submit(_rank_tile, s, score_table, thresholds, pure=False) for s in scored]
    run.wait(ranked, end_scores * 0.9, end_scores * 0.95, "ranks, tile")
    score_table.release()  # one global table at a time: the sectors' and groups' come next
    common = (extra, ids, p.sectors, all_valid)
    sector_thresholds = []
    for i in range(len(extra.sectors)):
        parts = [client.submit(_sector_table, s, *common, i, pure=False) for s in ranked]
        sector_thresholds.append(client.submit(_kth_largest_of, _tree_merge(client, parts), extra.k,
                                               pure=False).result())
        run.say(end_scores * 0.95, f"sector overlap {i + 1}/{len(extra.sectors)}")
    group_views = [client.submit(_as_view, _tree_merge(
        client, [client.submit(_group_table, s, *common, i, pure=False) for s in ranked]), pure=False)
        for i in range(len(extra.group_vectors) if extra.groups else 0)]
    ranked = [client.submit(_finish_tile, s, *common, sector_thresholds, group_views, pure=False) for s in ranked]
    run.wait(ranked, end_scores * 0.95, end_scores, "overlap and groups, tile")
    del group_views
    if extra.uncertainty:
        ranked = _monte_carlo(client, run, ranked, extra, ids, p.sectors, all_valid, n_cells, end_scores)
    return TiledResult(p, raws, ranked, n_cells, n_scored, ids, p.warnings, extra)


def _kth_largest_of(table, k: int):
    from .tiled_extras import kth_largest

    return kth_largest(SortedView(*table), k)


def _monte_carlo(client, run, scored: list, spec: ExtraSpec, ids, sectors, all_valid: bool, n_cells: int,
                 lo: float) -> list:
    """The weight Monte Carlo (tiled_extras): per batch of draws, every tile's sorted scores are
    merged into the grid's, then each tile ranks its cells against them; the ranks stay with the
    tile until its p_top and percentiles are taken."""
    draws = len(spec.draws)
    batch = int(max(1, min(64, MC_TABLE_BYTES // max(n_cells * 8, 1))))
    dtype = np.uint16 if n_cells < 2**16 else np.int32  # as uncertainty.monte_carlo
    common = (spec, ids, sectors, all_valid)
    chunks: list[list] = [[] for _ in scored]
    # monte_carlo's n: the units its first draw scores (the top class holds the ⌈n/k⌉ best ranks)
    n_scored = sum(client.gather([client.submit(_mc_scored_count, s, *common, pure=False) for s in scored]))
    for start in range(0, draws, batch):
        stop = min(draws, start + batch)
        parts = [client.submit(_mc_sorted, s, *common, start, stop, pure=False) for s in scored]
        merged = _tree_merge(client, parts, merge=merge_sorted)
        ranks = [client.submit(_mc_ranks, s, *common, start, stop, merged, dtype, pure=False) for s in scored]
        for tile_chunks, r in zip(chunks, ranks):
            tile_chunks.append(r)
        run.wait(ranks, lo + (0.9 - lo) * start / draws, lo + (0.9 - lo) * stop / draws,
                 f"weight draws {stop}/{draws}, tile")
        del merged, parts
    top_size = -(-n_scored // spec.k)
    done = [client.submit(_mc_finish, s, *common, top_size, *c, pure=False) for s, c in zip(scored, chunks)]
    run.wait(done, 0.9, 0.9, "weight uncertainty, tile")
    return done


def _mc_scored_count(t: TileScored, spec: ExtraSpec, ids, sectors, all_valid: bool) -> int:
    return int(_draw_scored(t, spec, ids, sectors, all_valid)[1].sum())


def _without_tables(summary: dict) -> dict:
    return {"cells": summary["cells"],
            "indicators": [{k: v for k, v in e.items() if k != "table"} for e in summary["indicators"]]}


def _breaks_of_table(table, scheme: str, k: int) -> np.ndarray:
    return class_breaks_from_table(SortedView(*table), scheme, k)


def _as_view(table) -> SortedView:
    return SortedView(*table)


def _thresholds_of_table(view: SortedView, k: int) -> tuple[int, np.ndarray]:
    """(scored cells, class thresholds), computed where the table lives: only k − 1 numbers travel."""
    return len(view), _class_thresholds(view, len(view), k)


def _class_thresholds(view: SortedView, n: int, k: int) -> np.ndarray:
    """``composite.quantile_classes``' thresholds: the ⌈c·n/k⌉-th largest scores, c = 1 … k − 1."""
    if n == 0 or k < 2:
        return np.zeros(0, np.float32)
    beaten_by = -((-np.arange(1, k) * n) // k)
    return np.asarray(view[n - beaten_by], np.float32)


def _zscore_moments(client, raws: list, j: int, grid_nx: int) -> tuple[float, float]:
    """Mean and standard deviation of the column in the in-memory engine's cell order, so that
    numpy's pairwise sums see the same array and give the same bits."""
    parts = client.gather([client.submit(_gather_column, r, j, grid_nx, pure=False) for r in raws])
    flat = np.concatenate([f for f, _ in parts])
    values = np.concatenate([v for _, v in parts])[np.argsort(flat, kind="stable")]
    v = values[~np.isnan(values)]
    return float(v.mean()), float(v.std())


# ------------------------------------------------------------------------------------------------
# The entry points


def run_score_dask(project_path, out_path, scheduler: str | None = None, workers: int | None = None,
                   progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                   tile_cells: int = TILE_CELLS, processes: bool = False, project: Project | None = None,
                   groups: bool = False, uncertainty: tuple[int, float] | None = None) -> dict:
    """Score a grid project on dask and write ``out_path`` (.tif: Cloud-Optimised GeoTIFF,
    .parquet: GeoParquet of the scored cells' centres, .csv: CSV, with a size warning); with
    ``groups`` the workshop groups' columns, with ``uncertainty`` = (draws, spread) the Monte Carlo's.

    Returns a summary: cells, scored cells, tiles, seconds, warnings (English lines), out path.
    Raises SkiktError for bad input and workspace.Cancelled when ``cancel()`` says so.
    """
    from .tiled_output import check_output, write_output

    out_path = Path(out_path)
    check_output(out_path)
    project = project or read_project(project_path)
    t0 = time.perf_counter()
    if progress is not None:
        progress(0.0, "loading layers")
    prepared = prepare(project, tile_cells)  # bad input is refused before a cluster is started
    extra = plan_extras(prepared, groups, uncertainty)
    client, cluster = start_client(scheduler, workers, processes)
    try:
        result = score_tiles(project, client, tile_cells, progress, cancel, prepared, extra=extra)
        warnings = list(result.warnings)
        if out_path.suffix.lower() in (".tif", ".tiff"):
            for future in result.raw:  # the raster holds normalised values only: free the raw ones
                future.release()
            result.raw = []
        warnings += write_output(result, client, out_path, _Runner(client, progress, cancel))
        if progress is not None:
            progress(1.0, "done")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return {"cells": result.n_cells, "scored": result.n_scored, "tiles": len(result.prepared.tiles),
            "indicators": len(result.layer_ids), "seconds": time.perf_counter() - t0, "warnings": warnings,
            "out": str(out_path), "extra": extra, "ahp": prepared.ahp}
