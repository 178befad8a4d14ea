"""Reading a national result (the dask engine's Cloud-Optimised GeoTIFF) for the app's national view.

The file holds bands ``<id>_norm`` …, ``score``, ``rank``, ``priority_class`` (layers/tiled_output.py),
each described by its column name, with overviews halving the resolution. The view never reads
more than the screen shows: it picks the overview level whose pixels are the largest that are
still no larger than a screen pixel, and reads only the visible window of that level.

Re-weighting works on whatever level is read: the score is the in-memory engine's weighted mean
(Σ wᵢ·nᵢ / Σ wᵢ over the indicators a cell has, in float32, the composite's own summation order),
so at full resolution it gives the file's ``score`` band bit for bit, and at an overview level it
is the weighted mean of the decimated (nearest-neighbour) normalised values. Preview classes are
quantile classes of one "statistics level" (the finest level with at most STATS_MAX_CELLS
pixels), applied to the visible window: the class thresholds of a whole country do not change
while the user pans.

Qt-free: the app draws what this module returns.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .composite import _select, _weighted_sum
from .errors import LoadError

SCORE, RANK, CLASS = "score", "rank", "priority_class"
NORM_SUFFIX = "_norm"
# Dataset tags a writer may set (JSON text; read as data, never evaluated): the weights the
# scores were made with ({"<id>": weight}), the project file, the number of classes.
TAG_WEIGHTS, TAG_PROJECT, TAG_CLASSES = "SKIKT_WEIGHTS", "SKIKT_PROJECT", "SKIKT_CLASSES"
# The statistics level is the finest with at most this many pixels (1024²): re-weighting it is
# what a slider step costs (Sweden at 250 m: level 2, 640 × 1536; 4 M pixels took four times as
# long for the same five thresholds).
STATS_MAX_CELLS = 1 << 20


# ------------------------------------------------------------------------------------------------
# Opening


@dataclass(frozen=True)
class Level:
    """One resolution of the file: 0 is full resolution, n ≥ 1 is GDAL's overview n − 1."""

    index: int
    width: int
    height: int
    transform: tuple  # affine (a, b, c, d, e, f): x = a·col + c, y = e·row + f (e < 0)

    @property
    def pixel_size(self) -> float:
        """Map units per pixel (the larger side: an overview's pixels are not always square)."""
        return max(abs(self.transform[0]), abs(self.transform[4]))


@dataclass(frozen=True)
class NationalInfo:
    path: Path
    bands: tuple[str, ...]
    crs_wkt: str
    epsg: int | None
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1
    levels: tuple[Level, ...]
    nodata: float
    dtype: str
    # What the file's own metadata says (GDAL tags, see TAG_*), when its writer recorded it.
    weights: dict | None = None
    project: str | None = None
    classes: int | None = None

    @property
    def indicator_ids(self) -> list[str]:
        return [b[: -len(NORM_SUFFIX)] for b in self.bands if b.endswith(NORM_SUFFIX)]

    @property
    def norm_bands(self) -> list[str]:
        return [b for b in self.bands if b.endswith(NORM_SUFFIX)]

    def band_index(self, name: str) -> int:
        return self.bands.index(name)


def _open(path: Path, level: int):
    import rasterio

    return rasterio.open(path) if level == 0 else rasterio.open(path, overview_level=level - 1)


def open_national(path) -> NationalInfo:
    """Describe a national result; one-line LoadError naming the file when it is not one."""
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.is_file():
        raise LoadError.of("nv_err_missing", path)
    try:
        with rasterio.open(path) as ds:
            driver, bands, crs = ds.driver, tuple(d or "" for d in ds.descriptions), ds.crs
            nodata, dtype, b = ds.nodata, ds.dtypes[0], ds.bounds
            tags = ds.tags()
            n_overviews = len(ds.overviews(1)) if ds.count else 0
    except RasterioIOError:
        raise LoadError.of("nv_err_not_raster", path) from None
    if driver != "GTiff":
        raise LoadError.of("nv_err_not_raster", path)
    if SCORE not in bands:
        raise LoadError.of("nv_err_no_score", path)
    missing = [name for name in (RANK, CLASS) if name not in bands]
    norms = [name for name in bands if name.endswith(NORM_SUFFIX)]
    if missing or not norms:
        raise LoadError.of("nv_err_layout", path, bands=", ".join(missing) or "<id>_norm")
    if crs is None or not crs.is_projected:
        raise LoadError.of("nv_err_crs", path)
    levels = []
    for index in range(n_overviews + 1):
        with _open(path, index) as ds:
            levels.append(Level(index, ds.width, ds.height, tuple(ds.transform)[:6]))
    ids = [name[: -len(NORM_SUFFIX)] for name in norms]
    return NationalInfo(path, bands, crs.to_wkt(), crs.to_epsg(), (b.left, b.bottom, b.right, b.top),
                        tuple(levels), float(nodata if nodata is not None else np.nan), dtype,
                        *_metadata(tags, ids))


