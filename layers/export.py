"""Outputs: score tables (GeoPackage, CSV) and composed map pages (PNG, PDF, SVG)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from matplotlib.text import Text
from .output import _atomic, write_scores  # noqa: F401  (write_scores re-exported for callers)
from .i18n import tr
from .composite import combine
from .safe_write import PAPERS, check_output_path, check_page, refuse_input_overwrite
from .exclusions import excluding_titles
from .render import (EXCLUDED_LINE, LegendEntry, add_north_arrow, add_scalebar, draw_basemap, draw_exclusions,
                     draw_layer, draw_priority, exclusion_legend, priority_legend)
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
                 labels: bool = True, project=None, result=None) -> list[tuple[str, list[LegendEntry]]]:
    """Everything visible in the project onto ``ax``; returns legend sections (title, entries).

    ``project`` (default ``ws.project``) says which layers are visible, ``result`` (default
    ``ws.composite``) which priority classes to draw: a saved view or a scenario passes its own,
    and the workspace is left as it was."""
    project = project if project is not None else ws.project
    result = result if result is not None else ws.composite
    sections = []
    counties, municipalities = base_layers(ws)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    if composite and result is not None:
        draw_priority(ax, ws.units, result.cls, result.k)
        sections.append((tr("priority_map", lang), priority_legend(result.k, lang)))
        sections += _exclusions(ax, ws, lang)
    head = len(sections)  # the priority map's sections, listed before the layers'
    px = simplify or (x1 - x0) / 1000
    draw_basemap(ax, counties, municipalities, view=(x0, x1, y0, y1), labels=labels, simplify=simplify,
                 min_label_area=(45 * px) ** 2, halo=True, prefer=_in_units(ws, municipalities))
    z = 3.0
    for spec in reversed(project.layers):  # the first layer in the list is drawn on top
        lay = ws.layers.get(spec.id)
        if lay is None or not spec.visible or lay.geo is None:
            continue
        if spec.sector == "reference" and (lay.geo is counties or lay.geo is municipalities):
            continue
        art, entries = draw_layer(ax, lay.geo, Style.from_dict(spec.style), spec.sector, alpha=spec.opacity,
                                  zorder=z, simplify=simplify, lang=lang)
        if composite and result is not None:
            _outline_over_priority(art, entries, spec)
        z += 1
        sections.append((layer_title(spec, lay.meta, lang), entries))
    sections.reverse()
    if sections and composite and result is not None:
        # The priority map's classes first, then the line that says why hatched units have none.
        sections[:0] = sections[-head:][::-1]
        del sections[-head:]
    return sections


def _exclusions(ax, ws: Workspace, lang: str) -> list:
    """The units removed by role = "exclude" layers hatched over the priority map, and their
    legend section; nothing when no unit is excluded."""
    excluded = ws.excluded_by
    if excluded is None or ws.units is None or len(excluded) != ws.units.n:
        return []
    titles = excluding_titles(ws.project, excluded)
    if not titles:
        return []
    draw_exclusions(ax, ws.units, excluded != "")
    return [exclusion_legend(titles, lang)]


def _outline_over_priority(art, entries, spec) -> None:
    """As in the app: a single-colour area layer over the priority map would blend with the class
    colours into colours that read as another class (light-blue water zones turn red cells
    purple), so on a page with the priority map it is drawn as an outline in its colour."""
    from matplotlib.collections import Collection, LineCollection

    if (art is None or not isinstance(art, Collection) or isinstance(art, LineCollection)
            or not any(e.kind == "polygon" for e in entries) or (spec.style or {}).get("mode", "single") != "single"):
        return
    art.set_facecolor("none")
    art.set_linewidth(np.maximum(art.get_linewidth(), 1.6))


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
            elif e.kind == "hatch":
                handles.append(Patch(facecolor=e.colour, edgecolor=e.edge or EXCLUDED_LINE, linewidth=0.5,
                                     hatch="////", label=label or "—"))
            else:
                handles.append(Patch(facecolor=e.colour, edgecolor="#444444", linewidth=0.5, label=label or "—"))
    return handles


def shown_layers(ws: Workspace, project=None, composite: bool = True) -> list:
    """The layers a page draws from, in project order: visible layers, the reference layers of the
    base map, and (with the priority map) every indicator whose weight counts, shown or not."""
    project = project if project is not None else ws.project
    counties, municipalities = base_layers(ws)
    out = []
    for spec in project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None:
            continue
        weighted = composite and spec.indicator is not None and spec.indicator.weight > 0
        base = lay.geo is not None and (lay.geo is counties or lay.geo is municipalities)
        if spec.visible or weighted or base:
            out.append((spec, lay.meta))
    return out


def attribution_lines(ws: Workspace, lang: str = "sv", project=None, composite: bool = True) -> list[str]:
    """One line per source of the layers shown: "Title · Title: source, licence". Layers that
    share a source share its line; a layer without one says so, and illustrative layers are marked."""
    credits: dict[str, list[str]] = {}
    illustrative = False
    for spec, meta in shown_layers(ws, project, composite):
        credit = ", ".join(x.strip() for x in (meta.source, meta.licence) if x and x.strip())
        credits.setdefault(credit or tr("page_no_source", lang), []).append(layer_title(spec, meta, lang) or spec.id)
        illustrative |= bool(meta.illustrative)
    lines = [f"{' · '.join(titles)}: {credit}" for credit, titles in credits.items()]
    if illustrative:
        lines.append(tr("illustrative_note", lang))
    return lines


def attribution(ws: Workspace, lang: str = "sv") -> str:
    return f"{tr('attribution', lang)}: " + "\n".join(attribution_lines(ws, lang))


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
SCREEN_PAGE = (1600, 1000)  # pixels: a PNG or SVG without --paper or --size
MM_PER_INCH = 25.4
A4_INCHES = (PAPERS["A4"][0] / MM_PER_INCH, PAPERS["A4"][1] / MM_PER_INCH)


# ------------------------------------------------------------------------------------------------
# The sheet


@dataclass(frozen=True)
class PageSpec:
    """The sheet a page is drawn on: a paper size (ISO 216) either way round, or a screen size in
    pixels (``paper=None``). ``dpi`` sets the pixels of a PNG and of the map image in a PDF/SVG."""

    paper: str | None = "A4"
    landscape: bool = True
    dpi: int = 150
    size: tuple[int, int] | None = None

    @classmethod
    def for_output(cls, out, *, paper: str | None = None, landscape: bool = True, dpi: int = 150,
                   size=None) -> "PageSpec":
        """A PDF is printed: A4 unless told otherwise. A PNG or SVG is screen-sized unless a paper
        is named."""
        if paper is None and size is None:
            if Path(out).suffix.lower() == ".pdf":
                paper = "A4"
            else:
                size = SCREEN_PAGE
        return cls(paper=paper, landscape=landscape, dpi=dpi, size=None if paper else tuple(size))

    @property
    def inches(self) -> tuple[float, float]:
        if self.paper is None:
            return self.size[0] / self.dpi, self.size[1] / self.dpi
        w, h = PAPERS[self.paper]
        if not self.landscape:
            w, h = h, w
        return w / MM_PER_INCH, h / MM_PER_INCH

    @property
    def pixels(self) -> tuple[int, int]:
        if self.paper is None:
            return tuple(self.size)
        w, h = self.inches
        return round(w * self.dpi), round(h * self.dpi)

    def figsize(self, raster: bool) -> tuple[float, float]:
        """Raster pages: whole pixels (A4 at 300 dpi is 3508×2480 exactly). Vector pages: the paper."""
        if raster:
            return self.pixels[0] / self.dpi, self.pixels[1] / self.dpi
        return self.inches


@dataclass
class PageContent:
    """What one page shows: the layers' visibility (``project``), the priority classes, the area,
    and its texts."""

    project: object
    result: object
    extent: tuple | None
    title: str
    subtitle: str
    notes: str = ""
    scenario: str | None = None


# ------------------------------------------------------------------------------------------------
# Saved views ([[views]], layers/views.py)


def project_views(project) -> list:
    """The project's saved views in file order, checked."""
    from .views import read_views

    return read_views(project)


