"""Undoable commands for the decision methods (issue 12 in the app): how the score is combined
([combine] method/alpha), pairwise (AHP) weights as the live weights, as a scenario or as a
group's points.

Each command keeps what its undo needs and changes the project through the model, so the map,
the sliders and the legend follow as they do for a weight slider.
"""

from __future__ import annotations

import copy

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand

from skikt.layers import scenarios as sc
from skikt.layers.ahp import project_ahp
from skikt.layers.errors import SkiktError
from skikt.layers.uncertainty import DEFAULT_SEED, iter_monte_carlo, p_top_map
from skikt.layers.workspace import Cancelled

from .commands_scenarios import checked, set_working_weights, state, working_weights
from .i18n import T, language
from .workers import Worker

METHOD_KEYS = {"mean": "combine_mean", "geometric": "combine_geometric", "owa": "combine_owa"}
GROUP_POINTS = 100.0  # a group's weights are points out of a hundred (the workshop's habit)
POINT_STEP = 0.1  # points are written to one decimal, adding up to exactly GROUP_POINTS
DEFAULT_DRAWS, DEFAULT_SPREAD = 1000, 0.2  # as `skikt score --uncertainty 1000 --spread 0.2`
RESTART_DELAY_MS = 300  # after the last weight change, so a slider drag does not start a job per step


# ------------------------------------------------------------------------------------------------
# [combine]


def combine_table(project) -> dict | None:
    table = project.extra.get("combine")
    return dict(table) if table is not None else None


def set_combine(model, table: dict | None) -> None:
    """Write [combine] (None removes it) and rescore with the live weights at once: the model's
    own recombination only notices new weights, not a new way of combining them."""
    if table is None:
        model.project.extra.pop("combine", None)
    else:
        model.project.extra["combine"] = dict(table)
    rescore(model)


def rescore(model) -> None:
    ws = model.ws
    if ws.normalised is None:
        return
    ws.recombine(model.live_weights())
    model.composite_changed.emit()


def composite_is_stale(model) -> bool:
    """True when the live scores were combined another way than [combine] says (a computation
    that started before the method changed hands over scores of the old method)."""
    c = model.ws.composite
    if c is None:
        return False
    try:
        method, alpha = model.ws.combine_method()
    except Exception:  # noqa: BLE001 - a bad table is reported when the project is read
        return False
    return c.method != method or (method == "owa" and c.alpha != alpha)


class SetCombine(QUndoCommand):
    """[combine] method and alpha. Steps of the OWA slider merge into one undo step, as a weight
    slider's do; a choice in the method box is a step of its own."""

    SLIDER_ID = 1201

    def __init__(self, model, method: str, alpha: float, from_slider: bool = False):
        super().__init__(T("cmd_combine").format(method=T(METHOD_KEYS[method])))
        self.model, self.from_slider = model, from_slider
        self.old = combine_table(model.project)
        self.new = {"method": method, "alpha": float(alpha)}

    def id(self):
        return self.SLIDER_ID if self.from_slider else -1

    def mergeWith(self, other):
        if other.id() != self.id() or self.id() < 0:
            return False
        self.new = other.new
        self.setText(other.text())
        return True

    def redo(self):
        set_combine(self.model, self.new)

    def undo(self):
        set_combine(self.model, self.old)


# ------------------------------------------------------------------------------------------------
# Pairwise weights


def scaled_weights(model, result) -> dict[str, float]:
    """The AHP weights as live weights: scaled to the compared layers' present total, so the
    sliders stay in the range people know and the layers left out keep their share (as
    ``layers.ahp.apply_ahp`` does for a subset). The shares, and so the map, are the AHP's."""
    now = working_weights(model)
    total = sum(now.get(lid, 0.0) for lid in result.order)
    if not total > 0:
        total = float(len(result.order))
    return {lid: float(w) * total for lid, w in zip(result.order, result.weights)}


def ahp_table(result) -> dict:
    """[ahp] as it is saved: the compared layers and the judgements (rounded reciprocals)."""
    return {"order": list(result.order),
            "matrix": [[_tidy(v) for v in row] for row in np.asarray(result.matrix, float)]}


def _tidy(value: float) -> float | int:
    """1, 3, 0.3333: the reciprocal of a whole judgement to four decimals (check_matrix accepts
    reciprocals within 1 %), whole judgements as integers."""
    return int(round(value)) if abs(value - round(value)) < 1e-9 else round(float(value), 4)


