"""Read every file format regions actually send, into a GeoDataFrame (or DataFrame) in the project CRS.

Reading goes through geopandas' pyogrio engine; CSV and Excel are read by pandas because the
Swedish conventions (``;`` separators, decimal commas, cp1252, codes with leading zeros) need
handling that GDAL's CSV driver does not do. Source files are opened read-only and never written.
"""

from __future__ import annotations

import csv
import io as _io
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .crs import DEFAULT_CRS, crs_label, parse_crs, suggest_crs
from .errors import CRSRequired, LoadError, SkiktError
from .i18n import Msg
from .metadata import LoadReport
from .where import filter_frame

VECTOR_EXTS = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite"}
TABLE_EXTS = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm"}
SUPPORTED_EXTS = VECTOR_EXTS | TABLE_EXTS | {".zip"}

# Column-name pairs that carry point coordinates, (x, y). Lat/lon names declare WGS 84; the
# others say nothing about the CRS, so such files need one to be given.
_COORD_PAIRS = [
    ("lon", "lat"), ("lng", "lat"), ("long", "lat"), ("longitude", "latitude"),
    ("longitud", "latitud"), ("x", "y"), ("e", "n"), ("easting", "northing"),
    ("e_sweref", "n_sweref"), ("ost", "nord"), ("öst", "nord"), ("x_koord", "y_koord"),
]
_WGS84_NAMES = {"lat", "latitude", "latitud"}

# The same by shapely type id; per-feature geom_type strings cost half a second at 400,000 features.
FAMILY_BY_TYPE_ID = np.array(["point", "line", "line", "polygon", "point", "line", "polygon", "other"])


def geometry_families(geoms) -> np.ndarray:
    """'point' | 'line' | 'polygon' | 'other' for each geometry ('other' for None too)."""
    ids = shapely.get_type_id(np.asarray(geoms, dtype=object))
    return np.where(ids >= 0, FAMILY_BY_TYPE_ID[np.clip(ids, 0, 7)], "other")


@dataclass
class Loaded:
    """A layer as read: ``frame`` is a GeoDataFrame for vectors, a DataFrame for tables."""

    frame: pd.DataFrame
    kind: str  # "vector" | "table"
    report: LoadReport


# --------------------------------------------------------------------------------------------
# Files and layers


def _check_file(path: Path) -> None:
    if not path.exists():
        raise LoadError.of("err_not_found", path)
    if path.is_dir():
        raise LoadError.of("err_folder", path)
    if path.stat().st_size == 0:
        raise LoadError.of("err_empty", path)
    if path.suffix.lower() not in SUPPORTED_EXTS:
        raise LoadError.of("err_format", path, ext=path.suffix or "–")


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    except zipfile.BadZipFile:
        raise LoadError.of("err_bad_zip", path) from None
    members = [n for n in names if Path(n).suffix.lower() in VECTOR_EXTS | TABLE_EXTS - {".txt"}]
    if not members:
        raise LoadError.of("err_zip_empty", path)
    return members


def list_layers(path) -> list[str]:
    """Layer names in a file: GeoPackage layers, zip members, Excel sheets, or the file stem."""
    path = Path(path)
    _check_file(path)
    ext = path.suffix.lower()
    if ext == ".zip":
        return _zip_members(path)
    if ext in (".xlsx", ".xlsm"):
        try:
            import openpyxl

            wb = openpyxl.load_workbook(path, read_only=True)
            return list(wb.sheetnames)
        except Exception as exc:  # openpyxl raises many types for non-Excel bytes
            raise LoadError(f"not a readable Excel workbook ({type(exc).__name__})", path) from None
    if ext in TABLE_EXTS:
        return [path.stem]
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's own warnings; the user gets our one line
            return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        raise _gdal_error(exc, path) from None