def project_view(project, name: str):
    """The saved view called ``name``; a name the project lacks is one line listing the known ones."""
    from .views import find_view

    return find_view(project, name)


def page_content(ws: Workspace, *, view=None, scenario: str | None = None, title: str | None = None,
                 subtitle: str | None = None, composite: bool = True, extent=None,
                 lang: str = "sv") -> PageContent:
    """The page for ``view`` (its extent, layers, scenario, title, subtitle, notes), with
    ``scenario`` (it wins over the view's) and ``title``/``subtitle`` (they win over the view's)."""
    project, notes, view_scenario = ws.project, "", None
    if view is not None:
        from .views import apply_view

        project, view_extent = apply_view(ws.project, view)
        extent = extent if extent is not None else _xy_extent(view_extent)
        notes, view_scenario = (view.notes or "").strip(), view.scenario
    name = scenario or view_scenario
    result = ws.composite
    if name:
        from .scenarios import scenario_weights

        # The scenario's weights over the project's own (not over another scenario a view chose);
        # "-" is the project's own weights, as in compare.
        weights = scenario_weights(ws.project, name)
        name = None if name.strip() == "-" else name
        project = project.copy() if project is ws.project else project
        for spec in project.indicator_layers():
            spec.indicator.weight = weights.get(spec.id, spec.indicator.weight)
        if ws.normalised is not None:
            result = combine(ws.normalised, [weights.get(lid, 0.0) for lid in ws.normalised.layer_ids],
                             ws.project.units.classes)
    if view is not None:
        title = title or view.title or view.name
        subtitle = subtitle or view.subtitle
    if not subtitle and composite and result is not None:
        subtitle = tr("page_scenario", lang).format(name=name) if name else tr("page_project_weights", lang)
    return PageContent(project, result if composite else None, extent, title or ws.project.title,
                       subtitle or "", notes, name)


