"""Layers dock: the project's layers grouped by sector; visibility, opacity, order, context menu."""

from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QMenu, QSlider, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from skikt.layers.sectors import SECTORS

from ..commands import MoveLayer, RemoveLayer, SetOpacity, SetVisible
from ..i18n import T, language

ROLE_ID = Qt.UserRole + 1


def swatch(colour: str, size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(colour))
    return QIcon(pm)


class _Tree(QTreeWidget):
    dropped = Signal(str, object)  # layer id, target item

    def dropEvent(self, event):
        source = self.currentItem()
        target = self.itemAt(event.position().toPoint())
        # The model decides and the tree is rebuilt from it. IgnoreAction: Qt must not also move
        # or remove rows of its own after the drag returns.
        event.setDropAction(Qt.IgnoreAction)
        event.ignore()
        self.setState(QAbstractItemView.NoState)
        if source is not None and source.data(0, ROLE_ID):
            self.dropped.emit(source.data(0, ROLE_ID), target)


class LayersPanel(QWidget):
    zoom_to_layer = Signal(str)
    style_requested = Signal(str)
    properties_requested = Signal(str)

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setDragDropMode(QAbstractItemView.InternalMove)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.dropped.connect(self._dropped)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(100)  # never a bare 0 that reads as "0 %" before a layer is chosen
        self.opacity.setEnabled(False)
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.opacity_label = QLabel(T("opacity"))
        # The value in words: "–" while no layer is selected, so a disabled slider is not read
        # as a layer at 0 %.
        self.opacity_value = QLabel("–")
        self.opacity_value.setMinimumWidth(self.opacity_value.fontMetrics().horizontalAdvance("100 %") + 4)
        self.opacity_value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.opacity.valueChanged.connect(self._show_opacity)
        row = QHBoxLayout()
        row.addWidget(self.opacity_label)
        row.addWidget(self.opacity)
        row.addWidget(self.opacity_value)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tree)
        lay.addLayout(row)
        self._quiet_depth = 0
        model.layers_changed.connect(self.rebuild)
        model.project_replaced.connect(self.rebuild)
        model.computed.connect(self.rebuild)
        model.look_changed.connect(self._sync_look)
        self.rebuild()

    # ------------------------------------------------------------------ model → widget

    @property
    def _updating(self) -> bool:
        return self._quiet_depth > 0

    @contextmanager
    def _quiet(self):
        """Widget changes made from the model are not user edits. Nested: a rebuild selects the
        current item, whose handler fills the opacity slider; the old on/off flag was switched off
        by that inner handler, and every item created after it then reported its (not yet set)
        check state as a user's untick, hiding all layers below the dragged one (issue 9, item 1)."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def rebuild(self):
        with self._quiet():
            self._fill_tree(self.current_layer())
        self._current_changed(self.tree.currentItem(), None)

    def _fill_tree(self, current):
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        lang = language()
        for spec in self.model.project.layers:
            sector = SECTORS[spec.sector]
            group = groups.get(spec.sector)
            if group is None:
                group = QTreeWidgetItem(self.tree, [sector.name(lang)])
                group.setIcon(0, swatch(sector.colour, 14))
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
                group.setFlags(Qt.ItemIsEnabled | Qt.ItemIsDropEnabled)
                group.setExpanded(True)
                groups[spec.sector] = group
            lay = self.model.ws.layers.get(spec.id)
            title = spec.title
            if lay is not None and lay.meta.illustrative:
                title += f"  ({T('illustrative')})"
            item = QTreeWidgetItem(group, [title])
            item.setCheckState(0, Qt.Checked if spec.visible else Qt.Unchecked)
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsUserCheckable | Qt.ItemIsDragEnabled)
            item.setData(0, ROLE_ID, spec.id)
            if spec.id in self.model.ws.errors:
                item.setForeground(0, QBrush(QColor("#b00020")))
                item.setToolTip(0, self.model.ws.errors[spec.id].text(lang))
            elif lay is not None:
                item.setToolTip(0, f"{spec.title}\n{lay.report.summary(lang)}")
            if spec.id == current:
                self.tree.setCurrentItem(item)

    def _sync_look(self, layer_id: str):
        with self._quiet():
            for item in self._items():
                spec = self.model.project.layer(item.data(0, ROLE_ID))
                item.setCheckState(0, Qt.Checked if spec.visible else Qt.Unchecked)
            cur = self.current_layer()
            if cur:
                self.opacity.setValue(round(self.model.project.layer(cur).opacity * 100))

    def _items(self):
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            for i in range(group.childCount()):
                yield group.child(i)

    def item_for(self, layer_id: str):
        return next((it for it in self._items() if it.data(0, ROLE_ID) == layer_id), None)

    def current_layer(self) -> str | None:
        item = self.tree.currentItem() if hasattr(self, "tree") else None
        return item.data(0, ROLE_ID) if item is not None else None

    # ------------------------------------------------------------------ widget → commands

    def _item_changed(self, item, _col):
        if self._updating or not item.data(0, ROLE_ID):
            return
        lid = item.data(0, ROLE_ID)
        visible = item.checkState(0) == Qt.Checked
        if visible != self.model.project.layer(lid).visible:
            self.model.undo.push(SetVisible(self.model, lid, visible))

    def _show_opacity(self, value: int):
        self.opacity_value.setText(f"{value} %" if self.opacity.isEnabled() else "–")

    def _current_changed(self, item, _prev):
        lid = item.data(0, ROLE_ID) if item is not None else None
        self.opacity.setEnabled(bool(lid))
        self.opacity_label.setEnabled(bool(lid))
        self._show_opacity(self.opacity.value())
        if lid:
            with self._quiet():
                self.opacity.setValue(round(self.model.project.layer(lid).opacity * 100))

    def _opacity_moved(self, value):
        lid = self.current_layer()
        if self._updating or not lid:
            return
        self.model.undo.push(SetOpacity(self.model, lid, value / 100))

    def _dropped(self, layer_id: str, target):
        layers = self.model.project.layers
        sector = self.model.project.layer(layer_id).sector
        if target is None:
            return
        tid = target.data(0, ROLE_ID)
        if tid:
            if self.model.project.layer(tid).sector != sector or tid == layer_id:
                return
            new_index = next(i for i, s in enumerate(layers) if s.id == tid)
        else:
            same = [i for i, s in enumerate(layers) if s.sector == sector]
            if target.text(0) != SECTORS[sector].name(language()) or not same:
                return
            new_index = same[0]
        self.model.undo.push(MoveLayer(self.model, layer_id, new_index))  # rebuilds the tree

    def move_current(self, delta: int):
        lid = self.current_layer()
        if not lid:
            return
        idx = next(i for i, s in enumerate(self.model.project.layers) if s.id == lid)
        self.model.undo.push(MoveLayer(self.model, lid, max(0, idx + delta)))

    def _menu(self, pos):
        item = self.tree.itemAt(pos)
        lid = item.data(0, ROLE_ID) if item is not None else None
        if not lid:
            return
        menu = QMenu(self)
        menu.addAction(T("zoom_layer"), lambda: self.zoom_to_layer.emit(lid))
        menu.addAction(T("style"), lambda: self.style_requested.emit(lid))
        menu.addAction(T("properties"), lambda: self.properties_requested.emit(lid))
        menu.addSeparator()
        menu.addAction(T("remove"), lambda: self.model.undo.push(RemoveLayer(self.model, lid)))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
