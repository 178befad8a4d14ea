"""Outputs: score tables (GeoPackage, CSV) and composed map pages (PNG, PDF, SVG)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from matplotlib.text import Text

from .output import _atomic, write_scores  # noqa: F401  (write_scores re-exported for callers)
from .i18n import tr
from .safe_write import check_output_path, check_page, refuse_input_overwrite
from .render import (LegendEntry, add_north_arrow, add_scalebar, draw_basemap, draw_layer, draw_priority,
                     priority_legend)
from .style import Style
from .workspace import Workspace


# ------------------------------------------------------------------------------------------------
# The map itself, shared by exports and the app's canvas


def base_layers(ws: Workspace):
    """(counties, municipalities) from the project's reference layers, for the quiet base map."""
    counties = municipalities = None
    for spec in ws.project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None or spec.sector != "reference" or lay.geo is None:
            continue
        name = (spec.layer or spec.id).lower()
        if counties is None and name in ("lan", "län", "counties"):
            counties = lay.geo
        elif municipalities is None and name in ("kommuner", "municipalities"):
            municipalities = lay.geo
    return counties, municipalities


def _in_units(ws: Workspace, frame):
    """Which features' inner points lie in the study area (their names are placed first)."""
    if frame is None or ws.units is None:
        return None
    return ws.units.contains(shapely.get_coordinates(shapely.point_on_surface(frame.geometry.to_numpy())))


def layer_title(spec, meta, lang: str) -> str:
    return f"{spec.title} ({tr('illustrative', lang)})" if meta.illustrative else spec.title


def draw_project(ax, ws: Workspace, *, lang: str = "sv", composite: bool = True, simplify: float | None = None,
                 labels: bool = True) -> list[tuple[str, list[LegendEntry]]]:
    """Everything visible in the project onto ``ax``; returns legend sections (title, entries)."""
    sections = []
    counties, municipalities = base_layers(ws)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    if composite and ws.composite is not None:
        draw_priority(ax, ws.units, ws.composite.cls, ws.composite.k)
        sections.append((tr("priority_map", lang), priority_legend(ws.composite.k, lang)))
    px = simplify or (x1 - x0) / 1000
    draw_basemap(ax, counties, municipalities, view=(x0, x1, y0, y1), labels=labels, simplify=simplify,
                 min_label_area=(45 * px) ** 2, halo=True, prefer=_in_units(ws, municipalities))
    z = 3.0
    for spec in reversed(ws.project.layers):  # the first layer in the list is drawn on top
        lay = ws.layers.get(spec.id)
        if lay is None or not spec.visible or lay.geo is None:
            continue
        if spec.sector == "reference" and (lay.geo is counties or lay.geo is municipalities):
            continue
        _, entries = draw_layer(ax, lay.geo, Style.from_dict(spec.style), spec.sector, alpha=spec.opacity,
                                zorder=z, simplify=simplify, lang=lang)
        z += 1
        sections.append((layer_title(spec, lay.meta, lang), entries))
    sections.reverse()
    if sections and composite and ws.composite is not None:
        sections.insert(0, sections.pop())  # the priority map's classes first
    return sections


def legend_handles(sections) -> list:
    handles = []
    for title, entries in sections:
        if len(entries) == 1 and not entries[0].label:
            entries = [LegendEntry(title, entries[0].kind, entries[0].colour, entries[0].marker)]
        else:
            handles.append(Patch(facecolor="none", edgecolor="none", label=title))
        for e in entries:
            label = e.label or ""
            if e.kind == "point":
                handles.append(Line2D([], [], marker=e.marker, linestyle="none", markerfacecolor=e.colour,
                                      markeredgecolor="#333333", markersize=8, label=label or "—"))
            elif e.kind == "line":
                handles.append(Line2D([], [], color=e.colour, linewidth=2.5, label=label or "—"))
            else:
                handles.append(Patch(facecolor=e.colour, edgecolor="#444444", linewidth=0.5, label=label or "—"))
    return handles


def attribution(ws: Workspace, lang: str = "sv") -> str:
    seen = []
    illustrative = False
    for spec in ws.project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None:
            continue
        illustrative |= bool(lay.meta.illustrative)
        if lay.meta.illustrative:
            continue
        text = "; ".join(x for x in (lay.meta.source, lay.meta.licence) if x)
        if text and text not in seen:
            seen.append(text)
    if not seen:
        seen.append("SCB, digitala gränser 2024 (CC0)")
    out = f"{tr('attribution', lang)}: " + " · ".join(seen)
    if illustrative:
        out += "\n" + tr("illustrative_note", lang)
    return out


