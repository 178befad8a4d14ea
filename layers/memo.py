"""The prioritisation memo ("Prioriteringsunderlag"): what the workshop decided, as a PDF for the board.

Pages (A4 landscape): 1. date, the groups and each group's weights beside the consensus and the
final weights, the short list; 2. the consensus map and the disagreement map; 3. the vote tally
and the comments; then the saved views as they stand, four small maps a page. Swedish by default.

Everything comes from the engine (group scores, composites) and the workshop GeoPackage, read
only; nothing a user wrote is typeset as mathematics (parse_math=False on every text).
"""

from __future__ import annotations

import io
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .composite import combine
from .errors import SkiktError
from .exclusions import excluding_titles
from .export import base_layers, fit_aspect, study_extent
from .groups import disagreement_map, group_scores, read_groups
from .i18n import tr
from .project import PROJECT_WEIGHTS
from .render import (EXCLUDED_FACE, EXCLUDED_LINE, add_scalebar, draw_basemap, draw_exclusions, draw_priority,
                     draw_unit_values, exclusion_legend, priority_legend)
from .safe_write import atomic_write, check_output_path, project_inputs, refuse_input_overwrite

PAGE = (11.69, 8.27)  # A4 landscape, inches
TOP_VOTES = 15
MAX_COMMENTS = 18
VIEWS_PER_PAGE = 4


# ------------------------------------------------------------------------------------------------
# Inputs


def _workspace(project_or_ws):
    from .project import Project
    from .workspace import Workspace

    ws = Workspace(project_or_ws) if isinstance(project_or_ws, Project) else project_or_ws
    if ws.normalised is None:
        ws.update(strict=True)
    return ws


def _store(project, store):
    """The workshop captures, if there are any: the given store, else the file beside the project
    (opened only when it exists, so writing a memo never creates one)."""
    if store is not None:
        return store, False
    from .captures import WorkshopStore, workshop_path

    try:
        path = workshop_path(project)
    except SkiktError:
        return None, False
    if not path.exists():
        return None, False
    return WorkshopStore(path, project.crs), True


class CaptureSnapshot:
    """The captures a memo reads, copied out of an open WorkshopStore: a memo written in another
    thread must not use the store's SQLite connection, which belongs to the thread that opened it
    (and goes on writing while the memo is drawn)."""

    def __init__(self, pins, areas, votes_tally, tally_by_group, log):
        self._pins, self._areas, self._log = pins, areas, log
        self._tally, self._tally_by_group = votes_tally, tally_by_group

    @classmethod
    def of(cls, store) -> "CaptureSnapshot":
        return cls(store.pins().copy(), store.areas().copy(), store.tally().copy(), store.tally(by_group=True).copy(),
                   store.decision_log().copy())

    def pins(self):
        return self._pins.copy()

    def areas(self):
        return self._areas.copy()

    def tally(self, by_group: bool = False):
        return (self._tally_by_group if by_group else self._tally).copy()

    def decision_log(self):
        return self._log.copy()

    def close(self) -> None:
        pass


def _views(project) -> list[dict]:
    """The saved views (views.read_views), as the few fields the memo draws."""
    from .views import read_views

    return [{"name": v.name, "title": v.title or v.name, "subtitle": v.subtitle or "", "extent": v.extent,
             "scenario": v.scenario} for v in read_views(project)]


# ------------------------------------------------------------------------------------------------
# Drawing helpers


