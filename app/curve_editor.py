"""The value-curve editor: an indicator's raw values as a histogram, and over it the
piecewise-linear curve that turns them into 0–1 (``normalize = "piecewise"``, ``points``).

Points are dragged with the mouse (x = raw value, y = 0–1; a point cannot pass its neighbours),
added by double-click and removed by right-click (two always stay); the table below takes exact
numbers. *Förhandsvisa* lets the map follow while dragging: at most one recomputation per
``PREVIEW_MS``, run by the model's worker like any other indicator change, so the dialog never
waits for it. OK is one undoable step; Cancel puts the layer back as it was.
"""

from __future__ import annotations

import copy
import math

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.backend_bases import MouseButton
from matplotlib.figure import Figure
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from skikt.layers.composite import check_points
from skikt.layers.errors import SkiktError
from skikt.layers.style import fmt_number

from .commands_curves import SetValueCurve, with_curve
from .i18n import T

# The example for distance indicators: up to 5 km is close enough (0), from 30 km on it
# is as bad as it gets (1), linear in between.
PRESET_DISTANCE = [[0.0, 0.0], [5000.0, 0.0], [30000.0, 1.0]]
PICK_PX = 10  # a press this close to a point (screen pixels) picks it up
PREVIEW_MS = 150  # at most one preview recomputation per this many milliseconds of dragging
CURVE_COLOUR = "#b2182b"


