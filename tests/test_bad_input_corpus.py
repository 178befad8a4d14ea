"""A permanent guard: hostile and awkward inputs, made here, through every CLI command that applies.

Each case builds its files in its own folder and runs ``skikt inspect / score / compose / bench`` in
a subprocess, as a user would. A bad input must end with exit code 2 and exactly one stderr line
starting with ``skikt:``; a legitimately readable one must load correctly. Either way every source
file must be byte-identical afterwards.

The classes follow issue 8: wrong-typed project values, huge numbers, a BOM, nothing to score,
out-of-range settings, geometry/kind mismatches, duplicate ids, dates and infinities as numbers,
bad options, outputs onto inputs (directly, through a symlink, through a hard link), outputs that
cannot be written, deep filters, memory and zip-bomb guards, odd CRSs, join loops, locked and
damaged files, code pages, spreadsheets, encodings.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sqlite3
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

X0, Y0 = 600_000.0, 6_600_000.0  # SWEREF 99 TM, inside Sweden
SIDE = 4000.0

BASE_PROJECT = """schema_version = 1

[project]
title = "Korpus"
crs = "EPSG:3006"

[[layers]]
id = "omrade"
path = "omrade.gpkg"
sector = "reference"
title = "Område"

[[layers]]
id = "vard"
path = "vard.gpkg"
sector = "healthcare"
title = "Vård"
[layers.indicator]
method = "distance"
normalize = "minmax"
weight = 2

[[layers]]
id = "skolor"
path = "skolor.gpkg"
sector = "skills"
title = "Skolor"
[layers.indicator]
method = "count"
weight = 1
normalize = "classes"
k = 4

[units]
kind = "grid"
cell_size = 1000
study_area = { layer = "omrade" }
"""


# ------------------------------------------------------------------------------------------------
# Building blocks (also used by test_cli_hardening.py)


def square(x, y, side):
    return shapely.box(x, y, x + side, y + side)


def write_base(folder: Path, project_text: str = BASE_PROJECT) -> Path:
    """A tiny valid project: a 4 km study square on a 1 km grid, two point indicators."""
    folder.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"namn": ["Område"]}, geometry=[square(X0, Y0, SIDE)], crs=3006).to_file(folder / "omrade.gpkg")
    rng = np.random.default_rng(8)
    vard = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(3, 2))
    gpd.GeoDataFrame({"typ": ["a", "b", "c"]}, geometry=shapely.points(vard), crs=3006).to_file(folder / "vard.gpkg")
    skolor = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(9, 2))
    gpd.GeoDataFrame({"n": np.arange(9), "elever": rng.integers(10, 500, 9).astype(float)},
                     geometry=shapely.points(skolor), crs=3006).to_file(folder / "skolor.gpkg")
    project = folder / "projekt.toml"
    project.write_text(project_text, encoding="utf-8")
    return project


def write_kommuner(folder: Path, codes=("0114", "0115", "0117", "0120")) -> Path:
    """Four 2 km municipalities tiling the study square, with codes and names."""
    geoms = [square(X0 + dx, Y0 + dy, SIDE / 2) for dy in (0, SIDE / 2) for dx in (0, SIDE / 2)]
    path = folder / "kommuner.gpkg"
    gpd.GeoDataFrame({"code": list(codes), "name": ["A", "B", "C", "D"]}, geometry=geoms, crs=3006).to_file(path)
    return path


AREAS_UNITS = """[units]
kind = "areas"
layer = "kommuner"
id = "code"
"""

KOMMUNER_LAYER = """
[[layers]]
id = "kommuner"
path = "kommuner.gpkg"
sector = "reference"
"""


def areas_project(extra_layers: str) -> str:
    """The base project with municipalities as units and ``extra_layers`` added."""
    head = BASE_PROJECT.split("[units]")[0]
    return head + KOMMUNER_LAYER + extra_layers + "\n" + AREAS_UNITS


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _drop_root_file_override():
    """Run the child as an ordinary user would be treated: root keeps its uid but loses the right
    to write where the permission bits forbid it (so a read-only folder is read-only)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        libc.prctl(pr_capbset_drop, cap, 0, 0, 0)


