"""Installed into the main window by one call in MainWindow.__init__: the *Grupper* dock (group
weights, consensus, disagreement, short list), the memo from the app, and the meeting's decision
log (helper WG).

State that must survive a language switch (the window is rebuilt, the model lives on) is kept on
the model: whether the disagreement map and the short list are shown (``model.workshop_view``)
and the running meeting (``model.meeting``).
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QFileDialog

from skikt.layers import groups as gr
from skikt.layers.errors import SkiktError
from skikt.layers.project import PROJECT_WEIGHTS  # "-": the project's own weights, translated in the memo

from .i18n import T, language

SHORT_LIST_ZOOM = 30_000.0  # metres across when the map centres on a short-listed unit from far out
FOLLOW_MS = 250  # the map and the short list follow a group edit once the typing pauses this long


def workshop_menu(window):
    """The menu *Möte* (Workshop), shared by the workshop parts: created by the first that asks."""
    menu = getattr(window, "workshop_menu", None)
    if menu is None:
        menu = window.workshop_menu = window.menuBar().addMenu(T("ws_menu"))
        # Before Hjälp, which stays last.
        actions = window.menuBar().actions()
        window.menuBar().insertMenu(actions[-2], menu) if len(actions) > 1 else None
    return menu


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    from .panels.groups_panel import GroupsPanel

    model = window.model
    view = workshop_view(model)
    panel = window.groups_panel = GroupsPanel(model)
    window._dock("gw_groups", panel, Qt.RightDockWidgetArea)
    if "scenarios" in window.docks:
        window.tabifyDockWidget(window.docks["scenarios"], window.docks["gw_groups"])
    else:
        window.tabifyDockWidget(window.docks["weights"], window.docks["gw_groups"])
    window.docks["weights"].raise_()
    _add_view_toggle(window)
    window.groups_map = GroupsMap(window)
    menu = workshop_menu(window)
    memo = menu.addAction(T("gw_memo_action"))
    memo.setObjectName("gw_write_memo")
    memo.triggered.connect(lambda _=False: write_memo_dialog(window))
    meeting = meeting_log(model)
    window.meeting_action = menu.addAction(T("gw_meeting_start"))
    window.meeting_action.setObjectName("gw_meeting")
    window.meeting_action.setCheckable(True)
    window.meeting_action.setChecked(meeting.running)
    _meeting_text(window)
    window.meeting_action.toggled.connect(lambda on: _toggle_meeting(window, on))
    meeting.report = lambda text: window.show_error(text)
    window._meeting_sync = _MeetingActionSync(window)
    model.project_replaced.connect(window._meeting_sync.sync)  # another project ends the meeting
    _hook_presentation(window)
    _hook_sliders(window)
    model.project_replaced.connect(window._meeting_sync.hook_sliders)  # the weights panel rebuilds its rows
    model.layers_changed.connect(window._meeting_sync.hook_sliders)
    if view.get("disagreement"):
        panel.disagreement_button.setChecked(True)
    if view.get("short_list"):
        panel.short_button.setChecked(True)


def _add_view_toggle(window) -> None:
    from .facilitator_ui import _menu

    view_menu = _menu(window, T("view"))
    if view_menu is None:
        return
    toggle = window.docks["gw_groups"].toggleViewAction()
    toggle.setObjectName("toggle_gw_groups")
    first = next((a for a in view_menu.actions() if a.isSeparator()), None)
    view_menu.insertAction(first, toggle) if first is not None else view_menu.addAction(toggle)


def workshop_view(model) -> dict:
    got = getattr(model, "workshop_view", None)
    if got is None:
        got = model.workshop_view = {"disagreement": False, "short_list": False}
    return got


# ------------------------------------------------------------------------------------------------
# Group scores, consensus, disagreement and the short list


def group_scores_for(model):
    """The groups' scores on the live indicators, or None without indicators or groups. Cached
    until the indicators or the [[groups]] tables change: the sample's eight indicators and three
    groups take a few tens of ms, so this runs on the GUI thread (see docs/notes/WG.md)."""
    ws = model.ws
    if ws.normalised is None or ws.units is None:
        return None
    entries = gr.group_entries(model.project)
    key = (repr(entries), model.project.units.classes)
    cached = getattr(model, "_gw_scores", None)
    if cached is not None and cached[0] is ws.normalised and cached[1] == key:
        return cached[2]
    groups = gr.read_groups(model.project)
    gs = gr.group_scores(ws.normalised, groups, model.project.units.classes, model.project.path) if groups else None
    model._gw_scores = (ws.normalised, key, gs)
    return gs


class GroupsMap(QObject):
    """Connects the dock's buttons to the map: consensus weights, the disagreement map, the
    short list and the unit a click on it picks."""

    def __init__(self, window):
        super().__init__(window)
        from .commands_groups import groups_state

        self.window, self.model, self.panel = window, window.model, window.groups_panel
        self.weights_at_on: dict | None = None
        self.panel.consensus_requested.connect(self.apply_consensus)
        self.panel.disagreement_toggled.connect(self.set_disagreement)
        self.panel.short_list_toggled.connect(self.set_short_list)
        self.panel.unit_picked.connect(self.pick_unit)
        self.panel.place_picked.connect(self.pick_place)
        self.panel.consensus_shown.connect(self.say_consensus)
        if self.panel.consensus_note.text():  # a window rebuilt for another language, consensus on
            self.say_consensus(self.panel.consensus_note.text())
        # Typing a printed form: one cell after another. The map and the short list follow once
        # the typing pauses, not after every cell (a redraw of the map costs a tenth of a second).
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self.groups_changed)
        groups_state(self.model).changed.connect(self._follow.start)
        self.model.computed.connect(self._follow.start)
        self.model.composite_changed.connect(self._weights_moved)

    def say_consensus(self, text: str) -> None:
        """While the live weights are the groups' consensus, the weights dock's heading and a
        lasting line in the status bar say so (the room looks at the map and the weights, not at
        the Grupper dock)."""
        from PySide6.QtWidgets import QLabel

        try:
            label = getattr(self.window, "consensus_status", None)
            if label is None:
                label = self.window.consensus_status = QLabel("")
                label.setObjectName("gw_consensus_status")
                label.setStyleSheet("color:#1b5e20; font-weight:bold")
                self.window.statusBar().addPermanentWidget(label)
            label.setText(text)
            label.setVisible(bool(text))
            dock = self.window.docks.get("weights")
            if dock is not None:
                # Short: the dock's tab shares a row with Scenarier and Grupper.
                dock.setWindowTitle(f"{T('weights')} · {T('gw_consensus')}" if text else T("weights"))
        except RuntimeError:  # this window was rebuilt for another language and is gone
            pass

    def _scores(self):
        try:
            return group_scores_for(self.model)
        except SkiktError as exc:
            self.panel.say(exc.text(language()))
            return None

    def apply_consensus(self) -> None:
        from .commands_groups import ApplyConsensus

        gs = self._scores()
        if gs is None:
            return
        if self.panel.disagreement_button.isChecked():
            self.panel.disagreement_button.setChecked(False)  # the consensus is a priority map: show it
        self.model.undo.push(ApplyConsensus(self.model, gs))
        self.window.status(T("gw_consensus_applied").format(n=len(gs.groups)))

    def set_disagreement(self, on: bool) -> None:
        workshop_view(self.model)["disagreement"] = on
        if not on:
            if self._showing_disagreement():
                self.window.canvas.set_unit_map(None)
            return
        gs = self._scores()
        if gs is None:
            self.panel.disagreement_button.setChecked(False)
            return
        from .commands_scenarios import working_weights

        self.weights_at_on = working_weights(self.model)
        self.window.canvas.set_unit_map(gr.disagreement_map(gs, language()))

    def _showing_disagreement(self) -> bool:
        current = getattr(self.window.canvas.scene, "unit_map", None)
        return current is not None and current.kind == "disagreement"

    def _weights_moved(self) -> None:
        """A weight change shows the priority map again: the disagreement does not depend on the
        live weights, and a room that moves a slider wants to see what it moved."""
        if not self.panel.disagreement_button.isChecked() or self.weights_at_on is None:
            return
        from .commands_scenarios import working_weights

        now = working_weights(self.model)
        if any(abs(now.get(k, 0.0) - v) > 1e-12 for k, v in self.weights_at_on.items()):
            self.panel.disagreement_button.setChecked(False)

    def groups_changed(self, *_) -> None:
        try:
            if self.panel.disagreement_button.isChecked():
                gs = self._scores()
                if gs is None:
                    self.panel.disagreement_button.setChecked(False)
                elif self._showing_disagreement() or getattr(self.window.canvas.scene, "unit_map", None) is None:
                    self.window.canvas.set_unit_map(gr.disagreement_map(gs, language()))
            if self.panel.short_button.isChecked():
                self.set_short_list(True)
        except RuntimeError:  # this window was rebuilt for another language and is gone
            pass

    def set_short_list(self, on: bool) -> None:
        workshop_view(self.model)["short_list"] = on
        if not on:
            return
        gs = self._scores()
        if gs is None:
            self.panel.show_short_list([], 0)
            return
        ws = self.model.ws
        entries = gr.short_list_entries(ws, gs, _place_names(self.model))
        titled = [(i, title, uid) for (i, uid, _), title in zip(entries, _entry_titles(ws, entries))]
        self.panel.show_short_list(_by_place(entries, titled), int(len(gs.short_list)), ws.units.kind == "grid")

    def pick_place(self, indices) -> None:
        """A municipality's entry: the map shows all its listed units (their bounds), not one cell."""
        if len(indices):
            self.window.canvas.zoom_to_bounds(unit_bounds(self.model.ws, indices))

    def pick_unit(self, index: int) -> None:
        """Select the unit (Info panel and highlight) and centre the map on it."""
        ws, canvas = self.model.ws, self.window.canvas
        x, y = (float(v) for v in ws.units.centres[index])
        x0, x1 = canvas.ax.get_xlim()
        y0, y1 = canvas.ax.get_ylim()
        half_w = min(x1 - x0, SHORT_LIST_ZOOM) / 2
        half_h = half_w * (y1 - y0) / (x1 - x0)
        canvas.set_view((x - half_w, x + half_w, y - half_h, y + half_h))
        self.window.info_panel.identify(x, y, canvas.scene.pixel_size() * 2)
        self.window.docks["info"].raise_()


