"""Weights dock: one slider per indicator layer, its share of the total, direction and normalisation;
above them how the weights are combined (method and the OWA slider), the pairwise-comparison
dialog's button and the p_top (Monte Carlo) map.

A slider binds exactly one indicator's weight. Moving it pushes a SetWeight command (a drag
merges into one undo step); the model recombines scores with the newest weights. The OWA slider
likewise pushes SetCombine commands ([combine] method/alpha) that merge while it is dragged.
"""

from __future__ import annotations

import copy
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSizePolicy, QSlider, QSpinBox, QToolButton, QVBoxLayout,
                               QWidget)

from skikt.layers.errors import SkiktError
from skikt.layers.project import NORMALIZE
from skikt.layers.sectors import SECTORS

from ..commands import SetCounted, SetIndicator, SetWeight
from ..commands_decision import METHOD_KEYS, SetCombine, decision_state
from ..i18n import T
from .common import clear_layout, scrolling

ROWS_PER_INDICATOR = 5  # name; slider and share; direction; normalisation; rule
SCALE = 10  # slider steps per weight unit: weights 0–20 in steps of 0.1
# The OWA slider: position p in −ALPHA_STEPS…ALPHA_STEPS is α = 10^(p/ALPHA_STEPS), a log scale
# from 0.1 (OR) through 1 (the weighted mean, the middle) to 10 (AND).
ALPHA_STEPS = 100
SNAP_STEPS = 4  # positions this close to the middle snap to α = 1 exactly


class IndicatorRow:
    """The controls of one indicator: all bound to ``layer_id``'s indicator in the model."""

    def __init__(self, panel, grid: QGridLayout, row: int, spec):
        self.panel, self.model, self.layer_id = panel, panel.model, spec.id
        sector = SECTORS[spec.sector]
        self.name = QLabel(f"<span style='color:{sector.colour};font-size:15px'>■</span> {spec.title}")
        self.name.setToolTip(sector.name(panel.lang))
        self.share = QLabel("")
        self.share.setMinimumWidth(44)
        self.share.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.counted = QCheckBox(T("counts_in_score"))
        self.counted.setObjectName(f"counted_{spec.id}")
        self.counted.setToolTip(T("counts_in_score_tip"))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 20 * SCALE)
        self.slider.setObjectName(f"weight_{spec.id}")
        self.direction = QToolButton()
        self.direction.setCheckable(True)
        self.direction.setObjectName(f"direction_{spec.id}")
        self.norm = QComboBox()
        for key in NORMALIZE:
            self.norm.addItem(T(f"norm_{key}"), key)
        self.norm.setObjectName(f"normalize_{spec.id}")
        # The direction in words ("Högt värde = hög prioritet"), not a bare arrow.
        self.direction.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.direction.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        grid.addWidget(self.name, row, 0, 1, 3)
        grid.addWidget(self.slider, row + 1, 0, 1, 2)
        grid.addWidget(self.share, row + 1, 2)
        grid.addWidget(self.direction, row + 2, 0, 1, 3)
        grid.addWidget(self.norm, row + 3, 0)
        grid.addWidget(self.counted, row + 3, 1, 1, 2)
        line = QFrame()
        line.setFrameShape(QFrame.HLine)
        line.setStyleSheet("color:#dddddd")
        grid.addWidget(line, row + 4, 0, 1, 3)
        self.sync()
        self.slider.valueChanged.connect(self._slider)
        self.direction.toggled.connect(self._direction)
        self.norm.currentIndexChanged.connect(self._norm)
        self.counted.toggled.connect(self._counted)

    def spec(self):
        return self.model.project.layer(self.layer_id)

    def sync(self, *_):
        ind = self.spec().indicator
        for w in (self.slider, self.direction, self.norm, self.counted):
            w.blockSignals(True)  # no echo back into the model while we mirror it
        counted = ind.extra.get("active", True) is not False
        self.counted.setChecked(counted)
        self.slider.setEnabled(counted)
        self.slider.setValue(round(ind.weight * SCALE))
        low = ind.direction == "low"
        self.direction.setChecked(low)
        self.direction.setText(("↓ " + T("direction_low")) if low else ("↑ " + T("direction_high")))
        self.direction.setToolTip(T("direction_toggle"))
        self.norm.setCurrentIndex(max(0, self.norm.findData(ind.normalize)))
        for w in (self.slider, self.direction, self.norm, self.counted):
            w.blockSignals(False)

    def show_share(self, share: float | None):
        self.share.setText("–" if share is None else f"{share:.0%}")

    def _slider(self, value):
        self.model.undo.push(SetWeight(self.model, self.layer_id, value / SCALE))

    def _counted(self, on: bool):
        self.model.undo.push(SetCounted(self.model, self.layer_id, on))

    def _direction(self, low):
        ind = copy.deepcopy(self.spec().indicator)
        ind.direction = "low" if low else "high"
        self.model.undo.push(SetIndicator(self.model, self.layer_id, ind))

    def _norm(self, _i):
        ind = copy.deepcopy(self.spec().indicator)
        ind.normalize = self.norm.currentData()
        self.model.undo.push(SetIndicator(self.model, self.layer_id, ind))


