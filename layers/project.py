"""The project file (TOML): what layers, which indicators, what units. Read, validate, save.

The part of the format described in the README is fixed so other tools can write it. Every key's
type and range is declared once in :mod:`.schema`; this module turns the checked tables into the
in-memory model (:class:`Project` and its specs) and checks what spans several tables (references
between layers, join cycles). Keys we do not know (written by a newer app, by hand, or by another
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
from .schema import (AGGREGATES, CLASS_SCHEMES, METHODS, NORMALIZE, SCHEMA_VERSION, FileModel,  # noqa: F401
                     HeadModel, IndicatorModel, LayerModel, UnitsModel, field_error, known_keys, show, validate)

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
    # [[layers]] entries left out by read_project(lenient=True): one ProjectError each, in file order.
    layer_errors: list = field(default_factory=list, repr=False, compare=False)
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
    return _layer_spec(model, raw), None


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

    ``lenient``: a bad [[layers]] entry is left out and its error kept in ``layer_errors``
    (the app opens the rest); anything else wrong, or a bad layer that another layer, the units
    or the study area refers to, is still raised.
    """
    _check_version(data, path)
    top, errors = validate(FileModel, data, "", path)
    if errors:
        raise errors[0]
    head_raw = data.get("project") or {}
    head = top.project or HeadModel()
    proj = Project(path=Path(path).resolve() if path else None, title=head.title, crs=head.crs)
    proj.project_extra = {k: v for k, v in head_raw.items() if k not in known_keys(HeadModel)}
    proj.extra = {k: v for k, v in data.items() if k not in known_keys(FileModel)}

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
    dup = sorted({i for i in seen if seen.count(i) > 1})
    if dup:
        raise ProjectError.of("perr_duplicate", path, ids=", ".join(dup))
    proj.units = _units_spec(top.units, data.get("units"))
    _check_references(proj, bad, file_index, path)
    return proj


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
    proj.saved_state = proj.to_dict()
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
        if old == value and key in table:
            continue
        if isinstance(value, dict) and isinstance(old, dict) and key in table and _is_table(table[key]):
            _merge(table[key], old, value)
        else:
            table[key] = value
    for key in before:
        if key not in now and key in table:
            del table[key]


_MISSING = object()


def _new_layer_table(layer: dict):
    return tomlkit.parse(tomli_w.dumps({"layers": [layer]}))["layers"][0]


def _merge_layers(doc, before: list[dict], now: list[dict]) -> None:
    """[[layers]] matched by id: kept entries are merged, new ones added, removed ones dropped,
    and entries this session did not read (left out by a lenient read) stay where they were."""
    entries = list(doc["layers"]) if "layers" in doc else []
    tables = "layers" not in doc or isinstance(doc["layers"], tomlkit.items.AoT)
    base = {d["id"]: d for d in before}
    by_id = {str(e.get("id")): e for e in entries if _is_table(e) and str(e.get("id")) in base}
    # Entries we do not manage ride along after the managed entry they followed in the file.
    riders: dict[str | None, list] = {}
    anchor = None
    for e in entries:
        eid = str(e.get("id")) if _is_table(e) else None
        if eid in by_id and by_id[eid] is e:
            anchor = eid
        else:
            riders.setdefault(anchor, []).append(e)
    now_ids = [d["id"] for d in now]
    result = list(riders.get(None, []))
    for d in now:
        if not tables:
            entry = d  # an inline array written by some tool: its entries are plain values
        elif d["id"] in by_id:
            entry = by_id[d["id"]]
            _merge(entry, base[d["id"]], d)
        else:
            entry = _new_layer_table(d)
        result.append(by_id.get(d["id"], entry) if not tables and before == now else entry)
        result += riders.get(d["id"], [])
    for gone, rest in riders.items():
        if gone is not None and gone not in now_ids:
            result += rest
    if [id(t) for t in result] == [id(e) for e in entries]:
        return
    if not tables:
        doc["layers"] = [e.unwrap() if hasattr(e, "unwrap") else e for e in result]
        return
    for table in result:
        _end_with_blank_line(table)
    aot = tomlkit.items.AoT(result, parsed=True)  # parsed: keep each table's own whitespace
    if "layers" in doc:
        doc["layers"] = aot
    else:
        doc.append("layers", aot)


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
        return tomlkit.parse(tomli_w.dumps(now)), now
    before = project.saved_state or {}
    doc = project.document
    _merge_layers(doc, before.get("layers", []), now["layers"])
    _merge(doc, {k: v for k, v in before.items() if k != "layers"}, {k: v for k, v in now.items() if k != "layers"})
    return doc, now


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
    project.document, project.saved_state = doc, now
    for s in project.layers:
        if os.path.isabs(s.path):
            try:
                s.path = os.path.relpath(s.path, path.parent)
            except ValueError:
                pass
    return path
