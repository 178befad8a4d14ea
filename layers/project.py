"""The project file (TOML): what layers, which indicators, what units. Read, validate, save.

The part of the format described in the README is fixed so other tools can write it. Every key's
type and range is declared once in :mod:`.schema`; this module turns the checked tables into the
in-memory model (:class:`Project` and its specs) and checks what spans several tables (references
between layers, join cycles, the layers and scenarios that [[scenarios]], [[views]] and [[groups]]
name). Those three arrays stay plain tables in ``Project.extra``, checked; scenarios.py, views.py
and groups.py read and edit them there. Keys we do not know (written by a newer app, by hand, or by another
tool) are kept and written back on save, and saving edits the document that was read (tomlkit),
so comments, key order and formatting survive; only changed values are rewritten.
"""

from __future__ import annotations

import copy
import math
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit

from .crs import DEFAULT_CRS
from .errors import ProjectError
from .i18n import Msg
from .metadata import LayerMeta
from .schema import (AGGREGATES, CLASS_SCHEMES, ENTRY_MODELS, ENTRY_TABLES, METHODS, NORMALIZE,  # noqa: F401
                     SCHEMA_VERSION, EXTRA_TABLES, FileModel, HeadModel, IndicatorExtrasModel, IndicatorModel,
                     LayerModel, LayerRoleModel, UnitsModel, field_error,
                     known_keys, show, validate)

# The field that names an entry of each array of tables: saving matches entries by it, so an
# entry keeps its comments and layout when others are added, removed or moved.
ENTRY_NAME = {"layers": "id", "scenarios": "name", "views": "name", "groups": "id"}
PROJECT_WEIGHTS = "-"  # stands for "the project's own weights" where a scenario name is asked for

@dataclass
class IndicatorSpec:
    method: str
    column: str | None = None
    aggregate: str | None = None
    direction: str = "high"
    normalize: str = "minmax"
    weight: float = 1.0
    scheme: str = "quantiles"  # for normalize = "classes"
    k: int = 5
    extra: dict = field(default_factory=dict)

    # Which fields change the raw indicator (data) and which only its normalisation or weight.
    DATA_FIELDS = ("method", "column", "aggregate")

    def data_key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.DATA_FIELDS)

    def to_dict(self) -> dict:
        d = dict(self.extra)
        d["method"] = self.method
        if self.column is not None:
            d["column"] = self.column
        if self.aggregate is not None:
            d["aggregate"] = self.aggregate
        d.update(direction=self.direction, normalize=self.normalize, weight=_num(self.weight))
        if self.normalize == "classes":
            d.update(scheme=self.scheme, k=self.k)
        return d


