"""The workshop in the app (issue 11, items 4 and 6): the Grupper dock, consensus, disagreement,
the short list, the memo from the menu and the meeting's decision log.

Real key presses and mouse clicks on the real window. Oracles: the group weights typed here or
parsed with tomlkit from the saved file, scores recomputed with numpy (Σ wᵢ nᵢ / Σ wᵢ over the
indicators a unit has), percentile ranks with scipy.stats.rankdata, the short list as a set
intersection, the PDF's text from poppler's pdftotext.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import tomlkit
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from scipy.stats import rankdata

from conftest import open_sample_window
from skikt.app.panels.groups_panel import COL_NAME, COL_SUM, FIRST_POINTS

pytest.importorskip("pytestqt")

COLUMNS = ["vard", "transport", "kompetens", "kultur", "besoksmal", "vattenskydd", "skyddsrum", "socio"]
# Three groups' points as a facilitator types them from printed forms; the second sums to 90.
TYPED = {
    "kommunerna": [30, 10, 20, 0, 0, 15, 15, 10],
    "regionen": [50, 0, 0, 10, 10, 0, 0, 20],
    "lansstyrelsen": [0, 40, 0, 0, 0, 30, 30, 0],
}
GROUP_COMMENT = "# kept: a comment the facilitator wrote by hand"


@pytest.fixture
def window(qtbot, sample_copy):
    text = sample_copy.read_text(encoding="utf-8")
    # A hand-written comment inside the first [[groups]] table, which saving must keep.
    text = text.replace('id = "kommunerna"', f'{GROUP_COMMENT}\nid = "kommunerna"', 1)
    sample_copy.write_text(text, encoding="utf-8")
    win = open_sample_window(qtbot, sample_copy)
    win.docks["gw_groups"].raise_()
    qtbot.waitExposed(win)
    return win


def toml_groups(path) -> dict[str, dict[str, float]]:
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    return {str(g["id"]): {str(k): float(v) for k, v in g["weights"].items()} for g in doc["groups"]}


def numpy_scores(norm: np.ndarray, w: np.ndarray) -> np.ndarray:
    ok = np.isfinite(norm)
    num = np.where(ok, norm * w[:, None], 0).sum(0)
    den = np.where(ok, w[:, None] * np.ones_like(norm), 0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def normalised_vectors(ws, groups: dict[str, dict[str, float]]) -> np.ndarray:
    ids = list(ws.normalised.layer_ids)
    rows = [np.array([g.get(i, 0.0) for i in ids], float) for g in groups.values()]
    return np.array([r / r.sum() for r in rows])


def percentile(score: np.ndarray) -> np.ndarray:
    out = np.full(score.shape, np.nan)
    ok = np.isfinite(score)
    n = ok.sum()
    out[ok] = (n - rankdata(-score[ok], method="average")) / (n - 1)
    return out


def focus(win, qtbot):
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=2000)


def type_into_focus(qtbot, text: str, key=Qt.Key_Tab):
    for char in text:  # the first key opens the editor; the rest go to it
        QTest.keyClicks(QApplication.focusWidget(), char)
    QTest.keyClick(QApplication.focusWidget(), key)
    qtbot.wait(5)  # the next cell opens on the next event-loop turn


def click_cell(win, qtbot, row: int, col: int):
    table = win.groups_panel.table
    rect = table.visualRect(table.model().index(row, col))
    table.scrollTo(table.model().index(row, col))
    rect = table.visualRect(table.model().index(row, col))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())


def type_all_groups(win, qtbot):
    """Click the first points cell, then type every group's row: Tab through the points; Tab from
    a row's last points cell opens the next row's first points cell (never its name)."""
    focus(win, qtbot)
    click_cell(win, qtbot, 0, FIRST_POINTS)
    for r, values in enumerate(TYPED.values()):
        for j, v in enumerate(values):
            last = r == len(TYPED) - 1 and j == len(values) - 1
            type_into_focus(qtbot, str(v), Qt.Key_Return if last else Qt.Key_Tab)


def expected_entries() -> dict[str, dict[str, float]]:
    return {gid: {lid: float(v) for lid, v in zip(COLUMNS, values) if v} for gid, values in TYPED.items()}


def test_typing_three_groups_with_tab_and_enter_edits_the_project_undoes_and_round_trips(window, qtbot, tmp_path):
    model, panel = window.model, window.groups_panel
    before = toml_groups(model.project.path)
    assert [panel.table.horizontalHeaderItem(j + FIRST_POINTS).toolTip() for j in range(len(COLUMNS))] == \
        [model.project.layer(lid).title for lid in COLUMNS]
    steps = model.undo.index()
    type_all_groups(window, qtbot)
    got = {e["id"]: {k: float(v) for k, v in e["weights"].items()} for e in model.project.extra["groups"]}
    assert got == expected_entries()
    # The row of 90 points is marked and the sentence says what happens to it.
    sum_item = panel.table.item(1, COL_SUM)
    assert sum_item.text() == "90" and sum_item.font().bold()
    assert "Regionen 90" in panel.note.text() and "andelar" in panel.note.text()
    # One undo step per changed cell; Ctrl+Z takes back the last one.
    changed_cells = sum(1 for gid, values in TYPED.items() for lid, v in zip(COLUMNS, values)
                        if float(v) != before[gid].get(lid, 0.0))
    assert model.undo.index() - steps == changed_cells
    focus(window, qtbot)
    window.groups_panel.table.setFocus()
    QTest.keyClick(window.groups_panel.table, Qt.Key_Z, Qt.ControlModifier)
    qtbot.wait(10)
    last = {e["id"]: e["weights"] for e in model.project.extra["groups"]}["lansstyrelsen"]
    assert float(last.get("skyddsrum", 0)) == before["lansstyrelsen"].get("skyddsrum", 0.0)
    while model.undo.index() > steps:
        model.undo.undo()
    assert {e["id"]: {k: float(v) for k, v in e["weights"].items()} for e in model.project.extra["groups"]} == before
    while model.undo.canRedo():
        model.undo.redo()
    out = model.save(tmp_path / "saved.toml")
    assert toml_groups(out) == expected_entries()
    assert GROUP_COMMENT in out.read_text(encoding="utf-8")
    from skikt.layers.groups import read_groups
    from skikt.layers.project import read_project

    reread = {g.id: g.weights for g in read_groups(read_project(out))}
    assert reread == expected_entries()


def test_bad_text_in_a_cell_is_refused_in_one_line_and_changes_nothing(window, qtbot):
    model, panel = window.model, window.groups_panel
    before, steps = toml_groups(model.project.path), model.undo.index()
    focus(window, qtbot)
    for text in ("tio", "120", "-5"):
        click_cell(window, qtbot, 0, FIRST_POINTS)
        type_into_focus(qtbot, text, Qt.Key_Return)
        message = panel.message.text()
        assert "\n" not in message and f'"{text}"' in message and "0–100" in message
        assert panel.table.item(0, FIRST_POINTS).text() == f"{before['kommunerna']['vard']:g}"
    assert model.undo.index() == steps
    click_cell(window, qtbot, 0, FIRST_POINTS)
    type_into_focus(qtbot, "12,5", Qt.Key_Return)  # a Swedish decimal comma is a number
    assert model.project.extra["groups"][0]["weights"]["vard"] == 12.5 and panel.message.text() == ""


def test_add_rename_recolour_remove_groups_are_undoable(window, qtbot):
    model, panel = window.model, window.groups_panel
    panel.ask_text = lambda *a: "Näringslivet"
    panel.ask_colour = lambda current: "#6A3D9A"
    qtbot.mouseClick(panel.add_button, Qt.LeftButton)
    entries = model.project.extra["groups"]
    assert entries[-1]["id"] == "naringslivet" and entries[-1]["name"] == "Näringslivet"
    assert sum(entries[-1]["weights"].values()) == 100  # a new row starts as 100 points, not zeros
    assert panel.table.rowCount() == 4
    click_cell(window, qtbot, 3, 0)  # the colour swatch
    assert model.project.extra["groups"][-1]["colour"] == "#6a3d9a"
    focus(window, qtbot)
    click_cell(window, qtbot, 3, COL_NAME)
    type_into_focus(qtbot, "Foretagen", Qt.Key_Return)  # QTest types ASCII only
    assert model.project.extra["groups"][-1]["name"] == "Foretagen"
    panel.table.setCurrentCell(3, FIRST_POINTS)
    qtbot.mouseClick(panel.remove_button, Qt.LeftButton)
    assert [e["id"] for e in model.project.extra["groups"]] == ["kommunerna", "regionen", "lansstyrelsen"]
    model.undo.undo()
    assert model.project.extra["groups"][-1]["name"] == "Foretagen" and panel.table.rowCount() == 4
    model.undo.undo()
    assert model.project.extra["groups"][-1]["name"] == "Näringslivet"
    assert panel.table.item(3, 1).text() == "Näringslivet"
    model.undo.undo()
    assert model.project.extra["groups"][-1]["colour"] == "#ff7f00"  # the new row's own colour
    model.undo.undo()
    assert len(model.project.extra["groups"]) == 3 and panel.table.rowCount() == 3


def test_consensus_applies_the_mean_of_the_normalised_vectors_as_live_weights(window, qtbot):
    model, ws = window.model, window.model.ws
    groups = toml_groups(model.project.path)
    mean = normalised_vectors(ws, groups).mean(axis=0)
    steps = model.undo.index()
    qtbot.mouseClick(window.groups_panel.consensus_button, Qt.LeftButton)
    qtbot.wait(20)
    live = np.array([model.project.layer(lid).indicator.weight for lid in ws.normalised.layer_ids])
    np.testing.assert_allclose(live / live.sum(), mean, atol=1e-12)
    np.testing.assert_allclose(ws.composite.score, numpy_scores(np.asarray(ws.normalised.norm, float), mean),
                               rtol=1e-5, atol=1e-6)
    # The weights panel follows (its share labels are the shares).
    shown = {lid: row.share.text() for lid, row in window.weights_panel.rows.items()}
    assert shown["vard"] == f"{mean[ws.normalised.layer_ids.index('vard')]:.0%}"
    assert model.undo.index() == steps + 1
    model.undo.undo()
    qtbot.wait(20)
    assert model.project.layer("vard").indicator.weight == 3.0


def test_disagreement_map_equals_rankdata_spread_and_follows_the_groups(window, qtbot):
    model, ws, panel = window.model, window.model.ws, window.groups_panel
    norm = np.asarray(ws.normalised.norm, float)

    def oracle(groups):
        """Scores in float64 with numpy must match the engine's (float32) group scores; the
        spread is then rankdata's on the engine's scores, so near-ties that float32 rounding
        orders differently do not count as errors. Against the pure float64 spread those
        near-ties may move a unit by one rank, 1/(n − 1), never more than two."""
        from skikt.app.workshop_ui import group_scores_for

        gs = group_scores_for(model)
        pcts, exact = [], []
        for v, comp in zip(normalised_vectors(ws, groups), gs.composites):
            mine = numpy_scores(norm, v)
            np.testing.assert_allclose(comp.score, mine, rtol=1e-5, atol=1e-6, equal_nan=True)
            pcts.append(percentile(np.asarray(comp.score, float)))
            exact.append(percentile(mine))
        pcts, exact = np.array(pcts), np.array(exact)
        spread = np.where(np.isnan(pcts).any(0), np.nan, pcts.max(0) - pcts.min(0))
        pure = np.where(np.isnan(exact).any(0), np.nan, exact.max(0) - exact.min(0))
        n = np.isfinite(pure).sum()
        assert np.nanmax(np.abs(spread - pure)) <= 2 / (n - 1) + 1e-12
        return spread

    groups = toml_groups(model.project.path)
    qtbot.mouseClick(panel.disagreement_button, Qt.LeftButton)
    um = window.canvas.scene.unit_map
    assert um.kind == "disagreement"
    np.testing.assert_allclose(um.values, oracle(groups), atol=1e-9, equal_nan=True)
    title, entries, _ = window.canvas.scene.legend_sections()[0]
    assert title == "Oenighet mellan grupperna"
    assert [e.label for e in entries][-1] == "Eniga (0–10 percentilenheter)"
    # A group edit updates the map at once.
    focus(window, qtbot)
    click_cell(window, qtbot, 2, FIRST_POINTS)
    type_into_focus(qtbot, "90", Qt.Key_Return)
    groups["lansstyrelsen"]["vard"] = 90.0
    before = window.canvas.scene.unit_map
    qtbot.waitUntil(lambda: window.canvas.scene.unit_map is not before, timeout=3000)  # once the typing pauses
    np.testing.assert_allclose(window.canvas.scene.unit_map.values, oracle(groups), atol=1e-9, equal_nan=True)
    # Toggling off gives the priority map back.
    qtbot.mouseClick(panel.disagreement_button, Qt.LeftButton)
    assert window.canvas.scene.unit_map is None
    # On again, then a weight change: the priority map comes back (the room sees what it moved).
    qtbot.mouseClick(panel.disagreement_button, Qt.LeftButton)
    assert window.canvas.scene.unit_map is not None
    slider = window.weights_panel.rows["vard"].slider
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.wait(20)
    assert window.canvas.scene.unit_map is None and not panel.disagreement_button.isChecked()


def test_short_list_is_the_intersection_of_top_classes_and_a_click_selects_and_centres(window, qtbot):
    model, ws, panel = window.model, window.model.ws, window.groups_panel
    norm = np.asarray(ws.normalised.norm, float)
    k = model.project.units.classes
    ids = np.asarray(ws.units.ids).astype(str)
    tops = []
    for v in normalised_vectors(ws, toml_groups(model.project.path)):
        score = numpy_scores(norm, v)
        ok = np.isfinite(score)
        n = ok.sum()
        min_rank = rankdata(-score[ok], method="min")
        tops.append(set(ids[ok][(min_rank - 1) * k < n]))  # class 1: 1 + floor((r − 1)k/n) == 1
    expected = set.intersection(*tops)
    qtbot.mouseClick(panel.short_button, Qt.LeftButton)
    tree = panel.short_list
    places = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    # One entry per municipality, "Norrtälje: 1 949 rutor", most first; together the whole list.
    # Oracle: geopandas puts each cell centre in the municipality containing it (first on a border).
    import geopandas as gpd

    kommuner = gpd.read_file(model.project.path.parent / "sweden_reference.gpkg", layer="kommuner")
    name_col = next(c for c in ("name", "namn", "kommunnamn") if c in kommuner.columns)
    picked = np.array(sorted(expected))
    position = {uid: i for i, uid in enumerate(ids)}
    centres = ws.units.centres[[position[u] for u in picked]]
    points = gpd.GeoDataFrame({"uid": picked}, geometry=gpd.points_from_xy(centres[:, 0], centres[:, 1]),
                              crs=kommuner.crs)
    joined = gpd.sjoin(points, kommuner[[name_col, "geometry"]], predicate="intersects", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    by_place: dict[str, set] = {}
    for uid, name in zip(joined["uid"], joined[name_col]):
        by_place.setdefault("" if not isinstance(name, str) else name, set()).add(uid)
    counts = sorted(((len(v), k) for k, v in by_place.items()), key=lambda c: (-c[0], c[1] == "", c[1]))
    assert [p.text(0) for p in places] == [f"{name or 'Utanför kommunerna'}: {n:,} rutor".replace(",", "\u202f")
                                           for n, name in counts]
    assert f"{len(expected):,}".replace(",", "\u202f") + " av" in panel.short_label.text()
    # Opening a municipality lists all its units (best consensus first); the union is the intersection.
    shown_ids = set()
    consensus = numpy_scores(norm, normalised_vectors(ws, toml_groups(model.project.path)).mean(axis=0))
    for place in places:
        tree.expandItem(place)
        children = [place.child(j) for j in range(place.childCount())]
        got = [int(c.data(0, Qt.UserRole)) for c in children]
        assert {ids[i] for i in got} == by_place[place.text(0).split(":")[0].replace("Utanför kommunerna", "")]
        assert all(consensus[a] >= consensus[b] - 1e-5 for a, b in zip(got, got[1:]))
        shown_ids |= {ids[i] for i in got}
    assert shown_ids == expected
    # A click on a municipality shows its listed units' bounds (whole cells), not one cell.
    first = places[0]
    members = [int(first.child(j).data(0, Qt.UserRole)) for j in range(first.childCount())]
    tree.collapseItem(first)
    tree.scrollToItem(first)
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=tree.visualItemRect(first).center())
    half = ws.units.grid.cell / 2
    xy = ws.units.centres[members]
    x0, x1 = window.canvas.ax.get_xlim()
    y0, y1 = window.canvas.ax.get_ylim()
    assert x0 <= xy[:, 0].min() - half and x1 >= xy[:, 0].max() + half
    assert y0 <= xy[:, 1].min() - half and y1 >= xy[:, 1].max() + half
    span = max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1])) + 2 * half
    assert max(x1 - x0, y1 - y0) <= 3 * span  # framed on them, not the whole county
    # A click on a unit selects it and centres the map on it.
    tree.expandItem(first)
    item = first.child(min(3, first.childCount() - 1))
    index = int(item.data(0, Qt.UserRole))
    assert item.text(0).startswith(first.text(0).split(":")[0]) or "," in item.text(0)  # named by place
    tree.scrollToItem(item)
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=tree.visualItemRect(item).center())
    assert model.selected == index
    x, y = ws.units.centres[index]
    x0, x1 = window.canvas.ax.get_xlim()
    y0, y1 = window.canvas.ax.get_ylim()
    assert abs((x0 + x1) / 2 - x) < 1 and abs((y0 + y1) / 2 - y) < 1
    assert ids[index] in window.info_panel.text.toPlainText() or "Norrtälje" in window.info_panel.text.toPlainText()


def test_memo_from_the_menu_holds_the_groups_and_the_vote_tally(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from skikt.app.workshop_store import store_for

    model = window.model
    store = store_for(model)
    assert store is not None, model.workshop_problem
    top = [str(u) for u in np.asarray(model.ws.units.ids)[np.argsort(-model.ws.composite.score)[:2]]]
    store.add_vote(top[0], "kommunerna", 3)
    store.add_vote(top[0], "regionen", 2)
    store.add_vote(top[1], "regionen", 1)
    out = tmp_path / "underlag.pdf"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (asked.append(a[2]), (str(out), "PDF (*.pdf)"))[1]))
    action = window.findChild(type(window.meeting_action), "gw_write_memo")
    assert action in window.workshop_menu.actions()
    action.trigger()
    assert asked == [str(model.project.path.parent / "prioriteringsunderlag.pdf")]  # beside the project
    qtbot.waitUntil(lambda: out.exists() and str(out) in window.statusBar().currentMessage(), timeout=60000)
    assert window.last_error is None
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext missing")  # the memo's text itself is checked in test_memo.py
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    for name in ("Kommunerna", "Regionen", "Länsstyrelsen", "Prioriteringsunderlag"):
        assert name in text
    rows = [line.split() for line in text.splitlines() if top[0] in line]
    assert any(r[-3:] == ["5", "3", "2"] or r[-4:-1] == ["5", "3", "2"] for r in rows), rows


def test_meeting_logs_a_settled_weight_change_a_scenario_switch_and_a_group_edit(window, qtbot):
    from skikt.app.workshop_store import close_store
    from skikt.layers.captures import WorkshopStore

    model = window.model
    action = window.meeting_action
    action.trigger()
    assert action.isChecked() and action.text() == "Avsluta möte"
    slider = window.weights_panel.rows["vard"].slider
    slider.setFocus()
    for _ in range(3):  # three key presses, one settled change
        QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.waitUntil(lambda: (model._workshop_store.decision_log()["kind"] == "weight_change").any(), timeout=5000)
    window.scenarios_panel.pick("Beredskap")
    focus(window, qtbot)
    click_cell(window, qtbot, 0, FIRST_POINTS)
    type_into_focus(qtbot, "45", Qt.Key_Return)
    action.trigger()
    assert not action.isChecked()
    path = model._workshop_store.path
    close_store(model)
    with WorkshopStore(path) as store:
        log = store.decision_log()
    kinds = list(log["kind"])
    assert kinds == ["note", "weight_change", "scenario_switch", "note", "note"], kinds
    change = log.iloc[1].details
    assert change == {"layer": "vard", "before": 3.0, "after": 6.0}
    assert log.iloc[2].details == {"from": "-", "to": "Beredskap"}  # "-": the project's weights, in any language
    assert log.iloc[3].details == {"what": "group", "group": "kommunerna", "layer": "vard", "before": 30.0,
                                   "after": 45.0}
    assert log.iloc[0].details == {"meeting": "start"} and log.iloc[4].details == {"meeting": "end"}


def test_meeting_and_disagreement_survive_a_language_switch(window, qtbot):
    window.meeting_action.trigger()
    qtbot.mouseClick(window.groups_panel.disagreement_button, Qt.LeftButton)
    window.switch_language("en")
    new = window._replaced_by
    qtbot.addWidget(new)
    try:
        assert new.meeting_action.isChecked() and new.meeting_action.text() == "End meeting"
        assert new.groups_panel.disagreement_button.isChecked()
        assert new.canvas.scene.unit_map.title == "Disagreement between the groups"
        assert new.docks["gw_groups"].windowTitle() == "Groups"
    finally:
        from skikt.app.i18n import set_language

        new.meeting_action.trigger()
        set_language("sv", remember=False)


def test_meeting_logs_presentation_mode_weights_and_view_steps(window, qtbot):
    from skikt.app.workshop_store import close_store
    from skikt.layers.captures import WorkshopStore

    model = window.model
    window.meeting_action.trigger()
    present = next(a for a in window.findChildren(type(window.meeting_action)) if a.text() == "Presentera")
    present.trigger()
    qtbot.waitUntil(lambda: getattr(window, "_presentation", None) is not None and model.meeting._pres is not None,
                    timeout=5000)
    pres = window._presentation
    first = list(pres.weights)[0]
    old = pres.weights[first]
    for key in (Qt.Key_1, Qt.Key_Plus, Qt.Key_Plus):  # select the first weight, two steps up
        QTest.keyClick(pres, key)
    qtbot.waitUntil(lambda: (model._workshop_store.decision_log()["kind"] == "weight_change").any(), timeout=5000)
    names = [v.name for v in pres.views]
    QTest.keyClick(pres, Qt.Key_PageDown)  # Länet → Vård: the scenario changes
    QTest.keyClick(pres, Qt.Key_PageDown)  # Vård → Behov sammanfaller: back to the project's weights
    QTest.keyClick(pres, Qt.Key_PageDown)  # → Jämför: Vård först
    QTest.keyClick(pres, Qt.Key_Escape)
    window.meeting_action.trigger()
    path = model._workshop_store.path
    close_store(model)
    with WorkshopStore(path) as store:
        log = store.decision_log()
    rows = list(zip(log["kind"], log["details"]))
    assert rows[1] == ("weight_change", {"layer": first, "before": old, "after": old + 2, "source": "presentation"})
    assert rows[2] == ("scenario_switch", {"from": "-", "to": "Vård först", "view": names[1],
                                           "source": "presentation"})
    assert rows[3] == ("scenario_switch", {"from": "Vård först", "to": "-", "view": names[2],
                                           "source": "presentation"})
    assert rows[4][0] == "scenario_switch" and rows[4][1]["view"] == names[3]
    assert rows[-1] == ("note", {"meeting": "end"}) and len(rows) == 6


def test_a_meeting_without_a_workshop_file_says_why_once_and_does_not_start(window, qtbot):
    from skikt.app.workshop_store import close_store
    from skikt.layers.captures import workshop_path

    model = window.model
    close_store(model)
    workshop_path(model.project).mkdir()  # a folder where the GeoPackage should be: it cannot open
    shown = []
    window.show_error = shown.append
    window.meeting_action.trigger()
    assert not window.meeting_action.isChecked() and not model.meeting.running
    assert len(shown) == 1 and "\n" not in shown[0] and shown[0] == model.workshop_problem
    assert window.meeting_action.text() == "Starta möte"


def test_opening_another_project_ends_the_meeting_and_unticks_the_action(window, qtbot, sample_copy):
    window.meeting_action.trigger()
    assert window.meeting_action.isChecked()
    window.model.set_project_sync(sample_copy)
    assert not window.model.meeting.running and not window.meeting_action.isChecked()
    assert window.meeting_action.text() == "Starta möte"


def test_a_project_without_groups_gets_its_first_group_from_the_dock(qtbot, sample_copy):
    doc = tomlkit.parse(sample_copy.read_text(encoding="utf-8"))
    doc.pop("groups")
    sample_copy.write_text(tomlkit.dumps(doc), encoding="utf-8")
    win = open_sample_window(qtbot, sample_copy)
    panel = win.groups_panel
    assert panel.table.rowCount() == 0 and not panel.consensus_button.isEnabled()
    assert panel.note.text().startswith("Inga grupper än")
    panel.ask_text = lambda *a: "Näringslivet"
    qtbot.mouseClick(panel.add_button, Qt.LeftButton)
    assert panel.table.rowCount() == 1 and panel.consensus_button.isEnabled()
    win.model.save()
    saved = tomlkit.parse(sample_copy.read_text(encoding="utf-8"))["groups"]
    assert [g["id"] for g in saved] == ["naringslivet"] and sum(saved[0]["weights"].values()) == 100


def test_a_slider_drag_is_one_entry_written_when_the_mouse_lets_go(window, qtbot):
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    model = window.model
    window.meeting_action.trigger()
    window.docks["weights"].raise_()
    slider = window.weights_panel.rows["vard"].slider
    qtbot.waitExposed(slider)
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.CC_Slider, option, QStyle.SC_SliderHandle, slider).center()
    QTest.mousePress(slider, Qt.LeftButton, Qt.NoModifier, handle)
    for dx in range(4, 44, 4):  # ten mouse moves to the right
        QTest.mouseMove(slider, handle + type(handle)(dx, 0))
    weight = model.project.layer("vard").indicator.weight
    assert weight > 3.0
    log = model._workshop_store.decision_log()
    assert not (log["kind"] == "weight_change").any()  # nothing while the mouse holds the handle
    QTest.mouseRelease(slider, Qt.LeftButton, Qt.NoModifier, handle + type(handle)(40, 0))
    log = model._workshop_store.decision_log()  # at once: no second of stillness waited for
    changes = log[log["kind"] == "weight_change"]
    assert len(changes) == 1 and changes.iloc[0].details == {"layer": "vard", "before": 3.0,
                                                             "after": round(weight, 3)}
    window.meeting_action.trigger()


def test_the_memo_bar_moves_per_page_and_cancel_leaves_no_file(window, qtbot, tmp_path, monkeypatch):
    """Mock workshop: the bar sat at 5 % and Cancel was only heard after every page was drawn.
    The memo's third page waits here until the Cancel button has been clicked (a real click), so
    the test knows Cancel came between pages; nothing may be written."""
    import threading

    from PySide6.QtWidgets import QFileDialog

    import skikt.layers.memo as memo

    clicked = threading.Event()
    draw_captures = memo._page_captures

    def waiting_captures(*args, **kwargs):
        clicked.wait(30)
        return draw_captures(*args, **kwargs)

    monkeypatch.setattr(memo, "_page_captures", waiting_captures)
    folder = tmp_path / "memo"
    folder.mkdir()
    out = folder / "underlag.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "PDF (*.pdf)")))
    fractions = []
    window.findChild(type(window.meeting_action), "gw_write_memo").trigger()
    worker = window.memo_worker
    worker.progress.connect(lambda f, _msg: fractions.append(f))
    qtbot.waitUntil(lambda: len(fractions) >= 2, timeout=60000)  # the start and page 1 built
    qtbot.waitUntil(lambda: window.cancel.isVisible() and window.cancel.isEnabled(), timeout=5000)
    with qtbot.waitSignal(worker.cancelled, timeout=60000):
        qtbot.mouseClick(window.cancel, Qt.LeftButton)
        clicked.set()
    assert not worker.busy
    assert fractions == sorted(fractions) and fractions[-1] < 0.6  # stopped while pages were built
    assert not out.exists() and [p.name for p in folder.iterdir()] == []

    # And without Cancel: a step per page built and per page written, up to the whole bar.
    fractions.clear()
    clicked.set()
    window.findChild(type(window.meeting_action), "gw_write_memo").trigger()
    qtbot.waitUntil(lambda: out.exists() and not worker.busy, timeout=120000)
    assert len(set(fractions)) >= 6 and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_the_legend_explains_the_disagreement_map_under_its_heading(window, qtbot):
    """UnitMap.note (what the shown per-unit map's values mean) sits right under its heading in
    the legend dock, and goes away with the map."""
    from PySide6.QtWidgets import QLabel

    legend, button = window.legend_panel, window.groups_panel.disagreement_button
    assert legend.findChild(QLabel, "unit_map_note") is None
    qtbot.mouseClick(button, Qt.LeftButton)
    qtbot.waitUntil(lambda: legend.findChild(QLabel, "unit_map_note") is not None, timeout=5000)
    note = legend.findChild(QLabel, "unit_map_note")
    assert note.text() == "Skillnad i percentilrang mellan 3 grupper (högsta − lägsta)"
    widgets = [legend.inner.itemAt(i).widget() for i in range(legend.inner.count())]
    heading = widgets[widgets.index(note) - 1]
    assert [w.text() for w in heading.findChildren(QLabel)] == ["<b>Oenighet mellan grupperna</b>"]
    qtbot.mouseClick(button, Qt.LeftButton)
    qtbot.waitUntil(lambda: legend.findChild(QLabel, "unit_map_note") is None, timeout=5000)


def _first_short_list_entry_rect(panel):
    tree = panel.short_list
    first = tree.topLevelItem(0)
    tree.expandItem(first)
    item = first.child(0)
    tree.scrollToItem(item)
    return tree.visualItemRect(item)


def test_at_1280x720_the_groups_dock_neither_overlaps_itself_nor_grows_the_window(window, qtbot):
    """Mock workshop at 1280×720 (shots 23–24): after Oenighet and Kortlista the note under the
    table was drawn over its third row, and a click on the first short-list entry made the main
    window taller than the screen. Here the window is given a 720-pixel screen's working height."""
    from PySide6.QtCore import QRect

    screen_height = 720 - 20  # the mock's screen less the window manager's title bar
    window.resize(1280, screen_height)
    qtbot.waitUntil(lambda: window.height() == screen_height, timeout=3000)
    panel = window.groups_panel
    window.docks["gw_groups"].raise_()
    qtbot.mouseClick(panel.disagreement_button, Qt.LeftButton)
    qtbot.mouseClick(panel.short_button, Qt.LeftButton)
    qtbot.wait(50)

    def in_panel(widget):
        return QRect(widget.mapTo(panel, widget.rect().topLeft()), widget.size())

    assert not in_panel(panel.table).intersects(in_panel(panel.note))
    qtbot.mouseClick(panel.short_list.viewport(), Qt.LeftButton, pos=_first_short_list_entry_rect(panel).center())
    qtbot.wait(50)
    assert window.model.selected is not None
    assert window.height() <= screen_height and window.minimumSizeHint().height() <= screen_height
    assert window.docks["gw_groups"].minimumSizeHint().height() < screen_height // 3
    assert not in_panel(panel.table).intersects(in_panel(panel.note))
    assert in_panel(panel.table).bottom() < in_panel(panel.note).top() < in_panel(panel.short_list).top()


def test_meeting_log_leaves_a_destroyed_undo_stack_alone_and_hides_no_real_error(qtbot, monkeypatch):
    """The model's undo stack clears itself while the model is destroyed (a test's teardown, a
    closed window): the meeting log must not touch the dead stack then, and must not swallow a
    RuntimeError raised while everything is alive."""
    import shiboken6
    from PySide6.QtGui import QUndoCommand

    from skikt.app import workshop_ui
    from skikt.app.model import AppModel

    model = AppModel()
    workshop_ui.meeting_log(model)
    seen = []

    def follow(self, index):
        seen.append(index)
        raise RuntimeError("a real bug in the log")

    monkeypatch.setattr(workshop_ui.MeetingLog, "_follow_undo", follow)
    with qtbot.captureExceptions() as alive:
        model.undo.push(QUndoCommand("x"))
    assert seen == [1] and [str(e[1]) for e in alive] == ["a real bug in the log"]
    with qtbot.captureExceptions() as dying:
        shiboken6.delete(model)
    assert seen == [1] and dying == []


def test_tab_from_a_rows_last_points_goes_to_the_next_rows_points_and_stops_after_the_last_row(window, qtbot):
    """Mock workshop (shots 18, 20): Tab after a row's last points opened the next row's NAME with
    its text selected, so the next number typed from the form renamed the group; after the last
    row it wrapped to row 1's name. Now: the next row's first points cell, and a stop at the end."""
    model, panel = window.model, window.groups_panel
    names = [e["name"] for e in model.project.extra["groups"]]
    last_col = FIRST_POINTS + len(COLUMNS) - 1
    focus(window, qtbot)
    click_cell(window, qtbot, 0, last_col)
    type_into_focus(qtbot, "7", Qt.Key_Tab)
    assert (panel.table.currentRow(), panel.table.currentColumn()) == (1, FIRST_POINTS)
    type_into_focus(qtbot, "45", Qt.Key_Return)  # what the form says for row 2's first indicator
    entries = model.project.extra["groups"]
    assert [e["name"] for e in entries] == names  # nobody renamed
    assert entries[0]["weights"][COLUMNS[-1]] == 7 and entries[1]["weights"][COLUMNS[0]] == 45
    assert (panel.table.currentRow(), panel.table.currentColumn()) == (1, FIRST_POINTS + 1)
    # Shift+Tab from a row's first points cell goes back to the row above's last, not to a name.
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Escape)
    click_cell(window, qtbot, 1, FIRST_POINTS)
    type_into_focus(qtbot, "44", Qt.Key_Backtab)
    assert (panel.table.currentRow(), panel.table.currentColumn()) == (0, last_col)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Escape)
    # The last row's last cell: Enter commits and stops there, no editor opens on row 1's name.
    click_cell(window, qtbot, 2, last_col)
    type_into_focus(qtbot, "12", Qt.Key_Return)
    assert model.project.extra["groups"][2]["weights"][COLUMNS[-1]] == 12
    assert (panel.table.currentRow(), panel.table.currentColumn()) == (2, last_col)
    assert panel.table.state() != panel.table.State.EditingState
    assert [e["name"] for e in model.project.extra["groups"]] == names


