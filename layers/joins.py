"""Join plain tables to area layers by code, surviving what spreadsheets do to codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

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

    @property
    def match_rate(self) -> float:
        return self.matched / self.table_rows if self.table_rows else 0.0

    def lines(self, lang: str = "en") -> list[str]:
        from .i18n import tr

        def listed(values):
            return ", ".join(values[:8]) + (" …" if len(values) > 8 else "")

        out = [tr("join_matched", lang).format(n=self.matched, rows=self.table_rows, rate=f"{self.match_rate:.0%}")]
        if self.padded:
            out.append(tr("join_padded", lang).format(n=self.padded))
        if self.unmatched_values:
            out.append(tr("join_unmatched", lang).format(n=len(self.unmatched_values),
                                                         codes=listed(self.unmatched_values)))
        if self.missing_values:
            out.append(tr("join_no_code", lang).format(n=self.missing_values))
        if self.duplicate_values:
            out.append(tr("join_duplicates", lang).format(n=len(self.duplicate_values),
                                                          codes=listed(self.duplicate_values)))
        if self.areas_without_data:
            out.append(tr("join_areas_without", lang).format(n=len(self.areas_without_data), total=self.areas_total))
        return out


def join_table(table: pd.DataFrame, left: str, areas: gpd.GeoDataFrame, right: str,
               *, source: str = "table") -> tuple[gpd.GeoDataFrame, JoinReport]:
    """Attach ``table`` rows to ``areas`` where table[left] equals areas[right] after normalising.

    Returns the areas (all of them, with NaN where the table had no row) and a report.
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
    report.areas_without_data = [str(v) for v in a.loc[~a["__key"].isin(set(t["__key"])), right]]
    merged = merged.drop(columns="__key")
    return gpd.GeoDataFrame(merged, geometry=areas.geometry.name, crs=areas.crs), report
