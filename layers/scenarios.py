"""Scenarios: named weight sets kept in the project file as ``[[scenarios]]`` tables.

```toml
[[scenarios]]
name = "Vård först"
weights = { vard = 4, transport = 1 }   # layer id → weight; ids left out keep the project's weight
description = "…"
```

The project file's schema (:mod:`.schema`, :func:`.project.entry_problems`) checks the entries
when the project is read and keeps them as plain tables in ``Project.extra["scenarios"]``; this
module turns them into :class:`Scenario` objects and edits that list. Every edit is checked by
the same schema before it is stored, so a refused edit changes nothing. Problems are one line
each with their key path (``scenarios[0].weights.vard: …``, counted from 0 as in JSON paths).
The editing helpers return what an undo command needs to put things back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ProjectError
from .i18n import Msg
from .project import PROJECT_WEIGHTS, Project, entry_problems
from .schema import ScenarioModel, field_error, known_keys, show

SCENARIOS_KEY = "scenarios"


@dataclass
class Scenario:
    name: str
    weights: dict[str, float] = field(default_factory=dict)  # only the ids the scenario sets
    description: str = ""
    extra: dict = field(default_factory=dict)  # keys we do not know, written back unchanged
    # Names of the views that showed this scenario when it was deleted (undo puts them back).
    used_by: list[str] = field(default_factory=list, compare=False, repr=False)

    def to_dict(self) -> dict:
        d = dict(self.extra)
        d["name"] = self.name
        d["weights"] = {lid: _num(w) for lid, w in self.weights.items()}
        if self.description:
            d["description"] = self.description
        return d


class ScenarioError(ProjectError):
    """A ``[[scenarios]]`` problem. ``problems`` holds every problem found, one line each; the
    message is the first of them with a count of the others, so the CLI still prints one line."""

    problems: list[ProjectError] = []
    more: int = 0

    def text(self, lang: str = "sv") -> str:
        from .i18n import tr

        from pathlib import Path

        from .schema import localise

        body = localise(self, lang)
        own = f"{Path(self.path).name}: {body}" if self.path else body
        return own + tr("serr_more", lang).format(n=self.more) if self.more else own


def _first_of(problems: list[ProjectError]) -> ScenarioError:
    """One error for all problems: the first one's line, plus how many more there are."""
    from .i18n import tr

    first = problems[0]
    err = ScenarioError(tr(first.key, "en").format(**first.params) + (
        tr("serr_more", "en").format(n=len(problems) - 1) if len(problems) > 1 else ""), first.path)
    err.key, err.params, err.more, err.problems = first.key, first.params, len(problems) - 1, problems
    return err


# ------------------------------------------------------------------------------------------------
# Reading and validation


