"""Compare two scenarios (issue 10, item 2 in the app).

Four tabs over one comparison (``layers.scenarios.compare``: indicators normalised once, each
scenario one recombination; the map in the main window is left as it is):

* **Sida vid sida**: A and B on two canvases whose pan and zoom follow each other.
* **Svep**: one canvas with A on the left and B on the right of a divider the user drags.
* **Rangförändring**: ``rank_change = rank_a − rank_b`` per unit in a diverging palette (blue rises
  under B, red falls), symmetric about zero so equal moves have equal strength of colour.
* **Vinnare och förlorare**: the units that rise and fall most, and per municipality the mean rank
  change, the units in the top class and, when the project names a population layer, the people
  living in top-class units under A and under B (``layers.scenarios.by_municipality``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from skikt.layers import scenarios as sc
from skikt.layers.errors import SkiktError
from skikt.layers.export import fit_aspect, study_extent
from skikt.layers.project import PROJECT_WEIGHTS
from skikt.layers.render import draw_priority, draw_unit_values, priority_legend
from skikt.layers.scene import prepare_map_axes

from .i18n import T, language

RANK_CMAP = "RdBu"  # ColorBrewer, colour-blind safe; red = falls, blue = rises under B
DIVIDER_GRAB_PX = 10  # how close to the divider a press must be to drag it
TOP_N = 10


def _fmt_int(v) -> str:
    try:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "–"
        return f"{int(round(float(v))):,}".replace(",", "\u202f")
    except (TypeError, ValueError):
        return "–"


def _fmt_signed(v, digits: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if np.isnan(f):
        return "–"
    text = f"{abs(f):,.{digits}f}".replace(",", "\u202f")
    return ("+" if f > 0 else "−" if f < 0 else "±") + text


class MapPane(FigureCanvasQTAgg):
    """A small map: drag pans, the wheel zooms about the cursor; says when its view changed."""

    view_changed = Signal(object)  # (x0, x1, y0, y1)

    def __init__(self, parent=None):
        self.figure = Figure(facecolor="#f4f4f2")
        super().__init__(self.figure)
        self.setParent(parent)
        self.ax = self.figure.add_axes([0, 0, 1, 1])
        prepare_map_axes(self.ax)
        self._press = None
        self._extent = None
        self.mpl_connect("button_press_event", self._on_press)
        self.mpl_connect("motion_notify_event", self._on_motion)
        self.mpl_connect("button_release_event", self._on_release)
        self.mpl_connect("scroll_event", self._on_scroll)

    def view(self) -> tuple[float, float, float, float]:
        return (*self.ax.get_xlim(), *self.ax.get_ylim())

    def set_view(self, extent, emit: bool = False) -> None:
        w, h = self.width(), self.height()
        x0, x1, y0, y1 = fit_aspect(extent, (w / h) if h > 0 else 1.0)
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(y0, y1)
        self.draw_idle()
        if emit:
            self.view_changed.emit(self.view())

    def follow(self, view) -> None:
        """Take another pane's view as it is (same x and y limits)."""
        if tuple(np.round(view, 6)) == tuple(np.round(self.view(), 6)):
            return
        self.ax.set_xlim(view[0], view[1])
        self.ax.set_ylim(view[2], view[3])
        self.draw_idle()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._extent is not None:
            self.set_view(self._extent)

    # mouse → view
    def _on_press(self, ev):
        if ev.button == 1 and ev.inaxes is self.ax:
            self._press = (ev.x, ev.y, self.view())

    def _on_motion(self, ev):
        if self._press is None:
            return
        x, y, (x0, x1, y0, y1) = self._press
        sx = (x1 - x0) / max(self.ax.bbox.width, 1)
        sy = (y1 - y0) / max(self.ax.bbox.height, 1)
        dx, dy = (ev.x - x) * sx, (ev.y - y) * sy
        self.ax.set_xlim(x0 - dx, x1 - dx)
        self.ax.set_ylim(y0 - dy, y1 - dy)
        self._extent = None  # the user moved it: a resize keeps this view
        self.draw_idle()
        self.view_changed.emit(self.view())

    def _on_release(self, ev):
        self._press = None

    def _on_scroll(self, ev):
        if ev.xdata is None:
            return
        factor = 0.8 if ev.button == "up" else 1.25
        x0, x1, y0, y1 = self.view()
        cx, cy = ev.xdata, ev.ydata
        self.ax.set_xlim(cx + (x0 - cx) * factor, cx + (x1 - cx) * factor)
        self.ax.set_ylim(cy + (y0 - cy) * factor, cy + (y1 - cy) * factor)
        self._extent = None
        self.draw_idle()
        self.view_changed.emit(self.view())


