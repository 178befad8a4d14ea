"""Scenario picker dock: the project's named weight sets, one click to show one.

The first row is the project's own weights. A click picks a scenario (the sliders take its
weights); the buttons save the working weights as a scenario, bring back the saved weights,
rename and delete. Every action is one undo step (app/commands_scenarios.py).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from skikt.layers import scenarios as sc
from skikt.layers.errors import SkiktError

from ..commands_scenarios import (DeleteScenario, PickScenario, RenameScenario, ResetToScenario, SaveAsScenario,
                                  is_modified, state)
from ..i18n import T, language

ROLE_NAME = Qt.UserRole  # the scenario's name; None for the project's own weights


class ScenariosPanel(QWidget):
    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        # Tests replace this to answer the name dialog: (title, label, default) -> str | None
        self.ask_text = self._ask_text
        self.list = QListWidget()
        self.list.setObjectName("scenario_list")
        self.list.itemClicked.connect(self._picked)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color:#555555")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#9b1c1c")
        self.save_button = self._button("save_as_scenario", self.save_as)
        self.reset_button = self._button("reset_to_scenario", self.reset)
        self.rename_button = self._button("rename", self.rename)
        self.delete_button = self._button("delete", self.delete)
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        row1.addWidget(self.save_button)
        row1.addWidget(self.reset_button)
        row2.addWidget(self.rename_button)
        row2.addWidget(self.delete_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.description)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.message)
        state(model).changed.connect(self.refresh)
        model.project_replaced.connect(self.refresh)
        model.undo.indexChanged.connect(self.refresh)
        model.composite_changed.connect(self.refresh)
        self.refresh()

    def _button(self, key, slot) -> QPushButton:
        b = QPushButton(T(key))
        b.setObjectName(f"scenario_{key}")
        b.clicked.connect(lambda _=False: slot())
        return b

    def _ask_text(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text if ok else None

    # ------------------------------------------------------------------ model → list

    def names(self) -> list[str | None]:
        return [self.list.item(i).data(ROLE_NAME) for i in range(self.list.count())]

    def refresh(self, *_):
        try:
            self._refresh()
        except RuntimeError:  # the dock was closed with its window (the model outlives it)
            pass

    def _refresh(self):
        try:
            scenarios = sc.read_scenarios(self.model.project)
        except SkiktError as exc:
            scenarios = []
            self.message.setText(exc.text(language()))
        current = state(self.model).current
        modified = is_modified(self.model)
        self.list.blockSignals(True)
        self.list.clear()
        for name, desc in [(None, T("project_weights_tip"))] + [(s.name, s.description) for s in scenarios]:
            text = name or T("project_weights")
            if name == current and modified:
                text += "  " + T("scenario_modified")
            item = QListWidgetItem(text)
            item.setData(ROLE_NAME, name)
            item.setToolTip(desc or "")
            if name == current:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
            if name == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        desc = next((s.description for s in scenarios if s.name == current), "") if current else T("project_weights_tip")
        self.description.setText(desc)
        self.reset_button.setEnabled(modified)
        self.rename_button.setEnabled(current is not None)
        self.delete_button.setEnabled(current is not None)

    # ------------------------------------------------------------------ actions

    def _push(self, make) -> bool:
        """Build and push a command; a refused edit is one line in the panel, nothing changes."""
        try:
            command = make()
        except SkiktError as exc:
            self.message.setText(exc.text(language()))
            return False
        self.message.setText("")
        self.model.undo.push(command)
        return True

    def _picked(self, item: QListWidgetItem):
        name = item.data(ROLE_NAME)
        if name != state(self.model).current:
            self._push(lambda: PickScenario(self.model, name))

    def pick(self, name: str | None) -> None:
        self._push(lambda: PickScenario(self.model, name))

    def save_as(self):
        current = state(self.model).current
        name = self.ask_text(T("save_as_scenario"), T("scenario_name"), current or "")
        if name:
            self._push(lambda: SaveAsScenario(self.model, name))

    def reset(self):
        self._push(lambda: ResetToScenario(self.model))

    def rename(self):
        current = state(self.model).current
        if current is None:
            return
        name = self.ask_text(T("rename"), T("scenario_name"), current)
        if name and name.strip() != current:
            self._push(lambda: RenameScenario(self.model, current, name))

    def delete(self):
        current = state(self.model).current
        if current is not None:
            self._push(lambda: DeleteScenario(self.model, current))