def test_the_groups_table_is_compact_with_the_sum_beside_the_name(window, qtbot):
    """Mock workshop: 2 of 8 indicator columns were visible in the dock, the sum far right. Now
    the sum is the column after the name, the headers are short (full titles as tooltips) and
    at the dock's width in a 1280-pixel window more indicator columns fit than before."""
    model, panel = window.model, window.groups_panel
    window.resize(1280, 700)
    window.docks["gw_groups"].raise_()
    qtbot.mouseClick(panel.short_button, Qt.LeftButton)  # the dock scrolls: its scroll bar takes width
    qtbot.wait(50)
    table, header = panel.table, panel.table.horizontalHeader()
    assert table.horizontalHeaderItem(COL_SUM).text() == "Summa"
    assert [table.item(r, COL_SUM).text() for r in range(3)] == ["100", "100", "100"]
    titles = [model.project.layer(lid).title for lid in COLUMNS]
    heads = [table.horizontalHeaderItem(FIRST_POINTS + j).text() for j in range(len(COLUMNS))]
    assert [table.horizontalHeaderItem(FIRST_POINTS + j).toolTip() for j in range(len(COLUMNS))] == titles
    for head, title in zip(heads, titles):  # a short head is the title's start, a cut word ends in "."
        assert len(head) <= 7 and "\n" not in head
        assert title.replace(",", "").startswith(head.rstrip("."))
    width = table.viewport().width()
    visible = [j for j in range(FIRST_POINTS, FIRST_POINTS + len(COLUMNS))
               if header.sectionViewportPosition(j) + header.sectionSize(j) <= width]
    assert COL_SUM not in visible and header.sectionViewportPosition(COL_SUM) + header.sectionSize(COL_SUM) <= width
    assert len(visible) >= 3, (width, [header.sectionSize(j) for j in range(table.columnCount())])


