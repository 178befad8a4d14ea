"""Info dock (identify): what is at the clicked point in every visible layer, and why a unit ranks
where it does: raw value, normalised value, weight and contribution per indicator."""

from __future__ import annotations

import html

import numpy as np
import shapely
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtWidgets import QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from skikt.layers.exclusions import unit_exclusion_note
from skikt.layers.sectors import SECTORS
from skikt.layers.style import fmt_number

from ..i18n import T, language
from ..places import unit_title
from .common import font_points, on_screen, screen_dpi, wrapped


def identify_features(ws, x: float, y: float, tolerance: float, max_rows: int = 5) -> list[tuple[str, list[dict]]]:
    """Features of visible layers at (x, y): polygons containing it, points and lines within tolerance."""
    out = []
    pt = shapely.points(x, y)
    for spec in ws.project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None or lay.geo is None or not spec.visible or len(lay.geo) == 0:
            continue
        geo = lay.geo
        hits = geo.sindex.query(pt.buffer(tolerance), predicate="intersects")
        if len(hits) == 0:
            continue
        d = shapely.distance(geo.geometry.to_numpy()[hits], pt)
        hits = hits[np.argsort(d)][:max_rows]
        rows = geo.iloc[hits].drop(columns=geo.geometry.name).to_dict("records")
        out.append((spec.title, rows))
    return out


def explain_unit(ws, i: int) -> list[dict]:
    """Per indicator: title, sector, raw value and unit, normalised value, weight share, contribution."""
    c = ws.composite
    contrib = c.contributions(i)
    shares = c.shares
    rows = []
    for j, lid in enumerate(ws.normalised.layer_ids):
        spec = ws.project.layer(lid)
        raw = ws._raw[lid][1]
        rows.append({"id": lid, "title": spec.title, "sector": spec.sector, "raw": float(raw.values[i]),
                     "raw_unit": raw.unit, "norm": float(ws.normalised.norm[j, i]), "weight": spec.indicator.weight,
                     "share": float(shares[j]), "contribution": float(contrib[j])})
    return rows


class InfoPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.figure = Figure(figsize=(3.2, 2.2), dpi=screen_dpi(), facecolor="white", layout="constrained")
        self.chart = FigureCanvasQTAgg(self.figure)
        self.chart.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        # Tall enough for a handful of bars at the window's font size.
        self.chart.setFixedHeight(max(170, 12 * self.fontMetrics().height()))
        self.chart.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.chart)
        lay.addWidget(self.text, 1)
        self.text.setHtml(f"<p style='color:#666'>{T('click_map')}</p>")
        self._last = None
        model.composite_changed.connect(self.refresh)

    def refresh(self):
        if self._last is None:
            return
        if not on_screen(self):  # hidden behind the Charts tab: catch up when shown
            self._stale = True
            return
        self.identify(*self._last)

    def shown(self, visible: bool = True):
        """Connected to the dock's visibilityChanged: catch up on what happened while hidden."""
        if visible and getattr(self, "_stale", False):
            self._stale = False
            self.refresh()

    def identify(self, x: float, y: float, tolerance: float = 500.0):
        self._last = (x, y, tolerance)
        ws = self.model.ws
        parts = []
        unit = ws.units.unit_at(x, y) if ws.units is not None else None
        excluded_note = self._exclusion_note(unit)
        if excluded_note:
            parts.append(self._excluded_html(unit, excluded_note))
            self.chart.hide()
        elif unit is not None and ws.composite is not None and not np.isnan(ws.composite.score[unit]):
            parts.append(self._unit_html(unit))
            self._draw_chart(unit)
        else:
            self.chart.hide()
        self.model.select_unit(unit)
        for title, rows in identify_features(ws, x, y, tolerance):
            parts.append(f"<h4 style='margin-bottom:2px'>{html.escape(title)}</h4>")
            for r in rows:
                cells = "".join(f"<tr><td style='color:#555;padding-right:8px'>{html.escape(str(k))}</td>"
                                f"<td>{html.escape(_fmt(v))}</td></tr>" for k, v in r.items())
                parts.append(f"<table style='margin-bottom:6px'>{cells}</table>")
        if not parts:
            parts.append(f"<p>{T('no_features_here')}</p>")
        self.text.setHtml("".join(parts))

    def _exclusion_note(self, unit) -> str:
        """The constraint layer(s) that took this unit out of the score, or "" if it was not taken
        out: an excluded unit has no score, so there are no contributions to explain."""
        ws = self.model.ws
        if unit is None or ws.composite is None or not np.isnan(ws.composite.score[unit]):
            return ""
        return unit_exclusion_note(ws, unit, language())

    def _excluded_html(self, i: int, note: str) -> str:
        ws = self.model.ws
        title = unit_title(ws, i, language())
        cell_id = "" if title == ws.units.label(i) else (
            f"<span style='color:#777777'>{T('unit')} {html.escape(ws.units.label(i))}</span>")
        return (f"<h3 style='margin-bottom:2px'>{html.escape(title)}</h3>{cell_id}"
                f"<p>{html.escape(note)}</p>")

    def _unit_html(self, i: int) -> str:
        ws = self.model.ws
        c = ws.composite
        n_scored = int((c.cls > 0).sum())
        title = unit_title(ws, i, language())
        cell_id = "" if title == ws.units.label(i) else (
            f"<span style='color:#777777'>{T('unit')} {html.escape(ws.units.label(i))}</span>")
        head = (f"<h3 style='margin-bottom:2px'>{html.escape(title)}</h3>{cell_id}"
                f"<p><b>{T('score')}</b> {c.score[i]:.3f} &nbsp; <b>{T('rank')}</b> {c.rank[i]} {T('of')} {n_scored}"
                f" &nbsp; <b>{T('class')}</b> {c.cls[i]} &nbsp; <b>{T('overlap')}</b> {c.overlap[i]}</p>")
        # Title on its own row, figures below it: readable in a narrow dock.
        rows = "".join(
            f"<tr><td colspan='4'><span style='color:{SECTORS[r['sector']].colour}'>■</span> "
            f"<b>{html.escape(r['title'])}</b></td></tr>"
            f"<tr><td align='right'>{fmt_number(r['raw'])} {html.escape(r['raw_unit'])}</td>"
            f"<td align='right'>{_norm_text(r['norm'])}</td>"
            f"<td align='right'>{r['share']:.0%}</td><td align='right'>{r['contribution']:.3f}</td></tr>"
            for r in explain_unit(ws, i))
        return (head + f"<table cellspacing='3' width='100%'><tr style='color:#555'><th align='right'>{T('raw')}</th>"
                f"<th align='right'>{T('normalised')}</th><th align='right'>{T('weight')}</th>"
                f"<th align='right'>{T('contribution')}</th></tr>{rows}</table>")

    def _draw_chart(self, i: int):
        rows = explain_unit(self.model.ws, i)
        self.figure.clear()
        fs = font_points()
        ax = self.figure.add_subplot()
        y = np.arange(len(rows))[::-1]
        ax.barh(y, [r["contribution"] for r in rows], color=[SECTORS[r["sector"]].colour for r in rows],
                edgecolor="#333333", linewidth=0.5)
        ax.set_yticks(y, [wrapped(r["title"], 22) for r in rows], fontsize=fs * 0.85)
        ax.tick_params(axis="x", labelsize=fs * 0.85)
        ax.set_xlabel(T("contribution"), fontsize=fs * 0.85)
        ax.spines[["top", "right"]].set_visible(False)
        self.chart.show()
        self.chart.draw_idle()


def _norm_text(v: float) -> str:
    return "–" if np.isnan(v) else f"{v:.2f}"


def _fmt(v) -> str:
    if isinstance(v, float):
        return fmt_number(v)
    return "–" if v is None else str(v)