def alpha_of(position: int) -> float:
    """α for a slider position: 10^(p/ALPHA_STEPS), three significant digits (a tidy number in the
    project file), exactly 1 near the middle."""
    if abs(position) <= SNAP_STEPS:
        return 1.0
    return float(f"{10 ** (position / ALPHA_STEPS):.3g}")


def position_of(alpha: float) -> int:
    if not alpha > 0:
        return 0
    return max(-ALPHA_STEPS, min(ALPHA_STEPS, round(ALPHA_STEPS * math.log10(alpha))))


def _small(text: str, align=Qt.AlignLeft) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color:#555555;font-size:11px")
    label.setAlignment(align | Qt.AlignVCenter)
    return label


class DecisionBox(QWidget):
    """How the weights are combined (mean, geometric, OWA with its α slider), the button for the
    pairwise-comparison dialog, and the p_top map's switch, settings and progress."""

    ahp_requested = Signal()
    unit_map_changed = Signal(object)  # a new p_top UnitMap to show, or None: p_top switched off

    def __init__(self, panel):
        super().__init__()
        self.panel, self.model = panel, panel.model
        self.state = decision_state(self.model)
        self._shown = None  # the p_top result on the map now
        self.method = QComboBox()
        self.method.setObjectName("combine_method")
        for key in METHOD_KEYS:
            self.method.addItem(T(METHOD_KEYS[key]), key)
        self.question = QLabel(T("owa_question"))
        self.question.setWordWrap(True)
        self.alpha = QSlider(Qt.Horizontal)
        self.alpha.setObjectName("owa_alpha")
        self.alpha.setRange(-ALPHA_STEPS, ALPHA_STEPS)
        self.alpha.setSingleStep(5)
        self.alpha.setPageStep(25)
        self.alpha.setTickPosition(QSlider.TicksBelow)
        self.alpha.setTickInterval(ALPHA_STEPS)
        self.explain = _small("")
        self.explain.setWordWrap(True)
        self.mean_only = QLabel("")
        self.mean_only.setObjectName("combine_mean_only")
        self.mean_only.setWordWrap(True)
        self.mean_only.setStyleSheet("color:#8a4b00;font-size:11px")
        self.ahp_button = QPushButton(T("ahp_menu"))
        self.ahp_button.setObjectName("ahp_open")
        self.ahp_button.clicked.connect(lambda _=False: self.ahp_requested.emit())
        self._build_ptop()
        self._lay_out()
        self.method.currentIndexChanged.connect(self._method_chosen)
        self.alpha.valueChanged.connect(self._alpha_moved)
        self.model.undo.indexChanged.connect(self.sync)
        self.model.project_replaced.connect(self.sync)
        self.model.computed.connect(self.sync)
        self.state.ptop_changed.connect(self._ptop_changed)
        self.state.ptop_progress.connect(lambda f: self.progress.setValue(int(f * 1000)))
        self.state.ptop_busy.connect(self._ptop_busy)
        self.state.ptop_failed.connect(self.ptop_status.setText)
        self.sync()
        self._ptop_changed()

    def _build_ptop(self):
        st = self.state
        self.ptop = QCheckBox(T("ptop_check"))
        self.ptop.setObjectName("ptop_check")
        self.ptop.setToolTip(T("ptop_check_tip"))
        self.ptop.setChecked(st.ptop_on)
        self.draws = QSpinBox()
        self.draws.setObjectName("ptop_draws")
        self.draws.setRange(100, 20000)
        self.draws.setSingleStep(100)
        self.draws.setValue(st.draws)
        self.spread = QDoubleSpinBox()
        self.spread.setObjectName("ptop_spread")
        self.spread.setRange(0.0, 0.9)
        self.spread.setSingleStep(0.05)
        self.spread.setDecimals(2)
        self.spread.setValue(st.spread)
        self.spread.setToolTip(T("ptop_spread_tip"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel = QPushButton(T("cancel"))
        self.cancel.setObjectName("ptop_cancel")
        self.cancel.hide()
        self.cancel.clicked.connect(lambda _=False: self.state.cancel())
        self.ptop_status = _small("")
        self.ptop_status.hide()
        self.ptop_status.setObjectName("ptop_status")
        self.ptop_status.setWordWrap(True)
        self.ptop.toggled.connect(self._ptop_toggled)
        self.draws.valueChanged.connect(self._ptop_params)
        self.spread.valueChanged.connect(self._ptop_params)

    def _lay_out(self):
        """The p_top switch sits with the other map switches above the sliders (``ptop_box``);
        the combination and the pairwise button below the indicators, in the scrolled part."""
        self.ptop_box = QWidget()
        top = QVBoxLayout(self.ptop_box)
        top.setContentsMargins(0, 0, 0, 0)
        ptop = QHBoxLayout()
        ptop.addWidget(self.ptop, 1)
        ptop.addWidget(self.draws)
        ptop.addWidget(QLabel("±"))
        ptop.addWidget(self.spread)
        top.addLayout(ptop)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel)
        top.addLayout(busy)
        top.addWidget(self.ptop_status)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel(f"<b>{T('combine_heading')}</b>"))
        row.addWidget(self.method, 1)
        lay.addLayout(row)
        lay.addWidget(self.question)
        lay.addWidget(self.alpha)
        ends = QHBoxLayout()
        for key, align in (("owa_or", Qt.AlignLeft), ("combine_mean", Qt.AlignHCenter), ("owa_and", Qt.AlignRight)):
            words = _small(T(key), align)
            words.setWordWrap(True)  # a narrow dock wraps the words instead of cutting them
            ends.addWidget(words, 1)
        ends.setContentsMargins(0, 0, 6, 0)  # the last letter clear of the scroll bar
        lay.addLayout(ends)
        lay.addWidget(self.explain)
        lay.addWidget(self.mean_only)
        lay.addWidget(self.ahp_button)

    # ------------------------------------------------------------------ [combine]

    def combine(self) -> tuple[str, float]:
        try:
            return self.model.ws.combine_method()
        except SkiktError:  # reported when the project was read; show the default meanwhile
            return "mean", 1.0

    def sync(self, *_):
        try:
            self._sync()
        except RuntimeError:  # the window is being deleted (the model outlives it)
            pass

    def _sync(self):
        method, alpha = self.combine()
        for w in (self.method, self.alpha):
            w.blockSignals(True)
        self.method.setCurrentIndex(max(0, self.method.findData(method)))
        self.alpha.setValue(position_of(alpha) if method == "owa" else 0)
        self.alpha.setEnabled(method != "geometric")
        for w in (self.method, self.alpha):
            w.blockSignals(False)
        if method == "geometric":
            self.explain.setText(T("owa_explain_geometric"))
        elif method == "mean" or alpha == 1:
            self.explain.setText(T("owa_explain_mean"))
        else:
            key = "owa_explain_or" if alpha < 1 else "owa_explain_and"
            self.explain.setText(T(key).format(alpha=f"{alpha:g}"))
        self.mean_only.setVisible(method != "mean")
        name = T(METHOD_KEYS[method])
        if name[1:2].islower():  # "geometriskt medel" inside a sentence, but "OWA" stays
            name = name[0].lower() + name[1:]
        self.mean_only.setText(T("combine_mean_only").format(method=name))

    def _method_chosen(self, _index):
        method = self.method.currentData()
        alpha = self.combine()[1] if method != "mean" else 1.0
        self.model.undo.push(SetCombine(self.model, method, alpha))

    def _alpha_moved(self, position: int):
        alpha = alpha_of(position)
        # The middle of the slider is the weighted mean itself (α = 1 is exactly the mean), so
        # it is written as the mean: the same scores to the last bit, and the method box agrees.
        method = "mean" if alpha == 1.0 else "owa"
        self.model.undo.push(SetCombine(self.model, method, alpha, from_slider=True))

    # ------------------------------------------------------------------ p_top

    def _ptop_toggled(self, on: bool):
        if on and self.panel.show_stability.isChecked():
            self.panel.show_stability.setChecked(False)  # one map in place of the classes at a time
        self.state.set_enabled(on)

    def _ptop_params(self, *_):
        self.state.set_params(self.draws.value(), round(self.spread.value(), 2))

    def _ptop_busy(self, busy: bool):
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.ptop_status.setText(T("ptop_stale") if self.state.result is not None else T("ptop_running"))

    def _ptop_changed(self):
        try:
            self._show_ptop()
        except RuntimeError:  # the window is being deleted (the model outlives it)
            pass

    def _show_ptop(self):
        st = self.state
        if self.ptop.isChecked() != st.ptop_on:
            self.ptop.blockSignals(True)
            self.ptop.setChecked(st.ptop_on)
            self.ptop.blockSignals(False)
        self.ptop_status.setVisible(st.ptop_on)
        if not st.ptop_on:
            self.ptop_status.setText("")
            if self._shown is not None:
                self._shown = None
                self.unit_map_changed.emit(None)
            return
        if st.stale:
            self.ptop_status.setText(T("ptop_stale"))
        elif st.result is not None:
            p = st.result.p_top
            sure, depends = int((p >= 0.9).sum()), int(((p >= 0.1) & (p < 0.5)).sum())
            self.ptop_status.setText(T("ptop_summary").format(sure=_count(sure), depends=_count(depends)))
        if st.result is None and self._shown is not None:  # no map to vary (every weight 0, a new project)
            self._shown = None
            self.unit_map_changed.emit(None)
        elif st.result is not None and st.result is not self._shown:
            self._shown = st.result
            self.unit_map_changed.emit(st.unit_map())

    def show_again(self):
        """The p_top map for a window rebuilt for another language (labels in the new one)."""
        self._shown = None
        self._ptop_changed()


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\u2009")  # thin-space thousands, as the Info panel writes them