def _plain_text(fig) -> None:
    """Every text as written, tick labels and legends included: names come from users' files, and
    matplotlib would typeset "$5 och $10" as mathematics."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)


def _text(fig_or_ax, x, y, s, **kw):
    kw.setdefault("parse_math", False)
    return fig_or_ax.text(x, y, s, **kw)


def _page(title: str, lang: str, project_title: str, day: str) -> Figure:
    fig = Figure(figsize=PAGE, facecolor="white")
    _text(fig, 0.04, 0.955, title, fontsize=18, fontweight="bold", va="center")
    _text(fig, 0.96, 0.955, f"{project_title} · {tr('memo_date', lang)} {day}", fontsize=9, color="#444444",
          ha="right", va="center")
    return fig


def _map_axes(fig, rect, ws):
    ax = fig.add_axes(rect)
    w_in, h_in = rect[2] * PAGE[0], rect[3] * PAGE[1]
    return ax, w_in / h_in


def _frame_map(ax, aspect: float, ws, extent=None):
    if extent is None:
        ext = study_extent(ws)
    else:
        ext = (extent[0], extent[2], extent[1], extent[3])  # [xmin, ymin, xmax, ymax] → (x0, x1, y0, y1)
    ext = fit_aspect(ext, aspect)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_color("#888888")
    return ext


def _basemap(ax, ws, ext, width_in: float, labels: bool = True):
    counties, municipalities = base_layers(ws)
    px = (ext[1] - ext[0]) / (width_in * 100)
    draw_basemap(ax, counties, municipalities, view=ext, labels=labels, simplify=px,
                 min_label_area=(60 * px) ** 2, halo=True)
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])


def _priority_map(fig, rect, ws, composite, title: str, lang: str, extent=None, legend: bool = True):
    ax, aspect = _map_axes(fig, rect, ws)
    ext = _frame_map(ax, aspect, ws, extent)
    draw_priority(ax, ws.units, composite.cls, composite.k)
    excluded_label = _hatch_exclusions(ax, ws, lang)
    _basemap(ax, ws, ext, rect[2] * PAGE[0])
    add_scalebar(ax, fontsize=7)
    ax.set_title(title, fontsize=11, loc="left", fontweight="bold")
    if legend:
        handles = [Patch(facecolor=e.colour, edgecolor="#444444", linewidth=0.5, label=e.label)
                   for e in priority_legend(composite.k, lang)]
        if excluded_label:
            handles.append(Patch(facecolor=EXCLUDED_FACE, edgecolor=EXCLUDED_LINE, hatch="////", linewidth=0.5,
                                 label=excluded_label))
        ax.legend(handles=handles, loc="lower right", fontsize=7.5, framealpha=0.9)
    return ax


def _hatch_exclusions(ax, ws, lang: str) -> str:
    """Units a role = "exclude" layer removed, hatched over the priority map as in the app and the
    export, so a board does not read their blank cells as "lowest priority". Returns the legend
    label ("Undantaget: <layer titles>"), "" when nothing is excluded."""
    excluded = ws.excluded_by
    if excluded is None or ws.units is None or len(excluded) != ws.units.n:
        return ""
    titles = excluding_titles(ws.project, excluded)
    if not titles:
        return ""
    draw_exclusions(ax, ws.units, excluded != "")
    return exclusion_legend(titles, lang)[0]


def _spread_map(fig, rect, ws, unit_map, title: str, lang: str):
    """The disagreement map in the app's five classes, with the same labels (groups.disagreement_map):
    the board reads the words the room saw."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    ax, aspect = _map_axes(fig, rect, ws)
    ext = _frame_map(ax, aspect, ws)
    cls = unit_map.class_of().astype(np.float32)
    cls[cls < 0] = np.nan
    n = len(unit_map.colours)
    draw_unit_values(ax, ws.units, cls, ListedColormap(list(unit_map.colours)),
                     BoundaryNorm(np.arange(n + 1) - 0.5, n))
    _basemap(ax, ws, ext, rect[2] * PAGE[0])
    add_scalebar(ax, fontsize=7)
    ax.set_title(title, fontsize=11, loc="left", fontweight="bold")
    handles = [Patch(facecolor=c, edgecolor="#444444", linewidth=0.5, label=label)
               for c, label in zip(unit_map.colours[::-1], unit_map.labels[::-1])]
    ax.legend(handles=handles, loc="lower right", fontsize=7.5, framealpha=0.9)
    caption = tr("memo_spread_caption", lang).format(note=unit_map.note, agree=tr("memo_agree", lang),
                                                     disagree=tr("memo_disagree", lang))
    _text(fig, rect[0], rect[1] - 0.02, textwrap.fill(caption, 95), fontsize=8, color="#444444", va="top")
    return ax


def _pct(share: float, lang: str) -> str:
    text = f"{share * 100:.0f} %"
    return text if share == 0 or share * 100 >= 0.5 else "<1 %"


