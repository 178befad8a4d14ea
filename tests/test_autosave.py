"""Never lose work (issue 10, item 6 in the app): the autosave side file, recovery after a crash,
recent projects in the File menu. The side file is read back with the project reader and the
project file compared byte for byte."""

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

pytest.importorskip("pytestqt")


def make_window(qtbot, path=None, ask=None):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    qtbot.addWidget(win)
    win.confirm_close = False
    win.dialog_exec = lambda dialog: QDialog.Accepted
    if ask is not None:
        model.autosaver.ask_recover = ask
    if path is not None:
        model.set_project_sync(path)
    return win


def set_weight(win, qtbot, layer_id, value):
    from skikt.app.commands import SetWeight

    win.model.undo.push(SetWeight(win.model, layer_id, value))
    qtbot.wait(10)


def test_side_file_written_only_while_unsaved_and_removed_on_save(qtbot, sample_copy):
    from skikt.app.autosave import INTERVAL_MS
    from skikt.layers.project import read_project

    original = sample_copy.read_bytes()
    win = make_window(qtbot, sample_copy)
    saver = win.model.autosaver
    side = sample_copy.with_name(".sample_project.autosave.toml")
    assert saver.timer.isActive() and saver.timer.interval() == INTERVAL_MS == 60_000
    assert saver.tick() is None and not side.exists()  # nothing unsaved: nothing written
    set_weight(win, qtbot, "vard", 7.5)
    saver.timer.timeout.emit()  # what the timer does every minute
    assert side.exists() and saver.last_written == side
    again = read_project(side)
    assert again.layer("vard").indicator.weight == 7.5
    # the side file's layer paths still point at the sample's files
    assert all(again.resolve(s.path).exists() for s in again.layers)
    assert sample_copy.read_bytes() == original  # the project itself is untouched
    assert win.model.project.path == sample_copy.resolve()
    win.model.save()
    assert not side.exists()


def test_recovery_after_a_crash_offers_and_restores(qtbot, sample_copy):
    from skikt.app.autosave import has_newer_autosave

    win = make_window(qtbot, sample_copy)
    set_weight(win, qtbot, "kultur", 9)
    win.scenarios_panel.ask_text = lambda *a: "Efter kraschen"
    win.scenarios_panel.save_as()
    side = win.model.autosaver.tick()
    assert side is not None
    # The "crash": the window goes away without saving and the side file stays.
    os.utime(sample_copy, (1_000_000_000, 1_000_000_000))  # the project older than its side file
    assert has_newer_autosave(sample_copy)
    asked = []
    win2 = make_window(qtbot, None, ask=lambda p: asked.append(p) or True)
    win2.model.set_project_sync(sample_copy)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert asked == [side]
    qtbot.waitUntil(lambda: win2.model.project.layer("kultur").indicator.weight == 9, timeout=5000)
    model = win2.model
    assert model.project.path == sample_copy.resolve()
    assert "Efter kraschen" in [s["name"] for s in model.project.extra["scenarios"]]
    assert not model.undo.isClean()  # recovered work is unsaved
    assert win2.windowTitle().startswith(model.project.title) and "*" in win2.windowTitle()
    qtbot.waitUntil(lambda: model.ws.composite is not None, timeout=30000)
    assert not model.ws.errors  # the layer paths resolve from the project's own folder
    win2.model.save()
    assert not side.exists()


def test_declining_recovery_removes_the_side_file(qtbot, sample_copy):
    win = make_window(qtbot, sample_copy)
    set_weight(win, qtbot, "kultur", 9)
    side = win.model.autosaver.tick()
    os.utime(sample_copy, (1_000_000_000, 1_000_000_000))
    asked = []
    win2 = make_window(qtbot, None, ask=lambda p: asked.append(p) or False)
    win2.model.set_project_sync(sample_copy)
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert not side.exists()
    assert win2.model.project.layer("kultur").indicator.weight == 1 and win2.model.undo.isClean()


def test_an_older_side_file_is_not_offered(qtbot, sample_copy):
    win = make_window(qtbot, sample_copy)
    set_weight(win, qtbot, "kultur", 9)
    side = win.model.autosaver.tick()
    os.utime(side, (1_000_000_000, 1_000_000_000))  # older than the project
    asked = []
    win2 = make_window(qtbot, None, ask=lambda p: asked.append(p) or True)
    win2.model.set_project_sync(sample_copy)
    qtbot.wait(50)
    assert asked == [] and win2.model.project.layer("kultur").indicator.weight == 1


def test_bundled_sample_side_file_goes_to_the_data_folder():
    from skikt.app.autosave import autosave_path
    from skikt.app.main import SAMPLE_DIR

    side = autosave_path(SAMPLE_DIR / "sample_project.toml")
    assert side.name == ".sample_project.autosave.toml"
    assert Path(SAMPLE_DIR).resolve() not in side.resolve().parents


def test_recent_projects_in_the_file_menu(qtbot, sample_copy, tmp_path):
    import shutil

    from skikt.app.autosave import recent_projects

    other = tmp_path / "copy2"
    shutil.copytree(sample_copy.parent, other)
    second = other / sample_copy.name
    win = make_window(qtbot, sample_copy)
    win.model.set_project_sync(second)
    win.model.set_project_sync(sample_copy)  # again: moves to the top, listed once
    assert recent_projects()[:2] == [str(sample_copy.resolve()), str(second.resolve())]
    menu = win.recent_menu
    menu.aboutToShow.emit()
    texts = [a.text() for a in menu.actions()]
    assert texts[:2] == [str(sample_copy.resolve()), str(second.resolve())]
    file_menu = win.menuBar().actions()[0].menu()
    assert file_menu.actions()[-1].text() == "Avsluta"  # Quit stays last
    opened = []
    win.open_project = lambda p: opened.append(p)
    menu.actions()[1].trigger()
    assert opened == [str(second.resolve())]
