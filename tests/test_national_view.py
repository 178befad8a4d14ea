"""Reading a national result for the app (layers/national_view.py): overview windows equal
rasterio's own read of the level, re-weighted scores equal the file's score band at full
resolution and numpy's weighted mean of the decimated bands at an overview level, preview classes
follow the rank formula, nodata is no value, and bad files are refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata

from skikt.layers.errors import SkiktError
from skikt.layers.national_view import (CLASS, SCORE, Reader, Reweighter, boundary_lines, class_count,
                                        class_image, classes_of, nice_length, open_national, pick_level,
                                        quantile_thresholds, stats_level, weighted_scores)
from skikt.layers.project import read_project

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
NODATA = -9999.0


def make_sample_cog(folder: Path) -> Path:
    """The sample county scored by the dask engine into a COG, with its project beside it."""
    from skikt.layers.tiled import run_score_dask

    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"), dirs_exist_ok=True)
    out = folder / "lan01.tif"
    run_score_dask(folder / "sample_project.toml", out, workers=1, processes=False, tile_cells=64)
    return out


@pytest.fixture(scope="module")
def sample_cog(tmp_path_factory) -> Path:
    return make_sample_cog(tmp_path_factory.mktemp("nv") / "sample")


def write_synthetic(path: Path, bands: dict[str, np.ndarray], cell=100.0, crs="EPSG:3006", overviews=(2, 4)):
    """A tiled GeoTIFF with named bands and nearest-neighbour overviews, written by rasterio."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin

    first = next(iter(bands.values()))
    profile = dict(driver="GTiff", width=first.shape[1], height=first.shape[0], count=len(bands), dtype="float32",
                   nodata=NODATA, transform=from_origin(500000.0, 6500000.0, cell, cell), tiled=True,
                   blockxsize=16, blockysize=16)
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        for i, (name, values) in enumerate(bands.items(), start=1):
            dst.write(np.where(np.isnan(values), NODATA, values).astype("float32"), i)
            dst.set_band_description(i, name)
        if overviews:
            dst.build_overviews(list(overviews), Resampling.nearest)
    return path


def awkward_bands(rng, shape=(37, 29)) -> dict[str, np.ndarray]:
    """Three indicators with holes of their own, a corner outside the study area, ties."""
    a = rng.integers(0, 5, shape) / 4.0  # ties on quarters
    b = rng.random(shape)
    c = rng.random(shape)
    outside = np.zeros(shape, bool)
    outside[:5, :7] = True
    b[rng.random(shape) < 0.2] = np.nan
    c[rng.random(shape) < 0.1] = np.nan
    for v in (a, b, c):
        v[outside] = np.nan
    w = np.array([2.0, 1.0, 0.5])
    score = oracle_mean(np.stack([a, b, c]), w)
    rank = np.where(np.isnan(score), np.nan, 1.0)
    cls = np.where(np.isnan(score), np.nan, 1.0)
    return {"a_norm": a, "b_norm": b, "c_norm": c, SCORE: score, "rank": rank, CLASS: cls}