def _metadata(tags: dict, ids: list[str]) -> tuple[dict | None, str | None, int | None]:
    """(weights, project, classes) from the file's tags; whatever is malformed or does not name
    exactly the file's indicators with finite weights ≥ 0 is ignored (the window then falls back
    to a project beside the file, or equal weights)."""
    import json

    weights = None
    try:
        raw = json.loads(tags.get(TAG_WEIGHTS, "null"))
        if isinstance(raw, dict) and sorted(raw) == sorted(ids):
            values = {k: float(v) for k, v in raw.items()}
            if all(math.isfinite(v) and v >= 0 for v in values.values()):
                weights = values
    except (ValueError, TypeError):
        weights = None
    project = tags.get(TAG_PROJECT) or None
    try:
        classes = int(tags.get(TAG_CLASSES, ""))
        classes = classes if 2 <= classes <= 100 else None
    except ValueError:
        classes = None
    return weights, project, classes


# ------------------------------------------------------------------------------------------------
# Levels and windows


def pick_level(info: NationalInfo, units_per_screen_pixel: float) -> int:
    """The coarsest level whose pixels are no larger than a screen pixel (full resolution when
    the screen is finer than the data): every screen pixel shows at least one data pixel's worth
    of detail and no more pixels are read than the screen can show, give or take a factor 2."""
    best = 0
    for level in info.levels:
        if level.pixel_size <= units_per_screen_pixel * (1 + 1e-9):
            best = level.index
    return best


class WindowRead:
    """Bands of one level's pixels covering a map extent, as read (nodata kept: converting every
    band to NaN would cost more than the read itself); ``bounds`` are the pixels' own edges."""

    def __init__(self, level: int, bounds, data: np.ndarray, names, nodata: float):
        self.level, self.bounds, self.data, self.names, self.nodata = level, tuple(bounds), data, tuple(names), nodata
        self._floats: dict[str, np.ndarray] = {}
        self._all_valid: bool | None = None

    def band(self, name: str) -> np.ndarray:
        """(rows, cols) float32, NaN where nodata; row 0 north."""
        out = self._floats.get(name)
        if out is None:
            out = self.data[self.names.index(name)].astype(np.float32)
            if not np.isnan(self.nodata):
                out[out == self.nodata] = np.nan
            self._floats[name] = out
        return out

    def classes(self) -> np.ndarray:
        """The priority_class band as small integers, 0 where nodata."""
        raw = self.data[self.names.index(CLASS)]
        return np.where(raw > 0, raw, 0).astype(np.int16)

    @property
    def all_valid(self) -> bool:
        """Every cell with a score has every normalised value (the in-memory engine's shortcut)."""
        if self._all_valid is None:
            norms = [n for n in self.names if n.endswith(NORM_SUFFIX)]
            if SCORE not in self.names or not norms:
                self._all_valid = False
            else:
                scored = ~np.isnan(self.band(SCORE))
                self._all_valid = all(bool((~np.isnan(self.band(n)[scored])).all()) for n in norms)
        return self._all_valid

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape[1], self.data.shape[2]


def pixel_window(level: Level, extent) -> tuple[int, int, int, int] | None:
    """(col0, row0, cols, rows) of the level's pixels that the extent (x0, y0, x1, y1) touches,
    clipped to the level; None when it touches none."""
    a, _, c, _, e, f = level.transform
    x0, y0, x1, y1 = extent
    col0 = max(0, math.floor((x0 - c) / a))
    col1 = min(level.width, math.ceil((x1 - c) / a))
    row0 = max(0, math.floor((y1 - f) / e))
    row1 = min(level.height, math.ceil((y0 - f) / e))
    if col1 <= col0 or row1 <= row0:
        return None
    return col0, row0, col1 - col0, row1 - row0


def _window_bounds(level: Level, win) -> tuple[float, float, float, float]:
    a, _, c, _, e, f = level.transform
    col0, row0, cols, rows = win
    return c + col0 * a, f + (row0 + rows) * e, c + (col0 + cols) * a, f + row0 * e


