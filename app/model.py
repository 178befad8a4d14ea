"""The app's single source of state: a Workspace, plus Qt signals saying what kind of change happened.

Widgets never change the project directly: they push an undoable command (app/commands.py),
and the command calls one of the methods here. Signals keep two kinds of change apart:

* ``look_changed``: visibility, opacity, order, style. Redraw only.
* ``data_changed``: layers added or removed, indicator settings. Recompute (in a worker), then
  ``computed`` fires.
* ``composite_changed``: new scores from new weights (the slider path, synchronous and cheap).
"""

from __future__ import annotations

import copy
from pathlib import Path

from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from skikt.layers.project import LayerSpec, Project, read_project, write_project
from skikt.layers.workspace import PHASE_VISIBLE, Workspace

from .i18n import language
from .workers import Worker


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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ws = Workspace(Project())
        self.undo = QUndoStack(self)
        self.undo.cleanChanged.connect(self._clean_changed)
        # One thread for workspace jobs: a newer job queues behind the cancelled older one, so
        # two jobs never touch the workspace at the same time.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skikt-compute")
        self.worker = Worker(self, self._executor)
        self.worker.finished.connect(self._on_computed)
        self.worker.progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._cancelled)
        self.selected: int | None = None
        self._pending_weights = False
        self._reweight_timer = QTimer(self)
        self._reweight_timer.setSingleShot(True)
        self._reweight_timer.setInterval(0)
        self._reweight_timer.timeout.connect(self._recombine_now)
        self._reported_errors: set[str] = set()

    # Bound methods, not lambdas: Qt drops a connection to a method when its object dies.
    def _clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    def _cancelled(self) -> None:
        from .i18n import T

        self.message.emit(T("cancelled"))

    # ------------------------------------------------------------------ project

    @property
    def project(self) -> Project:
        return self.ws.project

    def open_project(self, path) -> None:
        project = read_project(path)  # raises SkiktError with a one-line message
        self.set_project(project)

    def set_project_sync(self, path) -> None:
        """Open and compute without a worker thread (screenshots, tests, benchmarks)."""
        self.worker.cancel()
        self.worker.wait()
        self.ws = Workspace(read_project(path))
        self.undo.clear()
        self.selected = None
        self.project_replaced.emit()
        self.recompute(synchronous=True)

    def set_project(self, project: Project) -> None:
        self.worker.cancel()
        self.worker.wait()
        self.ws = Workspace(project)
        self.undo.clear()
        self.selected = None
        self._reported_errors.clear()
        self.project_replaced.emit()
        self.recompute()

    def save(self, path=None) -> Path:
        out = write_project(self.project, path)
        self.undo.setClean()
        return out

    # ------------------------------------------------------------------ computing

    def recompute(self, synchronous: bool = False) -> None:
        """Bring the workspace up to date; only what changed is recomputed (see Workspace caches)."""
        make = lambda cancel: self.ws.iter_update(cancel=cancel, strict=False)  # noqa: E731
        if synchronous:
            for _ in make(lambda: False):
                pass
            self._on_computed(None)
        else:
            self.worker.start(make)

    def _on_progress(self, _frac: float, msg: str) -> None:
        if msg == PHASE_VISIBLE:
            self.layers_ready.emit()

    def _on_computed(self, _result) -> None:
        for lid, exc in self.ws.errors.items():
            msg = exc.text(language())
            if msg not in self._reported_errors:
                self._reported_errors.add(msg)
                self.error.emit(msg)
        if self.selected is not None and (self.ws.units is None or self.selected >= self.ws.units.n):
            self.selected = None
        self.computed.emit()
        self.composite_changed.emit()

    def _on_failed(self, msg: str) -> None:
        self.error.emit(msg)
        self.computed.emit()

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
        newest weights; a burst of slider events costs one recombination."""
        self.project.layer(layer_id).indicator.weight = float(weight)
        self._reweight_timer.start()

    def _recombine_now(self) -> None:
        if self.ws.normalised is None:
            return
        self.ws.recombine()
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