def linear_points(values: np.ndarray, direction: str) -> list[list[float]]:
    """The curve min–max normalisation draws: rising for "high", falling for "low"."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi <= lo:
        hi = lo + 1.0
    return [[lo, 0.0], [hi, 1.0]] if direction != "low" else [[lo, 1.0], [hi, 0.0]]


def starting_points(indicator, values: np.ndarray) -> list[list[float]]:
    """The layer's own curve if it has a valid one, else the distance preset for a distance
    indicator, else the straight line of its direction over the values."""
    if indicator.normalize == "piecewise":
        try:
            return check_points(indicator.extra.get("points")).tolist()
        except SkiktError:
            pass
    if indicator.method == "distance":
        return copy.deepcopy(PRESET_DISTANCE)
    return linear_points(values if len(values) else np.array([0.0, 1.0]), indicator.direction)


def x_step(span: float) -> float:
    """Raw values snap to four significant digits of the axis: a dragged point is stored as
    12,340 m, not 12,337.8916 m, and the table shows what is stored."""
    span = span if span > 0 and math.isfinite(span) else 1.0
    return 10.0 ** (math.floor(math.log10(span)) - 3)


class CurveEditor(QDialog):
    def __init__(self, model, layer_id: str, parent=None):
        super().__init__(parent)
        self.model, self.layer_id = model, layer_id
        spec = model.project.layer(layer_id)
        self.original = copy.deepcopy(spec.indicator)
        raw = model.ws.raw_indicator(spec)  # cached; SkiktError when the layer cannot be computed
        values = np.asarray(raw.values, float)
        keep = ~np.isnan(values)
        excluded = model.ws.excluded_by
        n_excluded = 0
        if excluded is not None and len(excluded) == len(values):
            n_excluded = int(((excluded != "") & keep).sum())
            keep &= excluded == ""  # not candidates, and not normalised: left out here too
        self.values = values[keep]
        self.n_missing = int(np.isnan(values).sum())
        self.n_excluded = n_excluded
        self.raw_unit = raw.unit
        self.points = starting_points(self.original, self.values)
        self._previewed = False
        self._drag: int | None = None
        self._closing = False
        self.setWindowTitle(T("vc_title").format(name=spec.title))
        self._build(model.ws.units.kind if model.ws.units is not None else "grid")
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_MS)
        self._preview_timer.timeout.connect(self._preview_now)
        model.project_replaced.connect(self._project_gone)
        model.layers_changed.connect(self._layer_maybe_gone)
        self._refresh()

    # ------------------------------------------------------------------ building

    def _build(self, unit_kind: str) -> None:
        self.figure = Figure(figsize=(7.2, 3.8), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(560, 300)
        self.ax_hist = self.figure.add_subplot(111)
        self.ax_curve = self.ax_hist.twinx()
        self._draw_histogram(unit_kind)
        self.ends, = self.ax_curve.plot([], [], "--", color=CURVE_COLOUR, lw=1.2, alpha=0.7)
        self.line, = self.ax_curve.plot([], [], "-", color=CURVE_COLOUR, lw=2.2)
        self.dots, = self.ax_curve.plot([], [], "o", color=CURVE_COLOUR, ms=9, mec="white", mew=1.5, zorder=5)
        self.canvas.mpl_connect("button_press_event", self._press)
        self.canvas.mpl_connect("motion_notify_event", self._motion)
        self.canvas.mpl_connect("button_release_event", self._release)

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels([T("vc_col_raw").format(unit=self.raw_unit), T("vc_col_value")])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(150)
        self.table.cellChanged.connect(self._cell_edited)

        self.preview = QCheckBox(T("vc_preview"))
        self.preview.setChecked(True)
        self.preview.toggled.connect(self._preview_toggled)
        preset_distance = QPushButton(T("vc_preset_distance"))
        preset_distance.clicked.connect(lambda: self.set_points(PRESET_DISTANCE))
        preset_linear = QPushButton(T("vc_preset_linear"))
        preset_linear.clicked.connect(lambda: self.set_points(linear_points(
            self.values if len(self.values) else np.array([0.0, 1.0]), self.original.direction)))
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        help_text = QLabel(T("vc_help"))
        help_text.setWordWrap(True)
        counts = QLabel(T("vc_counts").format(n=fmt_number(len(self.values)), missing=fmt_number(self.n_missing),
                                              excluded=fmt_number(self.n_excluded)))
        counts.setWordWrap(True)
        counts.setStyleSheet("color:#555555")
        presets = QHBoxLayout()
        presets.addWidget(preset_distance)
        presets.addWidget(preset_linear)
        presets.addStretch(1)
        presets.addWidget(self.preview)
        lay = QVBoxLayout(self)
        lay.addWidget(help_text)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(counts)
        lay.addLayout(presets)
        lay.addWidget(self.table)
        lay.addWidget(self.buttons)
        self.resize(780, 640)

    def _draw_histogram(self, unit_kind: str) -> None:
        ax = self.ax_hist
        if len(self.values):
            ax.hist(self.values, bins=min(40, max(5, int(np.sqrt(len(self.values))))), color="#c8c8c8",
                    edgecolor="#ffffff", linewidth=0.5)
        ax.set_xlabel(T("vc_raw_axis").format(unit=self.raw_unit))
        ax.set_ylabel(T("vc_units_grid" if unit_kind == "grid" else "vc_units_areas"))
        self.ax_curve.set_ylabel(T("vc_value_axis"), color=CURVE_COLOUR)
        self.ax_curve.set_ylim(-0.04, 1.04)
        xs = np.concatenate([self.values, [p[0] for p in self.points]]) if len(self.values) else \
            np.array([p[0] for p in self.points], float)
        lo, hi = float(xs.min()), float(xs.max())
        pad = (hi - lo) * 0.05 or 1.0
        ax.set_xlim(lo - pad, hi + pad)
        self.step = x_step(hi - lo)

    # ------------------------------------------------------------------ the points

    def set_points(self, points) -> None:
        """Replace the curve (a preset): ordered by raw value, values clipped to 0–1."""
        pts = sorted([[float(x), min(max(float(y), 0.0), 1.0)] for x, y in points])
        if len(pts) < 2 or any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
            return
        self.points = pts
        self._grow_axis()
        self._changed(final=True)

    def _grow_axis(self) -> None:
        """Keep every point on the axis after a preset or a typed number moved one beyond it."""
        lo, hi = self.ax_hist.get_xlim()
        xs = [p[0] for p in self.points]
        if min(xs) < lo or max(xs) > hi:
            pad = (max(xs + [hi]) - min(xs + [lo])) * 0.05
            self.ax_hist.set_xlim(min(xs + [lo]) - pad, max(xs + [hi]) + pad)

    def move_point(self, i: int, x: float, y: float) -> None:
        """Point ``i`` to (x, y): y within 0–1, x strictly between its neighbours (snapped)."""
        pts = self.points
        x = round(x / self.step) * self.step
        if i > 0:
            x = max(x, pts[i - 1][0] + self.step)
        if i < len(pts) - 1:
            x = min(x, pts[i + 1][0] - self.step)
        pts[i] = [float(x), round(min(max(float(y), 0.0), 1.0), 3)]

    def add_point(self, x: float, y: float) -> bool:
        x = round(x / self.step) * self.step
        if any(abs(p[0] - x) < self.step / 2 for p in self.points):
            return False
        self.points.append([float(x), round(min(max(float(y), 0.0), 1.0), 3)])
        self.points.sort()
        return True

    def remove_point(self, i: int) -> bool:
        if len(self.points) <= 2:  # a curve needs two points
            return False
        del self.points[i]
        return True

    # ------------------------------------------------------------------ mouse

    def _data_xy(self, event) -> tuple[float, float]:
        return tuple(self.ax_curve.transData.inverted().transform((event.x, event.y)))

    def _nearest(self, event) -> int | None:
        screen = self.ax_curve.transData.transform(np.array(self.points, float))
        d = np.hypot(screen[:, 0] - event.x, screen[:, 1] - event.y)
        i = int(np.argmin(d))
        return i if d[i] <= PICK_PX * self.canvas.device_pixel_ratio else None

    def _press(self, event) -> None:
        if event.x is None or event.inaxes is None:
            return
        i = self._nearest(event)
        if event.button == MouseButton.RIGHT:
            if i is not None and self.remove_point(i):
                self._changed(final=True)
        elif event.button == MouseButton.LEFT:
            if event.dblclick:
                if i is None and self.add_point(*self._data_xy(event)):
                    self._changed(final=True)
            elif i is not None:
                self._drag = i

    def _motion(self, event) -> None:
        if self._drag is None or event.x is None:
            return
        self.move_point(self._drag, *self._data_xy(event))
        self._changed(final=False)

    def _release(self, event) -> None:
        if self._drag is None:
            return
        if event.x is not None:
            self.move_point(self._drag, *self._data_xy(event))
        self._drag = None
        self._changed(final=True)

    # ------------------------------------------------------------------ table

    def _fill_table(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.points))
        for row, (x, y) in enumerate(self.points):
            self.table.setItem(row, 0, QTableWidgetItem(f"{x:g}"))
            self.table.setItem(row, 1, QTableWidgetItem(f"{y:g}"))
        self.table.blockSignals(False)

    def _cell_edited(self, row: int, col: int) -> None:
        text = self.table.item(row, col).text().strip().replace(",", ".").replace("\u2009", "").replace(" ", "")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if math.isfinite(value):
            x, y = self.points[row]
            x, y = (value, y) if col == 0 else (x, value)
            if col == 0:  # typed numbers are taken as typed, only kept between the neighbours
                lo = self.points[row - 1][0] if row > 0 else -math.inf
                hi = self.points[row + 1][0] if row < len(self.points) - 1 else math.inf
                if lo < x < hi:
                    self.points[row][0] = x
            else:
                self.points[row][1] = min(max(y, 0.0), 1.0)
            self._grow_axis()
        self._changed(final=True)  # an unreadable entry shows the number it had again

    # ------------------------------------------------------------------ showing and previewing

    def _refresh(self) -> None:
        pts = np.array(self.points, float)
        lo, hi = self.ax_hist.get_xlim()
        self.line.set_data(pts[:, 0], pts[:, 1])
        # Flat beyond the first and the last point, as the normalisation is.
        self.ends.set_data([lo, pts[0, 0], np.nan, pts[-1, 0], hi], [pts[0, 1], pts[0, 1], np.nan, pts[-1, 1], pts[-1, 1]])
        self.dots.set_data(pts[:, 0], pts[:, 1])
        self.canvas.draw_idle()
        if self._drag is None:
            self._fill_table()

    def _changed(self, final: bool) -> None:
        self._refresh()
        if not self.preview.isChecked():
            return
        if final:
            self._preview_timer.stop()
            self._preview_now()
        elif not self._preview_timer.isActive():  # a throttle: the first move starts the clock
            self._preview_timer.start()

    def curve_indicator(self):
        return with_curve(self.original, self.points)

    def _preview_now(self) -> None:
        if self._closing or not self.preview.isChecked():
            return
        self.model.set_indicator(self.layer_id, self.curve_indicator())
        self._previewed = True

    def _restore(self) -> None:
        self._preview_timer.stop()
        if self._previewed:
            self.model.set_indicator(self.layer_id, self.original)
            self._previewed = False

    def _preview_toggled(self, on: bool) -> None:
        if on:
            self._preview_now()
        else:
            self._restore()

    # ------------------------------------------------------------------ closing

    def accept(self) -> None:
        self._preview_timer.stop()
        self._closing = True
        new = self.curve_indicator()
        if new != self.original:
            self.model.undo.push(SetValueCurve(self.model, self.layer_id, new, self.original))
        super().accept()

    def reject(self) -> None:
        if not self._closing:
            self._closing = True
            self._restore()
        super().reject()

    def _project_gone(self) -> None:
        self._closing, self._previewed = True, False  # nothing to restore in a new project
        super().reject()

    def _layer_maybe_gone(self) -> None:
        if not any(s.id == self.layer_id for s in self.model.project.layers):
            self._project_gone()