def _by_place(entries, titled) -> list[tuple[str, list[tuple[int, str, str]]]]:
    """The short list per municipality, most units first (then by name); within one, the units
    keep their order (best consensus first). ``titled``: the entries as (index, title, id)."""
    places: dict[str, list[tuple[int, str, str]]] = {}
    for (_, _, place), entry in zip(entries, titled):
        places.setdefault(place, []).append(entry)
    return sorted(places.items(), key=lambda kv: (-len(kv[1]), kv[0] == "", kv[0]))


def unit_bounds(ws, indices) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of the units: whole cells for a grid (centre ± half a cell), the
    polygons' bounds for area units."""
    import numpy as np
    import shapely

    indices = np.asarray(list(indices), dtype=np.int64)
    units = ws.units
    if units.kind == "grid":
        xy = np.asarray(units.centres, float)[indices]
        half = float(units.grid.cell) / 2
        return (float(xy[:, 0].min() - half), float(xy[:, 1].min() - half), float(xy[:, 0].max() + half),
                float(xy[:, 1].max() + half))
    return tuple(float(v) for v in shapely.total_bounds(units.geometry[indices]))


def _place_names(model):
    """Each unit's municipality, found once per set of units (a spatial query of a few hundred
    ms on the sample's 25 016 cells; the short list is rebuilt on every group edit)."""
    from skikt.layers.scenarios import unit_municipalities

    units = model.ws.units
    cached = getattr(model, "_gw_places", None)
    if cached is None or cached[0] is not units:
        cached = model._gw_places = (units, unit_municipalities(model.ws)[1])
    return cached[1]


