"""The facilitator's additions to the main window, installed by one call in MainWindow.__init__:

* docks *Scenarier* and *Vyer* (app/panels/scenarios_panel.py, app/panels/views_panel.py),
  with toggles under Visa;
* Arkiv ▸ Senaste projekt and Arkiv ▸ Jämför scenarier… (app/compare_window.py);
* the autosaver (app/autosave.py), one per model, which lives on when the window is rebuilt for
  another language.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from .autosave import autosaver, recent_projects
from .i18n import T
from .panels.scenarios_panel import ScenariosPanel
from .panels.views_panel import ViewsPanel


def _menu(window, title: str):
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text() == title:
            return action.menu()
    return None


def _extent_of(canvas):
    x0, x1 = canvas.ax.get_xlim()
    y0, y1 = canvas.ax.get_ylim()
    return (x0, y0, x1, y1)


def _show_extent(canvas, extent) -> None:
    if extent is None:
        canvas.full_extent()
    else:
        xmin, ymin, xmax, ymax = extent
        canvas.set_view((xmin, xmax, ymin, ymax))


def install_facilitator_ui(window) -> None:
    model = window.model
    window.scenarios_panel = ScenariosPanel(model)
    window.views_panel = ViewsPanel(model, lambda: _extent_of(window.canvas),
                                    lambda extent: _show_extent(window.canvas, extent))
    window._dock("scenarios", window.scenarios_panel, Qt.RightDockWidgetArea)
    window._dock("views", window.views_panel, Qt.LeftDockWidgetArea)
    window.tabifyDockWidget(window.docks["weights"], window.docks["scenarios"])
    window.docks["weights"].raise_()
    window.tabifyDockWidget(window.docks["legend"], window.docks["views"])
    window.docks["legend"].raise_()
    view_menu = _menu(window, T("view"))
    if view_menu is not None:
        first = next((a for a in view_menu.actions() if a.isSeparator()), None)
        for key in ("scenarios", "views"):
            toggle = window.docks[key].toggleViewAction()
            toggle.setObjectName(f"toggle_{key}")
            view_menu.insertAction(first, toggle) if first is not None else view_menu.addAction(toggle)
    file_menu = _menu(window, T("file"))
    if file_menu is not None:
        quit_action = file_menu.actions()[-1]
        window.recent_menu = file_menu.addMenu(T("recent_projects"))
        window.recent_menu.aboutToShow.connect(lambda: _fill_recent(window))
        compare = file_menu.addAction(T("compare_scenarios"))
        compare.setObjectName("compare_scenarios")
        compare.triggered.connect(lambda _=False: open_compare(window))
        # Keep Avsluta last.
        file_menu.insertMenu(quit_action, window.recent_menu)
        file_menu.insertAction(quit_action, compare)
        file_menu.insertSeparator(quit_action)
    first_window = getattr(model, "autosaver", None) is None  # not a window rebuilt for another language
    saver = autosaver(model)
    saver.report = lambda text, w=window: _status(w, text)
    saver.ask_recover = lambda side, w=window: _ask_recover(w, side)
    app = QApplication.instance()
    if app is not None and not getattr(model, "_autosave_quit_hooked", False):
        app.aboutToQuit.connect(saver.remove)  # a normal end: the side file is not needed
        model._autosave_quit_hooked = True
    if first_window and model.project.path is not None:
        # The project was opened before the window existed (skikt open): check for a side file now.
        QTimer.singleShot(0, lambda: saver._project_replaced() if model.project.path is not None else None)


def _status(window, text: str) -> None:
    try:
        window.status(text)
    except RuntimeError:  # the window was rebuilt for another language and this one is gone
        pass


def _ask_recover(window, side) -> bool:
    if not window.confirm_close:  # tests and --screenshot: never a modal question
        return False
    answer = QMessageBox.question(window, "Skikt", T("recover_question").format(path=side.name),
                                  QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
    return answer == QMessageBox.Yes


def _fill_recent(window) -> None:
    menu = window.recent_menu
    menu.clear()
    items = recent_projects()
    if not items:
        empty = menu.addAction(T("no_recent_projects"))
        empty.setEnabled(False)
        return
    for path in items:
        action = menu.addAction(path)
        action.triggered.connect(lambda _=False, p=path: window.open_project(p))


def open_compare(window, a: str | None = None, b: str | None = None):
    from .compare_window import CompareWindow

    compare = CompareWindow(window.model, a, b, window)
    compare.setAttribute(Qt.WA_DeleteOnClose)
    compare.show()
    window.compare_window = compare
    return compare
