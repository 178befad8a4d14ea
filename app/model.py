"""The app's single source of state: a Workspace, plus Qt signals saying what kind of change happened.

Widgets never change the project directly: they push an undoable command (app/commands.py),
and the command calls one of the methods here. Signals keep two kinds of change apart:

* ``look_changed``: visibility, opacity, order, style. Redraw only.
* ``data_changed``: layers added or removed, indicator settings. Recompute (in a worker), then
  ``computed`` fires.
* ``composite_changed``: new scores from new weights (the slider path, synchronous and cheap).

One thread owns the model. A recomputation runs on the worker's own copy of the workspace
(``Workspace.fork``: its own project and cache dicts, sharing the cached frames and arrays, which
are never changed in place); the GUI thread never looks at that copy while the job runs. When the
job ends, the GUI thread takes its results over (``_adopt``), applies the weights the user has set
*meanwhile*, and starts another job if data settings changed meanwhile: the newest always wins.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import sys
import traceback
from pathlib import Path

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from skikt.layers.errors import ProjectError, SkiktError
from skikt.layers.project import LayerSpec, Project, read_project, write_project
from skikt.layers.workspace import PHASE_VISIBLE, Workspace

from .i18n import T, language
from .workers import Worker, one_line


class AppModel(QObject):
    project_replaced = Signal()
    layers_changed = Signal()  # the list itself: added, removed, reordered
    look_changed = Signal(str)  # layer id ("" = several)
    data_changed = Signal()
    computed = Signal()
    composite_changed = Signal()
    layers_ready = Signal()  # the visible layers are loaded; the rest and the indicators follow
    selection_changed = Signal(object)  # unit index or None
    message = Signal(str)  # one-line status text
    error = Signal(str)  # one-line error the user must see
    dirty_changed = Signal(bool)
    no_map_changed = Signal(str)  # why there is no priority map ("" once there is one)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ws = Workspace(Project())
        self.undo = QUndoStack(self)
        self.undo.cleanChanged.connect(self._clean_changed)
        # One thread for workspace jobs: a newer job queues behind the cancelled older one. Each
        # job updates its own fork of the workspace; only the GUI thread changes ``self.ws``.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skikt-compute")
        self.worker = Worker(self, self._executor)
        self.worker.finished.connect(self._on_computed)
        self.worker.partial.connect(self._on_partial)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._cancelled)
        self.selected: int | None = None
        self.no_map_reason = ""
        self._running: Workspace | None = None  # the newest job's own workspace; read only after it ended
        self._reweight_timer = QTimer(self)
        self._reweight_timer.setSingleShot(True)
        self._reweight_timer.setInterval(0)
        self._reweight_timer.timeout.connect(self._recombine_now)
        self._reported_errors: set[str] = set()

    # Bound methods, not lambdas: Qt drops a connection to a method when its object dies.
    def _clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    def _cancelled(self) -> None:
        # The layers the cancelled job loaded are kept (they are drawn and not read again);
        # its units and indicators are not, so the live scores stay those of the live units.
        if self._running is not None:
            self.ws.layers, self.ws.errors = self._running.layers, self._running.errors
            self._running = None
            self.layers_ready.emit()
        self.message.emit(T("cancelled"))

    # ------------------------------------------------------------------ project

    @property
    def project(self) -> Project:
        return self.ws.project

    def open_project(self, path) -> None:
        """Open a project in the background. A file that cannot be read at all raises SkiktError
        (one line); bad layers are left out and each is reported with its own line, once the
        window is there to show it."""
        project, problems = read_leniently(path)
        self.set_project(project)
        if problems:
            # Queued: at start-up this runs before the window exists to show the messages.
            QTimer.singleShot(0, lambda: self._report_problems(problems))

    def set_project_sync(self, path) -> None:
        """Open and compute without a worker thread (screenshots, tests, benchmarks)."""
        project, problems = read_leniently(path)
        self._replace_project(project)
        self._report_problems(problems)
        self.recompute(synchronous=True)

    def set_project(self, project: Project) -> None:
        self._replace_project(project)
        self.recompute()

    def _replace_project(self, project: Project) -> None:
        self.worker.abandon()  # a late result of the old project's job must not be adopted
        self.worker.wait()
        self.ws = Workspace(project)
        self._running = None
        self.undo.clear()
        self.selected = None
        self._reported_errors.clear()
        self._set_no_map("")
        self.project_replaced.emit()

    def _report_problems(self, problems: list[SkiktError]) -> None:
        for exc in problems:
            self.error.emit(exc.text(language()))

    def save(self, path=None) -> Path:
        out = write_project(self.project, path)
        self.undo.setClean()
        return out

    # ------------------------------------------------------------------ computing

    def recompute(self, synchronous: bool = False) -> None:
        """Bring the workspace up to date; only what changed is recomputed (see Workspace caches).

        The job works on a fork; the GUI thread keeps drawing and recombining the live workspace
        until the job's results are handed over in ``_on_computed``.
        """
        fork = self.ws.fork()
        self._running = fork

        def job(cancel):
            for frac, msg in fork.iter_update(cancel=cancel, strict=False):
                if msg == PHASE_VISIBLE:  # a copy of what is loaded so far: the first map
                    yield frac, msg, (dict(fork.layers), dict(fork.errors))
                else:
                    yield frac, msg
            return fork

        if not synchronous:
            self.worker.start(job)
            return
        try:
            for _ in job(lambda: False):
                pass
        except SkiktError as exc:
            self._on_failed(exc.text(language()))
            return
        self._on_computed(fork)

    def _on_partial(self, payload) -> None:
        layers, errors = payload
        self.ws.layers, self.ws.errors = layers, errors
        self.layers_ready.emit()

    def _adopt(self, fork: Workspace) -> None:
        """Take over what a finished job computed; the live project (weights, looks) stays."""
        live = self.ws
        for f in dataclasses.fields(live):
            if f.name != "project":
                setattr(live, f.name, getattr(fork, f.name))
        n = live.units.n if live.units is not None else None
        if live.normalised is not None and live.normalised.norm.shape[1] != n:
            live.normalised = None  # a job that failed after building new units
        if live.composite is not None and len(live.composite.score) != n:
            live.composite = None

    def _on_computed(self, fork) -> None:
        if fork is not None:
            self._adopt(fork)
        self._running = None
        self._apply_weights()
        self._report_layer_errors()
        if self.selected is not None and (self.ws.units is None or self.selected >= self.ws.units.n):
            self.selected = None
        self.computed.emit()
        self.composite_changed.emit()
        if fork is not None and data_signature(fork.project) != data_signature(self.project):
            self.recompute()  # data settings changed while it ran and no newer job was started

    def _on_failed(self, msg: str) -> None:
        if self._running is not None:  # show what did load, e.g. every layer but no units
            self._adopt(self._running)
            self._running = None
            self._apply_weights()
        self._report_layer_errors()
        self.error.emit(msg)
        self.computed.emit()
        self.composite_changed.emit()

    def _report_layer_errors(self) -> None:
        for exc in self.ws.errors.values():
            msg = exc.text(language())
            if msg not in self._reported_errors:
                self._reported_errors.add(msg)
                self.error.emit(msg)

    # ------------------------------------------------------------------ weights → scores

    def live_weights(self) -> list[float]:
        """The project's current weight for each computed indicator; 0 for one removed meanwhile."""
        out = []
        for lid in self.ws.normalised.layer_ids:
            try:
                out.append(float(self.project.layer(lid).indicator.weight))
            except (KeyError, AttributeError):
                out.append(0.0)
        return out

    def _apply_weights(self) -> None:
        """Scores for the live weights. Without an indicator or with every weight at zero there
        is no priority map, and the model says why (the map, legend and status bar show it)."""
        ws = self.ws
        if ws.normalised is None:
            ws.composite = None
            self._set_no_map(T("no_map_no_indicator") if ws.units is not None else "")
            return
        weights = self.live_weights()
        if not weights:
            reason = T("no_map_no_indicator")
        elif not sum(weights) > 0:
            reason = T("no_map_zero_weights")
        else:
            reason = ""
        if not self._composite_is_for(weights):
            try:
                # The core marks a composite without weights (``no_weights``) and the scene
                # draws the note on the map; a core that cannot combine them leaves none.
                ws.recombine(weights)
            except (SkiktError, ZeroDivisionError, FloatingPointError, ValueError):
                if not reason:
                    raise
                ws.composite = None
        self._set_no_map(reason)

    def _composite_is_for(self, weights: list[float]) -> bool:
        c = self.ws.composite
        return (c is not None and c.normalised is self.ws.normalised
                and np.array_equal(np.asarray(c.weights, np.float32), np.asarray(weights, np.float32)))

    def _set_no_map(self, reason: str) -> None:
        if reason != self.no_map_reason:
            self.no_map_reason = reason
            self.no_map_changed.emit(reason)

    # ------------------------------------------------------------------ anything unexpected

    def report_unexpected(self, exc: BaseException) -> str:
        """A bug, not bad input: the traceback goes to stderr, one line to the user."""
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        line = one_line(exc)
        self.error.emit(line)
        return line

    # ------------------------------------------------------------------ edits (called by commands)

    def insert_layer(self, spec: LayerSpec, index: int) -> None:
        self.project.layers.insert(index, spec)
        self.layers_changed.emit()
        self.data_changed.emit()
        self.recompute()

    def remove_layer(self, layer_id: str) -> tuple[LayerSpec, int]:
        idx = next(i for i, s in enumerate(self.project.layers) if s.id == layer_id)
        spec = self.project.layers.pop(idx)
        self.ws.forget(layer_id)
        self.layers_changed.emit()
        self.data_changed.emit()
        self.recompute()
        return spec, idx

    def move_layer(self, layer_id: str, new_index: int) -> int:
        layers = self.project.layers
        old = next(i for i, s in enumerate(layers) if s.id == layer_id)
        spec = layers.pop(old)
        layers.insert(max(0, min(new_index, len(layers))), spec)
        self.layers_changed.emit()
        self.look_changed.emit(layer_id)
        return old

    def set_visible(self, layer_id: str, visible: bool) -> None:
        self.project.layer(layer_id).visible = bool(visible)
        self.look_changed.emit(layer_id)

    def set_opacity(self, layer_id: str, opacity: float) -> None:
        self.project.layer(layer_id).opacity = float(opacity)
        self.look_changed.emit(layer_id)

    def set_style(self, layer_id: str, style: dict) -> None:
        self.project.layer(layer_id).style = copy.deepcopy(style)
        self.look_changed.emit(layer_id)

    def set_weight(self, layer_id: str, weight: float) -> None:
        """The slider path: scores are recombined on the next event-loop turn, once, with the
        newest weights; a burst of slider events costs one recombination. While a job runs, this
        recombines the live (previous) indicators; the job's result gets the newest weights too."""
        self.project.layer(layer_id).indicator.weight = float(weight)
        self._reweight_timer.start()

    def _recombine_now(self) -> None:
        if self.ws.normalised is None:
            return
        self._apply_weights()
        self.composite_changed.emit()

    def set_indicator(self, layer_id: str, indicator) -> None:
        """Direction, normalisation or method: a data change for one layer (cached elsewhere)."""
        self.project.layer(layer_id).indicator = copy.deepcopy(indicator)
        self.data_changed.emit()
        self.recompute()

    def select_unit(self, index: int | None) -> None:
        self.selected = index
        self.selection_changed.emit(index)

    def new_layer_id(self, stem: str) -> str:
        import re

        base = re.sub(r"[^a-z0-9_]+", "_", stem.lower().translate(str.maketrans("åäöé", "aaoe"))).strip("_") or "lager"
        ids = {s.id for s in self.project.layers}
        lid, n = base, 2
        while lid in ids:
            lid, n = f"{base}_{n}", n + 1
        return lid