class SwipePane(MapPane):
    """A on the left of the divider, B on its right. The divider sits at a fraction of the
    width, so it stays where the user put it while the map pans under it."""

    divider_moved = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.fraction = 0.5
        self.clip = Rectangle((0.5, 0), 0.5, 1, transform=self.ax.transAxes, facecolor="none", edgecolor="none")
        self.line = self.ax.axvline(0.5, color="#222222", linewidth=2.5, zorder=50)
        self.line.set_transform(self.ax.transAxes)
        self.handle = self.ax.text(0.5, 0.5, "◀ ▶", transform=self.ax.transAxes, ha="center", va="center",
                                   zorder=51, fontsize=11, color="white",
                                   bbox=dict(boxstyle="round,pad=0.3", facecolor="#222222", edgecolor="none"))
        self.labels = [self.ax.text(0.01, 0.98, "", transform=self.ax.transAxes, ha="left", va="top", zorder=51,
                                    fontsize=11, bbox=dict(facecolor="white", alpha=0.85, edgecolor="#888888")),
                       self.ax.text(0.99, 0.98, "", transform=self.ax.transAxes, ha="right", va="top", zorder=51,
                                    fontsize=11, bbox=dict(facecolor="white", alpha=0.85, edgecolor="#888888"))]
        self.right_artists: list = []
        self._dragging = False

    def set_right(self, artists) -> None:
        self.right_artists = [a for a in artists if a is not None]
        for a in self.right_artists:
            a.set_clip_path(self.clip)

    def set_fraction(self, fraction: float) -> None:
        self.fraction = float(min(max(fraction, 0.0), 1.0))
        self.clip.set_bounds(self.fraction, 0, 1 - self.fraction, 1)
        self.line.set_xdata([self.fraction, self.fraction])
        self.handle.set_x(self.fraction)
        for a in self.right_artists:
            a.set_clip_path(self.clip)
        self.draw_idle()
        self.divider_moved.emit(self.fraction)

    def divider_x(self) -> float:
        """The divider's position in widget pixels from the left."""
        box = self.ax.bbox
        return (box.x0 + self.fraction * box.width) / self.device_pixel_ratio

    def _on_press(self, ev):
        if ev.button == 1 and ev.inaxes is self.ax:
            box = self.ax.bbox
            if abs(ev.x - (box.x0 + self.fraction * box.width)) <= DIVIDER_GRAB_PX * self.device_pixel_ratio:
                self._dragging = True
                return
        super()._on_press(ev)

    def _on_motion(self, ev):
        if self._dragging:
            box = self.ax.bbox
            self.set_fraction((ev.x - box.x0) / max(box.width, 1))
            return
        super()._on_motion(ev)

    def _on_release(self, ev):
        self._dragging = False
        super()._on_release(ev)