def study_extent(ws: Workspace, pad: float = 0.03):
    if ws.units is not None and ws.units.kind == "areas":
        b = ws.units.areas.total_bounds
    elif ws.units is not None:
        c, half = ws.units.centres, ws.units.grid.cell / 2
        b = np.array([c[:, 0].min() - half, c[:, 1].min() - half, c[:, 0].max() + half, c[:, 1].max() + half])
    else:
        # Before the units exist (the app draws the layers first): the study area, else everything.
        try:
            study = ws.study_area_geometries()
        except Exception:  # not loaded yet, or a bad filter that the full run will report
            study = None
        if study is not None and len(study):
            b = shapely.total_bounds(study)
        else:
            # list() copies in one step: the worker may be adding layers while the app asks.
            frames = [lay.geo for lay in list(ws.layers.values()) if lay.geo is not None and len(lay.geo)]
            if not frames:
                return (0, 1, 0, 1)
            tb = np.array([f.total_bounds for f in frames])
            b = np.array([tb[:, 0].min(), tb[:, 1].min(), tb[:, 2].max(), tb[:, 3].max()])
    w, h = b[2] - b[0], b[3] - b[1]
    m = max(w, h) * pad
    return (b[0] - m, b[2] + m, b[1] - m, b[3] + m)


def fit_aspect(extent, aspect: float):
    """Grow the extent so its width/height matches the axes' aspect (equal scale in x and y)."""
    x0, x1, y0, y1 = extent
    w, h = x1 - x0, y1 - y0
    if w / h < aspect:
        grow = (h * aspect - w) / 2
        return (x0 - grow, x1 + grow, y0, y1)
    grow = (w / aspect - h) / 2
    return (x0, x1, y0 - grow, y1 + grow)


MAP_FORMATS = (".png", ".pdf", ".svg")


def compose_map(ws: Workspace, out, *, title: str | None = None, size=(1600, 1000), dpi: int = 150,
                lang: str = "sv", composite: bool = True, extent=None) -> Path:
    """A complete map page: title, map, legend, scale bar, north arrow, attribution.

    ``extent`` (x0, x1, y0, y1) is the area to show, grown to the page's shape; by default the
    whole study area. The app passes the view on screen: what you see is what you export."""
    refuse_input_overwrite(ws.project, out)  # first: the most important thing to say about this path
    out = check_output_path(out, MAP_FORMATS, "oerr_map_format")
    ext = out.suffix.lower()
    w, h = size
    check_page(w, h, dpi)
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="white")
    ax = fig.add_axes([0.02, 0.08, 0.68, 0.79])
    map_px = (0.68 * w, 0.79 * h)
    ext_ = fit_aspect(extent if extent is not None else study_extent(ws), map_px[0] / map_px[1])
    ax.set_xlim(ext_[0], ext_[1])
    ax.set_ylim(ext_[2], ext_[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_color("#888888")
    sections = draw_project(ax, ws, lang=lang, composite=composite, simplify=(ext_[1] - ext_[0]) / map_px[0])
    ax.set_xlim(ext_[0], ext_[1])
    ax.set_ylim(ext_[2], ext_[3])
    add_scalebar(ax)
    add_north_arrow(ax)
    fig.text(0.02, 0.955, title or ws.project.title, fontsize=16, fontweight="bold", va="center", parse_math=False)
    if composite and ws.composite is not None:
        shares = ws.composite.shares
        parts = [f"{ws.project.layer(lid).title} {s:.0%}" for lid, s in zip(ws.normalised.layer_ids, shares) if s > 0]
        text = textwrap.fill(f"{tr('weights', lang)}: " + ", ".join(parts), width=int(w / 11))
        fig.text(0.02, 0.905, text, fontsize=7.5, color="#333333", va="center", parse_math=False)
    handles = legend_handles(sections)
    leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.72, 0.87), frameon=False,
                     fontsize=8, title=tr("legend", lang), title_fontsize=10, alignment="left")
    for text, handle in zip(leg.get_texts(), handles):
        if isinstance(handle, Patch) and handle.get_facecolor()[3] == 0:
            text.set_fontweight("bold")
    fig.text(0.02, 0.035, attribution(ws, lang), fontsize=7, color="#444444", va="center", parse_math=False)
    plain_text(fig)
    return _atomic(out, lambda p: fig.savefig(p, dpi=dpi, format=ext[1:]), ws.project)


def plain_text(fig) -> None:
    """Draw every text on the page as written. Titles, layer names and place names come from users'
    files; matplotlib would otherwise typeset "$5 och $10" as mathematics (or fail on a lone $)."""
    for text in fig.findobj(Text):
        text.set_parse_math(False)
