"""``skikt bench``: the speed targets of the README, measured on realistic data.

What a user waits for, not the best case: indicators with missing values (5 %), sectors with two
or three indicators, sector overlap on (the app always computes it), real polygons (the
municipal boundaries and thousands of overlapping buffers), and a Västra Götaland project whose
layers are as large as a county's real ones. Every figure is printed as the median with the
range (fastest–slowest) over its repeats; on a shared machine, run it more than once.
Nothing here is a pass/fail test.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import SkiktError

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
BENCHMARK_NAMES = ("reweight", "score", "render", "panzoom", "slider", "startup", "national", "national-view")
# Minutes even at 250 m, so only when asked for by name (`skikt bench --only national`).
ON_REQUEST = ("national", "national-view")
MISSING_SHARE = 0.05  # share of units without a value, per indicator
# Eight indicators in three sectors of three, three and two: a slider step recomputes one
# sector's top class for the overlap, as in the app.
REWEIGHT_SECTORS = ["transport"] * 3 + ["water"] * 3 + ["healthcare"] * 2


def _times_ms(fn, repeat: int, cpu: list | None = None) -> list[float]:
    """Wall-clock times of ``repeat`` calls; with ``cpu``, this process's CPU times are appended
    to it as well (what the work costs, whatever else the machine is doing)."""
    times = []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1000)
    return times


def _spread(values: list[float], unit: str = "ms", digits: int = 0) -> str:
    """'median (fastest–slowest) unit'."""
    med, lo, hi = statistics.median(values), min(values), max(values)
    return f"{med:.{digits}f} {unit} ({lo:.{digits}f}–{hi:.{digits}f})"


# ------------------------------------------------------------------------------------------------
# A weight change in the engine


def realistic_normalised(cells: int, seed: int = 1):
    """Eight indicators as the app holds them: raw values of the shapes real indicators have
    (distances, mostly-zero counts, coverage shares, a municipal attribute), each normalised by a
    different method, with 5 % of the units missing each indicator."""
    from .composite import Normalised, normalise

    rng = np.random.default_rng(seed)
    raw = [
        ("distance", rng.gamma(2.0, 3000.0, cells), "minmax", "quantiles"),
        ("length", rng.exponential(400.0, cells) * (rng.random(cells) < 0.4), "rank", "quantiles"),
        ("count", rng.poisson(0.3, cells).astype(float), "classes", "quantiles"),
        ("coverage", np.clip(rng.normal(0.1, 0.3, cells), 0, 1), "minmax", "quantiles"),
        ("distance", rng.gamma(1.5, 5000.0, cells), "zscore", "quantiles"),
        ("attribute", rng.choice(rng.normal(50, 10, 49), cells), "classes", "natural_breaks"),
        ("distance", rng.gamma(3.0, 2000.0, cells), "rank", "quantiles"),
        ("density", rng.lognormal(0, 1.5, cells), "classes", "equal_interval"),
    ]
    rows = []
    for _, values, method, scheme in raw:
        values = values.copy()
        values[rng.random(cells) < MISSING_SHARE] = np.nan
        rows.append(normalise(values, method, "high", scheme, 5))
    ids = [f"{kind}_{i}" for i, (kind, *_rest) in enumerate(raw)]
    return Normalised(ids, list(REWEIGHT_SECTORS), np.vstack(rows))


def bench_reweight(cells: int, steps: int = 40) -> dict:
    """One slider drag: the first indicator's weight moves step by step, and each step is what
    ``combine`` does in the app: weighted mean with missing values, exact quantile classes, and
    the changed sector's top class for the overlap."""
    from .composite import quantile_classes, ranks

    normd = realistic_normalised(cells)
    rng = np.random.default_rng(2)
    weights = rng.uniform(0.5, 3, normd.m).astype(np.float32)
    normd.sector_top(weights, 5)  # the other sectors' top classes are cached, as in the app
    parts = {"mean": [], "classes": [], "overlap": [], "total": [], "total_cpu": []}
    for value in np.linspace(0.5, 3.0, steps):
        weights[0] = value
        c0, t0 = time.process_time(), time.perf_counter()
        score = normd.weighted_mean(weights)
        t1 = time.perf_counter()
        quantile_classes(score, 5)
        t2 = time.perf_counter()
        normd.sector_top(weights, 5)
        t3, c3 = time.perf_counter(), time.process_time()
        for name, a, b in (("mean", t0, t1), ("classes", t1, t2), ("overlap", t2, t3), ("total", t0, t3)):
            parts[name].append((b - a) * 1000)
        # CPU time of this process: what the step costs, whatever else the machine is doing.
        parts["total_cpu"].append((c3 - c0) * 1000)
    score = normd.weighted_mean(weights)
    parts["ranks"] = _times_ms(lambda: ranks(score), 7)  # once per table or Info click, not per step
    return {"cells": cells, "indicators": normd.m, "sectors": len(set(normd.sectors)), **parts}