class Reader:
    """Open datasets of one file, one per level, for one thread (GDAL handles are not shared)."""

    def __init__(self, info: NationalInfo):
        self.info = info
        self._datasets: dict[int, object] = {}

    def dataset(self, level: int):
        ds = self._datasets.get(level)
        if ds is None:
            ds = self._datasets[level] = _open(self.info.path, level)
        return ds

    def close(self) -> None:
        for ds in self._datasets.values():
            ds.close()
        self._datasets.clear()

    def read(self, level: int, extent=None, names=None) -> WindowRead | None:
        """The named bands (default: all) of the level's pixels under ``extent`` (default: the
        whole level); None when the extent misses the file."""
        from rasterio.windows import Window

        lv = self.info.levels[level]
        win = (0, 0, lv.width, lv.height) if extent is None else pixel_window(lv, extent)
        if win is None:
            return None
        names = tuple(names or self.info.bands)
        indexes = [self.info.band_index(n) + 1 for n in names]
        data = self.dataset(level).read(indexes, window=Window(*win), masked=False)
        return WindowRead(level, _window_bounds(lv, win), data, names, self.info.nodata)


# ------------------------------------------------------------------------------------------------
# Re-weighting


def weighted_scores(norm: np.ndarray, weights, all_valid: bool = False) -> np.ndarray:
    """Σ wᵢ·nᵢ / Σ wᵢ over the indicators a cell has (NaN where it has none with a weight), in the
    composite's float32 arithmetic. ``norm`` is (m, …) with NaN for missing; ``all_valid`` takes
    the in-memory engine's shortcut (divide by Σ w), which it takes when no scored cell misses a
    value: the last bit of a score depends on the branch."""
    w = np.asarray(weights, np.float32)
    shape = norm.shape[1:]
    rows = norm.reshape(norm.shape[0], -1)
    if rows.shape[0] == 0 or w.sum() <= 0:
        return np.full(shape, np.nan, np.float32)
    ok = ~np.isnan(rows)
    filled = np.where(ok, rows, 0).astype(np.float32)
    if all_valid:
        out = _weighted_sum(w, filled) / w.sum()
        out[~ok.any(axis=0)] = np.nan  # outside the study area: no value at all
        return out.reshape(shape)
    den = _weighted_sum(w, ok.astype(np.float32))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, _weighted_sum(w, filled) / den, np.nan).astype(np.float32, copy=False)
    return out.reshape(shape)


