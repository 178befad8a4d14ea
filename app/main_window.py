"""The main window: canvas in the middle, docks around it, menus, status bar with progress and Cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from PySide6.QtCore import QRect, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QDialog, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton)

from skikt.layers.composite import sensitivity
from skikt.layers.errors import SkiktError
from skikt.layers.i18n import LANGUAGES
from skikt.layers.io import SUPPORTED_EXTS

from .canvas import MapCanvas
from .commands import AddLayer, SetStyle
from .dialogs import AddLayerDialog, PropertiesDialog, StyleDialog
from .i18n import T, install_qt_translations, language, set_language
from .main import is_bundled_sample
from .panels.charts_panel import ChartsPanel
from .panels.info_panel import InfoPanel
from .panels.layers_panel import LayersPanel
from .panels.legend_panel import LegendPanel
from .panels.weights_panel import WeightsPanel
from .workers import Worker


# The size the window is designed for; a smaller screen gets a smaller window.
PREFERRED_SIZE = (1500, 950)
# Room for the window manager's title bar and borders, which are not known before the first show.
FRAME_ALLOWANCE = (16, 48)


def fitted_geometry(available: QRect) -> QRect:
    """The first window: the preferred size, shrunk to the screen's available area (without
    panels and task bars), centred on it."""
    width = min(PREFERRED_SIZE[0], available.width() - FRAME_ALLOWANCE[0])
    height = min(PREFERRED_SIZE[1], available.height() - FRAME_ALLOWANCE[1])
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


class MainWindow(QMainWindow):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.lang = language()
        self.setAcceptDrops(True)
        self.setGeometry(fitted_geometry(self._available()))
        self.canvas = MapCanvas(model, self)
        self.setCentralWidget(self.canvas)
        self.layers_panel = LayersPanel(model)
        self.weights_panel = WeightsPanel(model, lang=self.lang)
        self.legend_panel = LegendPanel(self.canvas)
        self.info_panel = InfoPanel(model)
        self.charts_panel = ChartsPanel(model)
        self.docks = {}
        self._dock("layers", self.layers_panel, Qt.LeftDockWidgetArea)
        self._dock("legend", self.legend_panel, Qt.LeftDockWidgetArea)
        self._dock("weights", self.weights_panel, Qt.RightDockWidgetArea)
        self._dock("info", self.info_panel, Qt.RightDockWidgetArea)
        self._dock("charts", self.charts_panel, Qt.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["info"], self.docks["charts"])
        self.docks["info"].visibilityChanged.connect(self.info_panel.shown)
        self.docks["charts"].visibilityChanged.connect(self.charts_panel.shown)
        self.docks["info"].raise_()
        self.resizeDocks([self.docks["layers"], self.docks["weights"]], [290, 380], Qt.Horizontal)
        self.resizeDocks([self.docks["layers"], self.docks["legend"]], [430, 430], Qt.Vertical)
        self.resizeDocks([self.docks["weights"], self.docks["info"]], [430, 470], Qt.Vertical)
        self.export_worker = Worker(self)
        self.export_worker.finished.connect(lambda out: self.status(T("saved").format(path=out)))
        self.export_worker.failed.connect(self.show_error)
        self.dialog_exec = lambda dialog: dialog.exec()  # tests replace this to accept dialogs
        self.last_error: str | None = None
        self._error_in_job = False  # an error was shown since the last job started
        self.confirm_close = True  # ask about unsaved changes; tests and --screenshot switch it off
        self._build_status()
        self._build_menus()
        from .facilitator_ui import install_facilitator_ui  # scenarios, views, compare, autosave (helper W1)

        install_facilitator_ui(self)
        # Each part of the facilitator's and the analyst's tools installs itself; one module each.
        from . import capture_ui, curves_ui, decision_ui, national_ui, workshop_ui

        for part in (workshop_ui, capture_ui, decision_ui, curves_ui, national_ui):
            part.install(self)
        self.layers_panel.zoom_to_layer.connect(self.zoom_to_layer)
        self.layers_panel.style_requested.connect(self.style_layer)
        self.layers_panel.properties_requested.connect(self.show_properties)
        self.weights_panel.composite_toggled.connect(self.canvas.set_composite_visible)
        self.weights_panel.stability_toggled.connect(self.toggle_stability)
        self.canvas.clicked.connect(lambda x, y: self.info_panel.identify(x, y, self.canvas.scene.pixel_size() * 6))
        self.canvas.clicked.connect(lambda *_: self.docks["info"].raise_() if not self.docks["charts"].isVisible()
                                    or self.docks["info"].isVisible() else None)
        self.canvas.cursor_moved.connect(lambda x, y: self.coords.setText(self.canvas.coordinate_text(x, y)))
        model.error.connect(self.show_error)
        model.message.connect(self.status)
        model.worker.progress.connect(self._progress)
        model.worker.busy_changed.connect(self._busy)
        model.project_replaced.connect(self._title)
        model.dirty_changed.connect(self._title)
        model.composite_changed.connect(self._refresh_stability)
        model.no_map_changed.connect(self._no_map)
        self._title()

    # ------------------------------------------------------------------ layout

    def _available(self) -> QRect:
        screen = self.screen() or QApplication.primaryScreen()
        return screen.availableGeometry()

    def place_on_screen(self, saved=None) -> bool:
        """Restore a saved geometry only if the whole window still fits on the screen it lands
        on (a window saved on a big monitor must not open half off a laptop screen); otherwise
        keep the fitted first-window geometry. True if the saved one was used."""
        fitted = fitted_geometry(self._available())
        if saved is None or not self.restoreGeometry(saved):
            self.setGeometry(fitted)
            return False
        if self.isMaximized() or self.isFullScreen():
            return True
        available = self._available()
        room = available.adjusted(0, 0, -FRAME_ALLOWANCE[0], -FRAME_ALLOWANCE[1])
        inner = self.geometry()
        if (available.contains(inner) and inner.width() <= room.width() and inner.height() <= room.height()):
            return True
        self.setGeometry(fitted_geometry(available))
        return False

    def _dock(self, key, widget, area):
        dock = QDockWidget(T(key), self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    def _build_status(self):
        sb = self.statusBar()
        self.coords = QLabel("")
        self.coords.setMinimumWidth(420)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel = QPushButton(T("cancel"))
        self.cancel.hide()
        self.cancel.clicked.connect(self.model.worker.cancel)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel)
        sb.addPermanentWidget(self.coords)

    def _build_menus(self):
        mb = self.menuBar()
        f = mb.addMenu(T("file"))
        self._action(f, T("open_project"), self.open_dialog, QKeySequence.Open)
        self._action(f, T("save_project"), self.save, QKeySequence.Save)
        self._action(f, T("save_project_as"), self.save_as, QKeySequence.SaveAs)
        f.addSeparator()
        self._action(f, T("add_layer"), self.add_layer_dialog, "Ctrl+L")
        f.addSeparator()
        self._action(f, T("export_map"), self.export_map_dialog, "Ctrl+E")
        self._action(f, T("export_scores"), self.export_scores_dialog)
        f.addSeparator()
        self._action(f, T("quit"), self.close, QKeySequence.Quit)
        e = mb.addMenu(T("edit"))
        undo = self.model.undo.createUndoAction(self, T("undo"))
        undo.setShortcut(QKeySequence.Undo)
        redo = self.model.undo.createRedoAction(self, T("redo"))
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.Redo])
        e.addAction(undo)
        e.addAction(redo)
        v = mb.addMenu(T("view"))
        self._action(v, T("full_extent"), self.canvas.full_extent, "Ctrl+0")
        box = self._action(v, T("zoom_in_box"), None, "Ctrl+B")
        box.setCheckable(True)
        box.toggled.connect(lambda on: setattr(self.canvas, "zoom_box_mode", on))
        full = self._action(v, T("full_screen"), None, "F11")
        full.setCheckable(True)
        full.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        from .presentation import start_presentation  # presentation mode, F5 (helper W2)

        self._action(v, T("pres_start"), lambda: start_presentation(self), "F5")
        labels = self.labels_action = self._action(v, T("labels"), None)
        labels.setCheckable(True)
        labels.setChecked(True)
        labels.toggled.connect(self._labels)
        v.addSeparator()
        for dock in self.docks.values():
            v.addAction(dock.toggleViewAction())
        v.addSeparator()
        lang_menu = v.addMenu(T("language"))
        group = QActionGroup(self)
        for code, name in LANGUAGES.items():
            a = lang_menu.addAction(name)
            a.setCheckable(True)
            a.setChecked(code == self.lang)
            a.setObjectName(f"lang_{code}")
            group.addAction(a)
            a.triggered.connect(lambda _=False, c=code: self.switch_language(c))
        h = mb.addMenu(T("help"))
        self._action(h, T("about"), lambda: QMessageBox.about(self, T("about"), T("app_title") + "\n\n" +
                                                              T("illustrative_note")))

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        a = menu.addAction(text)
        if slot is not None:
            a.triggered.connect(lambda _=False: slot())
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        return a

    def _title(self, *_):
        dirty = "" if self.model.undo.isClean() else " *"
        self.setWindowTitle(f"{self.model.project.title}{dirty} – Skikt")

    # ------------------------------------------------------------------ status

    def status(self, text: str, msecs: int = 6000):
        self.statusBar().showMessage(text, msecs)

    def show_error(self, msg: str):
        """One line, in a non-blocking box, and the app carries on."""
        self.last_error = msg
        self._error_in_job = True
        self.status(f"{T('error')}: {msg}", 15000)
        if any(box.isVisible() and box.text() == msg for box in self.findChildren(QMessageBox)):
            return  # the same line again (e.g. from every repaint): one box is enough
        box = QMessageBox(QMessageBox.Warning, T("could_not_load") if ":" in msg else T("error"), msg,
                          QMessageBox.Ok, self)
        box.setModal(False)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.show()

    def _progress(self, frac: float, msg: str):
        self.progress.setValue(int(frac * 1000))
        self.status(f"{T('computing')}: {msg}", 0)

    def _busy(self, busy: bool):
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if busy:
            self._error_in_job = False
            return
        # "Ready" must not paper over why there is no map or what went wrong while loading.
        if self.model.no_map_reason:
            self._no_map(self.model.no_map_reason)
        elif self._error_in_job and self.last_error:
            self.status(f"{T('error')}: {self.last_error}", 15000)
        elif getattr(self, "_note_after_job", None):  # why the new layer is not on the map
            self.status(self._note_after_job, 15000)
            self._note_after_job = None
        else:
            self.status(T("ready"), 3000)

    def _no_map(self, reason: str):
        if reason:
            self.status(reason, 0)
        elif self.statusBar().currentMessage() in (T("no_map_zero_weights"), T("no_map_no_indicator")):
            self.statusBar().clearMessage()

    # ------------------------------------------------------------------ files

    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, T("open_project"), "", "Skikt (*.toml)")
        if path:
            self.open_project(path)

    def open_project(self, path):
        try:
            self.model.open_project(path)
        except SkiktError as exc:
            self.show_error(exc.text(self.lang))

    def save(self):
        path = self.model.project.path
        if path is None:
            return self.save_as()
        if is_bundled_sample(path):  # a template: the first save makes the user's own copy
            return self.save_as(T("save_sample_as"), str(Path.home() / "projekt.toml"))
        try:
            out = self.model.save()
            self.status(T("saved").format(path=out))
        except (OSError, SkiktError) as exc:
            self.show_error(exc.text(self.lang))

    def save_as(self, caption: str | None = None, suggestion: str = "projekt.toml"):
        path, _ = QFileDialog.getSaveFileName(self, caption or T("save_project_as"), suggestion, "Skikt (*.toml)")
        if path and is_bundled_sample(path):
            self.show_error(T("save_sample_as"))
            return
        if path:
            try:
                out = self.model.save(path)
                self.status(T("saved").format(path=out))
                self._title()
            except (OSError, SkiktError) as exc:
                self.show_error(exc.text(self.lang))

    def add_layer_dialog(self):
        exts = " ".join(f"*{e}" for e in sorted(SUPPORTED_EXTS))
        paths, _ = QFileDialog.getOpenFileNames(self, T("add_layer"), "", f"GIS ({exts})")
        for p in paths:
            self.add_file(p)

    def add_file(self, path) -> bool:
        """Ask for sector, title, CRS or join; push an AddLayer command. False if nothing was added."""
        try:
            dialog = AddLayerDialog(self.model, path, self)
        except SkiktError as exc:
            self.show_error(exc.text(self.lang))
            return False
        if dialog.read_error:
            self.show_error(dialog.read_error)
            return False
        if self.dialog_exec(dialog) != QDialog.Accepted:
            return False
        spec = dialog.spec()
        self.model.undo.push(AddLayer(self.model, spec, 0))
        if dialog.hides_over_priority_map():
            self._note_after_job = T("indicator_layer_hidden").format(name=spec.title)
            self.status(self._note_after_job, 15000)
        else:
            self.status(T("layer_added").format(name=spec.title))
        return True

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        projects = [p for p in paths if p.lower().endswith(".toml")]
        if projects:  # a project file dropped on the window opens it
            QTimer.singleShot(0, lambda: self.open_project(projects[0]))
            return
        # Open the dialogs after the drop has returned, so the file manager is not kept waiting.
        QTimer.singleShot(0, lambda: [self.add_file(p) for p in paths])

    def export_map_dialog(self):
        from .export_dialog import dialog_for_window  # the page dialog with a preview (helper X)

        # Window-modal but not a nested event loop: the preview thread reports through the main loop.
        dialog = dialog_for_window(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def export_map(self, path):
        from skikt.layers.export import compose_map

        # The export thread gets its own copy: the GUI thread goes on changing the live one.
        ws, lang, show = self.model.ws.fork(), self.lang, self.canvas.scene.show_composite
        view = (*self.canvas.ax.get_xlim(), *self.canvas.ax.get_ylim())

        def job(cancel):
            yield 0.1, "export"
            return compose_map(ws, path, lang=lang, composite=show, extent=view)

        self.export_worker.start(job)

    def export_scores_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, T("export_scores"), T("export_scores_name"), "GeoPackage (*.gpkg);;CSV (*.csv)")
        if path:
            from skikt.layers.output import write_scores

            ws = self.model.ws.fork()

            def job(cancel):
                yield 0.1, "export"
                return write_scores(ws, path)

            self.export_worker.start(job)

    # ------------------------------------------------------------------ layer actions

    def zoom_to_layer(self, layer_id: str):
        lay = self.model.ws.layers.get(layer_id)
        if lay is not None and lay.geo is not None and len(lay.geo):
            self.canvas.zoom_to_bounds(lay.geo.total_bounds)

    def style_layer(self, layer_id: str):
        lay = self.model.ws.layers.get(layer_id)
        if lay is None or lay.geo is None:
            return
        dialog = StyleDialog(self.model.project.layer(layer_id), lay.geo, self)
        if self.dialog_exec(dialog) == QDialog.Accepted:
            self.model.undo.push(SetStyle(self.model, layer_id, dialog.result_style()))

    def show_properties(self, layer_id: str):
        err = self.model.ws.errors.get(layer_id)
        dialog = PropertiesDialog(self.model.project.layer(layer_id), self.model.ws.layers.get(layer_id),
                                  err.text(self.lang) if err is not None else None, self)
        dialog.show()

    def _labels(self, on: bool):
        self.canvas.scene.labels = on
        self.canvas.scene.sync_labels()
        self.canvas.redraw()

    def toggle_stability(self, on: bool):
        self._stability_on = on
        self._refresh_stability()
        if not on:
            self.canvas.set_stability(None)

    def _refresh_stability(self):
        if not getattr(self, "_stability_on", False) or self.model.ws.composite is None or self.model.no_map_reason:
            return
        ws = self.model.ws
        sens = sensitivity(ws.normalised, ws.composite.weights, ws.composite.k, 0.10)
        self.weights_panel.sens_label.setText(
            f"{T('sensitivity')} ±10 %: " + T("units_change_class").format(share=f"{sens.any_change_share:.0%}"))
        # Excluded units never have a class to change: drawn empty (hatched), not as "stable".
        shown = sens.stability if sens.scored is None else np.where(sens.scored, sens.stability, np.nan)
        self.canvas.set_stability(shown)

    def switch_language(self, lang: str):
        """Rebuild the window in the new language; the model (project, undo history) lives on."""
        if lang == self.lang:
            return
        set_language(lang)
        install_qt_translations(QApplication.instance())
        geometry, docks = self.saveGeometry(), self.saveState()
        view = (self.canvas.ax.get_xlim(), self.canvas.ax.get_ylim())
        new = MainWindow(self.model)
        new.restoreGeometry(geometry)
        new.restoreState(docks)
        new.canvas.ax.set_xlim(*view[0])
        new.canvas.ax.set_ylim(*view[1])
        new.canvas._has_view = True
        new.canvas.scene.sync()
        new.show()
        self._hand_over_state(new)
        new.canvas.redraw()
        self._replaced_by = new
        self.model.error.disconnect(self.show_error)
        self.hide()
        self.deleteLater()

    def _hand_over_state(self, new: "MainWindow") -> None:
        """What the user set up in this window lives on in the rebuilt one: the stability view,
        the composite switch, the labels and the place clicked in Info (with its highlight)."""
        new.weights_panel.show_composite.setChecked(self.weights_panel.show_composite.isChecked())
        new.weights_panel.show_stability.setChecked(self.weights_panel.show_stability.isChecked())
        if not self.canvas.scene.labels:
            new.labels_action.setChecked(False)
        clicked = self.info_panel._last
        if clicked is not None:
            new.info_panel.identify(*clicked)
        # Open national windows are children of this window, which is about to be deleted.
        for national in [w for w in getattr(self, "national_windows", []) if w.isVisible()]:
            national.setParent(new, Qt.Window)
            national.show()
            new.national_windows.append(national)

    def closeEvent(self, event):
        if self.confirm_close and not self.model.undo.isClean():
            answer = QMessageBox.question(self, "Skikt", T("unsaved_changes"),
                                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
            if answer == QMessageBox.Cancel:
                event.ignore()
                return
            if answer == QMessageBox.Save:
                self.save()
                if not self.model.undo.isClean():  # the save was cancelled or failed
                    event.ignore()
                    return
        QSettings("Skikt", "Skikt").setValue("geometry", self.saveGeometry())
        self.model.worker.cancel()
        super().closeEvent(event)
