"""The project file (TOML): what layers, which indicators, what units. Read, validate, save.

The part of the format described in the README is fixed so other tools can write it. Keys we do
not know (written by a newer app, by hand, or by another tool) are kept and written back on save.
"""

from __future__ import annotations

import copy
import math
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from .crs import DEFAULT_CRS, parse_crs
from .errors import ProjectError, SkiktError
from .metadata import LayerMeta
from .sectors import SECTORS
from .where import parse_where

SCHEMA_VERSION = 1
METHODS = ("count", "density", "distance", "coverage", "length", "attribute")
NORMALIZE = ("minmax", "rank", "zscore", "classes")
AGGREGATES = ("sum", "mean", "area_weighted_mean")
CLASS_SCHEMES = ("quantiles", "equal_interval", "natural_breaks")
_ID = re.compile(r"^[a-z0-9_]+$")


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
    extra: dict = field(default_factory=dict)  # unknown top-level keys (views, scenarios, …)
    project_extra: dict = field(default_factory=dict)

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
        d.update(self.extra)
        d["project"] = {**self.project_extra, "title": self.title, "crs": self.crs}
        base = self.base_dir
        d["layers"] = [s.to_dict(base) for s in self.layers]
        d["units"] = self.units.to_dict()
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


def _err(path, msg) -> ProjectError:
    return ProjectError(msg, path)


def _indicator(d: dict, lid: str, path) -> IndicatorSpec:
    d = dict(d)
    known = {"method", "column", "aggregate", "direction", "normalize", "weight", "scheme", "k"}
    extra = {k: d.pop(k) for k in list(d) if k not in known}
    method = d.get("method")
    if method not in METHODS:
        raise ProjectError.of("perr_method", path, id=lid, value=method, known=" | ".join(METHODS))
    spec = IndicatorSpec(method=method, extra=extra)
    spec.column = d.get("column")
    spec.aggregate = d.get("aggregate")
    if method == "attribute" and not spec.column:
        raise ProjectError.of("perr_column", path, id=lid)
    if spec.aggregate is not None and spec.aggregate not in AGGREGATES:
        raise _err(path, f"layer '{lid}': unknown aggregate '{spec.aggregate}' (use {' | '.join(AGGREGATES)})")
    spec.direction = d.get("direction", "high")
    if spec.direction not in ("high", "low"):
        raise _err(path, f"layer '{lid}': direction must be \"high\" or \"low\", not '{spec.direction}'")
    spec.normalize = d.get("normalize", "minmax")
    if spec.normalize not in NORMALIZE:
        raise _err(path, f"layer '{lid}': unknown normalize '{spec.normalize}' (use {' | '.join(NORMALIZE)})")
    try:
        spec.weight = float(d.get("weight", 1.0))
    except (TypeError, ValueError):
        raise _err(path, f"layer '{lid}': weight must be a number") from None
    if not spec.weight >= 0 or spec.weight == float("inf"):
        raise ProjectError.of("perr_weight", path, id=lid, value=d.get("weight"))
    spec.scheme = d.get("scheme", "quantiles")
    if spec.scheme not in CLASS_SCHEMES:
        raise _err(path, f"layer '{lid}': unknown classes scheme '{spec.scheme}' (use {' | '.join(CLASS_SCHEMES)})")
    spec.k = int(d.get("k", 5))
    if not 2 <= spec.k <= 10:
        raise _err(path, f"layer '{lid}': k must be between 2 and 10")
    return spec


def _layer(d: dict, path) -> LayerSpec:
    if not isinstance(d, dict):
        raise _err(path, "every [[layers]] entry must be a table")
    d = dict(d)
    lid = d.get("id")
    if not isinstance(lid, str) or not _ID.match(lid):
        raise _err(path, f"layer id {lid!r} must match [a-z0-9_]+")
    if not d.get("path"):
        raise _err(path, f"layer '{lid}' has no path")
    sector = d.get("sector", "reference")
    if sector not in SECTORS:
        raise ProjectError.of("perr_sector", path, id=lid, value=sector, known=", ".join(SECTORS))
    known = {"id", "path", "sector", "title", "layer", "crs", "where", "geometry", "join", "indicator",
             "meta", "style", "visible", "opacity"}
    spec = LayerSpec(id=lid, path=str(d["path"]), sector=sector, title=str(d.get("title") or lid))
    spec.extra = {k: v for k, v in d.items() if k not in known}
    spec.layer = d.get("layer")
    spec.crs = d.get("crs")
    if spec.crs:
        try:
            parse_crs(spec.crs)
        except SkiktError:
            raise _err(path, f"layer '{lid}': unknown crs '{spec.crs}'") from None
    spec.where = d.get("where")
    if spec.where:
        try:
            parse_where(spec.where)
        except SkiktError as exc:
            raise _err(path, f"layer '{lid}': {exc}") from None
    spec.geometry = d.get("geometry")
    if spec.geometry not in (None, "point", "line", "polygon"):
        raise _err(path, f"layer '{lid}': geometry must be 'point', 'line' or 'polygon'")
    if d.get("join") is not None:
        j = d["join"]
        if not isinstance(j, dict) or not all(j.get(k) for k in ("layer", "left", "right")):
            raise _err(path, f"layer '{lid}': join needs layer, left and right")
        spec.join = dict(j)
    if d.get("indicator") is not None:
        if not isinstance(d["indicator"], dict):
            raise _err(path, f"layer '{lid}': [layers.indicator] must be a table")
        spec.indicator = _indicator(d["indicator"], lid, path)
    spec.meta = LayerMeta.from_dict({**(d.get("meta") or {}), "sector": sector, "title": spec.title})
    spec.style = dict(d.get("style") or {})
    spec.visible = bool(d.get("visible", True))
    spec.opacity = float(d.get("opacity", 1.0))
    return spec


