"""Every user change is an undoable command over a plain model operation (Ctrl+Z / Ctrl+Shift+Z)."""

from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from .i18n import T


def _title(model, layer_id):
    try:
        return model.project.layer(layer_id).title
    except KeyError:
        return layer_id


class AddLayer(QUndoCommand):
    def __init__(self, model, spec, index: int = 0):
        super().__init__(T("cmd_add").format(name=spec.title))
        self.model, self.spec, self.index = model, copy.deepcopy(spec), index

    def redo(self):
        self.model.insert_layer(copy.deepcopy(self.spec), self.index)

    def undo(self):
        self.model.remove_layer(self.spec.id)


class RemoveLayer(QUndoCommand):
    def __init__(self, model, layer_id: str):
        super().__init__(T("cmd_remove").format(name=_title(model, layer_id)))
        self.model, self.layer_id = model, layer_id
        self.spec, self.index = None, 0

    def redo(self):
        self.spec, self.index = self.model.remove_layer(self.layer_id)

    def undo(self):
        self.model.insert_layer(copy.deepcopy(self.spec), self.index)


class MoveLayer(QUndoCommand):
    def __init__(self, model, layer_id: str, new_index: int):
        super().__init__(T("cmd_move").format(name=_title(model, layer_id)))
        self.model, self.layer_id, self.new_index, self.old_index = model, layer_id, new_index, None

    def redo(self):
        self.old_index = self.model.move_layer(self.layer_id, self.new_index)

    def undo(self):
        self.model.move_layer(self.layer_id, self.old_index)


class _SetValue(QUndoCommand):
    """Set one attribute of one layer; consecutive edits of the same layer merge into one step
    (a slider drag is one undo, not two hundred)."""

    ID = 0
    label = ""

    def __init__(self, model, layer_id: str, value, old):
        super().__init__(T(self.label).format(name=_title(model, layer_id)))
        self.model, self.layer_id, self.value, self.old = model, layer_id, value, old

    def id(self):
        return self.ID

    def mergeWith(self, other):
        if other.id() != self.id() or other.layer_id != self.layer_id or not self.ID:
            return False
        self.value = other.value
        return True

    def redo(self):
        self.apply(self.value)

    def undo(self):
        self.apply(self.old)


class SetWeight(_SetValue):
    """A weight set by hand. In a project whose weights come from pairwise comparisons (``[ahp]``)
    the comparisons are dropped in the same step: ``[ahp]`` wins whenever the project is read, so
    keeping it would quietly bring the old weights back at the next opening. Undo restores it."""

    ID, label = 1001, "cmd_weight"

    def __init__(self, model, layer_id, weight):
        super().__init__(model, layer_id, float(weight), model.project.layer(layer_id).indicator.weight)
        self.ahp_before = copy.deepcopy(model.project.extra.get("ahp"))

    def redo(self):
        if self.ahp_before is not None:
            self.model.project.extra.pop("ahp", None)
        super().redo()

    def undo(self):
        super().undo()
        if self.ahp_before is not None:
            self.model.project.extra["ahp"] = copy.deepcopy(self.ahp_before)

    def apply(self, v):
        self.model.set_weight(self.layer_id, v)


class SetOpacity(_SetValue):
    ID, label = 1002, "cmd_opacity"

    def __init__(self, model, layer_id, opacity):
        super().__init__(model, layer_id, float(opacity), model.project.layer(layer_id).opacity)

    def apply(self, v):
        self.model.set_opacity(self.layer_id, v)


class SetVisible(_SetValue):
    ID, label = 0, "cmd_visible"

    def __init__(self, model, layer_id, visible):
        super().__init__(model, layer_id, bool(visible), model.project.layer(layer_id).visible)

    def apply(self, v):
        self.model.set_visible(self.layer_id, v)


class SetStyle(_SetValue):
    ID, label = 0, "cmd_style"

    def __init__(self, model, layer_id, style: dict):
        super().__init__(model, layer_id, copy.deepcopy(style), copy.deepcopy(model.project.layer(layer_id).style))

    def apply(self, v):
        self.model.set_style(self.layer_id, v)


class SetIndicator(_SetValue):
    ID, label = 0, "cmd_indicator"

    def __init__(self, model, layer_id, indicator):
        super().__init__(model, layer_id, copy.deepcopy(indicator),
                         copy.deepcopy(model.project.layer(layer_id).indicator))

    def apply(self, v):
        self.model.set_indicator(self.layer_id, v)


class SetCounted(_SetValue):
    """'Counts in the score' on or off, apart from 'shown on the map'. Off keeps the weight the
    user set (``weight_when_counted``) and makes the stored weight 0, so every reader of the
    project (``skikt score``, exports) leaves the layer out without knowing the switch;
    ``active = false`` records the choice. On brings the remembered weight back."""

    ID, label = 0, "cmd_counted"

    def __init__(self, model, layer_id, counted: bool):
        ind = model.project.layer(layer_id).indicator
        extra = dict(ind.extra)
        if counted:
            weight = float(extra.pop("weight_when_counted", ind.weight or 1.0))
            extra.pop("active", None)
        else:
            extra.update(active=False, weight_when_counted=float(ind.weight))
            weight = 0.0
        super().__init__(model, layer_id, (weight, extra), (float(ind.weight), dict(ind.extra)))

    def apply(self, v):
        weight, extra = v
        self.model.project.layer(self.layer_id).indicator.extra = dict(extra)
        self.model.set_weight(self.layer_id, weight)