def test_after_konsensus_the_dock_says_the_map_is_the_consensus_until_a_weight_moves(window, qtbot):
    """Mock workshop (shot 21): after Konsensus nothing on the desk said the weights were the
    groups' consensus. The Grupper dock says so (and tells the window) while the live shares are
    the mean of the groups' normalised vectors (numpy oracle), and stops when a slider moves."""
    model, ws, panel = window.model, window.model.ws, window.groups_panel
    said = []
    panel.consensus_shown.connect(said.append)
    assert not panel.consensus_note.isVisible()
    qtbot.mouseClick(panel.consensus_button, Qt.LeftButton)
    qtbot.wait(20)
    mean = normalised_vectors(ws, toml_groups(model.project.path)).mean(axis=0)
    live = np.array([model.project.layer(lid).indicator.weight for lid in ws.normalised.layer_ids])
    np.testing.assert_allclose(live / live.sum(), mean, atol=1e-9)  # the oracle agrees it is the consensus
    assert panel.consensus_note.isVisible()
    assert panel.consensus_note.text() == "Kartan visar samsynen: vikterna är 3 gruppers medelvikter"
    assert said[-1] == panel.consensus_note.text()
    # Where the room looks: the weights dock's heading and a lasting line in the status bar.
    assert window.docks["weights"].windowTitle() == "Vikter · Konsensus"
    assert window.consensus_status.isVisible() and window.consensus_status.text() == panel.consensus_note.text()
    slider = window.weights_panel.rows["vard"].slider
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key_PageUp)
    qtbot.waitUntil(lambda: not panel.consensus_note.isVisible(), timeout=3000)
    assert said[-1] == "" and window.docks["weights"].windowTitle() == "Vikter"
    assert not window.consensus_status.isVisible()
    model.undo.undo()  # the slider step undone: the consensus is on the map again
    qtbot.waitUntil(lambda: panel.consensus_note.isVisible(), timeout=3000)