def _num(value):
    """An integer-valued weight as an int (TOML ``4``, not ``4.0``); anything else as it is, for
    the schema to judge."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return value
    f = float(value)
    return int(f) if f.is_integer() else f


def _shown(value) -> str:
    """A value as the user wrote it in TOML, short enough for a one-line message."""
    if isinstance(value, Mapping):
        return "a table"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def _raw_entries(project: Project) -> list:
    return project.extra.get(SCENARIOS_KEY) or []


def scenario_problems(project: Project) -> list[ProjectError]:
    """Every problem in the project's ``[[scenarios]]``, one line each with its key path. The
    reader has checked them already; edits made since are checked again by the same schema."""
    raw = _raw_entries(project)
    if not isinstance(raw, list):
        return [field_error(SCENARIOS_KEY, Msg.of("perr_expected", expected=Msg.of("exp_entries", table=SCENARIOS_KEY),
                                                  got=show(raw)), project.path)]
    return [p for problems in entry_problems(project, SCENARIOS_KEY, raw) for p in problems]


def read_scenarios(project: Project) -> list[Scenario]:
    """The project's scenarios, validated; raises :class:`ScenarioError` on the first problem
    (``err.problems`` lists them all)."""
    problems = scenario_problems(project)
    if problems:
        raise _first_of(problems)
    out = []
    for entry in _raw_entries(project):
        out.append(Scenario(name=entry["name"].strip(),
                            weights={lid: float(w) for lid, w in (entry.get("weights") or {}).items()},
                            description=entry.get("description", ""),
                            extra={k: v for k, v in entry.items() if k not in known_keys(ScenarioModel)}))
    return out


def scenario_names(project: Project) -> list[str]:
    return [s.name for s in read_scenarios(project)]


def find_scenario(project: Project, name: str) -> Scenario:
    scenarios = read_scenarios(project)
    for s in scenarios:
        if s.name == name.strip():
            return s
    known = ", ".join(f'"{s.name}"' for s in scenarios) or "–"
    raise ScenarioError.of("serr_unknown", project.path, name=name, known=known)


def scenario_weights(project: Project, name: str | None) -> dict[str, float]:
    """Weight of every indicator layer under scenario ``name``: the scenario's own weights, and
    the project's for the ids it leaves out. ``None`` or ``"-"`` means the project's weights."""
    weights = {s.id: float(s.indicator.weight) for s in project.indicator_layers()}
    if name is None or name.strip() == PROJECT_WEIGHTS:
        return weights
    weights.update(find_scenario(project, name).weights)
    return weights


def apply_scenario(project: Project, name: str | None) -> Project:
    """A copy of the project whose indicator weights are those of scenario ``name``."""
    weights = scenario_weights(project, name)
    out = project.copy()
    for spec in out.indicator_layers():
        spec.indicator.weight = weights[spec.id]
    return out


# ------------------------------------------------------------------------------------------------
# Editing (plain data; the app wraps each in an undo command)


def scenarios_to_extra(project: Project, scenarios: list[Scenario]) -> None:
    """Store scenarios in ``project.extra`` so that saving writes them as ``[[scenarios]]``.
    They are checked by the project file's schema first: a refused edit changes nothing."""
    entries = [s.to_dict() for s in scenarios]
    problems = [p for found in entry_problems(project, SCENARIOS_KEY, entries) for p in found]
    if problems:
        raise _first_of(problems)
    if entries:
        project.extra[SCENARIOS_KEY] = entries
    else:
        project.extra.pop(SCENARIOS_KEY, None)


def _views_showing(project: Project, name: str) -> list[dict]:
    return [v for v in project.extra.get("views") or [] if str(v.get("scenario", "")).strip() == name]


def _checked_new_name(project: Project, name: str, scenarios: list[Scenario], ignore: str | None = None) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise ScenarioError.of("serr_name", project.path, loc="name", value=_shown(name))
    if clean == PROJECT_WEIGHTS:
        raise ScenarioError.of("serr_name_reserved", project.path, loc="name", name=PROJECT_WEIGHTS)
    if any(s.name == clean and s.name != ignore for s in scenarios):
        raise ScenarioError.of("serr_exists", project.path, name=clean)
    return clean


def add_scenario(project: Project, name: str, weights: Mapping | None = None, description: str = "",
                 index: int | None = None) -> int:
    """Add a scenario (by default with the project's current weights: "save as scenario");
    returns its position, which :func:`delete_scenario` takes to undo it."""
    scenarios = read_scenarios(project)
    clean = _checked_new_name(project, name, scenarios)
    if weights is None:
        weights = {s.id: s.indicator.weight for s in project.indicator_layers()}
    scenario = Scenario(clean, dict(weights), str(description or ""))
    index = len(scenarios) if index is None else max(0, min(index, len(scenarios)))
    scenarios.insert(index, scenario)
    scenarios_to_extra(project, scenarios)
    return index


def insert_scenario(project: Project, index: int, scenario: Scenario) -> None:
    """Put back a scenario removed by :func:`delete_scenario` (undo), unknown keys included."""
    scenarios = read_scenarios(project)
    _checked_new_name(project, scenario.name, scenarios)
    scenarios.insert(max(0, min(index, len(scenarios))), scenario)
    scenarios_to_extra(project, scenarios)
    for view in project.extra.get("views") or []:
        if view.get("name") in scenario.used_by:
            view["scenario"] = scenario.name




