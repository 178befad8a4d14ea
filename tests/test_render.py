"""Drawing onto a plain Agg Axes: what the canvas, the exports and the bench all use."""

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from skikt.layers.render import DENSE_POLYGONS, draw_layer, draw_priority, priority_legend
from skikt.layers.scene import MapScene
from skikt.layers.style import Style


def axes(xlim=(0, 100), ylim=(0, 100), size=(4, 4)):
    fig = Figure(figsize=size, dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return ax, canvas


def test_one_artist_per_layer_kind():
    ax, canvas = axes()
    pts = gpd.GeoDataFrame({"typ": ["a", "b", "a"]}, geometry=shapely.points([(1, 1), (2, 2), (3, 3)]))
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (50, 50)]), shapely.MultiLineString([[(1, 2), (3, 4)], [(5, 6), (7, 8)]])])
    polys = gpd.GeoDataFrame({"v": [1.0, 2.0]}, geometry=[shapely.box(0, 0, 10, 10),
                                                         shapely.box(20, 20, 40, 40).difference(shapely.box(25, 25, 30, 30))])
    a, e = draw_layer(ax, pts, Style(mode="categorized", column="typ"), "culture")
    assert isinstance(a, PathCollection) and [x.label for x in e] == ["a", "b"]
    assert len(a.get_offsets()) == 3
    b, _ = draw_layer(ax, lines, Style(), "transport")
    assert isinstance(b, LineCollection) and len(b.get_segments()) == 3
    c, e = draw_layer(ax, polys, Style(mode="graduated", column="v", k=2), "water")
    assert isinstance(c, PathCollection)  # the hole forces compound paths
    assert len(e) == 2
    canvas.draw()


def test_dense_polygons_become_an_image_that_matches_the_geometry():
    side = 160
    xs, ys = np.meshgrid(np.arange(side), np.arange(side))
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 1, ys.ravel() + 1)
    assert len(boxes) > DENSE_POLYGONS
    v = (xs.ravel() >= 80).astype(float)  # west half 0, east half 1
    gdf = gpd.GeoDataFrame({"v": v}, geometry=boxes)
    ax, canvas = axes((0, side), (0, side), size=(3.2, 3.2))
    art, entries = draw_layer(ax, gdf, Style(mode="graduated", column="v", k=2, palette="viridis"), "water")
    assert isinstance(art, AxesImage) and art.skikt_dense
    img = art.get_array()
    west, east = img[:, : img.shape[1] // 2 - 2], img[:, img.shape[1] // 2 + 2:]
    assert len(np.unique(west.reshape(-1, 4), axis=0)) == 1 and len(np.unique(east.reshape(-1, 4), axis=0)) == 1
    assert not np.allclose(west[0, 0], east[0, 0])
    # Zoomed in, the few polygons in view are drawn as paths again, outlines included.
    ax2, _ = axes((10, 20), (10, 20))
    art2, _ = draw_layer(ax2, gdf, Style(), "water")
    assert isinstance(art2, PolyCollection) and len(art2.get_paths()) < 200


def _pixels(draw, lims, size=(4, 3)):
    ax, canvas = axes(lims[:2], lims[2:], size)
    ax.set_axis_off()
    ax.set_aspect("equal")
    draw(ax)
    ax.set_xlim(*lims[:2])
    ax.set_ylim(*lims[2:])
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].astype(int)


