"""Weights dock: one slider per indicator layer, its share of the total, direction and normalisation.

A slider binds exactly one indicator's weight. Moving it pushes a SetWeight command (a drag
merges into one undo step); the model recombines scores with the newest weights.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFrame, QGridLayout, QLabel, QSizePolicy, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from skikt.layers.project import NORMALIZE
from skikt.layers.sectors import SECTORS

from ..commands import SetCounted, SetIndicator, SetWeight
from ..i18n import T
from .common import clear_layout, scrolling

ROWS_PER_INDICATOR = 5  # name; slider and share; direction; normalisation; rule
SCALE = 10  # slider steps per weight unit: weights 0–20 in steps of 0.1


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
        self.sens_label = QLabel("")
        self.sens_label.setWordWrap(True)
        self.sens_label.setStyleSheet("color:#555555")
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setColumnStretch(0, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.show_composite)
        lay.addWidget(self.show_stability)
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
        clear_layout(self.grid)
        self.rows = {}
        for i, spec in enumerate(s for s in self.model.project.layers if s.indicator is not None):
            self.rows[spec.id] = IndicatorRow(self, self.grid, i * ROWS_PER_INDICATOR, spec)
        self.grid.setRowStretch(len(self.rows) * ROWS_PER_INDICATOR, 1)
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
