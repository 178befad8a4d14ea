"""The project file's schema: every key with its type and range, declared once (pydantic v2).

Each field is an ``Annotated`` type whose validator is a :class:`Check`: it knows what it expects
("an integer 2–10") and refuses everything else, strictly. TOML ``true`` is no number, ``"false"``
is no boolean, ``2.9`` is no integer, ``inf`` and ``nan`` are no numbers. A violation becomes one
line with the key's path, indices 0-based in file order::

    sample.toml: layers[3].indicator.k: expected an integer 2–10, got "abc"

Unknown keys are allowed (``extra="allow"``); :mod:`.project` keeps them and writes them back.
``reference_rows()`` lists every key for the README's reference table, from these same models.
"""

import datetime as dt
import json
import math
import re
import unicodedata
from typing import Annotated, Any, Callable

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from . import style
from .crs import parse_crs
from .errors import LoadError, ProjectError, SkiktError
from .i18n import Msg, tr
from .sectors import SECTORS

SCHEMA_VERSION = 1
METHODS = ("count", "density", "distance", "coverage", "length", "attribute")
NORMALIZE = ("minmax", "rank", "zscore", "classes", "piecewise")
COMBINE_METHODS = ("mean", "geometric", "owa")
ROLES = ("exclude",)
AGGREGATES = ("sum", "mean", "area_weighted_mean")
CLASS_SCHEMES = ("quantiles", "equal_interval", "natural_breaks")
DIRECTIONS = ("high", "low")
GEOMETRIES = ("point", "line", "polygon")
UNIT_KINDS = ("grid", "areas")
STYLE_MODES = ("single", "categorized", "graduated")
STYLE_SCHEMES = style.SCHEMES
PALETTES = style.SEQUENTIAL + style.QUALITATIVE
MAX_WEIGHT = 1000
MAX_CELL_SIZE = 100_000  # metres: one cell per 100 km is already coarser than any county
_ID = re.compile(r"^[a-z0-9_]{1,64}$")
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Top-level tables the engine reads from ``Project.extra`` (decision methods): checked here,
# kept there so that saving writes them back exactly as written.
EXTRA_TABLES = ("combine", "ahp")
# Top-level arrays of tables checked entry by entry (a bad entry may be left out by a lenient
# read), in the order they are checked: views name scenarios, so scenarios come first.
ENTRY_TABLES = ("scenarios", "views", "groups")


# ------------------------------------------------------------------------------------------------
# Errors whose nested messages are translated too


def localise(value, lang: str) -> str:
    """A Msg or keyed SkiktError in ``lang``, with any nested Msg parameters in ``lang`` as well."""
    key = getattr(value, "key", None)
    if key is None:
        return str(value)
    params = {k: localise(v, lang) for k, v in value.params.items()}
    return " ".join(tr(key, lang).format(**params).split())


class _Localised:
    def text(self, lang: str = "sv") -> str:
        from pathlib import Path

        body = localise(self, lang)
        return f"{Path(self.path).name}: {body}" if self.path else body


class FieldError(_Localised, ProjectError):
    """One key of the project file is wrong: ``file: key.path: what was expected, what was found``."""

    at: str = ""


class SidecarError(_Localised, LoadError):
    """A ``<file>.meta.toml`` sidecar is wrong."""


def field_error(at: str, detail: Msg, path=None, cls=FieldError):
    err = cls.of("perr_at", path, at=at, detail=detail)
    err.at = at
    return err


