"""Installed into the main window by one call in MainWindow.__init__: pins, sketched areas and
dot votes on the desk map (helper WC).

A toolbar *Fånga* holds the modes (Navigera, Nål, Område, Prick; Ctrl+1 … Ctrl+4), the group
picker (the project's groups in their colours, and "ingen grupp" for pins and areas), the picked
group's dots left and *Ångra senaste fångst*. The same actions sit in the menu *Möte*, with
*Exportera fångster…*. Each capture is written to the workshop GeoPackage at once
(layers/captures.py) and drawn over the priority map; every map showing the captures follows
(app/workshop_store.capture_hub).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QToolBar

from skikt.layers.captures import DEFAULT_DOTS
from skikt.layers.errors import SkiktError

from .canvas import AREA, DOT, NAVIGATE, PIN
from .capture_tools import CaptureOverlay, CaptureWriter, CommentEdit, project_groups, read_captures
from .i18n import T, language
from .places import unit_title
from .workshop_store import capture_hub, existing_store, store_for

MODE_KEYS = {NAVIGATE: ("cap_navigate", "Ctrl+1"), PIN: ("cap_pin", "Ctrl+2"), AREA: ("cap_area", "Ctrl+3"),
             DOT: ("cap_dot", "Ctrl+4")}


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    window.capture_controller = CaptureController(window)


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def ask_export_path(window) -> str:
    """The file to export the captures to (a GeoPackage or a CSV stem); "" if cancelled."""
    path, _ = QFileDialog.getSaveFileName(window, T("cap_export"), T("cap_export_name"), T("cap_export_filter"))
    return path


class CaptureController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.model = window.model
        self.canvas = window.canvas
        self.overlay = CaptureOverlay(self.canvas.ax, size=9.0)
        self.canvas.view_moved.connect(self.overlay.view_changed)
        self.editor: CommentEdit | None = None
        self.pending = None  # ("pin", (x, y)) or ("area", vertices) waiting for its comment
        self.writer = CaptureWriter(lambda: store_for(self.model, language()),
                                    lambda: self.model.ws.units, language(), changed=self._captured,
                                    problem=lambda: getattr(self.model, "workshop_problem", ""),
                                    place=lambda i: unit_title(self.model.ws, i, language()))
        self._build_actions()
        self.canvas.point_captured.connect(self._on_point)
        self.canvas.area_captured.connect(self._on_area)
        self.canvas.capture_undo.connect(self.undo)
        capture_hub(self.model).changed.connect(self.refresh)
        self.model.project_replaced.connect(self._on_project)
        self.model.computed.connect(self.refresh)
        self._fill_groups()
        self.refresh()

    # ------------------------------------------------------------------ building

    def _build_actions(self) -> None:
        from .workshop_ui import workshop_menu

        window = self.window
        bar = self.toolbar = QToolBar(T("cap_toolbar"), window)
        bar.setObjectName("toolbar_captures")
        window.addToolBar(Qt.TopToolBarArea, bar)
        menu = workshop_menu(window)
        menu.addSeparator()
        group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for mode, (key, shortcut) in MODE_KEYS.items():
            action = QAction(T(key), window)
            action.setObjectName(f"capture_{mode}")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(shortcut))
            action.setChecked(mode == NAVIGATE)
            action.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            group.addAction(action)
            bar.addAction(action)
            menu.addAction(action)
            self.mode_actions[mode] = action
        bar.addSeparator()
        bar.addWidget(QLabel(T("cap_group") + " "))
        self.group_box = QComboBox()
        self.group_box.setObjectName("capture_group")
        # The whole group name: "Kommune…" is not a group the room knows.
        self.group_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.group_box.currentIndexChanged.connect(self._group_picked)
        bar.addWidget(self.group_box)
        self.dots_label = QLabel()
        self.dots_label.setObjectName("capture_dots_left")
        bar.addWidget(self.dots_label)
        bar.addSeparator()
        self.undo_action = QAction(T("cap_undo"), window)
        self.undo_action.setObjectName("capture_undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Alt+Z"))
        self.undo_action.triggered.connect(lambda _=False: self.undo())
        bar.addAction(self.undo_action)
        menu.addAction(self.undo_action)
        self.export_action = menu.addAction(T("cap_export"))
        self.export_action.setObjectName("capture_export")
        self.export_action.triggered.connect(lambda _=False: self.export_dialog())

    def _fill_groups(self) -> None:
        """The picker: "ingen grupp" and the project's groups; the pick survives a rebuilt window
        (kept on the model) and falls back to the first group."""
        self.groups = project_groups(self.model.project)
        wanted = getattr(self.model, "_capture_group", None)
        box = self.group_box
        box.blockSignals(True)
        box.clear()
        box.addItem(T("cap_no_group"), None)
        for g in self.groups:
            box.addItem(_swatch(g.colour), g.name, g.id)
        ids = [g.id for g in self.groups]
        if wanted not in ids:
            wanted = ids[0] if ids else None
        box.setCurrentIndex(0 if wanted is None else 1 + ids.index(wanted))
        box.blockSignals(False)
        self.model._capture_group = wanted

    # ------------------------------------------------------------------ state

    @property
    def group(self) -> str | None:
        return self.group_box.currentData()

    def group_name(self, gid: str | None = None) -> str:
        gid = self.group if gid is None else gid
        return next((g.name for g in self.groups if g.id == gid), T("cap_no_group"))

    def set_group(self, gid: str | None) -> None:
        index = self.group_box.findData(gid)
        if index >= 0:
            self.group_box.setCurrentIndex(index)

    def _group_picked(self, _index: int) -> None:
        self.model._capture_group = self.group
        self.refresh()

    def set_mode(self, mode: str) -> None:
        self._commit_pending()
        self.mode_actions[mode].setChecked(True)
        self.canvas.set_mode(mode)
        if mode != NAVIGATE:
            self.canvas.setFocus(Qt.OtherFocusReason)
        self._update_dots_label()

    def _on_project(self) -> None:
        self._drop_editor()
        self.pending = None
        self._fill_groups()
        self.refresh()

    # ------------------------------------------------------------------ captures

    def _on_point(self, mode: str, x: float, y: float) -> None:
        if mode == DOT:
            self._commit_pending()
            self._report(*self.writer.dot(x, y, self.group, self.group_name()))
        elif mode == PIN:
            self._ask_comment(("pin", (x, y)), T("cap_comment_pin"), (x, y))

    def _on_area(self, vertices) -> None:
        xs = [v[0] for v in vertices]
        ys = [v[1] for v in vertices]
        self._ask_comment(("area", vertices), T("cap_comment_area"), (max(xs), min(ys)))

    def _ask_comment(self, pending, prompt: str, at) -> None:
        self._commit_pending()  # a second click before Enter keeps the first capture, as typed
        self.pending = pending
        self._show_pending(pending)
        editor = self.editor = CommentEdit(self.canvas, prompt)
        editor.setObjectName("capture_comment")
        editor.accepted.connect(self._comment_given)
        editor.cancelled.connect(self._comment_cancelled)
        x_px, y_px = self.canvas.ax.transData.transform(at)
        ratio = self.canvas.device_pixel_ratio or 1.0
        # off the tally discs and pins around the place: the comment usually refers to them
        editor.place_near(x_px / ratio, self.canvas.height() - y_px / ratio, self.overlay.screen_boxes(self.canvas))

    def _comment_given(self, text: str) -> None:
        self._commit_pending(text)
        self.canvas.setFocus(Qt.OtherFocusReason)

    def _comment_cancelled(self) -> None:
        self.pending = None
        self._drop_editor()
        self.window.status(T("cap_cancelled"))
        self.canvas.setFocus(Qt.OtherFocusReason)

    def _show_pending(self, pending) -> None:
        """The capture waiting for its comment stays visible (dashed, in the group's colour)."""
        from matplotlib.lines import Line2D

        kind, payload = pending
        colour = next((g.colour for g in self.groups if g.id == self.group), "#444444")
        if kind == "pin":
            xs, ys = [payload[0]], [payload[1]]
            art = Line2D(xs, ys, marker="o", markersize=12, markerfacecolor=colour, markeredgecolor="white",
                         markeredgewidth=2, linestyle="none", zorder=56)
        else:
            xs = [v[0] for v in payload] + [payload[0][0]]
            ys = [v[1] for v in payload] + [payload[0][1]]
            art = Line2D(xs, ys, color=colour, linewidth=2.5, linestyle="--", zorder=56)
        self._pending_art = self.canvas.ax.add_line(art)
        self.canvas.draw_idle()

    def _drop_editor(self) -> None:
        art = getattr(self, "_pending_art", None)
        if art is not None:
            art.remove()
            self._pending_art = None
            self.canvas.draw_idle()
        if self.editor is not None:
            # Silenced at once: until Qt deletes it, an old line must not store anything.
            self.editor.blockSignals(True)
            self.editor.setObjectName("")
            self.editor.hide()
            self.editor.deleteLater()
            self.editor = None

    def _commit_pending(self, text: str | None = None) -> None:
        """Store the capture waiting for its comment (with what was typed so far)."""
        if self.pending is None:
            return
        if text is None:
            text = self.editor.text() if self.editor is not None else ""
        kind, payload = self.pending
        self.pending = None
        self._drop_editor()
        if kind == "pin":
            self._report(*self.writer.pin(payload[0], payload[1], text, self.group, self.group_name()))
        else:
            self._report(*self.writer.area(payload, text, self.group, self.group_name()))

    def undo(self) -> None:
        if self.pending is not None:  # the capture not yet stored is the last one
            self._comment_cancelled()
            return
        self._report(*self.writer.undo())

    def _report(self, ok: bool, line: str) -> None:
        self.last_message = line
        if ok or self.writer.refused:  # a refusal (the budget, no group) is a status line, not an error
            self.window.status(line, 6000 if ok else 15000)
        else:
            self.window.status(f"{T('error')}: {line}", 15000)

    def _captured(self) -> None:
        capture_hub(self.model).changed.emit()

    # ------------------------------------------------------------------ drawing

    def refresh(self) -> None:
        """Redraw the captures from the file (after every capture, undo, computation or new project)."""
        store = existing_store(self.model, language())
        if store is None:
            self.overlay.clear()
        else:
            data = read_captures(store, self.model.ws.units, self.groups)
            self.overlay.show(data, T("cap_groups_title"), highlight=self.group)
        self._update_dots_label()
        self.canvas.draw_idle()

    def _update_dots_label(self) -> None:
        if self.group is None:
            self.dots_label.setText("")
            return
        data = self.overlay.data
        left = data.dots_left.get(self.group) if data is not None else None
        # No workshop file yet: nothing spent.
        self.dots_label.setText(" " + T("cap_dots_left").format(n=DEFAULT_DOTS if left is None else left) + " ")

    # ------------------------------------------------------------------ export

    def export_dialog(self) -> None:
        path = ask_export_path(self.window)
        if path:
            self.export(path)

    def export(self, path) -> list[Path]:
        """Möte ▸ Exportera fångster…: a GeoPackage, or CSV files beside ``path``; one status line."""
        store = store_for(self.model, language())
        if store is None:
            self._report(False, T("cap_no_store").format(reason=getattr(self.model, "workshop_problem", "")))
            return []
        try:
            written = store.export(path, self.model.project)
        except SkiktError as exc:
            self._report(False, exc.text(language()))
            return []
        self._report(True, T("cap_exported").format(path=", ".join(p.name for p in written),
                                                    folder=str(Path(written[0]).parent)))
        return written