def _weights_table(fig, top: float, ws, gs, lang: str) -> float:
    """Indicators down, groups across (points and share), then consensus and final weights."""
    ids = ws.normalised.layer_ids
    final = np.asarray(ws.composite.shares, float)
    groups = gs.groups if gs is not None else []
    columns = [g.name for g in groups]
    if gs is not None:
        columns.append(tr("memo_consensus", lang).split(":")[0])
    columns.append(tr("memo_final_weights", lang))
    x_label, x_first = 0.04, 0.30
    col_w = min(0.13, (0.96 - x_first) / max(len(columns), 1))
    row_h = 0.036
    y = top
    _text(fig, x_label, y, tr("memo_indicator", lang), fontsize=9.5, fontweight="bold", va="center")
    for j, name in enumerate(columns):
        x = x_first + j * col_w
        if j < len(groups):
            fig.add_artist(Rectangle((x, y + 0.018), col_w * 0.9, 0.008, transform=fig.transFigure,
                                     facecolor=groups[j].colour, edgecolor="none"))
        _text(fig, x, y, "\n".join(textwrap.wrap(name, 16)[:2]), fontsize=9.5, fontweight="bold", va="center")
    y -= row_h * 1.3
    for i, lid in enumerate(ids):
        if i % 2 == 0:
            fig.add_artist(Rectangle((x_label - 0.005, y - row_h / 2), 0.925, row_h, transform=fig.transFigure,
                                     facecolor="#f1f1f1", edgecolor="none"))
        _text(fig, x_label, y, textwrap.shorten(ws.project.layer(lid).title, 42, placeholder="…"), fontsize=9,
              va="center")
        cells = []
        for g, vec in zip(groups, gs.vectors if gs is not None else []):
            points = g.weights.get(lid, 0.0)
            cells.append(f"{points:g} p · {_pct(vec[i], lang)}")
        if gs is not None:
            cells.append(_pct(gs.consensus_weights[i], lang))
        cells.append(_pct(final[i], lang))
        for j, cell in enumerate(cells):
            _text(fig, x_first + j * col_w, y, cell, fontsize=9, va="center")
        y -= row_h
    return y


def _footer(fig, n: int, total: int, lang: str):
    _text(fig, 0.96, 0.025, tr("memo_page", lang).format(n=n, total=total), fontsize=8, color="#666666", ha="right")


# ------------------------------------------------------------------------------------------------
# Pages


_LOG_KINDS = {"weight_change": "memo_kind_weight", "scenario_switch": "memo_kind_scenario", "undo": "memo_kind_undo",
              "note": "memo_kind_note"}  # votes and comments have their own page
MAX_LOG = 1000  # entries; a longer meeting's whole log is in the GeoPackage
MAX_LOG_PAGES = 6
LOG_LINE = 0.026  # of the page height, at 8.5 pt and line spacing 1.45
LOG_WIDE, LOG_NARROW = 150, 82  # characters per line: page 1's full width, and a column of a log page
LOG_ENTRY_LINES = 4


def _layer_title(ws, lid) -> str:
    try:
        return ws.project.layer(str(lid)).title
    except KeyError:
        return str(lid)


