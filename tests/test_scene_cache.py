"""The map scene paints its vector layers once per view and composites them over the priority map.

A weight step must not repaint the layers, and what it shows must be exactly what a full redraw
from scratch shows. The oracle for the compositing itself is matplotlib drawing the same artists
straight onto the figure (savefig does that: the cache steps aside while a figure is saved).
"""

import io

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skikt.layers.composite import combine
from skikt.layers.scene import MapScene, prepare_map_axes

# Painting the layers onto a transparent image first and then over the priority map rounds partly
# transparent pixels (antialiased edges, translucent fills) once more in 8 bits per stacked layer:
# a few levels of 255. A flipped, shifted or stale image differs by up to 255 on much of the map.
ROUNDING = 8
VIEW = ((640_000, 730_000), (6_520_000, 6_680_000))


def make_scene(ws, size=(6, 5), view=VIEW):
    fig = Figure(figsize=size, dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    prepare_map_axes(ax)  # as the app's canvas: no frame, no ticks
    ax.set_xlim(*view[0])
    ax.set_ylim(*view[1])
    ax.apply_aspect()  # settle the limits first: the layers' simplification follows the pixel size
    scene = MapScene(ax, ws)
    scene.sync()
    return scene, canvas


def pixels(canvas) -> np.ndarray:
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def drawn_directly(canvas) -> np.ndarray:
    """matplotlib's own drawing of every artist onto the figure, no cached image involved."""
    buf = io.BytesIO()
    canvas.print_figure(buf, format="rgba", dpi=canvas.figure.dpi)
    w, h = canvas.get_width_height()
    return np.frombuffer(buf.getvalue(), np.uint8).reshape(h, w, 4)


@pytest.fixture
def shown_ws(sample_ws):
    """The sample workspace with every layer shown (the project hides three), restored after."""
    hidden = [spec for spec in sample_ws.project.layers if not spec.visible]
    kept = sample_ws.composite
    for spec in hidden:
        spec.visible = True
    yield sample_ws
    for spec in hidden:
        spec.visible = False
    sample_ws.composite = kept


def new_weights(ws, seed: int):
    rng = np.random.default_rng(seed)
    return combine(ws.normalised, rng.uniform(0.2, 3.0, ws.normalised.m), 5)


def test_weight_step_repaints_no_layer_and_equals_a_full_redraw(shown_ws):
    scene, canvas = make_scene(shown_ws)
    before = pixels(canvas)
    paints = scene._cached.paints
    assert paints == 1
    shown_ws.composite = new_weights(shown_ws, 1)
    scene.update_priority_fast()
    stepped = pixels(canvas)
    assert scene._cached.paints == paints  # the layers were not drawn again
    assert (stepped != before).any()  # the priority map did change
    fresh_scene, fresh_canvas = make_scene(shown_ws)
    assert np.array_equal(stepped, pixels(fresh_canvas))


def test_cached_layers_look_as_matplotlib_draws_them_directly(shown_ws):
    scene, canvas = make_scene(shown_ws)
    cached = pixels(canvas).astype(int)
    direct = drawn_directly(canvas).astype(int)
    assert scene._cached.paints == 1  # saving did not repaint (nor use) the cache
    diff = np.abs(cached - direct)
    assert diff.max() <= ROUNDING
    assert (diff.max(axis=2) > 2).mean() < 0.005
    layer_alpha = scene._cached._rgba[::-1, :, 3]  # back to the screen's row order
    no_layer = layer_alpha == 0
    assert 0.2 < no_layer.mean() < 0.9  # both kinds of pixel are in this view
    assert (diff.max(axis=2)[no_layer] == 0).all()  # where no layer drew, exactly matplotlib's pixels
    # ...and after saving, the screen still shows the same pixels.
    assert np.array_equal(pixels(canvas), cached)


def assert_current(scene, canvas) -> np.ndarray:
    """What the screen shows equals a repaint from scratch of the same scene, and matplotlib's own
    drawing of it to rounding (a stale image, e.g. one from before a pan, fails both)."""
    shown = pixels(canvas)
    scene._cached.invalidate()
    assert np.array_equal(shown, pixels(canvas))
    assert np.abs(shown.astype(int) - drawn_directly(canvas).astype(int)).max() <= ROUNDING
    return shown


def test_look_change_pan_and_resize_repaint_the_layers(shown_ws):
    scene, canvas = make_scene(shown_ws)
    first = pixels(canvas)
    spec = shown_ws.project.layer("kultur")
    old_style, opacity = spec.style, spec.opacity
    try:
        spec.style = {"mode": "categorized", "column": "typ"}
        scene.sync_layers()
        restyled = pixels(canvas)
        assert scene._cached.paints == 2 and (restyled != first).any()
        assert np.array_equal(assert_current(scene, canvas), restyled)
        assert np.array_equal(restyled, pixels(make_scene(shown_ws)[1]))  # a new scene draws the same
        spec.opacity = 0.3  # a look change that only restyles the existing artist
        scene.sync_layers()
        assert (assert_current(scene, canvas) != restyled).any()
    finally:
        spec.style, spec.opacity = old_style, opacity
    scene.sync_layers()
    before_pan = pixels(canvas)
    panned = ((VIEW[0][0] + 7_000, VIEW[0][1] + 7_000), (VIEW[1][0] - 3_000, VIEW[1][1] - 3_000))
    scene.ax.set_xlim(*panned[0])
    scene.ax.set_ylim(*panned[1])
    scene.view_changed()
    assert (assert_current(scene, canvas) != before_pan).any()
    canvas.figure.set_size_inches(5, 4)
    scene.view_changed()
    assert assert_current(scene, canvas).shape == (400, 500, 4)


def test_hiding_a_layer_repaints_and_the_hidden_layer_is_gone(shown_ws):
    scene, canvas = make_scene(shown_ws)
    shown = pixels(canvas)
    spec = shown_ws.project.layer("vard")
    spec.visible = False
    try:
        scene.sync_layers()
        hidden = pixels(canvas)
        assert (hidden != shown).any()
        assert np.array_equal(hidden, pixels(make_scene(shown_ws)[1]))
    finally:
        spec.visible = True
