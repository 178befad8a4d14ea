"""Outputs of the national engine, written tile by tile so the client never holds the whole grid.

* ``.tif``: a Cloud-Optimised GeoTIFF (GDAL's COG driver): bands ``<id>_norm`` …, ``score``,
  ``rank``, ``priority_class``, each band's description its column name; 512-pixel tiles,
  ZSTD with the floating-point predictor, overviews halving until the coarsest fits in 256 pixels (nearest
  neighbour, so a class stays a class); nodata −9999 outside the study
  area and where a normalised value is missing. float32, or float64 when there are more than
  2²⁴ scored cells (a float32 cannot hold every rank above 16,777,216 exactly).
* ``.parquet``: GeoParquet, one row per cell of the study area, geometry = the cell's centre
  point (EPSG of the project), columns x, y, raw and normalised values, score, geo_score,
  rank, priority_class. One row group per tile.
* ``.csv``: the same columns plus unit_id (SCB cell id); a warning above CSV_WARN_ROWS rows.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import SkiktError

NODATA = -9999.0
BLOCK = 512
OVERVIEW_MAX = 256
COG_ZSTD_LEVEL = 1  # zstd's fastest level: the bands are mostly nodata and smooth, it costs little size
CSV_WARN_ROWS = 1_000_000
CSV_BYTES_PER_ROW_AND_COLUMN = 12  # what a CSV value takes, roughly, for the size in the warning
FLOAT32_EXACT = 2**24
SUFFIXES = (".tif", ".tiff", ".parquet", ".csv")


def check_output(path: Path) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise SkiktError(f"{path}: --engine dask writes {', '.join(SUFFIXES)}; not '{path.suffix or path.name}'")
    if not path.parent.exists():
        raise SkiktError(f"{path}: the folder {path.parent} does not exist")


def overview_count(nx: int, ny: int) -> int:
    """Halvings until the whole grid fits in OVERVIEW_MAX pixels, at least one (the app and QGIS
    draw a national extent from the coarsest level)."""
    return max(1, math.ceil(math.log2(max(nx, ny) / OVERVIEW_MAX)))


def band_names(layer_ids: list[str], extra_names: list[str] = ()) -> list[str]:
    """The COG's bands: the README's layout, then the --groups / --uncertainty columns if asked for."""
    return [f"{lid}_norm" for lid in layer_ids] + ["score", "rank", "priority_class", *extra_names]


def write_output(result, client, path: Path, run) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        write_cog(result, client, path, run)
        return []
    if suffix == ".parquet":
        write_table(result, client, path, run, parquet=True)
        return []
    return write_table(result, client, path, run, parquet=False)


def _tile_bands(scored, nodata: float, dtype, extra_names: list[str] = ()) -> np.ndarray:
    """(bands, ny, nx) of one tile, north row first as GeoTIFF wants it. A group's rank 0 (no
    score) is nodata, as the tables leave it empty."""
    w = scored.tile.window
    extras = [np.where(scored.extra[name] == 0, np.nan, scored.extra[name]) if name.endswith("_rank")
              else scored.extra[name] for name in extra_names]
    rank, cls = scored.rank, scored.cls
    if scored.excluded is not None:  # a cell a constraint removes has no rank or class: nodata, as the tables leave it empty
        rank = np.where(scored.excluded > 0, np.nan, rank)
        cls = np.where(scored.excluded > 0, np.nan, cls)
    rows = [*scored.norm, scored.score, rank, cls, *extras]
    out = np.full((len(rows), w.ny * w.nx), nodata, dtype)
    for b, values in enumerate(rows):
        v = np.asarray(values, np.float64)
        out[b, scored.flat] = np.where(np.isnan(v), nodata, v)
    return out.reshape(len(rows), w.ny, w.nx)[:, ::-1, :]


def _each_completed(client, futures: list, run, lo: float, hi: float, message: str):
    """Results as they complete, releasing each one after use (the client holds one tile)."""
    from dask.distributed import as_completed

    total = max(len(futures), 1)
    for done, future in enumerate(as_completed(futures), start=1):
        run.say(lo + (hi - lo) * done / total, f"{message} {done}/{total}")
        yield future.result()
        future.release()


def result_tags(result, path: Path) -> dict[str, str]:
    """What the national view needs to re-weight the file (layers/national_view.py reads these
    as JSON data): the weights the scores were made with, the project (relative to the file, so
    a folder can be moved whole) and the number of classes."""
    project = result.prepared.project
    weights = {lid: float(project.layer(lid).indicator.weight) for lid in result.layer_ids}
    tags = {"SKIKT_WEIGHTS": json.dumps(weights), "SKIKT_CLASSES": str(int(project.units.classes))}
    if project.path is not None:
        tags["SKIKT_PROJECT"] = os.path.relpath(Path(project.path).resolve(), Path(path).resolve().parent)
    return tags


def write_cog(result, client, path: Path, run) -> None:
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from affine import Affine
    from rasterio.windows import Window

    g = result.prepared.grid
    names = band_names(result.layer_ids, result.extra_names)
    dtype = "float32" if result.n_scored <= FLOAT32_EXACT else "float64"
    transform = Affine(g.cell, 0.0, g.x0, 0.0, -g.cell, g.y0 + g.ny * g.cell)
    profile = dict(driver="GTiff", width=g.nx, height=g.ny, count=len(names), dtype=dtype, nodata=NODATA,
                   crs=result.prepared.project.crs, transform=transform, tiled=True, blockxsize=BLOCK,
                   blockysize=BLOCK, compress="zstd", zstd_level=1, bigtiff="if_safer")
    fd, tmp = tempfile.mkstemp(suffix=".tif", dir=path.parent)
    os.close(fd)
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            for b, name in enumerate(names, start=1):
                dst.set_band_description(b, name)
            dst.update_tags(**result_tags(result, path))
            for scored in _each_completed(client, result.scored, run, 0.9, 0.97, "writing tile"):
                w = scored.tile.window
                window = Window(scored.tile.c0, g.ny - scored.tile.r0 - w.ny, w.nx, w.ny)
                dst.write(_tile_bands(scored, NODATA, dtype, result.extra_names), window=window)
        # The COG driver builds the overviews itself from the full-resolution bands; a fast
        # compression for the temporary file, the file that stays gets the predictor.
        run.say(0.97, "Cloud-Optimised GeoTIFF with overviews")
        part = path.with_name(path.name + ".part")
        rio_copy(tmp, part, driver="COG", compress="ZSTD", level=COG_ZSTD_LEVEL, predictor="YES", blocksize=BLOCK,
                 overview_resampling="NEAREST", overview_count=overview_count(g.nx, g.ny), num_threads="ALL_CPUS",
                 bigtiff="IF_SAFER")
        os.replace(part, path)
    finally:
        for leftover in (tmp, tmp + ".aux.xml", str(path) + ".part"):
            if os.path.exists(leftover):
                os.remove(leftover)


def _tile_frame(raw, scored, layer_ids, grid, with_ids: bool, exclusion_ids=None):
    """One tile's rows with the in-memory engine's columns (tiled.cell_columns), x and y first,
    and the SCB cell id in front for CSV."""
    from .tiled import cell_columns

    w = scored.tile.window
    xy = w.centres(scored.flat)
    frame = cell_columns(raw, scored, layer_ids, exclusion_ids)
    frame.insert(0, "x", xy[:, 0])
    frame.insert(1, "y", xy[:, 1])
    if with_ids:
        from .units import grid_cell_id

        frame.insert(0, "unit_id", grid_cell_id(xy[:, 0] - w.cell / 2, xy[:, 1] - w.cell / 2, w.cell))
    return frame


def write_table(result, client, path: Path, run, parquet: bool) -> list[str]:
    """GeoParquet (cell centre points) or CSV, one tile at a time, written to a temporary file
    beside ``path`` and moved into place when complete."""
    import geopandas as gpd
    import pyarrow.parquet as pq
    from dask.distributed import as_completed

    warnings = []
    if not parquet and result.n_cells > CSV_WARN_ROWS:
        columns = 8 + 2 * len(result.layer_ids) + len(result.extra_names)
        size = result.n_cells * columns * CSV_BYTES_PER_ROW_AND_COLUMN / 1e9
        warnings.append(f"CSV of {result.n_cells:,} rows (about {size:.1f} GB): "
                        "a .parquet or .tif output is far smaller and faster to open")
    part = path.with_name(path.name + ".part")
    pairs = {s.key: r for s, r in zip(result.scored, result.raw)}
    total = max(len(result.scored), 1)
    writer, schema = None, None
    try:
        for done, future in enumerate(as_completed(result.scored), start=1):
            run.say(0.9 + 0.09 * done / total, f"writing tile {done}/{total}")
            scored = future.result()
            raw = pairs[future.key].result()
            if len(scored.flat) == 0:
                continue
            frame = _tile_frame(raw, scored, result.layer_ids, result.prepared.grid, with_ids=not parquet,
                                exclusion_ids=result.exclusion_ids)
            if not parquet:
                frame.to_csv(part, mode="a" if writer else "w", header=not writer, index=False)
                writer = True
                continue
            gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.x, frame.y),
                                   crs=result.prepared.project.crs)
            from geopandas.io.arrow import _geopandas_to_arrow

            table = _geopandas_to_arrow(gdf, index=False)
            if writer is None:
                meta = dict(table.schema.metadata)
                geo = json.loads(meta[b"geo"])
                for column in geo["columns"].values():
                    column.pop("bbox", None)  # the first tile's box is not the file's
                meta[b"geo"] = json.dumps(geo).encode()
                schema = table.schema.with_metadata(meta)
                writer = pq.ParquetWriter(part, schema, compression="zstd")
            writer.write_table(table.cast(schema))
        if parquet and writer is not None:
            writer.close()
        os.replace(part, path)
    finally:
        if part.exists():
            part.unlink()
    return warnings
