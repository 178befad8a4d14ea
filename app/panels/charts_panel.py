"""Charts dock: the top units by score as stacked sector contributions, and the selected unit's profile."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from skikt.layers.sectors import SECTORS

from ..i18n import T, language
from ..places import unit_titles
from .common import font_points, on_screen, screen_dpi, scrolling, wrapped


def top_units(ws, n: int) -> np.ndarray:
    score = ws.composite.score
    ok = np.flatnonzero(~np.isnan(score))
    if len(ok) == 0:
        return ok
    k = min(n, len(ok))
    top = ok[np.argpartition(-score[ok], k - 1)[:k]]
    return top[np.argsort(-score[top])]


def draw_top(ax, ws, n: int = 10, fs: float = 9.0) -> None:
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
    ax.set_yticks(y, [wrapped(t, 26) for t in unit_titles(ws, units, language())], fontsize=fs * 0.9)
    ax.set_title(T("top_units"), fontsize=fs, loc="left")
    ax.tick_params(axis="x", labelsize=fs * 0.9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=fs * 0.85, loc="upper left", bbox_to_anchor=(0.0, -0.08), ncol=2, frameon=False,
              handlelength=1, columnspacing=0.8)


def draw_profile(ax, ws, i: int | None, fs: float = 9.0) -> None:
    ax.set_title(T("unit_profile"), fontsize=fs, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    if i is None or ws.normalised is None:
        ax.text(0.5, 0.5, T("click_map"), ha="center", va="center", fontsize=fs, color="#666666",
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
    ax.set_xticks(x, [wrapped(ws.project.layer(lid).title, 16) for lid in ids], rotation=40, ha="right",
                  fontsize=fs * 0.85)
    ax.tick_params(axis="y", labelsize=fs * 0.9)
    ax.set_ylabel(T("normalised"), fontsize=fs * 0.9)
    ax.set_title(wrapped(f"{T('unit_profile')}: {unit_titles(ws, [i], language())[0]}", 48), fontsize=fs, loc="left")


def draw_charts(fig, ws, n: int, selected: int | None, fs: float | None = None) -> None:
    """Both charts; the constrained layout makes room for labels of any length and font size."""
    fs = font_points() if fs is None else fs
    fig.set_layout_engine("constrained")
    top, profile = fig.subplots(2, 1, height_ratios=[3, 2])
    draw_top(top, ws, n, fs)
    draw_profile(profile, ws, selected, fs)


class ChartsPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.figure = Figure(figsize=(4, 5), dpi=screen_dpi(), facecolor="white")
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
        # Never squeezed below what the labels need at the window's font size: the dock scrolls.
        self.canvas.setMinimumHeight(30 * self.fontMetrics().height())
        lay.addWidget(scrolling(self.canvas), 1)
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
        draw_charts(fig, self.model.ws, self.n.value(), self.model.selected, fs=9.0)
        fig.savefig(path)

    def export_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, T("export_png"), T("export_chart_name"), "PNG (*.png)")
        if path:
            self.export(path)