def _xy_extent(view_extent):
    """A view's [xmin, ymin, xmax, ymax] as the (x0, x1, y0, y1) the drawing code uses."""
    if view_extent is None:
        return None
    xmin, ymin, xmax, ymax = view_extent
    return (xmin, xmax, ymin, ymax)


# ------------------------------------------------------------------------------------------------
# Text that fits: every text on a page is measured with the renderer that draws it and wrapped,
# then shrunk, until it lies inside its panel. Nothing is ever clipped.

FLOOR_PT = 3.5  # below this a line is truncated with "…" rather than shrunk further
SLACK = 0.98  # PDF and SVG measure glyphs a hair differently from Agg


_ADVANCE: dict = {}  # (text, weight, style, family) → width in points per point of font size


def _width(renderer, text: str, prop) -> float:
    """Width of one line in pixels. Measured once per word and font at 100 pt and scaled (glyph
    advances grow with the size); the placed text is measured exactly afterwards."""
    key = (text, str(prop.get_weight()), prop.get_style(), tuple(prop.get_family()))
    per_pt = _ADVANCE.get(key)
    if per_pt is None:
        big = prop.copy()
        big.set_size(100)
        w, _, _ = renderer.get_text_width_height_descent(text, big, ismath=False)
        per_pt = _ADVANCE[key] = w * 72 / renderer.dpi / 100
    return per_pt * prop.get_size_in_points() * renderer.dpi / 72


def wrap_to_width(text: str, prop, renderer, width: float) -> str:
    """Greedy word wrap to ``width`` pixels, measured; a word wider than a line is cut."""
    space = _width(renderer, " ", prop)
    lines = []
    for para in str(text).split("\n"):
        line, line_w = [], 0.0
        for word in para.split():
            word_w = _width(renderer, word, prop)
            if word_w > width:
                if line:
                    lines.append(" ".join(line))
                pieces = _cut(renderer, word, prop, width)
                lines += pieces[:-1]
                line, line_w = [pieces[-1]], _width(renderer, pieces[-1], prop)
                continue
            if line and line_w + space + word_w > width:
                lines.append(" ".join(line))
                line, line_w = [], 0.0
            line_w = line_w + space + word_w if line else word_w
            line.append(word)
        lines.append(" ".join(line))
    return "\n".join(lines)


def _cut(renderer, word: str, prop, width: float) -> list[str]:
    """A word in pieces no wider than ``width`` (at least one character each)."""
    pieces, piece, piece_w = [], "", 0.0
    for ch in word:
        ch_w = _width(renderer, ch, prop)
        if piece and piece_w + ch_w > width:
            pieces.append(piece)
            piece, piece_w = "", 0.0
        piece += ch
        piece_w += ch_w
    pieces.append(piece)
    return pieces