def run_skikt(*args, cwd=None, preexec=None, timeout=300) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    env.pop("SKIKT_DEBUG", None)

    def before():
        _drop_root_file_override()
        if preexec:
            preexec()

    return subprocess.run([sys.executable, "-m", "skikt.app.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, preexec_fn=before, timeout=timeout)


# Each case runs several commands. Starting Python and importing GeoPandas and matplotlib for each
# costs more than the command itself, so one driver process imports them once and forks a child per
# command: the child runs the console script's main() with its own stdout, stderr and exit code.
_DRIVER = r"""
import json, os, sys, traceback
import geopandas, pyogrio, matplotlib
import skikt.layers.export, skikt.layers.inspect, skikt.layers.output, skikt.layers.workspace
from skikt.app.cli import main

for run in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        for fd, name in ((1, run["stdout"]), (2, run["stderr"])):
            os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        os.chdir(run["cwd"])
        sys.argv = ["skikt", *run["args"]]
        try:
            code = main(run["args"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(run["code"], "w") as fh:
        fh.write(str(code))
"""


def run_commands(commands: list[list], cwd: Path, preexec=None) -> list[subprocess.CompletedProcess]:
    """Run each command line as ``skikt …`` in a fresh child process of one driver (see _DRIVER)."""
    import json
    import tempfile

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    env.pop("SKIKT_DEBUG", None)
    with tempfile.TemporaryDirectory(prefix="skikt-corpus-") as logs:
        runs = [{"args": [str(a) for a in args], "cwd": str(cwd), "stdout": f"{logs}/{i}.out",
                 "stderr": f"{logs}/{i}.err", "code": f"{logs}/{i}.code"} for i, args in enumerate(commands)]

        def before():
            _drop_root_file_override()
            if preexec:
                preexec()

        driver = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(runs)], capture_output=True, text=True,
                                env=env, preexec_fn=before, timeout=600)
        assert driver.returncode == 0, driver.stderr[-3000:]
        return [subprocess.CompletedProcess(r["args"], int(Path(r["code"]).read_text()),
                                            Path(r["stdout"]).read_text(errors="replace"),
                                            Path(r["stderr"]).read_text(errors="replace")) for r in runs]


def assert_one_line_refusal(res: subprocess.CompletedProcess, *needles: str) -> None:
    lines = res.stderr.splitlines()
    shown = f"exit {res.returncode}; stderr: {res.stderr[-2000:]!r}; stdout: {res.stdout[-500:]!r}"
    assert res.returncode == 2, shown
    assert len(lines) == 1 and lines[0].startswith("skikt:"), shown
    for needle in needles:
        assert needle.lower() in lines[0].lower(), shown


# ------------------------------------------------------------------------------------------------
# Special files


def write_zip_bomb(path: Path, member: str = "bomb.csv", size: int = 3 * 10**9) -> None:
    """A real zip whose one member inflates to ``size`` bytes of "0" from a few megabytes: one
    deflate segment ending in a full flush (no references before it) repeated, then a final block."""
    block = b"0" * 2**20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    repeats, rest = divmod(size, len(block))
    tail_comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = tail_comp.compress(block[:rest]) + tail_comp.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest], crc)
    data = segment * repeats + tail
    name = member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                          len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def hold_exclusive_lock(path: Path) -> sqlite3.Connection:
    """What another program writing to a GeoPackage does: an exclusive SQLite lock, held."""
    con = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    return con


LOCAL_CS_PRJ = 'LOCAL_CS["Byggplatsens lokala system",UNIT["metre",1.0]]'


# ------------------------------------------------------------------------------------------------
# The cases


@dataclass
class Case:
    name: str
    build: Callable[[Path], dict]  # makes the files; returns {"project": …, "file": …, "args": …}
    commands: tuple[str, ...] = ("score", "compose")
    loads: bool = False  # a readable input: it must load, not be refused
    needles: tuple[str, ...] = ()  # words the one line must contain
    check: Callable | None = None  # for readable inputs: more checks on (result, folder)


def project_case(name, old, new, needles=(), commands=("score", "compose")) -> Case:
    """The base project with one text replacement; the line must name the project file and the key."""
    return Case(name, lambda d: {"project": write_base(d, replace(BASE_PROJECT, old, new))}, commands,
                needles=("projekt.toml", *needles))


