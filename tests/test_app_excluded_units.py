"""What the app shows for units a constraint layer (role = "exclude") takes out of the score: the
Info panel names the unit and the layer instead of explaining a score it does not have, and the
legend draws the hatch the map uses.

Real mouse clicks on the real window on the sample. Oracles: the training areas and municipalities
read with geopandas (which cell lies inside, which municipality holds it), hand-written Swedish
texts, and the pixels of the legend swatch.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from test_app_trust import widget_pos

pytest.importorskip("pytestqt")

CELL = 500


def _inner_excluded_cell(sample_dir) -> tuple[float, float, str]:
    """The centre of a cell deep inside the Kungsängen training area (a kilometre from its edge,
    so a click a few pixels off still lands on an excluded cell) and the municipality holding it."""
    areas = gpd.read_file(sample_dir / "forsvar_ovningsomraden.gpkg", layer="ovningsomraden")
    inner = areas.loc[areas["namn"] == "Övningsområde Kungsängen"].geometry.iloc[0].buffer(-1000)
    p = inner.representative_point()
    x, y = (np.floor(v / CELL) * CELL + CELL / 2 for v in (p.x, p.y))
    assert inner.contains(shapely.Point(x, y))
    kommuner = gpd.read_file(sample_dir / "sweden_reference.gpkg", layer="kommuner")
    holding = kommuner.loc[kommuner.contains(shapely.Point(x, y)), "name"]
    assert len(holding) == 1
    return x, y, str(holding.iloc[0])


def test_info_panel_names_the_excluding_layer_for_an_excluded_cell(window, qtbot, sample_copy):
    x, y, place = _inner_excluded_cell(sample_copy.parent)
    canvas, info = window.canvas, window.info_panel
    window.docks["info"].raise_()
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(canvas, x, y))
    qtbot.waitUntil(lambda: window.model.selected is not None, timeout=5000)
    assert np.isnan(window.model.ws.composite.score[window.model.selected])
    text = info.text.toPlainText()
    assert text.startswith(f"{place}, 500 m-ruta")
    assert "Undantagen från poängen av Militära övningsområden" in text
    assert "Bidrag" not in text and "Normaliserat" not in text and not info.chart.isVisible()


def test_info_panel_still_explains_a_scored_cell(window, qtbot, sample_copy):
    x, y, _ = _inner_excluded_cell(sample_copy.parent)
    canvas, info = window.canvas, window.info_panel
    window.docks["info"].raise_()
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(canvas, x + 6000, y + 6000))
    qtbot.waitUntil(lambda: window.model.selected is not None, timeout=5000)
    assert np.isfinite(window.model.ws.composite.score[window.model.selected])
    text = info.text.toPlainText()
    assert "Bidrag" in text and "Undantagen" not in text


def _pixels(pixmap) -> np.ndarray:
    img = pixmap.toImage().convertToFormat(QImage.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return arr[:, : img.width()].astype(int)


def _near(rgba: np.ndarray, colour: str, tol: int = 12) -> np.ndarray:
    c = QColor(colour)
    return (np.abs(rgba[..., :3] - [c.red(), c.green(), c.blue()]).max(-1) <= tol) & (rgba[..., 3] > 200)


def test_legend_shows_the_exclusion_as_a_hatched_swatch(window, qtbot):
    from skikt.layers.render import EXCLUDED_FACE, EXCLUDED_LINE

    legend = window.legend_panel
    qtbot.waitUntil(lambda: any(lbl.text() == "<b>Undantaget: Militära övningsområden</b>"
                                for lbl in legend.findChildren(QLabel)), timeout=5000)
    heading = next(lbl for lbl in legend.findChildren(QLabel)
                   if lbl.text() == "<b>Undantaget: Militära övningsområden</b>")
    icons = [lbl for lbl in heading.parent().findChildren(QLabel) if lbl.pixmap() is not None
             and not lbl.pixmap().isNull()]
    assert len(icons) == 1
    rgba = _pixels(icons[0].pixmap())
    face, line = _near(rgba, EXCLUDED_FACE), _near(rgba, EXCLUDED_LINE)
    assert face.sum() >= 20 and line.sum() >= 20
    # The lines are diagonals "/": inside the swatch, a row's line pixels move left going down.
    inside = line[5:-5, 4:-4]
    firsts = [int(np.argmax(row)) for row in inside if row.any()]
    assert len(firsts) >= 4 and any(b < a for a, b in zip(firsts, firsts[1:]))
