"""A project brought to life, headless: loaded layers, units, cached indicators, the composite.

Everything the app does to data goes through here, so the CLI, the tests and the GUI share one
path. Caches are keyed by exactly the inputs that matter: a weight change recombines, a
normalisation change renormalises one layer, a path or filter change reloads one layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import indicators as ind
from .ahp import AhpResult, apply_ahp, project_ahp
from .composite import COMBINE_METHODS, Composite, Normalised, combine, normalise
from .exclusions import excluded_by, exclusion_share, is_exclusion
from .errors import SkiktError
from .io import load
from .joins import JoinReport, join_table
from .metadata import LayerMeta, LoadReport, read_sidecar
from .project import LayerSpec, Project
from .units import Units, check_grid_fits, make_area_units, make_grid_units
from .where import filter_frame


PHASE_VISIBLE = "visible layers loaded"  # progress message: the app can draw a first map now
PHASE_UNITS = "units"  # progress message: every layer is loaded, units come next


class Cancelled(Exception):
    """Raised inside a computation when its cancel callback says so."""


@dataclass
class LoadedLayer:
    spec_key: tuple
    frame: gpd.GeoDataFrame | pd.DataFrame
    kind: str  # vector | table
    report: LoadReport
    meta: LayerMeta
    join_report: JoinReport | None = None

    @property
    def geo(self) -> gpd.GeoDataFrame | None:
        """The layer as geometry: the vector itself, or a table joined to its area layer."""
        return self.frame if isinstance(self.frame, gpd.GeoDataFrame) else None


@dataclass
class Workspace:
    project: Project
    crs_override: str | None = None  # CLI --crs: for every file that has none
    layers: dict[str, LoadedLayer] = field(default_factory=dict)
    errors: dict[str, SkiktError] = field(default_factory=dict)  # layer id → what went wrong
    units: Units | None = None
    _units_key: tuple | None = None
    _raw: dict[str, tuple[tuple, ind.RawIndicator]] = field(default_factory=dict)
    _norm: dict[str, tuple[tuple, np.ndarray]] = field(default_factory=dict)
    normalised: Normalised | None = None
    _normalised_key: tuple | None = None
    composite: Composite | None = None
    # Decision methods (issue 12): which layer removes each unit ("" = kept), the AHP result.
    excluded_by: np.ndarray | None = None
    _exclusion_key: tuple | None = None
    ahp: AhpResult | None = None
    _ahp_key: str | None = None

    # -------------------------------------------------------------------------- loading

    def _meta(self, spec: LayerSpec) -> LayerMeta:
        side = read_sidecar(self.project.resolve(spec.path))
        own = spec.meta.to_dict()
        merged = {**side, **{k: v for k, v in own.items() if k not in ("sector", "title")}}
        merged.update(sector=spec.sector, title=spec.title)
        if side.get("illustrative"):
            merged["illustrative"] = True
        return LayerMeta.from_dict(merged)

    def _join_key(self, spec: LayerSpec) -> tuple:
        if not spec.join:
            return ()
        return self.project.layer(spec.join["layer"]).load_key()

    def load_layer(self, spec: LayerSpec) -> LoadedLayer:
        key = (spec.load_key(), self._join_key(spec), self.project.crs, self.crs_override)
        cached = self.layers.get(spec.id)
        if cached is not None and cached.spec_key == key:
            return cached
        path = self.project.resolve(spec.path)
        loaded = load(path, spec.layer, crs=spec.crs or self.crs_override, target_crs=self.project.crs,
                      where=spec.where, geometry=spec.geometry)
        frame, join_report = loaded.frame, None
        if spec.join:
            if loaded.kind != "table":  # a vector file joined to areas lends its attributes only
                frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            area_spec = self.project.layer(spec.join["layer"])
            areas = self.load_layer(area_spec).geo
            if areas is None:
                raise SkiktError(f"layer '{spec.id}': join layer '{area_spec.id}' has no geometry")
            table = frame
            frame, join_report = join_table(table, spec.join["left"], areas, spec.join["right"], source=path.name)
            # Areas the table says nothing about are not part of this layer (nor drawn with it).
            frame = frame[~frame[spec.join["right"]].astype(str).isin(set(join_report.areas_without_data))]
            study = self.study_area_geometries()
            if study is not None:  # the report counts missing rows in the study area only
                join_report = join_table(table, spec.join["left"], areas, spec.join["right"], source=path.name,
                                         study_area=study)[1]
            frame = frame.reset_index(drop=True)
            for line in join_report.lines():
                loaded.report.warnings.append(f"join: {line}")
        elif loaded.kind == "table":
            raise SkiktError.of("err_table_needs_join", path)
        layer = LoadedLayer(key, frame, "vector", loaded.report, self._meta(spec), join_report)
        self.layers[spec.id] = layer
        self.errors.pop(spec.id, None)
        return layer

    def forget(self, layer_id: str) -> None:
        for cache in (self.layers, self._raw, self._norm, self.errors):
            cache.pop(layer_id, None)

    # -------------------------------------------------------------------------- units

    def study_area_geometries(self) -> np.ndarray | None:
        """The study area's polygons if its layer is already loaded (never loads anything)."""
        sa = self.project.units.study_area
        if not sa or sa["layer"] not in self.layers:
            return None
        frame = self.layers[sa["layer"]].geo
        if sa.get("where"):
            frame = filter_frame(frame, sa["where"])
        return frame.geometry.to_numpy()

    def _study_area(self) -> np.ndarray | None:
        sa = self.project.units.study_area
        if not sa:
            return None
        frame = self.load_layer(self.project.layer(sa["layer"])).geo
        if frame is None:
            raise SkiktError(f"study area layer '{sa['layer']}' has no geometry")
        if sa.get("where"):
            frame = filter_frame(frame, sa["where"])
            if frame.empty:
                raise SkiktError(f"study area filter \"{sa['where']}\" matches nothing in layer '{sa['layer']}'")
        if frame.empty:
            raise SkiktError.of("err_study_area_empty", self.project.resolve(self.project.layer(sa["layer"]).path),
                                layer=sa["layer"])
        return frame.geometry.to_numpy()

    def build_units(self) -> Units:
        u = self.project.units
        sa_key = self.project.layer(u.study_area["layer"]).load_key() if u.study_area else None
        area_key = self.project.layer(u.layer).load_key() if u.kind == "areas" else None
        key = (u.key(), sa_key, area_key, self.project.crs)
        if self.units is not None and self._units_key == key:
            return self.units
        study = self._study_area()
        if u.kind == "grid":
            if study is None:
                # Without a study area the grid covers every loaded vector layer.
                frames = [lay.geo for lay in self.layers.values() if lay.geo is not None and not lay.geo.empty]
                if not frames:
                    raise SkiktError("grid units need a study_area or at least one loaded layer")
                b = np.array([f.total_bounds for f in frames])
                study = np.array([shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())])
            check_grid_fits(study, u.cell_size, len(self.project.indicator_layers()), path=self.project.path)
            units = make_grid_units(study, u.cell_size, self.project.crs)
        else:
            areas = self.load_layer(self.project.layer(u.layer)).geo
            if u.id not in areas.columns:
                raise SkiktError(f"units id column '{u.id}' not in layer '{u.layer}'")
            units = make_area_units(areas, u.id, study, layer_id=u.layer,
                                    path=self.project.resolve(self.project.layer(u.layer).path))
        if units.n == 0:
            raise SkiktError("the study area contains no units (check the filter and cell size)")
        self.units, self._units_key = units, key
        self._raw.clear()
        return units

    # -------------------------------------------------------------------------- indicators

    def raw_indicator(self, spec: LayerSpec) -> ind.RawIndicator:
        key = (self.layers[spec.id].spec_key, spec.indicator.data_key(), self._units_key)
        hit = self._raw.get(spec.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        raw = ind.compute(spec.indicator, self.layers[spec.id].geo, self.units, spec.id, self._unit_key(spec))
        self._add_warnings(spec.id, raw.warnings)
        self._raw[spec.id] = (key, raw)
        self._norm.pop(spec.id, None)
        return raw

    def _add_warnings(self, layer_id: str, warnings: list[str]) -> None:
        """Append to a layer's report without changing the report in place: a fork's layers
        share their objects with the workspace the GUI thread is drawing from."""
        layer = self.layers[layer_id]
        new = [w for w in warnings if w not in layer.report.warnings]
        if new:
            report = replace(layer.report, warnings=[*layer.report.warnings, *new])
            self.layers[layer_id] = replace(layer, report=report)

    def _unit_key(self, spec: LayerSpec) -> str | None:
        """The unit id column when this layer's features ARE the area units: the unit layer itself,
        the same data read by another layer id, or a table joined to the unit layer."""
        u = self.project.units
        if u.kind != "areas":
            return None
        unit_spec = self.project.layer(u.layer)
        joined_to_units = bool(spec.join) and spec.join["layer"] == u.layer
        if spec.id == u.layer or spec.load_key() == unit_spec.load_key() or joined_to_units:
            return u.id
        return None

    def _normalised_layer(self, spec: LayerSpec) -> np.ndarray:
        i = spec.indicator
        raw = self.raw_indicator(spec)
        # The raw value's own cache key: what it was computed from, never an object's address.
        points = i.extra.get("points") if i.normalize == "piecewise" else None
        key = (self._raw[spec.id][0], i.normalize, i.direction, i.scheme, i.k, repr(points), self._exclusion_key)
        hit = self._norm.get(spec.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        values = raw.values
        if self.excluded_by is not None and (self.excluded_by != "").any():
            # Excluded units are not candidates: normalised over the remaining units only.
            values = np.where(self.excluded_by != "", np.nan, values)
        n = normalise(values, i.normalize, i.direction, i.scheme, i.k, points)
        self._norm[spec.id] = (key, n)
        return n

    def active_indicators(self) -> list[LayerSpec]:
        return [s for s in self.project.indicator_layers() if s.id in self.layers]

    def weights(self) -> np.ndarray:
        return np.array([s.indicator.weight for s in self.active_indicators()], np.float32)

    # -------------------------------------------------------------------------- the whole run

    def iter_update(self, cancel: Callable[[], bool] | None = None, strict: bool = True) -> Iterator[tuple[float, str]]:
        """Bring everything up to date, yielding (fraction done, what is happening) as it goes.

        With ``strict`` the first bad layer raises; otherwise it is recorded in ``errors`` and
        the rest of the project still loads (the app's behaviour).
        """
        def check():
            if cancel is not None and cancel():
                raise Cancelled()

        specs = self.project.layers
        steps = len(specs) + 2 + len(self.project.indicator_layers())
        done = 0
        live = {s.id for s in specs}
        for gone in [k for k in self.layers if k not in live]:
            self.forget(gone)
        # Visible layers first, so the app can draw a map before the hidden ones have loaded.
        ordered = [s for s in specs if s.visible] + [s for s in specs if not s.visible]
        announced = False
        for spec in ordered:
            if not spec.visible and not announced:
                announced = True
                yield done / steps, PHASE_VISIBLE
            check()
            yield done / steps, spec.title
            try:
                self.load_layer(spec)
            except SkiktError as exc:
                if strict:
                    raise
                self.layers.pop(spec.id, None)
                self.errors[spec.id] = exc
            done += 1
        check()
        if not announced:
            yield done / steps, PHASE_VISIBLE
        yield done / steps, PHASE_UNITS
        self.build_units()
        self._update_exclusions()
        self._update_ahp()
        done += 1
        norms, ids, sectors, keys = [], [], [], []
        for spec in self.active_indicators():
            check()
            yield done / steps, spec.title
            try:
                norms.append(self._normalised_layer(spec))
            except SkiktError as exc:
                if strict:
                    raise
                self.errors[spec.id] = exc
                continue
            ids.append(spec.id)
            sectors.append(spec.sector)
            keys.append(self._norm[spec.id][0])
            done += 1
        key = (tuple(keys), tuple(ids), self._units_key)
        if self.normalised is None or key != self._normalised_key:
            mat = np.vstack(norms) if norms else np.zeros((0, self.units.n), np.float32)
            excluded = self.excluded_by != "" if self.excluded_by is not None else None
            self.normalised = Normalised(ids, sectors, mat, excluded)
            self._normalised_key = key
        yield (steps - 1) / steps, "composite"
        self.recombine()
        yield 1.0, "done"

    def update(self, strict: bool = True, cancel=None) -> Composite:
        for _ in self.iter_update(cancel=cancel, strict=strict):
            pass
        return self.composite

    def recombine(self, weights=None) -> Composite:
        """Scores for new weights, reusing every normalised indicator (the slider path)."""
        ids = self.normalised.layer_ids
        if weights is None:
            weights = [self.project.layer(i).indicator.weight for i in ids]
        method, alpha = self.combine_method()
        self.composite = combine(self.normalised, weights, self.project.units.classes, method, alpha)
        return self.composite

    def set_weight(self, layer_id: str, weight: float) -> Composite:
        self.project.layer(layer_id).indicator.weight = float(weight)
        return self.recombine()

    # -------------------------------------------------------------------------- decision methods

    def combine_method(self) -> tuple[str, float]:
        """[combine] method = "mean" | "geometric" | "owa" and alpha (OWA's Q(p) = p^alpha)."""
        table = self.project.extra.get("combine") or {}
        method, alpha = table.get("method", "mean"), table.get("alpha", 1.0)
        if method not in COMBINE_METHODS:
            raise SkiktError(f"[combine] method: expected one of {', '.join(COMBINE_METHODS)}, got {method!r}",
                             self.project.path)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < float("inf"):
            raise SkiktError(f"[combine] alpha: expected a number above 0, got {alpha!r}", self.project.path)
        return method, float(alpha)

    def _update_exclusions(self) -> None:
        """Which units the role = "exclude" layers remove, recomputed when they or the units change."""
        specs = [s for s in self.project.layers if is_exclusion(s) and s.id in self.layers]
        shares = [exclusion_share(s, self.project.path) for s in specs]
        key = (self._units_key, tuple((s.id, self.layers[s.id].spec_key, sh) for s, sh in zip(specs, shares)))
        if key == self._exclusion_key:
            return
        layers = [(s.id, self.layers[s.id].geo.geometry.to_numpy(), sh)
                  for s, sh in zip(specs, shares) if self.layers[s.id].geo is not None]
        self.excluded_by = excluded_by(self.units, layers) if layers else None
        self._exclusion_key = key

    def _update_ahp(self) -> None:
        """Weights from the [ahp] table, applied when the table changes (a slider may move them
        afterwards; the next change to the table sets them again)."""
        table = self.project.extra.get("ahp")
        key = repr(table)
        if key == self._ahp_key:
            return
        self.ahp = project_ahp(self.project)
        if self.ahp is not None:
            apply_ahp(self.project, self.ahp)
        self._ahp_key = key

    def weight_uncertainty(self, draws: int = 1000, spread: float = 0.2, seed: int | None = None):
        """Monte Carlo over the current weights (layers/uncertainty.py), scored by the project's
        combine method over the units the constraints leave; pass the result to result_table."""
        from .uncertainty import DEFAULT_SEED, monte_carlo

        method, alpha = self.combine_method()
        return monte_carlo(self.normalised, self.composite.weights, draws, spread, self.project.units.classes,
                           method, alpha, DEFAULT_SEED if seed is None else seed)

    # -------------------------------------------------------------------------- output

    def result_table(self, uncertainty=None) -> pd.DataFrame:
        """One row per unit: ids, score, rank, class, overlap, and raw and normalised values;
        with ``uncertainty`` (weight_uncertainty's result) also p_top and rank percentiles."""
        c, u = self.composite, self.units
        data = {"unit_id": u.ids}
        if u.names is not None:
            data["name"] = u.names
        data.update(score=c.score.astype(float), geo_score=c.geo.astype(float), rank=c.rank,
                    priority_class=c.cls.astype(int), overlap=c.overlap.astype(int))
        if self.excluded_by is not None:
            # Excluded units: rank and class empty (not 0), geo_score NaN, and which layer says so.
            out = self.excluded_by != ""
            data["geo_score"] = np.where(out, np.nan, data["geo_score"])
            data["rank"] = pd.array(np.where(out, 0, c.rank), dtype="Int64")
            data["rank"][out] = pd.NA
            data["priority_class"] = pd.array(c.cls.astype(int), dtype="Int64")
            data["priority_class"][out] = pd.NA
            data["excluded_by"] = self.excluded_by
        if uncertainty is not None:
            data.update(uncertainty.columns())
        norm = self.normalised.norm
        for j, lid in enumerate(self.normalised.layer_ids):
            data[f"{lid}_raw"] = self._raw[lid][1].values
            data[f"{lid}_norm"] = norm[j].astype(float)
        df = pd.DataFrame(data)
        if u.kind == "grid":
            df.insert(1, "x", u.centres[:, 0])
            df.insert(2, "y", u.centres[:, 1])
        return df

    # -------------------------------------------------------------------------- threads

    def fork(self) -> "Workspace":
        """A copy another thread can bring up to date while this one stays as it is.

        The copy has its own project and its own cache dicts; it shares the loaded frames, units
        and arrays, which are never changed in place (an update replaces them), so forking costs
        a few dict copies, not data. The app's worker updates a fork and the GUI thread takes
        the results over when it has finished.
        """
        import copy
        from dataclasses import fields

        twin = copy.copy(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (dict, list, set)):
                setattr(twin, f.name, type(value)(value))
        twin.project = copy.deepcopy(self.project)
        return twin
