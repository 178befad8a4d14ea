"""The new commands on the command line: compare, pack, unpack, export, memo, score --scenario and
--groups, compose with views and paper. Each runs as a user runs it: the installed ``skikt``
console script in a separate process, on a copy of the sample. Oracles: the sample's TOML read
with tomllib, weighted means and ranks computed here (numpy, scipy), the GeoPackage's own tables
(pyogrio), the PNG header and the PDF's page boxes, and SHA-256 of every input file."""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from conftest import SAMPLE

SKIKT = Path(sys.executable).parent / "skikt"
ENV = {"QT_QPA_PLATFORM": "offscreen", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "HOME": "/tmp",
       "LANG": "C.UTF-8"}
A, B = "Vård först", "Beredskap"


def skikt(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SKIKT), *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=600)


def ok(*args) -> str:
    run = skikt(*args)
    assert run.returncode == 0 and not run.stderr, run.stderr
    return run.stdout


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pdf_pages(path: Path) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", path.read_bytes())
    return [(float(w), float(h)) for w, h in boxes]


def assert_min_ranks(ranks, scores) -> None:
    """Rank 1 is the highest score, ties share the best rank (scipy's "min"). The CSV rounds
    scores to six decimals, which can make or break a tie: a unit may differ from scipy's rank
    only where another unit's score is within a millionth of its own."""
    ranks, scores = np.asarray(ranks, float), np.asarray(scores, float)
    expected = rankdata(-scores, method="min")
    differ = np.flatnonzero(ranks != expected)
    ordered = np.sort(scores)
    for i in differ:
        j = np.searchsorted(ordered, scores[i])
        near = ordered[max(j - 1, 0):j + 2]
        assert (np.abs(near - scores[i]) <= 1.5e-6).sum() >= 2, (i, ranks[i], expected[i], scores[i])
    assert (np.abs(ranks - expected) <= np.maximum(1, 0.001 * len(ranks))).all()  # near ties move a rank a little


def weighted_mean(table: pd.DataFrame, weights: dict) -> np.ndarray:
    """Σ wᵢ·nᵢ / Σ wᵢ over the indicators a unit has a value for, from the ``<id>_norm`` columns."""
    ids = [lid for lid, w in weights.items() if w > 0]
    norm = table[[f"{lid}_norm" for lid in ids]].to_numpy(float)
    w = np.array([weights[lid] for lid in ids], float)
    valid = ~np.isnan(norm)
    total = np.where(valid, w, 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(np.where(valid, norm * w, 0), axis=1) / total, np.nan)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("wiring") / "sample"
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


