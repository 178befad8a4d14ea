"""Presentation mode: the saved views full screen for a projector, with live weights for the room.

One matplotlib figure fills the window: a title band across the top (the view's title and
subtitle), the map below it, and a side column with the priority legend and the weight strip.
Every text is sized from the window height (never below 1/40 of it: 27 px at 1080, 18 px at
720) and fitted to the space it has (smaller, wrapped or cut with "…"), so nothing is clipped at
1280×720. Outlines and point symbols are drawn heavier than on the desk map.

Keys (what clickers send): PageDown, Right, Down, Space → next view; PageUp, Left, Up,
Backspace → previous; Home/End → first/last; Esc leaves. Digits 1–9 pick a weight in the strip,
+/- change it (the bars animate to the new shares), R resets the weights to the view's scenario,
N shows or hides the speaker notes. With [[groups]], G steps priority map → consensus (the
groups' mean weights, shown in the weight strip too) → disagreement between the groups → back.

Dot votes and pins in the room (clicker-simple): V starts dot voting, P starts pins; in either,
the digits 1–9 pick the group (0: no group, for pins) instead of a weight, a click on the map
places a dot on the unit clicked (or a pin, whose comment line takes Enter to store and Esc to
cancel), Z takes the last capture back, and V/P again (or Esc) ends it. The picked group and its
dots left are shown in the map's upper left corner; pins, areas and the dot tally are drawn large.

The window works on its own fork of the workspace (layers.workspace.Workspace.fork), so nothing
the room does here changes the project open in the main window. Started before the first
computation has finished (F5 right after start-up), it takes the result over when it arrives
(``adopt``): the fork taken at F5 has no scores, and the app hands its results to its own
workspace only.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from skikt.layers.captures import DEFAULT_DOTS
from skikt.layers.errors import SkiktError
from skikt.layers.export import base_layers, fit_aspect, study_extent
from skikt.layers.i18n import tr
from skikt.layers.render import add_scalebar, priority_colours, priority_legend
from skikt.layers.scene import MapScene, prepare_map_axes
from skikt.layers.sectors import SECTORS
from skikt.layers.views import View, apply_view, read_views

from .capture_tools import CaptureData, CaptureOverlay, CaptureWriter, CommentEdit, project_groups, read_captures

# Sizes as fractions of the window height. MIN_TEXT is the projector rule (1/40); the body text
# sits a little above it so that a fitted (shrunk) text still meets it.
MIN_TEXT = 1 / 40
BODY = 1 / 37
TITLE = 1 / 16
SUBTITLE = 1 / 27
SIDE_WIDTH = 0.29  # of the window width: the legend and the weight strip
# A weight row's pitch in text units (a label, its bar below): roomy, and the tightest where the
# label still clears the bar above it.
ROW_MAX = 2.05
ROW_MIN = 1.8
WRAP_LINE = 1.3  # a title's second line (and a little air above its bar), in text units
MAX_NAMES = 12  # municipality names on a projected map: fewer, larger
ANIMATION_MS = 300
ANIMATION_STEP_MS = 30

NEXT_KEYS = {Qt.Key_PageDown, Qt.Key_Right, Qt.Key_Down, Qt.Key_Space}
PREVIOUS_KEYS = {Qt.Key_PageUp, Qt.Key_Left, Qt.Key_Up, Qt.Key_Backspace}
DIGIT_KEYS = {getattr(Qt, f"Key_{n}"): n - 1 for n in range(1, 10)}
CAPTURE_KEYS = {Qt.Key_V: "dot", Qt.Key_P: "pin"}  # start/end dot voting, pins
MAP_KINDS = ("priority", "consensus", "disagreement")
CAPTURE_SIZE = 1 / 55  # the captures' base size (pins, tally discs) as a fraction of the height

INK = "#111111"
PANEL = "#ffffff"


def plain_class_labels(k: int, lang: str) -> list[str]:
    """3–5 classes get plain words (Högst … Lägst); other counts keep the desk map's labels."""
    words = {3: ("pres_cls_highest", "pres_cls_mid", "pres_cls_lowest"),
             4: ("pres_cls_highest", "pres_cls_high", "pres_cls_low", "pres_cls_lowest"),
             5: ("pres_cls_highest", "pres_cls_high", "pres_cls_mid", "pres_cls_low", "pres_cls_lowest")}
    if k in words:
        return [tr(key, lang) for key in words[k]]
    return [entry.label for entry in priority_legend(k, lang)]


def weight_shares(weights: dict[str, float]) -> dict[str, float]:
    """Each weight's share of the total (0–1); all zero when no weight is set."""
    total = sum(max(w, 0.0) for w in weights.values())
    return {lid: (max(w, 0.0) / total if total > 0 else 0.0) for lid, w in weights.items()}


def _overview_view(project) -> View:
    """A project without saved views is presented as one view: the whole study area."""
    return View(name=project.title or "–", title=project.title or "")


class _Canvas(FigureCanvasQTAgg):
    """The figure tells when it has taken its new size: the layout is sized from it, and the
    window's own resize comes before the canvas's (the fonts would follow the old size)."""

    resized = Signal()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.resized.emit()