def _gdal_error(exc: Exception, path) -> LoadError:
    """GDAL's message, boiled down to one line the user can act on."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^(/vsizip/)?\S*?: ", "", text)
    low = text.lower()
    if "not recognized as" in low or "not a supported file format" in low:
        return LoadError.of("err_not_gis", path)
    if "sqlite" in low or "malformed" in low or "not a database" in low:
        return LoadError.of("err_gpkg_damaged", path)
    if "unexpected end" in low or "truncated" in low or "short read" in low or "eof" in low:
        return LoadError.of("err_truncated", path, detail=text[:120])
    return LoadError.of("err_cannot_read", path, detail=text[:160])


# --------------------------------------------------------------------------------------------
# Shapefile encodings


def _dbf_bytes(path: Path, member: str | None) -> tuple[bytes | None, str | None]:
    """(dbf bytes, .cpg text) for a shapefile on disk or inside a zip."""
    if member is None:
        dbf = path.with_suffix(".dbf")
        if not dbf.exists():
            dbf = path.with_suffix(".DBF")
        cpg = path.with_suffix(".cpg")
        data = dbf.read_bytes() if dbf.exists() else None
        cpg_text = cpg.read_text(errors="replace").strip() if cpg.exists() else None
        return data, cpg_text
    with zipfile.ZipFile(path) as z:
        names = {n.lower(): n for n in z.namelist()}
        stem = member[: -len(Path(member).suffix)]
        dbf = names.get((stem + ".dbf").lower())
        cpg = names.get((stem + ".cpg").lower())
        data = z.read(dbf) if dbf else None
        cpg_text = z.read(cpg).decode("ascii", "replace").strip() if cpg else None
        return data, cpg_text


def detect_dbf_encoding(data: bytes | None, cpg: str | None) -> tuple[str | None, str | None]:
    """Choose the encoding of a .dbf's text from its bytes; returns (encoding, warning).

    GDAL trusts a .cpg file and otherwise the dBase language byte, defaulting to Latin-1. Real
    files break both: UTF-8 exports without .cpg are common. Valid multi-byte UTF-8 almost never
    arises by chance from cp1252 text, so content wins over labels.
    """
    if not data or len(data) < 32:
        return (cpg or None), None
    header_len = int.from_bytes(data[8:10], "little")
    body = data[header_len:]
    if body.isascii():
        return (cpg or "UTF-8"), None
    try:
        body.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    label = (cpg or "").upper().replace("-", "").replace("_", "")
    if utf8:
        warn = None if (not cpg or label in ("UTF8", "65001")) else Msg.of("warn_cpg_utf8", cpg=cpg)
        return "UTF-8", warn
    if label in ("UTF8", "65001"):
        return "cp1252", Msg.of("warn_cpg_not_utf8")
    if cpg:
        return cpg, None
    return "cp1252", None


# --------------------------------------------------------------------------------------------
# Tables (CSV, TSV, Excel)


def _decode_text(raw: bytes, path: Path) -> tuple[str, str]:
    if b"\x00" in raw[:4096]:
        raise LoadError.of("err_binary_table", path)
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def _sniff_delimiter(text: str, ext: str) -> str:
    if ext == ".tsv":
        return "\t"
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ";,\t|"}
        return max(counts, key=counts.get) if max(counts.values()) else ","


_SWEDISH_NUMBER = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0]\d{3})*(?:,\d+)?$|^[+-]?\d+(?:,\d+)?$")
_DOT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_CODE_NAME = re.compile(r"(kod|code|^id$|_id$|nr$|nummer)", re.IGNORECASE)


def _convert_column(name: str, s: pd.Series) -> pd.Series:
    """Turn a text column into numbers when every value is a number, keeping codes as text.

    A column counts as a code when its name says so or any value has a leading zero: '0114' must
    stay '0114', and '114' in a column named Kommunkod is still a code to be normalised on join.
    """
    vals = s.dropna().astype(str).str.strip()
    vals = vals[vals != ""]
    if vals.empty:
        return s
    if _CODE_NAME.search(str(name)) and vals.str.fullmatch(r"\d+(\.0)?").all():
        return s.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    if vals.str.fullmatch(r"0\d+").any():
        return s.astype("string").str.strip()
    if vals.str.match(_DOT_NUMBER).all():
        return pd.to_numeric(s.astype(str).str.strip().replace("", np.nan), errors="coerce")
    if vals.str.match(_SWEDISH_NUMBER).all():
        cleaned = s.astype(str).str.strip().str.replace(r"[ \u00a0]", "", regex=True).str.replace(",", ".")
        return pd.to_numeric(cleaned.replace("", np.nan), errors="coerce")
    return s


def _convert_table(df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c).strip() for c in df.columns]
    for c in df.columns:
        if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c]):
            df[c] = _convert_column(c, df[c])
    return df


def _read_table(path: Path, layer: str | None, member: str | None) -> tuple[pd.DataFrame, str | None]:
    ext = Path(member or path.name).suffix.lower()
    raw = None
    if member is not None:
        with zipfile.ZipFile(path) as z:
            raw = z.read(member)
    if ext in (".xlsx", ".xlsm"):
        try:
            src = _io.BytesIO(raw) if raw is not None else path
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                df = pd.read_excel(src, sheet_name=layer if layer and layer != path.stem else 0,
                                   dtype=object, engine="openpyxl")
        except ValueError as exc:
            raise LoadError(f"{exc}".split("\n")[0], path) from None
        except Exception as exc:
            raise LoadError(f"not a readable Excel workbook ({type(exc).__name__})", path) from None
        return _convert_table(df), None
    raw = raw if raw is not None else path.read_bytes()
    text, encoding = _decode_text(raw, path)
    if not text.strip():
        raise LoadError.of("err_no_rows", path)
    delim = _sniff_delimiter(text, ext)
    try:
        df = pd.read_csv(_io.StringIO(text), sep=delim, dtype=str, keep_default_na=False,
                         na_values=[""], skipinitialspace=True)
    except Exception as exc:
        raise LoadError(f"cannot parse as a table ({str(exc).splitlines()[0][:120]})", path) from None
    if df.shape[1] < 2:
        raise LoadError.of("err_one_column", path)
    return _convert_table(df), encoding


def _coordinate_columns(df: pd.DataFrame) -> tuple[str, str] | None:
    lower = {str(c).lower().strip(): c for c in df.columns}
    for xn, yn in _COORD_PAIRS:
        if xn in lower and yn in lower:
            x, y = lower[xn], lower[yn]
            if pd.api.types.is_numeric_dtype(df[x]) and pd.api.types.is_numeric_dtype(df[y]):
                return x, y
    return None


def _table_to_points(df: pd.DataFrame, path: Path, report: LoadReport) -> gpd.GeoDataFrame | None:
    cols = _coordinate_columns(df)
    if cols is None:
        return None
    x, y = cols
    xs, ys = df[x].to_numpy(float), df[y].to_numpy(float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    geom = np.full(len(df), None, dtype=object)
    geom[ok] = shapely.points(xs[ok], ys[ok])
    crs = None
    if str(y).lower().strip() in _WGS84_NAMES:
        if ok.any() and (np.abs(xs[ok]).max() > 180 or np.abs(ys[ok]).max() > 90):
            raise LoadError(f"columns '{x}'/'{y}' are named lon/lat but hold values outside degrees", path)
        crs = "EPSG:4326"
        report.warnings.append(Msg.of("warn_coords_wgs84", x=x, y=y))
    else:
        report.warnings.append(Msg.of("warn_coords", x=x, y=y))
    return gpd.GeoDataFrame(df.drop(columns=[x, y]), geometry=gpd.GeoSeries(geom), crs=crs)


# --------------------------------------------------------------------------------------------
# Geometry hygiene


_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"])


def geometry_types(gs: gpd.GeoSeries) -> list[str]:
    arr = gs.to_numpy()
    present = ~shapely.is_missing(arr)
    present[present] = ~shapely.is_empty(arr[present])
    return sorted(set(_TYPE_NAMES[shapely.get_type_id(arr[present])]))


def _polygonal(geom):
    """Keep the polygon parts of what make_valid returned (it may add stray lines or points)."""
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def clean_geometries(gdf: gpd.GeoDataFrame, report: LoadReport, family: str | None, path) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    null = geom.isna().to_numpy()
    empty = np.zeros(len(gdf), bool)
    empty[~null] = shapely.is_empty(geom.to_numpy()[~null])
    report.null_geometries, report.empty_geometries = int(null.sum()), int(empty.sum())
    if null.any() or empty.any():
        report.warnings.append(Msg.of("warn_dropped", null=int(null.sum()), empty=int(empty.sum())))
    gdf = gdf[~(null | empty)].copy()

    fams = pd.Series(geometry_families(gdf.geometry.to_numpy()), index=gdf.index)
    present = sorted(set(fams))
    if len(present) > 1 or family:
        counts = fams.value_counts().to_dict()
        if family is None:
            desc = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            raise LoadError.of("err_mixed", path, types=desc)
        keep = fams == family
        if not keep.any():
            raise LoadError(f"has no {family} geometries (found {', '.join(present)})", path)
        if (~keep).any():
            report.warnings.append(Msg.of("warn_kept_family", kept=int(keep.sum()), family=family,
                                          left=int((~keep).sum())))
        gdf = gdf[keep].copy()

    arr = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        fixed = shapely.make_valid(arr[invalid])
        if (geometry_families(arr) == "polygon").all():
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        arr = arr.copy()
        arr[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(arr, index=gdf.index, crs=gdf.crs))
        report.invalid_repaired = int(invalid.sum())
        report.warnings.append(Msg.of("warn_repaired", n=int(invalid.sum())))
        gone = gdf.geometry.isna() | gdf.geometry.is_empty
        if gone.any():
            gdf = gdf[~gone].copy()
            report.warnings.append(Msg.of("warn_collapsed", n=int(gone.sum())))
    return gdf


# --------------------------------------------------------------------------------------------
# Public entry points


def resolve_member(path: Path, layer: str | None) -> tuple[str | None, str | None]:
    """For a zip: (member, layer-within-member). Elsewhere (None, layer)."""
    if path.suffix.lower() != ".zip":
        return None, layer
    members = _zip_members(path)
    if layer is None:
        if len(members) > 1:
            raise LoadError.of("err_zip_several", path, names=", ".join(members))
        return members[0], None
    for m in members:
        if layer in (m, Path(m).stem, Path(m).name):
            return m, None
    raise LoadError(f"zip has no member '{layer}' (has: {', '.join(members)})", path)


def read_raw(path, layer: str | None = None) -> Loaded:
    """Read a file as it is: no cleaning, no reprojection. Used by ``inspect`` and by ``load``."""
    path = Path(path)
    _check_file(path)
    member, layer = resolve_member(path, layer)
    inner_ext = Path(member or path.name).suffix.lower()
    report = LoadReport(path=str(path), layer=layer or (Path(member).stem if member else None))

    if inner_ext in TABLE_EXTS:
        df, encoding = _read_table(path, layer, member)
        report.encoding = encoding
        points = _table_to_points(df, path, report)
        report.feature_count = len(df)
        if points is not None:
            report.source_crs = crs_label(points.crs)
            return Loaded(points, "vector", report)
        return Loaded(df, "table", report)

    import pyogrio

    source = f"/vsizip/{path.resolve()}/{member}" if member else str(path)
    kwargs = {}
    if inner_ext == ".shp":
        data, cpg = _dbf_bytes(path, member) if member else _dbf_bytes(path, None)
        enc, warn = detect_dbf_encoding(data, cpg)
        report.encoding = enc
        if warn:
            report.warnings.append(warn)
        if enc:
            kwargs["encoding"] = enc
    else:
        report.encoding = "UTF-8"
    if layer is None and inner_ext in (".gpkg", ".sqlite"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                names = [str(n) for n, _ in pyogrio.list_layers(source)]
        except Exception as exc:
            raise _gdal_error(exc, path) from None
        if len(names) > 1:
            raise LoadError.of("err_several_layers", path, names=", ".join(names))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(source, layer=layer, engine="pyogrio", **kwargs)
    except SkiktError:
        raise
    except Exception as exc:
        msg = str(exc)
        if layer and ("not found" in msg.lower() or "layer" in msg.lower() and "exist" in msg.lower()):
            raise LoadError.of("err_no_layer", path, layer=layer) from None
        raise _gdal_error(exc, path) from None
    report.feature_count = len(gdf)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        report.warnings.append(Msg.of("warn_as_table"))
        return Loaded(pd.DataFrame(gdf), "table", report)
    report.source_crs = crs_label(gdf.crs)
    return Loaded(gdf, "vector", report)


def load(path, layer: str | None = None, *, crs=None, target_crs=DEFAULT_CRS,
         where: str | None = None, geometry: str | None = None) -> Loaded:
    """Read, clean and reproject one layer into ``target_crs``.

    ``crs`` is used only when the file has none (or to override a wrong one, with a warning).
    A file without a CRS and without ``crs`` raises :class:`CRSRequired` listing plausible CRSs.
    """
    raw = read_raw(path, layer)
    report = raw.report
    frame = raw.frame
    if where:
        try:
            frame = filter_frame(frame, where)
        except SkiktError as exc:
            raise LoadError(str(exc), path) from None
        report.warnings.append(Msg.of("warn_filter", where=where, kept=len(frame), total=report.feature_count))
    if raw.kind == "table":
        return Loaded(frame.reset_index(drop=True), "table", report)

    gdf = clean_geometries(frame, report, geometry, path)
    if crs is not None:
        given = parse_crs(crs, path=path)
        if gdf.crs is not None and not given.equals(gdf.crs):
            report.warnings.append(Msg.of("warn_crs_override", file=crs_label(gdf.crs), given=crs_label(given)))
        gdf = gdf.set_crs(given, allow_override=True)
    elif gdf.crs is None:
        bounds = gdf.total_bounds if len(gdf) else (0, 0, 0, 0)
        raise CRSRequired(path, suggest_crs(bounds))
    report.source_crs = crs_label(gdf.crs)
    target = parse_crs(target_crs)
    if not target.equals(gdf.crs):
        gdf = gdf.to_crs(target)
        report.reprojected_to = crs_label(target)
    bad = ~np.isfinite(gdf.geometry.bounds.to_numpy()).all(axis=1) if len(gdf) else np.zeros(0, bool)
    if bad.any():
        gdf = gdf[~bad]
        report.warnings.append(Msg.of("warn_unprojectable", n=int(bad.sum())))
    return Loaded(gdf.reset_index(drop=True), "vector", report)
