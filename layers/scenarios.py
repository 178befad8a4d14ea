"""Scenarios: named weight sets kept in the project file as ``[[scenarios]]`` tables.

```toml
[[scenarios]]
name = "Vård först"
weights = { vard = 4, transport = 1 }   # layer id → weight; ids left out keep the project's weight
description = "…"
```

The project reader keeps ``scenarios`` in ``Project.extra`` untouched (it is not part of the fixed
version-1 format), so this module reads and writes that plain data. Validation reports every
problem as one line with its key path (``scenarios[0].weights.vard: …``, counted from 0 as in
JSON paths). The editing helpers change ``project.extra`` in place and return what an undo
command needs to put it back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ProjectError
from .project import Project

SCENARIOS_KEY = "scenarios"
PROJECT_WEIGHTS = "-"  # stands for "the project's own weights" where a scenario name is asked for


@dataclass
class Scenario:
    name: str
    weights: dict[str, float] = field(default_factory=dict)  # only the ids the scenario sets
    description: str = ""
    extra: dict = field(default_factory=dict)  # keys we do not know, written back unchanged

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

        own = super().text(lang)
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
    f = float(value)
    return int(f) if f.is_integer() else f


def _shown(value) -> str:
    """A value as the user wrote it in TOML, short enough for a one-line message."""
    if isinstance(value, Mapping):
        return "a table"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def _weight(value) -> float | None:
    """The weight as a float, or None when it is not a finite number ≥ 0 (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _raw_entries(project: Project) -> object:
    return project.extra.get(SCENARIOS_KEY, [])


def scenario_problems(project: Project) -> list[ProjectError]:
    """Every problem in the project's ``[[scenarios]]``, each a one-line error naming its key path."""
    raw = _raw_entries(project)
    if isinstance(raw, Mapping) or not isinstance(raw, (list, tuple)):
        return [ScenarioError.of("serr_not_tables", project.path, loc=SCENARIOS_KEY)]
    problems: list[ProjectError] = []
    first_index: dict[str, int] = {}  # name → the entry that has it first
    for i, entry in enumerate(raw):
        loc = f"{SCENARIOS_KEY}[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(ScenarioError.of("serr_entry", project.path, loc=loc))
            continue
        problems += _name_problems(project, entry.get("name"), f"{loc}.name", i, first_index)
        description = entry.get("description", "")
        if not isinstance(description, str):
            problems.append(ScenarioError.of("serr_description", project.path, loc=f"{loc}.description",
                                             value=_shown(description)))
        problems += _weights_problems(project, entry.get("weights", {}), f"{loc}.weights")
    return problems


def _name_problems(project: Project, name, loc: str, index: int, first_index: dict[str, int]) -> list[ProjectError]:
    if not isinstance(name, str) or not name.strip():
        return [ScenarioError.of("serr_name", project.path, loc=loc, value=_shown(name))]
    clean = name.strip()
    if clean == PROJECT_WEIGHTS:
        return [ScenarioError.of("serr_name_reserved", project.path, loc=loc, name=PROJECT_WEIGHTS)]
    if clean in first_index:
        return [ScenarioError.of("serr_duplicate", project.path, loc=loc, name=clean,
                                 first=f"{SCENARIOS_KEY}[{first_index[clean]}]")]
    first_index[clean] = index
    return []


def _weights_problems(project: Project, weights, loc: str) -> list[ProjectError]:
    """Each weight must belong to an indicator layer and be a finite number ≥ 0; together with
    the project's weights for the ids left out they must not all be zero."""
    path = project.path
    if not isinstance(weights, Mapping):
        return [ScenarioError.of("serr_weights_table", path, loc=loc, value=_shown(weights))]
    layer_ids = {s.id for s in project.layers}
    effective = {s.id: float(s.indicator.weight) for s in project.indicator_layers()}
    problems = []
    for lid, value in weights.items():
        wloc = f"{loc}.{lid}"
        if lid not in layer_ids:
            problems.append(ScenarioError.of("serr_unknown_layer", path, loc=wloc, id=lid))
        elif lid not in effective:
            problems.append(ScenarioError.of("serr_not_indicator", path, loc=wloc, id=lid))
        elif _weight(value) is None:
            problems.append(ScenarioError.of("serr_weight", path, loc=wloc, value=_shown(value)))
        else:
            effective[lid] = _weight(value)
    if problems or not effective:
        return problems
    try:
        total = math.fsum(effective.values())
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        return [ScenarioError.of("serr_weight_sum", path, loc=loc)]
    return [ScenarioError.of("serr_zero", path, loc=loc)] if total <= 0 else []


def read_scenarios(project: Project) -> list[Scenario]:
    """The project's scenarios, validated; raises :class:`ScenarioError` on the first problem
    (``err.problems`` lists them all)."""
    problems = scenario_problems(project)
    if problems:
        raise _first_of(problems)
    out = []
    for entry in _raw_entries(project):
        known = ("name", "weights", "description")
        out.append(Scenario(name=entry["name"].strip(),
                            weights={lid: float(w) for lid, w in (entry.get("weights") or {}).items()},
                            description=entry.get("description", ""),
                            extra={k: v for k, v in entry.items() if k not in known}))
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
    """Store scenarios in ``project.extra`` so that saving writes them as ``[[scenarios]]``."""
    if scenarios:
        project.extra[SCENARIOS_KEY] = [s.to_dict() for s in scenarios]
    else:
        project.extra.pop(SCENARIOS_KEY, None)


def _checked_new_name(project: Project, name: str, scenarios: list[Scenario], ignore: str | None = None) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise ScenarioError.of("serr_name", project.path, loc="name", value=_shown(name))
    if clean == PROJECT_WEIGHTS:
        raise ScenarioError.of("serr_name_reserved", project.path, loc="name", name=PROJECT_WEIGHTS)
    if any(s.name == clean and s.name != ignore for s in scenarios):
        raise ScenarioError.of("serr_exists", project.path, name=clean)
    return clean


def _checked_weights(project: Project, weights: Mapping) -> dict[str, float]:
    indicator_ids = {s.id for s in project.indicator_layers()}
    layer_ids = {s.id for s in project.layers}
    out = {}
    for lid, value in weights.items():
        loc = f"weights.{lid}"
        if lid not in layer_ids:
            raise ScenarioError.of("serr_unknown_layer", project.path, loc=loc, id=lid)
        if lid not in indicator_ids:
            raise ScenarioError.of("serr_not_indicator", project.path, loc=loc, id=lid)
        if _weight(value) is None:
            raise ScenarioError.of("serr_weight", project.path, loc=loc, value=_shown(value))
        out[lid] = _weight(value)
    return out


def add_scenario(project: Project, name: str, weights: Mapping | None = None, description: str = "",
                 index: int | None = None) -> int:
    """Add a scenario (by default with the project's current weights: "save as scenario");
    returns its position, which :func:`delete_scenario` takes to undo it."""
    scenarios = read_scenarios(project)
    clean = _checked_new_name(project, name, scenarios)
    if weights is None:
        weights = {s.id: s.indicator.weight for s in project.indicator_layers()}
    scenario = Scenario(clean, _checked_weights(project, weights), str(description or ""))
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


def delete_scenario(project: Project, name: str) -> tuple[int, Scenario]:
    """Remove a scenario; returns (its position, the scenario) for :func:`insert_scenario`."""
    scenarios = read_scenarios(project)
    target = find_scenario(project, name)
    index = next(i for i, s in enumerate(scenarios) if s.name == target.name)
    removed = scenarios.pop(index)
    scenarios_to_extra(project, scenarios)
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
    return clean


def set_scenario_weights(project: Project, name: str, weights: Mapping) -> dict[str, float]:
    """Set some of a scenario's weights (a slider moved while it is current); returns the weights
    it had for those ids before (``None`` where it had none and used the project's), for undo."""
    checked = _checked_weights(project, weights)
    scenarios = read_scenarios(project)
    target = find_scenario(project, name)
    before = {}
    for s in scenarios:
        if s.name == target.name:
            for lid, w in checked.items():
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
    spec = project.project_extra.get("population")
    if spec is None:
        return None
    loc = "project.population"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("layer"), str) \
            or not isinstance(spec.get("column"), str):
        raise ProjectError.of("perr_population", project.path, loc=loc)
    if spec["layer"] not in {s.id for s in project.layers}:
        raise ProjectError.of("perr_population_layer", project.path, loc=f"{loc}.layer", id=spec["layer"])
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