def _entry_titles(ws, entries) -> list[str]:
    """"Norrtälje, 500 m-ruta" as the Info panel names a cell (app/places.unit_title), from the
    place names found once: the list may hold thousands of cells."""
    from skikt.layers.i18n import tr

    from .places import cell_size_text

    units = ws.units
    if units.kind != "grid":
        return [units.label(i) for i, _, _ in entries]
    pattern = tr("cell_in", language())
    size = cell_size_text(units.grid.cell)
    return [pattern.format(place=place, size=size) if place else uid for _, uid, place in entries]


# ------------------------------------------------------------------------------------------------
# The memo


def write_memo_dialog(window):
    """Möte ▸ Skriv prioriteringsunderlag (PDF)…: ask for the file, write it in the background."""
    path, _ = QFileDialog.getSaveFileName(window, T("gw_memo_action"), _memo_suggestion(window.model), "PDF (*.pdf)")
    if path:
        return write_memo_in_background(window, path)
    return None


def _memo_suggestion(model) -> str:
    """Beside the project; the bundled sample is a template in the program's folder, so its memo
    is suggested in the home folder instead."""
    from pathlib import Path

    from .main import is_bundled_sample

    path = model.project.path
    folder = Path.home() if path is None or is_bundled_sample(path) else Path(path).parent
    return str(folder / T("gw_memo_name"))


