"""Constraint layers (role = "exclude") against geopandas membership and hand-normalised scores."""

from __future__ import annotations

import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import rankdata

from skikt.layers.errors import SkiktError
from skikt.layers.exclusions import covered_units
from skikt.layers.project import read_project
from skikt.layers.units import make_area_units
from skikt.layers.workspace import Workspace

X0, Y0 = 600000.0, 6600000.0
K = 5


def exclusion_polygons():
    """Overlapping boxes, one edge exactly through a column of cell centres (x = X0 + 250),
    a polygon with a hole, and a sliver."""
    outer = shapely.box(X0 + 500, Y0 + 500, X0 + 900, Y0 + 900)
    with_hole = shapely.Polygon(outer.exterior.coords, [shapely.box(X0 + 600, Y0 + 600, X0 + 800, Y0 + 800).exterior.coords])
    mil = [shapely.box(X0, Y0, X0 + 250, Y0 + 450), shapely.box(X0 + 200, Y0 + 200, X0 + 400, Y0 + 400), with_hole,
           shapely.box(X0 + 1, Y0 + 960, X0 + 999, Y0 + 960.5)]
    nature = [shapely.box(X0 + 300, Y0 + 300, X0 + 700, Y0 + 700)]  # overlaps both of mil's
    return mil, nature


def write_project(tmp_path, extra_layers="", combine=""):
    gpkg = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)], crs=3006).to_file(gpkg, layer="area")
    rng = np.random.default_rng(7)
    xy = rng.uniform([X0, Y0], [X0 + 1000, Y0 + 1000], (9, 2))
    gpd.GeoDataFrame({"v": np.arange(9)}, geometry=shapely.points(xy), crs=3006).to_file(gpkg, layer="pts")
    mil, nature = exclusion_polygons()
    gpd.GeoDataFrame({"n": range(len(mil))}, geometry=mil, crs=3006).to_file(gpkg, layer="mil")
    gpd.GeoDataFrame({"n": [1]}, geometry=nature, crs=3006).to_file(gpkg, layer="nature")
    text = textwrap.dedent(f"""\
        schema_version = 1
        [project]
        title = "t"
        crs = "EPSG:3006"
        {combine}
        [[layers]]
        id = "area"
        path = "d.gpkg"
        layer = "area"
        [[layers]]
        id = "mil"
        path = "d.gpkg"
        layer = "mil"
        role = "exclude"
        [[layers]]
        id = "nature"
        path = "d.gpkg"
        layer = "nature"
        role = "exclude"
        [[layers]]
        id = "near"
        path = "d.gpkg"
        layer = "pts"
        sector = "healthcare"
        [layers.indicator]
        method = "distance"
        direction = "low"
        weight = 2
        [[layers]]
        id = "far"
        path = "d.gpkg"
        layer = "pts"
        sector = "transport"
        [layers.indicator]
        method = "distance"
        normalize = "rank"
        {extra_layers}
        [units]
        kind = "grid"
        cell_size = 100
        study_area = {{ layer = "area" }}
        """)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_exclusion_by_centre_matches_geopandas(tmp_path):
    ws = Workspace(read_project(write_project(tmp_path)))
    ws.update()
    df = ws.result_table()
    centres = gpd.GeoDataFrame(geometry=shapely.points(ws.units.centres), crs=3006)
    mil, nature = exclusion_polygons()
    in_mil = gpd.sjoin(centres, gpd.GeoDataFrame(geometry=mil, crs=3006), predicate="intersects").index.unique()
    in_nature = gpd.sjoin(centres, gpd.GeoDataFrame(geometry=nature, crs=3006), predicate="intersects").index.unique()
    want = np.full(ws.units.n, "", dtype=object)
    want[in_nature] = "nature"
    want[in_mil] = "mil"  # the first exclusion layer in project order names the unit
    assert list(df["excluded_by"]) == list(want)
    # The boundary case is really there: the centres on x = X0 + 250 below y = Y0 + 450 are out.
    on_edge = (ws.units.centres[:, 0] == X0 + 250) & (ws.units.centres[:, 1] < Y0 + 450)
    assert on_edge.sum() == 4 and (df["excluded_by"][on_edge] == "mil").all()
    # Inside the hole stays in; the sliver covers no centre.
    hole = (np.abs(ws.units.centres[:, 0] - (X0 + 700)) < 60) & (np.abs(ws.units.centres[:, 1] - (Y0 + 700)) < 60)
    assert hole.sum() == 4 and (df["excluded_by"][hole] != "mil").all()  # (650, 650) is in nature
    assert df["excluded_by"][hole & (ws.units.centres[:, 0] == X0 + 750) & (ws.units.centres[:, 1] == Y0 + 750)].tolist() == [""]


