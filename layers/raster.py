"""Vectorised rasterisation onto a regular grid: whole-array numpy work, no Python loop per cell or row.

Polygons are filled at cell centres by a scanline (crossings of each row's centre line, paired
per polygon part, so overlapping features and parts are all inside: union semantics). Areas per
cell are exact, by Green's theorem over ring pieces cut at the grid lines; line lengths per cell
are exact, by cutting segments at the grid lines. All in numpy, no Python loop over cells or rows.
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


def _ring_edges(geoms):
    """All polygon ring edges as an (E, 4) array x1, y1, x2, y2, with the owners of each edge.

    Returns ``(edges, feature, part, ring, exterior)``: per edge the index of its feature in
    ``geoms``, of its polygon part and of its ring (both numbered over the whole array), and per
    ring whether it is a part's exterior. Built from shapely's ragged arrays, so no Python object
    is created per ring (shapely.get_rings would make one per ring).
    """
    geoms = np.asarray(geoms, dtype=object)
    kind = shapely.get_type_id(geoms)
    keep = np.flatnonzero(((kind == 3) | (kind == 6)) & ~shapely.is_empty(geoms))
    empty = np.zeros(0, np.int64)
    if len(keep) == 0:
        return np.zeros((0, 4)), empty, empty, empty, np.zeros(0, bool)
    if (kind[keep] == 3).all() and not shapely.get_num_interior_rings(geoms[keep]).any():
        # One ring per feature (grid cells, most parcels): feature, part and ring coincide.
        coords, idx = shapely.get_coordinates(geoms[keep], return_index=True)
        same = idx[:-1] == idx[1:]
        ring = idx[:-1][same]
        edges = np.column_stack([coords[:-1][same], coords[1:][same]])
        return edges, keep[ring], ring, ring, np.ones(len(keep), bool)
    _, coords, offsets = shapely.to_ragged_array(geoms[keep], include_z=False)  # PolygonZ files too
    ring_off = offsets[0]
    if len(offsets) == 3:  # MultiPolygon: rings per part, parts per feature
        part_ring_off = offsets[1]
        part_feature = np.repeat(keep, np.diff(offsets[2]))
    else:
        part_ring_off = offsets[1]
        part_feature = keep
    ring_part = np.repeat(np.arange(len(part_ring_off) - 1), np.diff(part_ring_off))
    exterior = np.zeros(len(ring_off) - 1, bool)
    exterior[part_ring_off[:-1][np.diff(part_ring_off) > 0]] = True
    vert_ring = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    valid = np.ones(max(len(coords) - 1, 0), bool)
    valid[ring_off[1:-1] - 1] = False  # the step from one ring's last vertex to the next ring
    edges = np.column_stack([coords[:-1][valid], coords[1:][valid]])
    ring = vert_ring[:-1][valid]
    part = ring_part[ring]
    return edges, part_feature[part], part, ring, exterior


def _row_crossings(edges: np.ndarray, grid: GridSpec):
    """Where ring edges cross the centre lines of the grid rows: (edge index, row, x)."""
    x1, y1, x2, y2 = edges.T
    ymin, ymax = np.minimum(y1, y2), np.maximum(y1, y2)
    # Rows whose centre y satisfies ymin <= yc < ymax (half-open, so shared vertices count once).
    r_lo = np.maximum(np.ceil((ymin - grid.y0) / grid.cell - 0.5).astype(np.int64), 0)
    r_hi = np.minimum(np.ceil((ymax - grid.y0) / grid.cell - 0.5).astype(np.int64) - 1, grid.ny - 1)
    counts = np.maximum(r_hi - r_lo + 1, 0)
    total = int(counts.sum())
    e = np.repeat(np.arange(len(edges)), counts)
    rows = r_lo[e] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    yc = grid.y0 + (rows + 0.5) * grid.cell
    xc = x1[e] + (yc - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e])
    return e, rows, xc


def _inside_runs(geoms, grid: GridSpec):
    """Runs of cells whose centre lies inside a polygon part: (row, first col, stop col, feature).

    Crossings of each part with each row's centre line are sorted by (part, row, x) and paired;
    each pair bounds one run. The even–odd rule is applied within a part only (its exterior and
    holes), never across parts or features, so overlapping parts and features stay inside.
    """
    edges, feature, part, _, _ = _ring_edges(geoms)
    if len(edges) == 0:
        return (np.zeros(0, np.int64),) * 4
    e, rows, xc = _row_crossings(edges, grid)
    own = part[e]
    order = np.lexsort((xc, rows, own))
    xc, rows, own = xc[order], rows[order], own[order]
    rows, own = rows[0::2], own[0::2]
    # The first column whose centre is at or right of a crossing starts (or ends) a run.
    start = np.clip(np.ceil((xc[0::2] - grid.x0) / grid.cell - 0.5).astype(np.int64), 0, grid.nx)
    stop = np.clip(np.ceil((xc[1::2] - grid.x0) / grid.cell - 0.5).astype(np.int64), 0, grid.nx)
    part_feature = np.zeros(int(part.max()) + 1, np.int64)
    part_feature[part] = feature
    return rows, start, np.maximum(stop, start), part_feature[own]


def fill_polygons(geoms, grid: GridSpec) -> np.ndarray:
    """Boolean (ny, nx) mask of cells whose centre lies inside ANY of the polygons (their union).

    A centre inside two overlapping or nested features is inside; a centre in a hole is inside
    only if another feature (or part) covers it.
    """
    rows, start, stop, _ = _inside_runs(geoms, grid)
    width = grid.nx + 1
    size = grid.ny * width
    # +1 where a run starts, −1 where it stops: a cell is inside while any run is open.
    depth = np.bincount(rows * width + start, minlength=size) - np.bincount(rows * width + stop, minlength=size)
    return (np.cumsum(depth.reshape(grid.ny, width), axis=1) > 0)[:, : grid.nx]


def label_polygons(geoms, grid: GridSpec) -> np.ndarray:
    """(ny, nx) int array: index of the feature whose polygon contains each cell centre, -1 for none.

    One vectorised scanline pass for all features at once (see ``_inside_runs``); where features
    overlap, the later one wins. Cost grows with edges and filled cells, not features.
    """
    labels = np.full(grid.nx * grid.ny, -1, np.int64)
    rows, start, stop, owner = _inside_runs(geoms, grid)
    run = stop - start
    n = int(run.sum())
    if n:
        base = rows * grid.nx + start
        cells = np.repeat(base - (np.cumsum(run) - run), run) + np.arange(n)
        labels[cells] = np.repeat(owner, run)
    return labels.reshape(grid.shape)


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


def _cut_at_grid_lines(a: np.ndarray, b: np.ndarray, grid: GridSpec):
    """Cut every segment a→b where it crosses a grid line, so each piece lies in one cell.

    Returns (segment index, piece start (P, 2), piece end (P, 2)). Segments that cross no grid
    line are pieces already; only the others are sorted by (segment, t), which keeps a detailed
    coastline (millions of short segments) cheap.
    """
    sx, tx = _grid_crossings(a[:, 0], b[:, 0], grid.x0, grid.cell)
    sy, ty = _grid_crossings(a[:, 1], b[:, 1], grid.y0, grid.cell)
    n = len(a)
    crossed = np.zeros(n, bool)
    crossed[sx] = True
    crossed[sy] = True
    cut = np.flatnonzero(crossed)
    seg = np.concatenate([cut, cut, sx, sy])
    t = np.concatenate([np.zeros(len(cut)), np.ones(len(cut)), tx, ty])
    order = np.lexsort((t, seg))
    seg, t = seg[order], t[order]
    keep = seg[:-1] == seg[1:]
    s, t0, t1 = seg[:-1][keep], t[:-1][keep], t[1:][keep]
    d = b[s] - a[s]
    whole = np.flatnonzero(~crossed)
    return (np.concatenate([whole, s]), np.concatenate([a[whole], a[s] + d * t0[:, None]]),
            np.concatenate([b[whole], a[s] + d * t1[:, None]]))


def line_length_per_cell(geoms, grid: GridSpec, weights=None) -> np.ndarray:
    """Metres of line in each cell (flat array), exactly: every segment is cut where it crosses a
    grid line, and each piece, now inside one cell, is binned by its midpoint. With ``weights``
    (one per feature), each metre counts that feature's weight."""
    geoms = np.asarray(geoms, dtype=object)
    lines, owner = shapely.get_parts(geoms, return_index=True)
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    out = np.zeros(grid.nx * grid.ny)
    if len(coords) < 2:
        return out
    same = idx[:-1] == idx[1:]
    a, b = coords[:-1][same], coords[1:][same]
    s, p0, p1 = _cut_at_grid_lines(a, b, grid)
    length = np.hypot(*(p1 - p0).T)
    if weights is not None:
        length = length * np.asarray(weights, float)[owner[idx[:-1][same][s]]]
    cell = grid.cell_of((p0 + p1) / 2)
    ok = (cell >= 0) & (length != 0) & np.isfinite(length)
    out += np.bincount(cell[ok], weights=length[ok], minlength=out.size)
    return out


