"""A live map on one Axes: artists cached per layer so that a change redraws only what it touched.

* look changed (visibility, opacity, order, style) → existing artists are restyled or one layer's
  artist is rebuilt; no indicator is recomputed;
* weights changed → the priority image gets new data (``set_data``), nothing else;
* view changed → limits move; polygon layers are re-simplified only when the pixel size has
  changed by more than a factor of two since they were built.

Everything the scene draws above the priority map (vector layers, base map, names) is painted
into one RGBA image per view (``CachedLayers``) and that image is composited over the priority
map on every draw. A weight step therefore costs the priority map plus one image blend, however
many features the shown layers have; the image is painted again only when one of those artists
changed (matplotlib marks it stale), one was added or removed, or the view, canvas size or dpi
moved. The full redraw goes through the same image, so a cached step and a fresh draw give the
same pixels.

The Qt canvas and ``skikt bench`` both drive this class; it knows nothing about Qt.
"""

from __future__ import annotations

import json

import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.colors import BoundaryNorm, ListedColormap

from .export import base_layers, layer_title
from .exclusions import excluding_titles
from .render import (DENSE_POLYGONS, LegendEntry, draw_basemap, draw_exclusions, draw_layer,
                     draw_municipality_names, draw_no_weights_message, draw_priority, draw_unit_values,
                     exclusion_legend, priority_colours, priority_legend, priority_rgba)
from .style import Style
from .workspace import Workspace


def prepare_map_axes(ax) -> None:
    """The map's axes as the app shows them: no ticks (their labels would be laid out and drawn
    on every redraw), equal aspect, a paper-white background."""
    ax.set_facecolor("#fbfbf9")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()


class CachedLayers(Artist):
    """The scene's static artists drawn once into an RGBA image, composited over the priority map.

    ``members`` returns the artists it stands for; the scene marks them animated, so that on screen
    the Axes skips them and only this image is drawn. When a figure is saved (savefig, printing)
    the Axes draws animated artists itself, so this image then draws nothing.
    """

    def __init__(self, members, *, zorder: float):
        super().__init__()
        self.set_zorder(zorder)
        self._members = members
        self._painted_members: tuple = ()
        self._painted_view = None
        self._rgba: np.ndarray | None = None
        self.paints = 0  # how often the image was painted from the artists (a weight step: never)

    def invalidate(self) -> None:
        self._painted_view = None
        self.stale = True

    def _view_key(self, renderer) -> tuple:
        ax = self.axes
        return (int(renderer.width), int(renderer.height), float(renderer.dpi),
                tuple(ax.viewLim.bounds), tuple(ax.bbox.bounds))

    def _is_current(self, members: tuple, view: tuple) -> bool:
        return (self._rgba is not None and view == self._painted_view
                and MapScene._same_objects(members, self._painted_members)
                and not any(a.stale for a in members))

    def _paint(self, members: tuple, renderer) -> None:
        from matplotlib.backends.backend_agg import RendererAgg

        off = RendererAgg(int(renderer.width), int(renderer.height), renderer.dpi)
        for art in sorted((a for a in members if a.get_visible()), key=lambda a: a.get_zorder()):
            art.draw(off)
        for art in members:  # hidden ones are never drawn, so never marked clean by a draw
            art.stale = False
        # The buffer's first row is the top of the figure; draw_image takes the bottom row first.
        self._rgba = np.ascontiguousarray(np.asarray(off.buffer_rgba())[::-1])
        self.paints += 1

    def draw(self, renderer):
        if not self.get_visible() or self.figure.canvas.is_saving():
            return
        members = tuple(self._members())
        view = self._view_key(renderer)
        if not self._is_current(members, view):
            self._paint(members, renderer)
            self._painted_members, self._painted_view = members, view
        gc = renderer.new_gc()
        renderer.draw_image(gc, 0, 0, self._rgba)
        gc.restore()
        self.stale = False