def quantile_thresholds(scores: np.ndarray, k: int) -> np.ndarray:
    """The k − 1 thresholds of ``composite.quantile_classes``: the ⌈c·n/k⌉-th largest score,
    c = 1 … k − 1, over the cells that have a score."""
    s = np.asarray(scores, np.float32).ravel()
    s = s[~np.isnan(s)]
    n = len(s)
    if n == 0 or k < 2:
        return np.zeros(0, np.float32)
    beaten_by = -((-np.arange(1, k) * n) // k)
    kth = n - beaten_by  # the t-th largest sits at ascending position n − t
    _select(s, kth)  # s is our own copy: order statistics in place, no full sort
    return s[kth]


def classes_of(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Class 1 + the number of thresholds above the score; 0 where there is no score."""
    cls = np.ones(scores.shape, np.int8)
    for threshold in thresholds:
        cls += scores < threshold
    cls[np.isnan(scores)] = 0
    return cls


def stats_level(info: NationalInfo, max_cells: int = STATS_MAX_CELLS) -> int:
    """The finest level with at most ``max_cells`` pixels (the coarsest when none is that small)."""
    small = [lv.index for lv in info.levels if lv.width * lv.height <= max_cells]
    return min(small) if small else info.levels[-1].index


class Reweighter:
    """Preview scores and classes for given weights: thresholds from the statistics level, kept
    per weights so panning does not recompute them."""

    def __init__(self, info: NationalInfo, k: int, reader: Reader | None = None):
        self.info, self.k = info, k
        reader = reader or Reader(info)
        self.level = stats_level(info)
        read = reader.read(self.level, names=info.norm_bands + [SCORE])
        self._norm = np.stack([read.band(b) for b in info.norm_bands])
        self._all_valid = read.all_valid
        self._key, self._thresholds = None, None

    def thresholds(self, weights) -> np.ndarray:
        key = tuple(float(w) for w in weights)
        if key != self._key:
            self._thresholds = quantile_thresholds(weighted_scores(self._norm, key, self._all_valid), self.k)
            self._key = key
        return self._thresholds

    def classes(self, read: WindowRead, weights) -> np.ndarray:
        norm = np.stack([read.band(b) for b in self.info.norm_bands])
        return classes_of(weighted_scores(norm, weights, read.all_valid), self.thresholds(weights))


def class_count(info: NationalInfo, reader: Reader | None = None) -> int:
    """The number of priority classes: the file's tag, else the largest class at the coarsest
    level (nearest-neighbour overviews keep classes), at least 2."""
    if info.classes:
        return info.classes
    reader = reader or Reader(info)
    cls = reader.read(info.levels[-1].index, names=[CLASS]).classes()
    return max(2, int(cls.max(initial=0)))


# ------------------------------------------------------------------------------------------------
# Colours and boundaries


@lru_cache(maxsize=16)
def _class_lut(colours: tuple[str, ...]) -> np.ndarray:
    from matplotlib.colors import to_rgba

    lut = np.zeros((len(colours) + 1, 4), np.uint8)
    lut[1:] = (np.array([to_rgba(c) for c in colours]) * 255).round().astype(np.uint8)
    return lut.view(np.uint32).ravel()  # one 32-bit word per class: one gather per pixel


def class_image(cls: np.ndarray, colours) -> np.ndarray:
    """(rows, cols, 4) uint8 RGBA: class c in colours[c − 1], class 0 (no score) transparent."""
    lut = _class_lut(tuple(colours))
    idx = np.clip(np.asarray(cls), 0, len(lut) - 1)
    return lut[idx].view(np.uint8).reshape(*idx.shape, 4)


@lru_cache(maxsize=8)
def _boundary_frame(path: str, layer: str):
    import pyogrio

    return pyogrio.read_dataframe(path, layer=layer, columns=[])


@lru_cache(maxsize=64)
def boundary_lines(path: str, layer: str, tolerance: float, crs_wkt: str) -> tuple[np.ndarray, ...]:
    """The polygons' rings, simplified to ``tolerance`` map units, in the result's CRS: one
    (n, 2) array per ring. Cached per tolerance (the app asks for powers of two of its scale)."""
    import shapely

    frame = _boundary_frame(path, layer)
    if frame.crs is not None and frame.crs.to_wkt() != crs_wkt:
        frame = frame.to_crs(crs_wkt)
    geoms = shapely.simplify(frame.geometry.to_numpy(), tolerance, preserve_topology=False)
    rings = shapely.get_rings(shapely.get_parts(geoms))
    return tuple(shapely.get_coordinates(r)[:, :2] for r in rings if not shapely.is_empty(r))


def nice_length(max_units: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ not above ``max_units`` (for a scale bar)."""
    if max_units <= 0:
        return 0.0
    p = 10 ** math.floor(math.log10(max_units))
    return max(m * p for m in (1, 2, 5) if m * p <= max_units)


# ------------------------------------------------------------------------------------------------
# Benchmark


def national_view_bench(path, screen=(1920, 1080), steps: int = 20, k: int = 5) -> dict:
    """Median wall and CPU seconds of one pan step (1/10 of the screen) and one zoom step (×1.25)
    at national extent: choose the level, read the visible window, colour the classes, and for
    a weight change re-weight the window read. What the national window does per step."""
    from .render import priority_colours

    info = open_national(path)
    reader = Reader(info)
    colours = priority_colours(k)
    x0, y0, x1, y1 = info.bounds
    w_px, h_px = screen
    upp = max((x1 - x0) / w_px, (y1 - y0) / h_px)  # the whole country on screen
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def step(upp, cx, cy):
        level = pick_level(info, upp)
        extent = (cx - upp * w_px / 2, cy - upp * h_px / 2, cx + upp * w_px / 2, cy + upp * h_px / 2)
        read = reader.read(level, extent)
        class_image(read.classes(), colours)
        return read

    def timed(fn):
        walls, cpus = [], []
        for i in range(steps):
            w0, c0 = time.perf_counter(), time.process_time()
            fn(i)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        return float(np.median(walls)), float(np.median(cpus))

    step(upp, cx, cy)  # open the datasets once, as the window has
    pan = timed(lambda i: step(upp, cx + (-1) ** i * upp * w_px / 10 * (i % 5), cy))
    zoom = timed(lambda i: step(upp / 1.25 ** (i % 10), cx, cy))
    rew = Reweighter(info, k, reader)
    read = step(upp, cx, cy)
    ids = info.norm_bands
    reweight = timed(lambda i: class_image(rew.classes(read, [1.0 + (i + j) % 3 for j in range(len(ids))]), colours))
    reader.close()
    return {"file": str(info.path), "level_at_national_extent": pick_level(info, upp),
            "pan_wall": pan[0], "pan_cpu": pan[1], "zoom_wall": zoom[0], "zoom_cpu": zoom[1],
            "reweight_wall": reweight[0], "reweight_cpu": reweight[1], "screen": list(screen), "steps": steps}
