"""The map canvas: matplotlib's QtAgg canvas around one Axes driven by layers.scene.MapScene.

Left-drag pans, the wheel zooms about the cursor, Shift+drag (or the zoom-box tool) zooms to a
rectangle, a click without movement identifies. The canvas listens to the model and knows
nothing about the panels.

Capture modes (the workshop's pins, sketched areas and dot votes, app/capture_ui.py): in any mode
but ``navigate`` a click neither pans nor identifies. It is handed on as ``point_captured`` (pin,
dot) or collected as a vertex of the area being sketched (a rubber band follows the cursor;
double-click or Enter closes it as ``area_captured``, Esc drops it). A drag does nothing there, so
that a shaky hand in front of a room does not move the map; the wheel still zooms.
"""

from __future__ import annotations

import time

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.collections import Collection, LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PySide6.QtCore import QEvent, Qt, Signal
from pyproj import Transformer

from skikt.layers.crs import parse_crs
from skikt.layers.export import fit_aspect, study_extent
from skikt.layers.render import add_north_arrow, add_scalebar, nice_length
from skikt.layers.scene import MapScene, prepare_map_axes

from .i18n import T, language


NAVIGATE, PIN, AREA, DOT = "navigate", "pin", "area", "dot"
MODES = (NAVIGATE, PIN, AREA, DOT)
CLICK_SLOP_PX = 4  # a press and release closer than this is a click, not a drag