def area_per_cell(geoms, grid: GridSpec, weights=None) -> np.ndarray:
    """Σ over features of weight × area(feature ∩ cell), for every cell (flat array), exactly.

    Green's theorem, cell by cell: for a ring oriented with its interior on the left, the area
    of the polygon inside a cell [xL, xL + w] of a row is ∮ clamp(x − xL, 0, w) dy along the
    ring's pieces in that row. Every ring edge is cut at the grid lines, so each piece lies in
    one cell: a piece in the cell itself adds (x̄ − xL)·dy, a piece in a cell further east adds
    w·dy, a piece further west nothing. One pass over the pieces and one cumulative sum per
    row; no polygon is intersected, so the cost grows with vertices and grid crossings only.
    Features must be valid polygons (their parts do not overlap); overlapping features each
    count (a union is the caller's business).
    """
    edges, feature, _, ring, exterior = _ring_edges(geoms)
    width = grid.nx + 1  # one extra column collects everything east of the grid
    out = np.zeros((grid.ny, width))
    if len(edges):
        # Local coordinates keep the products small and exact to ~1e-9 m².
        ex = edges - np.array([grid.x0, grid.y0, grid.x0, grid.y0])
        x1, y1, x2, y2 = ex.T
        signed = np.bincount(ring, weights=x1 * y2 - x2 * y1, minlength=len(exterior))
        orient = np.where((signed > 0) == exterior, 1.0, -1.0)  # exteriors CCW, holes CW
        w = orient[ring] * (1.0 if weights is None else np.asarray(weights, float)[feature])
        local = GridSpec(0.0, 0.0, grid.cell, grid.nx, grid.ny)
        s, p0, p1 = _cut_at_grid_lines(ex[:, :2], ex[:, 2:], local)
        mid = (p0 + p1) / 2
        row = np.floor(mid[:, 1] / grid.cell).astype(np.int64)
        col = np.floor(mid[:, 0] / grid.cell).astype(np.int64)
        dy = (p1[:, 1] - p0[:, 1]) * w[s]
        ok = (row >= 0) & (row < grid.ny) & (col >= 0) & (dy != 0)
        row, col, dy, xm = row[ok], np.minimum(col[ok], grid.nx), dy[ok], mid[ok, 0]
        flat = row * width + col
        own = np.bincount(flat, weights=(xm - col * grid.cell) * dy, minlength=out.size)
        strip = np.bincount(flat, weights=dy, minlength=out.size).reshape(grid.ny, width)
        east = np.cumsum(strip[:, ::-1], axis=1)[:, ::-1] - strip  # Σ dy of pieces east of each cell
        out = own.reshape(grid.ny, width) + grid.cell * east
    return out[:, : grid.nx].ravel()