def _sizes(start: float, floor: float = FLOOR_PT):
    size = start
    while size > floor:
        yield size
        size *= 0.92
    yield floor


@dataclass(frozen=True)
class Panel:
    """A rectangle of the page in pixels (x0, y0 bottom left)."""

    name: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def fraction(self, fig) -> list[float]:
        W, H = fig.bbox.width, fig.bbox.height
        return [self.x0 / W, self.y0 / H, self.width / W, self.height / H]

    def holds(self, bbox, tolerance: float = 0.5) -> bool:
        return (bbox.x0 >= self.x0 - tolerance and bbox.x1 <= self.x1 + tolerance
                and bbox.y0 >= self.y0 - tolerance and bbox.y1 <= self.y1 + tolerance)


def fit_text(fig, renderer, panel: Panel, text: str, size: float, *, ha: str = "left", va: str = "top",
             **kw) -> Text:
    """``text`` in ``panel``: wrapped to its width, shrunk until it fits its height; at the floor
    size, the lines that do not fit are dropped and the last one ends with "…"."""
    x = {"left": panel.x0, "right": panel.x1, "center": (panel.x0 + panel.x1) / 2}[ha]
    y = {"top": panel.y1, "bottom": panel.y0, "center": (panel.y0 + panel.y1) / 2}[va]
    t = fig.text(x / fig.bbox.width, y / fig.bbox.height, "", ha=ha, va=va, parse_math=False, fontsize=size,
                 multialignment=ha if ha != "center" else "center", **kw)
    t.skikt_panel = panel.name
    width, height = panel.width * SLACK, panel.height * SLACK
    for pt in _sizes(size):
        t.set_fontsize(pt)
        t.set_text(wrap_to_width(text, t.get_fontproperties(), renderer, width))
        box = t.get_window_extent(renderer)
        if box.width <= width and box.height <= height:
            return t
    lines = t.get_text().split("\n")
    while len(lines) > 1:
        lines = lines[:-2] + [lines[-2].rstrip() + " …"]
        t.set_text("\n".join(lines))
        if t.get_window_extent(renderer).height <= height:
            return t
    return t


def fit_legend(fig, renderer, panel: Panel, sections, title: str, size: float, min_size: float):
    """The legend in ``panel``: labels wrapped to the column width and shrunk (see
    :func:`_legend_tries`); when even the smallest type does not fit, the last entries give way
    to "…". Returns (legend, whether everything fitted)."""
    handles = legend_handles(sections)
    for ncols, pt in _legend_tries(fig, renderer, panel, size, min_size):
        leg = _legend(fig, renderer, panel, handles, title, pt, ncols)
        if _inside(leg, renderer, panel):
            return leg, True
        leg.remove()
    ncols = 2 if _column_width(fig, panel, FLOOR_PT, 2) >= 12 * _width(renderer, "M", FontProperties(size=FLOOR_PT)) else 1
    for keep in range(len(handles) - 1, 0, -1):
        more = Patch(facecolor="none", edgecolor="none", label="…")
        leg = _legend(fig, renderer, panel, handles[:keep] + [more], title, FLOOR_PT, ncols)
        if _inside(leg, renderer, panel):
            return leg, False
        leg.remove()
    return _legend(fig, renderer, panel, [], title, FLOOR_PT, 1), False


def _inside(leg, renderer, panel: Panel) -> bool:
    box = leg.get_window_extent(renderer)
    return box.width <= panel.width * SLACK and box.height <= panel.height * SLACK


def _legend_tries(fig, renderer, panel: Panel, size: float, min_size: float):
    """One column down to ``min_size``; then two columns (where a column still holds a dozen
    characters) from ``size`` down, and one column below ``min_size``."""
    for pt in _sizes(size, min_size):
        yield 1, pt
    for pt in _sizes(size):
        em = _width(renderer, "M", FontProperties(size=pt))
        if _column_width(fig, panel, pt, 2) >= 12 * em:
            yield 2, pt
        if pt < min_size:
            yield 1, pt


def _column_width(fig, panel: Panel, pt: float, ncols: int) -> float:
    """What a row's text may take: the column less the handle, the gap to the text and the border."""
    pad_px = pt * fig.dpi / 72
    return panel.width * SLACK / ncols - pad_px * (2.0 + 0.8 + 2 * 0.4) - (ncols - 1) * 2.0 * pad_px