def test_g_in_presentation_mode_is_logged_as_the_map_shown_not_as_weights(window, qtbot):
    """Mock workshop: G (consensus) in presentation mode was logged as "vikt ändrad: … 3 → 28,3",
    the room's raw weight against the consensus share in per cent. Now each G is one note naming
    the map shown, and no weight change is written for it."""
    from skikt.app.workshop_store import close_store
    from skikt.layers.captures import WorkshopStore
    from skikt.layers.memo import _said

    model = window.model
    window.meeting_action.trigger()
    present = next(a for a in window.findChildren(type(window.meeting_action)) if a.text() == "Presentera")
    present.trigger()
    qtbot.waitUntil(lambda: getattr(window, "_presentation", None) is not None and model.meeting._pres is not None,
                    timeout=5000)
    pres = window._presentation
    room = dict(pres.weights)
    for expected in ("consensus", "disagreement", "priority"):
        QTest.keyClick(pres, Qt.Key_G)
        qtbot.waitUntil(lambda: pres.map_kind == expected, timeout=3000)
    assert pres.weights == room  # the room's weights are back after the round
    QTest.keyClick(pres, Qt.Key_Escape)
    window.meeting_action.trigger()
    path = model._workshop_store.path
    close_store(model)
    with WorkshopStore(path) as store:
        log = store.decision_log()
    rows = list(zip(log["kind"], log["details"]))
    assert rows[1:4] == [("note", {"map": kind, "source": "presentation"})
                         for kind in ("consensus", "disagreement", "priority")], rows
    assert "weight_change" not in list(log["kind"])
    assert _said(model.ws, "note", rows[1][1]) == "samsynen visad (gruppernas medelvikter) (i presentationsläget)"


