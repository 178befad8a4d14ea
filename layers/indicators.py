"""Raw indicators: one number per unit from one layer (count, density, distance, coverage, length, attribute).

Grid units use array methods (points binned by integer division, polygons rasterised by scanline,
KD-tree distances); area units use exact shapely geometry, as there are only hundreds of them.
Formulas and edge cases are documented in the README under "Indicators".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import SkiktError
from .i18n import tr
from .io import FAMILY_BY_TYPE_ID
from .project import IndicatorSpec
from .raster import (apportion_per_cell, coverage_per_cell, disjoint_union, fill_polygons, label_polygons,
                     line_length_per_cell)
from .units import Units


@dataclass
class RawIndicator:
    values: np.ndarray  # (n,) float64, NaN = missing
    unit: str  # human-readable unit of the raw value
    note: str = ""
    warnings: list[str] = field(default_factory=list)  # for the layer's report (English, one line each)

    @property
    def missing(self) -> int:
        return int(np.isnan(self.values).sum())


UNITS_OF = {"count": "st", "density": "st/km²", "distance": "m", "coverage": "andel", "length": "m/km²"}


def family(gdf: gpd.GeoDataFrame) -> str:
    ids = np.unique(shapely.get_type_id(gdf.geometry.to_numpy()))
    fams = {str(FAMILY_BY_TYPE_ID[i]) for i in ids if i >= 0}
    return fams.pop() if len(fams) == 1 else "mixed"


def _representative_xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geoms = gdf.geometry.to_numpy()
    if family(gdf) == "point":
        parts, idx = shapely.get_parts(geoms, return_index=True)
        return shapely.get_coordinates(parts)
    return shapely.get_coordinates(shapely.point_on_surface(geoms))


# A share of a unit's area below which a polygon feature counts as a mere neighbour of the unit
# in area-weighted and plain means: where two boundaries drawn separately (or simplified
# separately) disagree, neighbours overlap in slivers (Håbo and Knivsta by 0.12 % of Håbo).
SLIVER_SHARE = 0.01


def _is_dates(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        return True
    if column.dtype == object:
        sample = column.dropna().head(100)
        return len(sample) > 0 and all(isinstance(v, (dt.date, dt.time, dt.timedelta)) for v in sample)
    return False


def _values(gdf: gpd.GeoDataFrame, column: str, layer_id: str) -> tuple[np.ndarray, list[str]]:
    """The column as float64 (NaN = missing), and warnings about values counted as missing."""
    if column not in gdf.columns:
        raise SkiktError(f"layer '{layer_id}': column '{column}' not found "
                         f"(columns: {', '.join(c for c in gdf.columns if c != gdf.geometry.name)})")
    if _is_dates(gdf[column]):
        # Dates would be summed as nanoseconds since 1970.
        raise SkiktError.of("err_attribute_dates", layer=layer_id, column=column)
    vals = pd.to_numeric(gdf[column], errors="coerce").to_numpy(float, copy=True)
    warnings = []
    infinite = np.isinf(vals)
    if infinite.any():
        vals[infinite] = np.nan
        warnings.append(tr("warn_attribute_infinite", "en").format(n=int(infinite.sum()), column=column))
    if np.isnan(vals).all():
        raise SkiktError(f"layer '{layer_id}': column '{column}' holds no numbers")
    return vals, warnings


# ------------------------------------------------------------------------------------------------
# Grid units


def _grid_bin(units: Units, xy: np.ndarray, weights=None) -> np.ndarray:
    """Sum of weights (or count) of points per unit, via integer division of coordinates."""
    g = units.grid
    cell = g.cell_of(xy)
    ok = cell >= 0
    w = None if weights is None else np.asarray(weights)[ok]
    full = np.bincount(cell[ok], weights=w, minlength=g.nx * g.ny)
    return full[units.flat].astype(float)


NEAREST_VERTICES = 3


def cKDTree(points):  # noqa: N802  imported late: scipy.spatial is slow to import and only distance needs it
    from scipy.spatial import cKDTree as tree

    # Sliding-midpoint splits build several times faster than median splits and query as fast.
    return tree(points, balanced_tree=False, compact_nodes=False)


def nearest_distance(centres: np.ndarray, gdf: gpd.GeoDataFrame, step: float,
                     inside: np.ndarray | None = None) -> np.ndarray:
    """Metres from each centre to the nearest feature (0 inside a polygon).

    Points: a KD-tree, exact. Lines and polygon outlines: densified to vertices at most ``step``
    apart, a KD-tree finds the three nearest vertices, and the distance is measured exactly to
    the segments beside them. It is never shorter than the truth, and longer only when none of
    those vertices borders the nearest segment, by at most ``step``/2 (a KD-tree over vertices
    is far cheaper than an STRtree nearest query per centre). ``inside`` marks centres known to
    lie in a polygon of the layer (distance 0): only the others are measured.
    """
    geoms = gdf.geometry.to_numpy()
    fam = family(gdf)
    if fam == "point":
        pts = shapely.get_coordinates(geoms)
        d, _ = cKDTree(pts).query(centres, k=1, workers=-1)
        return d
    d = np.zeros(len(centres))
    if fam == "polygon":
        if inside is None:
            hit, _ = shapely.STRtree(geoms).query(shapely.points(centres), predicate="within")
            inside = np.zeros(len(centres), bool)
            inside[hit] = True
        outside = np.flatnonzero(~inside)
        centres = centres[outside]
        outline = shapely.boundary(geoms)
    else:
        outside = slice(None)
        outline = geoms
    if len(centres) == 0:
        return d
    parts = shapely.get_parts(shapely.segmentize(outline, step))
    coords, part = shapely.get_coordinates(parts, return_index=True)
    d[outside] = _distance_to_polylines(centres, coords, part)
    return d


def _distance_to_polylines(centres: np.ndarray, coords: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Exact distance from each centre to the segments beside its nearest vertices.

    The nearest point of a line lies on a segment beside one of the nearest vertices (vertices
    are at most `step` apart). Segment i runs from vertex i to vertex i + 1; where i + 1 starts
    another part, segment i is the single point i, which is still a point of the geometry, so a
    distance to it is never shorter than the truth."""
    k = min(NEAREST_VERTICES, len(coords))
    tree = cKDTree(coords)
    same_part = np.append(part[1:] == part[:-1], False)
    dx = np.where(same_part, np.diff(coords[:, 0], append=0.0), 0.0)
    dy = np.where(same_part, np.diff(coords[:, 1], append=0.0), 0.0)
    len2 = np.maximum(dx * dx + dy * dy, 1e-12)
    d = np.empty(len(centres))
    # Centres a block at a time: each centre's distance depends on it alone, and the block's
    # (block, 2k) temporaries stay small enough to be reused, where the whole grid's (a county's
    # 400,000 centres × 6) were fresh memory each time, whose page faults cost system time of
    # the order of the arithmetic itself.
    for start in range(0, len(centres), DISTANCE_BLOCK):
        block = slice(start, start + DISTANCE_BLOCK)
        d[block] = _segment_distance(centres[block], tree, k, coords, dx, dy, len2)
    return d


