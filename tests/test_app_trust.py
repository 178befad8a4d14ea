"""The app tells the truth and survives: numbers as the data holds them, the cursor in the project's
CRS, a model owned by one thread, the sample kept as a template, bad projects as one line.

Every GUI test drives the real window with real mouse and key events (QTest), and checks against
independent oracles: hand-written strings, pyproj, numpy/scipy formulas, the pixels on screen.
"""

from __future__ import annotations

import re
import textwrap
import threading

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.colors import to_rgb
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

pytest.importorskip("pytestqt")


# ------------------------------------------------------------------------------------------------
# helpers


def widget_pos(canvas, x: float, y: float) -> QPoint:
    """The widget pixel under map point (x, y) (matplotlib counts display pixels from below)."""
    px, py = canvas.ax.transData.transform((x, y))
    dpr = canvas.device_pixel_ratio
    return QPoint(int(round(px / dpr)), int(round(canvas.height() - py / dpr)))


def map_point(canvas, pos: QPoint) -> tuple[float, float]:
    """The map point matplotlib reports for a mouse event at widget pixel ``pos``."""
    dpr = canvas.device_pixel_ratio
    return tuple(canvas.ax.transData.inverted().transform((pos.x() * dpr, canvas.figure.bbox.height - pos.y() * dpr)))


def screen_rgb(canvas) -> np.ndarray:
    """What the canvas shows now (paintEvent draws anything pending first), rows top first."""
    img = canvas.grab().toImage().convertToFormat(QImage.Format_RGBA8888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)
    return arr[:, : img.width(), :3].astype(float)


def open_window(qtbot, project_path, size=(1300, 850)):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    model.set_project_sync(project_path)
    win.canvas.redraw()
    return win


def activate(qtbot, win):
    """Make the window the active one, as a user's click would: shortcuts only reach it then.
    (Loading rebuilds docks; the offscreen platform drops activation while their old widgets
    are deleted, so let that settle first.)"""
    qtbot.wait(100)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)


def write_squares(folder, crs: str, origin: tuple[float, float], values: list[float], size: float = 5000.0):
    """A row of square areas with codes 01, 02, … and a value column 'andel'."""
    x0, y0 = origin
    geoms = [shapely.box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size) for i in range(len(values))]
    gdf = gpd.GeoDataFrame({"code": [f"{i + 1:02d}" for i in range(len(values))], "andel": values},
                           geometry=geoms, crs=crs)
    gdf.to_file(folder / "rutor.gpkg", layer="rutor")
    return gdf


def areas_project(folder, crs: str, origin, values, extra: str = "") -> object:
    write_squares(folder, crs, origin, values)
    text = textwrap.dedent(f"""\
        schema_version = 1
        [project]
        title = "Rutor"
        crs = "{crs}"

        [[layers]]
        id = "rutor"
        path = "rutor.gpkg"
        layer = "rutor"
        sector = "socioeconomics"
        title = "Arbetslöshet"
        [layers.indicator]
        method = "attribute"
        column = "andel"
        weight = 1
        """) + extra + textwrap.dedent("""
        [units]
        kind = "areas"
        layer = "rutor"
        id = "code"
        """)
    path = folder / "rutor.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------
# issue 7 item 4: numbers as the data holds them


@pytest.mark.parametrize("value, shown", [
    (10.6, "10.6"),                     # was "11"
    (10.600000000000001, "10.6"),       # float noise from an area-weighted mean
    (np.float32(10.6), "10.6"),
    (123.456, "123.5"),
    (99.99, "99.99"),
    (99.999, "100"),
    (9876.54, "9877"),
    (0.5, "0.5"),
    (0.01234, "0.01234"),
    (0.1 + 0.2, "0.3"),
    (-2.5, "-2.5"),
    (3, "3"),
    (2.0, "2"),
    (0, "0"),
    (-0.0, "0"),
    (4096.0, "4096"),
    (12345.678, "12\u202f346"),
    (-12345.0, "-12\u202f345"),
    (1_000_000, "1\u202f000\u202f000"),
    (float("nan"), "–"),
    (float("inf"), "–"),
])
def test_fmt_number_shows_what_the_data_holds(value, shown):
    from skikt.layers.style import fmt_number

    assert fmt_number(value) == shown


