"""``skikt bench``: the speed targets of the README, measured on this machine.

Timings are medians of repeated runs (wall clock). Nothing here is a pass/fail test; the figures
go into the README and the closing notes of the issues that set the targets.
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

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_reweight(cells: int, repeat: int = 30) -> dict:
    from .composite import Normalised, combine, ranks

    rng = np.random.default_rng(1)
    norm = rng.random((8, cells), dtype=np.float32)
    normd = Normalised([f"i{i}" for i in range(8)], [f"s{i}" for i in range(8)], norm)
    weights = rng.uniform(0.5, 3, 8)

    def reweight():
        weights[0] = rng.uniform(0.5, 3)
        return combine(normd, weights, with_overlap=False)

    c = reweight()
    t_scores = _median_ms(lambda: normd.weighted_mean(weights), repeat)
    t_ranks = _median_ms(lambda: ranks(c.score), repeat)
    t_all = _median_ms(reweight, repeat)  # scores, exact ranks and priority classes
    t_overlap = _median_ms(lambda: combine(normd, weights * rng.uniform(0.9, 1.1, 8)), 10)
    return {"cells": cells, "weighted_sum_ms": t_scores, "ranks_ms": t_ranks,
            "scores_ranks_classes_ms": t_all, "with_overlap_ms": t_overlap}


def _vg_project(tmp: Path, cell: int) -> Path:
    """A Västra Götaland project with 8 indicators over 5 layers of 4 geometry kinds."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    ref = SAMPLE / "sweden_reference.gpkg"
    rng = np.random.default_rng(7)
    tat = gpd.read_file(ref, layer="tatorter")
    vg = tat[tat.lan_code == "14"].sort_values("pop", ascending=False)
    xy = shapely.get_coordinates(vg.geometry.to_numpy())
    zones = [shapely.buffer(shapely.points(p), r) for p, r in zip(xy[:120], rng.uniform(800, 4000, 120))]
    gpd.GeoDataFrame({"id": range(120)}, geometry=zones, crs=3006).to_file(tmp / "zones.gpkg", layer="zones")
    big = xy[:40]
    mst = minimum_spanning_tree(cdist(big, big)).tocoo()
    lines = [shapely.linestrings(np.linspace(big[i], big[j], 12) + rng.normal(0, 400, (12, 2)))
             for i, j in zip(mst.row, mst.col)]
    gpd.GeoDataFrame({"id": range(len(lines))}, geometry=lines, crs=3006).to_file(tmp / "roads.gpkg", layer="roads")
    kom = gpd.read_file(ref, layer="kommuner")
    kom = kom[kom.code.str.startswith("14")]
    pd.DataFrame({"kod": kom.code.astype(int), "v": rng.uniform(0, 1, len(kom))}).to_csv(tmp / "t.csv", sep=";",
                                                                                         index=False, decimal=",")
    hf = SAMPLE / "health_facilities_osm.gpkg"

    def layer(i, path, ind, extra=""):
        return f'[[layers]]\nid = "{i}"\npath = "{path}"\nsector = "healthcare"\n{extra}[layers.indicator]\n{ind}\n'

    text = "schema_version = 1\n[project]\ntitle = \"bench\"\n"
    text += f'[[layers]]\nid = "lan"\npath = "{ref}"\nlayer = "lan"\n'
    text += f'[[layers]]\nid = "kom"\npath = "{ref}"\nlayer = "kommuner"\n'
    text += layer("vard_d", hf, 'method = "distance"')
    text += layer("vard_c", hf, 'method = "count"')
    text += layer("tat_d", ref, 'method = "density"', 'layer = "tatorter"\n')
    text += layer("tat_pop", ref, 'method = "attribute"\ncolumn = "pop"\naggregate = "sum"', 'layer = "tatorter"\n')
    text += layer("zones", tmp / "zones.gpkg", 'method = "coverage"')
    text += layer("roads_len", tmp / "roads.gpkg", 'method = "length"')
    text += layer("roads_d", tmp / "roads.gpkg", 'method = "distance"\ndirection = "low"')
    text += layer("tab", tmp / "t.csv", 'method = "attribute"\ncolumn = "v"',
                  'join = { layer = "kom", left = "kod", right = "code" }\n')
    text += f'[units]\nkind = "grid"\ncell_size = {cell}\nstudy_area = {{ layer = "lan", where = "code = \'14\'" }}\n'
    path = tmp / "vg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def bench_score(cell: int = 250) -> dict:
    from .project import read_project
    from .workspace import Workspace

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        proj = _vg_project(tmp, cell)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "layers", "score", str(proj), "--out", str(tmp / "out.csv")],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        rss_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        if res.returncode != 0:
            raise RuntimeError(res.stderr.strip())
        # Where the time goes, in-process.
        ws = Workspace(read_project(proj))
        phases, last, t0 = {}, "start", time.perf_counter()
        for _, msg in ws.iter_update():
            now = time.perf_counter()
            phases[last] = phases.get(last, 0) + (now - t0)
            last, t0 = msg, now
        rows = ws.units.n
    return {"cell": cell, "units": rows, "indicators": 8, "wall_s": wall, "max_rss_mb": rss_mb,
            "phases_s": {k: round(v, 3) for k, v in phases.items() if v > 0.02}}


