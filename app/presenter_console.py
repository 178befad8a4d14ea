"""The presenter console: on the laptop's screen while the projector shows only the map.

It shows the current and the next view, the current view's speaker notes, a clock and the time
since the presentation started, a slider per weight and a check box per layer. Everything acts
on the :class:`~skikt.app.presentation.PresentationWindow` it belongs to, and follows it when the
clicker steps (its ``changed`` signal). The clicker's keys work in the console too.

With one screen there is no console: N in the presentation shows the notes over the map.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTime, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QSlider, QTextBrowser,
                               QVBoxLayout, QWidget)

from skikt.layers.i18n import tr

from .presentation import CAPTURE_KEYS, DIGIT_KEYS, NEXT_KEYS, PREVIOUS_KEYS


def choose_screens(screens: list, current) -> tuple:
    """(the projector's screen, the console's screen or None). The console stays where the main
    window is; the map goes to another screen. One screen: the map there, no console."""
    others = [s for s in screens if s is not current]
    if current is None or not others:
        return (current if current is not None else (screens[0] if screens else None)), None
    return others[0], current


def slider_top(weights: dict[str, float]) -> int:
    """The sliders' range: twice the largest weight, at least 10, whole numbers."""
    return max(10, int(math.ceil(2 * max(weights.values(), default=0))))


class PresenterConsole(QWidget):
    def __init__(self, presentation, lang: str = "sv", parent=None):
        super().__init__(parent)
        self.setWindowFlag(Qt.Window, True)
        self.pres = presentation
        self.lang = lang
        self.started = time.monotonic()
        self.setWindowTitle(tr("pres_console", lang) + " – Skikt")
        big = QFont()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        self.now = QLabel()
        self.now.setFont(big)
        self.now.setWordWrap(True)
        self.next = QLabel()
        self.next.setWordWrap(True)
        self.clock = QLabel()
        self.clock.setFont(big)
        self.notes = QTextBrowser()
        self.notes.setFont(big)
        self.sliders: dict[str, QSlider] = {}
        self.toggles: dict[str, QCheckBox] = {}
        self.weights_box = QGroupBox()
        self.layers_box = QGroupBox(tr("layers", lang))
        self._build()
        # The clicker's keys belong to the presentation: no control here takes keyboard focus.
        for widget in [self.notes, *self.sliders.values(), *self.toggles.values()]:
            widget.setFocusPolicy(Qt.NoFocus)
        self.setFocusPolicy(Qt.StrongFocus)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_clock)
        self._tick.start()
        presentation.changed.connect(self.refresh)
        presentation.closed.connect(self.close)
        self.refresh()

    def _build(self) -> None:
        top = QHBoxLayout()
        views = QVBoxLayout()
        views.addWidget(self.now)
        views.addWidget(self.next)
        top.addLayout(views, 3)
        top.addWidget(self.clock, 1, Qt.AlignRight | Qt.AlignTop)
        self._weights_grid = QGridLayout(self.weights_box)
        self._build_sliders()
        layers = QVBoxLayout(self.layers_box)
        for spec in self.pres.ws.project.layers:
            box = QCheckBox(spec.title)
            box.setObjectName(f"layer_{spec.id}")
            box.toggled.connect(lambda on, lid=spec.id: self._toggled(lid, on))
            layers.addWidget(box)
            self.toggles[spec.id] = box
        layers.addStretch(1)
        side = QVBoxLayout()
        side.addWidget(self.weights_box)
        side.addWidget(self.layers_box, 1)
        body = QHBoxLayout()
        notes = QVBoxLayout()
        notes.addWidget(QLabel(tr("pres_notes", self.lang)))
        notes.addWidget(self.notes, 1)
        body.addLayout(notes, 3)
        body.addLayout(side, 2)
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addLayout(body, 1)

    def _build_sliders(self) -> None:
        """One slider per weight of the presentation (again when its indicators arrive: F5 may
        come before the first computation has finished)."""
        grid = self._weights_grid
        while grid.count():
            item = grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.sliders = {}
        for row, lid in enumerate(self.pres.weights):
            slider = QSlider(Qt.Horizontal)
            slider.setObjectName(f"weight_{lid}")
            slider.setRange(0, slider_top(self.pres.weights))
            slider.setFocusPolicy(Qt.NoFocus)
            slider.valueChanged.connect(lambda value, lid=lid: self._slider_moved(lid, value))
            grid.addWidget(QLabel(self.pres.ws.project.layer(lid).title), row, 0)
            grid.addWidget(slider, row, 1)
            self.sliders[lid] = slider

    # ------------------------------------------------------------------ presentation → console

    def refresh(self) -> None:
        pres = self.pres
        view = pres.view
        self.now.setText(tr("pres_now", self.lang).format(
            n=pres.index + 1, total=len(pres.views), title=view.title or view.name))
        if pres.index + 1 < len(pres.views):
            following = pres.views[pres.index + 1]
            self.next.setText(tr("pres_next", self.lang).format(title=following.title or following.name))
        else:
            self.next.setText(tr("pres_last", self.lang))
        self.notes.setPlainText(view.notes.strip())
        scenario = view.scenario or tr("project_weights", self.lang)
        self.weights_box.setTitle(tr("pres_weights", self.lang).format(scenario=scenario))
        if list(self.sliders) != list(pres.weights):
            self._build_sliders()
        for lid, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(int(round(pres.weights.get(lid, 0.0))))
            slider.blockSignals(False)
        for lid, box in self.toggles.items():
            box.blockSignals(True)
            box.setChecked(pres.ws.project.layer(lid).visible)
            box.blockSignals(False)
        self._update_clock()

    def _update_clock(self) -> None:
        elapsed = int(time.monotonic() - self.started)
        self.clock.setText(tr("pres_clock", self.lang).format(
            time=QTime.currentTime().toString("HH:mm"), elapsed=f"{elapsed // 60:d}:{elapsed % 60:02d}"))

    # ------------------------------------------------------------------ console → presentation

    def _slider_moved(self, layer_id: str, value: int) -> None:
        if value != round(self.pres.weights.get(layer_id, 0.0)):
            self.pres.set_weight(layer_id, value)

    def _toggled(self, layer_id: str, on: bool) -> None:
        self.pres.set_layer_visible(layer_id, on)

    def keyPressEvent(self, event):
        """The clicker's keys step the presentation from here too."""
        key = event.key()
        if key in NEXT_KEYS | PREVIOUS_KEYS | set(DIGIT_KEYS) | set(CAPTURE_KEYS) or key in (
                Qt.Key_Home, Qt.Key_End, Qt.Key_R, Qt.Key_Escape, Qt.Key_Plus, Qt.Key_Minus, Qt.Key_Equal,
                Qt.Key_0, Qt.Key_Z, Qt.Key_G):
            self.pres.keyPressEvent(event)
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event):
        self._tick.stop()
        super().closeEvent(event)