# Centres per block in _distance_to_polylines.
DISTANCE_BLOCK = 32_768


def _segment_distance(centres, tree, k, coords, dx, dy, len2) -> np.ndarray:
    _, near = tree.query(centres, k=k, workers=-1)
    near = near.reshape(len(centres), k)
    # Both segments beside each near vertex: the one ending at it (i - 1) and the one starting at it (i).
    seg = np.concatenate([np.maximum(near - 1, 0), near], axis=1)
    # Coordinates relative to the centre, x and y apart: (n, 2k) arrays, no reduction over a tiny axis.
    ax = coords[:, 0][seg] - centres[:, :1]
    ay = coords[:, 1][seg] - centres[:, 1:]
    sx, sy = dx[seg], dy[seg]
    t = np.clip(-(ax * sx + ay * sy) / len2[seg], 0.0, 1.0)
    ax += sx * t
    ay += sy * t
    d = np.sqrt((ax * ax + ay * ay).min(axis=1))
    # A centre on a diagonal edge comes out a rounding error (~1e-14 m) away from it: on it is 0.
    d[d < 1e-9] = 0.0
    return d


def _grid_distance(units: Units, gdf: gpd.GeoDataFrame) -> np.ndarray:
    inside = None
    if family(gdf) == "polygon":
        inside = fill_polygons(gdf.geometry.to_numpy(), units.grid).ravel()[units.flat]
    return nearest_distance(units.centres, gdf, units.grid.cell / 2, inside)