def _legend(fig, renderer, panel: Panel, handles, title: str, pt: float, ncols: int):
    bold = [isinstance(h, Patch) and h.get_facecolor()[3] == 0 and h.get_label() != "…" for h in handles]
    prop = FontProperties(size=pt, weight="bold")
    width = max(_column_width(fig, panel, pt, ncols), pt * fig.dpi / 72)
    wrapped = [wrap_to_width(h.get_label(), prop, renderer, width) for h in handles]
    leg = fig.legend(handles=handles, labels=wrapped, loc="upper left",
                     bbox_to_anchor=(panel.x0 / fig.bbox.width, panel.y1 / fig.bbox.height),
                     borderaxespad=0, frameon=False, fontsize=pt, title=title, title_fontsize=pt * 1.2,
                     alignment="left", ncols=ncols)
    for text, is_title in zip(leg.get_texts(), bold):
        if is_title:
            text.set_fontweight("bold")
    for text in leg.get_texts() + [leg.get_title()]:
        text.set_parse_math(False)
        text.skikt_panel = panel.name
    return leg


# ------------------------------------------------------------------------------------------------
# The page


def _page_scale(w_in: float, h_in: float) -> float:
    """Type grows with the sheet: 1 on A4, √2 on A3, never below 0.7 (a small PNG stays legible)."""
    return float(np.clip(min(w_in / A4_INCHES[0], h_in / A4_INCHES[1]), 0.7, 2.5))


@dataclass(frozen=True)
class Spacing:
    margin: float  # pixels around the page
    gap: float  # pixels between panels
    body_top: float  # the header's lower edge


def _layout(fig, scale: float) -> tuple[dict[str, Panel], Spacing]:
    """The header's panels (title, subtitle; the project and date on the right) in pixels. The
    footer, notes, map and legend are placed later, from the bottom up, by what they hold."""
    W, H = fig.bbox.width, fig.bbox.height
    px = fig.dpi * scale  # one inch of A4-equivalent page
    m = 0.3 * px
    gap = 0.12 * px
    title_h, subtitle_h = 0.42 * px, 0.36 * px
    top = H - m
    left_w = (W - 2 * m) * 0.64  # the title's share; the project and date take the rest
    panels = {
        "title": Panel("title", m, top - title_h, m + left_w, top),
        "subtitle": Panel("subtitle", m, top - title_h - subtitle_h, m + left_w, top - title_h),
        "made": Panel("made", m + left_w + gap, top - title_h - subtitle_h, W - m, top),
    }
    return panels, Spacing(m, gap, top - title_h - subtitle_h - gap)


def _stack_bottom(fig, renderer, panels, spacing: Spacing, scale, lines, notes, lang):
    """Fit the footer (and notes) from the bottom up; return the body's lower edge."""
    W, H = fig.bbox.width, fig.bbox.height
    m, gap = spacing.margin, spacing.gap
    footer = panels["footer"] = Panel("footer", m, m, W - m, m + 0.2 * H)
    text = fit_text(fig, renderer, footer, "\n".join(lines), 6.5 * scale, va="bottom", color="#333333")
    used = text.get_window_extent(renderer).height
    bottom = m + used + gap
    if notes:
        band = Panel("notes", m, bottom, W - m, bottom + 0.22 * H)
        heading = fit_text(fig, renderer, band, tr("page_notes", lang), 8 * scale, va="top", fontweight="bold")
        head_h = heading.get_window_extent(renderer).height + 0.3 * gap
        body = Panel("notes", m, bottom, W - m, band.y1 - head_h)
        note = fit_text(fig, renderer, body, notes, 8 * scale, va="top", color="#222222")
        used = note.get_window_extent(renderer).height + head_h
        # Move the band down against the footer: the notes take only the height they need.
        shift = band.height - used
        for t in (heading, note):
            x, y = t.get_position()
            t.set_position((x, y - shift / H))
        panels["notes"] = Panel("notes", m, bottom, W - m, bottom + used)
        bottom += used + gap
    return bottom