class WeightsPanel(QWidget):
    composite_toggled = Signal(bool)
    stability_toggled = Signal(bool)

    def __init__(self, model, parent=None, lang="sv"):
        super().__init__(parent)
        self.model, self.lang = model, lang
        self.show_composite = QCheckBox(T("show_composite"))
        self.show_composite.setChecked(True)
        self.show_composite.toggled.connect(self.composite_toggled)
        self.show_stability = QCheckBox(T("stability_map"))
        self.show_stability.toggled.connect(self.stability_toggled)
        self.show_stability.toggled.connect(self._stability_toggled)
        self.sens_label = QLabel("")
        self.sens_label.setWordWrap(True)
        self.sens_label.setStyleSheet("color:#555555")
        self.body = QWidget()
        self.decision = DecisionBox(self)
        self.ahp_requested = self.decision.ahp_requested
        self.grid = QGridLayout(self.body)
        self.grid.setColumnStretch(0, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.show_composite)
        lay.addWidget(self.show_stability)
        lay.addWidget(self.decision.ptop_box)
        lay.addWidget(self.sens_label)
        lay.addWidget(scrolling(self.body))
        self.rows: dict[str, IndicatorRow] = {}
        model.project_replaced.connect(self.rebuild)
        model.layers_changed.connect(self.rebuild)
        # Not rebuilt when a computation ends: the rows depend on the project only, and a slider
        # rebuilt under the hand would end a drag that started while the indicators computed.
        model.computed.connect(self.sync)
        model.composite_changed.connect(self.update_shares)
        model.undo.indexChanged.connect(self.sync)
        self.rebuild()

    def rebuild(self):
        # The decision box lives on below the rows (one grid, so the rows are laid out as before
        # it was there); it is taken out first because clearing the grid deletes its widgets.
        self.grid.removeWidget(self.decision)
        clear_layout(self.grid)
        self.rows = {}
        for i, spec in enumerate(s for s in self.model.project.layers if s.indicator is not None):
            self.rows[spec.id] = IndicatorRow(self, self.grid, i * ROWS_PER_INDICATOR, spec)
        end = len(self.rows) * ROWS_PER_INDICATOR
        for row in range(self.grid.rowCount()):  # a stretch left from a smaller project's build
            self.grid.setRowStretch(row, 0)
        self.grid.addWidget(self.decision, end, 0, 1, 3)
        self.grid.setRowStretch(end + 1, 1)
        # Lay the new rows out now, at least at their natural height, instead of squeezed into
        # the old body until the scroll area catches up on the next event-loop turn.
        width = self.body.width()
        self.body.resize(max(width, self.body.sizeHint().width()), max(self.body.height(), self.body.sizeHint().height()))
        self.grid.activate()
        self.update_shares()

    def sync(self, *_):
        for lid, row in list(self.rows.items()):
            try:
                row.sync()
            except KeyError:  # layer removed; rebuild follows
                pass
        self.update_shares()

    def update_shares(self):
        ws = self.model.ws
        shares = {}
        if ws.composite is not None and ws.normalised is not None:
            shares = dict(zip(ws.normalised.layer_ids, ws.composite.shares))
        for lid, row in self.rows.items():
            row.show_share(shares.get(lid))

    def _stability_toggled(self, on: bool):
        if on and self.decision.ptop.isChecked():
            self.decision.ptop.setChecked(False)  # one map in place of the classes at a time