def _grid_attribute(units: Units, gdf: gpd.GeoDataFrame, vals: np.ndarray, how: str) -> np.ndarray:
    fam = family(gdf)
    g = units.grid
    if fam == "polygon":
        if how == "sum":
            # Each polygon's value spread by the exact area share of each cell: a polygon too
            # small to hold a cell centre still adds its value, so sums are conserved.
            return apportion_per_cell(gdf.geometry.to_numpy(), vals, g)[units.flat]
        labels = label_polygons(gdf.geometry.to_numpy(), g).ravel()[units.flat]
        inside = labels >= 0
        out = np.full(units.n, np.nan)
        out[inside] = vals[labels[inside]]
        return out
    if fam == "line":
        lines = gdf.geometry.to_numpy()
        known = np.isfinite(vals)
        if how == "sum":
            # Each line's value spread by the exact share of its length in each cell.
            total = shapely.length(lines)
            per_metre = np.where(known & (total > 0), vals / np.where(total > 0, total, 1), 0.0)
            return line_length_per_cell(lines, g, per_metre)[units.flat]
        num = line_length_per_cell(lines, g, np.where(known, vals, 0.0))[units.flat]
        den = line_length_per_cell(lines, g, known.astype(float))[units.flat]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)
    # points (and multipoints, each part carrying its feature's value)
    parts, owner = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    xy = shapely.get_coordinates(parts)
    v = vals[owner]
    ok = ~np.isnan(v)
    s = _grid_bin(units, xy[ok], v[ok])
    if how == "sum":
        return s
    n = _grid_bin(units, xy[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan)


# ------------------------------------------------------------------------------------------------
# Area units


def _area_pairs(units: Units, gdf: gpd.GeoDataFrame, predicate="intersects"):
    tree = shapely.STRtree(units.geometry)
    fi, ui = tree.query(gdf.geometry.to_numpy(), predicate=predicate)
    return fi, ui


def _areas_points_in(units: Units, gdf: gpd.GeoDataFrame):
    xy = _representative_xy(gdf) if family(gdf) != "point" else None
    if xy is None:
        parts, owner = shapely.get_parts(gdf.geometry.to_numpy(), return_index=True)
    else:
        parts, owner = shapely.points(xy), np.arange(len(gdf))
    tree = shapely.STRtree(units.geometry)
    pi, ui = tree.query(parts, predicate="intersects")
    # A point on a shared border belongs to the first unit only.
    _, first = np.unique(pi, return_index=True)
    return owner[pi[first]], ui[first]


def _areas_attribute(units: Units, gdf: gpd.GeoDataFrame, vals: np.ndarray, how: str) -> np.ndarray:
    fam = family(gdf)
    out = np.full(units.n, np.nan)
    if fam == "point":
        fi, ui = _areas_points_in(units, gdf)
        v = vals[fi]
        ok = ~np.isnan(v)
        s = np.bincount(ui[ok], weights=v[ok], minlength=units.n)
        if how == "sum":
            return s
        n = np.bincount(ui[ok], minlength=units.n)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)
    fi, ui = _area_pairs(units, gdf)
    inter = shapely.intersection(gdf.geometry.to_numpy()[fi], units.geometry[ui])
    size = shapely.area(inter) if fam == "polygon" else shapely.length(inter)
    v = vals[fi]
    ok = ~np.isnan(v) & (size > 0)
    fi, ui, v, size = fi[ok], ui[ok], v[ok], size[ok]
    whole = (gdf.geometry.area if fam == "polygon" else gdf.geometry.length).to_numpy()[fi]
    if how == "sum":
        return np.bincount(ui, weights=v * size / whole, minlength=units.n)
    if fam == "polygon":
        fi, ui, v, size = _without_slivers(fi, ui, v, size, whole, units)
    if how == "mean":
        s = np.bincount(ui, weights=v, minlength=units.n)
        n = np.bincount(ui, minlength=units.n)
    else:  # area_weighted_mean (length-weighted for lines)
        s = np.bincount(ui, weights=v * size, minlength=units.n)
        n = np.bincount(ui, weights=size, minlength=units.n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, s / n, np.nan)
    return out