def _memo_worker(window):
    worker = getattr(window, "memo_worker", None)
    if worker is None:
        from .workers import Worker

        worker = window.memo_worker = Worker(window)
        worker.progress.connect(window._progress)
        worker.busy_changed.connect(window._busy)
        worker.finished.connect(lambda out: window.status(T("gw_memo_written").format(path=out), 15000))
        worker.failed.connect(window.show_error)
        window.cancel.clicked.connect(worker.cancel)
    return worker


def write_memo_in_background(window, path):
    """The memo of the live state (weights as on screen, the open store's captures) in the UI
    language. The worker gets a fork of the workspace and a copy of the captures: the store's
    SQLite connection belongs to the GUI thread, which goes on writing to it."""
    from skikt.layers.memo import CaptureSnapshot, iter_write_memo

    from .workshop_store import store_for

    model, lang = window.model, language()
    meeting_log(model).flush()
    store = store_for(model, lang)
    snapshot = CaptureSnapshot.of(store) if store is not None else None
    ws = model.ws.fork()

    def job(cancel):
        # One step per page built and per page written: the bar moves and Cancel is heard between
        # pages (a cancelled memo leaves no file).
        steps = iter_write_memo(ws, path, lang, store=snapshot, cancel=cancel)
        yield 0.02, T("gw_memo_progress")
        while True:
            try:
                fraction = next(steps)
            except StopIteration as done:
                return done.value
            yield max(0.02, fraction), T("gw_memo_progress")

    return _memo_worker(window).start(job)


# ------------------------------------------------------------------------------------------------
# The meeting's decision log


def meeting_log(model) -> "MeetingLog":
    got = getattr(model, "meeting", None)
    if got is None:
        got = model.meeting = MeetingLog(model)
    return got


def _meeting_text(window) -> None:
    running = meeting_log(window.model).running
    window.meeting_action.setText(T("gw_meeting_end") if running else T("gw_meeting_start"))


def _toggle_meeting(window, on: bool) -> None:
    meeting = meeting_log(window.model)
    if on and not meeting.start():
        window.meeting_action.blockSignals(True)
        window.meeting_action.setChecked(False)
        window.meeting_action.blockSignals(False)
    elif not on:
        meeting.stop()
    _meeting_text(window)
    window.status(T("gw_meeting_started") if meeting.running else T("gw_meeting_ended"))