def _units(d: dict, ids: set[str], path) -> UnitsSpec:
    d = dict(d or {})
    known = {"kind", "cell_size", "study_area", "layer", "id", "classes"}
    u = UnitsSpec(extra={k: v for k, v in d.items() if k not in known})
    u.kind = d.get("kind", "grid")
    if u.kind not in ("grid", "areas"):
        raise _err(path, f"units kind must be \"grid\" or \"areas\", not '{u.kind}'")
    if u.kind == "grid":
        try:
            u.cell_size = float(d.get("cell_size", 1000))
        except (TypeError, ValueError):
            raise _err(path, "units cell_size must be a number of metres") from None
        if not u.cell_size > 0:
            raise _err(path, "units cell_size must be positive")
    else:
        u.layer, u.id = d.get("layer"), d.get("id")
        if not u.layer or not u.id:
            raise _err(path, "units kind = \"areas\" needs layer and id")
        if u.layer not in ids:
            raise _err(path, f"units refer to unknown layer id '{u.layer}'")
    sa = d.get("study_area")
    if sa is not None:
        if not isinstance(sa, dict) or not sa.get("layer"):
            raise _err(path, "study_area needs layer (and optionally where)")
        if sa["layer"] not in ids:
            raise ProjectError.of("perr_study_layer", path, ref=sa["layer"])
        if sa.get("where"):
            try:
                parse_where(sa["where"])
            except SkiktError as exc:
                raise _err(path, f"study_area: {exc}") from None
        u.study_area = dict(sa)
    u.classes = int(d.get("classes", 5))
    return u


def project_from_dict(data: dict, path: Path | None = None) -> Project:
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int):
        raise _err(path, f"schema_version must be a whole number, not {version!r}")
    if version > SCHEMA_VERSION:
        raise ProjectError.of("perr_schema", path, version=version, known=SCHEMA_VERSION)
    head = dict(data.get("project") or {})
    proj = Project(path=Path(path).resolve() if path else None)
    proj.title = str(head.pop("title", "Skikt"))
    proj.crs = str(head.pop("crs", DEFAULT_CRS))
    try:
        parse_crs(proj.crs)
    except SkiktError:
        raise _err(path, f"project crs '{proj.crs}' is not a known coordinate system") from None
    proj.project_extra = head
    raw_layers = data.get("layers") or []
    if not isinstance(raw_layers, list):
        raise _err(path, "layers must be written as [[layers]] tables")
    proj.layers = [_layer(d, path) for d in raw_layers]
    ids = [s.id for s in proj.layers]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ProjectError.of("perr_duplicate", path, ids=", ".join(dup))
    for s in proj.layers:
        if s.join and s.join["layer"] not in ids:
            raise ProjectError.of("perr_join_layer", path, id=s.id, ref=s.join["layer"])
    proj.units = _units(data.get("units"), set(ids), path)
    proj.extra = {k: v for k, v in data.items() if k not in ("schema_version", "project", "layers", "units")}
    return proj


def read_project(path) -> Project:
    path = Path(path)
    if not path.exists():
        raise ProjectError.of("perr_not_found", path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ProjectError.of("perr_not_utf8", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError.of("perr_toml", path, detail=str(exc)) from None
    return project_from_dict(data, path)


def write_project(project: Project, path=None) -> Path:
    """Save atomically: write a temporary file next to the target, then rename over it."""
    path = Path(path or project.path).resolve()
    if project.path is None or project.path != path:
        # Re-anchor relative layer paths to the new location.
        for s in project.layers:
            s.path = str(project.resolve(s.path))
        project.path = path
    text = tomli_w.dumps(project.to_dict())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for s in project.layers:
        if os.path.isabs(s.path):
            try:
                s.path = os.path.relpath(s.path, path.parent)
            except ValueError:
                pass
    return path