# Polygons with more vertices than this are cut into rectangles before area units are
# intersected with them: GEOS's overlay is superlinear in vertices, so one polygon of millions
# of vertices against every unit of a county is the slow case this avoids.
TILE_VERTICES = 1_000


def _tiles(geoms) -> np.ndarray:
    """The polygons cut by rectangles (halving the longer side) until no piece has more than
    TILE_VERTICES vertices. The pieces meet only along the cuts, so their areas add up."""
    out, stack = [], [(g, 0) for g in geoms]
    while stack:
        g, depth = stack.pop()
        if shapely.get_num_coordinates(g) <= TILE_VERTICES or depth >= 40:
            out.append(g)
            continue
        x0, y0, x1, y1 = g.bounds
        if x1 - x0 >= y1 - y0:
            halves = [(x0, y0, (x0 + x1) / 2, y1), ((x0 + x1) / 2, y0, x1, y1)]
        else:
            halves = [(x0, y0, x1, (y0 + y1) / 2), (x0, (y0 + y1) / 2, x1, y1)]
        for box in halves:
            piece = shapely.clip_by_rect(g, *box)
            if not piece.is_empty:
                stack.append((piece, depth + 1))
    return np.array(out, dtype=object)


def _intersection_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return shapely.area(shapely.intersection(a, b))
    except shapely.errors.GEOSException:
        # A rectangle cut can leave a collapsed edge along the cut; repair and retry.
        return shapely.area(shapely.intersection(shapely.make_valid(a), b))


def _areas_coverage(units: Units, gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Share of each area unit covered by the union of the layer's polygons, exactly."""
    pieces = _tiles(disjoint_union(gdf.geometry.to_numpy()))
    ui, pi = shapely.STRtree(pieces).query(units.geometry, predicate="intersects")
    # Most pieces of a big polygon lie wholly inside one unit: their own area, no overlay.
    area = shapely.area(pieces[pi])
    cut = ~shapely.covered_by(pieces[pi], units.geometry[ui])
    if cut.any():
        area[cut] = _intersection_area(pieces[pi[cut]], units.geometry[ui[cut]])
    return np.bincount(ui, weights=area, minlength=units.n) / (units.area_km2 * 1e6)


def _without_slivers(fi, ui, v, size, whole, units: Units):
    """Drop feature–unit pairs that share less than SLIVER_SHARE of the smaller of the two areas.

    Relative to the smaller one, so a small feature wholly inside a large unit always counts,
    and a large neighbour that overlaps a unit along their common border does not.
    """
    unit_area = units.area_km2[ui] * 1e6
    keep = size >= SLIVER_SHARE * np.minimum(whole, unit_area)
    return fi[keep], ui[keep], v[keep], size[keep]


def by_key(gdf: gpd.GeoDataFrame, key_column: str, units: Units, vals: np.ndarray) -> np.ndarray:
    """Values of features that ARE the units (the unit layer itself, or a table joined to it),
    mapped to the units by their id: exactly the feature's value, never a mix with neighbours."""
    keys = gdf[key_column].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(keys)), index=keys)
    pos = pos[~pos.index.duplicated()]
    row = pos.reindex(units.ids).to_numpy()
    out = np.full(units.n, np.nan)
    hit = ~np.isnan(row)
    out[hit] = vals[row[hit].astype(np.int64)]
    return out


