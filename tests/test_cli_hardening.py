"""The command line and outputs under bad options and hostile file systems (issue 8, items 2–4, 6, 8).

Options are refused as they are parsed, outputs before anything is computed; every refusal is
one ``skikt:`` line with exit code 2; an output never lands on an input; a failed write leaves the
old file and no temporaries; modes follow the umask; a closed pipe ends quietly.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from test_bad_input_corpus import (BASE_PROJECT, assert_one_line_refusal, replace, run_skikt, tree_hashes,
                                   write_base)
from skikt.layers import cli, safe_write
from skikt.layers.errors import SkiktError


def run_main(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code: int, err: str, *needles: str) -> str:
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("skikt:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_base(tmp_path / "src")


@pytest.fixture
def no_compute(monkeypatch):
    """Fail loudly if a command starts computing: refusals must come before any work."""
    from skikt.layers.workspace import Workspace

    def refuse(*a, **k):
        raise AssertionError("computing started")

    monkeypatch.setattr(Workspace, "update", refuse)


# ------------------------------------------------------------------------------------------------
# Options


@pytest.mark.parametrize("value", ["nan", "-5", "1e308", "0", "inf", "-inf", "1.5", "abc"])
def test_sensitivity_must_be_a_finite_fraction(capsys, tiny, no_compute, value, tmp_path):
    code, _, err = run_main(capsys, "score", tiny, "--out", tmp_path / "o.csv", "--sensitivity", value)
    line = assert_refused(code, err, "--sensitivity", value)
    assert line.startswith("skikt: score: --sensitivity:")


def test_sensitivity_accepts_fractions():
    parser = cli._parser()
    assert parser.parse_args(["score", "p.toml", "--out", "o.csv", "--sensitivity"]).sensitivity == 0.10
    assert parser.parse_args(["score", "p.toml", "--out", "o.csv", "--sensitivity", "0.05"]).sensitivity == 0.05
    assert parser.parse_args(["score", "p.toml", "--out", "o.csv", "--sensitivity", "1"]).sensitivity == 1.0


@pytest.mark.parametrize("args, needle", [
    (["bench", "--cells", "0"], "--cells"),
    (["bench", "--cells", "-5"], "--cells"),
    (["bench", "--cells", "1e6"], "--cells"),
    (["bench", "--cells", str(10**12)], "--cells"),
    (["bench", "--only", "nosuchname"], "nosuchname"),
    (["bench", "--only", "reweight,nosuchname"], "nosuchname"),
    (["bench", "--only", ","], "--only"),
])
def test_bench_arguments_refused_before_running(capsys, monkeypatch, args, needle):
    from skikt.layers import bench

    monkeypatch.setattr(bench, "run_benchmarks", lambda **k: pytest.fail("bench started"))
    code, _, err = run_main(capsys, *args)
    assert_refused(code, err, needle)


def test_bench_error_is_one_line(capsys, monkeypatch):
    from skikt.layers import bench

    def broken(**kwargs):
        raise SkiktError("no such benchmark\n'x' (known: a, b)")

    monkeypatch.setattr(bench, "run_benchmarks", broken)
    code, _, err = run_main(capsys, "bench", "--only", "reweight")
    assert_refused(code, err, "no such benchmark 'x'")


@pytest.mark.parametrize("args", [
    ["score"],
    ["score", "p.toml"],
    ["score", "p.toml", "--out", "o.csv", "--bogus"],
    ["compose", "p.toml", "--out", "o.png", "--lang", "fi"],
    ["inspect"],
    ["bench", "--cells"],
])
def test_usage_errors_are_one_line(capsys, args):
    code, out, err = run_main(capsys, *args)
    assert_refused(code, err)
    assert "usage:" not in err and out == ""


@pytest.mark.parametrize("command", ["score", "compose"])
def test_crs_garbage_names_the_option(capsys, tiny, no_compute, command, tmp_path):
    out = tmp_path / ("o.csv" if command == "score" else "o.png")
    code, _, err = run_main(capsys, command, tiny, "--out", out, "--crs", "garbage")
    line = assert_refused(code, err, "--crs: unknown coordinate system 'garbage'")
    assert "layer" not in line


@pytest.mark.parametrize("args, needle", [
    (["--dpi", "0"], "--dpi"),
    (["--dpi", "-3"], "--dpi"),
    (["--dpi", "100000"], "--dpi"),
    (["--dpi", "1.5"], "--dpi"),
    (["--size", "0x0"], "--size"),
    (["--size", "-1600x1000"], "--size"),
    (["--size", "100000x100"], "--size"),
    (["--size", "1600"], "--size"),
])
def test_compose_page_limits(capsys, no_compute, tmp_path, args, needle):
    # the project does not exist: the page is checked first, before the project is even read
    code, _, err = run_main(capsys, "compose", tmp_path / "nosuch.toml", "--out", tmp_path / "k.png", *args)
    assert_refused(code, err, needle)
    assert not (tmp_path / "k.png").exists()


def test_compose_size_bounded_by_available_memory(capsys, monkeypatch, no_compute, tmp_path):
    monkeypatch.setattr(safe_write, "available_memory", lambda: 100 * 2**20)
    # 4000 × 3000 RGBA page with its copies: 4000·3000·12 B = 137 MB > 100 MB
    code, _, err = run_main(capsys, "compose", tmp_path / "nosuch.toml", "--out", tmp_path / "k.png",
                            "--size", "4000x3000")
    assert_refused(code, err, "--size 4000x3000", "137 MB", "100 MB")
    # the same page passes when the memory is there
    monkeypatch.setattr(safe_write, "available_memory", lambda: 200 * 2**20)
    safe_write.check_page(4000, 3000, 150)


# ------------------------------------------------------------------------------------------------
# Nothing to score


ZERO = BASE_PROJECT.replace("weight = 2", "weight = 0").replace("weight = 1\n", "weight = 0\n")
NONE = BASE_PROJECT.split('[[layers]]\nid = "vard"')[0] + "[units]" + BASE_PROJECT.split("[units]")[1]


@pytest.mark.parametrize("text, needle", [(ZERO, "weight"), (NONE, "indicator")])
@pytest.mark.parametrize("command, name", [("score", "o.csv"), ("compose", "o.png")])
def test_nothing_to_score_is_one_line_before_computing(capsys, no_compute, tmp_path, text, needle, command, name):
    project = write_base(tmp_path / "src", text)
    code, _, err = run_main(capsys, command, project, "--out", tmp_path / name)
    assert_refused(code, err, needle, "projekt.toml")
    assert not (tmp_path / name).exists()


# ------------------------------------------------------------------------------------------------
# Never write over an input


def _inputs_project(src: Path) -> Path:
    text = replace(BASE_PROJECT, 'path = "skolor.gpkg"', 'path = "skolor.shp"')
    project = write_base(src, text)
    import geopandas as gpd

    gpd.read_file(src / "skolor.gpkg").to_file(src / "skolor.shp")
    (src / "vard.gpkg.meta.toml").write_text('source = "Test"\n', encoding="utf-8")
    return project


@pytest.mark.parametrize("target", ["vard.gpkg", "skolor.shp", "skolor.dbf", "skolor.shx", "skolor.prj",
                                    "skolor.cpg", "vard.gpkg.meta.toml", "projekt.toml", "symlink", "hardlink",
                                    "symlinked_folder"])
@pytest.mark.parametrize("command", ["score", "compose"])
def test_out_onto_an_input_is_refused_before_computing(capsys, no_compute, tmp_path, target, command):
    src = tmp_path / "src"
    project = _inputs_project(src)
    if target == "symlink":
        out = tmp_path / "lank.gpkg"
        out.symlink_to(src / "vard.gpkg")
    elif target == "hardlink":
        out = tmp_path / "hard.gpkg"
        os.link(src / "vard.gpkg", out)
    elif target == "symlinked_folder":
        (tmp_path / "via").symlink_to(src, target_is_directory=True)
        out = tmp_path / "via" / "skolor.dbf"
    else:
        out = src / target
    before = tree_hashes(src)
    code, _, err = run_main(capsys, command, project, "--out", out)
    line = assert_refused(code, err)
    assert "never overwritten" in line or "project file" in line, line
    assert tree_hashes(src) == before


def test_project_inputs_cover_every_part(tmp_path):
    from skikt.layers.project import read_project

    src = tmp_path / "src"
    project = read_project(_inputs_project(src))
    names = {p.name for p in safe_write.project_inputs(project)}
    assert {"projekt.toml", "omrade.gpkg", "vard.gpkg", "vard.gpkg.meta.toml", "vard.gpkg-journal",
            "skolor.shp", "skolor.dbf", "skolor.shx", "skolor.prj", "skolor.cpg", "skolor.shp.meta.toml"} <= names


def test_write_scores_refuses_an_input_when_called_directly(tmp_path):
    """The app's export goes through write_scores and compose_map, not the CLI: they refuse too."""
    from skikt.layers.export import compose_map
    from skikt.layers.output import write_scores
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    src = tmp_path / "src"
    ws = Workspace(read_project(write_base(src)))
    ws.update()
    before = tree_hashes(src)
    with pytest.raises(SkiktError, match="never overwritten"):
        write_scores(ws, src / "vard.gpkg")
    with pytest.raises(SkiktError, match="project file"):
        compose_map(ws, src / "projekt.toml")  # the wrong extension would be refused too; the input first
    assert tree_hashes(src) == before


