"""Draw layers and composites onto a given matplotlib Axes; no pyplot, no Qt.

The Qt canvas, the exports and the tests all call these. Geometry goes to matplotlib as a few
collections built from shapely's coordinate arrays (one artist per layer, not per feature), and
grids go as one image; that is what keeps 400,000 cells under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.artist import Artist
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgba
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D, Bbox
from matplotlib.path import Path as MplPath

from .i18n import tr
from .indicators import family
from .sectors import get_sector
from .style import PRIORITY_CMAP, Style, fmt_number, graduated_breaks, qualitative_colours, sequential_colours
from .units import Units


@dataclass
class LegendEntry:
    label: str
    kind: str  # point | line | polygon | patch | header
    colour: str = "#000000"
    marker: str = "o"
    edge: str | None = None


# ------------------------------------------------------------------------------------------------
# Geometry → matplotlib collections


def _split(coords: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
    if len(coords) == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx)) + 1
    return np.split(coords, cuts)


def line_segments(geoms: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Every line part as an (k, 2) array, with the index of the feature it came from.
    Polygons contribute their rings, so the same call draws outlines."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    is_line = np.isin(shapely.get_type_id(parts), (1, 2))  # LineString, LinearRing
    if not is_line.all():
        rings, ring_of = shapely.get_parts(shapely.boundary(parts[~is_line]), return_index=True)
        parts = np.concatenate([parts[is_line], rings])
        owner = np.concatenate([owner[is_line], owner[~is_line][ring_of]])
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    return _split(coords, idx), owner[np.unique(idx)] if len(idx) else owner[:0]


def polygon_collection(geoms: np.ndarray, **kw):
    """One collection for all polygons. PolyCollection when nothing has holes (fast path);
    otherwise a PathCollection of compound paths so lakes and enclaves stay empty."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # Simplifying a sliver can leave an empty polygon, which has no ring to draw.
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    parts, owner = parts[keep], owner[keep]
    holes = shapely.get_num_interior_rings(parts)
    if not holes.any():
        coords, idx = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
        return PolyCollection(_split(coords, idx), **kw), owner
    paths = []
    for p in parts:
        rings = [np.asarray(p.exterior.coords)] + [np.asarray(r.coords) for r in p.interiors]
        verts = np.concatenate(rings)
        codes = np.full(len(verts), MplPath.LINETO, dtype=np.uint8)
        start = 0
        for r in rings:
            codes[start] = MplPath.MOVETO
            codes[start + len(r) - 1] = MplPath.CLOSEPOLY
            start += len(r)
        paths.append(MplPath(verts, codes))
    return PathCollection(paths, **kw), owner


# ------------------------------------------------------------------------------------------------
# Colours per feature


def feature_colours(gdf: gpd.GeoDataFrame, style: Style, sector_colour: str, lang: str = "sv"
                    ) -> tuple[np.ndarray | str, list[LegendEntry]]:
    """Per-feature RGBA colours (or one colour) and the legend rows explaining them."""
    col = style.column
    if style.mode == "categorized" and col in gdf.columns:
        values = gdf[col].astype("string").fillna("–")
        cats = sorted(values.unique(), key=str)
        if len(cats) > 12:
            top = values.value_counts().index[:11].tolist()
            values = values.where(values.isin(top), tr("other", lang))
            cats = sorted(top, key=str) + [tr("other", lang)]
        colours = qualitative_colours(len(cats), style.palette if style.palette else "okabe_ito")
        lut = dict(zip(cats, colours))
        codes = pd.Categorical(values, categories=cats).codes
        rgba = np.array([to_rgba(c) for c in colours])[codes]
        return rgba, [LegendEntry(str(c), "patch", lut[c]) for c in cats]
    if style.mode == "graduated" and col in gdf.columns:
        vals = pd.to_numeric(gdf[col], errors="coerce")
        bins = graduated_breaks(vals, style.scheme, style.k)
        if len(bins):
            colours = sequential_colours(len(bins), style.palette)
            cls = np.minimum(np.searchsorted(bins, vals.to_numpy(float), side="left"), len(bins) - 1)
            rgba = np.array([to_rgba(c) for c in colours])[cls]
            rgba[vals.isna().to_numpy()] = to_rgba("#bbbbbb")
            lows = np.r_[np.nanmin(vals), bins[:-1]]
            entries = [LegendEntry(f"{fmt_number(lo)} – {fmt_number(hi)}", "patch", c)
                       for lo, hi, c in zip(lows, bins, colours)]
            return rgba, entries
    colour = style.colour or sector_colour
    return colour, []