# ------------------------------------------------------------------------------------------------


def default_aggregate(gdf: gpd.GeoDataFrame) -> str:
    return "area_weighted_mean" if family(gdf) == "polygon" else "sum"


def compute(spec: IndicatorSpec, gdf: gpd.GeoDataFrame, units: Units, layer_id: str = "",
            unit_key: str | None = None) -> RawIndicator:
    """The raw indicator of one layer over the units.

    ``unit_key``: the layer's features are the area units themselves (the unit layer, or a
    table joined to it) and this column holds their unit ids; attributes are then mapped by id.
    """
    if len(gdf) == 0:
        raise SkiktError(f"layer '{layer_id}' has no features to compute '{spec.method}' from")
    fam = family(gdf)
    m = spec.method
    grid = units.kind == "grid"
    if m in ("count", "density"):
        if grid:
            counts = _grid_bin(units, _representative_xy(gdf))
        else:
            fi, ui = _areas_points_in(units, gdf)
            counts = np.bincount(ui, minlength=units.n).astype(float)
        if m == "count":
            return RawIndicator(counts, UNITS_OF[m])
        return RawIndicator(counts / units.area_km2, UNITS_OF[m])
    if m == "distance":
        if grid:
            d = _grid_distance(units, gdf)
        else:
            # Areas are few (hundreds), so an exact STRtree nearest query is cheap.
            (qi, _), dist = shapely.STRtree(gdf.geometry.to_numpy()).query_nearest(
                shapely.points(units.centres), return_distance=True, all_matches=False)
            d = np.full(units.n, np.nan)
            d[qi] = dist
        note = "från cellens mittpunkt" if grid else "från områdets inre punkt (point on surface)"
        return RawIndicator(np.asarray(d, float), UNITS_OF[m], note)
    if m == "coverage":
        if fam != "polygon":
            raise SkiktError(f"layer '{layer_id}': coverage needs polygons, the layer has {fam}s")
        if grid:
            cov = coverage_per_cell(gdf.geometry.to_numpy(), units.grid)[units.flat]
        else:
            cov = _areas_coverage(units, gdf)
        return RawIndicator(np.clip(cov, 0, 1), UNITS_OF[m])
    if m == "length":
        if fam != "line":
            raise SkiktError(f"layer '{layer_id}': length needs lines, the layer has {fam}s")
        if grid:
            metres = line_length_per_cell(gdf.geometry.to_numpy(), units.grid)[units.flat]
        else:
            fi, ui = _area_pairs(units, gdf)
            lens = shapely.length(shapely.intersection(gdf.geometry.to_numpy()[fi], units.geometry[ui]))
            metres = np.bincount(ui, weights=lens, minlength=units.n)
        return RawIndicator(metres / units.area_km2, UNITS_OF[m])
    if m == "attribute":
        vals, warnings = _values(gdf, spec.column, layer_id)
        how = spec.aggregate or default_aggregate(gdf)
        if how == "area_weighted_mean" and fam == "point":
            how = "mean"
        if unit_key is not None and not grid and unit_key in gdf.columns:
            out = by_key(gdf, unit_key, units, vals)
        else:
            out = _grid_attribute(units, gdf, vals, how) if grid else _areas_attribute(units, gdf, vals, how)
        # the column name is the layer's title already
        return RawIndicator(np.asarray(out, float), "", how, warnings)
    raise SkiktError(f"layer '{layer_id}': unknown indicator method '{m}'")