def test_the_memo_flags_group_points_the_project_file_lacks_but_not_an_undone_edit(window, qtbot, sample_copy):
    """Mock workshop (shots_1280_memo): the log said "Kommunerna: Andel 65 år och äldre 30 → 10 p"
    while the memo's table, read from the never-saved project file in a new session, still said 30.
    In the session itself the memo uses the live groups and an undone edit is logged as the points
    going back, so nothing is flagged; reopened from the unsaved file, the memo names the group."""
    from skikt.app.workshop_store import store_for
    from skikt.layers.memo import _groups_differ_from_log

    model, panel = window.model, window.groups_panel
    window.meeting_action.trigger()
    focus(window, qtbot)
    click_cell(window, qtbot, 1, FIRST_POINTS + COLUMNS.index("kultur"))
    type_into_focus(qtbot, "25", Qt.Key_Return)  # Regionen: Kulturplatser 10 → 25, then undone
    assert model.project.extra["groups"][1]["weights"]["kultur"] == 25
    panel.table.setFocus()
    QTest.keyClick(panel.table, Qt.Key_Z, Qt.ControlModifier)
    qtbot.wait(10)
    assert model.project.extra["groups"][1]["weights"]["kultur"] == 10
    click_cell(window, qtbot, 0, FIRST_POINTS + COLUMNS.index("socio"))
    type_into_focus(qtbot, "10", Qt.Key_Return)  # Kommunerna: Andel 65 år och äldre 30 → 10, kept
    model.meeting.flush()
    store = store_for(model)
    assert _groups_differ_from_log(model.ws, store) == []  # the live project and the log agree
    window.meeting_action.trigger()
    model.set_project_sync(sample_copy)  # a new session on the file, which was never saved
    qtbot.wait(10)
    assert toml_groups(sample_copy)["kommunerna"]["socio"] == 30
    assert _groups_differ_from_log(model.ws, store_for(model)) == ["Kommunerna"]
