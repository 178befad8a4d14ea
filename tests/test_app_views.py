"""Saved views in the app (issue 10, item 3): a click opens a view (extent, layers, scenario), a new
view from the map, drag to reorder, rename, delete, each undone with Ctrl+Z; values checked
against the sample's TOML as typed and against a fresh read of the saved file."""

import pytest

from conftest import open_sample_window
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

pytest.importorskip("pytestqt")

SAMPLE_VIEWS = ["Länet", "Vård", "Behov sammanfaller", "Jämför: Vård först", "Jämför: Beredskap"]
VARD_FORST = {"vard": 6, "transport": 1, "kompetens": 2, "kultur": 1, "besoksmal": 1, "vattenskydd": 2,
              "skyddsrum": 2, "socio": 3}


@pytest.fixture
def window(qtbot, sample_copy):
    win = open_sample_window(qtbot, sample_copy)
    win.docks["views"].raise_()
    qtbot.waitExposed(win)
    return win


def click_view(win, qtbot, name):
    lst = win.views_panel.list
    rect = lst.visualItemRect(lst.item(win.views_panel.names().index(name)))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.wait(20)


def ctrl_z(win, qtbot):
    """The real key press; the shortcut only fires in the active window."""
    from PySide6.QtWidgets import QApplication

    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win and QApplication.focusWindow() is win.windowHandle(),
                    timeout=2000)
    steps = win.model.undo.index()
    QTest.keyClick(QApplication.focusWidget() or win, Qt.Key_Z, Qt.ControlModifier)
    assert win.model.undo.index() == steps - 1, "Ctrl+Z did not reach the undo action"
    qtbot.wait(20)


def visible(win):
    return {s.id for s in win.model.project.layers if s.visible}


def stored_names(win):
    return [v["name"] for v in win.model.project.extra.get("views", [])]


def test_click_opens_view_extent_layers_scenario_and_ctrl_z_undoes(window, qtbot):
    before_visible = visible(window)
    before_weights = {s.id: s.indicator.weight for s in window.model.project.indicator_layers()}
    assert window.views_panel.names() == SAMPLE_VIEWS
    click_view(window, qtbot, "Vård")
    assert visible(window) == {"lan", "kommuner", "vard"}
    assert {s.id: s.indicator.weight for s in window.model.project.indicator_layers()} == VARD_FORST
    assert window.scenarios_panel.list.currentItem().text().startswith("Vård först")
    # extent = [640000, 6570000, 740000, 6685000]: shown whole, grown on one axis only to fit the canvas
    x0, x1 = window.canvas.ax.get_xlim()
    y0, y1 = window.canvas.ax.get_ylim()
    assert x0 <= 640000 + 1 and x1 >= 740000 - 1 and y0 <= 6570000 + 1 and y1 >= 6685000 - 1
    assert min(abs(x1 - x0 - 100000), abs(y1 - y0 - 115000)) < 1
    assert "sex gånger mer än kultur" in window.views_panel.notes.text()  # the speaker notes
    ctrl_z(window, qtbot)
    assert visible(window) == before_visible
    assert {s.id: s.indicator.weight for s in window.model.project.indicator_layers()} == before_weights


def test_new_view_from_the_map_round_trips_through_the_file(window, qtbot):
    from skikt.layers.project import read_project
    from skikt.layers.views import find_view

    window.canvas.set_view((650000, 700000, 6560000, 6600000))
    window.layers_panel.item_for("vard").setCheckState(0, Qt.Unchecked)
    window.scenarios_panel.pick("Beredskap")
    qtbot.mouseClick(window.views_panel.new_button, Qt.LeftButton)
    assert stored_names(window) == SAMPLE_VIEWS + ["Vy 6"]
    x0, x1 = window.canvas.ax.get_xlim()
    y0, y1 = window.canvas.ax.get_ylim()
    window.model.save()
    view = find_view(read_project(window.model.project.path), "Vy 6")
    assert view.extent == pytest.approx((x0, y0, x1, y1))
    assert view.scenario == "Beredskap"
    expected = [s.id for s in window.model.project.layers if s.visible]
    assert view.layers == expected and "vard" not in view.layers
    ctrl_z(window, qtbot)
    assert stored_names(window) == SAMPLE_VIEWS


def test_drop_reorders_views_as_one_undo_step(window, qtbot):
    lst = window.views_panel.list
    lst.setCurrentRow(0)  # the dragged row
    target = lst.visualItemRect(lst.item(2))
    mime = lst.model().mimeData([lst.model().index(0, 0)])
    pos = QPointF(target.center().x(), target.bottom() - 2)  # lower half of row 2: drop after it
    steps = window.model.undo.count()
    # The offscreen platform has no drag loop (Qt's drag manager delivers drops), so the list's own
    # drop handler gets the QDropEvent a drag onto the lower half of row 2 ends with.
    drop = QDropEvent(pos, Qt.MoveAction, mime, Qt.LeftButton, Qt.NoModifier)
    lst.dropEvent(drop)
    assert drop.isAccepted() and drop.dropAction() != Qt.MoveAction  # the list itself removes no row
    order = ["Vård", "Behov sammanfaller", "Länet", "Jämför: Vård först", "Jämför: Beredskap"]
    assert stored_names(window) == order and window.views_panel.names() == order
    assert window.model.undo.count() == steps + 1
    ctrl_z(window, qtbot)
    assert stored_names(window) == SAMPLE_VIEWS and window.views_panel.names() == SAMPLE_VIEWS


def test_rename_and_delete_views_undoable(window, qtbot):
    click_view(window, qtbot, "Behov sammanfaller")
    panel = window.views_panel
    panel.ask_text = lambda title, label, default: "Överlapp"
    qtbot.mouseClick(panel.rename_button, Qt.LeftButton)
    assert stored_names(window) == ["Länet", "Vård", "Överlapp", "Jämför: Vård först", "Jämför: Beredskap"]
    panel.ask_text = lambda title, label, default: "Länet"  # taken: one line, nothing changes
    steps = window.model.undo.count()
    qtbot.mouseClick(panel.rename_button, Qt.LeftButton)
    assert "Länet" in panel.message.text() and window.model.undo.count() == steps
    click_view(window, qtbot, "Länet")
    qtbot.mouseClick(panel.delete_button, Qt.LeftButton)
    assert stored_names(window) == ["Vård", "Överlapp", "Jämför: Vård först", "Jämför: Beredskap"]
    ctrl_z(window, qtbot)  # the delete
    ctrl_z(window, qtbot)  # opening Länet
    ctrl_z(window, qtbot)  # the rename
    assert stored_names(window) == SAMPLE_VIEWS