# ---------------------------------------------------------------------------------------------


def data_signature(project: Project) -> tuple:
    """Everything in a project that needs a recomputation when it changes (not weights, looks
    or layer order)."""
    fields = ("method", "column", "aggregate", "direction", "normalize", "scheme", "k")
    layers = []
    for s in sorted(project.layers, key=lambda s: s.id):
        ind = s.indicator
        layers.append((s.id, s.load_key(), None if ind is None else tuple(getattr(ind, f, None) for f in fields)))
    return (str(project.crs), project.units.key(), tuple(layers))


def read_leniently(path) -> tuple[Project, list[SkiktError]]:
    """The project with its bad layers left out, and one error per bad layer.

    A file that cannot be read at all (missing, not TOML, a newer schema) raises SkiktError. Any
    other exception is a bug in reading: logged to stderr and turned into one line, so a bad
    project never takes the app down before its window opens.
    """
    try:
        if "lenient" in inspect.signature(read_project).parameters:
            got = read_project(path, lenient=True)
        else:
            got = read_project(path)
    except SkiktError:
        raise
    except Exception as exc:  # noqa: BLE001 - see docstring
        traceback.print_exc()
        raise ProjectError(one_line(exc), path) from None
    if isinstance(got, tuple):
        project, problems = got
    else:
        project = got
        problems = getattr(project, "errors", None) or getattr(project, "layer_errors", None) or []
    if isinstance(problems, dict):
        problems = list(problems.values())
    return project, list(problems)

