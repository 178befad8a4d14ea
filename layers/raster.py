"""Vectorised rasterisation onto a regular grid: the reason grid indicators take seconds, not minutes.

Polygons are filled by a scanline even–odd rule evaluated at cell centres (every edge crossing
of a row's centre line toggles the cells to its right), all in numpy with no Python loop over
cells or rows. Lines are split into short pieces whose lengths are binned by their midpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class GridSpec:
    """A grid of square cells; row 0 is the southernmost row, column 0 the westernmost."""

    x0: float  # west edge
    y0: float  # south edge
    cell: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, bounds, cell: float) -> "GridSpec":
        """The smallest grid with edges at multiples of ``cell`` that covers ``bounds`` (as SCB grids)."""
        minx, miny, maxx, maxy = bounds
        x0 = np.floor(minx / cell) * cell
        y0 = np.floor(miny / cell) * cell
        nx = max(1, int(np.ceil((maxx - x0) / cell)))
        ny = max(1, int(np.ceil((maxy - y0) / cell)))
        return cls(float(x0), float(y0), float(cell), nx, ny)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top), as matplotlib's imshow wants it."""
        return (self.x0, self.x0 + self.nx * self.cell, self.y0, self.y0 + self.ny * self.cell)

    def centres(self, flat_index: np.ndarray) -> np.ndarray:
        r, c = np.divmod(flat_index, self.nx)
        return np.column_stack([self.x0 + (c + 0.5) * self.cell, self.y0 + (r + 0.5) * self.cell])

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Flat cell index of each point, -1 outside the grid."""
        c = np.floor((xy[:, 0] - self.x0) / self.cell).astype(np.int64)
        r = np.floor((xy[:, 1] - self.y0) / self.cell).astype(np.int64)
        ok = (c >= 0) & (c < self.nx) & (r >= 0) & (r < self.ny)
        return np.where(ok, r * self.nx + c, -1)

    def boxes(self, flat_index: np.ndarray) -> np.ndarray:
        r, c = np.divmod(flat_index, self.nx)
        x = self.x0 + c * self.cell
        y = self.y0 + r * self.cell
        return shapely.box(x, y, x + self.cell, y + self.cell)


def _ring_edges(geoms) -> tuple[np.ndarray, np.ndarray]:
    """All polygon ring edges as an (E, 4) array x1, y1, x2, y2, and the feature each belongs to.

    Built from shapely's ragged arrays, so no Python object is created per ring: 400,000
    polygons cost a tenth of a second here instead of over a second through get_rings.
    """
    geoms = np.asarray(geoms, dtype=object)
    kind = shapely.get_type_id(geoms)
    keep = np.flatnonzero((kind == 3) | (kind == 6))
    if len(keep) == 0:
        return np.zeros((0, 4)), np.zeros(0, np.int64)
    if (kind[keep] == 3).all() and not shapely.get_num_interior_rings(geoms[keep]).any():
        # One ring per feature (grid cells, most parcels): feature boundaries are ring boundaries.
        coords, idx = shapely.get_coordinates(geoms[keep], return_index=True)
        same = idx[:-1] == idx[1:]
        return np.column_stack([coords[:-1][same], coords[1:][same]]), keep[idx[:-1][same]]
    _, coords, offsets = shapely.to_ragged_array(geoms[keep])
    ring_off = offsets[0]
    rings_per_feature = np.diff(offsets[1])
    if len(offsets) == 3:  # MultiPolygon: parts per feature, rings per part
        rings_per_feature = np.diff(offsets[1][offsets[2]])
    ring_feature = np.repeat(keep, rings_per_feature)
    vert_ring = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    valid = np.ones(max(len(coords) - 1, 0), bool)
    valid[ring_off[1:-1] - 1] = False  # the step from one ring's last vertex to the next ring
    edges = np.column_stack([coords[:-1][valid], coords[1:][valid]])
    return edges, ring_feature[vert_ring[:-1][valid]]


def _polygon_edges(geoms) -> np.ndarray:
    return _ring_edges(geoms)[0]


def fill_polygons(geoms, grid: GridSpec) -> np.ndarray:
    """Boolean (ny, nx) mask of cells whose centre lies inside any of the polygons (even–odd)."""
    edges = _polygon_edges(geoms)
    mask = np.zeros(grid.shape, bool)
    if len(edges) == 0:
        return mask
    x1, y1, x2, y2 = edges.T
    ymin, ymax = np.minimum(y1, y2), np.maximum(y1, y2)
    # Rows whose centre y satisfies ymin <= yc < ymax (half-open, so shared vertices count once).
    r_lo = np.ceil((ymin - grid.y0) / grid.cell - 0.5).astype(np.int64)
    r_hi = np.ceil((ymax - grid.y0) / grid.cell - 0.5).astype(np.int64) - 1
    r_lo = np.maximum(r_lo, 0)
    r_hi = np.minimum(r_hi, grid.ny - 1)
    counts = np.maximum(r_hi - r_lo + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return mask
    e = np.repeat(np.arange(len(edges)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = r_lo[e] + offsets
    yc = grid.y0 + (rows + 0.5) * grid.cell
    xc = x1[e] + (yc - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e])
    # The first column whose centre is at or right of the crossing starts a toggled run.
    cols = np.ceil((xc - grid.x0) / grid.cell - 0.5).astype(np.int64)
    cols = np.clip(cols, 0, grid.nx)
    toggles = np.bincount(rows * (grid.nx + 1) + cols, minlength=grid.ny * (grid.nx + 1))
    parity = np.cumsum(toggles.reshape(grid.ny, grid.nx + 1) & 1, axis=1) & 1
    return parity[:, : grid.nx].astype(bool)


def label_polygons(geoms, grid: GridSpec) -> np.ndarray:
    """(ny, nx) int array: index of the feature whose polygon contains each cell centre, -1 for none.

    One vectorised scanline pass for all features at once: every ring edge's crossings with the
    row centre lines are sorted by (feature, row, x) and paired, and each pair fills a run of
    cells. Holes and multi-part features follow the even–odd rule within their feature; where
    features overlap, the later one wins. Cost grows with edges and filled cells, not features,
    so 400,000 grid-cell polygons rasterise in well under a second.
    """
    labels = np.full(grid.nx * grid.ny, -1, np.int64)
    edges, edge_owner = _ring_edges(geoms)
    if len(edges) == 0:
        return labels.reshape(grid.shape)
    x1, y1, x2, y2 = edges.T
    ymin, ymax = np.minimum(y1, y2), np.maximum(y1, y2)
    r_lo = np.maximum(np.ceil((ymin - grid.y0) / grid.cell - 0.5).astype(np.int64), 0)
    r_hi = np.minimum(np.ceil((ymax - grid.y0) / grid.cell - 0.5).astype(np.int64) - 1, grid.ny - 1)
    counts = np.maximum(r_hi - r_lo + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return labels.reshape(grid.shape)
    e = np.repeat(np.arange(len(x1)), counts)
    rows = r_lo[e] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    yc = grid.y0 + (rows + 0.5) * grid.cell
    xc = x1[e] + (yc - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e])
    own = edge_owner[e]
    order = np.lexsort((xc, rows, own))  # measured faster here than a stable sort on one key
    xc, rows, own = xc[order], rows[order], own[order]
    rows, own = rows[0::2], own[0::2]
    # Crossings of one feature on one row come in pairs; each pair bounds an inside run.
    start = np.clip(np.ceil((xc[0::2] - grid.x0) / grid.cell - 0.5).astype(np.int64), 0, grid.nx)
    stop = np.clip(np.ceil((xc[1::2] - grid.x0) / grid.cell - 0.5).astype(np.int64), 0, grid.nx)
    run = np.maximum(stop - start, 0)
    n = int(run.sum())
    if n:
        base = rows * grid.nx + start
        cells = np.repeat(base - (np.cumsum(run) - run), run) + np.arange(n)
        labels[cells] = np.repeat(own, run)
    return labels.reshape(grid.shape)


def _sample_segments(coords: np.ndarray, idx: np.ndarray, step: float):
    """Split every segment of the given paths into pieces no longer than ``step``.

    Returns piece midpoints (P, 2), piece lengths (P,), and the path index of each piece.
    """
    same = idx[:-1] == idx[1:]
    a, b, owner = coords[:-1][same], coords[1:][same], idx[:-1][same]
    seg = b - a
    length = np.hypot(seg[:, 0], seg[:, 1])
    n = np.maximum(np.ceil(length / step).astype(np.int64), 1)
    e = np.repeat(np.arange(len(a)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    t = (k + 0.5) / n[e]
    mid = a[e] + seg[e] * t[:, None]
    return mid, (length / n)[e], owner[e]


def _grid_crossings(a: np.ndarray, b: np.ndarray, origin: float, cell: float):
    """For segments a→b along one axis: (segment index, t) of every crossing of a grid line."""
    ia = np.floor((a - origin) / cell)
    ib = np.floor((b - origin) / cell)
    n = np.abs(ib - ia).astype(np.int64)
    seg = np.repeat(np.arange(len(a)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    step = np.sign(ib - ia)[seg]
    # Crossed lines: from the first boundary after a, in the direction of travel.
    line = np.where(step > 0, ia[seg] + 1 + k, ia[seg] - k) * cell + origin
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (line - a[seg]) / (b[seg] - a[seg])
    return seg, t


def line_length_per_cell(geoms, grid: GridSpec) -> np.ndarray:
    """Metres of line in each cell (flat array), exactly: every segment is cut where it crosses a
    grid line, and each piece, now inside one cell, is binned by its midpoint."""
    lines = shapely.get_parts(np.asarray(geoms, dtype=object))
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    out = np.zeros(grid.nx * grid.ny)
    if len(coords) < 2:
        return out
    same = idx[:-1] == idx[1:]
    a, b = coords[:-1][same], coords[1:][same]
    sx, tx = _grid_crossings(a[:, 0], b[:, 0], grid.x0, grid.cell)
    sy, ty = _grid_crossings(a[:, 1], b[:, 1], grid.y0, grid.cell)
    n = len(a)
    seg = np.concatenate([np.arange(n), np.arange(n), sx, sy])
    t = np.concatenate([np.zeros(n), np.ones(n), tx, ty])
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    keep = seg[:-1] == seg[1:]
    s, t0, t1 = seg[:-1][keep], t[:-1][keep], t[1:][keep]
    d = b[s] - a[s]
    mid = a[s] + d * ((t0 + t1) / 2)[:, None]
    length = np.hypot(d[:, 0], d[:, 1]) * (t1 - t0)
    cell = grid.cell_of(mid)
    ok = (cell >= 0) & (length > 0)
    out += np.bincount(cell[ok], weights=length[ok], minlength=out.size)
    return out


def boundary_cells(geoms, grid: GridSpec) -> np.ndarray:
    """Flat indices of cells crossed by any polygon ring (sampled at a quarter cell)."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    rings = shapely.get_rings(parts[shapely.get_type_id(parts) == 3])
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        return np.zeros(0, np.int64)
    mid, _, _ = _sample_segments(coords, idx, grid.cell / 4)
    cells = grid.cell_of(np.vstack([mid, coords]))
    return np.unique(cells[cells >= 0])


def coverage_per_cell(geoms, grid: GridSpec) -> np.ndarray:
    """Share 0–1 of each cell covered by the union of the polygons (flat array).

    Cells no ring passes through are wholly inside or outside, decided by their centre; the
    cells a ring crosses get their exact intersection area from shapely.
    """
    geoms = np.asarray(geoms, dtype=object)
    union = shapely.union_all(geoms)
    cover = fill_polygons([union], grid).ravel().astype(float)
    edge = boundary_cells([union], grid)
    if len(edge):
        parts = shapely.get_parts(union)
        tree = shapely.STRtree(parts)
        boxes = grid.boxes(edge)
        bi, pi = tree.query(boxes, predicate="intersects")
        area = np.zeros(len(edge))
        if len(bi):
            np.add.at(area, bi, shapely.area(shapely.intersection(boxes[bi], parts[pi])))
        cover[edge] = np.clip(area / grid.cell**2, 0, 1)
    return cover
