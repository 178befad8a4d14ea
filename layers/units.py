"""Analysis units: SCB-aligned grid cells inside a study area, or the polygons of an area layer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from .errors import SkiktError
from .raster import GridSpec, fill_polygons
from .sysmem import available_memory  # noqa: F401  (tiled.py and the tests import it from here)


@dataclass
class Units:
    """The units a composite is computed over. Arrays of per-unit values have length ``n``.

    For grids, ``flat`` maps unit i to its cell in the (ny, nx) array of ``grid``, so per-unit
    values can be drawn as one image; ``geometry`` is built only when someone asks for it.
    """

    kind: str  # "grid" | "areas"
    ids: np.ndarray  # unit ids as text
    centres: np.ndarray  # (n, 2): cell centres, or each area's point on surface
    area_km2: np.ndarray
    crs: object
    grid: GridSpec | None = None
    flat: np.ndarray | None = None
    areas: gpd.GeoDataFrame | None = None  # kind = "areas": the polygons, in unit order
    names: np.ndarray | None = None
    _geometry: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def geometry(self) -> np.ndarray:
        if self._geometry is None:
            self._geometry = self.grid.boxes(self.flat) if self.kind == "grid" else self.areas.geometry.to_numpy()
        return self._geometry

    def to_image(self, values: np.ndarray, fill=np.nan) -> np.ndarray:
        """Per-unit values as a (ny, nx) float array (row 0 south) for imshow; grid units only."""
        img = np.full(self.grid.nx * self.grid.ny, fill, dtype=np.float32)
        img[self.flat] = values
        return img.reshape(self.grid.shape)

    def unit_at(self, x: float, y: float) -> int | None:
        """Index of the unit containing the point, or None."""
        if self.kind == "grid":
            cell = int(self.grid.cell_of(np.array([[x, y]]))[0])
            if cell < 0:
                return None
            pos = np.searchsorted(self.flat, cell)
            return int(pos) if pos < len(self.flat) and self.flat[pos] == cell else None
        hits = self.areas.sindex.query(shapely.points(x, y), predicate="intersects")
        return int(hits[0]) if len(hits) else None

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Which points lie in some unit (for grids: in a cell of the study area)."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        if self.kind == "grid":
            cell = self.grid.cell_of(xy)
            pos = np.clip(np.searchsorted(self.flat, cell), 0, len(self.flat) - 1)
            return (cell >= 0) & (self.flat[pos] == cell)
        hit, _ = self.areas.sindex.query(shapely.points(xy), predicate="intersects")
        out = np.zeros(len(xy), bool)
        out[hit] = True
        return out

    def label(self, i: int) -> str:
        if self.names is not None:
            return f"{self.names[i]} ({self.ids[i]})"
        return str(self.ids[i])


def grid_cell_id(x_ll: np.ndarray, y_ll: np.ndarray, cell: float) -> np.ndarray:
    """Cell ids in the style of SCB's grid statistics: size and lower-left corner, e.g. 1000mE667000N6580000."""
    size = f"{int(cell)}m" if float(cell).is_integer() else f"{cell}m"
    xs = np.round(x_ll).astype(np.int64).tolist()
    ys = np.round(y_ll).astype(np.int64).tolist()
    return np.array([f"{size}E{x}N{y}" for x, y in zip(xs, ys)], dtype=object)


def make_grid_units(study_area: np.ndarray, cell: float, crs) -> Units:
    """Cells of ``cell`` metres, edges at multiples of ``cell``, whose centre lies in the study area."""
    geoms = np.asarray(study_area, dtype=object)
    bounds = shapely.total_bounds(geoms)
    grid = GridSpec.covering(bounds, cell)
    mask = fill_polygons(geoms, grid)
    flat = np.flatnonzero(mask.ravel())
    centres = grid.centres(flat)
    ids = grid_cell_id(centres[:, 0] - cell / 2, centres[:, 1] - cell / 2, cell)
    area = np.full(len(flat), (cell / 1000.0) ** 2)
    return Units("grid", ids, centres, area, crs, grid=grid, flat=flat)