def bench_render_polygons(cells: int, size=(1920, 1080), repeat: int = 3) -> dict:
    import geopandas as gpd
    import shapely
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .render import draw_layer
    from .style import Style

    side = int(np.sqrt(cells))
    cell = 250.0
    xs, ys = np.meshgrid(np.arange(side) * cell + 300_000, np.arange(side) * cell + 6_400_000)
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + cell, ys.ravel() + cell)
    gdf = gpd.GeoDataFrame({"v": np.random.default_rng(0).random(len(boxes))}, geometry=boxes, crs=3006)

    def draw(style):
        fig = Figure(figsize=(size[0] / 100, size[1] / 100), dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(300_000, 300_000 + side * cell)
        ax.set_ylim(6_400_000, 6_400_000 + side * cell)
        draw_layer(ax, gdf, style, "socioeconomics", simplify=side * cell / size[0] / 2)
        canvas.draw()

    single = _median_ms(lambda: draw(Style()), repeat)
    graduated = _median_ms(lambda: draw(Style(mode="graduated", column="v", palette="viridis")), repeat)
    return {"polygons": len(gdf), "size": f"{size[0]}x{size[1]}", "single_ms": single, "graduated_ms": graduated}


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
    for i in range(repeat):
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

    zoom = _median_ms(step, repeat)
    px = (x1 - x0) / 1600

    def pan_step():
        a, b = ax.get_xlim()
        c, d = ax.get_ylim()
        ax.set_xlim(a + 40 * px, b + 40 * px)  # a 40-pixel drag
        ax.set_ylim(c - 25 * px, d - 25 * px)
        scene.view_changed()
        draw()

    pan = _median_ms(pan_step, repeat)
    ws.composite = ws.recombine([1.0] * len(ws.normalised.layer_ids))
    t = time.perf_counter()
    scene.update_priority_fast()
    draw()
    reweight_draw = (time.perf_counter() - t) * 1000
    return {"first_draw_ms": first, "pan_ms": pan, "zoom_ms": zoom, "reweight_redraw_ms": reweight_draw,
            "units": ws.units.n, "size": "1600x1000"}


def bench_startup(repeat: int = 3) -> dict | None:
    import importlib.util

    if importlib.util.find_spec("PySide6") is None:  # the core never imports Qt, it only asks
        return None
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    firsts, priorities = [], []
    for _ in range(repeat):
        started = time.time()
        res = subprocess.run([sys.executable, "-m", "app", "--quit-after-map"], capture_output=True, text=True,
                             env=env, timeout=120)
        if res.returncode != 0:
            return {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
        for line in res.stdout.splitlines():
            if line.startswith("first map drawn at"):
                firsts.append(float(line.split()[-1]) - started)
            if line.startswith("priority map drawn at"):
                priorities.append(float(line.split()[-1]) - started)
    return {"first_map_s": statistics.median(firsts), "priority_map_s": statistics.median(priorities)}


def bench_slider(cell: int = 250) -> dict | None:
    """The slider path in the real window (a subprocess, so this module never imports Qt)."""
    import importlib.util
    import json

    if importlib.util.find_spec("PySide6") is None:
        return None
    out = {}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory() as d:
        for name, proj in (("sample", SAMPLE / "sample_project.toml"), ("vg", _vg_project(Path(d), cell))):
            res = subprocess.run([sys.executable, "-m", "skikt.app.bench_slider", str(proj)], capture_output=True,
                                 text=True, env=env, timeout=300)
            if res.returncode != 0:
                return {"error": (res.stderr or res.stdout).strip().splitlines()[-1:]}
            out[name] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def run_benchmarks(cells: int = 400_000, quick: bool = False, only: set | None = None) -> int:
    def want(name):
        return only is None or name in only

    if quick:
        cells = min(cells, 40_000)
    print(f"skikt bench on {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")
    if want("reweight"):
        r = bench_reweight(cells)
        print(f"reweight   {r['cells']:,} cells × 8 cached indicators: weighted sum {r['weighted_sum_ms']:.2f} ms; "
              f"exact ranks alone {r['ranks_ms']:.1f} ms; new scores + ranks + priority classes "
              f"{r['scores_ranks_classes_ms']:.1f} ms; with sector overlap {r['with_overlap_ms']:.1f} ms")
    if want("score"):
        r = bench_score(1000 if quick else 250)
        print(f"score      Västra Götaland {r['cell']} m grid, {r['units']:,} cells, 8 indicators: "
              f"whole `skikt score` run {r['wall_s']:.2f} s, peak memory {r['max_rss_mb']:.0f} MB")
        print(f"           phases: {r['phases_s']}")
    if want("render"):
        r = bench_render_polygons(40_000 if quick else cells)
        print(f"render     {r['polygons']:,} polygons full extent {r['size']}: single symbol {r['single_ms']:.0f} ms, "
              f"graduated {r['graduated_ms']:.0f} ms")
    if want("panzoom"):
        r = bench_pan_zoom()
        print(f"pan/zoom   sample county ({r['units']:,} cells, {r['size']}): first draw {r['first_draw_ms']:.0f} ms, "
              f"pan redraw {r['pan_ms']:.0f} ms, zoom redraw {r['zoom_ms']:.0f} ms, "
              f"re-weighted redraw {r['reweight_redraw_ms']:.0f} ms")
    if want("slider"):
        r = bench_slider(1000 if quick else 250)
        if r is None:
            print("slider     skipped: PySide6 not installed")
        elif "error" in r:
            print(f"slider     failed: {r['error']}")
        else:
            s, v = r["sample"], r["vg"]
            print(f"slider     weight change in the window → scores, classes, redraw (1600×1000): sample county "
                  f"({s['units']:,} cells) median {s['median_ms']:.0f} ms, max {s['max_ms']:.0f} ms; "
                  f"Västra Götaland ({v['units']:,} cells) median {v['median_ms']:.0f} ms, max {v['max_ms']:.0f} ms")
            print(f"window     pan step / wheel-zoom step in the window (1600×1000): sample county "
                  f"{s['pan_ms']:.0f} / {s['zoom_ms']:.0f} ms; Västra Götaland {v['pan_ms']:.0f} / {v['zoom_ms']:.0f} ms")
    if want("startup"):
        r = bench_startup()
        if r is None:
            print("startup    skipped: PySide6 not installed")
        elif "error" in r:
            print(f"startup    failed: {r['error']}")
        else:
            print(f"startup    start to first map (all visible layers drawn) {r['first_map_s']:.2f} s; "
                  f"to the priority map {r['priority_map_s']:.2f} s (sample project, offscreen)")
    return 0