DENSE_POLYGONS = 20_000  # above this, polygons are rasterised to screen pixels instead of drawn as paths


def _draw_dense_polygons(ax, geoms, colours, alpha, zorder):
    """Many small polygons as one image at screen resolution, rasterised by our scanline filler.

    Matplotlib draws one path per polygon; at 400,000 polygons that is seconds, while filling
    a 1920×1080 label image is a fraction of one. The image belongs to the current view, so
    MapScene re-renders it after pan or zoom (artists carry ``skikt_dense``). Polygons smaller
    than a pixel still show as one pixel at their representative point. No outlines are drawn.
    """
    from .raster import GridSpec, label_polygons

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_window_extent()
    nx = max(int(bbox.width), 1)
    px = (x1 - x0) / nx
    grid = GridSpec(x0, y0, px, nx, int(np.ceil((y1 - y0) / px)))
    labels = label_polygons(geoms, grid).ravel()
    seen = np.zeros(len(geoms), bool)
    seen[labels[labels >= 0]] = True
    if not seen.all():
        lost = np.flatnonzero(~seen)
        cell = grid.cell_of(shapely.get_coordinates(shapely.point_on_surface(geoms[lost])))
        ok = cell >= 0
        labels[cell[ok]] = lost[ok]
    if isinstance(colours, str):
        lut = np.array([to_rgba(colours, 0.55)])
        idx = np.where(labels >= 0, 0, -1)
    else:
        lut = np.asarray(colours, float)
        idx = labels
    rgba = np.zeros((labels.size, 4), np.float32)
    inside = idx >= 0
    rgba[inside] = lut[idx[inside]]
    img = rgba.reshape(grid.ny, grid.nx, 4)
    art = ax.imshow(img, origin="lower", extent=(x0, x0 + nx * px, y0, y0 + grid.ny * px), alpha=alpha,
                    interpolation="nearest", zorder=zorder, resample=False)
    art.skikt_dense = True
    return art


RASTER_COVER_LIMIT = 2.0  # rasterise only while the polygons' summed area is at most this many screens