@dataclass
class LayerSpec:
    id: str
    path: str
    sector: str = "reference"
    title: str = ""
    layer: str | None = None
    crs: str | None = None
    where: str | None = None
    geometry: str | None = None
    join: dict | None = None
    indicator: IndicatorSpec | None = None
    meta: LayerMeta = field(default_factory=LayerMeta)
    style: dict = field(default_factory=dict)
    visible: bool = True
    opacity: float = 1.0
    extra: dict = field(default_factory=dict)

    def load_key(self) -> tuple:
        """Everything that changes what is read from disk."""
        join = tuple(sorted(self.join.items())) if self.join else None
        return (self.path, self.layer, self.crs, self.where, self.geometry, join)

    def to_dict(self, base: Path | None) -> dict:
        d = dict(self.extra)
        path = self.path
        if base is not None and os.path.isabs(path):
            try:
                path = os.path.relpath(path, base)
            except ValueError:  # another drive on Windows
                pass
        d.update(id=self.id, path=Path(path).as_posix(), sector=self.sector, title=self.title)
        for key in ("layer", "crs", "where", "geometry"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.join:
            d["join"] = dict(self.join)
        meta = self.meta.to_dict()
        meta.pop("sector", None)
        meta.pop("title", None)
        if meta:
            d["meta"] = meta
        if self.style:
            d["style"] = dict(self.style)
        if not self.visible:
            d["visible"] = False
        if self.opacity != 1.0:
            d["opacity"] = _num(self.opacity)
        if self.indicator:
            d["indicator"] = self.indicator.to_dict()
        return d


@dataclass
class UnitsSpec:
    kind: str = "grid"
    cell_size: float = 1000.0
    study_area: dict | None = None  # {layer, where}
    layer: str | None = None  # areas
    id: str | None = None  # areas
    classes: int = 5
    extra: dict = field(default_factory=dict)

    def key(self) -> tuple:
        sa = tuple(sorted(self.study_area.items())) if self.study_area else None
        return (self.kind, self.cell_size, sa, self.layer, self.id)

    def to_dict(self) -> dict:
        d = dict(self.extra)
        d["kind"] = self.kind
        if self.kind == "grid":
            d["cell_size"] = _num(self.cell_size)
        else:
            d["layer"] = self.layer
            d["id"] = self.id
        if self.study_area:
            d["study_area"] = dict(self.study_area)
        if self.classes != 5:
            d["classes"] = self.classes
        return d


@dataclass
class Project:
    title: str = "Skikt"
    crs: str = DEFAULT_CRS
    layers: list[LayerSpec] = field(default_factory=list)
    units: UnitsSpec = field(default_factory=UnitsSpec)
    path: Path | None = None
    # Unknown top-level keys, and the checked [[scenarios]], [[views]] and [[groups]] entries as
    # plain tables (scenarios.py, views.py and groups.py read and edit them there).
    extra: dict = field(default_factory=dict)
    project_extra: dict = field(default_factory=dict)
    population: dict | None = None  # [project] population = { layer, column }
    # Entries ([[layers]], [[scenarios]], [[views]], [[groups]]) left out by
    # read_project(lenient=True): one ProjectError each, in file order.
    layer_errors: list = field(default_factory=list, repr=False, compare=False)
    # Ids of the [[layers]] entries left out: views, scenarios and groups may still name them.
    left_out_ids: set = field(default_factory=set, repr=False, compare=False)
    # The file as read (tomlkit document), what to_dict() said then, and whether it began with a
    # BOM: saving changes in the document only what differs from that snapshot.
    document: Any = field(default=None, repr=False, compare=False)
    saved_state: dict | None = field(default=None, repr=False, compare=False)
    bom: bool = field(default=False, repr=False, compare=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def layer(self, layer_id: str) -> LayerSpec:
        for spec in self.layers:
            if spec.id == layer_id:
                return spec
        raise KeyError(layer_id)

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)

    def indicator_layers(self) -> list[LayerSpec]:
        return [s for s in self.layers if s.indicator is not None]

    def to_dict(self) -> dict:
        d = {"schema_version": SCHEMA_VERSION}
        d.update({k: v for k, v in self.extra.items() if k not in ENTRY_TABLES})
        d["project"] = {**self.project_extra, "title": self.title, "crs": self.crs}
        if self.population is not None:
            d["project"]["population"] = dict(self.population)
        base = self.base_dir
        d["layers"] = [s.to_dict(base) for s in self.layers]
        d["units"] = self.units.to_dict()
        # Scenarios, views and groups last: a new file lists them after the layers and units.
        d.update({k: self.extra[k] for k in ENTRY_TABLES if k in self.extra})
        return d

    def copy(self) -> "Project":
        return copy.deepcopy(self)


def check_scorable(project: Project) -> None:
    """Refuse a project that cannot give a priority map: no indicator, or no weight to share.

    A blank map with a legend would look like an answer; one line says why there is none.
    """
    indicators = [s.indicator for s in project.layers if s.indicator is not None]
    if not indicators:
        raise ProjectError.of("perr_no_indicator", project.path)
    try:
        total = math.fsum(float(ind.weight) for ind in indicators)
    except (TypeError, ValueError, OverflowError):
        raise ProjectError.of("perr_weight_sum", project.path) from None
    if not math.isfinite(total):
        raise ProjectError.of("perr_weight_sum", project.path)
    if total <= 0:
        raise ProjectError.of("perr_zero_weights", project.path)


def _num(v):
    f = float(v)
    return int(f) if f.is_integer() else f


# ------------------------------------------------------------------------------------------------
# Parsing and validation


def _indicator_spec(m: IndicatorModel, raw: dict) -> IndicatorSpec:
    extra = {k: v for k, v in raw.items() if k not in known_keys(IndicatorModel)}
    return IndicatorSpec(method=m.method, column=m.column, aggregate=m.aggregate, direction=m.direction,
                         normalize=m.normalize, weight=m.weight, scheme=m.scheme, k=m.k, extra=extra)


def _layer_spec(m: LayerModel, raw: dict) -> LayerSpec:
    title = m.title or m.id
    spec = LayerSpec(id=m.id, path=m.path, sector=m.sector, title=title, layer=m.layer, crs=m.crs,
                     where=m.where, geometry=m.geometry, visible=m.visible, opacity=m.opacity)
    spec.extra = {k: v for k, v in raw.items() if k not in known_keys(LayerModel)}
    spec.join = dict(raw["join"]) if m.join else None
    spec.indicator = _indicator_spec(m.indicator, raw["indicator"]) if m.indicator else None
    spec.meta = LayerMeta.from_dict({**(raw.get("meta") or {}), "sector": m.sector, "title": title})
    spec.style = dict(raw.get("style") or {})
    return spec


def _layer_entry(raw, index: int, path) -> tuple[LayerSpec | None, ProjectError | None]:
    """One [[layers]] entry: its spec, or the first thing wrong with it (one line, with key path)."""
    at = f"layers[{index}]"
    if not isinstance(raw, dict):
        return None, field_error(at, Msg.of("perr_expected", expected=Msg.of("exp_table"), got=show(raw)), path)
    model, errors = validate(LayerModel, raw, at, path)
    if errors:
        return None, errors[0]
    ind = model.indicator
    if ind is not None and ind.method == "attribute" and not ind.column:
        return None, field_error(f"{at}.indicator.column", Msg.of("perr_needs_column"), path)
    problem = _decision_keys(model, raw, at, path)
    if problem is not None:
        return None, problem
    return _layer_spec(model, raw), None


def _decision_keys(model: LayerModel, raw: dict, at: str, path) -> ProjectError | None:
    """Value curves, the score switch and constraint roles: kept in the specs' ``extra`` (the
    engine reads them there), checked here with the same one-line messages as every key."""
    if model.indicator is not None:
        _, errors = validate(IndicatorExtrasModel, raw["indicator"], f"{at}.indicator", path)
        if errors:
            return errors[0]
        if model.indicator.normalize == "piecewise" and "points" not in raw["indicator"]:
            return field_error(f"{at}.indicator.points", Msg.of("perr_points_required"), path)
    roles, errors = validate(LayerRoleModel, raw, at, path)
    if errors:
        return errors[0]
    if roles.role == "exclude" and model.indicator is not None:
        return field_error(f"{at}.role", Msg.of("perr_exclude_indicator"), path)
    if roles.exclude_share is not None and roles.role != "exclude":
        return field_error(f"{at}.exclude_share", Msg.of("perr_share_without_role"), path)
    return None


def _raw_id(raw) -> str | None:
    """The id of an entry, even of a bad one, so references to it can be judged."""
    lid = raw.get("id") if isinstance(raw, dict) else None
    return lid if isinstance(lid, str) else None


def _check_references(proj: Project, bad: dict[str, ProjectError], index: dict[str, int], path) -> None:
    """Joins and units must name a layer that exists and was read; joins must not go round.
    ``index``: each layer's position in the file, for the key path in messages."""
    ids = {s.id for s in proj.layers}

    def resolve(ref: str, at: str) -> None:
        if ref in bad:  # the app may leave a bad layer out, but not one that others stand on
            raise bad[ref]
        if ref not in ids:
            raise field_error(at, Msg.of("perr_ref", ref=ref), path)

    for spec in proj.layers:
        if spec.join:
            at = f"layers[{index[spec.id]}].join.layer"
            if spec.join["layer"] == spec.id:
                raise field_error(at, Msg.of("perr_join_self", id=spec.id), path)
            resolve(spec.join["layer"], at)
    _check_join_cycles(proj, path, index)
    units = proj.units
    if units.kind == "areas":
        for key in ("layer", "id"):
            if getattr(units, key) is None:
                raise field_error(f"units.{key}", Msg.of("perr_required_areas"), path)
        resolve(units.layer, "units.layer")
    if units.study_area:
        resolve(units.study_area["layer"], "units.study_area.layer")
    for spec in proj.layers:
        if spec.extra.get("role") == "exclude" and spec.id in (units.layer, (units.study_area or {}).get("layer")):
            raise field_error(f"layers[{index[spec.id]}].role", Msg.of("perr_exclude_units"), path)
    if proj.population and proj.population["layer"] not in bad:  # only compare needs it: not fatal
        resolve(proj.population["layer"], "project.population.layer")


def _check_join_cycles(proj: Project, path, index: dict[str, int]) -> None:
    target = {s.id: s.join["layer"] for s in proj.layers if s.join}
    for start in target:
        chain, node = [start], target[start]
        while node in target and node not in chain:
            chain.append(node)
            node = target[node]
        if node == start and len(chain) > 1:
            at = f"layers[{index[start]}].join.layer"
            raise field_error(at, Msg.of("perr_join_cycle", chain=" → ".join(chain + [start])), path)


def _units_spec(m: UnitsModel | None, raw) -> UnitsSpec:
    if m is None:
        return UnitsSpec()
    raw = raw or {}
    u = UnitsSpec(kind=m.kind, cell_size=m.cell_size, layer=m.layer, id=m.id, classes=m.classes)
    u.extra = {k: v for k, v in raw.items() if k not in known_keys(UnitsModel)}
    u.study_area = dict(raw["study_area"]) if m.study_area else None
    return u


def _check_version(data: dict, path) -> None:
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise ProjectError.of("perr_schema", path, version=show(version), known=SCHEMA_VERSION)


def project_from_dict(data: dict, path: Path | None = None, *, lenient: bool = False) -> Project:
    """The checked project. Every problem is one ProjectError line with the key's path.

    ``lenient``: a bad [[layers]], [[scenarios]], [[views]] or [[groups]] entry is left out and
    its error kept in ``layer_errors`` (the app opens the rest); anything else wrong, or a bad
    layer that another layer, the units or the study area refers to, is still raised.
    """
    _check_version(data, path)
    top, errors = validate(FileModel, data, "", path)
    if errors:
        raise errors[0]
    head_raw = data.get("project") or {}
    head = top.project or HeadModel()
    proj = Project(path=Path(path).resolve() if path else None, title=head.title, crs=head.crs)
    proj.project_extra = {k: v for k, v in head_raw.items() if k not in known_keys(HeadModel)}
    proj.population = dict(head_raw["population"]) if head.population else None
    proj.extra = {k: v for k, v in data.items()
                  if k not in known_keys(FileModel) or k in ENTRY_TABLES or k in EXTRA_TABLES}

    bad: dict[str, ProjectError] = {}
    file_index: dict[str, int] = {}
    seen: list[str] = []
    for i, raw in enumerate(top.layers):
        spec, error = _layer_entry(raw, i, path)
        lid = spec.id if spec else _raw_id(raw)
        if lid is not None:
            seen.append(lid)
        if error is not None:
            if not lenient:
                raise error
            proj.layer_errors.append(error)
            if lid is not None:
                bad[lid] = error
            continue
        file_index[spec.id] = i
        proj.layers.append(spec)
    proj.left_out_ids = set(bad)
    dup = sorted({i for i in seen if seen.count(i) > 1})
    if dup:
        raise ProjectError.of("perr_duplicate", path, ids=", ".join(dup))
    proj.units = _units_spec(top.units, data.get("units"))
    _check_references(proj, bad, file_index, path)
    if "ahp" in data:  # Saaty's scale, reciprocity and indicator ids: one line now, not at scoring
        from .ahp import project_ahp

        project_ahp(proj)
    for key in ENTRY_TABLES:  # scenarios first: views name them
        if key in data:
            proj.extra[key] = _kept_entries(proj, key, data[key], lenient)
    return proj


def _kept_entries(proj: Project, key: str, entries: list, lenient: bool) -> list:
    """The entries without a problem; strictly, the first problem raises. Leniently each bad
    entry is left out with its first problem in ``layer_errors`` (saving writes it back as it was)."""
    kept = []
    for raw, problems in zip(entries, entry_problems(proj, key, entries)):
        if problems and not lenient:
            raise problems[0]
        if problems:
            proj.layer_errors.append(problems[0])
        else:
            kept.append(raw)
    return kept


# ------------------------------------------------------------------------------------------------
# [[scenarios]], [[views]], [[groups]]: the schema checks each entry's keys, these its references


def entry_problems(project: Project, key: str, entries: list) -> list[list[ProjectError]]:
    """For each entry of ``key`` (scenarios, views or groups), every problem found, one line each
    with its key path (``views[1].extent: …``); an empty list for an entry that is fine."""
    path, model, name_field = project.path, ENTRY_MODELS[key], ENTRY_NAME[key]
    first: dict[str, int] = {}  # name → the entry that has it first
    out = []
    for i, raw in enumerate(entries):
        at = f"{key}[{i}]"
        if not isinstance(raw, dict):
            out.append([field_error(at, Msg.of("perr_expected", expected=Msg.of("exp_table"), got=show(raw)), path)])
            continue
        checked, problems = validate(model, raw, at, path)
        problems += _duplicate(project, key, raw.get(name_field), f"{at}.{name_field}", i, first)
        # References are judged even when a value is wrong, so one reading lists every problem.
        problems += _REFERENCES[key](project, raw, at, checked is not None)
        out.append(problems)
    return out


def _duplicate(project: Project, key: str, name, at: str, index: int, first: dict[str, int]) -> list:
    if not isinstance(name, str) or not name.strip():
        return []
    clean = name.strip()
    if clean == PROJECT_WEIGHTS and key == "scenarios":
        return [ProjectError.of("serr_name_reserved", project.path, loc=at, name=PROJECT_WEIGHTS)]
    if clean in first:
        where = f"{key}[{first[clean]}]"
        if key == "groups":
            return [ProjectError.of("verr_duplicate_id", project.path, loc=at, id=clean, first=where)]
        return [ProjectError.of("serr_duplicate", project.path, loc=at, name=clean, first=where)]
    first[clean] = index
    return []


def _weight_problems(project: Project, raw: dict, at: str) -> tuple[list, dict[str, float]]:
    """Weights may only name indicator layers. Returns the problems and the named weights (whose
    values the schema has judged)."""
    weights = raw.get("weights")
    if not isinstance(weights, dict):
        return [], {}
    layer_ids = {s.id for s in project.layers}
    indicator_ids = {s.id for s in project.indicator_layers()}
    problems, named = [], {}
    for lid, value in weights.items():
        loc = f"{at}.weights.{lid}"
        if lid in project.left_out_ids:  # its layer has a problem of its own, reported already
            continue
        if lid not in layer_ids:
            problems.append(ProjectError.of("serr_unknown_layer", project.path, loc=loc, id=lid))
        elif lid not in indicator_ids:
            problems.append(ProjectError.of("serr_not_indicator", project.path, loc=loc, id=lid))
        else:
            named[lid] = value
    return problems, named


def _scenario_references(project: Project, raw: dict, at: str, valid: bool) -> list:
    problems, named = _weight_problems(project, raw, at)
    if not valid or problems:
        return problems
    # Ids a scenario leaves out keep the project's weight: all of them together must not be zero.
    effective = {s.id: float(s.indicator.weight) for s in project.indicator_layers()} | named
    if effective and math.fsum(effective.values()) <= 0:
        problems.append(ProjectError.of("serr_zero", project.path, loc=f"{at}.weights"))
    return problems


def _view_references(project: Project, raw: dict, at: str, valid: bool) -> list:
    layer_ids = {s.id for s in project.layers} | project.left_out_ids
    shown = raw.get("layers")
    shown = shown if isinstance(shown, list) else []
    problems = [ProjectError.of("serr_unknown_layer", project.path, loc=f"{at}.layers[{j}]", id=lid)
                for j, lid in enumerate(shown) if isinstance(lid, str) and lid not in layer_ids]
    scenario = raw.get("scenario")
    if isinstance(scenario, str) and scenario.strip() not in ("", PROJECT_WEIGHTS):
        names = [e["name"].strip() for e in project.extra.get("scenarios") or []]
        if scenario.strip() not in names:
            known = ", ".join(f'"{n}"' for n in names) or "–"
            problems.append(ProjectError.of("verr_scenario", project.path, loc=f"{at}.scenario",
                                            name=scenario, known=known))
    return problems


def _group_references(project: Project, raw: dict, at: str, valid: bool) -> list:
    # A group's points are all it says: ids it leaves out get none, so they must not all be zero.
    problems, named = _weight_problems(project, raw, at)
    if valid and not problems and math.fsum(float(v) for v in named.values()) <= 0:
        problems.append(ProjectError.of("verr_group_zero", project.path, loc=f"{at}.weights"))
    return problems


_REFERENCES = {"scenarios": _scenario_references, "views": _view_references, "groups": _group_references}


def _read_text(path: Path) -> tuple[str, bool]:
    if not path.exists():
        raise ProjectError.of("perr_not_found", path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProjectError.of("perr_toml", path, detail=exc.strerror or type(exc).__name__) from None
    bom = raw.startswith(b"\xef\xbb\xbf")  # Windows editors write one; TOML itself has none
    try:
        return raw[3 if bom else 0:].decode("utf-8"), bom
    except UnicodeDecodeError:
        raise ProjectError.of("perr_not_utf8", path) from None


def read_project(path, lenient: bool = False) -> Project:
    """Read and check a project file. See :func:`project_from_dict` for ``lenient``."""
    path = Path(path)
    text, bom = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError.of("perr_toml", path, detail=str(exc)) from None
    except (ValueError, RecursionError) as exc:  # 5,000-digit integers, arrays nested 10,000 deep
        raise ProjectError.of("perr_toml", path, detail=type(exc).__name__) from None
    proj = project_from_dict(data, path, lenient=lenient)
    try:
        proj.document = tomlkit.parse(text)
    except Exception:  # noqa: BLE001 - a document tomlkit cannot keep is saved from scratch
        proj.document = None
    proj.bom = bom
    proj.saved_state = copy.deepcopy(proj.to_dict())  # extra's tables are edited in place later
    return proj


# ------------------------------------------------------------------------------------------------
# Saving: edit the document that was read, write it safely


def _is_table(item) -> bool:
    return isinstance(item, dict)


def _merge(table, before: dict, now: dict) -> None:
    """Change in ``table`` (a tomlkit container) only what differs between ``before`` and ``now``.

    Keys nobody changed keep their text, comments and position; a value that changed is replaced
    in place; a sub-table is merged key by key; a key that went away is removed.
    """
    for key, value in now.items():
        old = before.get(key, _MISSING)
        if old == value:  # unchanged since read; a default the file leaves out stays left out
            continue
        if isinstance(value, dict) and isinstance(old, dict) and key in table and _is_table(table[key]):
            _merge(table[key], old, value)
        else:
            table[key] = value
    for key in before:
        if key not in now and key in table:
            del table[key]


_MISSING = object()


_SUB_TABLES = {"layers": ("indicator", "meta", "style")}  # written as [layers.indicator] …


def _new_table(key: str, entry: dict):
    """A new [[key]] entry as a table; its smaller tables inline (``weights = { vard = 4 }``)."""
    table = tomlkit.table()
    for name, value in entry.items():
        if isinstance(value, dict) and name not in _SUB_TABLES.get(key, ()):
            inline = tomlkit.inline_table()
            inline.update(value)
            table.add(name, inline)
        else:
            table.add(name, value)
    return table


def _merge_entries(doc, key: str, before: list[dict], now: list[dict]) -> None:
    """An array of tables ([[layers]], [[views]], …) with entries matched by their id or name:
    kept entries are merged, new ones added, removed ones dropped, and entries this session did
    not read (left out by a lenient read) stay where they were."""
    if key not in doc and not now:
        return
    name = ENTRY_NAME[key]
    entries = list(doc[key]) if key in doc else []
    tables = key not in doc or isinstance(doc[key], tomlkit.items.AoT)
    base = {d[name]: d for d in before}
    by_id: dict[str, Any] = {}
    for e in entries:  # the first entry of a name is the one that was read
        if _is_table(e) and str(e.get(name)) in base:
            by_id.setdefault(str(e.get(name)), e)
    # Entries we do not manage ride along after the managed entry they followed in the file.
    riders: dict[str | None, list] = {}
    anchor = None
    for e in entries:
        eid = str(e.get(name)) if _is_table(e) else None
        if eid in by_id and by_id[eid] is e:
            anchor = eid
        else:
            riders.setdefault(anchor, []).append(e)
    now_ids = [d[name] for d in now]
    renamed = _renamed(before, now, name, by_id)
    result = list(riders.get(None, []))
    for d in now:
        was = renamed.get(d[name], d[name])
        if not tables:
            entry = d  # an inline array written by some tool: its entries are plain values
        elif was in by_id:
            entry = by_id[was]
            _merge(entry, base[was], d)
        else:
            entry = _new_table(key, d)
        result.append(by_id.get(d[name], entry) if not tables and before == now else entry)
        result += riders.get(was, [])
    for gone, rest in riders.items():
        if gone is not None and gone not in now_ids and gone not in renamed.values():
            result += rest
    if [id(t) for t in result] == [id(e) for e in entries]:
        return
    if not result and key != "layers":
        del doc[key]  # the last entry went: no empty key left behind
        return
    if not tables:
        doc[key] = [e.unwrap() if hasattr(e, "unwrap") else e for e in result]
        return
    for table in result:
        _end_with_blank_line(table)
    aot = tomlkit.items.AoT(result, parsed=True)  # parsed: keep each table's own whitespace
    if key in doc:
        doc[key] = aot
    else:
        doc.append(key, aot)


def _renamed(before: list[dict], now: list[dict], name: str, by_id: dict) -> dict[str, str]:
    """new name → old name for entries renamed in place: same position, the old name gone. The
    renamed entry keeps its table, so its comments and layout survive the rename."""
    now_ids = {d[name] for d in now}
    out = {}
    for old, new in zip(before, now):
        if old[name] not in now_ids and new[name] not in by_id and old[name] in by_id:
            out[new[name]] = old[name]
    return out


def _end_with_blank_line(table) -> None:
    """A moved or new [[layers]] entry ends with a blank line, as hand-written ones do."""
    if table.as_string().endswith("\n\n"):
        return
    inner = table  # the blank line goes after the entry's last sub-table ([layers.indicator] …)
    while inner.value.body and isinstance(inner.value.body[-1][1], tomlkit.items.Table):
        inner = inner.value.body[-1][1]
    inner.add(tomlkit.nl())


def _updated_document(project: Project) -> tuple[Any, dict]:
    now = project.to_dict()
    if project.document is None:
        # A new file: [[scenarios]], [[views]] and [[groups]] as arrays of tables after the rest
        # (tomli_w would write short ones as one inline array).
        doc = tomlkit.parse(tomli_w.dumps({k: v for k, v in now.items() if k not in ENTRY_TABLES}))
        for key in ENTRY_TABLES:
            _merge_entries(doc, key, [], _entries(now, key))
        return doc, now
    before = project.saved_state or {}
    doc = project.document
    for key in ENTRY_NAME:
        _merge_entries(doc, key, _entries(before, key), _entries(now, key))
    _merge(doc, {k: v for k, v in before.items() if k not in ENTRY_NAME},
           {k: v for k, v in now.items() if k not in ENTRY_NAME})
    return doc, now


def _entries(state: dict, key: str) -> list[dict]:
    value = state.get(key)
    return value if isinstance(value, list) else []


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a temp file beside ``path`` with the same mode (new files: the user's umask), flush
    and fsync it, rename it over ``path``, and fsync the folder so the rename itself is on disk."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:  # some file systems cannot fsync a folder; the file itself is synced
            pass


def write_project(project: Project, path=None) -> Path:
    """Save atomically, keeping the file's comments, key order, unknown keys and permissions."""
    path = Path(path or project.path).resolve()
    if project.path is None or project.path != path:
        # Re-anchor relative layer paths to the new location.
        for s in project.layers:
            s.path = str(project.resolve(s.path))
        project.path = path
    doc, now = _updated_document(project)
    text = tomlkit.dumps(doc)
    try:
        _atomic_write(path, (("\ufeff" if project.bom else "") + text).encode("utf-8"))
    except OSError as exc:  # read-only folder, full disk, name too long: one line, old file intact
        raise ProjectError.of("perr_save", path, detail=exc.strerror or type(exc).__name__) from None
    project.document, project.saved_state = doc, copy.deepcopy(now)
    for s in project.layers:
        if os.path.isabs(s.path):
            try:
                s.path = os.path.relpath(s.path, path.parent)
            except ValueError:
                pass
    return path