def _num(value, lang: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = f"{round(float(value), 1):g}"  # the sliders' step: 0.1
    return text.replace(".", ",") if lang == "sv" else text


def _scenario(name, lang: str) -> str:
    """A scenario's name; "-" (how the log writes the project's own weights) in the memo's language."""
    if name == PROJECT_WEIGHTS:
        return tr("project_weights", lang)
    return str(name) if name else "–"


def _group_name(ws, gid) -> str:
    try:
        names = {g.id: g.name for g in read_groups(ws.project)}
    except SkiktError:
        names = {}
    return names.get(str(gid), str(gid))


_SOURCE_KEYS = {"consensus": "memo_source_consensus", "reset": "memo_source_reset",
                "presentation": "memo_source_presentation"}
_MEETING_KEYS = {"start": "memo_meeting_start", "end": "memo_meeting_end"}
_MAP_KEYS = {"consensus": "memo_map_consensus", "disagreement": "memo_map_disagreement",
             "priority": "memo_map_priority"}  # G in presentation mode: which map the room saw


def _said(ws, kind: str, details: dict, lang: str = "sv") -> str:
    """One log entry in words: a weight change as "layer title: before → after" (several layers
    after a consensus or reset), a switch as "from → to", a group edit as "group: layer before →
    after p", a meeting's start and end as such; anything else as key = value."""
    source = _SOURCE_KEYS.get(str(details.get("source")))
    tail = f" ({tr(source, lang)})" if source else ""
    if kind == "weight_change" and {"layer", "before", "after"} <= set(details):
        return (f"{_layer_title(ws, details['layer'])}: {_num(details['before'], lang)} → "
                f"{_num(details['after'], lang)}{tail}")
    if kind == "weight_change" and isinstance(details.get("changes"), dict):
        parts = [f"{_layer_title(ws, lid)} {_num(pair[0], lang)} → {_num(pair[1], lang)}"
                 for lid, pair in details["changes"].items() if isinstance(pair, list) and len(pair) == 2]
        return ", ".join(parts) + tail
    if kind == "scenario_switch" and "to" in details:
        view = f" ({tr('memo_view', lang)} {details['view']})" if details.get("view") else ""
        return f"{_scenario(details.get('from'), lang)} → {_scenario(details['to'], lang)}{view}{tail}"
    if kind == "undo" and set(details) <= {"what"} and details.get("what"):
        return str(details["what"])
    if kind == "note" and set(details) <= {"view", "source"} and details.get("view"):
        return f"{tr('memo_view_shown', lang)}: {details['view']}{tail}"
    if kind == "note" and str(details.get("map")) in _MAP_KEYS and set(details) <= {"map", "source"}:
        return f"{tr(_MAP_KEYS[str(details['map'])], lang)}{tail}"
    if kind == "note" and str(details.get("meeting")) in _MEETING_KEYS:
        return tr(_MEETING_KEYS[str(details["meeting"])], lang)
    if kind == "note" and details.get("what") == "group":
        name = _group_name(ws, details.get("group"))
        if {"layer", "before", "after"} <= set(details):
            return (f"{name}: {_layer_title(ws, details['layer'])} {_num(details['before'], lang)} → "
                    f"{_num(details['after'], lang)} p")
        for key, word in (("added", "memo_group_added"), ("removed", "memo_group_removed"),
                          ("name", "memo_group_renamed"), ("colour", "memo_group_recoloured")):
            if key in details:
                return f"{tr(word, lang)}: {details.get(key) if key != 'colour' else name}"
    return ", ".join(f"{k} = {v}" if k else str(v) for k, v in details.items())


def _log_entries(ws, store, lang: str, width: int) -> list[list[str]]:
    """The weight changes, scenario switches, undos and notes, oldest first, each as its lines
    wrapped to ``width`` characters (a consensus names every layer: it is wrapped, not cut).
    Details are data from the log's JSON, shown as words or key = value, never evaluated."""
    if store is None:
        return []
    log = store.decision_log()
    log = log[log["kind"].isin(list(_LOG_KINDS))].tail(MAX_LOG)
    entries = []
    for _, row in log.iterrows():
        details = row.details if isinstance(row.details, dict) else {"": row.details}
        said = f"{_local_time(row.created)}  {tr(_LOG_KINDS[row.kind], lang)}: {_said(ws, row.kind, details, lang)}"
        entries.append(textwrap.wrap(said, width, subsequent_indent="        ", break_long_words=True)[:LOG_ENTRY_LINES])
    return entries


def _log_lines(ws, store, lang: str) -> list[str]:
    """Every entry on one line each, as the first page shows them (wrapped lines joined)."""
    return [" ".join(line.strip() for line in entry) for entry in _log_entries(ws, store, lang, 10_000)]


def _newest_that_fit(entries: list[list[str]], room: int) -> list[list[str]]:
    kept, used = [], 0
    for entry in reversed(entries):
        if used + len(entry) > room:
            break
        kept.append(entry)
        used += len(entry)
    return kept[::-1]


def _groups_differ_from_log(ws, store) -> list[str]:
    """The groups whose points in the project differ from what the meeting log says they were
    last set to (each logged group edit's "after"), and groups the log added or removed that the
    project does not show so: the table comes from the project, the log from the workshop file,
    and a meeting whose edits were never saved would otherwise contradict itself unannounced."""
    if store is None:
        return []
    log = store.decision_log()
    if log.empty:
        return []
    try:
        groups = {g.id: g for g in read_groups(ws.project)}
    except SkiktError:
        groups = {}
    last_points: dict[tuple[str, str], float] = {}
    present: dict[str, bool] = {}
    logged_names: dict[str, str] = {}
    for _, row in log[log["kind"] == "note"].iterrows():
        details = row.details if isinstance(row.details, dict) else {}
        if details.get("what") != "group" or not details.get("group"):
            continue
        gid = str(details["group"])
        if {"layer", "after"} <= set(details) and isinstance(details["after"], (int, float)):
            last_points[(gid, str(details["layer"]))] = float(details["after"])
        if details.get("added") or details.get("name"):
            logged_names[gid] = str(details.get("added") or details.get("name"))
        if "added" in details:
            present[gid] = True
        if "removed" in details:
            present[gid] = False
    differ = {gid for gid, there in present.items() if there != (gid in groups)}
    differ |= {gid for (gid, lid), points in last_points.items()
               if present.get(gid, True) and (gid not in groups or abs(groups[gid].weights.get(lid, 0.0) - points) > 1e-9)}
    return sorted(groups[g].name if g in groups else logged_names.get(g, g) for g in differ)


def _page_weights(ws, gs, short_ids, store, lang, day) -> tuple[Figure, bool]:
    """Page 1, and whether the log needs pages of its own (it did not all fit here)."""
    fig = _page(tr("memo_title", lang), lang, ws.project.title, day)
    _text(fig, 0.04, 0.885, tr("memo_groups", lang), fontsize=13, fontweight="bold", va="center")
    if gs is None:
        _text(fig, 0.04, 0.84, f"{tr('memo_group', lang)}: {tr('memo_none', lang)}", fontsize=10, va="center")
    differ = _groups_differ_from_log(ws, store)
    if differ:
        _text(fig, 0.04, 0.853, textwrap.shorten(tr("memo_groups_differ", lang).format(groups=", ".join(differ)), 190,
                                                 placeholder="…"), fontsize=8.5, color="#b00020", va="center")
    y = _weights_table(fig, 0.83, ws, gs, lang)
    if gs is not None:
        y -= 0.03
        n, total = int(gs.short_list.sum()), int(len(gs.short_list))
        _text(fig, 0.04, y, tr("memo_short_list", lang).format(n=n, total=total), fontsize=11, fontweight="bold",
              va="top")
        _text(fig, 0.04, y - 0.04, textwrap.fill(_short_list_text(ws, gs, lang), 150), fontsize=9, va="top",
              color="#333333")
        y -= 0.04
    y -= 0.07
    _text(fig, 0.04, y, tr("memo_log", lang), fontsize=11, fontweight="bold", va="top")
    entries = _log_entries(ws, store, lang, LOG_WIDE)
    room = max(1, int((y - 0.1) / LOG_LINE))
    shown = _newest_that_fit(entries, room if len(entries) <= room else room - 1)
    lines = [line for entry in shown for line in entry] or [tr("memo_none", lang)]
    if len(shown) < len(entries):
        lines = [tr("memo_log_more", lang).format(n=len(entries) - len(shown))] + lines
    _text(fig, 0.04, y - 0.04, "\n".join(lines), fontsize=8.5, va="top", linespacing=1.45, color="#333333")
    return fig, len(shown) < len(entries)


def _pages_log(ws, store, lang, day) -> list[Figure]:
    """The whole log in two columns a page, for a meeting longer than page 1 has room for."""
    entries = _log_entries(ws, store, lang, LOG_NARROW)
    per_column = int((0.87 - 0.08) / LOG_LINE)
    columns: list[list[str]] = [[]]
    for entry in entries:
        if len(columns[-1]) + len(entry) > per_column:
            columns.append([])
        columns[-1].extend(entry)
    pages = []
    for start in range(0, min(len(columns), 2 * MAX_LOG_PAGES), 2):
        fig = _page(tr("memo_log", lang), lang, ws.project.title, day)
        for x, column in zip((0.04, 0.52), columns[start:start + 2]):
            _text(fig, x, 0.87, "\n".join(column), fontsize=8.5, va="top", linespacing=1.45, color="#333333")
        pages.append(fig)
    return pages


def _short_list_text(ws, gs, lang: str) -> str:
    """Area units by name; grid cells counted per municipality (a board reads places, not cell ids)."""
    if not gs.short_list.any():
        return tr("memo_none", lang)
    _, names = _memo_municipalities(ws)
    picked = np.asarray(names, dtype=object)[gs.short_list]
    if ws.units.kind == "areas":
        return ", ".join(str(x) for x in picked[:60]) + (" …" if len(picked) > 60 else "")
    picked = np.array([str(x) or "–" for x in picked])
    places, counts = np.unique(picked, return_counts=True)
    order = np.lexsort((places, -counts))[:12]
    return f"{tr('memo_short_where', lang)}: " + ", ".join(f"{places[i]} {counts[i]}" for i in order)


def _page_maps(ws, gs, lang, day) -> Figure:
    fig = _page(tr("memo_title", lang), lang, ws.project.title, day)
    _priority_map(fig, [0.03, 0.12, 0.455, 0.74], ws, gs.consensus, tr("memo_consensus", lang), lang)
    _spread_map(fig, [0.515, 0.12, 0.455, 0.74], ws, disagreement_map(gs, lang), tr("memo_disagreement", lang), lang)
    return fig


def _unit_labels(ws) -> dict[str, str]:
    """Unit id → "id (municipality)" for grids, "name (id)" for named areas."""
    ids = np.asarray(ws.units.ids).astype(str)
    if ws.units.kind == "areas":
        names = ws.units.names if ws.units.names is not None else ids
        return {i: (f"{n} ({i})" if str(n) != i else i) for i, n in zip(ids, np.asarray(names).astype(str))}
    _, names = _memo_municipalities(ws)
    return {i: (f"{i} ({n})" if n else i) for i, n in zip(ids, names)}


def _local_time(created: str) -> str:
    """HH:MM in Swedish time: captures are stored in UTC, the room remembers the wall clock."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        return moment.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%H:%M")
    except (ValueError, KeyError, OSError):
        return str(created)[11:16]


def _page_captures(ws, gs, store, lang, day) -> Figure:
    fig = _page(tr("memo_title", lang), lang, ws.project.title, day)
    names = {g.id: g.name for g in (gs.groups if gs is not None else [])}
    _text(fig, 0.04, 0.885, tr("memo_votes", lang), fontsize=13, fontweight="bold", va="center")
    tally = store.tally(by_group=True) if store is not None else None
    y = 0.84
    if tally is None or tally.empty:
        _text(fig, 0.04, y, tr("memo_none", lang), fontsize=10, va="center")
    else:
        present = [c for c in tally.columns if c not in ("unit_id", "dots")]
        group_cols = [g for g in names if g in present] + [c for c in present if c not in names]  # the project's order
        heads = [tr("memo_unit", lang), tr("memo_total", lang)] + [names.get(c, c) for c in group_cols]
        col_w = min(0.1, 0.26 / max(len(group_cols), 1))
        xs = [0.04, 0.29] + [0.34 + col_w * j for j in range(len(group_cols))]
        head_size = 9 if col_w >= 0.09 else 8
        for x, h in zip(xs, heads):
            lines = textwrap.wrap(h, 12, break_long_words=False)
            _text(fig, x, y, "\n".join(lines[:2]) + ("…" if len(lines) > 2 else ""), fontsize=head_size,
                  fontweight="bold", va="center")
        labels = _unit_labels(ws)
        for _, row in tally.head(TOP_VOTES).iterrows():
            y -= 0.034
            cells = [textwrap.shorten(labels.get(str(row.unit_id), str(row.unit_id)), 46, placeholder="…"), str(int(row.dots))]
            cells += [str(int(row[c])) for c in group_cols]
            for x, c in zip(xs, cells):
                _text(fig, x, y, c, fontsize=9, va="center")
    _comments(fig, store, names, lang)
    return fig


def _comments(fig, store, names, lang):
    x = 0.62
    _text(fig, x, 0.885, tr("memo_comments", lang), fontsize=13, fontweight="bold", va="center")
    rows = []
    if store is not None:
        for kind, frame in ((tr("memo_pin", lang), store.pins()), (tr("memo_area", lang), store.areas())):
            for _, r in frame.iterrows():
                rows.append((r.created, kind, names.get(r.group_id, r.group_id or ""), r.comment or ""))
    rows.sort()
    if not rows:
        _text(fig, x, 0.84, tr("memo_none", lang), fontsize=10, va="center")
        return
    y = 0.85
    for created, kind, group, comment in rows[:MAX_COMMENTS]:
        head = f"{_local_time(created)} · {kind} · {group}"
        _text(fig, x, y, head, fontsize=8, color="#555555", va="top")
        body = textwrap.wrap(str(comment), 60)[:3]
        _text(fig, x, y - 0.022, "\n".join(body), fontsize=9, va="top", linespacing=1.25)
        y -= 0.022 + 0.026 * max(len(body), 1) + 0.012
        if y < 0.08:
            break


def _view_composite(ws, view):
    from .scenarios import scenario_weights

    try:
        weights = scenario_weights(ws.project, view["scenario"])
    except SkiktError:
        weights = scenario_weights(ws.project, None)
    return combine(ws.normalised, [weights.get(lid, 0.0) for lid in ws.normalised.layer_ids],
                   ws.project.units.classes)


def _pages_views(ws, views, lang, day) -> list[Figure]:
    pages = []
    slots = [[0.03, 0.50, 0.455, 0.37], [0.515, 0.50, 0.455, 0.37], [0.03, 0.07, 0.455, 0.37],
             [0.515, 0.07, 0.455, 0.37]]
    for start in range(0, len(views), VIEWS_PER_PAGE):
        fig = _page(tr("memo_views", lang), lang, ws.project.title, day)
        for rect, view in zip(slots, views[start:start + VIEWS_PER_PAGE]):
            title = textwrap.shorten(view["title"], 60, placeholder="…")
            ax = _priority_map(fig, rect, ws, _view_composite(ws, view), title, lang, view["extent"], legend=False)
            if view["subtitle"]:
                ax.set_title(title, fontsize=11, loc="left", fontweight="bold", pad=13)
                _text(ax, 0, 1.012, textwrap.shorten(view["subtitle"], 95, placeholder="…"), transform=ax.transAxes,
                      fontsize=7.5, color="#444444", va="bottom")
        pages.append(fig)
    return pages


# ------------------------------------------------------------------------------------------------
# The memo


def _workspace_steps(project_or_ws, cancel):
    """The workspace the memo draws, brought up to date with (fraction, what) steps; the app hands
    over a fork that is already up to date, so this yields nothing there."""
    from .project import Project
    from .workspace import Workspace

    ws = Workspace(project_or_ws) if isinstance(project_or_ws, Project) else project_or_ws
    if ws.normalised is None:
        yield from ws.iter_update(cancel=cancel, strict=True)
    return ws


def _memo_municipalities(ws):
    """unit_municipalities once per memo: the short list and the vote table both name places, and
    placing every cell centre in its municipality is the costliest text on the pages."""
    from .scenarios import unit_municipalities

    key = (id(ws.units), ws.units.n)
    cached = getattr(ws, "_memo_places", None)
    if cached is None or cached[0] != key:
        cached = (key, unit_municipalities(ws))
        try:
            ws._memo_places = cached
        except AttributeError:  # a slotted workspace: compute again, no harm
            pass
    return cached[1]


def iter_memo_figures(ws, lang: str = "sv", store=None, day: str | None = None):
    """The memo's pages one at a time, without their footers (the page count is known only at the
    end): a caller checks Cancel and reports progress between pages instead of after all of them."""
    day = day or date.today().isoformat()
    groups = read_groups(ws.project)
    gs = group_scores(ws.normalised, groups, ws.project.units.classes, ws.project.path) if groups else None
    short_ids = [str(u) for u in np.asarray(ws.units.ids)[gs.short_list]] if gs is not None else []
    store, opened = _store(ws.project, store)
    try:
        first, log_overflows = _page_weights(ws, gs, short_ids, store, lang, day)
        yield first
        if gs is not None:
            yield _page_maps(ws, gs, lang, day)
        yield _page_captures(ws, gs, store, lang, day)
        if log_overflows:
            yield from _pages_log(ws, store, lang, day)
    finally:
        if opened:
            store.close()
    yield from _pages_views(ws, _views(ws.project), lang, day)


def memo_page_count(ws) -> int:
    """How many pages :func:`iter_memo_figures` will make, counted without drawing (for progress)."""
    groups = read_groups(ws.project)
    views = len(_views(ws.project))
    # Page 1, the maps (with groups), the captures, the views; a long log's pages are not counted
    # here (they are text, quick), so the fraction may pause at the end of the build, never go back.
    return 1 + (1 if groups else 0) + 1 + -(-views // VIEWS_PER_PAGE)


def _finish(pages, lang):
    for n, fig in enumerate(pages, 1):
        _footer(fig, n, len(pages), lang)
        _plain_text(fig)
    return pages


def memo_figures(project_or_ws, lang: str = "sv", store=None, day: str | None = None) -> list[Figure]:
    """The memo's pages as matplotlib figures (what :func:`write_memo` saves)."""
    ws = _workspace(project_or_ws)
    return _finish(list(iter_memo_figures(ws, lang, store, day)), lang)