def _weights_text(ws: Workspace, content: PageContent, lang: str) -> str:
    if content.result is None or ws.normalised is None:
        return ""
    titles = {spec.id: spec.title or spec.id for spec in ws.project.layers}
    parts = [f"{titles.get(lid, lid)} {share:.0%}" for lid, share in zip(ws.normalised.layer_ids, content.result.shares)
             if share > 0]
    return f"{tr('weights', lang)}: " + ", ".join(parts)


def compose_figure(ws: Workspace, page: PageSpec, content: PageContent, *, lang: str = "sv",
                   day: str | None = None, raster: bool = True, notes: bool = False) -> Figure:
    """One page as a matplotlib figure (what :func:`compose_map` saves; the app can preview it).

    Every text is a ``Text`` with ``skikt_panel`` naming its panel, and ``fig.skikt_panels`` holds
    the panels, so a test can check that nothing crosses its panel or the page."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=page.figsize(raster), dpi=page.dpi, facecolor="white")
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    w_in, h_in = page.inches
    scale = _page_scale(w_in, h_in)
    panels, spacing = _layout(fig, scale)
    fit_text(fig, renderer, panels["title"], content.title, 18 * scale, va="top", fontweight="bold")
    if content.subtitle:
        fit_text(fig, renderer, panels["subtitle"], content.subtitle, 10.5 * scale, va="top", color="#333333")
    made = tr("page_made", lang).format(project=ws.project.title, day=day or date.today().isoformat())
    fit_text(fig, renderer, panels["made"], made, 8 * scale, ha="right", va="top", color="#555555")
    lines = attribution_lines(ws, lang, content.project, content.result is not None) or [tr("page_no_source", lang)]
    lines[0] = f"{tr('attribution', lang)}: {lines[0]}"
    bottom = _stack_bottom(fig, renderer, panels, spacing, scale, lines, content.notes if notes else "", lang)
    _body(fig, renderer, ws, panels, spacing, bottom, scale, content, lang, w_in >= h_in)
    plain_text(fig)
    fig.skikt_panels = panels
    return fig


def _body(fig, renderer, ws, panels, spacing: Spacing, bottom, scale, content, lang, landscape):
    """The map beside the legend (landscape), or above it (portrait: the legend takes the height
    it needs, at most a third, and the map the rest)."""
    top, m, gap = spacing.body_top, spacing.margin, spacing.gap
    W = fig.bbox.width
    if landscape:
        split = m + (W - 2 * m) * 0.72
        panels["map"] = Panel("map", m, bottom, split, top)
        side = Panel("legend", split + gap, bottom, W - m, top)
    else:
        split = bottom + (top - bottom) * 0.34
        panels["map"] = Panel("map", m, split + gap, W - m, top)
        side = Panel("legend", m, bottom, W - m, split)
    panels["legend"] = side
    ax, sections = _draw_map(fig, ws, panels["map"], scale, content, lang)
    used = _legend_and_weights(fig, renderer, ws, side, spacing, sections, scale, content, lang)
    if not landscape and used < side.height - gap:
        # Give the room the legend left to the map: the map is drawn again at its final size.
        ax.remove()
        panels["legend"] = Panel("legend", m, bottom, W - m, bottom + used)
        panels["map"] = Panel("map", m, bottom + used + gap, W - m, top)
        _draw_map(fig, ws, panels["map"], scale, content, lang)


def _legend_and_weights(fig, renderer, ws, side: Panel, spacing: Spacing, sections, scale, content, lang) -> float:
    """The legend at the top of ``side`` and the weights line at its foot, pulled up under the
    legend; returns the height they take from ``side``'s bottom."""
    weights = _weights_text(ws, content, lang)
    title = tr("legend", lang)
    if weights:
        box = Panel("legend", side.x0, side.y0, side.x1, side.y0 + side.height * 0.3)
        text = fit_text(fig, renderer, box, weights, 7 * scale, va="bottom", color="#333333")
        text_h = text.get_window_extent(renderer).height
        legend_panel = Panel("legend", side.x0, side.y0 + text_h + spacing.gap, side.x1, side.y1)
        leg, whole = fit_legend(fig, renderer, legend_panel, sections, title, 8.5 * scale, 6.0)
        if whole:
            return _pull_up(fig, renderer, side, leg, text, spacing.gap)
        leg.remove()  # a small page: the legend matters more than the weights line
        text.remove()
    leg, _ = fit_legend(fig, renderer, side, sections, title, 8.5 * scale, 6.0)
    return _pull_up(fig, renderer, side, leg, None, spacing.gap)


