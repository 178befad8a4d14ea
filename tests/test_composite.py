"""Normalisation classes, ranks, priority classes and reproducibility, against independent oracles:
mapclassify's own classifiers, scipy's rankdata and scoreatpercentile, and hand-worked numbers."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import mapclassify
import numpy as np
import pytest
from mapclassify.classifiers import bin1d
from scipy.stats import rankdata, scoreatpercentile

from skikt.layers import composite
from skikt.layers.bench import BENCHMARK_NAMES, run_benchmarks
from skikt.layers.composite import (Normalised, class_breaks, classify, combine, normalise, quantile_classes,
                                    ranks, top_class)
from skikt.layers.errors import SkiktError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


def _datasets(seed: int = 3):
    """Continuous values, a count that is mostly 0, heavy ties, negatives, and NaN."""
    rng = np.random.default_rng(seed)
    mostly_zero = np.where(rng.random(300) < 0.8, 0.0, rng.poisson(3, 300) + 1.0)
    ties = rng.integers(0, 6, 300).astype(float)
    continuous = rng.lognormal(0, 1, 300)
    negative = rng.normal(-5, 2, 300)
    with_nan = rng.gamma(2, 3, 300)
    with_nan[rng.random(300) < 0.1] = np.nan
    return {"mostly_zero": mostly_zero, "ties": ties, "continuous": continuous, "negative": negative,
            "with_nan": with_nan}


def _mapclassify_percentiles(k):
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)
    p[-1] = min(p[-1], 100.0)
    return p


# ------------------------------------------------------------------------------------------------
# Issue 7 item 7: class c of k is always (c − 1)/(k − 1)


def test_classes_hand_worked_mostly_zero_count():
    # Seven zeros and 1, 2, 3, k = 5. Quantile bounds (linear interpolation over 10 sorted values):
    # 20 %, 40 %, 60 % → 0; 80 % → 1 + 0.2·(2 − 1) = 1.2; 100 % → 3. Classes 1, 4, 5, 5.
    raw = np.array([0, 0, 0, 0, 0, 0, 0, 1, 2, 3], float)
    np.testing.assert_allclose(class_breaks(raw, "quantiles", 5), [0, 0, 0, 1.2, 3])
    n = normalise(raw, "classes", "high", "quantiles", 5)
    np.testing.assert_allclose(n, [0] * 7 + [0.75, 1.0, 1.0])
    # Direction "low" turns it round; nothing is rescaled to the three classes found.
    np.testing.assert_allclose(normalise(raw, "classes", "low", "quantiles", 5), [1] * 7 + [0.25, 0, 0])


@pytest.mark.parametrize("k", [2, 3, 5, 7, 10])
def test_quantile_classes_follow_mapclassify(k):
    for name, raw in _datasets().items():
        v = raw[~np.isnan(raw)]
        expected_breaks = scoreatpercentile(v, _mapclassify_percentiles(k))  # no repeats dropped
        breaks = class_breaks(raw, "quantiles", k)
        np.testing.assert_array_equal(breaks, expected_breaks)
        cls = normalise(raw, "classes", "high", "quantiles", k) * (k - 1) + 1
        assert np.isnan(cls[np.isnan(raw)]).all()
        cls_v = np.rint(cls[~np.isnan(raw)]).astype(int)
        assert np.array_equal(cls_v, bin1d(v, expected_breaks)[0] + 1), name
        # mapclassify collapses repeated bounds; its class j is ours at the first bound equal to it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = mapclassify.Quantiles(v, k=k)
        first_position = np.array([np.flatnonzero(expected_breaks == b)[0] for b in q.bins])
        assert np.array_equal(cls_v, first_position[q.yb] + 1), name
        if len(np.unique(expected_breaks)) == k:
            assert np.array_equal(cls_v, q.yb + 1), name


@pytest.mark.parametrize("k", [2, 3, 5, 7, 10])
def test_equal_interval_classes_are_mapclassify_yb(k):
    for name, raw in _datasets().items():
        v = raw[~np.isnan(raw)]
        ei = mapclassify.EqualInterval(v, k=k)
        np.testing.assert_array_equal(class_breaks(raw, "equal_interval", k), ei.bins)
        n = normalise(raw, "classes", "high", "equal_interval", k)
        assert np.isnan(n[np.isnan(raw)]).all()
        np.testing.assert_allclose(n[~np.isnan(raw)], ei.yb / (k - 1), atol=1e-7, err_msg=name)


def _within_class_ss(v, yb):
    return sum(((v[yb == c] - v[yb == c].mean()) ** 2).sum() for c in np.unique(yb))


@pytest.mark.parametrize("k", [2, 4, 6])
def test_natural_breaks_are_fisher_jenks(k):
    """mapclassify.FisherJenks is the oracle (its pure-Python fallback, on 150 values)."""
    warnings.simplefilter("ignore")  # "numba not installed"
    for name, raw in _datasets(seed=k).items():
        raw = raw[:150]
        v = raw[~np.isnan(raw)]
        if len(np.unique(v)) <= k:
            continue  # mapclassify refuses; covered by the next test
        fj = mapclassify.FisherJenks(v, k=k)
        n = normalise(raw, "classes", "high", "natural_breaks", k)
        assert np.isnan(n[np.isnan(raw)]).all()
        ours = np.rint(n[~np.isnan(raw)] * (k - 1)).astype(int)
        assert np.array_equal(ours, fj.yb), name
        assert _within_class_ss(v, ours) == pytest.approx(_within_class_ss(v, fj.yb), rel=1e-12)


def test_natural_breaks_with_fewer_values_than_classes_spread_over_all_classes():
    binary = np.array([0, 1, 0, 0, 1, np.nan])
    np.testing.assert_array_equal(normalise(binary, "classes", "high", "natural_breaks", 5)[:5], [0, 1, 0, 0, 1])
    three = np.array([2.0, 5.0, 9.0, 5.0])  # classes 1, 3, 5 of 5
    np.testing.assert_allclose(normalise(three, "classes", "high", "natural_breaks", 5), [0, 0.5, 1, 0.5])


def test_natural_breaks_of_many_values_run_on_order_statistics(monkeypatch):
    """Above JENKS_MAX_VALUES distinct values the breaks are Fisher–Jenks of evenly spaced order
    statistics (no random sample): checked against mapclassify.FisherJenks on those values."""
    warnings.simplefilter("ignore")
    monkeypatch.setattr(composite, "JENKS_MAX_VALUES", 120)
    v = np.random.default_rng(8).lognormal(0, 1, 5000)
    sample = np.sort(v)[np.round(np.linspace(0, len(v) - 1, 120)).astype(int)]
    expected = mapclassify.FisherJenks(sample, k=5).bins
    np.testing.assert_array_equal(class_breaks(v, "natural_breaks", 5), expected)
    np.testing.assert_array_equal(classify(v, class_breaks(v, "natural_breaks", 5)) - 1, bin1d(v, expected)[0])


# ------------------------------------------------------------------------------------------------
# Issue 7 item 6: the same input gives the same bytes, in fresh processes


_NORMALISE_IN_A_FRESH_PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    from skikt.layers.composite import normalise
    rng = np.random.default_rng(4)
    raw = np.concatenate([rng.gamma(2, 3000, 30000), np.zeros(5000), [np.nan] * 100])
    for scheme in ("quantiles", "equal_interval", "natural_breaks"):
        sys.stdout.buffer.write(normalise(raw, "classes", "high", scheme, 7).tobytes())
""")


