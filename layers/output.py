"""Score tables: one row per unit, as GeoPackage or CSV. No matplotlib here, so ``skikt score`` starts fast."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from .safe_write import atomic_write, check_output_path, project_inputs, refuse_input_overwrite
from .workspace import Workspace

SCORE_FORMATS = (".gpkg", ".csv")
CSV_BATCH_ROWS = 32_768


def _atomic(path: Path, write, project=None) -> Path:
    """Write through a temporary folder beside ``path`` (see ``safe_write.atomic_write``), never over
    a file ``project`` reads."""
    if project is not None:
        refuse_input_overwrite(project, path)
    keep = project_inputs(project) if project is not None else ()
    return atomic_write(path, write, keep=keep)


def write_scores(ws: Workspace, path, table=None) -> Path:
    """One row per unit. CSV carries x, y of the cell centre (grids); GeoPackage the unit geometry.
    ``table`` replaces ``ws.result_table()`` (``score --groups`` adds columns to it)."""
    # Checked here too, not only by the command line: the app's export comes this way.
    refuse_input_overwrite(ws.project, path)
    path = check_output_path(path, SCORE_FORMATS, "oerr_scores_format")
    df = ws.result_table() if table is None else table.copy()
    # Six decimals is a micrometre for distances and far below any meaningful score difference;
    # it halves the file and the time to write it.
    floats = df.select_dtypes("float").columns
    df[floats] = df[floats].round(6)
    if path.suffix.lower() == ".csv":
        # pyarrow writes 400,000 rows × 20 columns in about a second; pandas' to_csv takes several.
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Rows in batches of CSV_BATCH_ROWS, not pyarrow's default 1,024: the same bytes, and a
        # fifth less CPU for a county's 400,000 rows (less per-batch overhead).
        options = pacsv.WriteOptions(batch_size=CSV_BATCH_ROWS)
        return _atomic(path, lambda p: pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), p, options),
                       ws.project)
    gdf = gpd.GeoDataFrame(df, geometry=ws.units.geometry, crs=ws.project.crs)
    return _atomic(path, lambda p: gdf.to_file(p, layer="scores", driver="GPKG", engine="pyogrio", use_arrow=True),
                   ws.project)