def delete_scenario(project: Project, name: str) -> tuple[int, Scenario]:
    """Remove a scenario; returns (its position, the scenario) for :func:`insert_scenario`."""
    scenarios = read_scenarios(project)
    target = find_scenario(project, name)
    index = next(i for i, s in enumerate(scenarios) if s.name == target.name)
    removed = scenarios.pop(index)
    showing = _views_showing(project, removed.name)
    for view in showing:  # those views show the project's own weights from now on
        view.pop("scenario", None)
    scenarios_to_extra(project, scenarios)
    removed.used_by = [v["name"] for v in showing]
    return index, removed


def rename_scenario(project: Project, old: str, new: str) -> str:
    """Rename; returns the new (trimmed) name. Undo is a rename back."""
    scenarios = read_scenarios(project)
    target = find_scenario(project, old)
    clean = _checked_new_name(project, new, scenarios, ignore=target.name)
    for s in scenarios:
        if s.name == target.name:
            s.name = clean
    scenarios_to_extra(project, scenarios)
    for view in _views_showing(project, target.name):  # the views follow their scenario
        view["scenario"] = clean
    return clean


def set_scenario_weights(project: Project, name: str, weights: Mapping) -> dict[str, float]:
    """Set some of a scenario's weights (a slider moved while it is current); returns the weights
    it had for those ids before (``None`` where it had none and used the project's), for undo."""
    scenarios = read_scenarios(project)
    target = find_scenario(project, name)
    before = {}
    for s in scenarios:
        if s.name == target.name:
            for lid, w in weights.items():
                before[lid] = s.weights.get(lid)
                s.weights[lid] = w
    scenarios_to_extra(project, scenarios)
    return before


def restore_scenario_weights(project: Project, name: str, before: Mapping) -> None:
    """Undo :func:`set_scenario_weights`: ids that had no weight of their own lose it again."""
    scenarios = read_scenarios(project)
    target = find_scenario(project, name)
    for s in scenarios:
        if s.name == target.name:
            for lid, w in before.items():
                if w is None:
                    s.weights.pop(lid, None)
                else:
                    s.weights[lid] = float(w)
    scenarios_to_extra(project, scenarios)


# ------------------------------------------------------------------------------------------------
# Comparing two scenarios


def _workspace(ws_or_project):
    from .workspace import Workspace

    if isinstance(ws_or_project, Project):
        ws = Workspace(ws_or_project)
        ws.update(strict=True)
        return ws
    if ws_or_project.normalised is None:
        ws_or_project.update(strict=True)
    return ws_or_project


def _composite(ws, name: str | None):
    """Scores for scenario ``name`` from the workspace's normalised indicators. Uses ``combine``
    directly rather than ``ws.recombine`` so the workspace's own composite (the map the app shows)
    is left as it was."""
    from .composite import combine

    weights = scenario_weights(ws.project, name)
    vector = [weights.get(lid, 0.0) for lid in ws.normalised.layer_ids]
    return combine(ws.normalised, vector, ws.project.units.classes)


def compare(ws_or_project, a: str | None, b: str | None):
    """One row per unit: ``unit_id, score_a, score_b, rank_a, rank_b, rank_change, class_a, class_b``.

    The indicators are computed and normalised once; each scenario is one recombination.
    ``rank_change = rank_a − rank_b``: positive when the unit rises under B (rank 1 is the top).
    Units without a score (no indicator value) have empty score, rank, class and rank_change.
    """
    import numpy as np
    import pandas as pd

    ws = _workspace(ws_or_project)
    ca, cb = _composite(ws, a), _composite(ws, b)

    def nullable(values: np.ndarray) -> pd.Series:
        v = np.asarray(values, np.int64)
        return pd.Series(pd.array(np.where(v > 0, v, 0), dtype="Int64")).mask(v <= 0)

    rank_a, rank_b = nullable(ca.rank), nullable(cb.rank)
    return pd.DataFrame({
        "unit_id": ws.units.ids,
        "score_a": ca.score.astype(float),
        "score_b": cb.score.astype(float),
        "rank_a": rank_a,
        "rank_b": rank_b,
        "rank_change": rank_a - rank_b,
        "class_a": nullable(ca.cls),
        "class_b": nullable(cb.cls),
    })


