"""The national window (app/national_window.py) driven like a user: opened through Arkiv ▸ Öppna
nationellt resultat…, panned with a mouse drag, zoomed with the wheel, re-weighted with the
keyboard on a slider, and the exact national result recomputed in the background. Oracles:
rasterio's own reads of the file, numpy's weighted mean and the rank formula."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from scipy.stats import rankdata
from test_national_view import NODATA, make_sample_cog, oracle_mean, rasterio_level, touched

from conftest import open_sample_window
from skikt.layers.national_view import CLASS, SCORE
from skikt.layers.render import priority_colours


@pytest.fixture(scope="module")
def cog(tmp_path_factory) -> Path:
    return make_sample_cog(tmp_path_factory.mktemp("nvapp") / "sample")


@pytest.fixture
def main(qtbot, cog):
    """The main window on the project that made the COG (so the national window knows it)."""
    return open_sample_window(qtbot, cog.parent / "sample_project.toml")


def open_through_menu(qtbot, main, monkeypatch, path):
    from skikt.app import national_ui

    monkeypatch.setattr(national_ui.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), "GeoTIFF"))
    action = next(a for a in main.menuBar().actions()[0].menu().actions() if a.objectName() == "open_national")
    assert action.text() == "Öppna nationellt resultat…"
    action.trigger()
    if not main.national_windows:
        return None
    win = main.national_windows[-1]
    qtbot.addWidget(win)
    win.resize(1200, 800)
    qtbot.waitUntil(lambda: win.last_read is not None and win.map.image is not None, timeout=10000)
    return win


def wait_read(qtbot, win, after: int):
    qtbot.waitUntil(lambda: win.reads > after and not win.reading, timeout=10000)


def assert_read_is_rasterios(win, cog):
    """The window's last read is rasterio's read of the same level under the visible extent."""
    read = win.last_read
    whole, transform = rasterio_level(cog, read.level)
    rows, cols = touched(transform, whole.shape[1:], win.map.extent())
    np.testing.assert_array_equal(read.data, whole[:, rows][:, :, cols])


def image_classes(win) -> np.ndarray:
    """The drawn image's pixels mapped back to classes through the legend's colours."""
    from matplotlib.colors import to_rgba

    img = win.map.image.convertToFormat(win.map.image.Format.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 4 * img.width()]
    arr = arr.reshape(img.height(), img.width(), 4)
    out = np.full(arr.shape[:2], -1, int)
    out[arr[..., 3] == 0] = 0
    for c, colour in enumerate(priority_colours(win.k), start=1):
        rgba = (np.array(to_rgba(colour)) * 255).round().astype(np.uint8)
        out[(arr == rgba).all(axis=2)] = c
    assert (out >= 0).all()
    return out


def rank_formula_classes(scores: np.ndarray, k: int) -> np.ndarray:
    ok = ~np.isnan(scores)
    rank = rankdata(-scores[ok], method="min")
    out = np.zeros(scores.shape, int)
    out[ok] = 1 + np.floor((rank - 1) * k / ok.sum()).astype(int)
    return out


def test_open_through_the_menu_draws_the_files_classes_with_the_projects_weights(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    assert win is not None and win.isVisible() and win is not main
    assert win.project is not None and Path(win.project.path) == cog.parent / "sample_project.toml"
    assert {lid: s.value() / 10 for lid, s in win.sliders.items()} == win.project_weights
    assert [win.band_list.item(i).text().split(": ")[1] for i in range(win.band_list.count())][-3:] == \
        ["score", "rank", "priority_class"]
    assert_read_is_rasterios(win, cog)
    whole, _ = rasterio_level(cog, win.last_read.level)
    cls = whole[win.last_read.names.index(CLASS)]
    rows, cols = touched(rasterio_level(cog, win.last_read.level)[1], cls.shape, win.map.extent())
    expected = np.where(cls == NODATA, 0, cls)[rows][:, cols]
    np.testing.assert_array_equal(image_classes(win), expected)
    assert len(win.map.boundaries) == 2  # municipal and county boundaries


def test_drag_pans_and_rereads_the_visible_window(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    m = win.map
    m.upp /= 3  # zoomed in, so that a pan brings new cells into view
    m.on_view_changed()
    wait_read(qtbot, win, 0)
    before, upp, reads = m.extent(), m.upp, win.reads
    a = QPoint(m.width() // 2, m.height() // 2)
    b = a + QPoint(-240, 130)
    QTest.mousePress(m, Qt.LeftButton, Qt.NoModifier, a)
    for i in range(1, 9):
        QTest.mouseMove(m, a + (b - a) * (i / 8))
    QTest.mouseRelease(m, Qt.LeftButton, Qt.NoModifier, b)
    after = m.extent()
    # dragging left and down moves the view east and north by the drag in map units
    assert after[0] - before[0] == pytest.approx(240 * upp) and after[1] - before[1] == pytest.approx(130 * upp)
    wait_read(qtbot, win, reads)
    assert_read_is_rasterios(win, cog)
    assert win.last_read.bounds[2] >= min(after[2], win.info.bounds[2]) - 1e-6


def test_wheel_zooms_about_the_cursor_and_reads_the_matching_overview(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    m = win.map
    assert win.last_read.level == 0  # the county fits the screen at full resolution
    pos = QPointF(m.width() * 0.3, m.height() * 0.6)
    under = m.map_point(pos)
    upp = m.upp
    for _ in range(10):  # ten notches out
        reads = win.reads
        event = QWheelEvent(pos, m.mapToGlobal(pos), QPoint(0, 0), QPoint(0, -120), Qt.NoButton, Qt.NoModifier,
                            Qt.NoScrollPhase, False)
        QApplication.sendEvent(m, event)
    assert m.upp == pytest.approx(upp * 1.25 ** 10)
    assert m.map_point(pos) == pytest.approx(under)
    wait_read(qtbot, win, reads)
    sizes = [lv.pixel_size for lv in win.info.levels]
    expected = max(i for i, s in enumerate(sizes) if s <= m.upp)
    assert expected >= 1 and win.last_read.level == expected
    assert_read_is_rasterios(win, cog)


def test_a_slider_moved_with_keys_previews_the_classes_numpy_says(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    before = image_classes(win)
    slider = win.sliders["vard"]
    slider.setFocus()
    for _ in range(3):
        QTest.keyClick(slider, Qt.Key_PageDown)  # 3 → 0: the health-care distance no longer counts
    weights = {lid: s.value() / 10 for lid, s in win.sliders.items()}
    assert weights["vard"] == 0 and win.mode == "preview"
    assert "förhandsvisning" in win.shown_label.text() and "förhandsvisning" in win.map.overlay_text
    # numpy's weighted mean over the whole level (the statistics level of a county), classes by
    # the rank formula; the window shows its visible part
    whole, transform = rasterio_level(cog, 0)
    norm = np.stack([whole[win.info.band_index(f"{lid}_norm")] for lid in win.info.indicator_ids]).astype(float)
    norm[norm == NODATA] = np.nan
    scores = oracle_mean(norm, [weights[lid] for lid in win.info.indicator_ids])
    expected = rank_formula_classes(scores, win.k)
    rows, cols = touched(transform, scores.shape, win.map.extent())
    expected = expected[rows][:, cols]
    drawn = image_classes(win)
    # cells whose score lies within float32 rounding of a class threshold may go either way
    sorted_scores = np.sort(scores[~np.isnan(scores)])[::-1]
    n = len(sorted_scores)
    thresholds = sorted_scores[-((-np.arange(1, win.k) * n) // win.k) - 1]
    near = np.zeros(scores.shape, bool)
    for t in thresholds:
        near |= np.abs(scores - t) <= 1e-6
    clear = ~near[rows][:, cols]
    np.testing.assert_array_equal(drawn[clear], expected[clear])
    assert (drawn != before).sum() > 100  # the map did change
    # the exact result needs the project: the window knows it, so a recomputation is on its way
    win.cancel_exact()


def test_without_a_project_the_preview_says_the_exact_result_needs_it(qtbot, cog, tmp_path):
    from skikt.app.i18n import set_language
    from skikt.app.national_window import open_national_window

    set_language("sv", remember=False)
    alone = tmp_path / "alone.tif"
    shutil.copy(cog, alone)
    import rasterio

    with rasterio.open(alone, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:  # another writer: no Skikt tags
        ds.update_tags(SKIKT_WEIGHTS="", SKIKT_PROJECT="", SKIKT_CLASSES="")
    win = open_national_window(alone)
    qtbot.addWidget(win)
    win.show()
    assert win.project is None and win.weights_note.text() == "Lika vikter: projektet är okänt"
    assert set(win.weights().values()) == {1.0}
    slider = win.sliders["vard"]
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    assert win.mode == "preview"
    assert win.statusBar().currentMessage() == "Det exakta resultatet behöver projektet: välj det med Projekt…"
    assert not win.exact.busy


def test_a_weight_change_recomputes_the_exact_national_result_in_the_background(qtbot, main, monkeypatch, cog):
    import rasterio

    win = open_through_menu(qtbot, main, monkeypatch, cog)
    win._exact_timer.setInterval(0)
    slider = win.sliders["transport"]
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)  # 1 → 2
    weights = win.weights()
    assert win.mode == "preview"
    qtbot.waitUntil(lambda: win.exact.busy, timeout=5000)
    assert win.cancel_button.isVisible() and win.progress.isVisible()
    qtbot.waitUntil(lambda: win.source is not win.original, timeout=180000)
    assert win.mode == "file" and win.source is not win.original and not win.cancel_button.isVisible()
    assert "exakt" in win.shown_label.text()
    wait_read(qtbot, win, win.reads - 1)
    qtbot.waitUntil(lambda: win.last_read is not None and win.last_read.names and
                    Path(win.source.path).exists(), timeout=10000)
    with rasterio.open(win.source.path) as ds:
        bands = ds.read()
        names = ds.descriptions
    norm = np.stack([bands[names.index(f"{lid}_norm")] for lid in win.info.indicator_ids]).astype(float)
    norm[norm == NODATA] = np.nan
    score = bands[names.index(SCORE)].astype(float)
    score[score == NODATA] = np.nan
    # the recomputed file holds the new weights' scores, and the window draws its classes
    np.testing.assert_allclose(score, oracle_mean(norm, [weights[lid] for lid in win.info.indicator_ids]),
                               rtol=2e-6, atol=1e-7, equal_nan=True)
    qtbot.waitUntil(lambda: win.map.image is not None and win.last_read.data.shape[1:] ==
                    (win.map.image.height(), win.map.image.width()), timeout=10000)
    whole, transform = rasterio_level(win.source.path, win.last_read.level)
    cls = whole[names.index(CLASS)]
    rows, cols = touched(transform, cls.shape, win.map.extent())
    np.testing.assert_array_equal(image_classes(win), np.where(cls == NODATA, 0, cls)[rows][:, cols])


def test_cancel_keeps_the_preview(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    win._exact_timer.setInterval(0)
    slider = win.sliders["kultur"]
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.waitUntil(lambda: win.cancel_button.isVisible(), timeout=5000)
    running = win.exact.future
    QTest.mouseClick(win.cancel_button, Qt.LeftButton)
    assert not win.exact.busy and not win.cancel_button.isVisible()
    assert win.statusBar().currentMessage() == "Det exakta resultatet avbröts; förhandsvisningen visas"
    assert win.mode == "preview" and win.source is win.original
    assert running.result(timeout=120) == (None, None)  # the engine saw the cancel and stopped


def test_bad_files_give_one_line_and_no_window(qtbot, main, monkeypatch, tmp_path):
    from skikt.app.national_window import NationalWindow

    text = tmp_path / "broken.tif"
    text.write_text("not a raster")
    before = len([w for w in QApplication.topLevelWidgets() if isinstance(w, NationalWindow) and w.isVisible()])
    for path in (text, tmp_path / "missing.tif"):
        assert open_through_menu(qtbot, main, monkeypatch, path) is None
        assert main.last_error.startswith(path.name + ": ") and "\n" not in main.last_error
    after = len([w for w in QApplication.topLevelWidgets() if isinstance(w, NationalWindow) and w.isVisible()])
    assert after == before and main.national_windows == []


def test_weights_from_the_files_tags_when_no_project_is_found(qtbot, cog, tmp_path):
    import json

    import rasterio

    from skikt.app.i18n import set_language
    from skikt.app.national_window import open_national_window

    set_language("sv", remember=False)
    alone = tmp_path / "tagged.tif"
    shutil.copy(cog, alone)
    with rasterio.open(alone) as ds:
        ids = [d[: -len("_norm")] for d in ds.descriptions if d.endswith("_norm")]
    weights = {lid: 0.5 + i for i, lid in enumerate(ids)}
    with rasterio.open(alone, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as ds:
        ds.update_tags(SKIKT_WEIGHTS=json.dumps(weights), SKIKT_PROJECT="nowhere.toml")
    win = open_national_window(alone)
    qtbot.addWidget(win)
    assert win.project is None
    assert win.weights() == weights
    assert win.weights_note.text() == "Vikter ur filen; projektet är okänt"


def test_a_window_deleted_without_closing_stops_its_national_run(qtbot, main, monkeypatch, cog):
    """Qt deletes the national window with its main window (closed, or rebuilt for another
    language) without a closeEvent: the background run must stop and its files go."""
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    win._exact_timer.setInterval(0)
    slider = win.sliders["besoksmal"]
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.waitUntil(lambda: win.exact.busy, timeout=5000)
    running, tmp = win.exact.future, win._tmp
    main.national_windows.remove(win)
    win.deleteLater()
    qtbot.waitUntil(lambda: not tmp.exists(), timeout=10000)
    assert running.result(timeout=120)[0] is None  # stopped (cancelled, or its folder gone): no result


def test_a_national_window_stays_open_when_the_main_window_switches_language(qtbot, main, monkeypatch, cog):
    win = open_through_menu(qtbot, main, monkeypatch, cog)
    english = next(a for a in main.findChildren(QAction) if a.objectName() == "lang_en")
    english.trigger()
    new = main._replaced_by
    qtbot.addWidget(new)
    qtbot.waitUntil(lambda: not main.isVisible())
    assert win in new.national_windows and win.isVisible() and win.parent() is new
    from skikt.app.i18n import set_language

    set_language("sv", remember=False)


def test_a_moved_file_keeps_the_weights_it_was_made_with(qtbot, cog, tmp_path):
    """Copied away from its project, the COG's own tags still give the weights it was scored with."""
    import tomllib

    from skikt.app.i18n import set_language
    from skikt.app.national_window import open_national_window

    set_language("sv", remember=False)
    moved = tmp_path / "moved.tif"
    shutil.copy(cog, moved)
    win = open_national_window(moved)
    qtbot.addWidget(win)
    win.show()
    with open(cog.parent / "sample_project.toml", "rb") as f:
        doc = tomllib.load(f)  # the project file itself, not Skikt's reader
    expected = {lay["id"]: float(lay["indicator"].get("weight", 1.0)) for lay in doc["layers"]
                if "indicator" in lay and lay.get("role") != "exclude"}
    assert win.project is None and win.weights_note.text() == "Vikter ur filen; projektet är okänt"
    assert {k: v for k, v in win.weights().items()} == {k: expected[k] for k in win.weights()}