BUILD_SHARE = 0.55  # of the progress bar: drawing the pages; the rest is writing them to the PDF


def iter_write_memo(project_or_ws, out_pdf, lang: str = "sv", *, store=None, day: str | None = None,
                    cancel=None):
    """:func:`write_memo` step by step: yields the fraction done after each page is built and each
    page is written, checks ``cancel`` between pages (raising Cancelled, no file left behind) and
    returns the PDF's path. The app's memo job runs this so its bar moves and Cancel is heard."""
    from matplotlib.backends.backend_pdf import PdfPages

    from .workspace import Cancelled

    project = getattr(project_or_ws, "project", project_or_ws)
    refuse_input_overwrite(project, out_pdf)
    out = check_output_path(out_pdf, (".pdf",), "memo_out_format")
    stop = cancel or (lambda: False)

    def check():
        if stop():
            raise Cancelled()

    ws = None
    steps = _workspace_steps(project_or_ws, stop)
    while ws is None:
        try:
            frac, _ = next(steps)
            yield 0.25 * frac
        except StopIteration as done:
            ws = done.value
    start = 0.25 if ws is not project_or_ws else 0.0
    expected = max(memo_page_count(ws), 1)
    pages = []
    for fig in iter_memo_figures(ws, lang, store, day):
        pages.append(fig)
        check()
        yield start + (BUILD_SHARE - start) * min(len(pages) / expected, 1.0)
    pages = _finish(pages, lang)
    check()
    # The pages go into memory first, one step each, so the bar moves and Cancel is heard while
    # the PDF is drawn; only the finished document is written, atomically, beside nothing else.
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": tr("memo_title", lang), "Creator": "Skikt"}) as pdf:
        for n, fig in enumerate(pages, 1):
            check()
            pdf.savefig(fig)
            yield BUILD_SHARE + (1 - BUILD_SHARE) * n / len(pages)
    data = buffer.getvalue()
    return atomic_write(out, lambda path: Path(path).write_bytes(data), keep=project_inputs(project))


def write_memo(project_or_ws, out_pdf, lang: str = "sv", *, store=None, day: str | None = None,
               cancel=None) -> Path:
    """Write the prioritisation memo as a multi-page PDF; returns its path. Never over an input.
    ``cancel``: a callable checked between pages (the app's Cancel); a cancelled memo leaves no
    file behind."""
    steps = iter_write_memo(project_or_ws, out_pdf, lang, store=store, day=day, cancel=cancel)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