def top_movers(table, n: int = 10):
    """The ``n`` units that rise most and the ``n`` that fall most from A to B (rank_change order)."""
    moved = table.dropna(subset=["rank_change"])
    rising = moved[moved["rank_change"] > 0].sort_values(["rank_change", "unit_id"], ascending=[False, True])
    falling = moved[moved["rank_change"] < 0].sort_values(["rank_change", "unit_id"], ascending=[True, True])
    return rising.head(n).reset_index(drop=True), falling.head(n).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Municipalities and population


_MUNICIPALITY_NAMES = ("kommuner", "municipalities")  # as the base map (export.base_layers) finds them
_CODE_COLUMNS = ("code", "kod", "kommunkod", "knkod", "kommun_kod", "id")
_NAME_COLUMNS = ("name", "namn", "kommunnamn", "knnamn", "kommun")


def _pick(columns, candidates) -> str | None:
    lower = {str(c).lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def municipality_layer(ws):
    """The project's municipality polygons: a reference layer named like the base map's
    (``kommuner``/``municipalities``), else the study area's layer. None if neither is loaded."""
    for spec in ws.project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None or spec.sector != "reference" or lay.geo is None:
            continue
        if (spec.layer or spec.id).lower() in _MUNICIPALITY_NAMES:
            return lay.geo
    sa = ws.project.units.study_area
    if sa and sa["layer"] in ws.layers:
        from .where import filter_frame

        frame = ws.layers[sa["layer"]].geo
        return filter_frame(frame, sa["where"]) if sa.get("where") else frame
    return None


def unit_municipalities(ws):
    """(code, name) arrays, one entry per unit. Area units are their own municipality; a grid
    cell belongs to the municipality containing its centre (the rule that puts it in the study
    area). Cells whose centre lies in none get an empty code."""
    import numpy as np
    import shapely

    units = ws.units
    if units.kind == "areas":
        names = units.names if units.names is not None else units.ids
        return units.ids.astype(str), np.asarray(names).astype(str)
    frame = municipality_layer(ws)
    code = np.full(units.n, "", dtype=object)
    name = np.full(units.n, "", dtype=object)
    if frame is None or not len(frame):
        return code, name
    frame = frame.reset_index(drop=True)
    code_col = _pick(frame.columns, _CODE_COLUMNS)
    name_col = _pick(frame.columns, _NAME_COLUMNS)
    codes = frame[code_col].astype(str).to_numpy() if code_col else np.arange(len(frame)).astype(str)
    names = frame[name_col].astype(str).to_numpy() if name_col else codes
    tree = shapely.STRtree(frame.geometry.to_numpy())
    pt, poly = tree.query(shapely.points(units.centres), predicate="intersects")
    # A centre on a shared border touches two municipalities: the first in layer order wins.
    order = np.lexsort((poly, pt))
    pt, poly = pt[order], poly[order]
    first = np.r_[True, pt[1:] != pt[:-1]]
    code[pt[first]] = codes[poly[first]]
    name[pt[first]] = names[poly[first]]
    return code, name


def population_spec(project: Project) -> dict | None:
    """``[project] population = { layer, column }``, checked against the project's layers."""
    spec = project.population  # checked by the schema when the file was read
    if spec is None:
        return None
    if spec["layer"] not in {s.id for s in project.layers}:
        loc = "project.population.layer"
        raise ProjectError.of("perr_population_layer", project.path, loc=loc, id=spec["layer"])
    return {"layer": spec["layer"], "column": spec["column"]}


def unit_population(ws) -> "np.ndarray | None":  # noqa: F821
    """People per unit from the project's population layer, or None without one.

    Points count in the unit that contains them; polygons are shared out by area:
    value × area(polygon ∩ unit) / area(polygon). Population outside every unit is left out.
    """
    import numpy as np
    import pandas as pd
    import shapely

    spec = population_spec(ws.project)
    if spec is None:
        return None
    path, loc = ws.project.path, "project.population"
    lay = ws.layers.get(spec["layer"])
    frame = lay.geo if lay is not None else None
    if frame is None:
        raise ProjectError.of("perr_population_layer", path, loc=f"{loc}.layer", id=spec["layer"])
    if spec["column"] not in frame.columns:
        raise ProjectError.of("perr_population_column", path, loc=f"{loc}.column", column=spec["column"],
                              id=spec["layer"])
    values = pd.to_numeric(frame[spec["column"]], errors="coerce").to_numpy(float)
    geoms = frame.geometry.to_numpy()
    ok = ~np.isnan(values) & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    values, geoms = values[ok], geoms[ok]
    kinds = shapely.get_type_id(geoms)
    if np.isin(kinds, (1, 2, 5)).any():  # LineString, LinearRing, MultiLineString
        raise ProjectError.of("perr_population_lines", path, loc=f"{loc}.layer", id=spec["layer"])
    people = np.zeros(ws.units.n)
    points = np.isin(kinds, (0, 4))
    if points.any():
        _add_points(ws.units, geoms[points], values[points], people)
    if (~points).any():
        _add_polygons(ws.units, geoms[~points], values[~points], people)
    return people


def _add_points(units, geoms, values, people) -> None:
    import numpy as np
    import shapely

    # A multipoint's value is the feature's: it goes to the unit of its first point, as the
    # count indicator places non-point features by one inner point.
    first = shapely.get_point(geoms, 0)
    first = np.where(shapely.get_type_id(geoms) == 0, geoms, first)
    xy = shapely.get_coordinates(first)
    if units.kind == "grid":
        cell = units.grid.cell_of(xy)
        pos = np.clip(np.searchsorted(units.flat, cell), 0, len(units.flat) - 1)
        inside = (cell >= 0) & (units.flat[pos] == cell)
        np.add.at(people, pos[inside], values[inside])
        return
    pt, unit = shapely.STRtree(units.geometry).query(shapely.points(xy), predicate="intersects")
    order = np.lexsort((unit, pt))
    pt, unit = pt[order], unit[order]
    first_hit = np.r_[True, pt[1:] != pt[:-1]] if len(pt) else np.zeros(0, bool)
    np.add.at(people, unit[first_hit], values[pt[first_hit]])


def _add_polygons(units, geoms, values, people) -> None:
    import numpy as np
    import shapely

    area = shapely.area(geoms)
    keep = area > 0
    geoms, values, area = geoms[keep], values[keep], area[keep]
    unit_geoms = units.geometry
    poly, unit = shapely.STRtree(unit_geoms).query(geoms, predicate="intersects")
    shared = shapely.area(shapely.intersection(geoms[poly], unit_geoms[unit]))
    np.add.at(people, unit, values[poly] * shared / area[poly])


def by_municipality(ws, table, people=None):
    """Per municipality: units, mean rank change, units in the top class under A and B and, with
    a population layer, the people living in top-class units under A and B.

    ``people`` (per unit) defaults to :func:`unit_population`. Sorted by the mean rank change,
    risers first.
    """
    import numpy as np
    import pandas as pd

    code, name = unit_municipalities(ws)
    if people is None:
        people = unit_population(ws)
    df = pd.DataFrame({
        "municipality": code, "municipality_name": name,
        "rank_change": table["rank_change"].astype(float),
        "top_a": (table["class_a"] == 1).fillna(False).to_numpy(bool),
        "top_b": (table["class_b"] == 1).fillna(False).to_numpy(bool),
    })
    if people is not None:
        df["people"] = np.asarray(people, float)
        df["people_top_a"] = np.where(df["top_a"], df["people"], 0.0)
        df["people_top_b"] = np.where(df["top_b"], df["people"], 0.0)
    grouped = df.groupby(["municipality", "municipality_name"], sort=True, dropna=False)
    out = grouped.agg(units=("rank_change", "size"), mean_rank_change=("rank_change", "mean"),
                      top_units_a=("top_a", "sum"), top_units_b=("top_b", "sum"))
    if people is not None:
        sums = grouped[["people", "people_top_a", "people_top_b"]].sum()
        out = out.join(sums)
        out["people_top_change"] = out["people_top_b"] - out["people_top_a"]
    out["top_units_change"] = out["top_units_b"] - out["top_units_a"]
    out = out.reset_index()
    return out.sort_values(["mean_rank_change", "municipality"], ascending=[False, True],
                           na_position="last").reset_index(drop=True)
