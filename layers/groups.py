"""Group weights for a workshop: each stakeholder group's priorities, their consensus, and where
the groups disagree.

A group states its priorities as points spread over the indicator layers (the participatory
budgeting habit: 100 points, though any non-negative total works). Everything here is computed
from the workspace's normalised indicators with :func:`combine`, one recombination per group.

Definitions (also in the README):

* normalised weights: wᵍ = pᵍ / Σ pᵍ over the workspace's indicator layers (a layer the group
  leaves out has 0 points), so every group's vector sums to 1;
* consensus: the composite with the mean of the groups' normalised vectors;
* percentile rank of a scored unit under one group: (n − r)/(n − 1), where n is the number of
  units that group scores and r the unit's rank with 1 = highest score and ties sharing their
  average rank; 1 is the top, 0 the bottom; with one scored unit it is 1;
* rank spread (disagreement): max − min of a unit's percentile ranks over the groups, NaN
  unless every group scores the unit;
* short list: the units every group puts in priority class 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .composite import Composite, Normalised, average_ranks, combine
from .errors import ProjectError
from .i18n import tr
from .unit_maps import UnitMap

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID = re.compile(r"^[a-z0-9_]{1,64}$")  # as every id in the project file; also a column name prefix
DEFAULT_COLOUR = "#666666"


class GroupError(ProjectError):
    """A [[groups]] entry that cannot be used."""


@dataclass
class Group:
    id: str
    name: str
    colour: str = DEFAULT_COLOUR
    weights: dict[str, float] = field(default_factory=dict)  # indicator layer id → points


# ------------------------------------------------------------------------------------------------
# Reading


def _raw_groups(project) -> object:
    """The [[groups]] entries: the project reader checks them and keeps them as plain tables among
    ``project.extra``; a typed ``project.groups`` is taken first should the project carry one."""
    typed = getattr(project, "groups", None)
    if typed is not None:
        return typed
    return project.extra.get("groups", [])


def _field(entry, name, default=None):
    if isinstance(entry, dict):
        return entry.get(name, default)
    return getattr(entry, name, default)


def _points(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _read_one(project, entry, loc: str, seen: set[str]) -> Group:
    path = project.path
    if not isinstance(entry, dict) and not hasattr(entry, "weights"):
        raise GroupError.of("gerr_entry", path, loc=loc)
    gid = _field(entry, "id")
    if not isinstance(gid, str) or not _ID.match(gid):
        raise GroupError.of("gerr_id", path, loc=loc, value=repr(gid))
    if gid in seen:
        raise GroupError.of("gerr_duplicate", path, loc=loc, id=gid)
    name = _field(entry, "name") or gid
    colour = _field(entry, "colour") or DEFAULT_COLOUR
    if not isinstance(name, str):
        raise GroupError.of("gerr_name", path, loc=loc, value=repr(name))
    if not isinstance(colour, str) or not _COLOUR.match(colour):
        raise GroupError.of("gerr_colour", path, loc=loc, value=repr(colour))
    weights = _field(entry, "weights", {})
    if not isinstance(weights, dict):
        raise GroupError.of("gerr_weights", path, loc=loc)
    indicator_ids = {s.id for s in project.indicator_layers()}
    points = {}
    for lid, value in weights.items():
        if lid not in indicator_ids:
            raise GroupError.of("gerr_layer", path, loc=loc, id=str(lid))
        p = _points(value)
        if p is None:
            raise GroupError.of("gerr_points", path, loc=f"{loc}.weights.{lid}", value=repr(value))
        points[str(lid)] = p
    if sum(points.values()) <= 0:
        raise GroupError.of("gerr_zero", path, loc=loc, id=gid)
    return Group(gid, name, colour.lower(), points)


def read_groups(project) -> list[Group]:
    """The project's groups, checked: a unique id of letters, digits and _, a #rrggbb colour, points
    ≥ 0 on indicator layers only, not all zero. The first problem raises one GroupError line."""
    raw = _raw_groups(project)
    if not isinstance(raw, list):
        raise GroupError.of("gerr_not_tables", project.path)
    seen: set[str] = set()
    groups = []
    for i, entry in enumerate(raw):
        group = _read_one(project, entry, f"groups[{i + 1}]", seen)
        seen.add(group.id)
        groups.append(group)
    return groups


# ------------------------------------------------------------------------------------------------
# Scores


def weight_vector(group: Group, layer_ids: list[str], path=None) -> np.ndarray:
    """The group's points over ``layer_ids`` as shares summing to 1 (layers left out count 0).
    Refused when none of its points falls on a layer the workspace scores."""
    p = np.array([group.weights.get(lid, 0.0) for lid in layer_ids], np.float64)
    total = p.sum()
    if not total > 0:
        raise GroupError.of("gerr_zero", path, loc=f"group \"{group.id}\"", id=group.id)
    return p / total


def percentile_ranks(score: np.ndarray) -> np.ndarray:
    """(n − r)/(n − 1) per scored unit, r the average rank with 1 = highest (see module doc);
    NaN where the score is NaN."""
    s = np.asarray(score, np.float64)
    out = np.full(s.shape, np.nan)
    ok = ~np.isnan(s)
    n = int(ok.sum())
    if n == 1:
        out[ok] = 1.0
    elif n > 1:
        r = average_ranks(-s[ok])  # ascending on −score: rank 1 is the highest score
        out[ok] = (n - r) / (n - 1)
    return out


@dataclass
class GroupScores:
    groups: list[Group]
    layer_ids: list[str]
    vectors: np.ndarray  # (g, m) normalised weights, each row sums to 1
    composites: list[Composite]  # one per group
    consensus_weights: np.ndarray  # (m,) mean of the rows of ``vectors``
    consensus: Composite
    percentile: np.ndarray  # (g, n)
    spread: np.ndarray  # (n,) max − min percentile rank; NaN unless every group scores the unit
    short_list: np.ndarray  # (n,) bool: in class 1 for every group


def group_scores(normalised: Normalised, groups: list[Group], k: int = 5, path=None) -> GroupScores:
    if not groups:
        raise GroupError.of("gerr_none", path)
    ids = list(normalised.layer_ids)
    vectors = np.vstack([weight_vector(g, ids, path) for g in groups])
    composites = [combine(normalised, v, k) for v in vectors]
    consensus_weights = vectors.mean(axis=0)
    consensus = combine(normalised, consensus_weights, k)
    percentile = np.vstack([percentile_ranks(c.score) for c in composites])
    with np.errstate(invalid="ignore"):
        spread = percentile.max(axis=0) - percentile.min(axis=0)  # NaN propagates: unscored by some
    short = np.logical_and.reduce([c.cls == 1 for c in composites])
    return GroupScores(groups, ids, vectors, composites, consensus_weights, consensus, percentile, spread, short)


def workspace_group_scores(ws) -> GroupScores:
    """Group scores of a workspace brought up to date (the project's own [[groups]])."""
    if ws.normalised is None:
        ws.update(strict=True)
    return group_scores(ws.normalised, read_groups(ws.project), ws.project.units.classes, ws.project.path)


def _nullable_rank(rank: np.ndarray) -> pd.Series:
    return pd.Series(rank, dtype="Int64").mask(rank == 0)


def group_columns(gs: GroupScores) -> pd.DataFrame:
    """The ``skikt score --groups`` columns, in this order: per group ``<id>_score`` and
    ``<id>_rank`` (1 = highest, ties share the best rank, empty when unscored), then
    ``consensus_score``, ``consensus_rank`` and ``rank_spread``."""
    data = {}
    for group, comp in zip(gs.groups, gs.composites):
        data[f"{group.id}_score"] = comp.score.astype(float)
        data[f"{group.id}_rank"] = _nullable_rank(comp.rank)
    data["consensus_score"] = gs.consensus.score.astype(float)
    data["consensus_rank"] = _nullable_rank(gs.consensus.rank)
    data["rank_spread"] = gs.spread
    return pd.DataFrame(data)


def score_table_with_groups(ws) -> pd.DataFrame:
    """The workspace's score table with the group columns added (what ``score --groups`` writes)."""
    gs = workspace_group_scores(ws)
    table = ws.result_table()
    extra = group_columns(gs)
    clash = [c for c in extra.columns if c in table.columns]
    if clash:
        raise GroupError.of("gerr_column_clash", ws.project.path, column=clash[0])
    return pd.concat([table.reset_index(drop=True), extra], axis=1)


# ------------------------------------------------------------------------------------------------
# The disagreement map

# Class edges on the rank spread (0 = every group ranks the unit alike, 1 = one group's top is
# another's bottom). Fixed edges, not quantiles: "eniga" must mean the same in every meeting, and
# a room that agrees everywhere must see a map that says so.
SPREAD_BOUNDS = (0.0, 0.10, 0.25, 0.50, 0.75, 1.0)
SPREAD_COLOURS = ("#f1eef6", "#d7b5d8", "#df65b0", "#dd1c77", "#980043")  # ColorBrewer PuRd, 5 classes
SPREAD_LABEL_KEYS = ("gw_spread_agree", "gw_spread_nearly", "gw_spread_partly", "gw_spread_disagree",
                     "gw_spread_strongly")


def spread_labels(lang: str = "sv") -> tuple[str, ...]:
    """One legend label per class: the word and the range in percentile points."""
    edges = [round(b * 100) for b in SPREAD_BOUNDS]
    return tuple(tr("gw_spread_label", lang).format(word=tr(key, lang), lo=lo, hi=hi)
                 for key, lo, hi in zip(SPREAD_LABEL_KEYS, edges[:-1], edges[1:]))


def disagreement_map(gs: GroupScores, lang: str = "sv") -> UnitMap:
    """The rank spread as a per-unit map in five plainly labelled classes (units some group does
    not score stay NaN and are not drawn)."""
    return UnitMap(np.asarray(gs.spread, np.float64), SPREAD_BOUNDS, SPREAD_COLOURS, spread_labels(lang),
                   tr("gw_spread_title", lang), tr("gw_spread_note", lang).format(n=len(gs.groups)),
                   "disagreement")


def short_list_entries(ws, gs: GroupScores, names=None) -> list[tuple[int, str, str]]:
    """The units every group puts in its top class, best consensus score first, as
    (unit index, unit id, place name). Grid cells are named by the municipality holding their
    centre (as the Info panel names them); area units by their own name. ``names``: those place
    names per unit if the caller has them already (finding them is a spatial query)."""
    from .scenarios import unit_municipalities

    picked = np.flatnonzero(gs.short_list)
    if not len(picked):
        return []
    if names is None:
        _, names = unit_municipalities(ws)
    ids = np.asarray(ws.units.ids).astype(str)
    score = np.asarray(gs.consensus.score, np.float64)[picked]
    order = picked[np.lexsort((ids[picked], -np.nan_to_num(score, nan=-np.inf)))]
    return [(int(i), str(ids[i]), str(names[i] or "")) for i in order]


# ------------------------------------------------------------------------------------------------
# Editing (plain data; the app wraps each edit in one undo command)

GROUPS_KEY = "groups"
POINTS_TOTAL = 100  # the participatory-budgeting habit: 100 points spread over the sectors
MAX_POINTS = 100


def group_entries(project) -> list[dict]:
    """A copy of the project's [[groups]] tables (what saving writes)."""
    import copy

    return copy.deepcopy(list(project.extra.get(GROUPS_KEY) or []))


def check_group_entries(project, entries: list[dict]) -> None:
    """Raise the first problem (one line) of ``entries`` as the project's [[groups]]: the project
    file's schema first, then :func:`read_groups`. Nothing changes; no copy of the project is
    made (a deep copy of a project costs more than the check)."""
    import copy

    from .project import entry_problems

    problems = [p for found in entry_problems(project, GROUPS_KEY, entries) for p in found]
    if problems:
        raise problems[0]
    trial = copy.copy(project)
    trial.extra = {**project.extra, GROUPS_KEY: entries}
    read_groups(trial)


def set_group_entries(project, entries: list[dict]) -> None:
    """Store ``entries`` as the project's [[groups]], checked first (:func:`check_group_entries`):
    a refused edit raises one line and changes nothing."""
    import copy

    entries = copy.deepcopy(list(entries))
    check_group_entries(project, entries)
    if entries:
        project.extra[GROUPS_KEY] = entries
    else:
        project.extra.pop(GROUPS_KEY, None)


def even_points(layer_ids: list[str], total: int = POINTS_TOTAL) -> dict[str, int]:
    """``total`` whole points spread as evenly as possible (the first layers get the remainder):
    a new group starts as a valid row summing to 100, not as a refused row of zeros."""
    if not layer_ids:
        return {}
    base, extra = divmod(int(total), len(layer_ids))
    return {lid: base + (1 if i < extra else 0) for i, lid in enumerate(layer_ids)}


def new_group_id(entries: list[dict], name: str) -> str:
    """An id from the name (letters a–z, digits, _), unique among ``entries``."""
    stem = name.lower().translate(str.maketrans("åäöéü", "aaoeu"))
    stem = re.sub(r"[^a-z0-9_]+", "_", stem).strip("_")[:50] or "grupp"
    taken = {str(e.get("id")) for e in entries}
    gid, n = stem, 2
    while gid in taken:
        gid, n = f"{stem}_{n}", n + 1
    return gid


def with_points(entries: list[dict], gid: str, layer_id: str, points: float) -> list[dict]:
    """A copy of ``entries`` where group ``gid`` gives ``points`` to ``layer_id`` (0 removes the
    key: a group's table lists only the layers it gives points to)."""
    import copy

    out = copy.deepcopy(entries)
    for e in out:
        if e.get("id") == gid:
            weights = dict(e.get("weights") or {})
            if points:
                weights[layer_id] = int(points) if float(points).is_integer() else float(points)
            else:
                weights.pop(layer_id, None)
            e["weights"] = weights
    return out


def with_field(entries: list[dict], gid: str, key: str, value) -> list[dict]:
    import copy

    out = copy.deepcopy(entries)
    for e in out:
        if e.get("id") == gid:
            e[key] = value
    return out


def row_total(group: Group) -> float:
    return float(sum(group.weights.values()))