WRONG_TYPES = [
    ("k_text", "k = 4", 'k = "abc"', ("indicator.k",)),
    ("k_inf", "k = 4", "k = inf", ("indicator.k",)),
    ("k_fraction", "k = 4", "k = 2.9", ("indicator.k",)),
    ("weight_bool", "weight = 1\n", "weight = true\n", ("indicator.weight",)),
    ("weight_huge", "weight = 1\n", "weight = 1e39\n", ("indicator.weight",)),
    ("weight_nan", "weight = 1\n", "weight = nan\n", ("indicator.weight",)),
    ("visible_text", 'title = "Skolor"', 'title = "Skolor"\nvisible = "false"', ("visible",)),
    ("opacity_5", 'title = "Skolor"', 'title = "Skolor"\nopacity = 5', ("opacity",)),
    ("sector_list", 'sector = "skills"', 'sector = ["skills"]', ("sector",)),
    ("where_int", 'title = "Skolor"', 'title = "Skolor"\nwhere = 5', ("where",)),
    ("project_text", "[project]\ntitle", 'project = "abc"\n[projekt_x]\ntitle', ("project",)),
    ("style_size_text", 'title = "Skolor"', 'title = "Skolor"\nstyle = { size = "big" }', ("size",)),
    ("style_colour", 'title = "Skolor"', 'title = "Skolor"\nstyle = { colour = "notacolour" }', ("colour",)),
    ("meta_year_text", 'title = "Vård"', 'title = "Vård"\n[layers.meta]\nyear = "abc"', ("year",)),
    ("int_400_digits", "k = 4", "k = " + "9" * 400, ("indicator.k",)),
    ("weight_400_digits", "weight = 1\n", "weight = " + "9" * 400 + "\n", ("indicator.weight",)),
    ("classes_200", "[units]", "[units]\nclasses = 200", ("classes",)),
    ("cell_size_inf", "cell_size = 1000", "cell_size = inf", ("cell_size",)),
    ("cell_size_text", "cell_size = 1000", 'cell_size = "stor"', ("cell_size",)),
    ("memory_guard_tiny_cells", "cell_size = 1000", "cell_size = 0.01", ("cell",)),
    ("deep_parentheses", 'title = "Skolor"',
     'title = "Skolor"\nwhere = "' + "(" * 5000 + "n = 1" + ")" * 5000 + '"', ("where",)),
    ("deep_not", 'title = "Skolor"', 'title = "Skolor"\nwhere = "' + "not " * 5000 + 'n = 1"', ("where",)),
    ("unknown_method", 'method = "count"', 'method = "summa"', ("method",)),
]


def _sidecar_year(d: Path) -> dict:
    project = write_base(d)
    (d / "vard.gpkg.meta.toml").write_text('year = "abc"\n', encoding="utf-8")
    return {"project": project}


def _no_indicator(d: Path) -> dict:
    text = BASE_PROJECT.split("[[layers]]\nid = \"vard\"")[0] + "[units]" + BASE_PROJECT.split("[units]")[1]
    return {"project": write_base(d, text)}


def _all_weights_zero(d: Path) -> dict:
    text = BASE_PROJECT.replace("weight = 2", "weight = 0").replace("weight = 1\n", "weight = 0\n")
    return {"project": write_base(d, text)}


def _bom_project(d: Path) -> dict:
    project = write_base(d)
    project.write_bytes(b"\xef\xbb\xbf" + project.read_bytes())
    return {"project": project}


def _areas_on_points(d: Path) -> dict:
    text = BASE_PROJECT.split("[units]")[0] + '[units]\nkind = "areas"\nlayer = "skolor"\nid = "n"\n'
    return {"project": write_base(d, text)}


def _duplicate_unit_ids(d: Path) -> dict:
    project = write_base(d, areas_project(""))
    write_kommuner(d, codes=("01", "01", "01", "01"))
    return {"project": project}