@pytest.fixture(scope="module")
def toml(sample_dir) -> dict:
    with open(sample_dir / "sample_project.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def scored(sample_dir) -> dict[str, pd.DataFrame]:
    """`skikt score` with the project's weights and with each of the two scenarios."""
    out = sample_dir.parent / "scores"
    out.mkdir()
    project = sample_dir / "sample_project.toml"
    ok("score", project, "--out", out / "base.csv")
    ok("score", project, "--scenario", A, "--out", out / "a.csv")
    ok("score", project, "--scenario", B, "--out", out / "b.csv")
    return {name: pd.read_csv(out / f"{name}.csv", dtype={"unit_id": str}) for name in ("base", "a", "b")}


def project_weights(toml, scenario: str | None = None) -> dict:
    weights = {s["id"]: s["indicator"].get("weight", 1.0) for s in toml["layers"] if "indicator" in s}
    if scenario:
        weights.update(next(s for s in toml["scenarios"] if s["name"] == scenario)["weights"])
    return weights


# ------------------------------------------------------------------------------------------------
# Wiring


def test_help_lists_every_command_and_option():
    run = skikt("--help")
    assert run.returncode == 0
    for command in ("inspect", "score", "compare", "compose", "export", "memo", "pack", "unpack", "bench"):
        assert re.search(rf"^\s+{command}\s", run.stdout, re.M), command
    compose = skikt("compose", "--help").stdout
    for option in ("--view", "--all-views", "--scenario", "--paper", "--landscape", "--portrait", "--dpi", "--size"):
        assert option in compose
    score = skikt("score", "--help").stdout
    assert "--scenario" in score and "--groups" in score


def test_score_scenario_uses_the_scenarios_weights(scored, toml):
    for name, scenario in (("base", None), ("a", A), ("b", B)):
        table = scored[name]
        expected = weighted_mean(table, project_weights(toml, scenario))
        scored_units = ~np.isnan(expected)
        assert np.allclose(table["score"].to_numpy(float)[scored_units], expected[scored_units], atol=2e-6)
        assert_min_ranks(table["rank"].to_numpy()[scored_units], table["score"].to_numpy(float)[scored_units])
    assert not np.allclose(scored["a"]["score"], scored["b"]["score"], equal_nan=True)


def test_compare_agrees_with_two_score_scenario_runs(sample_dir, scored):
    """Issue 10's "done when": `skikt compare` agrees with two `skikt score --scenario` runs."""
    out = sample_dir.parent / "cmp.csv"
    stdout = ok("compare", sample_dir / "sample_project.toml", A, B, "--out", out)
    assert "units that rise most" in stdout
    cmp = pd.read_csv(out, dtype={"unit_id": str})
    assert list(cmp.columns) == ["unit_id", "score_a", "score_b", "rank_a", "rank_b", "rank_change", "class_a",
                                 "class_b"]
    a, b = scored["a"], scored["b"]
    assert (cmp["unit_id"] == a["unit_id"]).all() and (cmp["unit_id"] == b["unit_id"]).all()
    assert np.allclose(cmp["score_a"], a["score"], equal_nan=True, atol=1e-6)
    assert np.allclose(cmp["score_b"], b["score"], equal_nan=True, atol=1e-6)
    for side, table in (("a", a), ("b", b)):
        scored_units = table["priority_class"] > 0
        assert (cmp.loc[scored_units, f"rank_{side}"] == table.loc[scored_units, "rank"]).all()
        assert (cmp.loc[scored_units, f"class_{side}"] == table.loc[scored_units, "priority_class"]).all()
    both = cmp.dropna(subset=["rank_change"])
    assert (both["rank_change"] == both["rank_a"] - both["rank_b"]).all()


def test_score_groups_adds_each_groups_score_and_rank(sample_dir, toml):
    out = sample_dir.parent / "groups.csv"
    ok("score", sample_dir / "sample_project.toml", "--groups", "--out", out)
    table = pd.read_csv(out, dtype={"unit_id": str})
    for group in toml["groups"]:
        expected = weighted_mean(table, dict(group["weights"]))
        have = table[f"{group['id']}_score"].to_numpy(float)
        scored_units = ~np.isnan(expected)
        assert np.allclose(have[scored_units], expected[scored_units], atol=2e-6)
        assert_min_ranks(table[f"{group['id']}_rank"].to_numpy()[scored_units], have[scored_units])
    assert {"consensus_score", "consensus_rank", "rank_spread"} <= set(table.columns)


def test_pack_then_unpack_scores_as_the_original(sample_dir, scored):
    before = hashes(sample_dir)
    zip_path = sample_dir.parent / "paket.zip"
    ok("pack", sample_dir / "sample_project.toml", "--out", zip_path)
    assert hashes(sample_dir) == before
    target = sample_dir.parent / "unpacked"
    ok("unpack", zip_path, "--to", target)
    out = sample_dir.parent / "unpacked_scores.csv"
    ok("score", target / "sample_project.toml", "--out", out)
    again = pd.read_csv(out, dtype={"unit_id": str})
    pd.testing.assert_frame_equal(again, scored["base"])


def test_export_gpkg_holds_every_scenarios_scores(sample_dir, scored, toml):
    import pyogrio

    out = sample_dir.parent / "qgis.gpkg"
    ok("export", sample_dir / "sample_project.toml", "--out", out)
    tables = [name for name, _ in pyogrio.list_layers(out)]
    assert len(tables) >= len(toml["layers"])
    scores = next(pyogrio.read_dataframe(out, layer=t, read_geometry=False) for t in tables
                  if "score" in t or "scores" in t)
    for name in ("a", "b"):
        columns = [c for c in scores.columns if c.startswith("score_")]
        matches = [c for c in columns if np.allclose(scores[c].to_numpy(float), scored[name]["score"].to_numpy(float),
                                                     equal_nan=True, atol=1e-6)]
        assert matches, (name, columns)


def test_memo_is_a_pdf_on_a4_landscape(sample_dir):
    out = sample_dir.parent / "memo.pdf"
    ok("memo", sample_dir / "sample_project.toml", "--out", out, "--lang", "en")
    pages = pdf_pages(out)
    assert len(pages) >= 3
    assert all(p == pytest.approx((841.89, 595.28), abs=1.0) for p in pages)  # the memo rounds A4 to 11.69 × 8.27 in


def test_compose_a3_view_and_the_all_views_handout(sample_dir, toml):
    project = sample_dir / "sample_project.toml"
    a3 = sample_dir.parent / "a3.png"
    ok("compose", project, "--out", a3, "--paper", "A3", "--dpi", "300", "--view", toml["views"][1]["name"])
    assert struct.unpack(">II", a3.read_bytes()[16:24]) == (4961, 3508)
    handout = sample_dir.parent / "handout.pdf"
    stdout = ok("compose", project, "--out", handout, "--all-views")
    assert f"({len(toml['views'])} pages)" in stdout
    pages = pdf_pages(handout)
    assert len(pages) == len(toml["views"])
    assert all(p == pytest.approx((841.89, 595.28), abs=0.05) for p in pages)
    portrait = sample_dir.parent / "portrait.pdf"
    ok("compose", project, "--out", portrait, "--paper", "a3", "--portrait", "--scenario", B)
    assert pdf_pages(portrait) == [pytest.approx((841.89, 1190.55), abs=0.05)]


# ------------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written, no input changed


def _evil_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../utanfor.txt", "x")
    return path


BAD = [
    (["score", "{p}", "--scenario", "Finns inte", "--out", "{o}/s.csv"], "Finns inte"),
    (["score", "{p}", "--groups", "--out", "{o}/s.csv"], "groups"),  # on a project without [[groups]]
    (["compare", "{p}", "Finns inte", A, "--out", "{o}/c.csv"], "Finns inte"),
    (["compare", "{p}", A, B, "--out", "{p}"], "sample_project.toml"),
    (["compare", "{p}", A, B, "--out", "{o}/c.txt"], "c.txt"),
    (["compose", "{p}", "--view", "Finns inte", "--out", "{o}/k.png"], "Finns inte"),
    (["compose", "{p}", "--all-views", "--out", "{o}/k.png"], "--all-views"),
    (["compose", "{p}", "--view", "Vård", "--all-views", "--out", "{o}/k.pdf"], "--all-views"),
    (["compose", "{p}", "--paper", "A5", "--out", "{o}/k.pdf"], "--paper"),
    (["compose", "{p}", "--paper", "A4", "--size", "800x600", "--out", "{o}/k.png"], "--size"),
    (["compose", "{p}", "--scenario", "Finns inte", "--out", "{o}/k.png"], "Finns inte"),
    (["compose", "{p}", "--out", "{d}/health_facilities_osm.gpkg"], "health_facilities_osm.gpkg"),
    (["export", "{p}", "--out", "{o}/e.txt"], "e.txt"),
    (["export", "{p}", "--out", "{d}/civilforsvar.fgb"], "civilforsvar.fgb"),
    (["memo", "{p}", "--out", "{o}/m.png"], "m.png"),
    (["memo", "{p}", "--out", "{p}"], "sample_project.toml"),
    (["memo", "{p}"], "--out"),
    (["pack", "{p}", "--out", "{d}/besoksmal_rt90.zip"], "besoksmal_rt90.zip"),
    (["unpack", "{o}/../evil.zip", "--to", "{o}/ut"], "outside"),
]


@pytest.mark.parametrize("args, named", BAD, ids=[" ".join(a[:1] + a[2:4]) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, named):
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    project = folder / "sample_project.toml"
    if "--groups" in args:
        text = project.read_text(encoding="utf-8")
        project.write_text(text[:text.index("[[groups]]")], encoding="utf-8")
    _evil_zip(tmp_path / "evil.zip")
    out = tmp_path / "out"
    out.mkdir()
    before = hashes(folder)
    run = skikt(*(a.format(p=project, o=out, d=folder) for a in args))
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("skikt: ") and "Traceback" not in run.stderr, run.stderr
    assert named in lines[0]
    assert hashes(folder) == before
    assert list(out.iterdir()) == []


def test_score_uncertainty_with_no_spread_is_the_set_weights(sample_dir, scored):
    """--spread 0: every draw is the set weights, so p_top is exactly 1 in the top class and 0
    elsewhere, and every rank percentile is the unit's rank (issue 12's check of the draws)."""
    out = sample_dir.parent / "uncertainty.csv"
    stdout = ok("score", sample_dir / "sample_project.toml", "--out", out, "--uncertainty", 20, "--spread", 0)
    assert "20 draws" in stdout
    table = pd.read_csv(out, dtype={"unit_id": str})
    base = scored["base"]
    assert (table["unit_id"] == base["unit_id"]).all()
    # Cells in the sample's training areas (role = "exclude") have no score, so no draws either:
    # empty p_top and rank percentiles there, and the rest is ranked among the scored cells only.
    excluded = base["score"].isna().to_numpy()
    assert excluded.sum() == 254
    assert table.loc[excluded, ["p_top", "rank_p05", "rank_p50", "rank_p95"]].isna().all().all()
    table, base = table.loc[~excluded], base.loc[~excluded]
    top = (base["priority_class"] == 1).to_numpy()
    assert (table["p_top"].to_numpy()[top] == 1).all() and (table["p_top"].to_numpy()[~top] == 0).all()
    for col in ("rank_p05", "rank_p50", "rank_p95"):
        # The draws rank in float64, the map's ranks come from float32 scores: they may part only
        # where the scores tie to the CSV's six decimals, which assert_min_ranks allows for.
        np.testing.assert_array_equal(table["rank_p05"], table[col])
        assert_min_ranks(table[col].to_numpy(), base["score"].to_numpy())


@pytest.mark.parametrize("args,line", [
    (("--uncertainty", "abc"), "skikt: score: --uncertainty: expected a whole number of draws, got 'abc'"),
    (("--uncertainty", "10", "--spread", "nan"), "skikt: score: --spread: expected a relative spread 0–5 (0.2 = ±20 %), got 'nan'"),
    (("--workers", "2"), "skikt: score: --scheduler and --workers need --engine dask"),
])
def test_score_decision_and_engine_options_refuse_bad_values(sample_dir, args, line):
    run = skikt("score", sample_dir / "sample_project.toml", "--out", sample_dir.parent / "x.csv", *args)
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [line]