def oracle_mean(norm: np.ndarray, w) -> np.ndarray:
    """numpy's weighted mean over the indicators each cell has, in float64."""
    w = np.asarray(w, float)[:, None, None]
    valid = ~np.isnan(norm)
    num = np.where(valid, norm * w, 0).sum(axis=0)
    den = np.where(valid, w, 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def rasterio_level(path: Path, level: int) -> np.ndarray:
    """The whole level as rasterio reads it, nodata kept."""
    import rasterio

    kw = {} if level == 0 else {"overview_level": level - 1}
    with rasterio.open(path, **kw) as ds:
        return ds.read(), ds.transform


def touched(transform, shape, extent) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns whose pixel footprint overlaps the extent (an open overlap)."""
    x0, y0, x1, y1 = extent
    cols = np.arange(shape[1])
    rows = np.arange(shape[0])
    left = transform.c + cols * transform.a
    top = transform.f + rows * transform.e
    col_ok = (left + transform.a > x0) & (left < x1)
    row_ok = (top + transform.e < y1) & (top > y0)
    return np.flatnonzero(row_ok), np.flatnonzero(col_ok)


# ------------------------------------------------------------------------------------------------
# Reading


def test_open_describes_the_dask_engines_cog(sample_cog):
    import rasterio

    info = open_national(sample_cog)
    with rasterio.open(sample_cog) as ds:
        assert info.bands == ds.descriptions
        assert len(info.levels) == len(ds.overviews(1)) + 1 >= 2
        assert info.epsg == 3006
    ids = [s.id for s in read_project(sample_cog.parent / "sample_project.toml").indicator_layers()]
    assert info.indicator_ids == ids


@pytest.mark.parametrize("level", [0, 1])
def test_window_read_equals_rasterios_read_of_the_same_level(sample_cog, level):
    info = open_national(sample_cog)
    whole, transform = rasterio_level(sample_cog, level)
    x0, y0, x1, y1 = info.bounds
    # An extent with edges inside pixels, crossing the file's west edge.
    extent = (x0 - 3333.3, y0 + 0.37 * (y1 - y0) + 17.0, x0 + 0.41 * (x1 - x0) - 11.0, y0 + 0.83 * (y1 - y0))
    read = Reader(info).read(level, extent)
    rows, cols = touched(transform, whole.shape[1:], extent)
    np.testing.assert_array_equal(read.data, whole[:, rows][:, :, cols])
    assert read.bounds[0] == pytest.approx(transform.c + cols[0] * transform.a)
    assert read.bounds[3] == pytest.approx(transform.f + rows[0] * transform.e)
    assert read.bounds[2] >= extent[2] and read.bounds[1] <= extent[1]


def test_an_extent_beside_the_file_reads_nothing(sample_cog):
    info = open_national(sample_cog)
    x0, y0, x1, y1 = info.bounds
    assert Reader(info).read(0, (x1 + 10, y0, x1 + 5000, y1)) is None


def test_level_choice_is_the_coarsest_not_coarser_than_a_screen_pixel(sample_cog):
    info = open_national(sample_cog)
    sizes = [lv.pixel_size for lv in info.levels]
    assert sizes == sorted(sizes)
    for upp in (sizes[0] / 3, sizes[0], sizes[0] * 1.5, sizes[-1] * 1.01, sizes[-1] * 50):
        chosen = pick_level(info, upp)
        coarser_fit = [i for i, s in enumerate(sizes) if s <= upp * (1 + 1e-9)]
        assert chosen == (max(coarser_fit) if coarser_fit else 0)


# ------------------------------------------------------------------------------------------------
# Re-weighting


def test_reweighting_at_full_resolution_gives_the_files_score_band_exactly(sample_cog):
    info = open_national(sample_cog)
    project = read_project(sample_cog.parent / "sample_project.toml")
    weights = [project.layer(lid).indicator.weight for lid in info.indicator_ids]
    read = Reader(info).read(0)
    norm = np.stack([read.band(b) for b in info.norm_bands])
    got = weighted_scores(norm, weights, read.all_valid)
    expected = read.band(SCORE)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=0, atol=1e-9)
    # and numpy's weighted mean agrees to float32 precision
    np.testing.assert_allclose(got, oracle_mean(norm.astype(float), weights), rtol=2e-6, equal_nan=True)


@pytest.mark.parametrize("weights", [[1, 1, 1, 1, 1, 1, 1, 1], [0, 5, 0.25, 1, 0, 2, 3, 0.1]])
def test_reweighting_at_an_overview_level_is_numpys_weighted_mean_of_the_decimated_bands(sample_cog, weights):
    info = open_national(sample_cog)
    weights = weights[: len(info.norm_bands)]
    whole, _ = rasterio_level(sample_cog, 1)
    decimated = np.stack([whole[info.band_index(b)] for b in info.norm_bands]).astype(float)
    decimated[decimated == NODATA] = np.nan
    read = Reader(info).read(1)
    got = weighted_scores(np.stack([read.band(b) for b in info.norm_bands]), weights, read.all_valid)
    np.testing.assert_allclose(got, oracle_mean(decimated, weights), rtol=2e-6, atol=1e-7, equal_nan=True)


def test_nodata_and_missing_indicators_on_an_awkward_file(tmp_path):
    bands = awkward_bands(np.random.default_rng(7))
    path = write_synthetic(tmp_path / "awkward.tif", bands)
    info = open_national(path)
    read = Reader(info).read(0)
    assert not read.all_valid  # b and c have holes inside the study area
    for w in ([2.0, 1.0, 0.5], [0.0, 1.0, 0.0], [1, 1, 1]):
        got = weighted_scores(np.stack([read.band(b) for b in info.norm_bands]), w, read.all_valid)
        norm = np.stack([bands[b] for b in ("a_norm", "b_norm", "c_norm")])
        np.testing.assert_allclose(got, oracle_mean(norm, w), rtol=2e-6, atol=1e-7, equal_nan=True)
    # weight only on b: cells where b is missing have no score, and the corner outside has none
    got = weighted_scores(np.stack([read.band(b) for b in info.norm_bands]), [0, 1, 0], False)
    assert np.array_equal(np.isnan(got), np.isnan(bands["b_norm"]))
    assert np.isnan(got[:5, :7]).all()
    assert np.isnan(weighted_scores(np.stack([read.band(b) for b in info.norm_bands]), [0, 0, 0])).all()


def test_preview_classes_follow_the_rank_formula_with_ties():
    rng = np.random.default_rng(3)
    scores = (rng.integers(0, 40, (23, 31)) / 40).astype(np.float32)  # many ties
    scores[rng.random(scores.shape) < 0.15] = np.nan
    for k in (2, 5, 7):
        cls = classes_of(scores, quantile_thresholds(scores, k))
        s = scores[~np.isnan(scores)].astype(float)
        rank = rankdata(-s, method="min")
        expected = 1 + np.floor((rank - 1) * k / len(s)).astype(int)
        np.testing.assert_array_equal(cls[~np.isnan(scores)], expected)
        assert (cls[np.isnan(scores)] == 0).all()


def test_reweighter_thresholds_come_from_the_statistics_level_and_apply_to_any_window(sample_cog):
    info = open_national(sample_cog)
    reader = Reader(info)
    k = class_count(info, reader)
    assert k == read_project(sample_cog.parent / "sample_project.toml").units.classes
    rew = Reweighter(info, k, reader)
    assert rew.level == stats_level(info) == 0  # the county is small: full resolution
    weights = [1.0] * len(info.norm_bands)
    whole = reader.read(0)
    # the scores themselves are checked against numpy above; the classes here by the rank formula
    scores = weighted_scores(np.stack([whole.band(b) for b in info.norm_bands]), weights, whole.all_valid)
    ok = ~np.isnan(scores)
    rank = rankdata(-scores[ok].astype(float), method="min")
    expected = np.zeros(scores.shape, int)
    expected[ok] = 1 + np.floor((rank - 1) * k / ok.sum()).astype(int)
    x0, y0, x1, y1 = info.bounds
    part = reader.read(0, (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2))
    rows = whole.shape[0] - part.shape[0]
    np.testing.assert_array_equal(rew.classes(part, weights), expected[rows:, : part.shape[1]])
    # with the project's weights the preview at full resolution is the file's own classes
    project = read_project(sample_cog.parent / "sample_project.toml")
    own = [project.layer(lid).indicator.weight for lid in info.indicator_ids]
    np.testing.assert_array_equal(rew.classes(whole, own), whole.classes())


def test_statistics_level_is_the_finest_small_enough(sample_cog):
    info = open_national(sample_cog)
    cells = [lv.width * lv.height for lv in info.levels]
    assert stats_level(info, cells[0]) == 0
    assert stats_level(info, cells[0] - 1) == 1
    assert stats_level(info, 1) == len(cells) - 1


# ------------------------------------------------------------------------------------------------
# Drawing helpers


def test_class_image_colours_and_transparency():
    cls = np.array([[0, 1, 2], [3, 0, 1]], np.int16)
    img = class_image(cls, ["#ff0000", "#00ff00", "#0000ff"])
    assert img.shape == (2, 3, 4) and img.dtype == np.uint8
    assert img[0, 0].tolist() == [0, 0, 0, 0]
    assert img[0, 1].tolist() == [255, 0, 0, 255]
    assert img[1, 0].tolist() == [0, 0, 255, 255]


def test_boundaries_are_simplified_to_the_scale_and_in_the_results_crs():
    import geopandas as gpd
    import shapely

    gpkg = str(SAMPLE / "sweden_reference.gpkg")
    lan = gpd.read_file(gpkg, layer="lan").to_crs(3006)
    wkt = lan.crs.to_wkt()
    fine = boundary_lines(gpkg, "lan", 10.0, wkt)
    coarse = boundary_lines(gpkg, "lan", 5000.0, wkt)
    assert sum(len(r) for r in coarse) < sum(len(r) for r in fine)
    xs = np.concatenate([r[:, 0] for r in coarse])
    ys = np.concatenate([r[:, 1] for r in coarse])
    x0, y0, x1, y1 = lan.total_bounds
    assert xs.min() >= x0 - 5000 and xs.max() <= x1 + 5000 and ys.min() >= y0 - 5000 and ys.max() <= y1 + 5000
    # a simplified ring stays within the tolerance of the real boundary
    edge = shapely.union_all(shapely.boundary(lan.geometry.to_numpy()))
    assert shapely.distance(shapely.points(coarse[0]), edge).max() <= 5000 + 1e-6


def test_nice_scale_lengths():
    assert [nice_length(x) for x in (0.9, 1, 3.5, 7, 19999, 250000)] == [0.5, 1, 2, 5, 10000, 200000]


# ------------------------------------------------------------------------------------------------
# Bad files


def one_line_error(path) -> str:
    with pytest.raises(SkiktError) as err:
        open_national(path)
    text = str(err.value)
    assert "\n" not in text and Path(path).name in text
    return text


def test_bad_files_are_refused_in_one_line_naming_the_file(tmp_path):
    rng = np.random.default_rng(1)
    bands = awkward_bands(rng)
    assert "does not exist" in one_line_error(tmp_path / "gone.tif")
    (tmp_path / "text.tif").write_text("not a raster\n")
    assert "GeoTIFF" in one_line_error(tmp_path / "text.tif")
    no_score = {k: v for k, v in bands.items() if k != SCORE}
    assert "'score'" in one_line_error(write_synthetic(tmp_path / "noscore.tif", no_score))
    no_class = {k: v for k, v in bands.items() if k != CLASS}
    assert "priority_class" in one_line_error(write_synthetic(tmp_path / "noclass.tif", no_class))
    assert "CRS" in one_line_error(write_synthetic(tmp_path / "nocrs.tif", bands, crs=None))
    assert "CRS" in one_line_error(write_synthetic(tmp_path / "degrees.tif", bands, cell=0.01, crs="EPSG:4326"))
    before = (tmp_path / "text.tif").read_bytes()
    one_line_error(tmp_path / "text.tif")
    assert (tmp_path / "text.tif").read_bytes() == before  # never modified


# ------------------------------------------------------------------------------------------------
# The file's own metadata


def tagged_copy(cog: Path, folder: Path, **tags) -> Path:
    import rasterio

    out = folder / "tagged.tif"
    shutil.copy(cog, out)
    with rasterio.open(out, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.update_tags(**tags)
    return out


def test_weights_project_and_classes_come_from_the_files_tags(sample_cog, tmp_path):
    ids = open_national(sample_cog).indicator_ids
    weights = {lid: float(i % 3) for i, lid in enumerate(ids)}
    import json

    path = tagged_copy(sample_cog, tmp_path, SKIKT_WEIGHTS=json.dumps(weights), SKIKT_PROJECT="p.toml",
                       SKIKT_CLASSES="7")
    info = open_national(path)
    assert info.weights == weights and info.project == "p.toml" and info.classes == 7
    assert class_count(info) == 7


@pytest.mark.parametrize("bad", ['{"vard": 1}', "[1, 2]", "__import__('os')", '{"vard": "x"}', "not json"])
def test_malformed_tags_are_ignored_not_evaluated(sample_cog, tmp_path, bad):
    path = tagged_copy(sample_cog, tmp_path, SKIKT_WEIGHTS=bad, SKIKT_CLASSES="1; rm -rf")
    info = open_national(path)
    assert info.weights is None and info.classes is None
    assert class_count(info) == read_project(sample_cog.parent / "sample_project.toml").units.classes