class ApplyAhp(QUndoCommand):
    """The pairwise comparisons become the live weights and the project's [ahp] table: one step."""

    def __init__(self, model, result):
        super().__init__(T("cmd_ahp_apply"))
        self.model = model
        self.new_weights, self.old_weights = scaled_weights(model, result), working_weights(model)
        self.new_table = ahp_table(result)
        self.old_table = copy.deepcopy(model.project.extra.get("ahp"))

    def _apply(self, table, weights):
        if table is None:
            self.model.project.extra.pop("ahp", None)
        else:
            self.model.project.extra["ahp"] = copy.deepcopy(table)
        set_working_weights(self.model, weights)
        state(self.model).changed.emit()  # the scenario list shows "(ändrat)" when it now differs

    def redo(self):
        self._apply(self.new_table, self.new_weights)

    def undo(self):
        self._apply(self.old_table, self.old_weights)


class SaveAhpScenario(QUndoCommand):
    """Store the pairwise weights as scenario ``name`` (new, or the saved weights of the one of
    that name) without changing the weights on screen."""

    def __init__(self, model, name: str, result):
        super().__init__(T("cmd_ahp_scenario").format(name=name.strip()))
        self.model, self.name = model, name.strip()
        self.weights = scaled_weights(model, result)
        self.exists = self.name in sc.scenario_names(model.project)
        self.before = None
        checked(model, self._edit)  # a refused name is one line before anything is pushed

    def _edit(self, project):
        if self.exists:
            return sc.set_scenario_weights(project, self.name, self.weights)
        return sc.add_scenario(project, self.name, self.weights, T("ahp_scenario_description"))

    def redo(self):
        self.before = self._edit(self.model.project)
        state(self.model).changed.emit()

    def undo(self):
        if self.exists:
            sc.restore_scenario_weights(self.model.project, self.name, self.before)
        else:
            sc.delete_scenario(self.model.project, self.name)
        state(self.model).changed.emit()


def hundred_points(order, weights) -> dict[str, float]:
    """Weights as points to one decimal that add up to exactly 100 (largest remainders get the
    last tenths), so the group table shows what a room would write on a flip chart."""
    w = np.asarray(weights, float)
    tenths = w / w.sum() * GROUP_POINTS / POINT_STEP
    whole = np.floor(tenths).astype(int)
    short = int(round(GROUP_POINTS / POINT_STEP)) - int(whole.sum())
    for i in np.argsort(-(tenths - whole), kind="stable")[:short]:
        whole[i] += 1
    return {lid: round(int(t) * POINT_STEP, 1) for lid, t in zip(order, whole)}


def group_entries(project) -> list[dict]:
    """A copy of the project's [[groups]] tables."""
    return copy.deepcopy(list(project.extra.get("groups") or []))


def give_to_group(model, group_id: str, result) -> QUndoCommand:
    """An undoable edit of [[groups]] with the group's points set from the pairwise weights
    (layers the comparisons leave out get 0 points): the workshop's own command
    (app/commands_groups.EditGroups) where it exists, so its views follow, else ours."""
    entries = group_entries(model.project)
    points = hundred_points(result.order, result.weights)
    layer_ids = [s.id for s in model.project.indicator_layers()]
    name = group_id
    for entry in entries:
        if entry.get("id") == group_id:
            name = entry.get("name") or group_id
            entry["weights"] = {lid: points.get(lid, 0.0) for lid in layer_ids}
    text = T("cmd_group_weights").format(name=name)
    try:
        from .commands_groups import EditGroups
    except ImportError:
        return SetGroups(model, entries, text)
    return EditGroups(model, entries, text, {"group": group_id, "ahp": points})


class SetGroups(QUndoCommand):
    """Replace the [[groups]] tables (checked on a copy first: a refused edit is one line)."""

    def __init__(self, model, after: list[dict], text: str):
        from skikt.layers.groups import read_groups

        super().__init__(text)
        self.model, self.after, self.before = model, copy.deepcopy(after), group_entries(model.project)
        trial = copy.copy(model.project)
        trial.extra = {**model.project.extra, "groups": self.after}
        read_groups(trial)

    def redo(self):
        self.model.project.extra["groups"] = copy.deepcopy(self.after)

    def undo(self):
        self.model.project.extra["groups"] = copy.deepcopy(self.before)


# ------------------------------------------------------------------------------------------------
# What the decision methods keep per model (survives a window rebuilt for another language)