def show(value, limit: int = 40) -> str:
    """The value as TOML would write it, short and on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):  # str() of a 5,000-digit int raises: print its head only
        digits = int(value.bit_length() * math.log10(2))
        text = str(value) if digits < 30 else f"{value // 10 ** (digits - 15)}…"
    elif isinstance(value, float):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    elif isinstance(value, str):
        text = _quoted(value)
    elif isinstance(value, (dt.date, dt.time)):  # TOML dates and times (datetime is a date)
        text = value.isoformat()
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v, limit) for v in value[:5]) + (", …" if len(value) > 5 else "") + "]"
    elif isinstance(value, dict):
        items = list(value.items())[:5]
        text = "{ " + ", ".join(f"{_key(k)} = {show(v, limit)}" for k, v in items) + (", … }" if len(value) > 5 else " }")
    else:
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(text: str) -> str:
    """In double quotes, with control and bidi-override characters escaped: the line must read
    the same on any terminal, and a message can never be made to display backwards."""
    body = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in body)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _quoted(key)


# ------------------------------------------------------------------------------------------------
# Checks: one per kind of value


class Check:
    """Validates one value; ``expected`` says in words what is accepted (also for the docs)."""

    def __init__(self, expected: Msg, accept: Callable[[Any], Any]):
        self.expected, self.accept = expected, accept

    def __call__(self, value):
        try:
            return self.accept(value)
        except _Refused as refused:
            raise PydanticCustomError("skikt", "{detail}", {"detail": refused.detail or self._says(value)}) from None
        except (TypeError, ValueError, OverflowError):
            raise PydanticCustomError("skikt", "{detail}", {"detail": self._says(value)}) from None

    def _says(self, value) -> Msg:
        return Msg.of("perr_expected", expected=self.expected, got=show(value))

    def type(self, python_type):
        return Annotated[python_type, PlainValidator(self), self]


class _Refused(Exception):
    def __init__(self, detail: Msg | None = None):
        self.detail = detail


def _no(condition: bool, detail: Msg | None = None) -> None:
    if condition:
        raise _Refused(detail)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def integer(lo: int, hi: int):
    def accept(v):
        _no(not _is_int(v) or not lo <= v <= hi)
        return v
    return Check(Msg.of("exp_int", lo=lo, hi=hi), accept).type(int)


def number(lo: float, hi: float, *, above: bool = False, key: str = "exp_number"):
    """A finite int or float in [lo, hi] (or (lo, hi] with ``above``); never a bool or a text."""
    def accept(v):
        _no(isinstance(v, bool) or not isinstance(v, (int, float)))
        f = float(v)  # OverflowError for a 400-digit integer: refused
        _no(not math.isfinite(f) or f > hi or (f <= lo if above else f < lo))
        return f
    return Check(Msg.of(key, lo=_fmt(lo), hi=_fmt(hi)), accept).type(float)


def _fmt(x) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x}"


def text(*, nonempty: bool = False):
    def accept(v):
        _no(not isinstance(v, str) or (nonempty and not v.strip()))
        return v
    return Check(Msg.of("exp_text_nonempty" if nonempty else "exp_text"), accept).type(str)


def choice(options):
    def accept(v):
        _no(not isinstance(v, str) or v not in options)
        return v
    return Check(Msg.of("exp_choice", choices=", ".join(options)), accept).type(str)


def flag():
    def accept(v):
        _no(not isinstance(v, bool))
        return v
    return Check(Msg.of("exp_bool"), accept).type(bool)


def ident():
    def accept(v):
        _no(not isinstance(v, str) or not _ID.match(v))
        return v
    return Check(Msg.of("exp_id"), accept).type(str)


def colour_name():
    def accept(v):
        _no(not isinstance(v, str))
        from matplotlib.colors import is_color_like  # only when a style names a colour

        _no(not is_color_like(v))
        return v
    return Check(Msg.of("exp_colour"), accept).type(str)


def hex_colour():
    def accept(v):
        _no(not isinstance(v, str) or not _HEX_COLOUR.match(v))
        return v
    return Check(Msg.of("exp_hex_colour"), accept).type(str)


def extent_box():
    """[xmin, ymin, xmax, ymax]: four finite numbers (not booleans) with xmin < xmax, ymin < ymax."""
    def accept(v):
        _no(not isinstance(v, list) or len(v) != 4)
        _no(any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v))
        box = [float(x) for x in v]  # OverflowError for a 400-digit integer: refused
        _no(not all(math.isfinite(x) for x in box) or box[0] >= box[2] or box[1] >= box[3])
        return box
    return Check(Msg.of("exp_extent"), accept).type(list)


def value_curve():
    """[[raw, value], …]: at least two pairs of finite numbers, raw strictly increasing, values 0–1."""
    def accept(v):
        _no(not isinstance(v, list) or len(v) < 2)
        _no(any(not isinstance(p, list) or len(p) != 2 for p in v))
        _no(any(isinstance(x, bool) or not isinstance(x, (int, float)) for p in v for x in p))
        pts = [(float(a), float(b)) for a, b in v]  # OverflowError for a 400-digit integer: refused
        _no(not all(math.isfinite(a) and math.isfinite(b) for a, b in pts))
        _no(any(b <= a for (a, _), (b, _) in zip(pts, pts[1:])))
        _no(any(not 0 <= y <= 1 for _, y in pts))
        return v
    return Check(Msg.of("exp_value_curve"), accept).type(list)


def ahp_matrix():
    """A square table of positive finite numbers; Saaty's scale and reciprocity are checked by
    :func:`skikt.layers.ahp.check_matrix` once the layers are known."""
    def accept(v):
        _no(not isinstance(v, list) or not v or any(not isinstance(r, list) or len(r) != len(v) for r in v))
        _no(any(isinstance(x, bool) or not isinstance(x, (int, float)) for r in v for x in r))
        _no(any(not math.isfinite(float(x)) or float(x) <= 0 for r in v for x in r))
        return v
    return Check(Msg.of("exp_ahp_matrix"), accept).type(list)


def where_filter():
    def accept(v):
        _no(not isinstance(v, str))
        from .where import parse_where

        try:
            parse_where(v)
        except SkiktError as exc:
            raise _Refused(exc) from None
        return v
    return Check(Msg.of("exp_filter"), accept).type(str)


def layer_crs():
    def accept(v):
        _no(not isinstance(v, str) or not v.strip())
        try:
            parse_crs(v)
        except SkiktError:
            raise _Refused() from None
        return v
    return Check(Msg.of("exp_crs"), accept).type(str)


def project_crs():
    """A projected CRS in metres: cell sizes, distances and areas are metres everywhere."""
    def accept(v):
        _no(not isinstance(v, str) or not v.strip())
        try:
            crs = parse_crs(v)
        except SkiktError:
            raise _Refused() from None
        _no(crs.is_geographic, Msg.of("perr_crs_geographic", crs=v))
        _no(crs.is_geocentric, Msg.of("perr_crs_geocentric", crs=v))
        _no(not crs.is_projected, Msg.of("perr_crs_not_projected", crs=v))
        units = {a.unit_name for a in crs.axis_info[:2]}
        _no(not units <= {"metre", "meter"}, Msg.of("perr_crs_unit", crs=v, unit=", ".join(sorted(units)) or "?"))
        _no(_is_mercator(crs), Msg.of("perr_crs_mercator", crs=v))
        return v
    return Check(Msg.of("exp_projected_crs"), accept).type(str)


def _is_mercator(crs) -> bool:
    """Normal-aspect Mercator (web maps' EPSG:3857 too): its 'metres' are 1.7–2.8 real metres at
    Swedish latitudes, so cell sizes and distances would be silently wrong. Transverse is fine."""
    horizontal = crs.sub_crs_list[0] if crs.sub_crs_list else crs
    op = horizontal.coordinate_operation
    name = (op.method_name if op else "").lower()
    return "mercator" in name and "transverse" not in name


# ------------------------------------------------------------------------------------------------
# The models: the file's tables, key by key


class _Table(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class IndicatorModel(_Table):
    method: choice(METHODS)
    column: text(nonempty=True) | None = None
    aggregate: choice(AGGREGATES) | None = None
    direction: choice(DIRECTIONS) = "high"
    normalize: choice(NORMALIZE) = "minmax"
    weight: number(0, MAX_WEIGHT) = 1.0
    scheme: choice(CLASS_SCHEMES) = "quantiles"
    k: integer(2, 10) = 5


class IndicatorExtrasModel(_Table):
    """Indicator keys the engine and the app read from ``IndicatorSpec.extra``."""

    points: value_curve() | None = None  # normalize = "piecewise"
    active: flag() | None = None  # "Räknas i poängen"; off stores weight 0
    weight_when_counted: number(0, MAX_WEIGHT) | None = None  # the weight brought back when on again


class JoinModel(_Table):
    layer: ident()
    left: text(nonempty=True)
    right: text(nonempty=True)


class MetaModel(_Table):
    source: text() = ""
    licence: text() = ""
    year: integer(1000, 2999) | None = None
    description: text() = ""
    illustrative: flag() = False
    sector: choice(tuple(SECTORS)) | None = None  # sidecars may suggest one
    title: text() | None = None


class StyleModel(_Table):
    mode: choice(STYLE_MODES) = "single"
    colour: colour_name() | None = None
    column: text(nonempty=True) | None = None
    scheme: choice(STYLE_SCHEMES) = "quantiles"
    k: integer(2, 10) = 5
    palette: choice(PALETTES) = "viridis"
    size: number(0, 1000, above=True, key="exp_points_above") = 18.0
    line_width: number(0, 50, key="exp_points") = 1.2
    outline: flag() = True
    labels: text(nonempty=True) | None = None


class LayerModel(_Table):
    id: ident()
    path: text(nonempty=True)
    sector: choice(tuple(SECTORS)) = "reference"
    title: text() = ""
    layer: text(nonempty=True) | None = None
    crs: layer_crs() | None = None
    where: where_filter() | None = None
    geometry: choice(GEOMETRIES) | None = None
    join: JoinModel | None = None
    indicator: IndicatorModel | None = None
    meta: MetaModel | None = None
    style: StyleModel | None = None
    visible: flag() = True
    opacity: number(0, 1) = 1.0


class LayerRoleModel(_Table):
    """Layer keys the engine reads from ``LayerSpec.extra`` (constraints)."""

    role: choice(ROLES) | None = None
    exclude_share: number(0, 1, above=True, key="exp_number_above") | None = None


class StudyAreaModel(_Table):
    layer: ident()
    where: where_filter() | None = None


class UnitsModel(_Table):
    kind: choice(UNIT_KINDS) = "grid"
    cell_size: number(0, MAX_CELL_SIZE, above=True, key="exp_metres_above") = 1000.0
    study_area: StudyAreaModel | None = None
    layer: ident() | None = None
    id: text(nonempty=True) | None = None
    classes: integer(2, 10) = 5


class PopulationModel(_Table):
    layer: ident()
    column: text(nonempty=True)


class HeadModel(_Table):
    title: text() = "Skikt"
    crs: project_crs() = "EPSG:3006"
    population: PopulationModel | None = None


# Weights of scenarios and groups: layer id → a number like an indicator's weight.
Weights = dict[str, number(0, MAX_WEIGHT)]


class ScenarioModel(_Table):
    name: text(nonempty=True)
    weights: Weights = {}
    description: text() = ""


class ViewModel(_Table):
    name: text(nonempty=True)
    title: text() = ""
    subtitle: text() = ""
    extent: extent_box() | None = None  # None: the whole study area
    layers: list[ident()] | None = None  # None: the layers' own visibility
    scenario: text(nonempty=True) | None = None  # None: the project's own weights
    notes: text() = ""


class GroupModel(_Table):
    id: ident()
    name: text() = ""
    colour: hex_colour() | None = None
    weights: Weights = {}


class CombineModel(_Table):
    method: choice(COMBINE_METHODS) = "mean"
    alpha: number(0, 1000, above=True, key="exp_number_above") = 1.0  # OWA's Q(p) = p^alpha


class AhpModel(_Table):
    order: list[ident()]
    matrix: ahp_matrix()


ENTRY_MODELS = {"scenarios": ScenarioModel, "views": ViewModel, "groups": GroupModel}


class FileModel(_Table):
    """Everything but the [[layers]] entries, which are checked one by one (a bad one may be
    left out when the app opens a project leniently)."""

    schema_version: integer(1, 10**6) = SCHEMA_VERSION
    project: HeadModel | None = None
    layers: list[Any] = []
    units: UnitsModel | None = None
    scenarios: list[Any] = []
    views: list[Any] = []
    groups: list[Any] = []
    combine: CombineModel | None = None
    ahp: AhpModel | None = None


# ------------------------------------------------------------------------------------------------
# From pydantic's errors to one line each


def at_path(prefix: str, loc: tuple) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-plain", "none", "nullable") or str(part).startswith("function-"):
            continue  # pydantic's names for the branches of ``X | None``, not keys of the file
        else:
            out += f".{part}" if out else str(part)
    return out


def errors_of(exc: ValidationError, prefix: str, path, cls=FieldError) -> list[ProjectError]:
    out, seen = [], set()
    for err in exc.errors():
        at = at_path(prefix, err["loc"])
        if at in seen:  # ``X | None`` reports both branches; one line per key
            continue
        seen.add(at)
        out.append(field_error(at, _detail(err, at), path, cls))
    return out


def _detail(err: dict, at: str):
    kind, value = err["type"], err.get("input")
    if kind == "skikt":
        return err["ctx"]["detail"]
    if kind == "missing":
        return Msg.of("perr_required")
    if kind in ("model_type", "model_attributes_type", "dict_type", "is_instance_of"):
        return Msg.of("perr_expected", expected=Msg.of("exp_table"), got=show(value))
    if kind == "list_type" and at == "layers":
        return Msg.of("perr_expected", expected=Msg.of("exp_layers"), got=show(value))
    if kind == "list_type" and at in ENTRY_TABLES:
        return Msg.of("perr_expected", expected=Msg.of("exp_entries", table=at), got=show(value))
    if kind == "list_type":
        return Msg.of("perr_expected", expected=Msg.of("exp_id_list"), got=show(value))
    return Msg.of("perr_expected", expected=err.get("msg", "?"), got=show(value))


def validate(model: type[BaseModel], data, prefix: str, path, cls=FieldError):
    """(instance, []) or (None, [one error per bad key])."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, errors_of(exc, prefix, path, cls)


def known_keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def reference_rows() -> list[tuple[str, str, str]]:
    """(key path, accepted values, default) for every key, for the README's reference table."""
    tables = [("", FileModel), ("project", HeadModel), ("layers[i]", LayerModel),
              ("layers[i].indicator", IndicatorModel), ("layers[i].indicator", IndicatorExtrasModel),
              ("layers[i]", LayerRoleModel), ("layers[i].join", JoinModel),
              ("layers[i].meta", MetaModel), ("layers[i].style", StyleModel), ("units", UnitsModel),
              ("units.study_area", StudyAreaModel), ("project.population", PopulationModel),
              ("scenarios[i]", ScenarioModel), ("views[i]", ViewModel), ("groups[i]", GroupModel),
              ("combine", CombineModel), ("ahp", AhpModel)]
    rows = []
    for prefix, model in tables:
        for name, info in model.model_fields.items():
            checks = [m for m in _metadata(info) if isinstance(m, Check)]
            if name == "weights":  # a table of id → number: its value check is not the key's
                accepted = str(Msg.of("exp_weights", hi=MAX_WEIGHT))
            elif checks:
                accepted = str(checks[0].expected)
            elif name == "layers" and prefix == "":
                accepted = str(Msg.of("exp_layers"))
            elif name in ENTRY_TABLES and prefix == "":
                accepted = str(Msg.of("exp_entries", table=name))
            elif name in ("layers", "order"):
                accepted = str(Msg.of("exp_id_list"))
            else:
                accepted = str(Msg.of("exp_table"))
            default = "required" if info.is_required() else show(info.default) if info.default not in (None, {}) else "–"
            rows.append((f"{prefix}.{name}" if prefix else name, accepted, default))
    return rows


def _metadata(info) -> list:
    found = list(info.metadata)
    annotation = info.annotation
    for arg in getattr(annotation, "__args__", ()):  # X | None
        found += list(getattr(arg, "__metadata__", ()))
    return found


if __name__ == "__main__":  # python -m skikt.layers.schema: the reference table as Markdown
    print("| key | accepted | default |\n|---|---|---|")
    for key, accepted, default in reference_rows():
        print(f"| `{key}` | {accepted} | {default} |")
