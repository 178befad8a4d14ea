"""`skikt score --engine dask` on the command line: the score options, the progress bar on a
terminal, Ctrl-C, and the in-memory engine's suggestion to use dask for a large grid.

Runs `python -m skikt.layers.cli` in a subprocess, as a user would."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "sample_project.toml"


def skikt(*args, env=None, **kw):
    full = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run([sys.executable, "-m", "skikt.layers.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=full, **kw)


def test_dask_cli_writes_the_option_columns_of_the_in_memory_engine(tmp_path):
    """--scenario, --groups and --uncertainty on both engines: the same columns, the same ranks,
    and the scores to the in-memory CSV's six decimals."""
    options = ["--scenario", "Vård först", "--groups", "--uncertainty", "12", "--spread", "0.3"]
    memory, dask = tmp_path / "memory.csv", tmp_path / "dask.csv"
    first = skikt("score", SAMPLE, "--out", memory, *options)
    second = skikt("score", SAMPLE, "--engine", "dask", "--workers", "1", "--tile-cells", "128", "--out", dask, *options)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "12 draws" in second.stdout and "scenario 'Vård först'" in second.stdout
    assert second.stderr == ""  # not a terminal: no progress bar
    ref = pd.read_csv(memory, dtype={"unit_id": str}).sort_values("unit_id").reset_index(drop=True)
    got = pd.read_csv(dask, dtype={"unit_id": str}).sort_values("unit_id").reset_index(drop=True)
    assert list(got.columns) == list(ref.columns)
    for column in ref.columns[1:]:
        if column == "excluded_by":  # the sample's training areas
            assert list(got[column].fillna("")) == list(ref[column].fillna("")) and (ref[column].fillna("") != "").any()
        elif column.endswith("_rank") or column in ("rank", "priority_class", "overlap"):
            np.testing.assert_array_equal(got[column].to_numpy(float), ref[column].to_numpy(float), err_msg=column)
        else:
            np.testing.assert_allclose(got[column], ref[column], rtol=0, atol=5e-7, err_msg=column)


def test_sensitivity_is_still_refused_on_dask_in_one_line(tmp_path):
    run = skikt("score", SAMPLE, "--engine", "dask", "--out", tmp_path / "x.tif", "--sensitivity")
    assert run.returncode == 2
    assert run.stderr.splitlines() == ["skikt: score: --sensitivity is not available with --engine dask yet"]


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def _run_on_a_terminal(args, env):
    """The CLI with stderr on a pseudo-terminal (so it draws its bar); stdout is a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "skikt.layers.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=slave, env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env})
    os.close(slave)
    return proc, master


def test_ctrl_c_closes_the_cluster_exits_130_and_leaves_no_file(tmp_path):
    """SIGINT once the bar shows the tiles: the run stops, exit 130, one line, no file or
    temporary left in the output folder. SKIKT_TEST_TILE_DELAY makes each tile sleep, so the run
    is certainly still computing when the signal comes (no timing is asserted)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = ["score", SAMPLE, "--engine", "dask", "--workers", "1", "--tile-cells", "64", "--out", out_dir / "x.tif"]
    proc, master = _run_on_a_terminal(args, {"SKIKT_TEST_TILE_DELAY": "2"})
    try:
        seen = _read_until(master, b"raw indicators, tile", 300)
        assert b"16 tiles" in seen and b"raw indicators, tile" in seen and b"\r[" in seen, seen  # the bar, in place
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=300)
        seen += _read_until(master, b"no output file", 10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode("utf-8", "replace")
    last = text.replace("\r", "\n").strip().splitlines()[-1]
    assert proc.returncode == 130
    assert last == "skikt: cancelled: the cluster is closed and no output file was written"
    assert "Traceback" not in text
    assert list(out_dir.iterdir()) == []


def test_progress_bar_counts_tiles_on_a_terminal_and_quiet_silences_it(tmp_path):
    args = ["score", SAMPLE, "--engine", "dask", "--workers", "1", "--tile-cells", "128", "--out"]
    proc, master = _run_on_a_terminal([*args, tmp_path / "a.tif"], {})
    try:
        seen = _read_until(master, b"done", 300)
        proc.wait(timeout=300)
    finally:
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "raw indicators, tile 8/8" in text and "ETA" in text and "100%" in text
    proc, master = _run_on_a_terminal([*args, tmp_path / "b.tif", "--quiet"], {})
    try:
        proc.wait(timeout=300)
        quiet = _read_until(master, b"never", 1)
    finally:
        os.close(master)
    assert proc.returncode == 0 and quiet == b""


# ------------------------------------------------------------------------------------------------
# The in-memory engine suggests the dask engine


def _large_grid_project(tmp_path: Path, cell: float, broken_indicator: bool) -> Path:
    """A 60 × 60 km study area, and one indicator layer: a few points, or a file that is not a
    GeoPackage at all (so computing indicators before the suggestion would fail first)."""
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(600_000, 6_500_000, 660_000, 6_560_000)],
                     crs=3006).to_file(tmp_path / "area.gpkg", layer="area")
    if broken_indicator:
        (tmp_path / "pts.gpkg").write_bytes(b"not a geopackage")
    else:
        gpd.GeoDataFrame({"v": [1.0, 2.0]}, geometry=shapely.points([[610_000, 6_510_000], [650_000, 6_550_000]]),
                         crs=3006).to_file(tmp_path / "pts.gpkg", layer="pts")
    text = ('schema_version = 1\n[project]\ntitle = "large"\ncrs = "EPSG:3006"\n'
            '[[layers]]\nid = "area"\npath = "area.gpkg"\nsector = "reference"\n'
            '[[layers]]\nid = "pts"\npath = "pts.gpkg"\nsector = "healthcare"\n'
            '[layers.indicator]\nmethod = "count"\nweight = 1\n'
            f'[units]\nkind = "grid"\ncell_size = {cell}\nstudy_area = {{ layer = "area" }}\n')
    path = tmp_path / "large.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_large_grid_gets_the_suggestion_before_any_indicator_is_computed(tmp_path):
    # 60 km at 25 m: 5,760,000 cells, above the 3,000,000 threshold. The indicator file is broken:
    # the suggestion must come first, then the one line about the file.
    run = skikt("score", _large_grid_project(tmp_path, 25, broken_indicator=True), "--out", tmp_path / "x.csv")
    lines = run.stderr.splitlines()
    assert run.returncode == 2 and len(lines) == 2, run.stderr
    assert lines[0] == ("skikt: the grid has about 5,760,000 cells (above 3,000,000): "
                        "--engine dask --out FILE.tif computes it in tiles with less memory")
    assert "pts.gpkg" in lines[1]


def test_no_suggestion_below_the_threshold_and_the_memory_guard_names_the_dask_engine(tmp_path):
    small = skikt("score", _large_grid_project(tmp_path, 50, broken_indicator=True), "--out", tmp_path / "x.csv")
    assert len(small.stderr.splitlines()) == 1 and "--engine dask" not in small.stderr  # 1,440,000 cells
    huge = tmp_path / "huge"
    huge.mkdir()
    # 60 km at 0.5 m: 14.4 billion cells, more than any memory here: the guard refuses.
    run = skikt("score", _large_grid_project(huge, 0.5, broken_indicator=False), "--out", tmp_path / "y.csv")
    lines = run.stderr.splitlines()
    # Bad input is one line: the refusal names both ways out, with no suggestion line before it.
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert "choose cell_size =" in lines[0] and lines[0].endswith("or score it with --engine dask --out FILE.tif")
    assert not (tmp_path / "y.csv").exists()