class _MeetingActionSync(QObject):
    """Unticks *Avsluta möte* when the model's meeting ended without the action (a new project).
    A bound method of the window's child, so Qt drops the connection when the window goes."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def hook_sliders(self) -> None:
        _hook_sliders(self.window)

    def sync(self) -> None:
        action, running = self.window.meeting_action, meeting_log(self.window.model).running
        if action.isChecked() != running:
            action.blockSignals(True)
            action.setChecked(running)
            action.blockSignals(False)
            _meeting_text(self.window)


def _hook_sliders(window) -> None:
    """A released weight slider ends a change at once (not after the second of stillness)."""
    meeting = meeting_log(window.model)
    for row in getattr(window.weights_panel, "rows", {}).values():
        slider = getattr(row, "slider", None)
        if slider is not None and not slider.property("gw_hooked"):
            slider.sliderReleased.connect(meeting.slider_released)
            slider.setProperty("gw_hooked", True)


def _hook_presentation(window) -> None:
    """Log from presentation mode too: after F5 has opened the presentation window, follow its
    ``changed`` signal (views stepped, weights moved in the room)."""
    for action in window.findChildren(type(window.meeting_action)):
        if action.text() == T("pres_start"):
            action.triggered.connect(lambda _=False: QTimer.singleShot(0, lambda: _attach_presentation(window)))


def _attach_presentation(window) -> None:
    pres = getattr(window, "_presentation", None)
    if pres is not None:
        meeting_log(window.model).follow(pres)


def _rounded(weights: dict) -> dict:
    return {k: round(float(v), 3) for k, v in weights.items()}


class MeetingLog(QObject):
    """Writes the meeting's decisions to the workshop store as they settle.

    It watches the undo stack, the one record of what the user did: a scenario picked or a view
    opened is a ``scenario_switch``, consensus weights and a reset are one ``weight_change`` with
    every layer that moved, a group edit is a ``note``, an undo is an ``undo``. Slider moves are
    gathered and written as one ``weight_change`` (old and new weight) once the weights have been
    still for a second, so a drag is one entry, not one per pixel. The presentation window is
    followed the same way through its ``changed`` signal.
    """

    IDLE_MS = 1000

    def __init__(self, model):
        super().__init__()  # no Qt parent: lives as long as the model
        self.model = model
        self.running = False
        self.report = lambda text: model.error.emit(text)
        self._reported: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.IDLE_MS)
        self._timer.timeout.connect(self.flush)
        self._snapshot: dict[str, float] = {}
        self._last_seen: dict[str, float] = {}
        self._index = 0
        self._top = None
        self._pres = None
        self._pres_timer = QTimer(self)
        self._pres_timer.setSingleShot(True)
        self._pres_timer.setInterval(self.IDLE_MS)
        self._pres_timer.timeout.connect(self._flush_presentation)
        model.undo.indexChanged.connect(self._undo_moved)
        model.project_replaced.connect(self._project_replaced)

    # ------------------------------------------------------------------ start and stop

    def _weights(self) -> dict[str, float]:
        from .commands_scenarios import working_weights

        return working_weights(self.model)

    def _store(self):
        from .workshop_store import store_for

        store = store_for(self.model, language())
        if store is None:
            problem = getattr(self.model, "workshop_problem", "") or T("gw_no_store")
            if problem not in self._reported:
                self._reported.add(problem)
                self.report(problem)
        return store

    def _log(self, kind: str, **details) -> None:
        store = self._store()
        if store is None:
            return
        try:
            store.log(kind, **details)
        except SkiktError as exc:
            self.report(exc.text(language()))

    def start(self) -> bool:
        """Begin logging; False (and one line said) if the project has no workshop file yet."""
        self._reported.clear()
        if self._store() is None:
            return False
        self.running = True
        self._snapshot = self._last_seen = self._weights()
        self._index, self._top = self.model.undo.index(), self._top_command()
        self._log("note", meeting="start")
        return True

    def stop(self) -> None:
        if not self.running:
            return
        self.flush()
        self._flush_presentation()
        self._log("note", meeting="end")
        self.running = False

    def _project_replaced(self) -> None:
        self._timer.stop()
        self.running = False
        self._snapshot = self._last_seen = {}

    # ------------------------------------------------------------------ the main window

    def _top_command(self):
        index = self.model.undo.index()
        return self.model.undo.command(index - 1) if index > 0 else None

    def _undo_moved(self, index: int) -> None:
        # The stack clears itself (index 0) while the model that owns it is destroyed: nothing
        # happened in the meeting then, and the dead objects must not be touched. Any other error
        # is a real one and is left to surface.
        if not (shiboken6.isValid(self.model) and shiboken6.isValid(self.model.undo)):
            return
        self._follow_undo(index)

    def _follow_undo(self, index: int) -> None:
        before, previous = self._last_seen, self._index
        now = self._weights()
        self._last_seen, self._index = now, index
        top = self._top_command()
        merged, self._top = index == previous and top is self._top, top
        if not self.running or self.model.undo.count() == 0:
            return
        if index < previous:
            undone = self.model.undo.command(index)
            self.flush(before)
            self._log("undo", what=undone.text() if undone is not None else "")
            self._log_group_undone(undone)
            self._snapshot = now
            return
        if merged or top is None:
            self._weights_pending(before, now)
            return
        self._classify(top, before, now)

    def _log_group_undone(self, command) -> None:
        """An undone group edit also as the edit it amounts to (points back, a group gone or
        back): the memo compares the log's last points with the project's and must not flag an
        undo as a difference."""
        from .commands_groups import EditGroups

        if not isinstance(command, EditGroups):
            return
        done = command.log
        if {"group", "layer", "before", "after"} <= set(done):
            self._log("note", what="group", group=done["group"], layer=done["layer"], before=done["after"],
                      after=done["before"])
        elif "added" in done:
            self._log("note", what="group", group=done["group"], removed=done["added"])
        elif "removed" in done:
            self._log("note", what="group", group=done["group"], added=done["removed"])

    def _classify(self, command, before: dict, now: dict) -> None:
        from .commands_groups import ApplyConsensus, EditGroups
        from .commands_scenarios import OpenView, PickScenario, ResetToScenario

        if isinstance(command, (PickScenario, OpenView)):
            pick = command.pick if isinstance(command, OpenView) else command
            self.flush(before)
            details = {"from": pick.old_name or PROJECT_WEIGHTS, "to": pick.name or PROJECT_WEIGHTS}
            if isinstance(command, OpenView):
                details["view"] = command.name
            self._log("scenario_switch", **details)
            self._snapshot = now
        elif isinstance(command, (ApplyConsensus, ResetToScenario)):
            self.flush(before)
            source = "consensus" if isinstance(command, ApplyConsensus) else "reset"
            self._log_changes(before, now, source=source)
            self._snapshot = now
        elif isinstance(command, EditGroups):
            self.flush(before)
            self._log("note", **{"what": "group", **command.log})
        else:
            self._weights_pending(before, now)

    def slider_released(self) -> None:
        if self.running and self._timer.isActive():
            self.flush()

    def _weights_pending(self, before: dict, now: dict) -> None:
        if any(abs(before.get(k, v) - v) > 1e-12 for k, v in now.items()):
            self._timer.start()  # restarted by every move: one entry once the weights are still

    def flush(self, upto: dict | None = None) -> None:
        """Write the weight changes gathered since the last entry (up to ``upto``: the weights
        just before the event that ends them)."""
        self._timer.stop()
        if not self.running:
            return
        upto = self._weights() if upto is None else upto
        self._log_changes(self._snapshot, upto)
        self._snapshot = dict(upto)

    def _log_changes(self, before: dict, after: dict, **extra) -> None:
        changed = {k: (before[k], v) for k, v in after.items() if k in before and abs(before[k] - v) > 1e-9}
        if len(changed) == 1 and not extra:
            (layer, (old, new)), = changed.items()
            self._log("weight_change", layer=layer, before=round(old, 3), after=round(new, 3))
        elif changed:
            self._log("weight_change", changes={k: [round(a, 3), round(b, 3)] for k, (a, b) in changed.items()},
                      **extra)

    # ------------------------------------------------------------------ presentation mode

    def follow(self, pres) -> None:
        if pres is self._pres:
            return
        self._pres = pres
        self._pres_index = pres.index
        self._pres_kind = getattr(pres, "map_kind", "priority")
        self._pres_snapshot = self._pres_seen = dict(pres.weights)
        pres.changed.connect(self._presentation_changed)
        pres.closed.connect(self._flush_presentation)

    def _presentation_changed(self) -> None:
        pres = self._pres
        if pres is None:
            return
        before, now = self._pres_seen, dict(pres.weights)
        self._pres_seen = now
        kind, was_kind = getattr(pres, "map_kind", "priority"), getattr(self, "_pres_kind", "priority")
        self._pres_kind = kind
        if not self.running:
            self._pres_index, self._pres_snapshot = pres.index, now
            return
        if pres.index == self._pres_index and kind != was_kind:
            # G: the consensus puts the groups' mean shares (in %) in place of the room's weights,
            # and the next G gives them back. That is the map shown, not a weight the room moved:
            # logged as such, never as "3 → 28,3" (raw weights against percentages).
            self._flush_presentation(before)
            self._log("note", map=kind, source="presentation")
            self._pres_snapshot = now
            return
        if pres.index != self._pres_index:
            old = pres.views[self._pres_index] if self._pres_index < len(pres.views) else None
            self._flush_presentation(before)
            new = pres.view
            was, now_scenario = (old.scenario if old else None), new.scenario
            if was != now_scenario:
                self._log("scenario_switch", **{"from": was or PROJECT_WEIGHTS,
                                                "to": now_scenario or PROJECT_WEIGHTS, "view": new.name,
                                                "source": "presentation"})
            else:  # the same weights, another place: worth a line, not a scenario switch
                self._log("note", view=new.name, source="presentation")
            self._pres_index, self._pres_snapshot = pres.index, now
        elif any(abs(before.get(k, v) - v) > 1e-12 for k, v in now.items()):
            self._pres_timer.start()

    def _flush_presentation(self, upto: dict | None = None) -> None:
        self._pres_timer.stop()
        if self._pres is None or not self.running:
            return
        try:
            upto = dict(self._pres.weights) if upto is None else upto
        except RuntimeError:  # the presentation window is gone
            return
        changed = {k: (self._pres_snapshot[k], v) for k, v in upto.items()
                   if k in self._pres_snapshot and abs(self._pres_snapshot[k] - v) > 1e-9}
        if len(changed) == 1:
            (layer, (old, new)), = changed.items()
            self._log("weight_change", layer=layer, before=round(old, 3), after=round(new, 3),
                      source="presentation")
        elif changed:
            self._log("weight_change", changes={k: [round(a, 3), round(b, 3)] for k, (a, b) in changed.items()},
                      source="presentation")
        self._pres_snapshot = dict(upto)