class MapCanvas(FigureCanvasQTAgg):
    clicked = Signal(float, float)
    cursor_moved = Signal(float, float)
    drawn = Signal(float)  # milliseconds the last full draw took
    point_captured = Signal(str, float, float)  # mode (pin or dot), map x, y
    area_captured = Signal(object)  # the sketched polygon's vertices [(x, y), ...], at least three
    capture_undo = Signal()  # Ctrl+Z on the map in a capture mode
    view_moved = Signal()  # after a zoom, pan, resize or new view (the captures' tally reclusters)

    def __init__(self, model, parent=None):
        self.figure = Figure(facecolor="#f4f4f2")
        super().__init__(self.figure)
        self.setParent(parent)
        self.model = model
        self.ax = self.figure.add_axes([0, 0, 1, 1])
        prepare_map_axes(self.ax)
        self.scene = MapScene(self.ax, model.ws, language())
        self._furniture = []
        self._press = None
        self._band = None
        self.zoom_box_mode = False
        self.mode = NAVIGATE
        self._capture_press = None  # (x px, y px, x map, y map) of a press in a capture mode
        self.sketch: list[tuple[float, float]] = []  # the area's vertices so far
        self._sketch_art: Line2D | None = None
        self.setFocusPolicy(Qt.StrongFocus)
        self.mpl_connect("button_press_event", self._on_press)
        self.mpl_connect("motion_notify_event", self._on_motion)
        self.mpl_connect("button_release_event", self._on_release)
        self.mpl_connect("scroll_event", self._on_scroll)
        model.project_replaced.connect(self._on_project)
        model.computed.connect(self._on_computed)
        model.layers_ready.connect(self._on_layers_ready)
        model.look_changed.connect(self._on_look)
        model.layers_changed.connect(self._on_look)
        model.composite_changed.connect(self._on_composite)
        model.selection_changed.connect(self._on_selection)
        model.no_map_changed.connect(self._on_no_map)
        self._no_map_note = None
        self._has_view = False
        self._home = None
        self.first_draw_at: float | None = None
        self.first_priority_at: float | None = None
        self._to_wgs84: tuple[str, Transformer, str] | None = None  # (project crs, transformer, its name)

    # ------------------------------------------------------------------ model → canvas

    def _on_project(self):
        self.scene.clear()
        self.scene = MapScene(self.ax, self.model.ws, language())
        self._has_view = False

    def _on_layers_ready(self):
        """Draw the layers while the indicators are still being computed: a map within a second."""
        self.scene.ws = self.model.ws
        if not self._has_view:
            self.full_extent(redraw=False)
        self.scene.sync_layers()
        self.redraw()

    def _on_computed(self):
        self.scene.ws = self.model.ws
        if not self._has_view or self._home is not None:  # the user has not moved the map yet
            self.full_extent(redraw=False)
        self.scene.sync()
        self.redraw()

    def _on_look(self, *_):
        self.scene.sync_layers()
        self.redraw()

    def _on_composite(self):
        self.scene.update_priority_fast()
        self.draw_idle()

    def _on_no_map(self, reason: str):
        """Say on the map why there is no priority map, instead of a blank map with a legend.

        A composite that knows it has no weights is drawn by the scene with its own note."""
        if self._no_map_note is not None:
            self._no_map_note.remove()
            self._no_map_note = None
        if reason and self.model.ws.composite is None:
            self._no_map_note = self.ax.text(
                0.5, 0.94, reason, transform=self.ax.transAxes, ha="center", va="top", fontsize=13,
                color="#7a1f00", zorder=60, usetex=False, parse_math=False,
                bbox=dict(boxstyle="round,pad=0.5", facecolor="#fff4e5", edgecolor="#b35900", alpha=0.95))
        self.draw_idle()

    def _on_selection(self, unit):
        self.scene.highlight(unit)
        self.draw_idle()

    def set_composite_visible(self, show: bool):
        self.scene.show_composite = show
        self.scene.sync_composite()
        self.redraw()

    def set_unit_map(self, unit_map):
        """Show a per-unit map (layers.unit_maps.UnitMap) where the priority classes go; None
        goes back to the priority map (or the stability view if that is on)."""
        self.scene.unit_map = unit_map
        self.scene.sync_composite()
        self.redraw()

    def set_stability(self, values):
        self.scene.show_stability = values
        self.scene.sync_composite()
        self.redraw()

    # ------------------------------------------------------------------ view

    def _aspect(self) -> float:
        w, h = self.width(), self.height()
        return (w / h) if h > 0 else 1.6

    def set_view(self, extent, redraw: bool = True, home: bool = False):
        self._home = extent if home else None
        x0, x1, y0, y1 = fit_aspect(extent, self._aspect())
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(y0, y1)
        self._has_view = True
        self.scene.view_changed()
        self.view_moved.emit()
        if redraw:
            self.redraw()

    def full_extent(self, redraw: bool = True):
        self.set_view(study_extent(self.model.ws), redraw, home=True)

    def zoom_to_bounds(self, bounds, pad: float = 0.08):
        minx, miny, maxx, maxy = bounds
        m = max(maxx - minx, maxy - miny, 500) * pad
        self.set_view((minx - m, maxx + m, miny - m, maxy + m))

    def _outline_areas_over_priority(self) -> None:
        """A single-colour area layer over the priority map blends with the class colours into
        colours that read as another class (light blue water zones turn red cells purple). While
        the priority map is shown such layers are drawn as outlines in their colour; with the
        map hidden they get their fill back. Categorised fills keep theirs: there the fill is the
        message, and the user chose it in Style."""
        ws = self.model.ws
        priority_on = (self.scene.show_composite and ws.composite is not None
                       and not ws.composite.no_weights and not self.model.no_map_reason)
        changed = False
        for lid, entry in self.scene._layer_art.items():
            art = entry[1]
            try:
                spec = self.model.project.layer(lid)
            except KeyError:
                continue
            if (art is None or not isinstance(art, Collection) or isinstance(art, LineCollection)
                    or not any(e.kind == "polygon" for e in entry[2])
                    or (spec.style or {}).get("mode", "single") != "single"):
                continue
            if not hasattr(art, "_skikt_fill"):
                art._skikt_fill = (art.get_facecolor().copy(), art.get_linewidth().copy())
            fill, width = art._skikt_fill
            want_outline = priority_on
            if getattr(art, "_skikt_outlined", False) == want_outline:
                continue
            if want_outline:
                art.set_facecolor("none")
                art.set_linewidth(np.maximum(width, 1.6))
            else:
                art.set_facecolor(fill)
                art.set_linewidth(width)
            art._skikt_outlined = want_outline
            changed = True
        if changed and self.scene._cached is not None:
            self.scene._cached.invalidate()

    def redraw(self):
        self._outline_areas_over_priority()
        for a in self._furniture:
            a.remove()
        self._furniture = self._add_furniture()
        t = time.perf_counter()
        self.draw()
        ms = (time.perf_counter() - t) * 1000
        now = time.perf_counter()
        if self.first_draw_at is None and self.model.ws.layers:
            self.first_draw_at = now
        if self.first_priority_at is None and self.model.ws.composite is not None:
            self.first_priority_at = now
        self.drawn.emit(ms)

    # Where render.add_scalebar and add_north_arrow put their marks, in axes fractions.
    SCALEBAR_AT, SCALEBAR_HEIGHT, NORTH_SIZE = 0.04, 0.008, 0.04

    def _add_furniture(self) -> list:
        """Scale bar and north arrow, each on a light rounded panel so they stay readable on
        top of any data when zoomed in; the scale bar's text follows the window's font size."""
        from matplotlib.patches import FancyBboxPatch

        from .panels.common import font_points

        fs = font_points()
        marks = add_scalebar(self.ax, fontsize=fs) + add_north_arrow(self.ax, size=self.NORTH_SIZE)
        x0, x1 = self.ax.get_xlim()
        height_px = max(self.ax.bbox.height, 1.0)
        text = (fs * 1.6) * self.figure.dpi / 72 / height_px  # the label and its own box, in axes fraction
        bar_width = nice_length((x1 - x0) / 5) / (x1 - x0)
        at, h = self.SCALEBAR_AT, self.SCALEBAR_HEIGHT
        # The north arrow: its N at 0.95, the arrow's tail NORTH_SIZE * 1.6 below.
        tall = self.NORTH_SIZE * 1.6
        n_text = 12 * 1.4 * self.figure.dpi / 72 / height_px
        panels = [((at - 0.012, at - 0.012), bar_width + 0.024, h * 2.2 + text + 0.02),
                  ((0.95 - 0.025, 0.95 - tall - 0.02), 0.05, tall + n_text / 2 + 0.03)]
        backs = [self.ax.add_patch(FancyBboxPatch(xy, w, ht, boxstyle="round,pad=0,rounding_size=0.01",
                                                  transform=self.ax.transAxes, facecolor="white", alpha=0.9,
                                                  edgecolor="#9a9a9a", linewidth=0.6, zorder=19.5))
                 for xy, w, ht in panels]
        return marks + backs

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._has_view:
            # Until the user moves the map, a resize keeps the whole study area in view.
            if self._home is not None:
                self.set_view(self._home, redraw=False, home=True)
            else:
                x0, x1 = self.ax.get_xlim()
                y0, y1 = self.ax.get_ylim()
                self.set_view((x0, x1, y0, y1), redraw=False)

    # ------------------------------------------------------------------ mouse

    def set_mode(self, mode: str) -> None:
        """Switch between navigating and the capture tools; an unfinished sketch is dropped."""
        if mode not in MODES:
            raise ValueError(mode)
        self.cancel_sketch()
        self.mode = mode
        self._capture_press = None
        self.setCursor(Qt.ArrowCursor if mode == NAVIGATE else Qt.CrossCursor)

    def cancel_sketch(self) -> None:
        self.sketch = []
        if self._sketch_art is not None:
            self._sketch_art.remove()
            self._sketch_art = None
            self.draw_idle()

    def finish_sketch(self) -> None:
        """Close the area being sketched: emitted if it has three distinct vertices, else dropped."""
        vertices = _distinct_ring(self.sketch)
        self.cancel_sketch()
        if len(vertices) >= 3:
            self.area_captured.emit(vertices)

    def _show_sketch(self, cursor=None) -> None:
        """The rubber band: the vertices so far, on to the cursor and back to the first vertex."""
        points = list(self.sketch) + ([cursor] if cursor is not None else [])
        if len(points) >= 2:
            points.append(points[0])
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        if self._sketch_art is None:
            self._sketch_art = Line2D(xs, ys, color="#111111", linewidth=2.0, linestyle="--", marker="o",
                                      markersize=6, markerfacecolor="white", markeredgecolor="#111111", zorder=55)
            self.ax.add_line(self._sketch_art)
        else:
            self._sketch_art.set_data(xs, ys)
        self.draw_idle()

    def _capture_release(self, ev) -> None:
        px, py, x, y = self._capture_press
        self._capture_press = None
        if ev.x is not None and (abs(ev.x - px) + abs(ev.y - py)) > CLICK_SLOP_PX:
            return  # a drag in a capture mode: neither pan nor capture
        if self.mode == AREA:
            self.sketch.append((x, y))
            self._show_sketch()
        else:
            self.point_captured.emit(self.mode, x, y)

    def _on_press(self, ev):
        if ev.inaxes is not self.ax or ev.button != 1:
            return
        if self.mode != NAVIGATE:
            if ev.dblclick and self.mode == AREA:
                # Closed on the double-click itself: whether a release follows depends on the platform.
                self._capture_press = None
                self.finish_sketch()
                return
            self._capture_press = (ev.x, ev.y, ev.xdata, ev.ydata)
            return
        shift = ev.key is not None and "shift" in str(ev.key)
        self._press = (ev.x, ev.y, ev.xdata, ev.ydata, self.ax.get_xlim(), self.ax.get_ylim(),
                       shift or self.zoom_box_mode)
        if self._press[6]:
            self._band = Rectangle((ev.xdata, ev.ydata), 0, 0, fill=False, edgecolor="#1f4e79", linewidth=1.5,
                                   linestyle="--", zorder=50)
            self.ax.add_patch(self._band)

    def _on_motion(self, ev):
        if ev.inaxes is self.ax and ev.xdata is not None:
            self.cursor_moved.emit(ev.xdata, ev.ydata)
            if self.mode == AREA and self.sketch:
                self._show_sketch((ev.xdata, ev.ydata))
        if self._press is None or ev.x is None:
            return
        px, py, x0d, y0d, xlim, ylim, box = self._press
        if box:
            if ev.xdata is not None:
                self._band.set_bounds(min(x0d, ev.xdata), min(y0d, ev.ydata), abs(ev.xdata - x0d), abs(ev.ydata - y0d))
                self.draw_idle()
            return
        # Pan in data units derived from pixels, so it stays exact even off the axes.
        bbox = self.ax.get_window_extent()
        dx = (ev.x - px) * (xlim[1] - xlim[0]) / bbox.width
        dy = (ev.y - py) * (ylim[1] - ylim[0]) / bbox.height
        self.ax.set_xlim(xlim[0] - dx, xlim[1] - dx)
        self.ax.set_ylim(ylim[0] - dy, ylim[1] - dy)
        self._home = None
        self.draw_idle()

    def _on_release(self, ev):
        if self._capture_press is not None:
            self._capture_release(ev)
            return
        if self._press is None:
            return
        px, py, x0d, y0d, xlim, ylim, box = self._press
        self._press = None
        moved = ev.x is not None and (abs(ev.x - px) + abs(ev.y - py)) > 4
        if box:
            self._band.remove()
            self._band = None
            if moved and ev.xdata is not None:
                self.set_view((min(x0d, ev.xdata), max(x0d, ev.xdata), min(y0d, ev.ydata), max(y0d, ev.ydata)))
            else:
                self.redraw()
            return
        if not moved:
            self.clicked.emit(x0d, y0d)
            return
        self.scene.view_changed()
        self.view_moved.emit()
        self.redraw()

    # ------------------------------------------------------------------ keys in a capture mode

    def _capture_key(self, event) -> str | None:
        """What a key means on the map in a capture mode: "close", "cancel", "undo" or None."""
        if self.mode == NAVIGATE:
            return None
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key_Z and mods & Qt.ControlModifier and not mods & Qt.ShiftModifier:
            return "undo"
        if key in (Qt.Key_Return, Qt.Key_Enter) and self.mode == AREA:
            return "close"
        if key == Qt.Key_Escape and self.sketch:
            return "cancel"
        return None

    def event(self, event):
        # Ctrl+Z is also the project's undo shortcut: on the map in a capture mode it undoes the
        # last capture instead, so the key must reach keyPressEvent before the shortcut fires.
        if event.type() == QEvent.ShortcutOverride and self._capture_key(event) is not None:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event):
        action = self._capture_key(event)
        if action == "undo":
            self.capture_undo.emit()
        elif action == "close":
            self.finish_sketch()
        elif action == "cancel":
            self.cancel_sketch()
        else:
            super().keyPressEvent(event)

    def _on_scroll(self, ev):
        if ev.inaxes is not self.ax or ev.xdata is None:
            return
        self.zoom_at(ev.xdata, ev.ydata, 1 / 1.25 if ev.button == "up" else 1.25)

    def zoom_at(self, cx: float, cy: float, factor: float):
        """Scale the view about a map point (one wheel notch is 1.25×), keeping that point still."""
        x0, x1 = self.ax.get_xlim()
        y0, y1 = self.ax.get_ylim()
        self.ax.set_xlim(cx - (cx - x0) * factor, cx + (x1 - cx) * factor)
        self.ax.set_ylim(cy - (cy - y0) * factor, cy + (y1 - cy) * factor)
        self._home = None
        self.scene.view_changed()
        self.view_moved.emit()
        self.redraw()

    def coordinate_text(self, x: float, y: float) -> str:
        """The cursor in the project's CRS, named, and in WGS 84 degrees."""
        crs = str(self.model.project.crs)
        if self._to_wgs84 is None or self._to_wgs84[0] != crs:
            source = parse_crs(crs)
            self._to_wgs84 = (crs, Transformer.from_crs(source, "EPSG:4326", always_xy=True), source.name)
        _, transformer, name = self._to_wgs84
        lon, lat = transformer.transform(x, y)
        return T("coords_in").format(crs=name, e=_grouped(x), n=_grouped(y), lat=f"{lat:.5f}", lon=f"{lon:.5f}")


def _distinct_ring(vertices) -> list[tuple[float, float]]:
    """The vertices without immediate repeats (a double-click lands on the last vertex again)."""
    out: list[tuple[float, float]] = []
    for x, y in vertices:
        if not out or (x, y) != out[-1]:
            out.append((float(x), float(y)))
    while len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out


def _grouped(v: float) -> str:
    return f"{v:,.0f}".replace(",", "\u202f")