# ------------------------------------------------------------------------------------------------
# Fresh processes, as a user starts them


def _as_installed(env: dict, cache: Path) -> dict:
    """``env`` for a fresh process that finds its modules compiled, as after an installation:
    bytecode in ``cache`` (written by a first, uncounted run), whatever PYTHONDONTWRITEBYTECODE
    says. Without it a checkout that never writes bytecode compiles Skikt's 800 kB of source
    at every start (0.3 s of CPU before the window), which no installed copy does."""
    env = dict(env, PYTHONPYCACHEPREFIX=str(cache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# ------------------------------------------------------------------------------------------------
# A whole `skikt score` run on a county


def _write(frame, path: Path, layer: str) -> Path:
    frame.to_file(path, layer=layer, engine="pyogrio")
    return path


def _vg_layers(tmp: Path) -> dict:
    """Layers as large as a county's real ones, around Västra Götaland's urban areas: 5,000
    overlapping protection-zone buffers, 2,000 winding roads of 60 vertices, 20,000 service
    points with an attribute, and a municipal table missing three of the 49 municipalities."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    ref = SAMPLE / "sweden_reference.gpkg"
    rng = np.random.default_rng(7)
    tat = gpd.read_file(ref, layer="tatorter")
    vg = tat[tat.lan_code == "14"]
    towns = shapely.get_coordinates(vg.geometry.to_numpy())
    weight = vg["pop"].to_numpy(float) ** 0.5

    def pick(n):  # urban areas, larger ones more often
        return towns[rng.choice(len(towns), n, p=weight / weight.sum())]

    centres = pick(5000) + rng.normal(0, 2500, (5000, 2))
    zones = shapely.buffer(shapely.points(centres), rng.uniform(300, 2500, 5000), quad_segs=8)
    out = {"zones": _write(gpd.GeoDataFrame({"id": np.arange(5000)}, geometry=zones, crs=3006),
                           tmp / "zones.gpkg", "zones")}
    starts = pick(2000)
    heading = rng.uniform(0, 2 * np.pi, 2000)[:, None] + np.cumsum(rng.normal(0, 0.25, (2000, 60)), axis=1)
    steps = 300 * np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    paths = starts[:, None, :] + np.cumsum(steps, axis=1)
    roads = shapely.linestrings(paths.reshape(-1, 2), indices=np.repeat(np.arange(2000), 60))
    out["roads"] = _write(gpd.GeoDataFrame({"id": np.arange(2000)}, geometry=roads, crs=3006),
                          tmp / "roads.gpkg", "roads")
    pts = pick(20000) + rng.normal(0, 4000, (20000, 2))
    out["points"] = _write(gpd.GeoDataFrame({"staff": rng.integers(1, 40, 20000)},
                                            geometry=shapely.points(pts), crs=3006), tmp / "points.gpkg", "points")
    kom = gpd.read_file(ref, layer="kommuner")
    kom = kom[kom.code.str.startswith("14")].iloc[3:]  # three municipalities without data: missing values
    table = pd.DataFrame({"kod": kom.code.astype(int), "v": rng.uniform(0, 1, len(kom))})
    out["table"] = tmp / "t.csv"
    table.to_csv(out["table"], sep=";", index=False, decimal=",")
    return out


def _vg_project(tmp: Path, cell: int, shown: bool = True, files: dict | None = None) -> Path:
    """A Västra Götaland project: 8 indicators in sectors of 3, 2, 2 and 1 indicators, over
    points, lines, overlapping polygons and a joined table (see :func:`_vg_layers`). With
    ``shown`` False the indicator layers are hidden: the map shows the priority grid only."""
    files = files or _vg_layers(tmp)
    ref = SAMPLE / "sweden_reference.gpkg"
    hf = SAMPLE / "health_facilities_osm.gpkg"

    def layer(i, path, sector, ind, extra=""):
        return (f'[[layers]]\nid = "{i}"\npath = "{path}"\nsector = "{sector}"\n{extra}'
                f'{"" if shown else "visible = false"}\n[layers.indicator]\n{ind}\n')

    text = "schema_version = 1\n[project]\ntitle = \"bench\"\n"
    text += f'[[layers]]\nid = "lan"\npath = "{ref}"\nlayer = "lan"\nsector = "reference"\n'
    text += f'[[layers]]\nid = "kom"\npath = "{ref}"\nlayer = "kommuner"\nsector = "reference"\n'
    text += layer("vard_d", hf, "healthcare", 'method = "distance"\nnormalize = "minmax"')
    text += layer("pts_count", files["points"], "healthcare",
                  'method = "count"\nnormalize = "classes"\nscheme = "natural_breaks"')
    text += layer("pts_staff", files["points"], "healthcare",
                  'method = "attribute"\ncolumn = "staff"\naggregate = "sum"\nnormalize = "rank"')
    text += layer("zones_cov", files["zones"], "water", 'method = "coverage"\nnormalize = "minmax"')
    text += layer("zones_d", files["zones"], "water", 'method = "distance"\nnormalize = "zscore"')
    text += layer("roads_len", files["roads"], "transport",
                  'method = "length"\nnormalize = "classes"\nscheme = "quantiles"')
    text += layer("roads_d", files["roads"], "transport", 'method = "distance"\ndirection = "low"\nnormalize = "rank"')
    text += layer("tab", files["table"], "skills", 'method = "attribute"\ncolumn = "v"\nnormalize = "minmax"',
                  'join = { layer = "kom", left = "kod", right = "code" }\n')
    text += f'[units]\nkind = "grid"\ncell_size = {cell}\nstudy_area = {{ layer = "lan", where = "code = \'14\'" }}\n'
    path = tmp / ("vg.toml" if shown else "vg_priority_only.toml")
    path.write_text(text, encoding="utf-8")
    return path


def bench_score(cell: int = 250, repeat: int = 3) -> dict:
    """Wall clock of whole ``skikt score`` processes (start-up, reading, indicators, CSV)."""
    from .project import read_project
    from .workspace import Workspace

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        proj = _vg_project(tmp, cell)
        env = _as_installed(os.environ, tmp / "bytecode")
        walls, cpus = [], []
        for attempt in range(repeat + 1):  # the first run compiles the modules and is not counted
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "skikt.layers", "score", str(proj), "--out",
                                  str(tmp / "out.csv")], capture_output=True, text=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if res.returncode != 0:
                raise RuntimeError((res.stderr.strip().splitlines() or ["score failed"])[-1])
            if attempt:
                walls.append(time.perf_counter() - t)
                cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
        ws = Workspace(read_project(proj))  # where the time goes, in-process
        phases, last, t0 = {}, "start", time.perf_counter()
        for _, msg in ws.iter_update():
            now = time.perf_counter()
            phases[last] = phases.get(last, 0) + (now - t0)
            last, t0 = msg, now
        missing = {lid: int(n) for lid, n in zip(ws.normalised.layer_ids, ws.normalised.missing) if n}
        rows = ws.units.n
    return {"cell": cell, "units": rows, "indicators": 8, "wall_s": walls, "cpu_s": cpus, "max_rss_mb": rss_mb,
            "missing": missing, "phases_s": {k: round(v, 2) for k, v in phases.items() if v > 0.05}}


# ------------------------------------------------------------------------------------------------
# Drawing real polygons


def _overlapping_buffers(n: int, seed: int = 11):
    """n overlapping circles (33 vertices each) around Västra Götaland's urban areas."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    tat = gpd.read_file(SAMPLE / "sweden_reference.gpkg", layer="tatorter")
    towns = shapely.get_coordinates(tat[tat.lan_code == "14"].geometry.to_numpy())
    centres = towns[rng.integers(0, len(towns), n)] + rng.normal(0, 3000, (n, 2))
    geoms = shapely.buffer(shapely.points(centres), rng.uniform(300, 2500, n), quad_segs=8)
    return gpd.GeoDataFrame({"v": rng.random(n)}, geometry=geoms, crs=3006)


def bench_render(size=(1920, 1080), repeat: int = 5, dense: int = 50_000) -> dict:
    """Full-extent draws at 1920×1080 through the app's draw_layer: the 290 municipal
    boundaries over Sweden, 5,000 overlapping buffers, and ``dense`` of them (more than the
    20,000 polygons above which draw_layer considers rasterising; it says which way it drew)."""
    import geopandas as gpd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .render import draw_layer
    from .style import Style

    kommuner = gpd.read_file(SAMPLE / "sweden_reference.gpkg", layer="kommuner")
    kommuner["area"] = kommuner.geometry.area
    layers = {"kommuner": kommuner, "buffers": _overlapping_buffers(5000), "dense": _overlapping_buffers(dense)}

    drawn_as = {}

    def draw(gdf, style):
        fig = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        x0, y0, x1, y1 = gdf.total_bounds
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        art, _ = draw_layer(ax, gdf, style, "water", simplify=(x1 - x0) / size[0] / 2)
        drawn_as[len(gdf)] = "one image" if getattr(art, "skikt_dense", False) else "paths"
        canvas.draw()

    out = {"size": f"{size[0]}x{size[1]}", "counts": {k: len(v) for k, v in layers.items()}, "drawn_as": drawn_as}
    for name, gdf in layers.items():
        column = "area" if name == "kommuner" else "v"
        cpu_single, cpu_graduated = [], []
        out[name] = {
            "single": _times_ms(lambda g=gdf: draw(g, Style()), repeat, cpu_single),
            "graduated": _times_ms(lambda g=gdf, c=column: draw(g, Style(mode="graduated", column=c,
                                                                          scheme="natural_breaks")),
                                   repeat, cpu_graduated),
            "single_cpu": cpu_single, "graduated_cpu": cpu_graduated,
        }
    return out


# ------------------------------------------------------------------------------------------------
# The map scene, the window and start-up


def bench_pan_zoom(repeat: int = 12) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .export import fit_aspect, study_extent
    from .project import read_project
    from .render import add_north_arrow, add_scalebar
    from .scene import MapScene, prepare_map_axes
    from .workspace import Workspace

    ws = Workspace(read_project(SAMPLE / "sample_project.toml"))
    ws.update()
    fig = Figure(figsize=(16, 10), dpi=100, facecolor="#f4f4f2")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    prepare_map_axes(ax)  # as the app's canvas
    x0, x1, y0, y1 = fit_aspect(study_extent(ws), 1.6)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    scene = MapScene(ax, ws)
    furniture = []

    def draw():
        # What MapCanvas.redraw does: a fresh scale bar and north arrow, then a full draw.
        for a in furniture:
            a.remove()
        furniture[:] = add_scalebar(ax) + add_north_arrow(ax, size=0.04)
        canvas.draw()

    t = time.perf_counter()
    scene.sync()
    draw()
    first = (time.perf_counter() - t) * 1000
    rng = np.random.default_rng(3)
    w = x1 - x0
    views = []
    for _ in range(repeat):
        f = 0.25 + 0.75 * rng.random()  # zoom factor
        cx, cy = x0 + w * rng.random(), y0 + (y1 - y0) * rng.random()
        views.append((cx - f * w / 2, cx + f * w / 2, cy - f * (y1 - y0) / 2, cy + f * (y1 - y0) / 2))
    it = iter(views)

    def step():
        a, b, c, d = next(it)
        ax.set_xlim(a, b)
        ax.set_ylim(c, d)
        scene.view_changed()
        draw()

    cpu = {"zoom": [], "pan": [], "reweight": []}
    zoom = _times_ms(step, repeat, cpu["zoom"])
    px = (x1 - x0) / 1600

    def pan_step():
        a, b = ax.get_xlim()
        c, d = ax.get_ylim()
        ax.set_xlim(a + 40 * px, b + 40 * px)  # a 40-pixel drag
        ax.set_ylim(c - 25 * px, d - 25 * px)
        scene.view_changed()
        draw()

    pan = _times_ms(pan_step, repeat, cpu["pan"])
    weights = [s.indicator.weight for s in ws.active_indicators()]

    def reweight_draw():
        weights[0] *= 1.05
        ws.recombine(weights)
        scene.update_priority_fast()
        draw()

    reweight = _times_ms(reweight_draw, repeat, cpu["reweight"])
    return {"first_draw_ms": first, "pan_ms": pan, "zoom_ms": zoom, "reweight_redraw_ms": reweight,
            "cpu": cpu, "units": ws.units.n, "size": "1600x1000"}


def bench_startup(repeat: int = 3) -> dict | None:
    """Start to the first map: a fresh `skikt` process on the sample project until the first paint
    event of its canvas that shows the visible layers (the pixels reach the window), and until
    the one that shows the priority map; wall clock from the moment the process is started, and
    the process's CPU time (every thread's) at those moments."""
    import importlib.util

    if importlib.util.find_spec("PySide6") is None:  # the core never imports Qt, it only asks
        return None
    firsts, priorities, first_cpu, priority_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as cache:
        env = _as_installed(dict(os.environ, QT_QPA_PLATFORM="offscreen"), Path(cache))
        runs = []
        for _ in range(repeat + 1):  # the first run compiles the modules and is not counted
            started = time.time()
            res = subprocess.run([sys.executable, "-m", "skikt.app", "--quit-after-map"], capture_output=True,
                                 text=True, env=env, timeout=300)
            if res.returncode != 0:
                return {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
            runs.append((started, res.stdout))
    for started, stdout in runs[1:]:
        for line in stdout.splitlines():
            if line.startswith("first map painted at"):
                firsts.append(float(line.split()[-1]) - started)
            if line.startswith("priority map painted at"):
                priorities.append(float(line.split()[-1]) - started)
            if line.startswith("first map cpu"):
                first_cpu.append(float(line.split()[-1]))
            if line.startswith("priority map cpu"):
                priority_cpu.append(float(line.split()[-1]))
    return {"first_map_s": firsts, "priority_map_s": priorities, "first_map_cpu_s": first_cpu,
            "priority_map_cpu_s": priority_cpu}


def bench_slider(cell: int = 250) -> dict | None:
    """The slider path in the real window (a subprocess, so this module never imports Qt)."""
    import importlib.util
    import json

    if importlib.util.find_spec("PySide6") is None:
        return None
    out = {}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as d:
        files = _vg_layers(Path(d))
        projects = (("sample", SAMPLE / "sample_project.toml"),
                    ("vg", _vg_project(Path(d), cell, shown=True, files=files)),
                    ("vg_priority", _vg_project(Path(d), cell, shown=False, files=files)))
        for name, proj in projects:
            res = subprocess.run([sys.executable, "-m", "skikt.app.bench_slider", str(proj)], capture_output=True,
                                 text=True, env=env, timeout=600)
            if res.returncode != 0:
                return {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
            out[name] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


# ------------------------------------------------------------------------------------------------
# The command


def check_arguments(cells, only) -> set[str] | None:
    """Refuse what cannot be measured, as one line naming the option and the valid values."""
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 1:
        raise SkiktError.of("err_bench_cells", min=1, got=cells)
    if only is None:
        return None
    names = {n.strip() for n in (only.split(",") if isinstance(only, str) else only) if str(n).strip()}
    unknown = sorted(names - set(BENCHMARK_NAMES)) or ([] if names else [str(only)])
    if unknown:
        raise SkiktError.of("err_bench_only", got=", ".join(unknown), valid=", ".join(BENCHMARK_NAMES))
    return names


def run_benchmarks(cells: int = 400_000, quick: bool = False, only=None) -> int:
    only = check_arguments(cells, only)

    def want(name):
        return name in only if only is not None else name not in ON_REQUEST

    if quick:
        cells = min(cells, 40_000)
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    print(f"skikt bench on {os.cpu_count()} cores{load}, Python {sys.version.split()[0]}, numpy {np.__version__}; "
          "figures are median (fastest–slowest)")
    if want("reweight"):
        r = bench_reweight(cells)
        print(f"reweight   {r['cells']:,} cells × {r['indicators']} indicators in {r['sectors']} sectors, "
              f"{MISSING_SHARE:.0%} missing, overlap on; one slider step: {_spread(r['total'], digits=1)} "
              f"[CPU {_spread(r['total_cpu'], digits=1)}] "
              f"= weighted mean {_spread(r['mean'], digits=1)} + classes {_spread(r['classes'], digits=1)} "
              f"+ sector overlap {_spread(r['overlap'], digits=1)}; full ranks (score table, Info) "
              f"{_spread(r['ranks'], digits=0)}")
    if want("score"):
        r = bench_score(1000 if quick else 250, repeat=1 if quick else 3)
        print(f"score      Västra Götaland {r['cell']} m grid, {r['units']:,} cells, {r['indicators']} indicators: "
              f"whole `skikt score` run {_spread(r['wall_s'], 's', 1)} [CPU {_spread(r['cpu_s'], 's', 1)}], "
              f"peak memory {r['max_rss_mb']:.0f} MB (fresh processes, bytecode compiled as installed)")
        print(f"           units missing a value: {r['missing']}; phases (s): {r['phases_s']}")
    if want("render"):
        r = bench_render(repeat=3 if quick else 5, dense=25_000 if quick else 50_000)
        for name, label in (("kommuner", "municipal boundaries, Sweden"), ("buffers", "overlapping buffers"),
                            ("dense", "overlapping buffers")):
            how = r["drawn_as"][r["counts"][name]]
            print(f"render     {r['counts'][name]:,} {label} (as {how}), full extent {r['size']}: single symbol "
                  f"{_spread(r[name]['single'])} [CPU {_spread(r[name]['single_cpu'])}], graduated (natural "
                  f"breaks) {_spread(r[name]['graduated'])} [CPU {_spread(r[name]['graduated_cpu'])}]")
    if want("panzoom"):
        r = bench_pan_zoom()
        print(f"pan/zoom   sample county ({r['units']:,} cells, {r['size']}): first draw {r['first_draw_ms']:.0f} ms, "
              f"pan redraw {_spread(r['pan_ms'])} [CPU {_spread(r['cpu']['pan'])}], zoom redraw "
              f"{_spread(r['zoom_ms'])} [CPU {_spread(r['cpu']['zoom'])}], re-weighted redraw "
              f"{_spread(r['reweight_redraw_ms'])} [CPU {_spread(r['cpu']['reweight'])}]")
    if want("slider"):
        r = bench_slider(1000 if quick else 250)
        if r is None:
            print("slider     skipped: PySide6 not installed")
        elif "error" in r:
            print(f"slider     failed: {r['error']}")
        else:
            for name, label in (("sample", "sample county"), ("vg", "Västra Götaland, its 8 layers shown"),
                                ("vg_priority", "Västra Götaland, priority map only")):
                s = r[name]
                print(f"slider     {label} ({s['units']:,} cells), weight change in the window → scores, classes, "
                      f"overlap, redraw (1600×1000): {_spread(s['steps_ms'])} [CPU {_spread(s['steps_cpu_ms'])}]; "
                      f"pan step {_spread(s['pans_ms'])} [CPU {_spread(s['pans_cpu_ms'])}], "
                      f"wheel-zoom step {_spread(s['zooms_ms'])} [CPU {_spread(s['zooms_cpu_ms'])}]")
    if want("startup"):
        r = bench_startup()
        if r is None:
            print("startup    skipped: PySide6 not installed")
        elif "error" in r:
            print(f"startup    failed: {r['error']}")
        else:
            print(f"startup    start to first map (all visible layers painted) {_spread(r['first_map_s'], 's', 2)} "
                  f"[CPU {_spread(r['first_map_cpu_s'], 's', 2)}]; to the priority map "
                  f"{_spread(r['priority_map_s'], 's', 2)} [CPU {_spread(r['priority_map_cpu_s'], 's', 2)}] "
                  "(sample project, offscreen, bytecode compiled as installed; CPU of every thread of the process)")
    if want("national"):
        from .tiled_bench import bench_national, line

        print(line(bench_national(250 if not quick else 1000, None)))
    if want("national-view"):
        print(_national_view_line(250 if not quick else 1000))
    return 0


def _national_view_line(resolution: float) -> str:
    """Pan, zoom and a weight step in the national window, at national extent on a 1920×1080
    screen: the national sample scored at ``resolution`` into a temporary COG, then what the
    window does per step (layers.national_view.national_view_bench)."""
    from .national_view import national_view_bench
    from .tiled_bench import bench_national

    with tempfile.TemporaryDirectory() as tmp:
        cog = Path(tmp) / "sverige.tif"
        bench_national(resolution, None, out=str(cog))
        r = national_view_bench(cog)
    ms = lambda key: f"{r[key + '_wall'] * 1000:.0f} ms [CPU {r[key + '_cpu'] * 1000:.0f} ms]"
    return (f"national-view  Sweden {resolution:g} m COG, national extent on 1920×1080 (overview level "
            f"{r['level_at_national_extent']}), median of {r['steps']}: pan {ms('pan')}, zoom {ms('zoom')}, "
            f"weight step {ms('reweight')} (target ≤ 100 ms)")