def _date_attribute(d: Path) -> dict:
    project = write_base(d, areas_project("""
[[layers]]
id = "byggar"
path = "byggar.gpkg"
sector = "water"
[layers.indicator]
method = "attribute"
column = "byggd"
aggregate = "sum"
"""))
    write_kommuner(d)
    pts = shapely.points([[X0 + 500, Y0 + 500], [X0 + 3500, Y0 + 3500]])
    gpd.GeoDataFrame({"byggd": pd.to_datetime(["1998-05-01", "2021-11-30"])}, geometry=pts, crs=3006).to_file(
        d / "byggar.gpkg")
    return {"project": project}


def _inf_values(d: Path) -> dict:
    project = write_base(d, areas_project("""
[[layers]]
id = "andel"
path = "andel.csv"
sector = "socioeconomics"
join = { layer = "kommuner", left = "kod", right = "code" }
[layers.indicator]
method = "attribute"
column = "andel"
"""))
    write_kommuner(d)
    (d / "andel.csv").write_text("kod;andel\n0114;1,5\n0115;inf\n0117;-inf\n0120;2,5\n", encoding="utf-8")
    return {"project": project}


def _inf_values_gpkg(d: Path) -> dict:
    """±inf stored as real floats in a GeoPackage, one value per municipality."""
    project = write_base(d, areas_project("""
[[layers]]
id = "andel"
path = "andel.gpkg"
sector = "socioeconomics"
[layers.indicator]
method = "attribute"
column = "andel"
aggregate = "mean"
"""))
    write_kommuner(d)
    kommuner = gpd.read_file(d / "kommuner.gpkg")
    points = kommuner.representative_point()
    gpd.GeoDataFrame({"andel": [1.5, np.inf, -np.inf, 2.5]}, geometry=points.values, crs=3006).to_file(
        d / "andel.gpkg")
    return {"project": project}


def _check_inf_counted_missing(res, folder: Path) -> None:
    out = pd.read_csv(folder / "out" / "scores.csv", dtype={"unit_id": str})
    assert len(out) == 4
    assert np.isfinite(out["score"]).all(), out
    scores = out.set_index("unit_id")["score"]
    # the two units with ±inf have no value for 'andel': they must not take its extremes
    assert "0115" in scores.index and "0117" in scores.index


def _bad_layer_file(make: Callable[[Path], Path], layer_block: str | None = None) -> Callable[[Path], dict]:
    """A project whose layer 'skolor' is the file ``make`` writes (in place of skolor.gpkg)."""
    def build(d: Path) -> dict:
        project = write_base(d)
        path = make(d)
        text = replace(BASE_PROJECT, 'path = "skolor.gpkg"', f'path = "{path.name}"')
        if layer_block:
            text = replace(text, 'title = "Skolor"', f'title = "Skolor"\n{layer_block}')
        project.write_text(text, encoding="utf-8")
        return {"project": project, "file": path}
    return build


def _truncated_gpkg(d: Path) -> Path:
    data = (d / "skolor.gpkg").read_bytes()
    (d / "trasig.gpkg").write_bytes(data[:3000])
    return d / "trasig.gpkg"


def _garbage_shp(d: Path) -> Path:
    gpd.read_file(d / "skolor.gpkg").to_file(d / "skrap.shp")
    rng = np.random.default_rng(3)
    (d / "skrap.shp").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return d / "skrap.shp"


def _text_as_geojson(d: Path) -> Path:
    (d / "rapport.geojson").write_text("Rapport om skolor\nInte GIS alls.\n", encoding="utf-8")
    return d / "rapport.geojson"


def _empty_csv(d: Path) -> Path:
    (d / "tom.csv").write_bytes(b"")
    return d / "tom.csv"


