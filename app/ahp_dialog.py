"""The pairwise-comparison (AHP) dialog: one slider per pair of the indicators that count.

Each row reads "Vård ◀ 3 ▶ Kultur": the slider runs over Saaty's scale 9…2, 1, 2…9, and towards
an indicator's side means that indicator matters more. The weights (the principal eigenvector,
layers/ahp.py) and the consistency ratio follow every move; a CR above 0.10 names, in plain words,
the pair that fits the other answers worst. The result becomes the live weights (one undo step,
and the project's [ahp]), a scenario, or a group's 100 points.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QGridLayout, QHBoxLayout, QInputDialog, QLabel, QProgressBar, QPushButton,
                               QScrollArea, QSlider, QVBoxLayout, QWidget)

from skikt.layers.ahp import ahp, matrix_from_weights
from skikt.layers.errors import SkiktError

from .commands_decision import ApplyAhp, SaveAhpScenario, give_to_group, group_entries
from .i18n import T

STEPS = 8  # slider positions each side of "equal": Saaty's 2…9
WORDS = {1: "ahp_word_1", 3: "ahp_word_3", 5: "ahp_word_5", 7: "ahp_word_7", 9: "ahp_word_9"}


def judgement_of(position: int) -> float:
    """a_ij for a slider position: left of the middle, the left indicator matters 1 − p times
    more; right of it, the right one 1 + p times more; the middle is 1 (equal)."""
    if position < 0:
        return float(1 - position)
    return 1.0 / (1 + position)


def position_of(judgement: float) -> int:
    """The nearest slider position for a_ij (in log terms, clipped to Saaty's 1/9…9)."""
    if not judgement > 0 or not np.isfinite(judgement):
        return -STEPS if judgement > 0 else STEPS
    if judgement >= 1:
        return -min(STEPS, int(round(judgement)) - 1)
    return min(STEPS, int(round(1 / judgement)) - 1)


def scale_words(value: int) -> str:
    """Saaty's words for a whole judgement 1…9; the even ones lie between two."""
    if value in WORDS:
        return T(WORDS[value])
    return T("ahp_word_between").format(a=T(WORDS[value - 1]), b=T(WORDS[value + 1]))


def counted_indicators(project) -> list:
    return [s for s in project.indicator_layers() if s.indicator.extra.get("active", True) is not False]


def starting_matrix(project, ids: list[str]) -> np.ndarray:
    """The project's [ahp] judgements where it has them, today's weight ratios elsewhere."""
    weights = np.array([max(float(project.layer(lid).indicator.weight), 1e-9) for lid in ids])
    a = matrix_from_weights(weights)
    table = project.extra.get("ahp")
    if isinstance(table, dict) and isinstance(table.get("order"), list):
        order = table["order"]
        try:
            saved = np.array(table["matrix"], float)
            for i, li in enumerate(ids):
                for j, lj in enumerate(ids):
                    if li in order and lj in order:
                        a[i, j] = saved[order.index(li), order.index(lj)]
        except (ValueError, TypeError, IndexError, KeyError):
            pass  # a bad table is reported when the project is read; start from the weights
    return a


class PairRow:
    """One pair's slider and its sentence ("Vård är något viktigare än Kultur (3)")."""

    def __init__(self, dialog, grid: QGridLayout, row: int, left, right, judgement: float):
        self.left, self.right = left, right
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName(f"ahp_{left.id}_{right.id}")
        self.slider.setRange(-STEPS, STEPS)
        self.slider.setPageStep(2)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setMinimumWidth(160)
        self.slider.setValue(position_of(judgement))
        self.value = QLabel("")
        self.value.setAlignment(Qt.AlignCenter)
        self.value.setMinimumWidth(48)
        self.sentence = QLabel("")
        self.sentence.setStyleSheet("color:#555555")
        self.sentence.setWordWrap(True)
        left_name, right_name = QLabel(left.title), QLabel(right.title)
        for name in (left_name, right_name):
            name.setWordWrap(True)
            name.setMaximumWidth(170)
        left_name.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        grid.addWidget(left_name, row, 0)
        grid.addWidget(self.slider, row, 1)
        grid.addWidget(right_name, row, 2)
        grid.addWidget(self.value, row + 1, 1)
        grid.addWidget(self.sentence, row + 2, 0, 1, 3)
        self.slider.valueChanged.connect(dialog.update_result)
        self.describe()

    def judgement(self) -> float:
        return judgement_of(self.slider.value())

    def describe(self):
        p = self.slider.value()
        strength = abs(p) + 1
        if p == 0:
            self.value.setText("1")
            self.sentence.setText(T("ahp_equal").format(a=self.left.title, b=self.right.title))
            return
        more, less = (self.left, self.right) if p < 0 else (self.right, self.left)
        self.value.setText(f"◀ {strength}" if p < 0 else f"{strength} ▶")
        self.sentence.setText(T("ahp_more").format(a=more.title, word=scale_words(strength), b=less.title,
                                                   value=strength))


class AhpDialog(QDialog):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.setWindowTitle(T("ahp_title"))
        self.setObjectName("ahp_dialog")
        # Tests replace these to answer the questions: (title, label, default) -> str | None and
        # (title, label, items) -> str | None.
        self.ask_text = self._ask_text
        self.ask_item = self._ask_item
        self.specs = counted_indicators(model.project)
        self.ids = [s.id for s in self.specs]
        self.rows: list[PairRow] = []
        self.bars: dict[str, QProgressBar] = {}
        self.result = None
        self.cr_label = QLabel("")
        self.cr_label.setObjectName("ahp_cr")
        self.cr_label.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("ahp_message")
        self.message.setWordWrap(True)
        self.apply_button = self._button("ahp_apply", self.apply)
        self.scenario_button = self._button("save_as_scenario", self.save_scenario)
        self.group_button = self._button("ahp_to_group", self.to_group)
        close = self._button("ahp_close", self.reject)
        lay = QVBoxLayout(self)
        intro = QLabel(T("ahp_intro") if len(self.ids) >= 2 else T("ahp_too_few"))
        intro.setWordWrap(True)
        lay.addWidget(intro)
        body = QHBoxLayout()
        body.addWidget(self._pairs(), 5)
        body.addLayout(self._weights(), 2)
        lay.addLayout(body, 1)
        lay.addWidget(self.cr_label)
        lay.addWidget(self.message)
        buttons = QHBoxLayout()
        for b in (self.apply_button, self.scenario_button, self.group_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay.addLayout(buttons)
        self.resize(1040, 680)
        self.update_result()

    def _button(self, key, slot) -> QPushButton:
        b = QPushButton(T(key))
        b.setObjectName(key if key.startswith("ahp_") else f"ahp_{key}")
        b.clicked.connect(lambda _=False: slot())
        return b

    def _pairs(self) -> QScrollArea:
        inner = QWidget()
        grid = QGridLayout(inner)
        grid.setColumnStretch(1, 1)
        start = starting_matrix(self.model.project, self.ids)
        n = len(self.specs)
        for i in range(n):
            for j in range(i + 1, n):
                self.rows.append(PairRow(self, grid, 3 * len(self.rows), self.specs[i], self.specs[j], start[i, j]))
        grid.setRowStretch(3 * len(self.rows), 1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        area.setWidget(inner)
        return area

    def _weights(self) -> QVBoxLayout:
        lay = QVBoxLayout()
        lay.addWidget(QLabel(f"<b>{T('ahp_weights_heading')}</b>"))
        for spec in self.specs:
            bar = QProgressBar()
            bar.setObjectName(f"ahp_weight_{spec.id}")
            bar.setRange(0, 1000)
            bar.setAlignment(Qt.AlignCenter)
            lay.addWidget(QLabel(spec.title))
            lay.addWidget(bar)
            self.bars[spec.id] = bar
        lay.addStretch(1)
        return lay

    # ------------------------------------------------------------------ the answers → weights

    def matrix(self) -> np.ndarray:
        n = len(self.ids)
        a = np.ones((n, n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for (i, j), row in zip(pairs, self.rows):
            a[i, j] = row.judgement()
            a[j, i] = 1.0 / a[i, j]
        return a

    def update_result(self, *_):
        for row in self.rows:
            row.describe()
        enough = len(self.ids) >= 2
        for b in (self.apply_button, self.scenario_button, self.group_button):
            b.setEnabled(enough)
        if not enough:
            self.result = None
            return
        self.result = ahp(self.matrix(), self.ids)
        for lid, w in self.result.weight_of().items():
            self.bars[lid].setValue(round(w * 1000))
            self.bars[lid].setFormat(f"{w:.1%}")
        if self.result.consistent:
            self.cr_label.setStyleSheet("color:#1b5e20")
            self.cr_label.setText(T("ahp_cr_ok").format(cr=self._decimal(self.result.cr)))
        else:
            a, b = (self.model.project.layer(lid).title for lid in self.result.worst_pair)
            self.cr_label.setStyleSheet("color:#9b1c1c")
            self.cr_label.setText(T("ahp_cr_bad").format(cr=self._decimal(self.result.cr), a=a, b=b))

    # ------------------------------------------------------------------ results

    def apply(self):
        self.model.undo.push(ApplyAhp(self.model, self.result))
        self.accept()

    def save_scenario(self):
        name = self.ask_text(T("save_as_scenario"), T("scenario_name"), T("ahp_default_scenario"))
        if not name or not name.strip():
            return
        try:
            self.model.undo.push(SaveAhpScenario(self.model, name, self.result))
        except SkiktError as exc:
            self.message.setText(exc.text(self._lang()))
            return
        self.message.setText(T("ahp_saved_scenario").format(name=name.strip()))

    def to_group(self):
        entries = group_entries(self.model.project)
        if not entries:
            self.message.setText(T("ahp_no_groups"))
            return
        names = [e.get("name") or e.get("id") for e in entries]
        picked = self.ask_item(T("ahp_to_group"), T("ahp_pick_group"), names)
        if picked is None or picked not in names:
            return
        entry = entries[names.index(picked)]
        try:
            self.model.undo.push(give_to_group(self.model, entry["id"], self.result))
        except SkiktError as exc:
            self.message.setText(exc.text(self._lang()))
            return
        self.message.setText(T("ahp_given_group").format(name=picked))

    def _decimal(self, value: float) -> str:
        text = f"{value:.3f}"
        return text.replace(".", ",") if self._lang() == "sv" else text

    def _lang(self) -> str:
        from .i18n import language

        return language()

    def _ask_text(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text if ok else None

    def _ask_item(self, title: str, label: str, items: list[str]) -> str | None:
        item, ok = QInputDialog.getItem(self, title, label, items, 0, False)
        return item if ok else None