def test_classes_are_identical_across_processes():
    runs = [subprocess.run([sys.executable, "-c", _NORMALISE_IN_A_FRESH_PROCESS], capture_output=True, check=True).stdout
            for _ in range(2)]
    assert len(runs[0]) == 3 * 35100 * 4 and runs[0] == runs[1]


def _project_with_every_normalisation(tmp_path: Path) -> Path:
    ref, hf = SAMPLE / "sweden_reference.gpkg", SAMPLE / "health_facilities_osm.gpkg"
    layers = [
        ("d_minmax", hf, 'method = "distance"\nnormalize = "minmax"'),
        ("d_rank", hf, 'method = "distance"\nnormalize = "rank"\ndirection = "low"'),
        ("d_z", hf, 'method = "distance"\nnormalize = "zscore"'),
        ("d_q", hf, 'method = "distance"\nnormalize = "classes"\nscheme = "quantiles"\nk = 7'),
        ("d_ei", hf, 'method = "distance"\nnormalize = "classes"\nscheme = "equal_interval"'),
        ("d_nb", hf, 'method = "distance"\nnormalize = "classes"\nscheme = "natural_breaks"\nk = 6'),
        ("c_nb", hf, 'method = "count"\nnormalize = "classes"\nscheme = "natural_breaks"'),
        ("c_q", hf, 'method = "count"\nnormalize = "classes"\nscheme = "quantiles"'),
    ]
    text = 'schema_version = 1\n[project]\ntitle = "t"\n'
    text += f'[[layers]]\nid = "lan"\npath = "{ref.as_posix()}"\nlayer = "lan"\nsector = "reference"\n'
    for i, (lid, path, ind) in enumerate(layers):
        sector = ("healthcare", "transport", "water")[i % 3]
        text += (f'[[layers]]\nid = "{lid}"\npath = "{path.as_posix()}"\nlayer = "health_facilities"\n'
                 f'sector = "{sector}"\n[layers.indicator]\n{ind}\nweight = {i + 1}\n')
    text += '[units]\nkind = "grid"\ncell_size = 1000\nstudy_area = { layer = "lan", where = "code = \'01\'" }\n'
    path = tmp_path / "every_normalisation.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_score_twice_gives_identical_bytes_for_every_normalisation(tmp_path):
    project = _project_with_every_normalisation(tmp_path)
    outputs = []
    for run in (1, 2):
        out = tmp_path / f"run{run}.csv"
        res = subprocess.run([sys.executable, "-m", "skikt.layers", "score", str(project), "--out", str(out)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    header = outputs[0].split(b"\n", 1)[0].decode()
    assert all(f"{lid}_norm" in header for lid in ("d_minmax", "d_rank", "d_z", "d_q", "d_ei", "d_nb", "c_nb", "c_q"))


# ------------------------------------------------------------------------------------------------
# Issue 7 item 14: plain ranks and classes, exact, against scipy


def _scores_with_ties_and_nan(dtype, seed=6):
    rng = np.random.default_rng(seed)
    s = rng.integers(-20, 40, 20_000).astype(dtype) / 8  # many exact ties, negatives too
    s[rng.random(len(s)) < 0.05] = np.nan
    return s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ranks_and_priority_classes_match_rankdata(dtype):
    s = _scores_with_ties_and_nan(dtype)
    ok = ~np.isnan(s)
    expected_rank = np.zeros(len(s), int)
    expected_rank[ok] = rankdata(-s[ok], method="min")  # 1 = highest, ties share the best rank
    np.testing.assert_array_equal(ranks(s), expected_rank)
    n = int(ok.sum())
    for k in (2, 3, 5, 7, 10):
        expected = np.where(ok, 1 + (expected_rank - 1) * k // n, 0)
        np.testing.assert_array_equal(quantile_classes(s, k), expected)
        np.testing.assert_array_equal(top_class(s, k), expected == 1)


def test_quantile_classes_hand_worked():
    # n = 6 scored, k = 3: ranks 1, 2, 2, 4, 5, 6 → classes 1 + ⌊(rank − 1)·3/6⌋ = 1, 1, 1, 2, 3, 3.
    s = np.array([0.9, 0.5, 0.5, np.nan, 0.3, 0.2, 0.1], np.float32)
    np.testing.assert_array_equal(ranks(s), [1, 2, 2, 0, 4, 5, 6])
    np.testing.assert_array_equal(quantile_classes(s, 3), [1, 1, 1, 0, 2, 3, 3])


def test_combine_overlap_counts_sector_top_classes():
    rng = np.random.default_rng(9)
    norm = rng.random((5, 2000)).astype(np.float32)
    norm[rng.random(norm.shape) < 0.05] = np.nan
    norm[:, [7, 70]] = np.nan  # units without any value: no score, rank 0
    sectors = ["a", "a", "b", "b", "b"]
    weights = np.array([1, 2, 0.5, 1, 3], np.float32)
    comp = combine(Normalised(list("vwxyz"), sectors, norm), weights, 5)
    expected = np.zeros(2000, int)
    for rows in ([0, 1], [2, 3, 4]):  # each sector's own weighted mean, then its top fifth by rankdata
        w = weights[rows][:, None] * ~np.isnan(norm[rows])
        with np.errstate(invalid="ignore"):
            score = np.nansum(norm[rows] * weights[rows][:, None], axis=0) / w.sum(axis=0)
        ok = w.sum(axis=0) > 0
        rank = np.zeros(2000, int)
        rank[ok] = rankdata(-score[ok].astype(np.float32), method="min")
        expected += ok & ((rank - 1) * 5 // ok.sum() == 0)
    np.testing.assert_array_equal(comp.overlap, expected)
    scored = ~np.isnan(comp.score)
    expected_rank = rankdata(-comp.score[scored], method="min")
    np.testing.assert_array_equal(comp.rank[scored], expected_rank)
    np.testing.assert_array_equal([comp.rank_of(i) for i in np.flatnonzero(scored)[:50]], expected_rank[:50])
    assert [comp.rank_of(i) for i in np.flatnonzero(~scored)] == [0, 0]


def test_dead_code_is_gone():
    for name in ("equal_interval_classes", "_ranks_packed", "_sort_in_place", "_SORT_HELPER", "_Scratch",
                 "_share_first_position"):
        assert not hasattr(composite, name), name


# ------------------------------------------------------------------------------------------------
# All weights zero: a flagged result, never a silent blank map


def test_all_weights_zero_is_flagged_not_blank():
    norm = np.random.default_rng(1).random((3, 50)).astype(np.float32)
    comp = combine(Normalised(["a", "b", "c"], ["x", "y", "y"], norm), [0, 0, 0])
    assert comp.no_weights
    assert np.isnan(comp.score).all() and (comp.cls == 0).all() and (comp.overlap == 0).all()
    assert not combine(Normalised(["a", "b", "c"], ["x", "y", "y"], norm), [0, 1, 0]).no_weights
    assert combine(Normalised([], [], np.zeros((0, 50), np.float32)), []).no_weights


# ------------------------------------------------------------------------------------------------
# Issue 8 item 2: bench refuses what it cannot measure, in one line


@pytest.mark.parametrize("cells", [0, -5])
def test_bench_refuses_non_positive_cells(cells):
    with pytest.raises(SkiktError) as err:
        run_benchmarks(cells=cells, only={"reweight"})
    assert "\n" not in str(err.value) and "--cells" in str(err.value) and str(cells) in str(err.value)


def test_bench_refuses_unknown_names_and_lists_the_valid_ones():
    with pytest.raises(SkiktError) as err:
        run_benchmarks(cells=1000, only={"nosuchname"})
    line = str(err.value)
    assert "\n" not in line and "nosuchname" in line and all(name in line for name in BENCHMARK_NAMES)
    with pytest.raises(SkiktError):
        run_benchmarks(cells=1000, only="")


def test_graduated_style_breaks_are_mapclassify_bins():
    """Styles show the same classes as mapclassify: Fisher–Jenks for natural breaks, and for
    quantiles with ties mapclassify's collapsed bounds (no empty legend rows)."""
    import pandas as pd

    from skikt.layers.style import graduated_breaks

    warnings.simplefilter("ignore")
    for name, raw in _datasets(seed=12).items():
        raw = raw[:120]
        v = raw[~np.isnan(raw)]
        values = pd.Series(raw)
        np.testing.assert_array_equal(graduated_breaks(values, "quantiles", 5), mapclassify.Quantiles(v, k=5).bins)
        np.testing.assert_array_equal(graduated_breaks(values, "equal_interval", 5),
                                      mapclassify.EqualInterval(v, k=5).bins)
        ours, theirs = graduated_breaks(values, "natural_breaks", 4), mapclassify.FisherJenks(v, k=4).bins
        # Integer data can have two optimal partitions with the same total (here "ties": 2 | 3
        # split either way); both are Fisher–Jenks optima. Continuous data has one.
        assert _within_class_ss(v, bin1d(v, ours)[0]) == pytest.approx(_within_class_ss(v, bin1d(v, theirs)[0]))
        if name in ("continuous", "negative", "with_nan"):
            np.testing.assert_array_equal(ours, theirs, err_msg=name)


# ------------------------------------------------------------------------------------------------
# Decision methods through the workspace (issue 12): [combine], [ahp], weight uncertainty


def _decision_project(tmp_path, tables: str) -> Path:
    """A 10 × 10 grid of 100 m cells, two distance indicators to nine random points, and the
    given top-level tables ([combine], [ahp])."""
    import geopandas as gpd
    import shapely

    x0, y0 = 600000.0, 6600000.0
    gpkg = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(x0, y0, x0 + 1000, y0 + 1000)], crs=3006).to_file(gpkg, layer="area")
    xy = np.random.default_rng(11).uniform([x0, y0], [x0 + 1000, y0 + 1000], (9, 2))
    gpd.GeoDataFrame({"v": np.arange(9)}, geometry=shapely.points(xy), crs=3006).to_file(gpkg, layer="pts")
    body = textwrap.dedent("""
        [[layers]]
        id = "area"
        path = "d.gpkg"
        layer = "area"
        [[layers]]
        id = "near"
        path = "d.gpkg"
        layer = "pts"
        sector = "healthcare"
        [layers.indicator]
        method = "distance"
        direction = "low"
        [[layers]]
        id = "far"
        path = "d.gpkg"
        layer = "pts"
        sector = "transport"
        [layers.indicator]
        method = "distance"
        normalize = "rank"
        weight = 3
        [units]
        kind = "grid"
        cell_size = 100
        study_area = { layer = "area" }
        """)
    path = tmp_path / "p.toml"
    path.write_text(f'schema_version = 1\n[project]\ntitle = "t"\ncrs = "EPSG:3006"\n{tables}\n{body}', encoding="utf-8")
    return path


def _workspace(path):
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    ws = Workspace(read_project(path))
    ws.update()
    return ws


def test_combine_table_chooses_owa_and_geometric(tmp_path):
    from skikt.layers.owa import owa_scores

    ws = _workspace(_decision_project(tmp_path, '[combine]\nmethod = "owa"\nalpha = 2.5'))
    df = ws.result_table()
    z = df[["near_norm", "far_norm"]].to_numpy().T
    # OWA by hand for two criteria with weights 1 and 3 (u = 0.25, 0.75) and Q(p) = p^2.5: the
    # higher value gets Q(u_high), the lower one 1 − Q(u_high).
    u = np.where(z[0] >= z[1], 0.25, 0.75)
    want = u ** 2.5 * z.max(axis=0) + (1 - u ** 2.5) * z.min(axis=0)
    assert np.allclose(df["score"], want, atol=1e-6)
    assert np.allclose(owa_scores(z, [1, 3], 2.5), want, atol=1e-12)
    assert np.array_equal(df["rank"], rankdata(-df["score"].to_numpy(np.float32), method="min"))
    ws.project.extra["combine"] = {"method": "geometric"}
    ws.recombine()
    df = ws.result_table()
    assert np.allclose(df["score"], np.exp((np.log(np.maximum(z[0], 0.01)) + 3 * np.log(np.maximum(z[1], 0.01))) / 4), atol=1e-6)


@pytest.mark.parametrize("table, key, words", [
    ('[combine]\nmethod = "median"', "method", "expected one of mean, geometric, owa, got"),
    ('[combine]\nmethod = "owa"\nalpha = 0', "alpha", "expected a number above 0"),
    ('[combine]\nmethod = "owa"\nalpha = "big"', "alpha", "expected a number above 0"),
])
def test_bad_combine_tables_are_one_line(tmp_path, table, key, words):
    # Refused when the project is read (schema) or, for a table set in code, by the workspace.
    with pytest.raises(SkiktError) as err:
        _workspace(_decision_project(tmp_path, table))
    text = str(err.value)
    assert text.startswith("p.toml: ") and "combine" in text and key in text and words in text and "\n" not in text


def test_bad_combine_set_in_code_is_one_line(tmp_path):
    ws = _workspace(_decision_project(tmp_path, ""))
    ws.project.extra["combine"] = {"method": "owa", "alpha": -1}
    with pytest.raises(SkiktError, match=r"^p.toml: \[combine\] alpha: expected a number above 0, got -1$"):
        ws.recombine()


def test_ahp_table_sets_the_weights(tmp_path):
    ws = _workspace(_decision_project(tmp_path, '[ahp]\norder = ["near", "far"]\nmatrix = [[1, 4], [0.25, 1]]'))
    # Two criteria: w = (4, 1)/5 exactly, CR 0.
    assert np.allclose(ws.weights(), [0.8, 0.2], atol=1e-6)
    assert ws.ahp.cr == 0 and ws.ahp.warning() is None
    df = ws.result_table()
    assert np.allclose(df["score"], 0.8 * df["near_norm"] + 0.2 * df["far_norm"], atol=1e-6)


@pytest.mark.parametrize("table, words", [
    ('[ahp]\norder = ["near", "nosuch"]\nmatrix = [[1, 4], [0.25, 1]]', "'nosuch' is not an indicator layer"),
    ('[ahp]\norder = ["near", "far"]\nmatrix = [[1, 4], [4, 1]]', "must be 1/4"),
    ('[ahp]\norder = ["near"]', "matrix"),
])
def test_bad_ahp_tables_are_one_line(tmp_path, table, words):
    with pytest.raises(SkiktError) as err:
        _workspace(_decision_project(tmp_path, table))
    text = str(err.value)
    assert text.startswith("p.toml: ") and "ahp" in text and words in text and "\n" not in text


def test_uncertainty_columns_in_the_result_table(tmp_path):
    ws = _workspace(_decision_project(tmp_path, ""))
    df = ws.result_table(ws.weight_uncertainty(draws=20, spread=0.0))
    assert np.array_equal(df["p_top"], (df["priority_class"] == 1).astype(float))
    assert np.array_equal(df["rank_p50"], df["rank"].astype(float))
    df = ws.result_table(ws.weight_uncertainty(draws=200, spread=0.5))
    assert ((df["p_top"] >= 0) & (df["p_top"] <= 1)).all()
    assert (df["rank_p05"] <= df["rank_p50"]).all() and (df["rank_p50"] <= df["rank_p95"]).all()