class MapScene:
    def __init__(self, ax, ws: Workspace, lang: str = "sv"):
        self.ax = ax
        self.ws = ws
        self.lang = lang
        self.show_composite = True
        self.show_stability: np.ndarray | None = None
        # A per-unit map shown instead of the priority classes (layers/unit_maps.py); wins over
        # the stability view while set.
        self.unit_map = None
        self.labels = True
        # Caches remember the very objects they were built from and compare them with `is`: an
        # id() can be reused by a new frame once the old one is freed, and a DataFrame cannot be
        # compared with ==. Holding the reference also keeps that id from being recycled.
        self._layer_art: dict[str, tuple[tuple, object, list[LegendEntry], object]] = {}
        self._base_art: list = []
        self._base_key = None
        self._base_sources: tuple = ()
        self._prefer_sources: tuple = ()
        self._prefer = None
        self._no_weights_art = None
        self._label_art: list = []
        self._priority = None
        self._priority_units = None
        self._simplify = None
        self._highlight = None
        self._cached: CachedLayers | None = None
        # The hatch over the units a role = "exclude" layer removes, and what it was built from.
        self._hatch = None
        self._hatch_sources: tuple = ()

    def _static_artists(self) -> list:
        """What CachedLayers paints: every layer, the base map and the names (all above the priority map)."""
        layers = [entry[1] for entry in self._layer_art.values() if entry[1] is not None]
        return layers + self._base_art + self._label_art

    def _cache_static(self, artists) -> None:
        """Hand artists to the cached image (on screen the Axes then skips them)."""
        if self._cached is None or self._cached.axes is not self.ax:
            self._cached = self.ax.add_artist(CachedLayers(self._static_artists, zorder=0.6))
        for art in artists:
            if art is not None:
                art.set_animated(True)

    # ------------------------------------------------------------------ helpers

    def pixel_size(self) -> float:
        x0, x1 = self.ax.get_xlim()
        width_px = max(self.ax.get_window_extent().width, 1)
        return (x1 - x0) / width_px

    def _tolerance(self) -> float:
        """Simplification tolerance: half a pixel, in map units, bucketed to powers of two."""
        px = self.pixel_size() * 0.5
        return float(2 ** np.floor(np.log2(px))) if px > 0 else 0.0

    # ------------------------------------------------------------------ layers

    def _layer_key(self, spec, lay, tol) -> tuple:
        geo = lay.geo
        fam_poly = len(geo) > 0 and int(shapely.get_type_id(geo.geometry.iloc[0])) in (3, 6)
        view = None
        if fam_poly and len(geo) > DENSE_POLYGONS:
            # Dense layers are images of the current view: any pan or zoom makes a new one.
            view = (self.ax.get_xlim(), self.ax.get_ylim(), tuple(self.ax.get_window_extent().size))
        # Opacity is in the key: polygon fills carry their own alpha, which set_alpha would flatten.
        # The frame itself is compared by identity in _is_current, not put in this key.
        return (json.dumps(spec.style, sort_keys=True), spec.sector, spec.opacity,
                tol if fam_poly else None, view, self.lang)

    @staticmethod
    def _same_objects(a: tuple, b: tuple) -> bool:
        return len(a) == len(b) and all(x is y for x, y in zip(a, b))

    def sync_layers(self) -> None:
        ws = self.ws
        tol = self._tolerance()
        counties, municipalities = base_layers(ws)
        live = set()
        order = [s for s in ws.project.layers]
        for rank, spec in enumerate(order):
            lay = ws.layers.get(spec.id)
            if lay is None or lay.geo is None:
                continue
            if spec.sector == "reference" and (lay.geo is counties or lay.geo is municipalities):
                continue
            live.add(spec.id)
            key = self._layer_key(spec, lay, tol)
            cached = self._layer_art.get(spec.id)
            if cached is None or cached[0] != key or cached[3] is not lay.frame:
                if not spec.visible and cached is None:
                    # Build lazily: a hidden layer costs nothing until it is shown.
                    self._layer_art.pop(spec.id, None)
                    continue
                if cached is not None and cached[1] is not None:
                    cached[1].remove()
                art, entries = draw_layer(self.ax, lay.geo, Style.from_dict(spec.style), spec.sector,
                                          alpha=spec.opacity, simplify=tol, lang=self.lang)
                self._cache_static([art])
                self._layer_art[spec.id] = (key, art, entries, lay.frame)
            art = self._layer_art[spec.id][1]
            if art is not None:
                art.set_visible(spec.visible)
                is_point = any(e.kind == "point" for e in self._layer_art[spec.id][2])
                # Earlier in the list draws on top; points above the polygons of the same layer slot.
                art.set_zorder(3 + 2 * (len(order) - rank) + (1 if is_point else 0))
        for gone in [k for k in self._layer_art if k not in live]:
            art = self._layer_art.pop(gone)[1]
            if art is not None:
                art.remove()
        if tol != self._base_key or not self._same_objects((counties, municipalities), self._base_sources):
            for a in self._base_art:
                a.remove()
            self._base_art = draw_basemap(self.ax, counties, municipalities, labels=False, simplify=tol)
            self._cache_static(self._base_art)
            self._base_key, self._base_sources = tol, (counties, municipalities)
        self.sync_labels()

    def _in_study_area(self, frame) -> np.ndarray | None:
        """Which features' inner points lie in a unit of the study area (cached per frame)."""
        units = self.ws.units
        if units is None:
            return None
        if not self._same_objects((frame, units), self._prefer_sources):
            self._prefer = units.contains(shapely.get_coordinates(shapely.point_on_surface(frame.geometry.to_numpy())))
            self._prefer_sources = (frame, units)
        return self._prefer

    def sync_labels(self) -> None:
        for a in self._label_art:
            a.remove()
        self._label_art = []
        if not self.labels:
            return
        _, municipalities = base_layers(self.ws)
        if municipalities is None:
            return
        x0, x1 = self.ax.get_xlim()
        y0, y1 = self.ax.get_ylim()
        # Names only: the outlines are drawn once by sync_layers, not again on every pan.
        self._label_art = draw_municipality_names(
            self.ax, municipalities, view=(x0, x1, y0, y1), min_label_area=(60 * self.pixel_size()) ** 2,
            halo=True, prefer=self._in_study_area(municipalities))
        self._cache_static(self._label_art)

    # ------------------------------------------------------------------ composite

    def _show_no_weights(self, show: bool) -> None:
        if show and self._no_weights_art is None:
            self._no_weights_art = draw_no_weights_message(self.ax, self.lang)
        elif not show and self._no_weights_art is not None:
            self._no_weights_art.remove()
            self._no_weights_art = None

    def sync_composite(self) -> None:
        self._sync_priority()
        self._sync_exclusions()

    def _exclusions_shown(self) -> bool:
        ws = self.ws
        c = ws.composite
        return (self.show_composite and c is not None and not c.no_weights and ws.units is not None
                and ws.excluded_by is not None and len(ws.excluded_by) == ws.units.n)

    def _sync_exclusions(self) -> None:
        """The excluded units hatched over whatever per-unit map is shown (they have no value in
        any of them). Built again only when the exclusions or the units are new objects: a weight
        step leaves the hatch alone."""
        ws = self.ws
        show = self._exclusions_shown()
        if show and not self._same_objects((ws.excluded_by, ws.units), self._hatch_sources):
            self._remove_hatch()
            self._hatch = draw_exclusions(self.ax, ws.units, ws.excluded_by != "")
            self._hatch_sources = (ws.excluded_by, ws.units)
        if self._hatch is not None:
            self._hatch.set_visible(show)

    def _remove_hatch(self) -> None:
        if self._hatch is not None and self._hatch.axes is not None:
            self._hatch.remove()
        self._hatch, self._hatch_sources = None, ()

    def _sync_priority(self) -> None:
        ws = self.ws
        c = ws.composite
        want = self.show_composite and c is not None and ws.units is not None
        no_weights = want and c.no_weights
        self._show_no_weights(no_weights)
        if not want or no_weights:
            if self._priority is not None:
                self._priority.set_visible(False)
            return
        if self.unit_map is not None:
            um = self.unit_map
            if self._priority is not None:
                self._priority.remove()
            norm = BoundaryNorm(list(um.bounds), len(um.colours))
            self._priority = draw_unit_values(self.ax, ws.units, np.asarray(um.values, np.float32),
                                              ListedColormap(list(um.colours)), norm, alpha=0.9, interactive=True)
            self._priority_units = None
            return
        if self.show_stability is not None:
            values = np.asarray(self.show_stability, np.float32)
            if self._priority is not None:
                self._priority.remove()
            cmap = ListedColormap(["#f7f7f7", "#fdb863", "#e66101", "#5e3c99"])
            top = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)
            norm = BoundaryNorm([-0.5, 0.5, top / 3 + 0.5, 2 * top / 3 + 0.5, top + 0.5], 4)
            self._priority = draw_unit_values(self.ax, ws.units, values, cmap, norm, alpha=0.9, interactive=True)
            self._priority_units = None
            return
        if self._priority is not None and self._priority_units is ws.units and ws.units.kind == "grid":
            self._priority.set_data(priority_rgba(ws.units, c.cls, c.k))
            self._priority.set_visible(True)
            return
        if self._priority is not None:
            self._priority.remove()
        self._priority = draw_priority(self.ax, ws.units, c.cls, c.k, interactive=True)
        self._priority_units = ws.units
        if ws.units.kind != "grid":
            self._priority_units = None  # polygon collections are rebuilt; cheap for hundreds of areas

    def update_priority_fast(self) -> None:
        """The slider path: new classes into the existing image, nothing else."""
        self.sync_composite()

    def highlight(self, unit: int | None) -> None:
        """Outline the selected unit (the one the Info panel explains)."""
        if self._highlight is not None:
            for art in self._highlight:
                art.remove()
            self._highlight = None
        if unit is None or self.ws.units is None:
            return
        from .render import line_segments
        from matplotlib.collections import LineCollection

        geom = self.ws.units.geometry[unit] if self.ws.units.kind == "areas" else self.ws.units.grid.boxes(
            self.ws.units.flat[unit:unit + 1])[0]
        segs, _ = line_segments(np.array([geom], dtype=object))
        outline = LineCollection(segs, colors="#00e5ff", linewidths=2.5, zorder=40)
        self.ax.add_collection(outline, autolim=False)
        # A ring of fixed screen size as well: a 500 m cell is a few pixels at county scale.
        x, y = self.ws.units.centres[unit]
        ring = self.ax.scatter([x], [y], s=420, facecolors="none", edgecolors="#00e5ff", linewidths=3, zorder=41)
        halo = self.ax.scatter([x], [y], s=420, facecolors="none", edgecolors="#1a1a1a", linewidths=5.5, zorder=40.5)
        self._highlight = [outline, halo, ring]

    def sync(self) -> None:
        self.sync_layers()
        self.sync_composite()

    def clear(self) -> None:
        for art in [entry[1] for entry in self._layer_art.values()]:
            if art is not None:
                art.remove()
        self._show_no_weights(False)
        for a in self._base_art + self._label_art:
            a.remove()
        if self._priority is not None:
            self._priority.remove()
        self._remove_hatch()
        if self._cached is not None and self._cached.axes is not None:
            self._cached.remove()
        self._cached = None
        self._layer_art.clear()
        self.highlight(None)
        self._base_art, self._label_art, self._priority, self._base_key = [], [], None, None
        self._base_sources = self._prefer_sources = ()
        self._prefer = None

    def view_changed(self) -> None:
        """After pan/zoom: relabel, and re-simplify polygons if the scale moved a lot."""
        tol = self._tolerance()
        dense = any(getattr(entry[1], "skikt_dense", False) for entry in self._layer_art.values())
        if dense or self._simplify is None or not (0.5 <= tol / max(self._simplify, 1e-9) <= 2):
            self._simplify = tol
            self.sync_layers()
        else:
            self.sync_labels()

    # ------------------------------------------------------------------ legend

    def legend_sections(self) -> list[tuple[str, list[LegendEntry], bool]]:
        """(title, entries, illustrative) for what is drawn, in drawing order (top first)."""
        out = []
        ws = self.ws
        if self.show_composite and ws.composite is not None and not ws.composite.no_weights:
            if self.unit_map is not None:
                um = self.unit_map
                entries = [LegendEntry(label, "patch", colour) for label, colour in zip(um.labels, um.colours)]
                out.append((um.title, entries[::-1], False))  # high first, as the priority legend
            elif self.show_stability is not None:
                from .i18n import tr

                colours = ["#f7f7f7", "#fdb863", "#e66101", "#5e3c99"]
                out.append((tr("sensitivity", self.lang), [
                    LegendEntry(tr("stable", self.lang), "patch", colours[0]),
                    LegendEntry(tr("unstable", self.lang) + " (1/3)", "patch", colours[1]),
                    LegendEntry(tr("unstable", self.lang) + " (2/3)", "patch", colours[2]),
                    LegendEntry(tr("unstable", self.lang) + " (3/3)", "patch", colours[3])], False))
            else:
                from .i18n import tr

                out.append((tr("priority_map", self.lang), priority_legend(ws.composite.k, self.lang), False))
            titles = excluding_titles(ws.project, ws.excluded_by) if self._exclusions_shown() else []
            if titles:  # right under the map it explains: why the hatched units have no colour
                title, entries = exclusion_legend(titles, self.lang)
                out.append((title, entries, False))
        for spec in ws.project.layers:
            lay = ws.layers.get(spec.id)
            entry = self._layer_art.get(spec.id)
            if lay is None or not spec.visible or entry is None:
                continue
            out.append((layer_title(spec, lay.meta, self.lang), entry[2], bool(lay.meta.illustrative)))
        return out


__all__ = ["MapScene", "priority_colours"]