class PresentationWindow(QWidget):
    closed = Signal()
    changed = Signal()  # the view, a weight or a layer changed (the presenter console follows)

    def __init__(self, ws, lang: str = "sv", start: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowFlag(Qt.Window, True)
        self.setAttribute(Qt.WA_DeleteOnClose, False)
        self.lang = lang
        self.ws = ws
        self.base_project = ws.project.copy()  # views are applied to this, never to each other
        try:
            self.views = read_views(self.base_project) or [_overview_view(self.base_project)]
        except SkiktError:
            self.views = [_overview_view(self.base_project)]
        names = [v.name for v in self.views]
        self.index = names.index(start) if start in names else 0
        self.weights: dict[str, float] = {}
        self.scenario_weights: dict[str, float] = {}
        self.shown_shares: dict[str, float] = {}
        self.selected: int | None = None
        self.show_notes = False
        self.figure = Figure(facecolor=PANEL, dpi=100)
        self.canvas = _Canvas(self.figure)
        self.canvas.resized.connect(self.render_now)
        self.canvas.setFocusPolicy(Qt.NoFocus)  # keys go to the window, whatever the mouse did
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setFocusPolicy(Qt.StrongFocus)
        self.ax = self.figure.add_axes([0, 0, 1 - SIDE_WIDTH, 0.85])
        prepare_map_axes(self.ax)
        self.scene = MapScene(self.ax, ws, lang)
        self.scene.labels = False  # the desk map's 7.5 pt names: replaced by projector-sized ones
        self._overlay: list = []
        self._map_texts: list = []
        self._legend = None
        self._bars: dict[str, tuple] = {}
        self._more = None  # (text, grouped ids): the weights summed in one line when rows run out
        self.strip_labels: dict[str, object] = {}  # layer id → its title in the weight strip
        self._timer = QTimer(self)
        self._timer.setInterval(ANIMATION_STEP_MS)
        self._timer.timeout.connect(self._animate_step)
        self._anim_clock = QElapsedTimer()
        self.setWindowTitle("Skikt")
        # Captures (attach_captures): off until the app or the command line hands over a store.
        self.captures: CaptureOverlay | None = None
        self.capture_writer: CaptureWriter | None = None
        self.capture_groups: list = []
        self.capture_mode: str | None = None  # "dot", "pin" or None
        self.capture_group: str | None = None
        self.capture_message = ""
        self._capture_existing = None
        self._pending_pin = None
        self._comment: CommentEdit | None = None
        self.canvas.mpl_connect("button_press_event", self._on_map_press)
        self.map_kind = "priority"  # G: priority → consensus → disagreement (with [[groups]])
        self._room_weights: dict[str, float] | None = None  # the weights before the consensus
        self._enter_view(redraw=False)

    # ------------------------------------------------------------------ sizes

    def px(self) -> tuple[float, float]:
        w, h = self.figure.bbox.width, self.figure.bbox.height
        return max(w, 1.0), max(h, 1.0)

    def points(self, fraction_of_height: float) -> float:
        """A font size in points that is ``fraction_of_height`` of the window height in pixels."""
        return self.px()[1] * fraction_of_height * 72 / self.figure.dpi

    # ------------------------------------------------------------------ views

    @property
    def view(self) -> View:
        return self.views[self.index]

    def _enter_view(self, redraw: bool = True) -> None:
        try:
            project, _ = apply_view(self.base_project, self.view)
        except SkiktError:  # a view naming a scenario that was left out: the project's weights
            project = self.base_project.copy()
        self.ws.project = project
        self.map_kind, self._room_weights, self.scene.unit_map = "priority", None, None
        self.scenario_weights = self._project_weights()
        self.weights = dict(self.scenario_weights)
        self.shown_shares = weight_shares(self.weights)
        self.selected = None
        self._recombine()
        self.scene.sync_layers()
        if redraw:
            self.render_now()
        self.changed.emit()

    def _project_weights(self) -> dict[str, float]:
        ids = self.ws.normalised.layer_ids if self.ws.normalised is not None else []
        return {lid: float(self.ws.project.layer(lid).indicator.weight) for lid in ids}

    def go(self, index: int) -> None:
        index = max(0, min(index, len(self.views) - 1))
        if index != self.index:
            self.index = index
            self._enter_view()

    # ------------------------------------------------------------------ weights

    def _recombine(self) -> None:
        if self.ws.normalised is None or self.ws.units is None:
            return
        for lid, w in self.weights.items():
            self.ws.project.layer(lid).indicator.weight = w
        self.ws.recombine()
        self.scene.sync_composite()

    def set_weight(self, layer_id: str, weight: float) -> None:
        relayout = self._back_to_priority()
        self.weights[layer_id] = max(0.0, float(weight))
        self._recombine()
        self._start_animation()
        if relayout:
            self.render_now()
        self.changed.emit()

    def set_layer_visible(self, layer_id: str, visible: bool) -> None:
        """A layer toggle from the presenter console: this view only, until the next view."""
        self.ws.project.layer(layer_id).visible = bool(visible)
        self.scene.sync_layers()
        self.render_now()
        self.changed.emit()

    def reset_weights(self) -> None:
        """R: back to the weights of the view's scenario (or the project's), on the priority map."""
        relayout = self._back_to_priority()
        self.weights = dict(self.scenario_weights)
        self._recombine()
        self._start_animation()
        if relayout:
            self.render_now()
        self.changed.emit()

    def _back_to_priority(self) -> bool:
        """A weight moved or reset while G showed the consensus or the disagreement: the room
        wants the priority map of those weights. True if the map kind changed."""
        if self.map_kind == "priority":
            return False
        self.map_kind, self._room_weights, self.scene.unit_map = "priority", None, None
        return True

    def weights_modified(self) -> bool:
        return self.weights != self.scenario_weights

    def _step_selected(self, direction: int) -> None:
        ids = list(self.weights)
        if self.selected is None or self.selected >= len(ids):
            return
        lid = ids[self.selected]
        self.set_weight(lid, self.weights[lid] + direction)

    def _start_animation(self) -> None:
        self._anim_from = dict(self.shown_shares)
        self._anim_clock.start()  # progress follows the wall clock: a slow draw skips frames
        self._timer.start()
        self.render_now(quick=True)

    def _animate_step(self) -> None:
        target = weight_shares(self.weights)
        t = min(1.0, self._anim_clock.elapsed() / ANIMATION_MS)
        ease = 1 - (1 - t) ** 3
        self.shown_shares = {lid: self._anim_from.get(lid, 0.0) + (target[lid] - self._anim_from.get(lid, 0.0)) * ease
                             for lid in target}
        if t >= 1.0:
            self._timer.stop()
            self.shown_shares = target
        self._update_bars()
        self.canvas.draw_idle()

    # ------------------------------------------------------------------ results arriving

    def adopt(self, source) -> None:
        """Take over what the app has computed since (layers, units, indicators) from its
        workspace ``source``; this window's project (the view applied, the room's weights) stays.
        The room's weight changes are kept while the indicators are the same ones."""
        from dataclasses import fields

        fresh = source.fork()
        for f in fields(self.ws):
            if f.name != "project":
                setattr(self.ws, f.name, getattr(fresh, f.name))
        kept = dict(self.weights)
        self._enter_view(redraw=False)
        if kept and set(kept) == set(self.weights) and kept != self.weights:
            self.weights = kept
            self.shown_shares = weight_shares(kept)
            self._recombine()
        self.render_now()
        self.changed.emit()

    # ------------------------------------------------------------------ captures

    def attach_captures(self, store, existing=None, hub=None) -> None:
        """Let the room place dots and pins. ``store()`` gives the open workshop store (None with
        the reason unknown), ``existing()`` the store only if there is a file already (drawing
        must not create one), ``hub.changed`` fires after a capture made anywhere."""
        self._capture_existing = existing or store
        self.capture_groups = project_groups(self.base_project)
        self.capture_group = self.capture_groups[0].id if self.capture_groups else None
        from .places import unit_title

        self.capture_writer = CaptureWriter(store, lambda: self.ws.units, self.lang, brief=True,
                                            changed=(lambda: hub.changed.emit()) if hub is not None else None,
                                            place=lambda i: unit_title(self.ws, i, self.lang))
        self.captures = CaptureOverlay(self.ax, size=self.points(CAPTURE_SIZE), text_size=self.points(BODY))
        if hub is not None:
            hub.changed.connect(self._captures_changed)
        self._draw_captures()

    def _group_name(self, gid) -> str:
        return next((g.name for g in self.capture_groups if g.id == gid), tr("cap_no_group", self.lang))

    def set_capture_mode(self, mode: str | None) -> None:
        """V (dots) or P (pins); the same key again, or Esc, ends it."""
        if self.capture_writer is None:
            return
        self._drop_comment()
        self.capture_mode = None if mode == self.capture_mode else mode
        self.capture_message = ""
        self._captures_changed()

    def pick_capture_group(self, number: int) -> None:
        """1–9 pick a group by its place in the corner list; 0 is no group (pins only)."""
        if number == 0:
            self.capture_group = None
        elif number <= len(self.capture_groups):
            self.capture_group = self.capture_groups[number - 1].id
        self.capture_message = ""
        self._captures_changed()

    def _on_map_press(self, ev) -> None:
        if self.capture_mode is None or ev.inaxes is not self.ax or ev.button != 1 or ev.xdata is None:
            return
        if self.capture_mode == "dot":
            ok, line = self.capture_writer.dot(ev.xdata, ev.ydata, self.capture_group,
                                               self._group_name(self.capture_group))
            self._capture_done(ok, line)
        else:
            self._ask_pin_comment(ev.xdata, ev.ydata)

    def _ask_pin_comment(self, x: float, y: float) -> None:
        """The comment line goes over the banner in the title band (it says the same: pins, keys),
        as wide as the map, its text at least the MIN_TEXT rule: over the map it covered the
        legend and its prompt was cut."""
        self._store_pending_pin()
        self._pending_pin = (x, y)
        comment = self._comment = CommentEdit(self.canvas, tr("cap_comment_pin", self.lang))
        comment.setObjectName("capture_comment")
        font = comment.font()
        font.setPixelSize(max(int(np.ceil(self.canvas.height() * MIN_TEXT * 1.05)), 12))
        comment.setFont(font)
        comment.accepted.connect(lambda text: self._store_pending_pin(text))
        comment.cancelled.connect(self._drop_comment)
        x_qt, y_qt, width = self._comment_place(comment)
        comment.place_at(x_qt, y_qt, width)

    def _comment_place(self, comment) -> tuple[int, int, int]:
        """Where the comment line goes (Qt pixels): over the banner, or just under the title."""
        ratio = self.canvas.device_pixel_ratio or 1.0
        renderer = self.canvas.get_renderer()
        fig_h = self.figure.bbox.height
        margin = self.canvas.height() * 0.02
        anchor = self.banner_art if self.banner_art is not None else self.title_art
        ext = anchor.get_window_extent(renderer)
        top = (fig_h - ext.y1) / ratio if anchor is self.banner_art else (fig_h - ext.y0) / ratio + margin * 0.3
        prompt = comment.fontMetrics().horizontalAdvance(comment.placeholderText()) + 24
        width = max(int(self.canvas.width() * (1 - SIDE_WIDTH) - 2 * margin), prompt)
        return int(margin), int(top), min(width, self.canvas.width() - int(2 * margin))

    def _store_pending_pin(self, text: str | None = None) -> None:
        if self._pending_pin is None:
            return
        if text is None:
            text = self._comment.text() if self._comment is not None else ""
        x, y = self._pending_pin
        self._drop_comment()
        ok, line = self.capture_writer.pin(x, y, text, self.capture_group, self._group_name(self.capture_group))
        self._capture_done(ok, line)

    def _drop_comment(self) -> None:
        self._pending_pin = None
        if self._comment is not None:
            self._comment.blockSignals(True)
            self._comment.setObjectName("")
            self._comment.hide()
            self._comment.deleteLater()
            self._comment = None
            self.setFocus(Qt.OtherFocusReason)

    def undo_capture(self) -> None:
        if self.capture_writer is None:
            return
        if self._pending_pin is not None:
            self._drop_comment()
            return
        self._capture_done(*self.capture_writer.undo())

    def _capture_done(self, ok: bool, line: str) -> None:
        self.capture_message = line if not ok else ""
        self._captures_changed()

    def _captures_changed(self) -> None:
        """After a capture here or on the desk map: the captures and the corner list redrawn."""
        # The banner sits in the title band, whose height may change: the map is laid out again
        # (render_now draws the captures).
        self.render_now()

    def _draw_captures(self) -> None:
        if self.captures is None:
            return
        store = self._capture_existing()
        self.captures.size, self.captures.text_size = self.points(CAPTURE_SIZE), self.points(BODY)
        if store is None and self.capture_mode is None:
            self.captures.clear()
            return
        if store is None:
            # Voting starts before anything was captured (the file is made by the first capture):
            # every group still has its whole budget, and the room should see the groups' colours.
            data = CaptureData(groups=list(self.capture_groups),
                               dots_left={g.id: DEFAULT_DOTS for g in self.capture_groups})
        else:
            data = read_captures(store, self.ws.units, self.capture_groups)
        if data.empty and self.capture_mode is None:
            self.captures.clear()  # nothing to show yet: the projected map stays clean
            return
        # The groups' legend only while V or P is on: on every other view it would cover the
        # map's upper left for nothing (the banner names the picked group meanwhile).
        voting = self.capture_mode == "dot"
        title = tr("cap_groups_title" if voting else "cap_groups_pins", self.lang)
        self.captures.show(data, title, "upper left", highlight=self.capture_group if self.capture_mode else None,
                           legend=self.capture_mode is not None, dots_left=voting)
        if self.captures.legend is not None:
            self.captures.legend.get_frame().set_linewidth(1.5)

    # ------------------------------------------------------------------ G: consensus, disagreement

    def _group_scores(self):
        """The groups' scores on this window's indicators; None without groups or indicators."""
        from skikt.layers.groups import group_scores, read_groups

        if self.ws.normalised is None:
            return None
        try:
            groups = read_groups(self.base_project)
            if not groups:
                return None
            return group_scores(self.ws.normalised, groups, self.ws.project.units.classes, self.base_project.path)
        except SkiktError:
            return None

    def cycle_map(self) -> None:
        """G: the priority map → the consensus (the groups' mean weights, in the strip too) →
        the disagreement between the groups → back to the priority map with the room's weights."""
        gs = self._group_scores()
        if gs is None:
            return
        following = MAP_KINDS[(MAP_KINDS.index(self.map_kind) + 1) % len(MAP_KINDS)]
        if self.map_kind == "consensus" and self._room_weights is not None:
            self.weights, self._room_weights = self._room_weights, None
        self.scene.unit_map = None
        if following == "consensus":
            self._room_weights = dict(self.weights)
            mean = dict(zip(gs.layer_ids, gs.consensus_weights))
            self.weights = {lid: round(100 * float(mean.get(lid, 0.0)), 6) for lid in self.weights}
        elif following == "disagreement":
            from skikt.layers.groups import disagreement_map

            self.scene.unit_map = disagreement_map(gs, self.lang)
        self.map_kind = following
        self._recombine()
        self._start_animation()
        self.render_now()
        self.changed.emit()

    def _map_line(self) -> str:
        return {"consensus": tr("pres_map_consensus", self.lang),
                "disagreement": tr("pres_map_disagreement", self.lang)}.get(self.map_kind, "")

    def capture_banner(self) -> str:
        """In dot voting or pins: the mode, the picked group, its dots left and the keys (or the
        last refusal); shown in the title band in place of the subtitle, where it covers nothing."""
        if self.capture_mode is None:
            return ""
        if self.capture_message:
            return self.capture_message
        name = self._group_name(self.capture_group)
        data = self.captures.data if self.captures is not None else None
        left = data.dots_left.get(self.capture_group) if data is not None and self.capture_group else None
        if left is None and self.capture_group and self._capture_existing is not None:
            # The banner is laid out before the captures are drawn: ask the file, or (none yet)
            # the whole budget.
            store = self._capture_existing()
            left = store.dots_left(self.capture_group) if store is not None else DEFAULT_DOTS
        key = "pres_vote_banner" if self.capture_mode == "dot" else "pres_pin_banner"
        return tr(key, self.lang).format(group=name, n="–" if left is None else left, keys=len(self.capture_groups))

    # ------------------------------------------------------------------ keys

    def _capture_key(self, key) -> bool:
        """The keys of dot voting and pins; True if the key was one of them."""
        if key in CAPTURE_KEYS and self.capture_writer is not None:
            self.set_capture_mode(CAPTURE_KEYS[key])
            return True
        if self.capture_mode is None:
            return False
        if key == Qt.Key_Escape:
            self.set_capture_mode(self.capture_mode)  # the same mode again: off
        elif key == Qt.Key_0:
            self.pick_capture_group(0)
        elif key in DIGIT_KEYS:
            self.pick_capture_group(DIGIT_KEYS[key] + 1)
        elif key == Qt.Key_Z:
            self.undo_capture()
        else:
            return False
        return True

    def keyPressEvent(self, event):
        key = event.key()
        if self._capture_key(key):
            return
        if key == Qt.Key_Escape:
            self.close()
        elif key in NEXT_KEYS:
            self.go(self.index + 1)
        elif key in PREVIOUS_KEYS:
            self.go(self.index - 1)
        elif key == Qt.Key_Home:
            self.go(0)
        elif key == Qt.Key_End:
            self.go(len(self.views) - 1)
        elif key == Qt.Key_R:
            self.reset_weights()
        elif key == Qt.Key_G:
            self.cycle_map()
        elif key == Qt.Key_N:
            self.show_notes = not self.show_notes
            self.render_now(quick=True)
        elif key in DIGIT_KEYS and DIGIT_KEYS[key] < len(self.weights):
            self.selected = None if self.selected == DIGIT_KEYS[key] else DIGIT_KEYS[key]
            self.render_now(quick=True)
        elif key in (Qt.Key_Plus, Qt.Key_Equal):
            self._step_selected(+1)
        elif key in (Qt.Key_Minus, Qt.Key_Underscore):
            self._step_selected(-1)
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event):
        self._timer.stop()
        self._store_pending_pin()  # a pin whose comment was being typed is kept, as typed
        self.closed.emit()
        super().closeEvent(event)

    # ------------------------------------------------------------------ drawing

    def render_now(self, quick: bool = False) -> None:
        """Lay out the title band, the map and the side column for the current size and draw.
        ``quick``: only the overlay changed (weights, selection, notes); the map keeps its view."""
        for art in self._overlay:
            art.remove()
        self._overlay, self._bars = [], {}
        w, h = self.px()
        band = self._draw_title_band(w, h)
        map_top = 1 - band / h
        if not quick:
            self.ax.set_position([0, 0, 1 - SIDE_WIDTH, map_top])
            self._set_extent()
        self._draw_side_column(w, h, band)
        self._overlay += add_scalebar(self.ax, fontsize=self.points(BODY))
        if self.show_notes:
            self._draw_notes(w, h, band)
        if not quick:
            self.scene.sync_layers()
            self._heavy_outlines()
            self._draw_layer_legend(h)
            self._draw_captures()
            self._draw_names()
        if self._legend is not None:  # the notes cover the map's lower part; the legend would peek out
            self._legend.set_visible(not self.show_notes)
        self.canvas.draw()

    def _set_extent(self) -> None:
        extent = self.view.extent
        if extent is None:
            x0, x1, y0, y1 = study_extent(self.ws)
        else:
            x0, y0, x1, y1 = extent
        bbox = self.ax.get_position()
        w, h = self.px()
        aspect = (bbox.width * w) / max(bbox.height * h, 1.0)
        x0, x1, y0, y1 = fit_aspect((x0, x1, y0, y1), aspect)
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(y0, y1)
        self.scene.view_changed()

    def _text(self, x_px: float, y_px: float, text: str, size_frac: float, max_width_px: float, *,
              ha: str = "left", weight: str = "normal", colour: str = INK, max_lines: int = 1):
        """A figure text at (x, y from the top) in pixels, fitted into ``max_width_px``: shrunk
        towards MIN_TEXT, then wrapped onto up to ``max_lines`` lines, then cut with "…"."""
        w, h = self.px()
        art = self.figure.text(x_px / w, 1 - y_px / h, text, ha=ha, va="top", fontsize=self.points(size_frac),
                               fontweight=weight, color=colour, parse_math=False, linespacing=1.1)
        self._overlay.append(art)
        renderer = self.canvas.get_renderer()
        size = size_frac
        while art.get_window_extent(renderer).width > max_width_px and size > MIN_TEXT * 1.02:
            size = max(MIN_TEXT * 1.02, size * 0.92)
            art.set_fontsize(self.points(size))
        if art.get_window_extent(renderer).width > max_width_px and max_lines > 1:
            for width in range(len(text), 8, -2):
                wrapped = textwrap.wrap(text, width)
                if len(wrapped) > max_lines:
                    break
                art.set_text("\n".join(wrapped))
                if art.get_window_extent(renderer).width <= max_width_px:
                    break
        shown = art.get_text()
        while art.get_window_extent(renderer).width > max_width_px and len(shown) > 1:
            shown = shown[:-2].rstrip() + "…"
            art.set_text(shown)
        return art

    def _draw_title_band(self, w: float, h: float) -> float:
        """The view's title and subtitle; returns the band's height in pixels."""
        margin = h * 0.02
        view = self.view
        title = view.title or view.name
        self.subtitle_art = self.banner_art = None
        art = self.title_art = self._text(margin * 1.5, margin, title, TITLE, w - 3 * margin, weight="bold")
        renderer = self.canvas.get_renderer()
        bottom = margin + art.get_window_extent(renderer).height
        banner = self.capture_banner() or self._map_line()
        if banner:
            sub = self.banner_art = self._text(margin * 1.5, bottom + margin * 0.6, banner, SUBTITLE, w - 3 * margin,
                                               weight="bold", max_lines=2,
                                               colour="#7a1f00" if self.capture_message else INK)
            sub.set_bbox(dict(boxstyle="round,pad=0.3", facecolor="#fff4b0", edgecolor=INK, linewidth=2))
            bottom += margin * 1.2 + sub.get_window_extent(renderer).height
        elif view.subtitle:
            sub = self.subtitle_art = self._text(margin * 1.5, bottom + margin * 0.3, view.subtitle, SUBTITLE, w - 3 * margin,
                             colour="#333333", max_lines=2)
            bottom += margin * 0.3 + sub.get_window_extent(renderer).height
        band = bottom + margin
        self._overlay.append(self.figure.add_artist(Rectangle(
            (0, 1 - band / h), 1, 3 / h, transform=self.figure.transFigure, facecolor=INK, edgecolor="none")))
        return band

    def _draw_side_column(self, w: float, h: float, band: float) -> None:
        x0 = w * (1 - SIDE_WIDTH)
        pad = h * 0.02
        inner = w * SIDE_WIDTH - 2 * pad
        body = h * BODY
        y = band + pad
        renderer = self.canvas.get_renderer()
        composite = self.ws.composite
        unit_map = self.scene.unit_map
        if unit_map is not None or (composite is not None and not composite.no_weights):
            if unit_map is not None:  # highest class first, as for the priority map
                # Plain words on the projector ("Oeniga"); a label's range in brackets stays on the desk legend.
                words = [label.split(" (")[0] for label in unit_map.labels]
                title, classes = unit_map.title, list(zip(unit_map.colours, words))[::-1]
            else:
                title = tr("pres_priority", self.lang)
                classes = list(zip(priority_colours(composite.k), plain_class_labels(composite.k, self.lang)))
            head = self._text(x0 + pad, y, title, BODY * 1.1, inner, weight="bold")
            y += head.get_window_extent(renderer).height + body * 0.45
            for colour, label in classes:
                self._overlay.append(self.figure.add_artist(Rectangle(
                    ((x0 + pad) / w, 1 - (y + body * 1.1) / h), body * 1.5 / w, body * 1.1 / h,
                    transform=self.figure.transFigure, facecolor=colour, edgecolor=INK, linewidth=1.5)))
                self._text(x0 + pad + body * 2.0, y, label, BODY, inner - body * 2.0)
                y += body * 1.45
            y += body * 0.6
        self._draw_weight_strip(x0 + pad, y, inner, h - pad - body * 1.6)
        counter = f"{self.index + 1} / {len(self.views)}"
        self._text(w - pad, h - pad - body * 1.25, counter, BODY, inner, ha="right", colour="#444444")

    def _strip_heading(self) -> str:
        """The strip's heading: the consensus' own name in G, else the scenario; "(ändrat)" is kept
        short so it does not force a second line (the scenario alone when "Vikter – " does not fit)."""
        if self.map_kind == "consensus":
            return tr("pres_weights_consensus", self.lang)
        scenario = self.view.scenario or tr("project_weights", self.lang)
        if self.weights_modified():
            scenario += " " + tr("scenario_modified", self.lang)
        return tr("pres_weights", self.lang).format(scenario=scenario)

    def _draw_strip_heading(self, x: float, y: float, width: float) -> float:
        """Draws the heading on one line if it fits at the MIN_TEXT floor, else without the
        "Vikter – " prefix, else on two lines; returns its height in pixels."""
        renderer = self.canvas.get_renderer()
        full = self._strip_heading()
        head = self._text(x, y, full, BODY * 1.1, width, weight="bold",
                          max_lines=2 if self.map_kind == "consensus" else 1)
        if head.get_text() != full and self.map_kind != "consensus":
            head.remove()
            self._overlay.remove(head)
            scenario = self.view.scenario or tr("project_weights", self.lang)
            if self.weights_modified():
                scenario += " " + tr("scenario_modified", self.lang)
            head = self._text(x, y, scenario, BODY * 1.1, width, weight="bold", max_lines=2)
        return head.get_window_extent(renderer).height

    def _fit_rows(self, ids: list[str], room_px: float, wraps: int = 0) -> tuple[list[str], list[str], float, float]:
        """How the weights fit into ``room_px``: (shown, grouped, text unit in px, row pitch in px).
        ``wraps`` rows need a second title line (1.17 units each). Shrinks the rows (text down to
        the MIN_TEXT floor, pitch down to ROW_MIN units) before hiding anything; a title is cut
        (wraps dropped) before a weight is hidden; only then the smallest weights (never the
        selected one) are grouped into one "+N till (x %)" line."""
        h = self.px()[1]
        body, floor = h * BODY, h * MIN_TEXT * 1.02
        n = len(ids)
        if (n * ROW_MAX + WRAP_LINE * wraps) * body <= room_px:
            return ids, [], body, ROW_MAX * body
        unit = min(max(room_px / (n * ROW_MIN + WRAP_LINE * wraps), floor), body)
        pitch = min((room_px - WRAP_LINE * wraps * unit) / n, ROW_MAX * unit)
        if pitch >= ROW_MIN * unit:
            return ids, [], unit, pitch
        if wraps:
            return self._fit_rows(ids, room_px)
        unit, pitch = floor, ROW_MIN * floor
        keep = max(int((room_px - 1.3 * unit) // pitch), 1)
        selected = ids[self.selected] if self.selected is not None and self.selected < n else None
        order = sorted(ids, key=lambda lid: (lid != selected, -self.weights[lid], ids.index(lid)))
        chosen = set(order[:keep])
        return [lid for lid in ids if lid in chosen], [lid for lid in ids if lid not in chosen], unit, pitch

    def _titles_to_wrap(self, ids: list[str], width_px: float) -> int:
        """How many layer titles do not fit on one line even at the MIN_TEXT floor."""
        probe = self.figure.text(0, 0, "", fontsize=self.points(MIN_TEXT * 1.02), parse_math=False)
        renderer = self.canvas.get_renderer()
        count = 0
        for lid in ids:
            probe.set_text(self.ws.project.layer(lid).title)
            count += probe.get_window_extent(renderer).width > width_px
        probe.remove()
        return count

    def _draw_weight_strip(self, x: float, y: float, width: float, bottom: float) -> None:
        """The current weights as bars with percentages, the selected one highlighted. Every
        weight gets its row while rows can shrink to the MIN_TEXT floor; in the disagreement map
        (which the weights do not drive) one line says what the map shows instead."""
        self.strip_labels: dict[str, object] = {}
        self._more = None
        if not self.weights:
            return
        w, h = self.px()
        if self.map_kind == "disagreement":
            self._text(x, y, tr("pres_disagreement_strip", self.lang), BODY, width, max_lines=4)
            return
        body = h * BODY
        y += self._draw_strip_heading(x, y, width) + body * 0.45
        ids = list(self.weights)
        wraps = self._titles_to_wrap(ids, width - body * 3.2)
        shown, grouped, unit, row = self._fit_rows(ids, bottom - y, wraps)
        size = unit / h
        percent_w = unit * 3.2
        # Room left under the rows: a long title may take a second line there instead of being cut.
        spare = (bottom - y) - len(shown) * row - (1.3 * unit if grouped else 0.0)
        line = unit * WRAP_LINE
        for lid in shown:
            number = ids.index(lid)
            spec = self.ws.project.layer(lid)
            label = self.strip_labels[lid] = self._text(x, y, spec.title, size, width - percent_w,
                                                        max_lines=2 if spare >= line - 0.5 else 1)
            extra = line if "\n" in label.get_text() else 0.0
            spare -= extra
            if self.selected == number:
                self._overlay.append(self.figure.add_artist(Rectangle(
                    ((x - unit * 0.3) / w, 1 - (y + row + extra - unit * 0.15) / h), (width + unit * 0.6) / w,
                    (row + extra) / h, transform=self.figure.transFigure, facecolor="#ffe680", edgecolor=INK,
                    linewidth=2)))
            percent = self._text(x + width, y, "", size, percent_w, ha="right", weight="bold")
            colour = SECTORS[spec.sector].colour if spec.sector in SECTORS else "#555555"
            bar_y = y + extra + unit * 1.25
            track = self.figure.add_artist(Rectangle(
                (x / w, 1 - (bar_y + unit * 0.45) / h), width / w, unit * 0.45 / h, transform=self.figure.transFigure,
                facecolor="#e4e4e4", edgecolor="none"))
            bar = self.figure.add_artist(Rectangle(
                (x / w, 1 - (bar_y + unit * 0.45) / h), 0, unit * 0.45 / h, transform=self.figure.transFigure,
                facecolor=colour, edgecolor=INK, linewidth=1.0))
            self._overlay += [track, bar]
            self._bars[lid] = (bar, percent, width / w)
            y += row + extra
        if grouped:
            self._more = (self._text(x, y, "", size, width), grouped)
        self._update_bars()

    def _update_bars(self) -> None:
        pattern = tr("pres_percent", self.lang)
        for lid, (bar, percent, full) in self._bars.items():
            share = self.shown_shares.get(lid, 0.0)
            bar.set_width(full * share)
            percent.set_text(pattern.format(p=round(share * 100)))
        if self._more is not None:  # the grouped weights' summed share: the bars add up
            art, grouped = self._more
            rest = sum(self.shown_shares.get(lid, 0.0) for lid in grouped)
            if rest > 0:
                art.set_text(tr("pres_more_share", self.lang).format(n=len(grouped), p=round(rest * 100)))
            else:  # only unused indicators grouped: no share to add up
                art.set_text(tr("pres_more", self.lang).format(n=len(grouped)))

    def _draw_notes(self, w: float, h: float, band: float) -> None:
        """N: the view's speaker notes over the lower part of the map (one screen, no console)."""
        notes = " ".join(self.view.notes.split()) or "–"
        pad = h * 0.02
        map_w = w * (1 - SIDE_WIDTH)
        chars = max(int((map_w - 4 * pad) / (h * BODY * 0.52)), 10)
        lines = textwrap.wrap(notes, chars)[:8]
        text = self.figure.text(2 * pad / w, 2 * pad / h, "\n".join(lines), ha="left", va="bottom",
                                fontsize=self.points(BODY), color=INK, parse_math=False, linespacing=1.25,
                                bbox=dict(boxstyle="round,pad=0.5", facecolor="#fffbe6", edgecolor=INK, linewidth=2))
        self._overlay.append(text)

    def _heavy_outlines(self) -> None:
        """Projector weights: outlines about three times the desk map's, point symbols at least
        1/70 of the screen high. Always from the desk map's own widths and sizes (remembered on
        the artist), so a resize rescales instead of compounding. Single-colour area layers become
        outlines over the priority map, as on the desk map."""
        scale = max(self.px()[1] / 1080, 0.7)
        priority_on = self._has_priority()
        for art in self.scene._static_artists():
            if not hasattr(art, "_w2_desk"):
                sizes = art.get_sizes() if isinstance(art, PathCollection) else np.zeros(0)
                art._w2_desk = (np.asarray(art.get_linewidth()).copy(), np.asarray(sizes).copy(),
                                np.asarray(art.get_facecolor()).copy())
            widths, sizes, faces = art._w2_desk
            if isinstance(art, LineCollection):
                art.set_linewidth(np.maximum(widths * 3.0, 1.5) * scale)
            elif isinstance(art, PolyCollection) or (isinstance(art, PathCollection) and not len(sizes)):
                if len(faces) <= 1 and priority_on:
                    art.set_edgecolor(faces[0][:3] if len(faces) else INK)
                    art.set_facecolor("none")
                art.set_linewidth(np.maximum(widths * 3.0, 2.5) * scale)
            elif isinstance(art, PathCollection):  # point symbols
                diameter = self.points(1 / 70)
                art.set_sizes(np.maximum(sizes * 3.0 * scale ** 2, diameter ** 2))
                art.set_linewidth(1.5)
        if self.scene._cached is not None:
            self.scene._cached.invalidate()

    def _draw_names(self) -> None:
        """Municipality names in body size with a white halo: the largest in view, none
        overlapping another or crossing the map's edge."""
        for art in self._map_texts:
            art.remove()
        self._map_texts = []
        _, municipalities = base_layers(self.ws)
        if municipalities is None or not len(municipalities) or "name" not in municipalities.columns:
            return
        x0, x1 = self.ax.get_xlim()
        y0, y1 = self.ax.get_ylim()
        xy = shapely.get_coordinates(shapely.point_on_surface(municipalities.geometry.to_numpy()))
        inside = (xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1)
        area = municipalities.geometry.area.to_numpy()
        prefer = self.scene._in_study_area(municipalities)
        if prefer is not None:  # the study area's municipalities are named before larger neighbours
            area = area + np.where(prefer, area.max() + 1, 0)
        renderer = self.canvas.get_renderer()
        box = self.ax.get_window_extent(renderer)
        placed = []
        halo = [patheffects.withStroke(linewidth=self.points(BODY) * 0.3, foreground="white")]
        for i in np.flatnonzero(inside)[np.argsort(-area[inside])]:
            if len(self._map_texts) >= MAX_NAMES:
                break
            art = self.ax.text(xy[i, 0], xy[i, 1], str(municipalities["name"].iloc[i]), ha="center", va="center",
                               fontsize=self.points(BODY), fontweight="bold", color=INK, zorder=30,
                               parse_math=False, path_effects=halo, clip_on=True)
            ext = art.get_window_extent(renderer).expanded(1.08, 1.15)
            fits = box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1
            if not fits or any(ext.overlaps(other) for other in placed) or self._covers_furniture(ext):
                art.remove()
                continue
            placed.append(ext)
            self._map_texts.append(art)

    def _covers_furniture(self, ext) -> bool:
        renderer = self.canvas.get_renderer()
        marks = [a for a in self._overlay if a.axes is self.ax] + ([self._legend] if self._legend else [])
        if self.captures is not None and self.captures.legend is not None:
            marks.append(self.captures.legend)
        return any(ext.overlaps(art.get_window_extent(renderer)) for art in marks)

    def _draw_layer_legend(self, h: float) -> None:
        """What the shown layers' symbols mean, bottom right on the map, in body size; at most
        four rows (a categorised layer gives its first categories)."""
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        if self._legend is not None:
            self._legend.remove()
            self._legend = None
        body_pt = self.points(BODY)
        handles, labels = [], []
        for title, entries, _illustrative in self.scene.legend_sections()[1:] if self._has_priority() else \
                self.scene.legend_sections():
            for entry in entries[:3]:
                label = title if len(entries) == 1 or not entry.label else entry.label
                if entry.kind == "point":
                    handle = Line2D([], [], marker=entry.marker, linestyle="none", markersize=body_pt * 0.8,
                                    markerfacecolor=entry.colour, markeredgecolor=INK, markeredgewidth=1.2)
                elif entry.kind == "line":
                    handle = Line2D([], [], color=entry.colour, linewidth=body_pt * 0.25)
                elif entry.kind == "hatch":  # excluded units: the map's own hatch, not an empty box
                    handle = Patch(facecolor=entry.colour, edgecolor=entry.edge, hatch="////", linewidth=body_pt * 0.08)
                else:
                    fill = "none" if self._has_priority() and len(entries) == 1 else entry.colour
                    handle = Patch(facecolor=fill, edgecolor=entry.colour, linewidth=body_pt * 0.12)
                handles.append(handle)
                labels.append(label if len(label) <= 34 else label[:33].rstrip() + "…")
        if not handles:
            return
        self._legend = self.ax.legend(handles[:4], labels[:4], loc="lower right", fontsize=body_pt, frameon=True,
                                      framealpha=0.94, edgecolor=INK, facecolor=PANEL, borderpad=0.5,
                                      handlelength=1.4, handleheight=1.0, borderaxespad=0.6)
        self._legend.get_frame().set_linewidth(1.5)
        self._legend.set_zorder(48)  # over the captures (capture_tools.ZORDER): a pin must not hide what symbols mean

    def _has_priority(self) -> bool:
        return self.ws.composite is not None and not self.ws.composite.no_weights and self.scene.show_composite

    # ------------------------------------------------------------------ for tests and screenshots

    def texts(self) -> list:
        """Every text on screen (title band, side column, notes, scale bar, names)."""
        from matplotlib.text import Text

        hidden = set(self._legend.get_texts()) if self._legend is not None and not self._legend.get_visible() else set()
        return [a for a in self.figure.findobj(Text) if a.get_visible() and a.get_text() and a not in hidden]


# ----------------------------------------------------------------------------------------------
# Starting it


def start_presentation(window) -> PresentationWindow:
    """F5 in the main window: present the open project's saved views full screen. With a second
    screen the map goes there and the presenter console stays on the window's screen; with one
    screen the map covers it (N shows the notes). Works on a fork of the live workspace; the
    window's map is left alone."""
    from PySide6.QtGui import QGuiApplication

    from .i18n import language
    from .presenter_console import PresenterConsole, choose_screens

    old = getattr(window, "_presentation", None)
    if old is not None and old.isVisible():
        old.raise_()
        old.activateWindow()
        return old
    model = window.model
    pres = PresentationWindow(model.ws.fork(), language())
    _follow_results(model, pres)
    from .workshop_store import capture_hub, existing_store, store_for

    pres.attach_captures(lambda: store_for(model, language()), lambda: existing_store(model, language()),
                         capture_hub(model))
    desk_group = getattr(model, "_capture_group", None)  # the group picked on the desk map goes on voting
    if desk_group in [g.id for g in pres.capture_groups]:
        pres.capture_group = desk_group
    projector, console_screen = choose_screens(QGuiApplication.screens(), window.screen())
    if projector is not None:
        pres.setGeometry(projector.geometry())
    window._presentation = pres
    pres.showFullScreen()
    window._presenter_console = None
    if console_screen is not None:
        console = window._presenter_console = PresenterConsole(pres, language())
        console.setGeometry(console_screen.availableGeometry())
        console.showMaximized()
        console.activateWindow()  # the clicker's keys reach the map through the console
    else:
        pres.activateWindow()
        pres.setFocus()
    return pres


def _follow_results(model, pres: PresentationWindow) -> None:
    """Hand the app's results to the presentation as they arrive, until it is closed."""
    def take() -> None:
        if pres.isVisible():
            pres.adopt(model.ws)

    signals = (model.layers_ready, model.computed)
    for signal in signals:
        signal.connect(take)

    def stop() -> None:
        for signal in signals:
            try:
                signal.disconnect(take)
            except (RuntimeError, TypeError):
                pass
    pres.closed.connect(stop)


def _attach_project_captures(window: PresentationWindow, project, lang: str) -> None:
    """``skikt present``: the project's workshop file (beside it; the bundled sample's in the
    user's data folder), drawn if it exists and opened on the first capture."""
    from types import SimpleNamespace

    from .workshop_store import existing_store, store_for

    holder = SimpleNamespace(project=project)  # what store_for needs of a model
    window.attach_captures(lambda: store_for(holder, lang), lambda: existing_store(holder, lang))


def _parse(argv):
    p = argparse.ArgumentParser(prog="skikt present", description="the project's saved views full screen")
    p.add_argument("project")
    p.add_argument("--view", help="start at this saved view (its name)")
    p.add_argument("--screenshot", help="write a PNG of the projected view and quit")
    p.add_argument("--size", default="1920x1080", help="window size for --screenshot, e.g. 1280x720")
    p.add_argument("--lang", choices=["sv", "en"])
    return p.parse_args(argv)


def _size(text: str) -> tuple[int, int] | None:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        return None
    return (w, h) if w >= 320 and h >= 240 else None


def run_present(argv: list[str]) -> int:
    """``skikt present PROJECT [--view NAME] [--screenshot FILE --size WxH]``; bad input is one
    line on stderr and exit code 2."""
    args = _parse(argv)
    from .i18n import language, set_language

    size = _size(args.size)
    if size is None:
        print(f"skikt: {tr('pres_bad_size', args.lang or 'sv').format(value=args.size)}", file=sys.stderr)
        return 2
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from skikt.layers.project import read_project
    from skikt.layers.views import find_view
    from skikt.layers.workspace import Workspace

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.lang:
        set_language(args.lang, remember=False)
    lang = language()
    try:
        project = read_project(args.project)
        if args.view is not None:
            find_view(project, args.view)
        ws = Workspace(project)
        ws.update(strict=True)
    except SkiktError as exc:
        print(f"skikt: {exc}", file=sys.stderr)
        return 2
    window = PresentationWindow(ws, lang, start=args.view)
    _attach_project_captures(window, project, lang)
    if args.screenshot:
        window.resize(*size)
        window.show()
        app.processEvents()
        window.render_now()
        app.processEvents()
        if not window.grab().save(args.screenshot):
            print(f"skikt: could not write {args.screenshot}", file=sys.stderr)
            return 2
        print(f"wrote {args.screenshot}")
        return 0
    window.closed.connect(app.quit)
    window.showFullScreen()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_present(sys.argv[1:]))