def _check_area_layer(areas: gpd.GeoDataFrame, id_column: str, layer_id: str, path=None) -> None:
    """Area units need polygons and one unit per id: a point layer has no area to score, and
    two units with one id could not be told apart in the output or in a join."""
    kinds = shapely.get_type_id(areas.geometry.to_numpy())
    other = ~np.isin(kinds, (3, 6))
    if other.any():
        family = {0: "point", 4: "point", 1: "line", 2: "line", 5: "line"}.get(int(kinds[other][0]), "other")
        raise SkiktError.of("err_areas_need_polygons", path, layer=layer_id, family=family)
    ids = areas[id_column].astype(str)
    dup = sorted(set(ids[ids.duplicated()]))
    if dup:
        shown = ", ".join(f"'{d}'" for d in dup[:8]) + (" …" if len(dup) > 8 else "")
        raise SkiktError.of("err_duplicate_unit_ids", path, layer=layer_id, column=id_column, n=len(dup), ids=shown)


def make_area_units(areas: gpd.GeoDataFrame, id_column: str, study_area: np.ndarray | None = None,
                    name_column: str | None = None, layer_id: str = "", path=None) -> Units:
    """Areas as units. Their 'centre' is the point on surface (always inside, unlike a centroid,
    which for a coastal municipality with islands can fall in the sea)."""
    _check_area_layer(areas, id_column, layer_id or id_column, path)
    if study_area is not None and len(study_area):
        sa = shapely.union_all(np.asarray(study_area, dtype=object))
        pos = shapely.point_on_surface(areas.geometry.to_numpy())
        areas = areas[shapely.contains(sa, pos) | shapely.intersects(sa, pos)]
    areas = areas.reset_index(drop=True)
    pos = shapely.point_on_surface(areas.geometry.to_numpy())
    ids = areas[id_column].astype(str).to_numpy()
    if name_column is None:
        for cand in ("name", "namn", "Name", "NAMN", "kommunnamn"):
            if cand in areas.columns and cand != id_column:
                name_column = cand
                break
    names = areas[name_column].astype(str).to_numpy() if name_column else None
    return Units("areas", ids, shapely.get_coordinates(pos), areas.geometry.area.to_numpy() / 1e6,
                 areas.crs, areas=areas, names=names)


# ------------------------------------------------------------------------------------------------
# Memory guard for grids. Bytes per cell measured on the sample project's runs (peak resident
# memory against units and bounding-box cells, see docs): unit ids as text, centres, indices and
# the composite per unit; per indicator its raw and normalised values and temporaries; per cell
# of the bounding box the dense arrays of the rasterisers.
BYTES_PER_UNIT = 200
BYTES_PER_UNIT_AND_INDICATOR = 24
BYTES_PER_BOX_CELL = 48


# Share of the available memory a run may plan to use: the estimate is not exact and the
# desktop (and the app's own drawing) needs the rest.
MEMORY_SHARE = 0.8


def grid_memory(study_area: np.ndarray, cell: float, indicators: int) -> tuple[float, float, float]:
    """(estimated bytes, expected units, bounding-box cells) for a grid of ``cell`` metres."""
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(study_area, dtype=object))
    box_cells = (math.floor(maxx / cell) - math.floor(minx / cell) + 1) * \
                (math.floor(maxy / cell) - math.floor(miny / cell) + 1)
    units = min(float(shapely.area(np.asarray(study_area, dtype=object)).sum()) / cell**2, box_cells)
    need = units * (BYTES_PER_UNIT + indicators * BYTES_PER_UNIT_AND_INDICATOR) + box_cells * BYTES_PER_BOX_CELL
    return need, units, box_cells


def _nice_at_least(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``x``."""
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= x:
            return m * exp
    return 10 * exp


def check_grid_fits(study_area: np.ndarray, cell: float, indicators: int, available: int | None = None,
                    path=None) -> None:
    """Refuse, before anything is allocated, a grid whose estimated memory exceeds what is available,
    naming a cell size that would fit (memory falls with the square of the cell size)."""
    available = available_memory() if available is None else available
    if available is None:
        return
    available = int(available * MEMORY_SHARE)
    need, _, box_cells = grid_memory(study_area, cell, indicators)
    if need <= available:
        return
    suggest = _nice_at_least(cell * math.sqrt(need / available) * 1.05)
    while grid_memory(study_area, suggest, indicators)[0] > available:
        suggest = _nice_at_least(suggest * 1.01)
    raise SkiktError.of("err_grid_memory", path, cell=f"{cell:g}", cells=f"{box_cells:,.0f}", need=f"{need / 1e9:.1f}",
                        avail=f"{available / 1e9:.1f}", suggest=f"{suggest:g}")