def test_info_panel_reads_10_6_after_a_click_on_the_unit(qtbot, tmp_path):
    path = areas_project(tmp_path, "EPSG:3006", (650_000, 6_580_000), [10.6, 3.25, 12345.678, 7.0])
    win = open_window(qtbot, path)
    canvas = win.canvas
    pos = widget_pos(canvas, 652_500, 6_582_500)  # the middle of the first square (10.6)
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, pos)
    qtbot.waitUntil(lambda: win.model.selected is not None, timeout=5000)
    assert win.model.ws.units.ids[win.model.selected] == "01"
    text = win.info_panel.text.toPlainText()
    assert "10.6" in text and "11" not in text.replace("10.6", "")
    # The third square, in the thousands: thin-space groups, the decimals rounded away.
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(canvas, 662_500, 6_582_500))
    qtbot.waitUntil(lambda: win.model.ws.units.ids[win.model.selected] == "03", timeout=5000)
    assert re.search(r"\b12\s346\b", win.info_panel.text.toPlainText())  # plain text turns the thin space to " "


# ------------------------------------------------------------------------------------------------
# issue 7 item 5: the cursor in the project's CRS


def test_status_bar_converts_from_the_project_crs(qtbot, tmp_path):
    from pyproj import Transformer

    # RT90 2.5 gon V: Stockholm lies near E 1 628 000, N 6 581 000 (SWEREF 99 TM would put these
    # numbers in the Baltic, 80 km off).
    path = areas_project(tmp_path, "EPSG:3021", (1_620_000, 6_575_000), [1.0, 2.0, 3.0])
    win = open_window(qtbot, path)
    canvas = win.canvas
    oracle = Transformer.from_crs("EPSG:3021", "EPSG:4326", always_xy=True)
    for mx, my in [(1_622_000, 6_577_000), (1_633_000, 6_579_500)]:
        pos = widget_pos(canvas, mx, my)
        # Through the window, as the platform delivers a move (QTest.mouseMove on a widget only
        # moves the cursor offscreen).
        QTest.mouseMove(win.windowHandle(), canvas.mapTo(win, pos))
        qtbot.waitUntil(lambda: "WGS 84" in win.coords.text(), timeout=5000)
        x, y = map_point(canvas, pos)
        lon, lat = oracle.transform(x, y)
        text = win.coords.text()
        assert text.startswith("RT90 2.5 gon V")
        shown = [float(v) for v in re.findall(r"(\d+\.\d{5})°", text)]
        assert shown == pytest.approx([lat, lon], abs=2e-5)
        e, n = (float(v.replace("\u202f", "")) for v in re.findall(r"[EN] ([\d\u202f]+)", text))
        assert (e, n) == pytest.approx((x, y), abs=1.0)
        assert 59.2 < lat < 59.5 and 17.9 < lon < 18.3  # Stockholm, not the sea off it


# ------------------------------------------------------------------------------------------------
# issue 7 item 12: the bundled sample is a template