def _overlapping(geoms: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the polygons whose interior overlaps another one's.

    A polygon needs one such partner to be merged, not all of them. The candidate pairs (their
    boxes overlap) are therefore tested in rounds, each polygon's first candidates first, and a
    pair is skipped once both its polygons are known to overlap something: in a layer of
    overlapping buffers most polygons are settled by their first candidates, so a fraction of
    the intersecting pairs is tested. A pair that is tested gets the same predicates as any:
    it intersects and does not merely touch.
    """
    a, b = shapely.STRtree(geoms).query(geoms)
    pair = a < b  # a symmetric relation: each pair once
    order = np.argsort(a[pair], kind="stable")
    a, b = a[pair][order], b[pair][order]
    # Rank of each pair among the candidates of its first polygon.
    first = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if len(a) else np.zeros(0, np.int64)
    rank = np.arange(len(a)) - np.repeat(first, np.diff(np.r_[first, len(a)]))
    overlaps = np.zeros(len(geoms), bool)
    lo, hi, last = 0, 1, rank.max() if len(rank) else -1
    while lo <= last:
        # Ranks 0, 1, 2–3, 4–7, …: a few rounds even for a polygon with thousands of candidates.
        todo = np.flatnonzero((rank >= lo) & (rank < hi) & ~(overlaps[a] & overlaps[b]))
        ga, gb = geoms[a[todo]], geoms[b[todo]]
        hit = shapely.intersects(ga, gb)
        hit[hit] = ~shapely.touches(ga[hit], gb[hit])
        overlaps[a[todo[hit]]] = True
        overlaps[b[todo[hit]]] = True
        lo, hi = hi, 2 * hi
    return np.flatnonzero(overlaps)


def disjoint_union(geoms) -> np.ndarray:
    """Polygons with the same union as ``geoms`` whose interiors do not overlap.

    Only features whose interiors overlap another are merged with union_all; the rest pass
    through untouched, so a layer of disjoint parcels (or one huge polygon) costs no union.
    Features must be valid, as loading leaves them (make_valid); validity is not checked again
    here, because GEOS's validity check is superlinear in the vertices of a polygon.
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6))]
    merged = _overlapping(geoms)
    if len(merged) == 0:
        return geoms
    rest = np.delete(geoms, merged)
    return np.concatenate([rest, [shapely.union_all(geoms[merged])]])