def test_excluded_units_have_no_score_and_the_rest_are_ranked_alone(tmp_path):
    ws = Workspace(read_project(write_project(tmp_path)))
    ws.update()
    df = ws.result_table()
    out = (df["excluded_by"] != "").to_numpy()
    kept = ~out
    assert 0 < out.sum() < len(df)
    assert df["score"][out].isna().all() and df["rank"][out].isna().all() and df["priority_class"][out].isna().all()
    # By hand over the kept units only: min–max (low is good) and percentile rank, weights 2 : 1.
    near, far = df["near_raw"][kept].to_numpy(), df["far_raw"][kept].to_numpy()
    n_near = (near.max() - near) / (near.max() - near.min())
    n_far = (rankdata(far) - 1) / (len(far) - 1)
    score = (2 * n_near + 1 * n_far) / 3
    assert np.allclose(df["score"][kept], score, atol=1e-6)
    rank = rankdata(-df["score"][kept].to_numpy(), method="min")
    assert np.array_equal(df["rank"][kept].to_numpy(int), rank)
    n = kept.sum()
    assert np.array_equal(df["priority_class"][kept].to_numpy(int), 1 + (rank - 1) * K // n)
    # The CSV leaves them empty.
    csv = tmp_path / "o.csv"
    df.to_csv(csv, index=False)
    back = pd.read_csv(csv, keep_default_na=False)
    assert (back["rank"][out] == "").all() and (back["score"][out] == "").all()
    assert ws.normalised.missing.tolist() == [0, 0]  # excluded units are not "missing"


def test_area_exclusion_by_share_matches_an_overlay():
    # Irregular areas: triangles, a polygon with a hole, a thin strip.
    areas = [shapely.Polygon([(0, 0), (100, 0), (0, 100)]), shapely.Polygon([(100, 0), (100, 100), (0, 100)]),
             shapely.Polygon(shapely.box(100, 0, 300, 200).exterior.coords, [shapely.box(150, 50, 250, 150).exterior.coords]),
             shapely.box(0, 100, 100, 103), shapely.box(300, 0, 400, 100), shapely.box(300, 100, 400, 200)]
    gdf = gpd.GeoDataFrame({"code": [f"a{i}" for i in range(len(areas))]}, geometry=areas, crs=3006)
    units = make_area_units(gdf, "code")
    excl = [shapely.box(40, -10, 160, 101.5), shapely.box(120, 20, 260, 180), shapely.box(300, 0, 350, 100),
            shapely.box(300, 100, 350.0, 200)]  # the last two: exactly 50 % of their squares
    cover = gpd.GeoDataFrame(geometry=[shapely.union_all(excl)], crs=3006)
    inter = gpd.overlay(gdf, cover, how="intersection", keep_geom_type=True)
    covered = inter.set_index("code").area.reindex(gdf["code"]).fillna(0).to_numpy() / gdf.area.to_numpy()
    for share in (0.5, 0.25, 0.9, 1.0):
        got = covered_units(units, np.array(excl, dtype=object), share)
        assert np.array_equal(got, covered >= share - 1e-12), share
    assert covered[4] == pytest.approx(0.5) and covered_units(units, np.array(excl, dtype=object), 0.5)[4]


def test_bad_exclude_share_and_non_polygon_layers_are_one_line(tmp_path):
    path = write_project(tmp_path)
    text = path.read_text().replace('role = "exclude"\n[[layers]]\nid = "nature"', 'role = "exclude"\nexclude_share = 1.5\n[[layers]]\nid = "nature"')
    path.write_text(text)
    with pytest.raises(SkiktError, match=r"^p.toml: .*exclude_share.*a number above 0 and at most 1, got 1.5$"):
        Workspace(read_project(path)).update()
    path = write_project(tmp_path, extra_layers='[[layers]]\nid = "ptsx"\npath = "d.gpkg"\nlayer = "pts"\nrole = "exclude"')
    with pytest.raises(SkiktError, match="'ptsx': role = \"exclude\" needs polygons"):
        Workspace(read_project(path)).update()


# ------------------------------------------------------------------------------------------------
# Drawn hatched: the desk map (MapScene), and printed pages (export.compose_figure)

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from skikt.layers.export import PageSpec, compose_figure, page_content  # noqa: E402
from skikt.layers.scene import MapScene, prepare_map_axes  # noqa: E402

FACE = tuple(round(c * 255) for c in to_rgb("#e2e2e2"))  # the hatch's light grey …
LINE = tuple(round(c * 255) for c in to_rgb("#6f6f6f"))  # … and its grey lines


def scene_pixels(ws, view, size_px=800):
    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    prepare_map_axes(ax)
    ax.set_aspect("auto")
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    scene = MapScene(ax, ws)
    scene.sync()
    canvas.draw()
    return scene, ax, np.asarray(canvas.buffer_rgba())[..., :3].copy()


def around(img, ax, x, y, half: int) -> np.ndarray:
    """The pixels within ``half`` of the map point (x, y), as (k, 3) RGB rows."""
    px, py = ax.transData.transform((x, y))
    row, col = img.shape[0] - int(round(py)), int(round(px))
    return img[row - half:row + half, col - half:col + half].reshape(-1, 3)


def has(block: np.ndarray, rgb) -> bool:
    return bool((block == np.array(rgb)).all(axis=1).any())


def hidden_layers_ws(path):
    ws = Workspace(read_project(path))
    for spec in ws.project.layers:
        spec.visible = False  # only the priority map and the hatch on the map: colours are exact
    ws.update()
    return ws


def test_grid_cells_whose_centre_lies_in_an_exclusion_are_drawn_hatched(tmp_path):
    ws = hidden_layers_ws(write_project(tmp_path))
    scene, ax, img = scene_pixels(ws, (X0, X0 + 1000, Y0, Y0 + 1000))
    mil, nature = exclusion_polygons()
    cover = shapely.union_all(mil + nature)
    inside = shapely.intersects_xy(cover, ws.units.centres[:, 0], ws.units.centres[:, 1])  # edges count
    assert 0 < inside.sum() < ws.units.n
    for (x, y), out in zip(ws.units.centres, inside):
        block = around(img, ax, x, y, 24)  # a cell is 80 px here: the middle 48 px of it
        assert (has(block, FACE) and has(block, LINE)) == bool(out), (x - X0, y - Y0)
    # The nasty ones are there: centres on the edge x = X0 + 250 are hatched, the hole's are not.
    assert inside[(ws.units.centres[:, 0] == X0 + 250) & (ws.units.centres[:, 1] < Y0 + 450)].all()
    assert not inside[(ws.units.centres[:, 0] == X0 + 750) & (ws.units.centres[:, 1] == Y0 + 750)].any()
    # The legend says why, naming both layers (project order), right under the priority classes.
    titles = [title for title, _, _ in scene.legend_sections()]
    assert titles[1] == "Undantaget: mil, nature"


def test_the_hatch_is_one_artist_and_a_weight_step_keeps_it(tmp_path):
    ws = hidden_layers_ws(write_project(tmp_path))
    scene, ax, _ = scene_pixels(ws, (X0, X0 + 1000, Y0, Y0 + 1000))
    hatch = scene._hatch
    assert hatch is not None and hatch in ax.get_children()
    assert hatch.get_zorder() > scene._priority.get_zorder()  # above the priority map
    ws.recombine([1.0, 5.0])
    scene.update_priority_fast()
    assert scene._hatch is hatch and hatch.get_visible()
    scene.show_composite = False  # no priority map: no hatch and no legend line either
    scene.sync_composite()
    assert not hatch.get_visible() and not any("Undantaget" in t for t, _, _ in scene.legend_sections())


AREA_SIDE = 100.0


def area_project(tmp_path, share: float) -> Workspace:
    """Six square areas in a row; an exclusion layer covering 0, 20, 49.9, exactly 50, 60 and
    100 % of them (two overlapping polygons over the 60 % one)."""
    areas = [shapely.box(X0 + i * AREA_SIDE, Y0, X0 + (i + 1) * AREA_SIDE, Y0 + AREA_SIDE) for i in range(6)]
    gpkg = tmp_path / "a.gpkg"
    gpd.GeoDataFrame({"code": [f"a{i}" for i in range(6)]}, geometry=areas, crs=3006).to_file(gpkg, layer="areas")
    x = [X0 + i * AREA_SIDE for i in range(6)]
    excl = [shapely.box(x[1], Y0, x[1] + 20, Y0 + AREA_SIDE), shapely.box(x[2], Y0, x[2] + 49.9, Y0 + AREA_SIDE),
            shapely.box(x[3], Y0, x[3] + 50, Y0 + AREA_SIDE), shapely.box(x[4], Y0, x[4] + 40, Y0 + AREA_SIDE),
            shapely.box(x[4] + 30, Y0, x[4] + 60, Y0 + AREA_SIDE), shapely.box(x[5], Y0 - 5, x[5] + 105, Y0 + 105)]
    gpd.GeoDataFrame({"n": range(len(excl))}, geometry=excl, crs=3006).to_file(gpkg, layer="mil")
    rng = np.random.default_rng(3)
    pts = rng.uniform([X0, Y0], [X0 + 6 * AREA_SIDE, Y0 + AREA_SIDE], (12, 2))
    gpd.GeoDataFrame({"v": rng.uniform(0, 9, 12)}, geometry=shapely.points(pts), crs=3006).to_file(gpkg, layer="pts")
    text = textwrap.dedent(f"""\
        schema_version = 1
        [project]
        title = "t"
        crs = "EPSG:3006"
        [[layers]]
        id = "areas"
        path = "a.gpkg"
        layer = "areas"
        [[layers]]
        id = "mil"
        path = "a.gpkg"
        layer = "mil"
        title = "Militärt område"
        role = "exclude"
        exclude_share = {share}
        [[layers]]
        id = "pts"
        path = "a.gpkg"
        layer = "pts"
        sector = "healthcare"
        [layers.indicator]
        method = "count"
        [units]
        kind = "areas"
        layer = "areas"
        id = "code"
        """)
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return hidden_layers_ws(path), areas, excl


@pytest.mark.parametrize("share", [0.5, 0.2, 0.6])
def test_areas_are_hatched_only_when_their_covered_share_reaches_the_threshold(tmp_path, share):
    ws, areas, excl = area_project(tmp_path, share)
    cover = shapely.union_all(excl)
    covered = np.array([shapely.area(shapely.intersection(a, cover)) / shapely.area(a) for a in areas])
    assert covered[3] == 0.5 and abs(covered[4] - 0.6) < 1e-12  # exactly on the threshold, and overlaps
    want = covered >= share
    order = np.argsort(ws.units.ids)  # units in the order of their codes a0 … a5
    assert list(np.asarray(ws.units.ids)[order]) == [f"a{i}" for i in range(6)]
    _, ax, img = scene_pixels(ws, (X0 - 10, X0 + 6 * AREA_SIDE + 10, Y0 - 260, Y0 + AREA_SIDE + 260))
    for i, a in enumerate(areas):
        c = shapely.centroid(a)
        block = around(img, ax, c.x, c.y, 20)  # an area is about 130 px wide here
        # The face colour exactly, and dark grey (anti-aliased) hatch lines.
        dark = ((block < 150).all(axis=1) & (np.ptp(block, axis=1) < 8)).any()
        assert (has(block, FACE) and dark) == bool(want[i]), (i, covered[i], share)


def test_the_printed_page_hatches_the_excluded_units_and_says_why(tmp_path):
    import matplotlib.image as mpimg
    from matplotlib.legend import Legend

    ws = Workspace(read_project(write_project(tmp_path)))
    ws.update()
    page = PageSpec.for_output(tmp_path / "map.png", size=(1600, 1000))
    content = page_content(ws, extent=(X0, X0 + 1000, Y0, Y0 + 1000))
    fig = compose_figure(ws, page, content, lang="sv", raster=True)
    legend_texts = [t.get_text() for leg in fig.findobj(Legend) for t in leg.get_texts()]
    assert "Undantaget: mil, nature" in " ".join(legend_texts).replace("\n", " ")
    out = tmp_path / "map.png"
    fig.savefig(out, dpi=page.dpi)
    img = (mpimg.imread(out)[..., :3] * 255).round().astype(np.uint8)
    ax = next(a for a in fig.axes if a.get_xlim()[0] <= X0 + 500 <= a.get_xlim()[1])
    # A cell deep in the military boxes and one in the hole (not excluded): 8 px around the centre.
    hatched = around(img, ax, X0 + 50, Y0 + 50, 6)
    kept = around(img, ax, X0 + 750, Y0 + 750, 6)
    assert has(hatched, FACE) and has(hatched, LINE)
    assert not has(kept, FACE) and not has(kept, LINE)
    # In English too.
    fig_en = compose_figure(ws, page, content, lang="en", raster=True)
    assert "Excluded: mil, nature" in " ".join(t.get_text() for leg in fig_en.findobj(Legend)
                                                for t in leg.get_texts()).replace("\n", " ")
