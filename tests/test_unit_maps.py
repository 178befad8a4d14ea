"""Per-unit maps (layers/unit_maps.py) drawn by the scene in place of the priority classes."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from skikt.layers.scene import MapScene, prepare_map_axes
from skikt.layers.unit_maps import UnitMap


def test_class_of_puts_boundary_values_in_the_upper_class_and_nan_nowhere():
    um = UnitMap(np.array([0.0, 0.25, 0.2499, 0.5, 1.0, np.nan, -0.1, 1.1]), (0.0, 0.25, 0.5, 1.0),
                 ("#fff", "#888", "#000"), ("low", "mid", "high"), "t")
    # Hand-worked: [0,0.25) → 0, [0.25,0.5) → 1, [0.5,1] → 2 (the top edge is closed).
    assert um.class_of().tolist() == [0, 1, 0, 2, 2, -1, -1, -1]


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        UnitMap(np.zeros(2), (0.0, 1.0), ("#fff", "#000"), ("a", "b"), "t")
    with pytest.raises(ValueError):
        UnitMap(np.zeros(2), (0.0, 0.5, 0.4), ("#fff", "#000"), ("a", "b"), "t")


def test_scene_draws_the_unit_map_and_lists_its_classes_high_first(sample_ws):
    ws = sample_ws
    fig = Figure(figsize=(5, 5), dpi=60)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    prepare_map_axes(ax)
    x0, y0, x1, y1 = ws.units.grid.extent[0], ws.units.grid.extent[2], ws.units.grid.extent[1], ws.units.grid.extent[3]
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    scene = MapScene(ax, ws)
    n = len(ws.units.centres)
    values = np.where(np.arange(n) % 2 == 0, 0.1, 0.9)
    scene.unit_map = UnitMap(values, (0.0, 0.5, 1.0), ("#0000ff", "#ff0000"), ("låg", "hög"), "Oenighet")
    scene.sync()
    title, entries, _ = scene.legend_sections()[0]
    assert title == "Oenighet" and [e.label for e in entries] == ["hög", "låg"]
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())[..., :3].reshape(-1, 3).astype(int)
    # Both class colours reach the screen (blended with the white background at alpha 0.9).
    reddish = ((rgba[:, 0] > 200) & (rgba[:, 1] < 60) & (rgba[:, 2] < 60)).sum()
    bluish = ((rgba[:, 2] > 200) & (rgba[:, 0] < 60) & (rgba[:, 1] < 60)).sum()
    assert reddish > 50 and bluish > 50
    scene.unit_map = None
    scene.sync_composite()
    assert scene.legend_sections()[0][0] != "Oenighet"