def coverage_per_cell(geoms, grid: GridSpec) -> np.ndarray:
    """Share 0–1 of each cell covered by the union of the polygons (flat array), exact to float
    rounding: the exact area per cell (``area_per_cell``) of polygons with that union."""
    area = area_per_cell(disjoint_union(geoms), grid)
    return np.clip(area / grid.cell**2, 0.0, 1.0)


def apportion_per_cell(geoms, values, grid: GridSpec) -> np.ndarray:
    """Σ over features of value × area(feature ∩ cell) / area(feature): each polygon's value
    spread over the cells by area share, so the total of any set of whole-covering cells is the
    total of the values (features with a NaN value are left out)."""
    geoms = np.asarray(geoms, dtype=object)
    values = np.asarray(values, float)
    whole = shapely.area(geoms)
    ok = np.isfinite(values) & (whole > 0)
    share = np.where(ok, values / np.where(ok, whole, 1.0), 0.0)
    return area_per_cell(np.where(ok, geoms, None), grid, share)


# ------------------------------------------------------------------------------------------------
# Row bands of a larger grid (for the national engine, layers/tiled.py)


def area_per_cell_rows(geoms, grid: GridSpec, r0: int, r1: int, weights=None) -> np.ndarray:
    """Rows r0 … r1 − 1 of ``area_per_cell(geoms, grid, weights)`` as a flat ((r1 − r0)·nx) array,
    bit for bit: coordinates relative to the whole grid's origin, the same cuts, the same order
    of sums per cell and the same row-wise cumulative sum. ``geoms`` must hold every feature
    with a piece in these rows (in the order of the whole layer); the others add nothing."""
    edges, feature, _, ring, exterior = _ring_edges(geoms)
    width = grid.nx + 1
    rows = r1 - r0
    out = np.zeros((rows, width))
    if len(edges):
        ex = edges - np.array([grid.x0, grid.y0, grid.x0, grid.y0])
        x1, y1, x2, y2 = ex.T
        signed = np.bincount(ring, weights=x1 * y2 - x2 * y1, minlength=len(exterior))
        orient = np.where((signed > 0) == exterior, 1.0, -1.0)
        w = orient[ring] * (1.0 if weights is None else np.asarray(weights, float)[feature])
        local = GridSpec(0.0, 0.0, grid.cell, grid.nx, grid.ny)
        s, p0, p1 = _cut_at_grid_lines(ex[:, :2], ex[:, 2:], local)
        mid = (p0 + p1) / 2
        row = np.floor(mid[:, 1] / grid.cell).astype(np.int64)
        col = np.floor(mid[:, 0] / grid.cell).astype(np.int64)
        dy = (p1[:, 1] - p0[:, 1]) * w[s]
        ok = (row >= r0) & (row < r1) & (col >= 0) & (dy != 0)
        row, col, dy, xm = row[ok] - r0, np.minimum(col[ok], grid.nx), dy[ok], mid[ok, 0]
        flat = row * width + col
        own = np.bincount(flat, weights=(xm - col * grid.cell) * dy, minlength=out.size)
        strip = np.bincount(flat, weights=dy, minlength=out.size).reshape(rows, width)
        east = np.cumsum(strip[:, ::-1], axis=1)[:, ::-1] - strip
        out = own.reshape(rows, width) + grid.cell * east
    return out[:, : grid.nx].ravel()