def _truncated_zip(d: Path) -> Path:
    import zipfile

    gpd.read_file(d / "skolor.gpkg").to_file(d / "z.shp")
    with zipfile.ZipFile(d / "full.zip", "w") as z:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            z.write(d / f"z{ext}", f"z{ext}")
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        (d / f"z{ext}").unlink()
    data = (d / "full.zip").read_bytes()
    (d / "full.zip").unlink()
    (d / "avklippt.zip").write_bytes(data[: len(data) // 2])
    return d / "avklippt.zip"


def _zip_bomb(d: Path) -> Path:
    write_zip_bomb(d / "bomb.zip")
    return d / "bomb.zip"


def _local_cs(d: Path) -> Path:
    gpd.read_file(d / "skolor.gpkg").to_file(d / "lokal.shp")
    (d / "lokal.prj").write_text(LOCAL_CS_PRJ, encoding="ascii")
    return d / "lokal.shp"


def _unknown_cpg(d: Path) -> Path:
    gdf = gpd.read_file(d / "skolor.gpkg")
    gdf["namn"] = ["Skola"] * len(gdf)
    gdf.to_file(d / "kodsida.shp", encoding="utf-8")
    (d / "kodsida.cpg").write_text("NOSUCHCODEPAGE-77", encoding="ascii")
    return d / "kodsida.shp"


def _multi_sheet_xlsx(d: Path) -> dict:
    project = write_base(d, areas_project("""
[[layers]]
id = "tabell"
path = "tabell.xlsx"
sector = "socioeconomics"
join = { layer = "kommuner", left = "kod", right = "code" }
[layers.indicator]
method = "attribute"
column = "andel"
"""))
    write_kommuner(d)
    with pd.ExcelWriter(d / "tabell.xlsx") as xl:
        pd.DataFrame({"kod": ["0114", "0115"], "andel": [1.0, 2.0]}).to_excel(xl, sheet_name="2023", index=False)
        pd.DataFrame({"kod": ["0114", "0115"], "andel": [3.0, 4.0]}).to_excel(xl, sheet_name="2024", index=False)
    return {"project": project, "file": d / "tabell.xlsx"}


def _utf16_csv(d: Path) -> dict:
    path = d / "unicode.csv"
    path.write_bytes("kod\tnamn\tandel\n0114\tUpplands Väsby\t1,5\n0115\tVallentuna\t2,5\n".encode("utf-16"))
    return {"file": path}


def _assert_warning(res, needle: str) -> None:
    warnings = [line for line in res.stdout.splitlines() if "warning" in line.lower()]
    assert any(needle.lower() in w.lower() for w in warnings), res.stdout


def _check_utf16(res, folder: Path) -> None:
    assert "Väsby" in res.stdout and "andel" in res.stdout, res.stdout


def _join_self(d: Path) -> dict:
    project = write_base(d, areas_project("""
[[layers]]
id = "sjalv"
path = "sjalv.csv"
sector = "socioeconomics"
join = { layer = "sjalv", left = "kod", right = "kod" }
[layers.indicator]
method = "attribute"
column = "andel"
"""))
    write_kommuner(d)
    (d / "sjalv.csv").write_text("kod;andel\n0114;1\n0115;2\n", encoding="utf-8")
    return {"project": project}


def _join_cycle(d: Path) -> dict:
    project = write_base(d, areas_project("""
[[layers]]
id = "ett"
path = "ett.csv"
sector = "socioeconomics"
join = { layer = "tva", left = "kod", right = "kod" }
[layers.indicator]
method = "attribute"
column = "andel"

[[layers]]
id = "tva"
path = "tva.csv"
sector = "socioeconomics"
join = { layer = "ett", left = "kod", right = "kod" }
"""))
    write_kommuner(d)
    for name in ("ett", "tva"):
        (d / f"{name}.csv").write_text("kod;andel\n0114;1\n0115;2\n", encoding="utf-8")
    return {"project": project}


def _empty_study_area(d: Path) -> dict:
    project = write_base(d, replace(BASE_PROJECT, 'study_area = { layer = "omrade" }',
                                    'study_area = { layer = "omrade", where = "namn = \'Ingenstans\'" }'))
    return {"project": project}


def _long_or_chain(d: Path) -> dict:
    chain = " or ".join(f"n = {i}" for i in range(1000))
    return {"project": write_base(d, replace(BASE_PROJECT, 'title = "Skolor"', f'title = "Skolor"\nwhere = "{chain}"'))}


def _check_scores_written(res, folder: Path) -> None:
    out = pd.read_csv(folder / "out" / "scores.csv")
    assert len(out) == 16 and np.isfinite(out["score"]).all()


def _locked_gpkg(d: Path) -> dict:
    project = write_base(d)
    return {"project": project, "file": d / "vard.gpkg", "lock": d / "vard.gpkg"}


_CRASH_MID_WRITE = """
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size = 2")  # changed pages spill into the file before any commit
con.execute("BEGIN")
con.execute("CREATE TABLE half_written (x)")
for _ in range(3000):
    con.execute("INSERT INTO half_written VALUES (?)", ("x" * 200,))
os._exit(1)  # killed mid-write: the rollback journal stays behind, hot
"""


def _hot_journal(d: Path) -> dict:
    project = write_base(d)
    subprocess.run([sys.executable, "-c", _CRASH_MID_WRITE, str(d / "vard.gpkg")], check=False)
    assert (d / "vard.gpkg-journal").stat().st_size > 0
    return {"project": project, "file": d / "vard.gpkg"}


CASES: list[Case] = [
    *[project_case(name, old, new, needles) for name, old, new, needles in WRONG_TYPES],
    Case("sidecar_year_text", _sidecar_year, needles=("year",)),
    Case("no_indicator_layer", _no_indicator, needles=("indicator",)),
    Case("all_weights_zero", _all_weights_zero, needles=("weight",)),
    Case("bom_project", _bom_project, loads=True, check=_check_scores_written),
    Case("kind_areas_on_points", _areas_on_points),
    Case("duplicate_unit_ids", _duplicate_unit_ids, needles=("01",)),
    Case("date_column_as_attribute", _date_attribute, needles=("byggd",)),
    Case("inf_values_counted_missing", _inf_values_gpkg, loads=True, check=_check_inf_counted_missing),
    Case("inf_values_in_csv_counted_missing", _inf_values, loads=True, check=_check_inf_counted_missing),
    Case("truncated_gpkg", _bad_layer_file(_truncated_gpkg), ("inspect", "score", "compose"), needles=("trasig.gpkg",)),
    Case("garbage_shp", _bad_layer_file(_garbage_shp), ("inspect", "score", "compose"), needles=("skrap",)),
    Case("text_as_geojson", _bad_layer_file(_text_as_geojson), ("inspect", "score", "compose"),
         needles=("rapport.geojson",)),
    Case("empty_csv", _bad_layer_file(_empty_csv), ("inspect", "score", "compose"), needles=("tom.csv",)),
    Case("truncated_zip", _bad_layer_file(_truncated_zip), ("inspect", "score", "compose"), needles=("avklippt.zip",)),
    Case("zip_bomb", _bad_layer_file(_zip_bomb), ("inspect", "score"), needles=("bomb.zip",)),
    Case("local_cs_prj", _bad_layer_file(_local_cs), ("score", "compose"), needles=("lokal", "LOCAL_CS")),
    Case("local_cs_prj_inspect_warns", _bad_layer_file(_local_cs), ("inspect",), loads=True,
         check=lambda res, folder: _assert_warning(res, "LOCAL_CS")),
    Case("unknown_cpg_inspect_warns", _bad_layer_file(_unknown_cpg), ("inspect",), loads=True,
         check=lambda res, folder: _assert_warning(res, "NOSUCHCODEPAGE")),
    Case("unknown_cpg_falls_back", _bad_layer_file(_unknown_cpg), ("score", "compose"), loads=True,
         check=_check_scores_written),
    Case("multi_sheet_xlsx_without_layer", _multi_sheet_xlsx, ("score",), needles=("2023", "2024")),
    Case("utf16_csv_is_read", _utf16_csv, ("inspect",), loads=True, check=_check_utf16),
    Case("join_itself", _join_self, needles=("sjalv",)),
    Case("join_cycle", _join_cycle, needles=("ett",)),
    Case("empty_study_area", _empty_study_area, needles=("study",)),
    Case("or_chain_1000_terms", _long_or_chain, ("score",), loads=True, check=_check_scores_written),
    Case("locked_gpkg", _locked_gpkg, ("inspect", "score"), needles=("locked",)),
    Case("gpkg_with_hot_journal_read_untouched", _hot_journal, ("inspect", "score", "compose"),
         loads=True),
]


def _args_for(command: str, info: dict, out_dir: Path) -> list:
    if command == "inspect":
        return ["inspect", info["file"]]
    if command == "score":
        return ["score", info["project"], "--out", out_dir / "scores.csv"]
    return ["compose", info["project"], "--out", out_dir / "karta.png", "--size", "400x300", "--dpi", "50"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path):
    src, out_dir = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out_dir.mkdir()
    info = case.build(src)
    before = tree_hashes(src)
    lock = hold_exclusive_lock(info["lock"]) if "lock" in info else None
    try:
        results = run_commands([_args_for(command, info, out_dir) for command in case.commands], cwd=tmp_path)
    finally:
        if lock is not None:
            lock.close()  # closing rolls the open transaction back
    for command, res in zip(case.commands, results):
        if case.loads:
            assert res.returncode == 0, f"{command}: exit {res.returncode}; stderr {res.stderr[-2000:]!r}"
            assert "Traceback" not in res.stderr
            if case.check and command in ("inspect", "score"):
                case.check(res, tmp_path)
        else:
            assert_one_line_refusal(res, *case.needles)
    if not case.loads:
        assert not any(out_dir.iterdir()), f"left in the output folder: {list(out_dir.iterdir())}"
    assert tree_hashes(src) == before


# ------------------------------------------------------------------------------------------------
# Bad options and outputs


@dataclass
class OptionCase:
    name: str
    args: Callable[[dict, Path], list]  # (files, tmp_path) → the command line
    needles: tuple[str, ...] = ()
    setup: Callable[[Path, dict], None] | None = None
    extra_files: dict = field(default_factory=dict)


def _out_path(out, f, t) -> Path:
    return t / out if isinstance(out, str) else out(f, t)


def _score(*extra, out="out/scores.csv"):
    return lambda f, t: ["score", f["project"], "--out", _out_path(out, f, t), *extra]


def _compose(*extra, out="out/karta.png"):
    page = [] if {"--size", "--dpi"} & set(extra) else ["--size", "400x300", "--dpi", "50"]
    return lambda f, t: ["compose", f["project"], "--out", _out_path(out, f, t), *page, *extra]


def _symlink_to_layer(f, t):
    link = t / "out" / "lank.gpkg"
    link.symlink_to(f["src"] / "vard.gpkg")
    return link


def _hardlink_to_layer(f, t):
    link = t / "out" / "hard.gpkg"
    os.link(f["src"] / "vard.gpkg", link)
    return link


def _symlinked_folder(f, t):
    folder = t / "out" / "mapp"
    folder.symlink_to(f["src"], target_is_directory=True)
    return folder / "skolor.gpkg"


def _read_only_folder(f, t):
    folder = t / "out" / "skrivskyddad"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "scores.csv"


def _long_name(f, t):
    return t / "out" / ("p" * 300 + ".csv")


def _into_folder(f, t):
    return t / "out"


OPTION_CASES = [
    OptionCase("sensitivity_nan", _score("--sensitivity", "nan"), ("--sensitivity",)),
    OptionCase("sensitivity_negative", _score("--sensitivity", "-5"), ("--sensitivity",)),
    OptionCase("sensitivity_1e308", _score("--sensitivity", "1e308"), ("--sensitivity",)),
    OptionCase("crs_garbage_score", _score("--crs", "garbage"), ("--crs", "garbage")),
    OptionCase("crs_garbage_compose", _compose("--crs", "garbage"), ("--crs", "garbage")),
    OptionCase("dpi_zero", _compose("--dpi", "0", "--size", "400x300"), ("--dpi",)),
    OptionCase("dpi_negative", _compose("--dpi", "-5", "--size", "400x300"), ("--dpi",)),
    OptionCase("size_absurd", _compose("--size", "900000x900000", "--dpi", "50"), ("--size",)),
    OptionCase("size_garbage", _compose("--size", "stor", "--dpi", "50"), ("--size",)),
    OptionCase("bench_cells_zero", lambda f, t: ["bench", "--cells", "0"], ("--cells",)),
    OptionCase("bench_cells_negative", lambda f, t: ["bench", "--cells", "-5"], ("--cells",)),
    OptionCase("bench_only_unknown", lambda f, t: ["bench", "--only", "nosuchname"], ("nosuchname",)),
    OptionCase("usage_missing_out", lambda f, t: ["score", f["project"]], ("--out",)),
    OptionCase("usage_unknown_option", lambda f, t: ["score", f["project"], "--out", t / "o.csv", "--bogus"],
               ("--bogus",)),
    OptionCase("out_is_layer", _score(out=lambda f, t: f["src"] / "vard.gpkg"), ("vard",)),
    OptionCase("out_is_layer_compose", _compose(out=lambda f, t: f["src"] / "omrade.gpkg"), ("omrade",)),
    OptionCase("out_is_project", _score(out=lambda f, t: f["project"]), ("project",)),
    OptionCase("out_is_sidecar", _score(out=lambda f, t: f["src"] / "vard.gpkg.meta.toml"), ("vard",)),
    OptionCase("out_is_shapefile_part", _score(out=lambda f, t: f["src"] / "skolor.dbf"), ("skolor",)),
    OptionCase("out_is_shapefile_part_upper", _score(out=lambda f, t: f["src"] / "skolor.DBF"), ("skolor",)),
    OptionCase("out_is_join_table", _score(out=lambda f, t: f["src"] / "andel.csv"), ("andel",)),
    OptionCase("out_is_zip", _score(out=lambda f, t: f["src"] / "paket.zip"), ("paket.zip",)),
    OptionCase("out_symlink_to_layer", _score(out=_symlink_to_layer), ("vard",)),
    OptionCase("out_hardlink_to_layer", _score(out=_hardlink_to_layer), ("vard",)),
    OptionCase("out_through_symlinked_folder", _score(out=_symlinked_folder), ("skolor",)),
    OptionCase("out_read_only_folder", _score(out=_read_only_folder), ("skrivskyddad",)),
    OptionCase("out_is_folder", _score(out=_into_folder), ("folder",)),
    OptionCase("out_name_300_chars", _score(out=_long_name), ("name",)),
]


def _option_project(src: Path) -> dict:
    """The base project plus a join table, a shapefile layer, a sidecar and a zip, so every kind of
    input an output could land on exists."""
    import zipfile

    text = BASE_PROJECT.split("[units]")[0] + KOMMUNER_LAYER + """
[[layers]]
id = "andel"
path = "andel.csv"
sector = "socioeconomics"
join = { layer = "kommuner", left = "kod", right = "code" }

[[layers]]
id = "skolor_shp"
path = "skolor.shp"
sector = "culture"

[[layers]]
id = "paket"
path = "paket.zip"
sector = "tourism"

[units]""" + BASE_PROJECT.split("[units]")[1]
    project = write_base(src, text)
    write_kommuner(src)
    (src / "andel.csv").write_text("kod;andel\n0114;1,5\n0115;2\n", encoding="utf-8")
    (src / "vard.gpkg.meta.toml").write_text('source = "Testkälla"\nyear = 2024\n', encoding="utf-8")
    gpd.read_file(src / "skolor.gpkg").to_file(src / "skolor.shp")
    gpd.read_file(src / "vard.gpkg").to_file(src / "z.shp")
    with zipfile.ZipFile(src / "paket.zip", "w") as z:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            z.write(src / f"z{ext}", f"z{ext}")
            (src / f"z{ext}").unlink()
    # the shapefile's .dbf in upper case too, as old Windows tools write it
    (src / "skolor.dbf").rename(src / "skolor.DBF")
    return {"project": project, "src": src}


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c.name for c in OPTION_CASES])
def test_bad_option_or_output(case: OptionCase, tmp_path):
    files = _option_project(tmp_path / "src")
    (tmp_path / "out").mkdir()
    args = case.args(files, tmp_path)
    before = tree_hashes(tmp_path / "src")
    res = run_skikt(*args, cwd=tmp_path)
    assert_one_line_refusal(res, *case.needles)
    assert tree_hashes(tmp_path / "src") == before
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".skikt-tmp-")]
    assert leftovers == []


def test_option_project_itself_scores(tmp_path):
    """The project the output cases use is valid: refusals come from the outputs, not from it."""
    files = _option_project(tmp_path / "src")
    res = run_skikt("score", files["project"], "--out", tmp_path / "ok.csv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(pd.read_csv(tmp_path / "ok.csv")) == 16
