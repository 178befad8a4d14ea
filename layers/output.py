"""Score tables: one row per unit, as GeoPackage or CSV. No matplotlib here, so ``skikt score`` starts fast."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import geopandas as gpd

from .errors import SkiktError
from .workspace import Workspace


def _atomic(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, so a failed export leaves nothing half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_scores(ws: Workspace, path) -> Path:
    """One row per unit. CSV carries x, y of the cell centre (grids); GeoPackage the unit geometry."""
    path = Path(path)
    df = ws.result_table()
    # Six decimals is a micrometre for distances and far below any meaningful score difference;
    # it halves the file and the time to write it.
    floats = df.select_dtypes("float").columns
    df[floats] = df[floats].round(6)
    ext = path.suffix.lower()
    if ext == ".csv":
        # pyarrow writes 400,000 rows × 20 columns in about a second; pandas' to_csv takes several.
        import pyarrow as pa
        import pyarrow.csv as pacsv

        return _atomic(path, lambda p: pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), p))
    if ext == ".gpkg":
        gdf = gpd.GeoDataFrame(df, geometry=ws.units.geometry, crs=ws.project.crs)
        return _atomic(path, lambda p: gdf.to_file(p, layer="scores", driver="GPKG", engine="pyogrio",
                                                   use_arrow=True))
    raise SkiktError(f"cannot write scores as '{ext}' (use .gpkg or .csv)", path)