def test_first_ctrl_s_of_the_sample_asks_where_and_leaves_it_untouched(qtbot, sample_copy, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    import skikt.app.main as app_main
    from skikt.layers.project import read_project

    # The copied sample folder plays the installed one: the real file is never put at risk.
    monkeypatch.setattr(app_main, "SAMPLE_DIR", sample_copy.parent)
    before = sample_copy.read_bytes()
    win = open_window(qtbot, sample_copy)
    own = tmp_path / "mina" / "projekt.toml"
    own.parent.mkdir()
    asked = []
    # First the user picks a name inside the sample folder (refused), then a folder of their own.
    answers = [sample_copy.parent / "kopia.toml", own]

    def save_dialog(parent, caption, suggestion, filters):
        asked.append(caption)
        return str(answers.pop(0)), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    activate(qtbot, win)
    # Through the window, so Qt's shortcut map sees the key as it does a real key press.
    QTest.keyClick(win.windowHandle(), Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    assert win.last_error == "Exempelprojektet är en mall – spara en egen kopia"
    assert not (sample_copy.parent / "kopia.toml").exists()
    activate(qtbot, win)  # the message box took the focus
    QTest.keyClick(win.windowHandle(), Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: own.exists(), timeout=5000)
    assert asked == ["Exempelprojektet är en mall – spara en egen kopia"] * 2
    assert sample_copy.read_bytes() == before
    saved = read_project(own)
    assert saved.path == own.resolve()
    for spec in saved.layers:  # re-anchored: every layer still points at its data
        assert saved.resolve(spec.path).exists(), spec.path
    # Now it is the user's own project: Ctrl+S saves there without asking.
    own.write_bytes(b"")
    QTest.keyClick(win.windowHandle(), Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: own.stat().st_size > 0, timeout=5000)
    assert len(asked) == 2 and sample_copy.read_bytes() == before


# ------------------------------------------------------------------------------------------------
# issue 7 item 8: one thread owns the model


def grid_project(folder) -> object:
    """A 24 × 14 km study area on a 1 km grid, two point layers counted per cell; only the
    priority map is drawn, so the screen can be checked cell by cell."""
    rng = np.random.default_rng(7)
    area = shapely.box(600_000, 6_500_000, 624_000, 6_514_000)
    gpd.GeoDataFrame({"code": ["01"]}, geometry=[area], crs=3006).to_file(folder / "omrade.gpkg", layer="omrade")
    for name, n in (("skolor", 120), ("butiker", 90)):
        xy = np.column_stack([rng.uniform(600_000, 624_000, n), rng.uniform(6_500_000, 6_514_000, n)])
        gpd.GeoDataFrame({"n": np.arange(n)}, geometry=shapely.points(xy), crs=3006).to_file(folder / f"{name}.gpkg")
    text = textwrap.dedent("""\
        schema_version = 1
        [project]
        title = "Rutnät"
        crs = "EPSG:3006"

        [[layers]]
        id = "omrade"
        path = "omrade.gpkg"
        sector = "reference"
        title = "Område"
        visible = false

        [[layers]]
        id = "skolor"
        path = "skolor.gpkg"
        sector = "skills"
        title = "Skolor"
        visible = false
        [layers.indicator]
        method = "count"
        weight = 1

        [[layers]]
        id = "butiker"
        path = "butiker.gpkg"
        sector = "tourism"
        title = "Butiker"
        visible = false
        [layers.indicator]
        method = "count"
        weight = 1

        [units]
        kind = "grid"
        cell_size = 1000
        study_area = { layer = "omrade" }
        """)
    path = folder / "rutnat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def oracle_classes(score: np.ndarray, k: int) -> np.ndarray:
    """README: class = 1 + ⌊(rank − 1)·k / n⌋, rank 1 = highest score, ties share the best rank."""
    from scipy.stats import rankdata

    cls = np.zeros(len(score), int)
    ok = ~np.isnan(score)
    rank = rankdata(-score[ok], method="min")
    cls[ok] = 1 + ((rank - 1) * k) // ok.sum()
    return cls


def assert_screen_shows(win, rgb=None):
    """Every cell centre well inside the canvas shows its class colour from the live model."""
    from skikt.layers.render import priority_colours

    ws, canvas = win.model.ws, win.canvas
    c = ws.composite
    assert len(c.score) == ws.units.n  # scores and units belong together
    rgb = screen_rgb(canvas) if rgb is None else rgb
    colours = np.array([to_rgb(col) for col in priority_colours(c.k)])
    paper = np.array(to_rgb(canvas.ax.get_facecolor()))
    checked = 0
    for i, (x, y) in enumerate(ws.units.centres):
        pos = widget_pos(canvas, x, y)
        if not (0.15 * canvas.width() < pos.x() < 0.85 * canvas.width()
                and 0.15 * canvas.height() < pos.y() < 0.85 * canvas.height()):
            continue  # scale bar, north arrow and the edges
        want = 255 * (0.9 * colours[c.cls[i] - 1] + 0.1 * paper)
        got = rgb[pos.y(), pos.x()]
        assert np.abs(got - want).sum() < 12, (i, c.cls[i], got, want)
        checked += 1
    assert checked >= min(30, ws.units.n // 2)


def test_weight_moved_while_indicators_compute(qtbot, tmp_path, monkeypatch):
    import skikt.layers.indicators as indicators

    win = open_window(qtbot, grid_project(tmp_path))
    model = win.model
    units_before = model.ws.units
    assert units_before.n == 24 * 14
    assert_screen_shows(win)

    # A slow indicator, deterministically: the worker waits inside compute() until released.
    entered, release = threading.Event(), threading.Event()
    real_compute = indicators.compute

    def slow_compute(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            entered.set()
            release.wait(timeout=60)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(indicators, "compute", slow_compute)
    try:
        # A data change: a 2 km grid. The worker builds new units, then computes the indicators.
        model.project.units.cell_size = 2000
        model.data_changed.emit()
        model.recompute()
        qtbot.waitUntil(entered.is_set, timeout=30000)
        assert model.worker.busy
        # The live model is untouched while the worker runs: the GUI still shows the 1 km map.
        assert model.ws.units is units_before

        # Move the "butiker" weight from 1 to 3 with two real Page Up presses on its slider.
        slider = win.weights_panel.rows["butiker"].slider
        slider.setFocus()
        for _ in range(2):
            with qtbot.waitSignal(model.composite_changed, timeout=5000):
                QTest.keyClick(slider, Qt.Key_PageUp)
        assert model.project.layer("butiker").indicator.weight == 3.0
        assert model.ws.units is units_before and model.worker.busy
        assert_screen_shows(win)  # the map follows the slider on the old units
    finally:
        release.set()
    qtbot.waitUntil(lambda: not model.worker.busy, timeout=60000)
    qtbot.wait(50)

    ws = model.ws
    assert ws.units.n == 12 * 7  # the 2 km grid arrived
    assert win.weights_panel.rows["butiker"].slider is slider  # not rebuilt under the user's hand
    assert slider.value() == 30
    assert win.last_error is None
    ids = ws.normalised.layer_ids
    w = np.array([{"skolor": 1.0, "butiker": 3.0}[i] for i in ids])
    np.testing.assert_allclose(ws.composite.weights, w)  # the weight moved meanwhile was kept
    norm = ws.normalised.norm.astype(float)
    np.testing.assert_allclose(ws.composite.score, (w[:, None] * norm).sum(0) / w.sum(), atol=1e-5)
    np.testing.assert_array_equal(ws.composite.cls, oracle_classes(ws.composite.score.astype(float), ws.composite.k))
    # And the counts behind it are right: the independent oracle is a geopandas spatial join.
    pts = gpd.read_file(tmp_path / "butiker.gpkg")
    cells = gpd.GeoDataFrame(geometry=ws.units.grid.boxes(ws.units.flat), crs=3006)
    counts = gpd.sjoin(pts, cells, predicate="within").groupby("index_right").size()
    raw = ws._raw["butiker"][1].values
    assert raw.sum() == counts.sum() == 90
    assert_screen_shows(win)


def test_data_change_while_computing_newest_wins(qtbot, tmp_path, monkeypatch):
    """A direction flipped (real click) while another job computes: the newest settings win."""
    import skikt.layers.indicators as indicators

    win = open_window(qtbot, grid_project(tmp_path))
    model = win.model
    entered, release = threading.Event(), threading.Event()
    real_compute = indicators.compute

    def slow_compute(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread() and not release.is_set():
            entered.set()
            release.wait(timeout=60)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(indicators, "compute", slow_compute)
    try:
        model.project.units.cell_size = 2000
        model.recompute()
        qtbot.waitUntil(entered.is_set, timeout=30000)
        button = win.weights_panel.rows["skolor"].direction
        QTest.mouseClick(button, Qt.LeftButton)
        assert model.project.layer("skolor").indicator.direction == "low"
    finally:
        release.set()
    qtbot.waitUntil(lambda: not model.worker.busy and model.ws.units.n == 84, timeout=60000)
    ws = model.ws
    j = ws.normalised.layer_ids.index("skolor")
    raw = ws._raw["skolor"][1].values.astype(float)
    lo, hi = raw.min(), raw.max()
    np.testing.assert_allclose(ws.normalised.norm[j], (hi - raw) / (hi - lo), atol=1e-6)  # low = priority
    assert_screen_shows(win)


def test_a_late_result_of_the_old_project_is_not_adopted(qtbot, tmp_path, monkeypatch):
    """The old job finishes after another project was opened: its result is dropped."""
    from skikt.layers.workspace import Workspace

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    win = open_window(qtbot, grid_project(first))
    other = grid_project(second)
    other.write_text(other.read_text(encoding="utf-8").replace("cell_size = 1000", "cell_size = 3000")
                     .replace('"Rutnät"', '"Andra"'), encoding="utf-8")
    model = win.model
    entered, release = threading.Event(), threading.Event()
    real_recombine = Workspace.recombine

    def slow_recombine(ws, *args, **kwargs):
        # Past the last cancel check: this job will finish, not be cancelled.
        if threading.current_thread() is not threading.main_thread() and not release.is_set():
            entered.set()
            release.wait(timeout=60)
        return real_recombine(ws, *args, **kwargs)

    monkeypatch.setattr(Workspace, "recombine", slow_recombine)
    model.project.units.cell_size = 2000
    model.recompute()
    qtbot.waitUntil(entered.is_set, timeout=30000)
    threading.Timer(0.3, release.set).start()  # the old job ends while the new project opens
    model.set_project_sync(other)
    qtbot.wait(200)  # deliver the old job's queued signals
    assert model.project.title == "Andra"
    # The 3 km grid of the new project (cell centres at N 6 502 500 … 6 511 500 inside), not the old 2 km one.
    assert model.ws.units.n == 8 * 4
    assert len(model.ws.composite.score) == model.ws.units.n
    assert_screen_shows(win)


# ------------------------------------------------------------------------------------------------
# issue 8 item 5: the app survives every bad project


def start(qtbot, path):
    """``skikt open PATH`` as main.run does it: the model opens the file, then the window."""
    from skikt.app.i18n import set_language
    from skikt.app.main import start_window
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = start_window(model, path)
    win.confirm_close = False
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not model.worker.busy, timeout=60000)
    qtbot.wait(50)
    return win


def bad_sample(sample_copy, old: str, new: str):
    text = sample_copy.read_text(encoding="utf-8")
    assert old in text
    sample_copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return sample_copy


def errors_shown(win) -> list[str]:
    from PySide6.QtWidgets import QMessageBox

    return [box.text() for box in win.findChildren(QMessageBox) if box.isVisible()]


def test_where_5_shows_one_line_and_the_rest_loads(qtbot, sample_copy):
    path = bad_sample(sample_copy, "where = \"lan_code = '01'\"", "where = 5")
    win = start(qtbot, path)
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=10000)
    shown = errors_shown(win)
    assert shown and all("\n" not in m for m in shown)
    assert any(m.startswith("sample_project.toml:") and "where" in m for m in shown), shown
    ws = win.model.ws
    assert "tatorter" not in ws.layers  # the bad layer is left out …
    assert {"lan", "kommuner", "vard"} <= set(ws.layers) and ws.composite is not None  # … the rest loads
    assert win.canvas.scene._priority is not None


def test_opacity_5_is_one_line_not_a_blank_map(qtbot, sample_copy):
    path = bad_sample(sample_copy, 'title = "Vårdcentraler', 'opacity = 5\ntitle = "Vårdcentraler')
    win = start(qtbot, path)
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=10000)
    assert "opacity" in win.last_error and "\n" not in win.last_error
    assert win.statusBar().currentMessage() != "Klar"
    # Every other overlay is drawn: the layers' artists exist and are visible.
    art = win.canvas.scene._layer_art
    visible = [s.id for s in win.model.project.layers if s.visible and s.id in win.model.ws.layers]
    assert len(visible) >= 5 and all(art[i][1] is None or art[i][1].get_visible() for i in visible if i in art)
    assert all(0 <= s.opacity <= 1 for s in win.model.project.layers)


def test_empty_study_area_is_one_line_and_the_app_lives(qtbot, sample_copy):
    import fiona  # noqa: F401 - pyogrio writes, fiona only proves the layer is empty

    gpd.GeoDataFrame({"code": []}, geometry=[], crs=3006).to_file(sample_copy.parent / "tomt.gpkg", layer="tomt")
    text = sample_copy.read_text(encoding="utf-8")
    text = text.replace('[units]', '[[layers]]\nid = "tomt"\npath = "tomt.gpkg"\nsector = "reference"\n'
                                   'title = "Tomt"\n\n[units]', 1)
    text = re.sub(r"study_area = \{[^}]*\}", 'study_area = { layer = "tomt" }', text)
    sample_copy.write_text(text, encoding="utf-8")
    win = start(qtbot, sample_copy)
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=10000)
    assert "\n" not in win.last_error and "zero-size" not in win.last_error
    assert "Error" not in win.last_error  # a clean message, not a Python exception's name
    ws = win.model.ws
    assert {"lan", "kommuner"} <= set(ws.layers)  # the layers still load and are drawn
    assert win.canvas.scene._layer_art
    # … and the app keeps working: a weight slider still answers.
    slider = win.weights_panel.rows["vard"].slider
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    assert win.model.project.layer("vard").indicator.weight == 4.0


def test_all_weights_zero_says_so_on_map_legend_and_status_bar(qtbot, sample_copy):
    win = open_window(qtbot, sample_copy)
    model = win.model
    for row in win.weights_panel.rows.values():
        row.slider.setFocus()
        QTest.keyClick(row.slider, Qt.Key_Home)  # real key: the slider to zero
    qtbot.waitUntil(lambda: model.no_map_reason != "", timeout=5000)
    assert all(s.indicator.weight == 0 for s in model.project.indicator_layers())
    message = "Alla vikter är noll – ingen prioriteringskarta"
    assert model.no_map_reason == message
    assert win.statusBar().currentMessage() == message
    from PySide6.QtWidgets import QLabel

    note = win.legend_panel.findChild(QLabel, "no_map")
    assert note is not None and message in note.text()
    assert "Prioriteringskarta" not in win.legend_panel.titles()  # no priority legend for a blank map
    win.canvas.redraw()
    texts = [t.get_text() for t in win.canvas.ax.texts]
    assert any(message == t for t in texts)  # the map itself says it
    # One weight back: the map returns and the note goes.
    slider = win.weights_panel.rows["vard"].slider
    with qtbot.waitSignal(model.composite_changed, timeout=5000):
        QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.waitUntil(lambda: model.no_map_reason == "", timeout=5000)
    assert win.legend_panel.findChild(QLabel, "no_map") is None
    assert "Prioriteringskarta" in win.legend_panel.titles()


@pytest.mark.qt_no_exception_capture
def test_an_unexpected_exception_in_a_slot_is_one_line(qtbot, sample_copy, monkeypatch, capsys):
    import sys

    from skikt.app.main import install_excepthook

    win = open_window(qtbot, sample_copy)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook(win.model)

    def broken(*_):
        raise RuntimeError("identify broke\nwith a second line")

    monkeypatch.setattr(win.info_panel, "identify", broken)
    x, y = win.model.ws.units.centres[0]
    QTest.mouseClick(win.canvas, Qt.LeftButton, Qt.NoModifier, widget_pos(win.canvas, x, y))
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=5000)
    assert win.last_error == "Oväntat fel (detaljer i terminalen): RuntimeError: identify broke with a second line"
    assert "Traceback" in capsys.readouterr().err
    # Still alive: a weight moves the map.
    slider = win.weights_panel.rows["kultur"].slider
    slider.setFocus()
    with qtbot.waitSignal(win.model.composite_changed, timeout=5000):
        QTest.keyClick(slider, Qt.Key_PageUp)


def test_a_bug_in_the_worker_is_one_line(qtbot, sample_copy, monkeypatch):
    import skikt.layers.indicators as indicators

    win = open_window(qtbot, sample_copy)
    model = win.model

    def broken(*_args, **_kw):
        raise ValueError("zero-size array to reduction operation minimum which has no identity")

    monkeypatch.setattr(indicators, "compute", broken)
    model.project.layer("vard").indicator.method = "count"
    with qtbot.waitSignal(model.computed, timeout=30000):
        model.recompute()
    assert win.last_error is not None and "\n" not in win.last_error
    assert model.ws.composite is not None and len(model.ws.composite.score) == model.ws.units.n
