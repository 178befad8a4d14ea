"""The value-curve editor's one undoable step: a layer's normalisation becomes (or stops being)
a piecewise-linear curve through given points."""

from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from .i18n import T


def with_curve(indicator, points: list[list[float]]):
    """A copy of ``indicator`` normalised by the value curve ``points`` ([[raw, value], …])."""
    new = copy.deepcopy(indicator)
    new.normalize = "piecewise"
    new.extra = {**new.extra, "points": [[_plain(x), _plain(y)] for x, y in points]}
    return new


def _plain(v: float) -> int | float:
    """5000.0 is written 5000 in the project file: the curve reads as the user typed it."""
    v = float(v)
    return int(v) if v.is_integer() and abs(v) < 2**53 else v


class SetValueCurve(QUndoCommand):
    """Old and new indicator settings of one layer, both given: while the editor previews, the
    project already holds a curve that is not the one to go back to."""

    def __init__(self, model, layer_id: str, new_indicator, old_indicator):
        spec = model.project.layer(layer_id)
        super().__init__(T("cmd_curve").format(name=spec.title))
        self.model, self.layer_id = model, layer_id
        self.new, self.old = copy.deepcopy(new_indicator), copy.deepcopy(old_indicator)

    def redo(self):
        self.model.set_indicator(self.layer_id, self.new)

    def undo(self):
        self.model.set_indicator(self.layer_id, self.old)
