"""Saved views dock: the project's ``[[views]]``, a click opens one (extent, visible layers, scenario).

"Ny vy från kartan" stores the map on screen; drag a view to reorder; rename and delete. Every
change is one undo step (app/commands_scenarios.py). The panel is told how to read and set the
map's extent, so it knows nothing about the canvas class.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QInputDialog, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from skikt.layers import views as vw
from skikt.layers.errors import SkiktError

from ..commands_scenarios import DeleteView, MoveView, NewView, OpenView, RenameView, state
from ..i18n import T, language

ROLE_NAME = Qt.UserRole


class ViewList(QListWidget):
    """A list whose drops are turned into one undoable MoveView, not a silent row move."""

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.setDragDropMode(QAbstractItemView.InternalMove)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setSelectionMode(QAbstractItemView.SingleSelection)

    def drop_row(self, pos) -> int:
        """Where a drop at ``pos`` puts the dragged view (0 … count-1)."""
        item = self.itemAt(pos)
        if item is None:
            return self.count() - 1
        row = self.row(item)
        rect = self.visualItemRect(item)
        return row + 1 if pos.y() > rect.center().y() else row

    def dropEvent(self, event):
        dragged = self.currentItem()
        if dragged is None:
            event.ignore()
            return
        source = self.row(dragged)
        target = self.drop_row(event.position().toPoint())
        if target > source:
            target -= 1  # the dragged row leaves its place first
        # Not a move for Qt: after a MoveAction the drag source would remove the dragged row from
        # the list; the model moves the view and the list is rebuilt from it.
        event.setDropAction(Qt.IgnoreAction)
        event.accept()
        if target != source:
            self.panel.move(dragged.data(ROLE_NAME), target)


class ViewsPanel(QWidget):
    def __init__(self, model, get_extent, set_extent, parent=None):
        super().__init__(parent)
        self.model, self.get_extent, self.set_extent = model, get_extent, set_extent
        self.ask_text = self._ask_text  # tests replace this: (title, label, default) -> str | None
        self.list = ViewList(self)
        self.list.setObjectName("view_list")
        self.list.itemClicked.connect(lambda item: self.open(item.data(ROLE_NAME)))
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color:#555555")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#9b1c1c")
        self.new_button = self._button("new_view", self.new_view)
        self.rename_button = self._button("rename", self.rename)
        self.delete_button = self._button("delete", self.delete)
        buttons = QHBoxLayout()
        for b in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.notes)
        lay.addLayout(buttons)
        lay.addWidget(self.message)
        self.opened: str | None = None
        state(model).changed.connect(self.refresh)
        model.project_replaced.connect(self._project)
        model.undo.indexChanged.connect(self.refresh)
        self.refresh()

    def _button(self, key, slot) -> QPushButton:
        b = QPushButton(T(key))
        b.setObjectName(f"view_{key}")
        b.clicked.connect(lambda _=False: slot())
        return b

    def _ask_text(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text if ok else None

    def _project(self):
        self.opened = None
        self.refresh()

    def names(self) -> list[str]:
        return [self.list.item(i).data(ROLE_NAME) for i in range(self.list.count())]

    def refresh(self, *_):
        try:
            self._refresh()
        except RuntimeError:  # the dock was closed with its window (the model outlives it)
            pass

    def _refresh(self):
        try:
            views = vw.read_views(self.model.project)
        except SkiktError as exc:
            views = []
            self.message.setText(exc.text(language()))
        self.list.clear()
        for view in views:
            label = view.title and view.title != view.name and f"{view.name} – {view.title}" or view.name
            item = QListWidgetItem(label)
            item.setData(ROLE_NAME, view.name)
            tip = [view.subtitle] if view.subtitle else []
            if view.scenario:
                tip.append(T("view_scenario").format(name=view.scenario))
            item.setToolTip("\n".join(tip))
            self.list.addItem(item)
            if view.name == self.opened:
                self.list.setCurrentItem(item)
        shown = next((v for v in views if v.name == self.opened), None)
        self.notes.setText(shown.notes if shown is not None else "")
        has = self.list.currentItem() is not None
        self.rename_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ROLE_NAME) if item is not None else None

    # ------------------------------------------------------------------ actions

    def _push(self, make) -> bool:
        try:
            command = make()
        except SkiktError as exc:
            self.message.setText(exc.text(language()))
            return False
        self.message.setText("")
        self.model.undo.push(command)
        return True

    def open(self, name: str) -> None:
        """Open a view: layers and scenario as one undo step, then its extent (whole study area
        when it has none)."""
        if not self._push(lambda: OpenView(self.model, name)):
            return
        self.opened = name
        self.set_extent(vw.find_view(self.model.project, name).extent)
        self.refresh()

    def new_view(self):
        if self._push(lambda: NewView(self.model, self.get_extent())):
            self.opened = vw.read_views(self.model.project)[-1].name
            self.refresh()

    def rename(self):
        old = self.selected()
        if old is None:
            return
        new = self.ask_text(T("rename"), T("view_name"), old)
        if new and new.strip() != old and self._push(lambda: RenameView(self.model, old, new)):
            if self.opened == old:
                self.opened = new.strip()
            self.refresh()

    def delete(self):
        name = self.selected()
        if name is not None:
            self._push(lambda: DeleteView(self.model, name))

    def move(self, name: str, index: int) -> None:
        self._push(lambda: MoveView(self.model, name, index))