def _small_on_screen(ax, geoms) -> bool:
    """Whether the polygons are small on screen, which is when rasterising them pays: our filler
    writes every covered pixel of every polygon, matplotlib fills paths in C. With 50,000
    overlapping buffers (seven screens of summed area) the filler cost more processor time
    than the paths; with 400,000 grid-sized squares (under one screen) far less."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bbox = ax.get_window_extent()
    px_area = ((x1 - x0) / max(bbox.width, 1)) * ((y1 - y0) / max(bbox.height, 1))
    covered = float(shapely.area(geoms).sum()) / px_area if px_area > 0 else np.inf
    return covered <= RASTER_COVER_LIMIT * bbox.width * bbox.height


def draw_layer(ax, gdf: gpd.GeoDataFrame, style: Style | None = None, sector: str = "reference",
               *, alpha: float = 1.0, zorder: float = 2, simplify: float | None = None, lang: str = "sv"):
    """Draw one vector layer as a single collection. Returns (artist, legend entries)."""
    style = style or Style()
    sec = get_sector(sector)
    if len(gdf) == 0:
        return None, []
    colours, entries = feature_colours(gdf, style, sec.colour, lang)
    geoms = gdf.geometry.to_numpy()
    fam = family(gdf)
    dense = fam == "polygon" and len(geoms) > DENSE_POLYGONS
    if dense:
        # Zoomed in, few of the polygons are in view: draw those as paths, outlines and all.
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        b = shapely.bounds(geoms)
        in_view = np.flatnonzero((b[:, 0] < x1) & (b[:, 2] > x0) & (b[:, 1] < y1) & (b[:, 3] > y0))
        if len(in_view) <= DENSE_POLYGONS or not _small_on_screen(ax, geoms[in_view]):
            dense = False
            geoms = geoms[in_view]
            if not isinstance(colours, str):
                colours = colours[in_view]
    if simplify and fam != "point" and not dense:  # rasterised layers gain nothing from it
        geoms = shapely.simplify(geoms, simplify, preserve_topology=False)
    per_feature = not isinstance(colours, str)
    if fam == "point":
        parts, owner = shapely.get_parts(geoms, return_index=True)
        xy = shapely.get_coordinates(parts)
        c = colours[owner] if per_feature else colours
        # A dark edge keeps light symbols (yellow tourism stars) visible on the priority colours.
        art = ax.scatter(xy[:, 0], xy[:, 1], s=style.size, c=c, marker=sec.marker, alpha=alpha,
                         edgecolors="#1a1a1a" if style.outline else "none", linewidths=0.5, zorder=zorder + 1)
        kind = "point"
    elif fam == "line":
        segs, owner = line_segments(geoms)
        c = colours[owner] if per_feature else colours
        art = LineCollection(segs, colors=c, linewidths=style.line_width * 1.6, alpha=alpha,
                             zorder=zorder + 0.5, capstyle="round")
        ax.add_collection(art, autolim=False)
        kind = "line"
    elif dense:
        art = _draw_dense_polygons(ax, geoms, colours, alpha, zorder)
        kind = "polygon"
    else:
        art, owner = polygon_collection(geoms)
        fc = colours[owner] if per_feature else to_rgba(colours, 0.35)
        art.set_facecolor(fc)
        art.set_edgecolor(colours if not per_feature else "#444444")
        art.set_linewidth(0.8 if style.outline else 0)
        art.set_alpha(alpha if per_feature else None)
        if not per_feature and alpha < 1:
            art.set_facecolor(to_rgba(colours, 0.35 * alpha))
            art.set_edgecolor(to_rgba(colours, alpha))
        art.set_zorder(zorder)
        ax.add_collection(art, autolim=False)
        kind = "polygon"
    if not entries:
        entries = [LegendEntry("", kind, colours, sec.marker)]
    else:
        for e in entries:
            e.kind, e.marker = kind if kind != "polygon" else "patch", sec.marker
    if style.labels and style.labels in gdf.columns and len(gdf) <= 400:
        pts = shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.to_numpy()))
        for (x, y), text in zip(pts, gdf[style.labels].astype(str)):
            ax.annotate(text, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8, zorder=zorder + 2,
                        color="#222222", clip_on=True)
    return art, entries


# ------------------------------------------------------------------------------------------------
# Base map


MAX_LABELS = 20  # each label costs 1–2 ms to draw; a projected map reads better with fewer


def draw_basemap(ax, counties: gpd.GeoDataFrame | None, municipalities: gpd.GeoDataFrame | None,
                 view=None, labels: bool = True, simplify: float | None = None, min_label_area: float = 0.0,
                 halo: bool = False, prefer: np.ndarray | None = None):
    """Quiet outlines: municipalities thin, counties darker, municipality names in grey.

    Names go only on municipalities at least ``min_label_area`` (map units²) large, so a dense
    city region does not turn into a pile of overlapping names; those marked in ``prefer`` (the
    study area's) are named before larger neighbours."""
    arts = []
    for frame, lw, colour, z in ((municipalities, 0.5, "#9a9a9a", 1.2), (counties, 1.3, "#555555", 1.3)):
        if frame is None or len(frame) == 0:
            continue
        geoms = frame.geometry.to_numpy()
        if simplify:
            geoms = shapely.simplify(geoms, simplify)
        segs, _ = line_segments(shapely.boundary(geoms))
        lc = LineCollection(segs, colors=colour, linewidths=lw, zorder=z)
        ax.add_collection(lc, autolim=False)
        arts.append(lc)
    if labels:
        arts += draw_municipality_names(ax, municipalities, view, min_label_area, halo, prefer)
    return arts


def draw_municipality_names(ax, municipalities: gpd.GeoDataFrame | None, view=None, min_label_area: float = 0.0,
                            halo: bool = False, prefer: np.ndarray | None = None) -> list:
    """Names of the municipalities in view, largest (and the study area's) first; see draw_basemap."""
    if municipalities is None or not len(municipalities) or "name" not in municipalities.columns:
        return []
    xy = shapely.get_coordinates(shapely.point_on_surface(municipalities.geometry.to_numpy()))
    if view is not None:
        x0, x1, y0, y1 = view
        fx, fy = (xy[:, 0] - x0) / (x1 - x0), (xy[:, 1] - y0) / (y1 - y0)
        inside = (fx > 0) & (fx < 1) & (fy > 0) & (fy < 1)
        # Keep the corners with the scale bar (bottom left) and north arrow (top right) clear.
        inside &= ~((fx < 0.34) & (fy < 0.12)) & ~((fx > 0.88) & (fy > 0.80))
    else:
        inside = np.ones(len(xy), bool)
    area = municipalities.geometry.area.to_numpy()
    if min_label_area:
        inside &= area >= min_label_area
    if inside.sum() > MAX_LABELS:  # keep the study area's, then the largest: they have room
        rank_key = area + (np.where(prefer, area.max() + 1, 0) if prefer is not None else 0)
        inside[np.flatnonzero(inside)[np.argsort(-rank_key[inside])[MAX_LABELS:]]] = False
    if not inside.any():
        return []
    return label_collections(ax, xy[inside], municipalities["name"].astype(str).to_numpy()[inside], halo=halo)


_LABEL_FONT = FontProperties(style="italic", size=7.5)


@lru_cache(maxsize=4096)
def _label_path(text: str) -> MplPath:
    """The outline of a label in points, centred on (0, 0); built once per name."""
    tp = TextPath((0, 0), text, prop=_LABEL_FONT)
    v = tp.vertices
    if len(v) == 0:  # a blank name
        return MplPath(np.zeros((1, 2)), [MplPath.MOVETO])
    # The bounds of the control points, not Path.get_extents: that solves every Bézier curve for
    # its extrema, 9 ms a name, and a zoom that brings eight new names into view felt it.
    lo, hi = v.min(axis=0), v.max(axis=0)
    return MplPath(v - (lo + hi) / 2, tp.codes)


class _LabelCollection(PathCollection):
    """Glyph outlines in points, scaled to the renderer's pixels at draw time (so PNG at any dpi,
    PDF and SVG all get the same label size)."""

    def draw(self, renderer):
        self.set_transform(Affine2D().scale(renderer.points_to_pixels(1.0)))
        super().draw(renderer)


def label_collections(ax, xy: np.ndarray, names, *, halo: bool = True, colour: str = "#3c3c3c",
                      zorder: float = 6) -> list:
    """Labels as glyph outlines in one PathCollection (and one for a white halo beneath).

    Twenty Text artists cost 30–40 ms per redraw here, most of a pan; one collection of
    cached glyph paths costs about one. Paths are in points, placed at data-coordinate offsets.
    """
    paths = [_label_path(str(n)) for n in names]
    out = []
    layers = [("white", 2.4, 0.8)] if halo else []
    for face, width, alpha in layers + [(colour, 0.0, 1.0)]:
        coll = _LabelCollection(paths, offsets=np.asarray(xy), offset_transform=ax.transData,
                              facecolors=face, edgecolors=face if width else "none", linewidths=width,
                              alpha=alpha, zorder=zorder + (0 if width else 0.1))
        ax.add_collection(coll, autolim=False)
        out.append(coll)
    return out


# ------------------------------------------------------------------------------------------------
# Composites and per-unit values


def priority_colours(k: int) -> list[str]:
    """Class 1 (highest priority) darkest. ColorBrewer YlOrRd, which is colour-blind safe."""
    return list(reversed(sequential_colours(k, PRIORITY_CMAP)))


def priority_legend(k: int, lang: str = "sv") -> list[LegendEntry]:
    colours = priority_colours(k)
    out = []
    for c in range(1, k + 1):
        if c == 1:
            label = tr("class_highest", lang)
        elif c == k:
            label = tr("class_lowest", lang)
        else:
            label = tr("class_n", lang).format(n=c)
        out.append(LegendEntry(label, "patch", colours[c - 1]))
    return out


def draw_unit_values(ax, units: Units, values: np.ndarray, cmap, norm=None, *, alpha: float = 1.0,
                     zorder: float = 0.5, interactive: bool = False):
    """Per-unit values: one image for grids, one polygon collection for areas. NaN is transparent."""
    if units.kind == "grid" and interactive:
        img = np.ma.masked_invalid(units.to_image(values))
        rgba = cmap(norm(img) if norm is not None else img, alpha=alpha, bytes=True)
        rgba[np.ma.getmaskarray(img)] = 0
        return ax.add_artist(GridImage(rgba, units.grid.extent, zorder=zorder))
    if units.kind == "grid":
        img = units.to_image(values)
        return ax.imshow(np.ma.masked_invalid(img), origin="lower", extent=units.grid.extent, cmap=cmap,
                         norm=norm, interpolation="nearest", alpha=alpha, zorder=zorder, resample=False)
    coll, owner = polygon_collection(units.geometry)
    vals = np.asarray(values, float)[owner]
    coll.set_array(np.ma.masked_invalid(vals))
    coll.set_cmap(cmap)
    if norm is not None:
        coll.set_norm(norm)
    coll.set_edgecolor("#ffffff")
    coll.set_linewidth(0.4)
    coll.set_alpha(alpha)
    coll.set_zorder(zorder)
    ax.add_collection(coll, autolim=False)
    return coll


class GridImage(Artist):
    """An RGBA raster on a regular grid, drawn by nearest-cell lookup at screen resolution.

    matplotlib's AxesImage resamples the whole raster through masked arrays on every draw:
    60 ms for a 250 m grid over Västra Götaland, half of a slider step. Here each draw picks one
    cell per screen pixel with two index arrays (columns and rows are separable on a north-up
    map) and hands Agg a ready image. Used for the interactive map; printed maps keep imshow.
    """

    def __init__(self, rgba: np.ndarray, extent, *, zorder: float = 0.5):
        super().__init__()
        self.set_zorder(zorder)
        self._extent = tuple(float(v) for v in extent)  # (left, right, bottom, top); row 0 south
        self.set_data(rgba)

    def set_data(self, rgba: np.ndarray) -> None:
        rgba = np.ascontiguousarray(rgba, np.uint8)
        self._cells = rgba.view(np.uint32).reshape(rgba.shape[:2])  # one 4-byte gather per pixel
        self.stale = True

    def get_extent(self):
        return self._extent

    def get_window_extent(self, renderer=None):
        x0, x1, y0, y1 = self._extent
        return Bbox([[x0, y0], [x1, y1]]).transformed(self.axes.transData)

    def screen_pixels(self, renderer) -> tuple[np.ndarray, float, float] | None:
        """The image as drawn: (rows × columns × 4 uint8, left, bottom) in display pixels."""
        ax = self.axes
        x0, x1, y0, y1 = self._extent
        box = Bbox.intersection(self.get_window_extent(), ax.bbox)
        if box is None or box.width < 1 or box.height < 1:
            return None
        mag = renderer.get_image_magnification()
        left, bottom = np.floor(box.x0), np.floor(box.y0)
        w = int(np.ceil((np.ceil(box.x1) - left) * mag))
        h = int(np.ceil((np.ceil(box.y1) - bottom) * mag))
        inv = ax.transData.inverted()
        # Pixel centres; the renderer takes the bottom row first.
        xs = inv.transform(np.column_stack([left + (np.arange(w) + 0.5) / mag, np.full(w, bottom)]))[:, 0]
        ys = inv.transform(np.column_stack([np.full(h, left), bottom + (np.arange(h) + 0.5) / mag]))[:, 1]
        ny, nx = self._cells.shape
        col = np.floor((xs - x0) * (nx / (x1 - x0))).astype(np.intp)
        row = np.floor((ys - y0) * (ny / (y1 - y0))).astype(np.intp)
        out = self._cells.take(np.clip(row, 0, ny - 1), axis=0).take(np.clip(col, 0, nx - 1), axis=1)
        out[:, (col < 0) | (col >= nx)] = 0  # pixel centres beyond the raster stay transparent
        out[(row < 0) | (row >= ny)] = 0
        return out.view(np.uint8).reshape(h, w, 4), left, bottom

    def _pixels_to_draw(self, renderer):
        """What ``draw`` puts on screen; subclasses paint over the looked-up cells."""
        return self.screen_pixels(renderer)

    def draw(self, renderer):
        if not self.get_visible():
            return
        drawn = self._pixels_to_draw(renderer)
        if drawn is not None:
            im, left, bottom = drawn
            gc = renderer.new_gc()
            self._set_gc_clip(gc)
            gc.set_clip_rectangle(self.axes.bbox.frozen())
            renderer.draw_image(gc, left, bottom, im)
            gc.restore()
        self.stale = False


# Excluded units (role = "exclude"): grey diagonal lines on a light grey, "not scored", as a
# hatch rather than a colour so that it cannot be read as one more priority class.
EXCLUDED_FACE = "#e2e2e2"
EXCLUDED_LINE = "#6f6f6f"
HATCH_SPACING_PT = 4.5  # distance between the diagonal lines, in points (the same on screen and paper)
HATCH_WIDTH_PT = 1.2


def _rgba8(colour: str) -> np.ndarray:
    return (np.array(to_rgba(colour)) * 255).round().astype(np.uint8)


class HatchImage(GridImage):
    """Grid cells drawn as a hatch: light grey with grey diagonal lines, at the renderer's pixels.

    The lines are laid in display pixels (like matplotlib's hatches), so a 500 m cell shows the
    pattern at any zoom and one artist covers every excluded cell of the grid."""

    _painted: tuple = (None, None)  # (view key, (image, left, bottom)) of the last draw

    def set_data(self, rgba: np.ndarray) -> None:
        super().set_data(rgba)
        self._painted = (None, None)

    def _hatched(self, renderer):
        """The hatched image for this view, painted again only when the view, the canvas or the
        dpi moved: a weight step redraws the map but leaves the excluded cells as they were."""
        ax = self.axes
        key = (renderer.width, renderer.height, getattr(renderer, "dpi", None), renderer.get_image_magnification(),
               tuple(ax.viewLim.bounds), tuple(ax.bbox.bounds))
        if self._painted[0] != key:
            self._painted = (key, self._paint(renderer))
        return self._painted[1]

    def _paint(self, renderer):
        drawn = self.screen_pixels(renderer)
        if drawn is not None:
            im, left, bottom = drawn
            mag = renderer.get_image_magnification()
            scale = renderer.points_to_pixels(1.0) * mag
            period = max(int(round(HATCH_SPACING_PT * scale)), 4)
            width = max(int(round(HATCH_WIDTH_PT * scale)), 1)
            h, w = im.shape[:2]
            # Row 0 is the bottom row: x − y constant runs up to the right, a "/" hatch.
            cols = np.arange(w) + int(round(left * mag))
            rows = np.arange(h) + int(round(bottom * mag))
            on_line = (cols[None, :] - rows[:, None]) % period < width
            inside = im[..., 3] > 0
            im[inside & on_line] = _rgba8(EXCLUDED_LINE)
        return drawn

    _pixels_to_draw = _hatched


def draw_exclusions(ax, units: Units, excluded: np.ndarray, *, zorder: float = 0.55):
    """The excluded units hatched, above the priority map: one :class:`HatchImage` for a grid,
    one hatched polygon collection for areas. None when nothing is excluded."""
    excluded = np.asarray(excluded, bool)
    if units is None or not excluded.any():
        return None
    if units.kind == "grid":
        full = np.zeros((units.grid.nx * units.grid.ny, 4), np.uint8)
        full[units.flat[excluded]] = _rgba8(EXCLUDED_FACE)
        return ax.add_artist(HatchImage(full.reshape(units.grid.ny, units.grid.nx, 4), units.grid.extent,
                                        zorder=zorder))
    coll, _owner = polygon_collection(units.geometry[excluded])
    coll.set_facecolor(EXCLUDED_FACE)
    coll.set_edgecolor(EXCLUDED_LINE)
    coll.set_linewidth(0.4)
    coll.set_hatch("////")
    coll.set_hatchcolor(EXCLUDED_LINE)
    coll.set_zorder(zorder)
    ax.add_collection(coll, autolim=False)
    return coll


def exclusion_legend(titles: list[str], lang: str = "sv") -> tuple[str, list[LegendEntry]]:
    """The legend section that says why the hatched units have no score: "Undantaget: <titles>"."""
    return tr("excluded_legend", lang).format(names=", ".join(titles)), [LegendEntry("", "hatch", EXCLUDED_FACE,
                                                                                       edge=EXCLUDED_LINE)]


def priority_rgba(units: Units, cls: np.ndarray, k: int, alpha: float = 0.9) -> np.ndarray:
    """The priority classes of a grid as a ready (ny, nx, 4) uint8 image.

    Colouring once here, instead of handing matplotlib classes plus a colormap, saves the
    colormap pass on every redraw (a third of a pan at 1600×1000)."""
    lut = np.zeros((k + 1, 4), np.uint8)  # index 0: no score, transparent
    lut[1:] = (np.array([to_rgba(c, alpha) for c in priority_colours(k)]) * 255).round().astype(np.uint8)
    full = np.zeros(units.grid.nx * units.grid.ny, np.int8)
    full[units.flat] = cls
    # One 4-byte gather per cell instead of four 1-byte ones.
    packed = lut.view(np.uint32).ravel()[full]
    return packed.view(np.uint8).reshape(units.grid.ny, units.grid.nx, 4)


def draw_priority(ax, units: Units, cls: np.ndarray, k: int, *, alpha: float = 0.9, zorder: float = 0.5,
                  interactive: bool = False):
    """The classed priority map (class 1 = highest priority); units without a score stay empty.
    ``interactive`` grids are a :class:`GridImage` (fast redraws); prints keep matplotlib's image."""
    if units.kind == "grid" and interactive:
        return ax.add_artist(GridImage(priority_rgba(units, cls, k, alpha), units.grid.extent, zorder=zorder))
    if units.kind == "grid":
        return ax.imshow(priority_rgba(units, cls, k, alpha), origin="lower", extent=units.grid.extent,
                         interpolation="nearest", zorder=zorder, resample=False)
    cmap = ListedColormap(priority_colours(k)).with_extremes(bad=(0, 0, 0, 0))
    values = np.where(cls > 0, cls, np.nan).astype(np.float32)
    norm = BoundaryNorm(np.arange(0.5, k + 1.5), k)
    return draw_unit_values(ax, units, values, cmap, norm, alpha=alpha, zorder=zorder)


def draw_no_weights_message(ax, lang: str = "sv", *, fontsize: float = 13):
    """The centred note shown instead of a priority map when every weight is zero: an empty map
    with a priority legend would read as "nothing is a priority here"."""
    return ax.text(0.5, 0.5, tr("map_no_weights", lang), transform=ax.transAxes, ha="center", va="center",
                   fontsize=fontsize, color="#1a1a1a", zorder=30, wrap=True, parse_math=False,
                   bbox=dict(boxstyle="round,pad=0.6", facecolor="white", edgecolor="#888888", alpha=0.92))


# ------------------------------------------------------------------------------------------------
# Map furniture


def nice_length(target: float) -> float:
    exp = 10 ** np.floor(np.log10(target))
    for m in (5, 2, 1):
        if m * exp <= target:
            return m * exp
    return exp


def add_scalebar(ax, *, fontsize: float = 8):
    """A scale bar of a round length about a fifth of the view width, bottom left."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length((x1 - x0) / 5)
    bx, by = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    arts = [
        ax.add_patch(Rectangle(
            (bx, by), length / 2, h, facecolor="black", edgecolor="black", zorder=20)),
        ax.add_patch(Rectangle(
            (bx + length / 2, by), length / 2, h, facecolor="white", edgecolor="black", zorder=20)),
    ]
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    arts.append(ax.text(bx + length / 2, by + h * 2.2, label, ha="center", va="bottom", fontsize=fontsize,
                        zorder=20, bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1)))
    return arts


def add_north_arrow(ax, *, size: float = 0.06):
    """An arrow with an N, top right, in axes coordinates so it survives any zoom."""
    return [ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.95 - size * 1.6), xycoords="axes fraction",
                        ha="center", va="center", fontsize=12, fontweight="bold", zorder=20,
                        arrowprops=dict(facecolor="black", edgecolor="black", width=4, headwidth=12,
                                        headlength=10))]
