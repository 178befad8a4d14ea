"""Analysis units: SCB-aligned grid cells inside a study area, or the polygons of an area layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from .raster import GridSpec, fill_polygons


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


def make_area_units(areas: gpd.GeoDataFrame, id_column: str, study_area: np.ndarray | None = None,
                    name_column: str | None = None) -> Units:
    """Areas as units. Their 'centre' is the point on surface (always inside, unlike a centroid,
    which for a coastal municipality with islands can fall in the sea)."""
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