class CompareWindow(QWidget):
    """Scenario A against scenario B; ``None`` or "-" is the project's own weights."""

    def __init__(self, model, a: str | None = None, b: str | None = None, parent=None):
        super().__init__(parent, Qt.Window)
        self.model = model
        self.setWindowTitle(T("compare_title"))
        self.resize(1400, 860)
        self.table = None  # compare(): one row per unit
        self.municipalities = None  # by_municipality()
        self.combo_a, self.combo_b = QComboBox(), QComboBox()
        self.combo_a.setObjectName("compare_a")
        self.combo_b.setObjectName("compare_b")
        names = [PROJECT_WEIGHTS] + _scenario_names(model)
        for combo in (self.combo_a, self.combo_b):
            for name in names:
                combo.addItem(T("project_weights") if name == PROJECT_WEIGHTS else name, name)
        a = a or (names[1] if len(names) > 1 else PROJECT_WEIGHTS)
        b = b or (names[2] if len(names) > 2 else PROJECT_WEIGHTS)
        self.combo_a.setCurrentIndex(max(0, self.combo_a.findData(a)))
        self.combo_b.setCurrentIndex(max(0, self.combo_b.findData(b)))
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("A:"))
        top.addWidget(self.combo_a, 1)
        top.addWidget(QLabel("B:"))
        top.addWidget(self.combo_b, 1)
        self.tabs = QTabWidget()
        self.left, self.right = MapPane(), MapPane()
        self.left.setObjectName("compare_left")
        self.right.setObjectName("compare_right")
        self.left_title, self.right_title = QLabel(""), QLabel("")
        side = QSplitter(Qt.Horizontal)
        for title, pane in ((self.left_title, self.left), (self.right_title, self.right)):
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.addWidget(title)
            v.addWidget(pane, 1)
            side.addWidget(box)
        self.left.view_changed.connect(self.right.follow)
        self.right.view_changed.connect(self.left.follow)
        self.swipe = SwipePane()
        self.swipe.setObjectName("compare_swipe")
        self.rank_map = MapPane()
        self.rank_map.setObjectName("compare_rank")
        self.units_table, self.muni_table = QTableWidget(), QTableWidget()
        self.units_table.setObjectName("compare_units")
        self.muni_table.setObjectName("compare_municipalities")
        tables = QWidget()
        tv = QVBoxLayout(tables)
        self.units_label, self.muni_label = QLabel(T("compare_units_moving")), QLabel(T("compare_municipalities"))
        tv.addWidget(self.units_label)
        tv.addWidget(self.units_table, 1)
        tv.addWidget(self.muni_label)
        tv.addWidget(self.muni_table, 1)
        self.tabs.addTab(side, T("compare_side_by_side"))
        self.tabs.addTab(self.swipe, T("compare_swipe"))
        self.tabs.addTab(self.rank_map, T("compare_rank_change"))
        self.tabs.addTab(tables, T("compare_winners"))
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.tabs, 1)
        self.combo_a.currentIndexChanged.connect(self.refresh)
        self.combo_b.currentIndexChanged.connect(self.refresh)
        # New indicators (a layer added, a direction flipped) change both scenarios' scores.
        model.computed.connect(self._recomputed)
        self.refresh()

    def _recomputed(self):
        try:
            if self.isVisible():
                self.refresh()
        except RuntimeError:  # the window was closed and deleted; the model outlives it
            pass

    # ------------------------------------------------------------------ data

    def names(self) -> tuple[str, str]:
        return self.combo_a.currentData(), self.combo_b.currentData()

    def _label(self, name: str) -> str:
        return T("project_weights") if name == PROJECT_WEIGHTS else name

    def refresh(self, *_):
        ws = self.model.ws
        a, b = self.names()
        if ws.normalised is None or ws.units is None:
            self.summary.setText(self.model.no_map_reason or T("no_map_no_indicator"))
            return
        try:
            base = project_weights_workspace(self.model)
            self.table = sc.compare(base, a, b)
            self.municipalities = sc.by_municipality(base, self.table)
        except SkiktError as exc:
            self.summary.setText(exc.text(language()))
            return
        self.unit_places = sc.unit_municipalities(ws)[1]
        self._draw_maps()
        self._fill_tables()
        # Excluded units have no rank on either side: "N units" counts only the ranked ones, so that
        # rises + falls + unchanged add up to N.
        moved = self.table["rank_change"].dropna()
        self.summary.setText(T("compare_summary").format(
            a=self._label(a), b=self._label(b), up=int((moved > 0).sum()), down=int((moved < 0).sum()),
            same=int((moved == 0).sum()), n=len(moved)))

    def _classes(self, column: str) -> np.ndarray:
        return self.table[column].fillna(0).to_numpy(np.int64)

    def _background(self, ax) -> None:
        """Municipality borders: where am I, on every map."""
        frame = sc.municipality_layer(self.model.ws)
        if frame is not None and len(frame):
            frame.boundary.plot(ax=ax, color="#444444", linewidth=0.6, zorder=5)

    def _draw_maps(self) -> None:
        ws = self.model.ws
        a, b = self.names()
        k = self.model.project.units.classes
        extent = study_extent(ws)
        for pane, column, name, title in ((self.left, "class_a", a, self.left_title),
                                          (self.right, "class_b", b, self.right_title)):
            keep = pane.view() if pane._extent is None and self.table is not None and pane.ax.images else None
            pane.ax.clear()
            prepare_map_axes(pane.ax)
            draw_priority(pane.ax, ws.units, self._classes(column), k)
            self._background(pane.ax)
            title.setText(f"<b>{'A' if column == 'class_a' else 'B'}: {self._label(name)}</b>")
            pane._extent = extent if keep is None else None
            pane.set_view(extent) if keep is None else pane.follow(keep)
        self._legend(self.right.ax, k)
        # swipe
        s = self.swipe
        for art in list(s.ax.images) + list(s.ax.collections):
            art.remove()
        draw_priority(s.ax, ws.units, self._classes("class_a"), k)
        right = draw_priority(s.ax, ws.units, self._classes("class_b"), k, zorder=0.6)
        self._background(s.ax)
        s.set_right([right])
        s.labels[0].set_text("A: " + self._label(a))
        s.labels[1].set_text("B: " + self._label(b))
        if s._extent is None and not getattr(s, "_shown_once", False):
            s._extent = extent
            s._shown_once = True
        s.set_view(extent if s._extent is not None else (*s.ax.get_xlim(), *s.ax.get_ylim()))
        s.set_fraction(s.fraction)
        # rank change
        r = self.rank_map
        r.figure.clear()
        r.ax = r.figure.add_axes([0, 0, 0.9, 1])
        prepare_map_axes(r.ax)
        change = self.table["rank_change"].astype(float).to_numpy()
        reach = float(np.nanmax(np.abs(change))) if np.isfinite(change).any() else 1.0
        norm = Normalize(-max(reach, 1.0), max(reach, 1.0))
        art = draw_unit_values(r.ax, ws.units, change, RANK_CMAP, norm)
        self._background(r.ax)
        bar = r.figure.colorbar(art, cax=r.figure.add_axes([0.91, 0.1, 0.025, 0.8]))
        bar.set_label(T("compare_rank_axis").format(a=self._label(a), b=self._label(b)))
        r._extent = extent
        r.set_view(extent)

    def _legend(self, ax, k: int) -> None:
        from matplotlib.patches import Patch

        entries = priority_legend(k, language())
        ax.legend([Patch(facecolor=e.colour, edgecolor="#666666") for e in entries], [e.label for e in entries],
                  loc="lower right", fontsize=9, framealpha=0.9)

    def _fill_tables(self) -> None:
        rising, falling = sc.top_movers(self.table, TOP_N)
        index = {uid: i for i, uid in enumerate(self.table["unit_id"].astype(str))}
        rows = [("↑", r) for _, r in rising.iterrows()] + [("↓", r) for _, r in falling.iterrows()]
        head = [T("compare_col_unit"), T("compare_col_place"), "A", "B", T("compare_col_change")]
        self._fill(self.units_table, head, [
            [f"{arrow} {r['unit_id']}", str(self.unit_places[index[str(r['unit_id'])]]), _fmt_int(r["rank_a"]),
             _fmt_int(r["rank_b"]), _fmt_signed(r["rank_change"])] for arrow, r in rows])
        m = self.municipalities
        people = "people_top_a" in m.columns
        head = [T("compare_col_municipality"), T("compare_col_units"), T("compare_col_mean_change"),
                T("compare_col_top_a"), T("compare_col_top_b")]
        if people:
            head += [T("compare_col_people_a"), T("compare_col_people_b"), T("compare_col_people_change")]
        order = m.reindex(m["mean_rank_change"].abs().sort_values(ascending=False, na_position="last").index)
        body = []
        for _, r in order.iterrows():
            row = [str(r["municipality_name"] or r["municipality"] or "–"), _fmt_int(r["units"]),
                   _fmt_signed(r["mean_rank_change"], 1), _fmt_int(r["top_units_a"]), _fmt_int(r["top_units_b"])]
            if people:
                row += [_fmt_int(r["people_top_a"]), _fmt_int(r["people_top_b"]), _fmt_signed(r["people_top_change"])]
            body.append(row)
        self._fill(self.muni_table, head, body)

    @staticmethod
    def _fill(table: QTableWidget, head: list[str], rows: list[list[str]]) -> None:
        table.clear()
        table.setColumnCount(len(head))
        table.setRowCount(len(rows))
        table.setHorizontalHeaderLabels(head)
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                if j > 0 and text[:1] in "+−±–0123456789":
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                table.setItem(i, j, item)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        table.verticalHeader().setVisible(False)


def project_weights_workspace(model):
    """A fork of the live workspace whose layers hold the project's own weights.

    While a scenario is shown the layers hold its weights, and a scenario's left-out ids take the
    layers' weights: compared on the live project, "Vård först" would borrow the weights of the
    scenario on screen. The fork shares the normalised indicators, so this costs no computation."""
    from .commands_scenarios import saved_weights

    fork = model.ws.fork()
    own = saved_weights(model, None)
    for spec in fork.project.indicator_layers():
        spec.indicator.weight = own.get(spec.id, spec.indicator.weight)
    return fork


def _scenario_names(model) -> list[str]:
    try:
        return sc.scenario_names(model.project)
    except SkiktError:
        return []