def _pull_up(fig, renderer, side: Panel, leg, text, gap: float) -> float:
    """The height legend and weights line take from ``side``'s bottom. Under a portrait map the
    legend moves down onto the weights line, so the map can have the rest; beside a landscape
    map nothing moves."""
    used = leg.get_window_extent(renderer).height
    if text is not None:
        used += text.get_window_extent(renderer).height + gap
    if side.width > side.height:
        W, H = fig.bbox.width, fig.bbox.height
        leg.set_bbox_to_anchor((side.x0 / W, (side.y0 + used) / H), transform=fig.transFigure)
    return used


def _draw_map(fig, ws, panel: Panel, scale: float, content: PageContent, lang: str):
    """The map axes filling ``panel``; returns them and the legend sections of what they show."""
    ax = fig.add_axes(panel.fraction(fig))
    ext = fit_aspect(content.extent if content.extent is not None else study_extent(ws), panel.width / panel.height)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#888888")
    sections = draw_project(ax, ws, lang=lang, composite=content.result is not None,
                            simplify=(ext[1] - ext[0]) / panel.width, project=content.project, result=content.result)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    for art in add_scalebar(ax, fontsize=8 * scale) + add_north_arrow(ax):
        if isinstance(art, Text):
            art.skikt_panel = "map"
    return ax, sections


def compose_map(ws: Workspace, out, *, title: str | None = None, subtitle: str | None = None, size=None,
                dpi: int = 150, page: PageSpec | None = None, lang: str = "sv", composite: bool = True,
                extent=None, view=None, scenario: str | None = None, day: str | None = None) -> Path:
    """A complete map page: title, subtitle, map, legend, scale bar, north arrow, the project and
    date, and one attribution line per source of the layers shown.

    ``page`` is the sheet (default: A4 landscape for a PDF, ``size`` pixels, else 1600×1000, for a
    PNG/SVG). ``view`` is a saved view (its extent, layers, scenario and texts); ``extent``
    (x0, x1, y0, y1) the area to show, grown to the map's shape. The app passes the view on
    screen: what you see is what you export."""
    refuse_input_overwrite(ws.project, out)  # first: the most important thing to say about this path
    out = check_output_path(out, MAP_FORMATS, "oerr_map_format")
    page = page or PageSpec.for_output(out, dpi=dpi, size=size)
    check_page(*page.pixels, page.dpi, page.paper)
    content = page_content(ws, view=view, scenario=scenario, title=title, subtitle=subtitle,
                           composite=composite, extent=extent, lang=lang)
    ext = out.suffix.lower()
    fig = compose_figure(ws, page, content, lang=lang, day=day, raster=ext == ".png")
    return _atomic(out, lambda p: fig.savefig(p, dpi=page.dpi, format=ext[1:]), ws.project)


def compose_handout(ws: Workspace, out, views, *, page: PageSpec | None = None, lang: str = "sv",
                    composite: bool = True, scenario: str | None = None, title: str | None = None,
                    subtitle: str | None = None, day: str | None = None) -> Path:
    """A multi-page PDF: one page per saved view (its extent, layers, scenario, texts) with its
    speaker notes under the map."""
    from matplotlib.backends.backend_pdf import PdfPages

    refuse_input_overwrite(ws.project, out)
    out = check_output_path(out, (".pdf",), "oerr_map_format")
    page = page or PageSpec()
    check_page(*page.pixels, page.dpi, page.paper)
    figures = [compose_figure(ws, page, page_content(ws, view=v, scenario=scenario, title=title, subtitle=subtitle,
                                                       composite=composite, lang=lang),
                              lang=lang, day=day, raster=False, notes=True) for v in views]

    def save(path):
        with PdfPages(path, metadata={"Title": ws.project.title, "Creator": "Skikt"}) as pdf:
            for fig in figures:
                pdf.savefig(fig, dpi=page.dpi)

    return _atomic(out, save, ws.project)


def plain_text(fig) -> None:
    """Draw every text on the page as written. Titles, layer names and place names come from users'
    files; matplotlib would otherwise typeset "$5 och $10" as mathematics (or fail on a lone $)."""
    for text in fig.findobj(Text):
        text.set_parse_math(False)
