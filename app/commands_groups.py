"""Undoable commands for the workshop's groups (issue 11, item 4 in the app).

Every group edit — points in a cell, a new group, a removed one, a new name or colour — is one
``EditGroups`` command holding the [[groups]] tables before and after. The new tables are checked
(schema and ``read_groups``) before the command is pushed, so a refused edit is one line and never
half an undo step. The tables live in ``project.extra["groups"]``; saving merges them into the
tomlkit document by id, so comments and layout in the file survive.

``ApplyConsensus`` sets the live weights to the mean of the groups' normalised weight vectors, as
picking a scenario sets them: one undo step, and the weights panel follows.
"""

from __future__ import annotations

import copy

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from skikt.layers import groups as gr

from .commands_scenarios import set_working_weights, state, working_weights
from .i18n import T

MAX_SLIDER_WEIGHT = 20.0  # the weights panel's slider range


class GroupsState(QObject):
    """Says when the [[groups]] tables changed (by a command, an undo or a new project)."""

    changed = Signal()

    def __init__(self, model):
        super().__init__()  # no Qt parent: lives as long as the model, like FacilitatorState
        model.project_replaced.connect(self.changed)


def groups_state(model) -> GroupsState:
    got = getattr(model, "groups_state", None)
    if got is None:
        got = model.groups_state = GroupsState(model)
    return got


class EditGroups(QUndoCommand):
    """Replace the project's [[groups]] tables with ``after`` (checked now; raises one line)."""

    def __init__(self, model, after: list[dict], text: str, log: dict | None = None):
        super().__init__(text)
        self.model = model
        self.before = gr.group_entries(model.project)
        self.after = copy.deepcopy(after)
        self.log = log or {}  # what the decision log says about this edit
        gr.check_group_entries(model.project, self.after)

    def _apply(self, entries):
        gr.set_group_entries(self.model.project, entries)
        groups_state(self.model).changed.emit()

    def redo(self):
        self._apply(self.after)

    def undo(self):
        self._apply(self.before)


def set_points(model, gid: str, layer_id: str, points: float) -> EditGroups:
    entries = gr.group_entries(model.project)
    name = next((e.get("name") or gid for e in entries if e.get("id") == gid), gid)
    before = next((float((e.get("weights") or {}).get(layer_id, 0)) for e in entries if e.get("id") == gid), 0.0)
    return EditGroups(model, gr.with_points(entries, gid, layer_id, points),
                      T("gw_cmd_points").format(name=name, layer=_title(model, layer_id)),
                      {"group": gid, "layer": layer_id, "before": before, "after": float(points)})


def add_group(model, name: str, colour: str) -> EditGroups:
    entries = gr.group_entries(model.project)
    clean = name.strip() or T("gw_new_group")
    gid = gr.new_group_id(entries, clean)
    ids = [s.id for s in model.project.indicator_layers() if s.indicator.extra.get("active", True) is not False]
    entries.append({"id": gid, "name": clean, "colour": colour, "weights": gr.even_points(ids)})
    return EditGroups(model, entries, T("gw_cmd_add").format(name=clean), {"group": gid, "added": clean})


def remove_group(model, gid: str) -> EditGroups:
    entries = gr.group_entries(model.project)
    name = next((e.get("name") or gid for e in entries if e.get("id") == gid), gid)
    return EditGroups(model, [e for e in entries if e.get("id") != gid], T("gw_cmd_remove").format(name=name),
                      {"group": gid, "removed": name})


def rename_group(model, gid: str, name: str) -> EditGroups:
    entries = gr.group_entries(model.project)
    old = next((e.get("name") or gid for e in entries if e.get("id") == gid), gid)
    return EditGroups(model, gr.with_field(entries, gid, "name", name.strip()),
                      T("gw_cmd_rename").format(name=old, new=name.strip()), {"group": gid, "name": name.strip()})


def recolour_group(model, gid: str, colour: str) -> EditGroups:
    entries = gr.group_entries(model.project)
    name = next((e.get("name") or gid for e in entries if e.get("id") == gid), gid)
    return EditGroups(model, gr.with_field(entries, gid, "colour", colour.lower()),
                      T("gw_cmd_colour").format(name=name), {"group": gid, "colour": colour.lower()})


def _title(model, layer_id: str) -> str:
    try:
        return model.project.layer(layer_id).title
    except KeyError:
        return layer_id


# ------------------------------------------------------------------------------------------------
# Consensus as the live weights


def consensus_weights(model, gs) -> dict[str, float]:
    """The consensus shares scaled to live weights: the sum of the weights now is kept (so the
    sliders stay in the range people know), unless that would push one past the slider's end."""
    shares = np.asarray(gs.consensus_weights, float)
    total = sum(working_weights(model).values()) or float(len(shares))
    if shares.max() * total > MAX_SLIDER_WEIGHT:
        total = MAX_SLIDER_WEIGHT / shares.max()
    return {lid: float(s * total) for lid, s in zip(gs.layer_ids, shares)}


class ApplyConsensus(QUndoCommand):
    """The live weights become the groups' consensus. A layer switched out of the score that the
    groups give points to is switched back in: the consensus map must be the groups' consensus."""

    def __init__(self, model, gs):
        super().__init__(T("gw_cmd_consensus"))
        self.model = model
        self.target = consensus_weights(model, gs)
        self.old_weights = working_weights(model)
        self.old_extra = {s.id: dict(s.indicator.extra) for s in model.project.indicator_layers()}

    def redo(self):
        for spec in self.model.project.indicator_layers():
            if self.target.get(spec.id, 0) > 0:
                spec.indicator.extra.pop("active", None)
                spec.indicator.extra.pop("weight_when_counted", None)
        set_working_weights(self.model, self.target)
        state(self.model).changed.emit()

    def undo(self):
        for spec in self.model.project.indicator_layers():
            if spec.id in self.old_extra:
                spec.indicator.extra = dict(self.old_extra[spec.id])
        set_working_weights(self.model, self.old_weights)
        state(self.model).changed.emit()