def test_grid_image_draws_what_imshow_draws():
    from skikt.layers.render import GridImage

    rgba = np.random.default_rng(0).integers(0, 256, (37, 53, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[:5, :5, 3] = 0  # a transparent south-west corner
    ext = (1000, 1000 + 53 * 250, 5000, 5000 + 37 * 250)
    ref = lambda ax: ax.imshow(rgba, origin="lower", extent=ext, interpolation="nearest", resample=False)  # noqa: E731
    fast = lambda ax: ax.add_artist(GridImage(rgba, ext))  # noqa: E731
    for lims in [(3000, 6000, 6000, 8250), (1000, 14250, 5000, 14250), (0, 16000, 4000, 16000)]:
        a, b = _pixels(ref, lims), _pixels(fast, lims)
        same = (a == b).all(axis=-1).mean()
        # Pixels whose centre falls exactly on a cell edge may go either way; nothing else differs.
        assert same > 0.97, (lims, same)
    b = _pixels(fast, (1000, 14250, 5000, 14250))
    assert (b[-5:, :5] == 255).all()  # the transparent corner is bottom-left, so north is up


def test_priority_grid_is_one_image(sample_ws):
    ax, canvas = axes(size=(3, 3))
    art = draw_priority(ax, sample_ws.units, sample_ws.composite.cls, 5)
    assert isinstance(art, AxesImage)
    data = np.asarray(art.get_array())
    assert data.shape == sample_ws.units.grid.shape + (4,)
    # Every scored cell is opaque-ish and coloured by its class; the rest is transparent.
    from matplotlib.colors import to_rgba

    from skikt.layers.render import priority_colours

    cls_img = sample_ws.units.to_image(sample_ws.composite.cls.astype(float), fill=0)
    top = data[cls_img == 1]
    assert (top == np.round(np.array(to_rgba(priority_colours(5)[0], 0.9)) * 255).astype(np.uint8)).all()
    assert (data[cls_img == 0][:, 3] == 0).all()
    assert [e.label for e in priority_legend(5, "en")][0] == "Highest priority"


def test_scene_restyle_keeps_other_artists(sample_ws):
    ax, canvas = axes((640_000, 730_000), (6_520_000, 6_680_000), size=(6, 6))
    scene = MapScene(ax, sample_ws)
    scene.sync()
    canvas.draw()
    vard = scene._layer_art["vard"][1]
    kultur = scene._layer_art["kultur"][1]
    sample_ws.project.layer("kultur").style = {"mode": "categorized", "column": "typ"}
    try:
        scene.sync_layers()
        assert scene._layer_art["vard"][1] is vard  # untouched
        assert scene._layer_art["kultur"][1] is not kultur
        titles = [t for t, _, _ in scene.legend_sections()]
        assert titles[0] == "Prioriteringskarta" and "Kulturplatser (illustrativ)" in titles
    finally:
        sample_ws.project.layer("kultur").style = {}


def test_all_weights_zero_says_so_on_the_map_instead_of_a_blank_priority_map(sample_ws):
    from skikt.layers.composite import combine

    ax, canvas = axes((640_000, 730_000), (6_520_000, 6_680_000), size=(6, 6))
    scene = MapScene(ax, sample_ws, lang="sv")
    kept = sample_ws.composite
    try:
        scene.sync()
        assert scene._priority.get_visible()
        sample_ws.composite = combine(sample_ws.normalised, [0.0] * sample_ws.normalised.m, 5)
        scene.sync_composite()
        canvas.draw()
        texts = [t for t in ax.texts if t.get_visible()]
        assert [t.get_text() for t in texts] == ["Alla vikter är noll – ingen prioriteringskarta"]
        assert texts[0].get_position() == (0.5, 0.5) and texts[0].get_transform() == ax.transAxes
        assert not scene._priority.get_visible()  # no empty priority image…
        assert "Prioriteringskarta" not in [t for t, _, _ in scene.legend_sections()]  # …and no legend for it
        sample_ws.composite = kept  # a weight above zero again: the note goes, the map comes back
        scene.sync_composite()
        assert not [t for t in ax.texts if t.get_visible()] and scene._priority.get_visible()
        english = MapScene(axes()[0], sample_ws, lang="en")
        sample_ws.composite = combine(sample_ws.normalised, [0.0] * sample_ws.normalised.m, 5)
        english.sync_composite()
        assert [t.get_text() for t in english.ax.texts] == ["Every weight is zero – no priority map"]
    finally:
        sample_ws.composite = kept


def test_scene_caches_compare_the_frame_itself_not_its_id(sample_ws):
    """A layer whose frame is replaced by a new object is redrawn, even one with equal content,
    and the scene holds the frame it drew so that no later frame can reuse its id()."""
    ax, canvas = axes((640_000, 730_000), (6_520_000, 6_680_000), size=(6, 6))
    scene = MapScene(ax, sample_ws)
    scene.sync()
    lay = sample_ws.layers["vard"]
    art = scene._layer_art["vard"][1]
    scene.sync_layers()
    assert scene._layer_art["vard"][1] is art  # nothing changed: nothing rebuilt
    original = lay.frame
    try:
        lay.frame = original.copy()
        scene.sync_layers()
        assert scene._layer_art["vard"][1] is not art
        assert any(entry is lay.frame for entry in scene._layer_art["vard"])
    finally:
        lay.frame = original


def test_many_large_overlapping_polygons_are_drawn_as_paths_not_rasterised():
    """Rasterising pays only for polygons that are small on screen (grid cells); overlapping
    buffers that together cover the view many times over are drawn as paths, with outlines."""
    rng = np.random.default_rng(5)
    n = DENSE_POLYGONS + 1000
    circles = shapely.buffer(shapely.points(rng.uniform(0, 100, (n, 2))), rng.uniform(3, 8, n), quad_segs=2)
    ax, canvas = axes(size=(2, 2))
    art, _ = draw_layer(ax, gpd.GeoDataFrame(geometry=circles), Style(), "water")
    assert isinstance(art, PolyCollection) and not getattr(art, "skikt_dense", False)
    assert len(art.get_paths()) == n
