"""``skikt inspect``: what a file holds, before anything is cleaned or reprojected."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from .crs import crs_label, describe, is_local_crs, suggest_crs
from .i18n import Msg, tr
from .io import geometry_types, library_errors_as_one_line, list_layers, read_raw


def _jsonable(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (str, int, bool)):
        return v
    return str(v)


def inspect_layer(path: Path, layer: str | None) -> dict:
    raw = read_raw(path, layer)
    with library_errors_as_one_line(path):  # odd geometries can make shapely raise here too
        return _describe(raw, path)


def _describe(raw, path: Path) -> dict:
    frame, report = raw.frame, raw.report
    warnings = list(report.warnings)
    info = {
        "name": report.layer or path.stem,
        "kind": raw.kind,
        "feature_count": int(len(frame)),
        "geometry_types": [],
        "crs": None,
        "null_geometries": 0,
        "empty_geometries": 0,
        "invalid_geometries": 0,
        "encoding": report.encoding,
    }
    data = frame
    if raw.kind == "vector":
        geom = frame.geometry
        arr = geom.to_numpy()
        null = geom.isna().to_numpy()
        empty = np.zeros(len(arr), bool)
        empty[~null] = shapely.is_empty(arr[~null])
        present = ~(null | empty)
        invalid = int((~shapely.is_valid(arr[present])).sum()) if present.any() else 0
        info.update(
            geometry_types=geometry_types(geom),
            crs=crs_label(frame.crs),
            null_geometries=int(null.sum()),
            empty_geometries=int(empty.sum()),
            invalid_geometries=invalid,
        )
        if frame.crs is None:
            sugg = suggest_crs(geom[present].total_bounds) if present.any() else []
            crs = " / ".join(describe(s) for s in sugg)
            warnings.append(Msg.of("warn_no_crs", hint=tr("warn_no_crs_hint", "en").format(crs=crs) if sugg else ""))
        elif is_local_crs(frame.crs):
            warnings.append(Msg.of("warn_local_crs", name=frame.crs.name))
        if len({t.replace('Multi', '') for t in info['geometry_types']}) > 1:
            warnings.append(Msg.of("warn_mixed"))
        if invalid:
            warnings.append(Msg.of("warn_invalid", n=invalid))
        if null.any() or empty.any():
            warnings.append(Msg.of("warn_no_geometry", n=int(null.sum() + empty.sum())))
        data = frame.drop(columns=frame.geometry.name)
    info["columns"] = {str(c): str(t) for c, t in data.dtypes.items()}
    info["preview"] = [{str(k): _jsonable(v) for k, v in rec.items()} for rec in data.head(3).to_dict("records")]
    info["warnings"] = warnings
    return info


def inspect_path(path) -> dict:
    path = Path(path)
    names = list_layers(path)
    # Containers address their layers by name; single-layer files (shp, csv, geojson…) need none.
    by_name = len(names) > 1 or path.suffix.lower() in (".gpkg", ".zip", ".xlsx", ".xlsm")
    return {"path": str(path), "layers": [inspect_layer(path, name if by_name else None) for name in names]}


def format_inspection(result: dict) -> str:
    lines = [result["path"]]
    for lay in result["layers"]:
        geo = ", ".join(lay["geometry_types"]) or "-"
        lines.append(f"  layer {lay['name']} ({lay['kind']}): {lay['feature_count']} records; geometry {geo}; "
                     f"crs {lay['crs'] or 'none'}; encoding {lay['encoding'] or '-'}")
        if lay["kind"] == "vector":
            lines.append(f"    null {lay['null_geometries']}, empty {lay['empty_geometries']}, "
                         f"invalid {lay['invalid_geometries']}")
        cols = ", ".join(f"{k} ({v})" for k, v in lay["columns"].items())
        lines.append(f"    columns: {cols}")
        for rec in lay["preview"]:
            lines.append("    | " + "; ".join(f"{k}={v}" for k, v in rec.items()))
        for w in lay["warnings"]:
            lines.append(f"    warning: {w}")
    return "\n".join(lines)
