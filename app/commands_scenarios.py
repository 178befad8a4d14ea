"""Undoable commands for scenarios and saved views (issue 10, items 1 and 3 in the app).

The plain edits live in the core (``layers.scenarios`` / ``layers.views``); each command here wraps
one of them and keeps what its undo needs. Every command is checked on a copy of the project
before it is pushed (``checked``), so a refused edit (a taken name, say) is one line for the user
and never half an undo step.

Which scenario is *current* is app state, not project data: it lives in a small
:class:`FacilitatorState` hung on the model. The sliders always show the current scenario's
*working* weights (the project's indicator weights). Moving a slider changes them; "Återställ
till scenario" brings back the scenario's saved weights; "Spara som scenario" stores the working
weights under a name (a new scenario, or the same name to update it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from skikt.layers import scenarios as sc
from skikt.layers import views as vw

from .i18n import T


class FacilitatorState(QObject):
    """The current scenario and the project's own weights remembered while a scenario is shown."""

    changed = Signal()

    def __init__(self, model):
        super().__init__()  # no Qt parent, for the reason given in autosave.Autosaver
        self.model = model
        self.current: str | None = None  # None: the project's own weights
        self.base_weights: dict[str, float] | None = None  # the project's weights before a scenario was picked
        model.project_replaced.connect(self.reset)

    def reset(self) -> None:
        self.current, self.base_weights = None, None
        self.changed.emit()


def state(model) -> FacilitatorState:
    got = getattr(model, "facilitator_state", None)
    if got is None:
        got = model.facilitator_state = FacilitatorState(model)
    return got


def working_weights(model) -> dict[str, float]:
    return {s.id: float(s.indicator.weight) for s in model.project.indicator_layers()}


def saved_weights(model, name: str | None) -> dict[str, float]:
    """The weights a scenario was saved with (None: the project's own, as remembered)."""
    # The ids a scenario leaves out keep the project's own weights, not those of the scenario
    # shown now (which the layers hold while it is current).
    base = dict(working_weights(model))
    base.update(state(model).base_weights or {})
    if name is not None:
        base.update(sc.find_scenario(model.project, name).weights)
    return base


def is_modified(model) -> bool:
    """True when a slider has moved since the current scenario was picked, reset or saved."""
    saved = saved_weights(model, state(model).current)
    return any(abs(saved.get(lid, w) - w) > 1e-9 for lid, w in working_weights(model).items())


def set_working_weights(model, weights: dict[str, float]) -> None:
    current = working_weights(model)
    for lid, w in weights.items():
        if lid in current and abs(current[lid] - float(w)) > 1e-12:
            model.set_weight(lid, float(w))


def _set_current(model, name: str | None) -> None:
    st = state(model)
    if st.current is None and name is not None and st.base_weights is None:
        st.base_weights = working_weights(model)  # the project's own weights, to come back to
    st.current = name
    if name is None:
        st.base_weights = None
    st.changed.emit()


def checked(model, edit) -> None:
    """Run ``edit`` on a copy of the project: raises the core's one-line error if it is refused."""
    edit(model.project.copy())


# ------------------------------------------------------------------------------------------------
# Scenarios


class PickScenario(QUndoCommand):
    """Show scenario ``name`` (None: the project's own weights): the sliders take its weights."""

    def __init__(self, model, name: str | None):
        super().__init__(T("cmd_pick_scenario").format(name=name or T("project_weights")))
        self.model, self.name = model, name
        self.old_name, self.old_weights = state(model).current, working_weights(model)
        self.old_base = state(model).base_weights

    def redo(self):
        target = saved_weights(self.model, self.name)
        _set_current(self.model, self.name)
        set_working_weights(self.model, target)
        state(self.model).changed.emit()

    def undo(self):
        st = state(self.model)
        st.current, st.base_weights = self.old_name, self.old_base
        set_working_weights(self.model, self.old_weights)
        st.changed.emit()


class ResetToScenario(QUndoCommand):
    """Bring back the current scenario's saved weights (undoing the slider moves made since)."""

    def __init__(self, model):
        super().__init__(T("cmd_reset_scenario").format(name=state(model).current or T("project_weights")))
        self.model, self.old_weights = model, working_weights(model)

    def redo(self):
        set_working_weights(self.model, saved_weights(self.model, state(self.model).current))
        state(self.model).changed.emit()

    def undo(self):
        set_working_weights(self.model, self.old_weights)
        state(self.model).changed.emit()


class SaveAsScenario(QUndoCommand):
    """Store the working weights as scenario ``name``: a new one, or an update of the one of that
    name. The saved scenario becomes the current one."""

    def __init__(self, model, name: str, description: str = ""):
        super().__init__(T("cmd_save_scenario").format(name=name.strip()))
        self.model, self.name, self.description = model, name.strip(), description
        self.weights = working_weights(model)
        self.exists = self.name in sc.scenario_names(model.project)
        self.old_name, self.old_base = state(model).current, state(model).base_weights
        self.before = None
        checked(model, self._edit)

    def _edit(self, project):
        if self.exists:
            return sc.set_scenario_weights(project, self.name, self.weights)
        return sc.add_scenario(project, self.name, self.weights, self.description)

    def redo(self):
        self.before = self._edit(self.model.project)
        _set_current(self.model, self.name)

    def undo(self):
        if self.exists:
            sc.restore_scenario_weights(self.model.project, self.name, self.before)
        else:
            sc.delete_scenario(self.model.project, self.name)
        st = state(self.model)
        st.current, st.base_weights = self.old_name, self.old_base
        st.changed.emit()