# ------------------------------------------------------------------------------------------------
# Modes


@pytest.fixture
def scored_ws(tmp_path):
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    ws = Workspace(read_project(write_base(tmp_path / "src")))
    ws.update()
    return ws


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


@pytest.mark.parametrize("name", ["s.csv", "s.gpkg"])
def test_new_output_follows_umask_and_replaced_keeps_its_mode(scored_ws, tmp_path, umask_027, name):
    from skikt.layers.output import write_scores

    out = tmp_path / "ut" / name
    write_scores(scored_ws, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600
    out.chmod(0o604)
    write_scores(scored_ws, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o604
    assert [p.name for p in out.parent.iterdir()] == [name]


def test_composed_map_follows_umask(scored_ws, tmp_path, umask_027):
    from skikt.layers.export import compose_map

    out = compose_map(scored_ws, tmp_path / "k.png", size=(400, 300), dpi=50)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_umask_is_read_without_changing_it(umask_027):
    assert safe_write.current_umask() == 0o027
    assert safe_write.current_umask() == 0o027


# ------------------------------------------------------------------------------------------------
# Output problems


def test_disk_full_mid_csv_write_is_one_line_and_keeps_the_old_file(capsys, monkeypatch, tiny, tmp_path):
    import pyarrow.csv as pacsv

    out = tmp_path / "scores.csv"
    out.write_text("old scores\n")

    def half_then_full(table, path, *a, **k):
        with open(path, "wb") as fh:
            fh.write(b"unit_id,score\n" + b"x,0.5\n" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pacsv, "write_csv", half_then_full)
    code, _, err = run_main(capsys, "score", tiny, "--out", out)
    assert_refused(code, err, "scores.csv", "disk is full")
    assert out.read_text() == "old scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv", "src"]  # no temporaries


def _big_grid_project(folder: Path) -> Path:
    # 25 m cells over the 4 km square: 25,600 cells, a score table of megabytes
    return write_base(folder, replace(BASE_PROJECT, "cell_size = 1000", "cell_size = 25"))


def _file_size_limit(limit: int):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@pytest.mark.parametrize("name", ["scores.gpkg", "scores.csv"])
def test_file_system_refusing_more_bytes_is_one_line_and_leaves_nothing(tmp_path, name):
    """A real write failure inside GDAL/SQLite and pyarrow: the file-size limit makes every write
    past 512 kB fail, as a full disk does."""
    project = _big_grid_project(tmp_path / "src")
    (tmp_path / "out").mkdir()
    before = tree_hashes(tmp_path / "src")
    res = run_skikt("score", project, "--out", tmp_path / "out" / name, cwd=tmp_path,
                    preexec=_file_size_limit(512 * 1024))
    assert_one_line_refusal(res, name, "nothing was written")
    assert list((tmp_path / "out").iterdir()) == []
    assert tree_hashes(tmp_path / "src") == before


def test_same_big_project_writes_without_the_limit(tmp_path):
    project = _big_grid_project(tmp_path / "src")
    res = run_skikt("score", project, "--out", tmp_path / "scores.csv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "scores.csv").stat().st_size > 512 * 1024


def test_out_folder_and_long_name_and_missing_parent(capsys, no_compute, tiny, tmp_path):
    code, _, err = run_main(capsys, "score", tiny, "--out", tmp_path)
    assert_refused(code, err, "is a folder")
    code, _, err = run_main(capsys, "score", tiny, "--out", tmp_path / ("n" * 300 + ".csv"))
    assert_refused(code, err, "304 bytes")
    code, _, err = run_main(capsys, "compose", tiny, "--out", tmp_path / "k.txt")
    assert_refused(code, err, "'.txt'")


def test_closed_pipe_ends_quietly(tmp_path):
    """`skikt inspect … | head -1`: the reader goes away; we end as a Unix tool does, silently."""
    write_base(tmp_path)
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "skikt.app.cli", "inspect", str(tmp_path / "skolor.gpkg"),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the first write
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert err == ""
    assert code == 141  # 128 + SIGPIPE, what the shell reports for `yes | head -1`'s yes


def test_closed_pipe_in_a_shell_pipeline(tmp_path):
    write_base(tmp_path)
    script = (f"{sys.executable} -m skikt.app.cli inspect {tmp_path / 'skolor.gpkg'} | head -1; "
              "echo \"status ${PIPESTATUS[0]}\"")
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert res.stderr == ""
    assert res.stdout.splitlines()[-1] in ("status 0", "status 141")


# ------------------------------------------------------------------------------------------------
# Temporaries of killed runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_killed_writer_leaves_a_temporary_the_next_run_removes(tmp_path, tiny):
    out_dir = tmp_path / "ut"
    out_dir.mkdir()
    # a writer killed in the middle of its GeoPackage, as `kill -9` would leave it
    killer = ("import os, sys\nfrom pathlib import Path\nfrom skikt.layers.safe_write import atomic_write\n"
              "def write(p):\n"
              "    p.write_bytes(b'x' * 300_000)\n"
              "    Path(str(p) + '.tmp_rtree_scores.db').write_bytes(b'r' * 300_000)\n"
              "    Path(str(p) + '-journal').write_bytes(b'j')\n"
              "    os._exit(9)\n"
              f"atomic_write(Path(sys.argv[1]), write)\n")
    res = subprocess.run([sys.executable, "-c", killer, str(out_dir / "scores.gpkg")], capture_output=True)
    assert res.returncode == 9
    (left,) = list(out_dir.iterdir())
    assert left.name.startswith(".skikt-tmp-") and len(list(left.iterdir())) == 3
    _age(left, 5)
    res = run_skikt("score", tiny, "--out", out_dir / "scores.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["scores.gpkg"]


def test_stale_temporaries_removed_and_live_ones_kept(capsys, tiny, tmp_path):
    out_dir = tmp_path / "ut"
    out_dir.mkdir()
    dead, alive = _dead_pid(), os.getpid()
    stale = out_dir / f".skikt-tmp-{dead}-abc123"
    stale.mkdir()
    (stale / "out.gpkg").write_bytes(b"half")
    (stale / "out.gpkg.tmp_rtree_scores.db").write_bytes(b"rtree")
    _age(stale, 60)
    legacy_old = [out_dir / ".scores.k3j_9x2a.gpkg", out_dir / ".scores.k3j_9x2a.gpkg-journal",
                  out_dir / ".scores.k3j_9x2a.gpkg.tmp_rtree_scores.db"]
    legacy_new = out_dir / ".scores.q1w2e3r4.gpkg"
    unrelated = [out_dir / ".scores.gpkg.bak", out_dir / "anteckning.txt", out_dir / ".skiktrc"]
    for p in legacy_old + [legacy_new] + unrelated:
        p.write_bytes(b"x")
    for p in legacy_old:
        _age(p, 2 * 3600)
    # a temporary whose writer is alive must stay (skikt runs in this very process here)
    live_ours = out_dir / f".skikt-tmp-{alive}-ghi789"
    live_ours.mkdir()
    _age(live_ours, 60)
    # a day old: its PID is taken for reused (after a reboot), even though a process has it now
    reused = out_dir / f".skikt-tmp-{alive}-jkl012"
    reused.mkdir()
    _age(reused, 2 * 86_400)
    code, _, err = run_main(capsys, "score", tiny, "--out", out_dir / "scores.gpkg")
    assert code == 0, err
    names = {p.name for p in out_dir.iterdir()}
    assert stale.name not in names and reused.name not in names
    assert not any(p.name in names for p in legacy_old)
    assert {legacy_new.name, live_ours.name, "scores.gpkg"} | {p.name for p in unrelated} <= names


# ------------------------------------------------------------------------------------------------
# Text drawn as text


@pytest.mark.parametrize("title", ["Kostnad $5 och $10", r"Budget $\frac{a}{$ och mer", "Pris $5"])
def test_compose_title_with_dollars_is_plain_text(scored_ws, tmp_path, title):
    from skikt.layers.export import compose_map

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        out = compose_map(scored_ws, tmp_path / "k.svg", title=title, size=(600, 400), dpi=100)
    svg = out.read_text(encoding="utf-8")
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    assert escaped in svg


def test_every_text_on_the_page_has_math_parsing_off(scored_ws, tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from skikt.layers.export import compose_map

    pages = []
    original = Figure.savefig

    def keep(fig, *a, **k):
        pages.append(fig)
        return original(fig, *a, **k)

    monkeypatch.setattr(Figure, "savefig", keep)
    compose_map(scored_ws, tmp_path / "k.png", title="Kostnad $5 och $10", size=(600, 400), dpi=100)
    (fig,) = pages
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert any(t.get_text() == "Kostnad $5 och $10" for t in texts)
    assert texts and all(not t.get_parse_math() for t in texts)
