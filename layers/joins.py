"""Join plain tables to area layers by code, surviving what spreadsheets do to codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import SkiktError


def normalise_codes(values: pd.Series, width: int | None = None) -> pd.Series:
    """Codes as text: '114', 114, 114.0 and ' 0114 ' all become '0114' when ``width`` is 4."""
    s = values.astype("string").str.strip()
    s = s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    if width:
        digits = s.str.fullmatch(r"\d+").fillna(False)
        s = s.where(~digits, s.str.zfill(width))
    return s


def code_width(codes: pd.Series) -> int | None:
    """The fixed width of all-digit codes ('0114' → 4), or None when codes are not like that."""
    s = codes.dropna().astype(str).str.strip()
    if s.empty or not s.str.fullmatch(r"\d+").all():
        return None
    lengths = s.str.len().unique()
    return int(lengths[0]) if len(lengths) == 1 else None


# The texts that change for exactly one ("1 rad matchade", "1 row matched").
SINGULAR = {"join_matched": "join_matched_one", "join_unmatched": "join_unmatched_one",
            "join_no_code": "join_no_code_one", "join_padded": "join_padded_one"}


@dataclass
class JoinReport:
    table_rows: int
    matched: int
    unmatched_values: list[str] = field(default_factory=list)
    missing_values: int = 0
    duplicate_values: list[str] = field(default_factory=list)
    areas_without_data: list[str] = field(default_factory=list)
    padded: int = 0
    areas_total: int = 0
    # True when areas_total and areas_without_data count only the areas in the study area.
    in_study_area: bool = False

    @property
    def match_rate(self) -> float:
        return self.matched / self.table_rows if self.table_rows else 0.0

    def lines(self, lang: str = "en") -> list[str]:
        from .i18n import tr

        def listed(values):
            return ", ".join(values[:8]) + (" …" if len(values) > 8 else "")

        def counted(key: str, n: int) -> str:
            """The singular text ("1 rad", "1 row") where there is one for exactly one."""
            return tr(SINGULAR.get(key, key) if n == 1 else key, lang)

        out = [counted("join_matched", self.table_rows).format(n=self.matched, rows=self.table_rows,
                                                                rate=f"{self.match_rate:.0%}")]
        if self.padded:
            out.append(counted("join_padded", self.padded).format(n=self.padded))
        if self.unmatched_values:
            out.append(counted("join_unmatched", len(self.unmatched_values)).format(
                n=len(self.unmatched_values), codes=listed(self.unmatched_values)))
        if self.missing_values:
            out.append(counted("join_no_code", self.missing_values).format(n=self.missing_values))
        if self.duplicate_values:
            out.append(tr("join_duplicates", lang).format(n=len(self.duplicate_values),
                                                          codes=listed(self.duplicate_values)))
        if self.areas_without_data:
            n = len(self.areas_without_data)
            key = ("join_area_without_in" if n == 1 else "join_areas_without_in") if self.in_study_area \
                else "join_areas_without"
            out.append(tr(key, lang).format(n=n, total=self.areas_total))
        return out


def in_study_area(areas: gpd.GeoDataFrame, study_area) -> np.ndarray:
    """Which areas lie in the study area: their inner point (point_on_surface, always inside the
    area) falls in one of the study area's polygons. A municipality sharing only a border with
    the study area is outside."""
    inner = shapely.point_on_surface(areas.geometry.to_numpy())
    tree = shapely.STRtree(np.asarray(study_area))
    hit = tree.query(inner, predicate="within")
    mask = np.zeros(len(areas), bool)
    mask[hit[0]] = True
    return mask


def join_table(table: pd.DataFrame, left: str, areas: gpd.GeoDataFrame, right: str,
               *, source: str = "table", study_area=None) -> tuple[gpd.GeoDataFrame, JoinReport]:
    """Attach ``table`` rows to ``areas`` where table[left] equals areas[right] after normalising.

    Returns the areas (all of them, with NaN where the table had no row) and a report. With
    ``study_area`` (polygons), the report's "areas without a row" counts only the areas in the
    study area: a Stockholm table is not short of rows for the rest of Sweden.
    """
    if left not in table.columns:
        raise SkiktError(f"{source}: join column '{left}' not in table (columns: {', '.join(map(str, table.columns))})")
    if right not in areas.columns:
        raise SkiktError(f"{source}: join column '{right}' not in area layer (columns: {', '.join(map(str, areas.columns))})")
    area_codes = normalise_codes(areas[right])
    width = code_width(area_codes)
    raw = normalise_codes(table[left])
    keys = normalise_codes(table[left], width)
    padded = int(((raw != keys) & raw.notna()).sum())
    report = JoinReport(table_rows=len(table), matched=0, padded=padded, areas_total=len(areas))
    report.missing_values = int(keys.isna().sum())
    valid = set(area_codes.dropna())
    in_areas = keys.isin(valid).fillna(False)
    report.matched = int(in_areas.sum())
    report.unmatched_values = [str(v) for v in table.loc[~in_areas & keys.notna(), left].astype(str)]
    dup = keys[keys.duplicated() & keys.notna()]
    report.duplicate_values = sorted(set(dup.astype(str)))
    t = table.copy()
    t["__key"] = keys
    t = t[t["__key"].notna()].drop_duplicates("__key").drop(columns=[left])
    a = areas.copy()
    a["__key"] = area_codes
    clash = [c for c in t.columns if c in a.columns and c != "__key"]
    t = t.rename(columns={c: f"{c}_table" for c in clash})
    merged = a.merge(t, on="__key", how="left")
    without = ~a["__key"].isin(set(t["__key"])).to_numpy()
    if study_area is not None and len(study_area):
        inside = in_study_area(areas, study_area)
        without &= inside
        report.areas_total, report.in_study_area = int(inside.sum()), True
    report.areas_without_data = [str(v) for v in a.loc[without, right]]
    merged = merged.drop(columns="__key")
    return gpd.GeoDataFrame(merged, geometry=areas.geometry.name, crs=areas.crs), report


def match_rate(table: pd.DataFrame, left: str, areas: gpd.GeoDataFrame, right: str) -> float:
    """Share of the table's rows whose code (normalised as join_table does) names an area."""
    area_codes = normalise_codes(areas[right])
    return _rate(table[left], set(area_codes.dropna()), code_width(area_codes))


def _rate(column: pd.Series, codes: set, width: int | None) -> float:
    if not len(column) or not codes:
        return 0.0
    return float(normalise_codes(column, width).isin(codes).fillna(False).mean())


def best_join(table: pd.DataFrame, area_layers: dict[str, gpd.GeoDataFrame]) -> tuple[str, str, str, float] | None:
    """The (area layer id, table column, area column, rate) with the highest match rate; on a
    tie the earlier layer and column win, so the result does not depend on set order. None
    when no pair of columns matches a single row."""
    best = None
    for layer_id, areas in area_layers.items():
        area_cols = [c for c in areas.columns if c != areas.geometry.name]
        for right in area_cols:
            area_codes = normalise_codes(areas[right])
            codes, width = set(area_codes.dropna()), code_width(area_codes)
            for left in table.columns:
                if left == "geometry":
                    continue
                rate = _rate(table[left], codes, width)
                if rate > 0 and (best is None or rate > best[3]):
                    best = (layer_id, str(left), str(right), rate)
    return best
