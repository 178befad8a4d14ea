"""The compare window (issue 10, item 2 in the app): rank changes equal two separate scorings
(scipy ranks), the rank-change map shows them, the winners table and the municipality table agree
with pandas and a geopandas join, the side-by-side canvases follow each other under a real mouse
drag, and the swipe divider moves under the mouse and shows B's classes where it passed."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.colors import to_rgb
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from scipy.stats import rankdata

pytest.importorskip("pytestqt")

PROJECT = {"vard": 3, "transport": 1, "kompetens": 2, "kultur": 1, "besoksmal": 1, "vattenskydd": 2,
           "skyddsrum": 2, "socio": 2}
VARD_FORST = {**PROJECT, "vard": 6, "socio": 3, "transport": 1}
BEREDSKAP = {**PROJECT, "skyddsrum": 5, "vattenskydd": 4, "vard": 1, "kultur": 0, "besoksmal": 0}


@pytest.fixture
def compare(window, qtbot):
    # A scenario on screen first: the comparison must not borrow its weights for left-out ids.
    window.scenarios_panel.pick("Beredskap")
    qtbot.wait(20)
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.objectName() == "compare_scenarios")
    action.trigger()
    cw = window.compare_window  # a child of the window: closed and deleted with it
    cw.resize(1400, 860)
    qtbot.waitExposed(cw)
    assert cw.names() == ("Vård först", "Beredskap")
    return cw


def separate_scoring(sample_copy, weights):
    """One full, separate scoring of the sample with these weights; ranks by scipy."""
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    project = read_project(sample_copy)
    for spec in project.indicator_layers():
        spec.indicator.weight = weights[spec.id]
    ws = Workspace(project)
    ws.update(strict=True)
    score = np.asarray(ws.composite.score, float)
    rank = np.full(len(score), np.nan)
    ok = np.isfinite(score)
    rank[ok] = rankdata(-score[ok], method="min")
    k = project.units.classes
    cls = np.where(ok, 1 + np.floor((rank - 1) * k / ok.sum()), np.nan)
    return ws, rank, cls


def test_rank_changes_equal_two_separate_scorings(window, compare, sample_copy):
    ws_a, rank_a, cls_a = separate_scoring(sample_copy, VARD_FORST)
    _, rank_b, cls_b = separate_scoring(sample_copy, BEREDSKAP)
    table = compare.table
    assert list(table["unit_id"]) == list(ws_a.units.ids)
    np.testing.assert_array_equal(table["rank_change"].astype(float).to_numpy(), rank_a - rank_b)
    np.testing.assert_array_equal(table["class_a"].astype(float).to_numpy(), cls_a)
    np.testing.assert_array_equal(table["class_b"].astype(float).to_numpy(), cls_b)
    # the rank-change map holds those numbers, cell by cell, in a palette symmetric about zero
    image = compare.rank_map.ax.images[0]
    shown = np.ma.filled(image.get_array().astype(float), np.nan)
    np.testing.assert_array_equal(shown, ws_a.units.to_image(rank_a - rank_b))
    reach = np.nanmax(np.abs(rank_a - rank_b))
    assert image.norm.vmin == -reach and image.norm.vmax == reach and image.get_cmap().name == "RdBu"
    # the winners: the ten largest rises, in order, as the table shows them
    change = pd.Series(rank_a - rank_b, index=ws_a.units.ids).dropna()
    top = change[change > 0].sort_values(ascending=False, kind="stable").head(10)
    shown_rises = [int(compare.units_table.item(i, 4).text().replace("\u202f", "").lstrip("+")) for i in range(10)]
    assert shown_rises == [int(v) for v in top.to_numpy()]
    summary = compare.summary.text()
    assert len(change) == len(ws_a.units.ids) - 254  # the 254 cells in training areas have no rank
    assert f"{int((change > 0).sum())} av {len(change)} enheter stiger" in summary
    assert f"{int((change < 0).sum())} sjunker, {int((change == 0).sum())} står still" in summary


def test_municipality_table_agrees_with_a_geopandas_join(window, compare, sample_copy):
    ws_a, rank_a, cls_a = separate_scoring(sample_copy, VARD_FORST)
    _, _, cls_b = separate_scoring(sample_copy, BEREDSKAP)
    units = ws_a.units
    kommuner = gpd.read_file(sample_copy.parent / "sweden_reference.gpkg", layer="kommuner").to_crs(units.crs)
    centres = gpd.GeoDataFrame(geometry=gpd.points_from_xy(units.centres[:, 0], units.centres[:, 1]), crs=units.crs)
    joined = gpd.sjoin(centres, kommuner, predicate="intersects", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    name_col = next(c for c in ("name", "namn", "kommunnamn") if c in kommuner.columns)
    frame = pd.DataFrame({"name": joined[name_col].to_numpy(), "top_a": cls_a == 1, "top_b": cls_b == 1})
    expected = frame.groupby("name")[["top_a", "top_b"]].sum()
    t = compare.muni_table
    head = [t.horizontalHeaderItem(j).text() for j in range(t.columnCount())]
    assert head[:5] == ["Kommun", "Enheter", "Medelförändring", "Högsta klass A", "Högsta klass B"]
    shown = {t.item(i, 0).text(): (int(t.item(i, 3).text().replace("\u202f", "")),
                                   int(t.item(i, 4).text().replace("\u202f", ""))) for i in range(t.rowCount())}
    for name, row in expected.iterrows():
        assert shown[name] == (int(row["top_a"]), int(row["top_b"])), name
    # People in top-class units: the sample names a population layer (tätorter, points).
    assert "Invånare i högsta klass A" in head and "Invånare i högsta klass B" in head
    towns = gpd.read_file(sample_copy.parent / "sweden_reference.gpkg", layer="tatorter").to_crs(units.crs)
    half = units.grid.cell / 2
    cells = gpd.GeoDataFrame({"top_a": cls_a == 1}, geometry=shapely.box(
        units.centres[:, 0] - half, units.centres[:, 1] - half, units.centres[:, 0] + half,
        units.centres[:, 1] + half), crs=units.crs)
    hit = gpd.sjoin(towns, cells, predicate="within")
    people_a = hit.loc[hit["top_a"], "pop"].sum()
    col = head.index("Invånare i högsta klass A")
    total = sum(int(t.item(i, col).text().replace("\u202f", "")) for i in range(t.rowCount()))
    assert abs(total - people_a) <= t.rowCount()  # each row is rounded to whole people


def drag(widget, start: QPoint, end: QPoint, steps: int = 6):
    QTest.mousePress(widget, Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(widget, start + (end - start) * (i / steps))
    QTest.mouseRelease(widget, Qt.LeftButton, Qt.NoModifier, end)


def test_side_by_side_canvases_follow_a_mouse_drag(compare, qtbot):
    left, right = compare.left, compare.right
    before = left.view()
    assert np.allclose(before, right.view())
    mid = QPoint(left.width() // 2, left.height() // 2)
    drag(left, mid, mid + QPoint(120, -60))
    after = left.view()
    assert not np.allclose(after, before)
    width_per_px = (before[1] - before[0]) / left.ax.bbox.width
    assert after[0] == pytest.approx(before[0] - 120 * width_per_px, rel=1e-6)
    assert np.allclose(right.view(), after)
    drag(right, mid, mid + QPoint(-40, 40))
    assert np.allclose(left.view(), right.view()) and not np.allclose(left.view(), after)


def class_under(pane, x_px, y_px, image, k):
    """The priority class whose colour is nearest the pixel (in widget pixels, y down)."""
    from skikt.layers.render import priority_colours

    c = image.pixelColor(int(x_px), int(y_px))
    rgb = np.array([c.redF(), c.greenF(), c.blueF()])
    palette = np.array([to_rgb(p) for p in priority_colours(k)])
    return 1 + int(np.argmin(np.abs(palette - rgb).sum(1)))


def test_swipe_divider_follows_the_mouse_and_uncovers_b(compare, qtbot):
    compare.tabs.setCurrentIndex(1)
    swipe = compare.swipe
    qtbot.waitExposed(swipe)
    swipe.draw()
    k = window_k = compare.model.project.units.classes
    units = compare.model.ws.units
    table = compare.table
    xy = swipe.ax.transData.transform(units.centres)  # display pixels, y up
    h = swipe.height()
    frac = (xy[:, 0] - swipe.ax.bbox.x0) / swipe.ax.bbox.width
    differ = (table["class_a"] != table["class_b"]).fillna(False).to_numpy(bool)
    inside = (xy[:, 1] > 5) & (xy[:, 1] < h - 5)
    candidates = np.flatnonzero(differ & inside & (frac > 0.30) & (frac < 0.45))
    rng = np.random.default_rng(7)
    picks = rng.choice(candidates, size=min(60, len(candidates)), replace=False)
    assert len(picks) >= 20

    def classes_shown():
        swipe.draw()
        image = swipe.grab().toImage()
        return np.array([class_under(swipe, xy[i, 0], h - xy[i, 1], image, window_k) for i in picks])

    class_a = table["class_a"].to_numpy()[picks].astype(int)
    class_b = table["class_b"].to_numpy()[picks].astype(int)
    assert (classes_shown() == class_a).mean() >= 0.9  # left of the divider: A
    start = QPoint(int(swipe.divider_x()), h // 2)
    drag(swipe, start, QPoint(int(swipe.width() * 0.25), h // 2))
    assert swipe.fraction == pytest.approx(0.25, abs=0.01)
    assert (classes_shown() == class_b).mean() >= 0.9  # the divider passed: B
    # A press away from the divider pans instead and leaves the divider where it is.
    view = swipe.view()
    drag(swipe, QPoint(int(swipe.width() * 0.7), h // 3), QPoint(int(swipe.width() * 0.7) + 50, h // 3))
    assert swipe.fraction == pytest.approx(0.25, abs=0.01) and not np.allclose(view, swipe.view())
    assert k == 5