class DecisionState(QObject):
    """The p_top map's settings and result, computed on a worker thread, and the project's [ahp]
    applied when a project is opened. One per model: the panel and the installer of every window
    read it, none owns it.

    The p_top job works on a fork of the workspace (its normalised arrays are shared, never
    changed in place); the GUI thread takes the result over in ``_finished``. A job for weights
    that have changed since is shown as stale and a new one is started (the newest wins).
    """

    ptop_changed = Signal()  # a new result, a result gone stale, or the map switched off
    ptop_progress = Signal(float)
    ptop_busy = Signal(bool)
    ptop_failed = Signal(str)

    def __init__(self, model):
        super().__init__()  # no Qt parent, for the reason given in autosave.Autosaver
        self.model = model
        self.ptop_on = False
        self.draws, self.spread = DEFAULT_DRAWS, DEFAULT_SPREAD
        self.result = None  # layers.uncertainty.Uncertainty of the newest finished job
        self._source = None  # the Normalised it was computed from (see job)
        self.result_key = None  # what it was computed for (see _key)
        self.worker = Worker(self)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.cancelled.connect(self._cancelled)
        self.worker.progress.connect(lambda frac, _msg: self.ptop_progress.emit(frac))
        self.worker.busy_changed.connect(self.ptop_busy)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RESTART_DELAY_MS)
        self._timer.timeout.connect(self._start)
        model.composite_changed.connect(self._composite_changed)
        model.computed.connect(self._computed)
        model.project_replaced.connect(self._project_replaced)
        self._ahp_applied_to = None  # the project whose [ahp] set the live weights

    # ------------------------------------------------------------------ [ahp] on opening

    def _project_replaced(self) -> None:
        self.worker.abandon()
        self.result, self.result_key = None, None
        self.ptop_changed.emit()
        self.apply_project_ahp()

    def apply_project_ahp(self) -> None:
        """A project with [ahp] opens with the pairwise weights, as ``skikt score`` scores it
        (part of opening, not an undo step). Scaled like the dialog's result, same shares."""
        project = self.model.project
        if self._ahp_applied_to is project:
            return
        self._ahp_applied_to = project
        try:
            result = project_ahp(project)
        except SkiktError as exc:
            self.model.error.emit(exc.text(language()))
            return
        if result is not None:
            for lid, w in scaled_weights(self.model, result).items():
                project.layer(lid).indicator.weight = w

    # ------------------------------------------------------------------ scores

    def _computed(self) -> None:
        if composite_is_stale(self.model):
            rescore(self.model)

    # ------------------------------------------------------------------ p_top

    def _key(self):
        ws = self.model.ws
        c = ws.composite
        if c is None or ws.normalised is None or c.no_weights or self.model.no_map_reason:
            return None
        return (id(ws.normalised), tuple(np.asarray(c.weights, float).tolist()), c.method, c.alpha, c.k,
                self.draws, self.spread)

    @property
    def stale(self) -> bool:
        return self.result is not None and self.result_key != self._key()

    def set_enabled(self, on: bool) -> None:
        self.ptop_on = bool(on)
        if on:
            self._start()
        else:
            self.worker.cancel()
        self.ptop_changed.emit()

    def set_params(self, draws: int, spread: float) -> None:
        if (draws, spread) != (self.draws, self.spread):
            self.draws, self.spread = int(draws), float(spread)
            self._composite_changed()

    def cancel(self) -> None:
        self.worker.cancel()

    def _composite_changed(self) -> None:
        if self.ptop_on and self._key() != self.result_key:
            self.ptop_changed.emit()  # shown as stale until the new result is in
            self._timer.start()  # a slider drag restarts the wait, not the job

    def _start(self) -> None:
        key = self._key()
        if not self.ptop_on or key == self.result_key:
            return
        if key is None:
            self.worker.cancel()
            self.result, self.result_key = None, None
            self.ptop_changed.emit()
            return
        fork = self.model.ws.fork()
        c = fork.composite
        weights, k, method, alpha = np.asarray(c.weights, float).copy(), c.k, c.method, c.alpha
        draws, spread = self.draws, self.spread

        def job(cancel):
            steps = iter_monte_carlo(fork.normalised, weights, draws, spread, k, method, alpha, DEFAULT_SEED)
            while True:
                try:
                    frac = next(steps)
                except StopIteration as done:
                    # The normalised matrix goes back with the result: held, its id (in the key)
                    # cannot be reused by a newer matrix while the result is shown.
                    return key, done.value, fork.normalised
                if cancel():
                    raise Cancelled()
                yield frac, "p_top"

        self.worker.start(job)

    def _finished(self, payload) -> None:
        self.result_key, self.result, self._source = payload
        self.ptop_changed.emit()
        if self.ptop_on and self._key() != self.result_key:
            self._timer.start()

    def _failed(self, msg: str) -> None:
        self.ptop_failed.emit(msg)

    def _cancelled(self) -> None:
        self.ptop_failed.emit(T("ptop_cancelled"))

    def unit_map(self):
        """The p_top map in the app's language, or None while there is no result."""
        if not self.ptop_on or self.result is None:
            return None
        return p_top_map(self.result, language())


def decision_state(model) -> DecisionState:
    got = getattr(model, "decision_state", None)
    if got is None:
        got = model.decision_state = DecisionState(model)
    return got