class RenameScenario(QUndoCommand):
    def __init__(self, model, old: str, new: str):
        super().__init__(T("cmd_rename_scenario").format(name=old, new=new.strip()))
        self.model, self.old, self.new = model, old, new.strip()
        checked(model, lambda p: sc.rename_scenario(p, old, new))

    def _rename(self, a, b):
        sc.rename_scenario(self.model.project, a, b)
        st = state(self.model)
        if st.current == a:
            st.current = b
        st.changed.emit()

    def redo(self):
        self._rename(self.old, self.new)

    def undo(self):
        self._rename(self.new, self.old)


class DeleteScenario(QUndoCommand):
    """Delete a scenario; views that showed it show the project's weights (undo puts it all back).
    Deleting the current scenario keeps the weights on screen as the project's own."""

    def __init__(self, model, name: str):
        super().__init__(T("cmd_delete_scenario").format(name=name))
        self.model, self.name = model, name
        self.index, self.removed = None, None
        self.old_name, self.old_base = state(model).current, state(model).base_weights
        checked(model, lambda p: sc.delete_scenario(p, name))

    def redo(self):
        self.index, self.removed = sc.delete_scenario(self.model.project, self.name)
        st = state(self.model)
        if st.current == self.name:
            st.current, st.base_weights = None, None
        st.changed.emit()

    def undo(self):
        sc.insert_scenario(self.model.project, self.index, self.removed)
        st = state(self.model)
        st.current, st.base_weights = self.old_name, self.old_base
        st.changed.emit()


# ------------------------------------------------------------------------------------------------
# Saved views


def visible_ids(model) -> list[str]:
    return [s.id for s in model.project.layers if s.visible]


class NewView(QUndoCommand):
    """A view of the map on screen: its extent, the visible layers and the current scenario."""

    def __init__(self, model, extent, name: str | None = None):
        scenario = state(model).current
        self.view = vw.view_from_state(model.project, extent, visible_ids(model), scenario, name=name)
        super().__init__(T("cmd_new_view").format(name=self.view.name))
        self.model, self.index = model, None

    def redo(self):
        self.index = vw.add_view(self.model.project, _copy_view(self.view))
        state(self.model).changed.emit()

    def undo(self):
        vw.delete_view(self.model.project, self.view.name)
        state(self.model).changed.emit()


def _copy_view(view):
    import copy

    return copy.deepcopy(view)


class RenameView(QUndoCommand):
    def __init__(self, model, old: str, new: str):
        super().__init__(T("cmd_rename_view").format(name=old, new=new.strip()))
        self.model, self.old, self.new = model, old, new.strip()
        checked(model, lambda p: vw.rename_view(p, old, new))

    def redo(self):
        vw.rename_view(self.model.project, self.old, self.new)
        state(self.model).changed.emit()

    def undo(self):
        vw.rename_view(self.model.project, self.new, self.old)
        state(self.model).changed.emit()


class DeleteView(QUndoCommand):
    def __init__(self, model, name: str):
        super().__init__(T("cmd_delete_view").format(name=name))
        self.model, self.name, self.index, self.removed = model, name, None, None
        checked(model, lambda p: vw.delete_view(p, name))

    def redo(self):
        self.index, self.removed = vw.delete_view(self.model.project, self.name)
        state(self.model).changed.emit()

    def undo(self):
        vw.insert_view(self.model.project, self.index, _copy_view(self.removed))
        state(self.model).changed.emit()


class MoveView(QUndoCommand):
    def __init__(self, model, name: str, index: int):
        super().__init__(T("cmd_move_view").format(name=name))
        self.model, self.name, self.index, self.old = model, name, index, None

    def redo(self):
        self.old = vw.move_view(self.model.project, self.name, self.index)
        state(self.model).changed.emit()

    def undo(self):
        vw.move_view(self.model.project, self.name, self.old)
        state(self.model).changed.emit()


class OpenView(QUndoCommand):
    """Open a view: its layers visible (the others hidden) and its scenario's weights. The map's
    extent is set by the panel; panning is not an undo step anywhere in the app."""

    def __init__(self, model, name: str):
        super().__init__(T("cmd_open_view").format(name=name))
        self.model, self.name = model, name
        self.view = vw.find_view(model.project, name)
        self.old_visible = {s.id: s.visible for s in model.project.layers}
        self.pick = PickScenario(model, self.view.scenario)

    def redo(self):
        if self.view.layers is not None:
            shown = set(self.view.layers)
            for spec in self.model.project.layers:
                if spec.visible != (spec.id in shown):
                    self.model.set_visible(spec.id, spec.id in shown)
        self.pick.redo()

    def undo(self):
        self.pick.undo()
        for spec in self.model.project.layers:
            old = self.old_visible.get(spec.id, spec.visible)
            if spec.visible != old:
                self.model.set_visible(spec.id, old)
