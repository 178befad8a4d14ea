"""Charts dock: the top units by score as stacked sector contributions, and the selected unit's profile."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from skikt.layers.sectors import SECTORS

from ..i18n import T, language
from .common import on_screen


def top_units(ws, n: int) -> np.ndarray:
    score = ws.composite.score
    ok = np.flatnonzero(~np.isnan(score))
    if len(ok) == 0:
        return ok
    k = min(n, len(ok))
    top = ok[np.argpartition(-score[ok], k - 1)[:k]]
    return top[np.argsort(-score[top])]


def draw_top(ax, ws, n: int = 10) -> None:
    c = ws.composite
    units = top_units(ws, n)
    left = np.zeros(len(units))
    y = np.arange(len(units))[::-1]
    by_sector: dict[str, np.ndarray] = {}
    for j, lid in enumerate(ws.normalised.layer_ids):
        sector = ws.project.layer(lid).sector
        contrib = np.array([c.contributions(u)[j] for u in units])
        by_sector[sector] = by_sector.get(sector, 0) + contrib
    for sector, vals in by_sector.items():
        ax.barh(y, vals, left=left, color=SECTORS[sector].colour, edgecolor="white", linewidth=0.5,
                label=SECTORS[sector].name(language()))
        left += vals
    ax.set_yticks(y, [ws.units.label(u)[:24] for u in units], fontsize=7)
    ax.set_title(T("top_units"), fontsize=9, loc="left")
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.25, -0.1), ncol=3, frameon=False,
              handlelength=1, columnspacing=0.8)


def draw_profile(ax, ws, i: int | None) -> None:
    ax.set_title(T("unit_profile"), fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    if i is None or ws.normalised is None:
        ax.text(0.5, 0.5, T("click_map"), ha="center", va="center", fontsize=8, color="#666666",
                transform=ax.transAxes, wrap=True)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ids = ws.normalised.layer_ids
    vals = ws.normalised.norm[:, i]
    x = np.arange(len(ids))
    colours = [SECTORS[ws.project.layer(lid).sector].colour for lid in ids]
    ax.bar(x, np.nan_to_num(vals), color=colours, edgecolor="#333333", linewidth=0.5)
    ax.set_ylim(0, 1)
    ax.set_xticks(x, [ws.project.layer(lid).title[:12] for lid in ids], rotation=40, ha="right", fontsize=6.5)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylabel(T("normalised"), fontsize=7)
    ax.set_title(f"{T('unit_profile')}: {ws.units.label(i)}", fontsize=8, loc="left")


def draw_charts(fig, ws, n: int, selected: int | None) -> None:
    draw_top(fig.add_axes([0.36, 0.64, 0.6, 0.32]), ws, n)
    draw_profile(fig.add_axes([0.12, 0.13, 0.84, 0.26]), ws, selected)


class ChartsPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.figure = Figure(figsize=(4, 5), dpi=90, facecolor="white")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.n = QSpinBox()
        self.n.setRange(3, 30)
        self.n.setValue(10)
        self.n.valueChanged.connect(self.redraw)
        export = QPushButton(T("export_png"))
        export.clicked.connect(self.export_dialog)
        row = QHBoxLayout()
        row.addWidget(QLabel(T("top_n")))
        row.addWidget(self.n)
        row.addStretch(1)
        row.addWidget(export)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.canvas, 1)
        model.composite_changed.connect(self.redraw)
        model.selection_changed.connect(self.redraw)
        self.redraw()

    def redraw(self, *_):
        if not on_screen(self):  # a hidden dock redraws when it is shown, not on every slider tick
            self._stale = True
            return
        self._stale = False
        self.figure.clear()
        ws = self.model.ws
        if ws.composite is not None and ws.normalised is not None:
            draw_charts(self.figure, ws, self.n.value(), self.model.selected)
        self.canvas.draw_idle()

    def shown(self, visible: bool = True):
        """Connected to the dock's visibilityChanged: catch up on what happened while hidden."""
        if visible and getattr(self, "_stale", True):
            self.redraw()

    def export(self, path) -> None:
        """Both charts on a page of their own size, whatever the dock's size is."""
        fig = Figure(figsize=(7, 8), dpi=150, facecolor="white")
        draw_charts(fig, self.model.ws, self.n.value(), self.model.selected)
        fig.savefig(path)

    def export_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, T("export_png"), "diagram.png", "PNG (*.png)")
        if path:
            self.export(path)
