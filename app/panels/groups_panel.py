"""Groups dock (*Grupper*): each stakeholder group's points in a table, and the buttons that put
the groups on the map (consensus, disagreement, short list).

One row per group: its colour (click the swatch to change it), its name, its points per indicator
and the row's sum. Typing from a printed form is fast: Tab and Enter commit the cell and open the
next one (row by row over the points), values are 0–100, and text that is not such a number is
refused in one line. A row need not sum to 100: points become shares of the row's own sum (as
layers/groups.py computes them), and a sentence under the table says so when it matters.
Every edit is one undo step (app/commands_groups.py).
"""

from __future__ import annotations

import textwrap

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QColorDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QStyledItemDelegate, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from skikt.layers import groups as gr
from skikt.layers.errors import SkiktError

from ..commands_groups import add_group, groups_state, recolour_group, remove_group, rename_group, set_points
from ..i18n import T, language

COL_COLOUR, COL_NAME = 0, 1
NEW_GROUP_COLOURS = ("#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#b2df8a")
ROLE_UNIT = Qt.UserRole


def parse_points(text: str) -> float | None:
    """A number 0–100 as typed ("12", "12,5", "12.5"); None for anything else."""
    clean = text.strip().replace(",", ".").replace("\u00a0", "").replace(" ", "")
    try:
        value = float(clean)
    except ValueError:
        return None
    if not (0 <= value <= gr.MAX_POINTS):  # also refuses nan and inf
        return None
    return value


def points_text(value: float) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if language() == "sv" else text


class _CellDelegate(QStyledItemDelegate):
    """Tab, Shift+Tab and Enter commit the cell and hand the move to the panel."""

    def __init__(self, panel):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, editor, event):
        if event.type() == QEvent.KeyPress and event.key() in (Qt.Key_Tab, Qt.Key_Backtab, Qt.Key_Return,
                                                                Qt.Key_Enter):
            back = event.key() == Qt.Key_Backtab or (event.key() == Qt.Key_Tab
                                                     and event.modifiers() & Qt.ShiftModifier)
            index = self.panel.table.currentIndex()
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, QStyledItemDelegate.NoHint)
            # After the editor is gone and the edit's command has run: then open the next cell.
            QTimer.singleShot(0, lambda r=index.row(), c=index.column(): self.panel.edit_next(r, c, back))
            return True
        return super().eventFilter(editor, event)


class GroupsPanel(QWidget):
    consensus_requested = Signal()
    disagreement_toggled = Signal(bool)
    short_list_toggled = Signal(bool)
    unit_picked = Signal(int)  # a short-list entry was clicked: the unit's index

    def __init__(self, model, parent=None):
        super().__init__(parent)
        self.model = model
        # Tests replace these to answer the dialogs: (title, label, default) -> str | None, (colour) -> str | None
        self.ask_text = self._ask_text
        self.ask_colour = self._ask_colour
        self.groups: list[gr.Group] = []
        self.columns: list[str] = []  # indicator layer ids, one column each
        self.table = QTableWidget()
        self.table.setObjectName("groups_table")
        self.table.setItemDelegate(_CellDelegate(self))
        self.table.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
                                   | QAbstractItemView.AnyKeyPressed)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellClicked.connect(self._cell_clicked)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555555")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#9b1c1c")
        self.message.hide()
        self.add_button = self._button("gw_add", self.add)
        self.remove_button = self._button("gw_remove", self.remove)
        self.consensus_button = self._button("gw_consensus", self.consensus_requested.emit)
        self.consensus_button.setToolTip(T("gw_consensus_tip"))
        self.disagreement_button = self._button("gw_disagreement", None)
        self.disagreement_button.setCheckable(True)
        self.disagreement_button.setToolTip(T("gw_disagreement_tip"))
        self.disagreement_button.toggled.connect(self.disagreement_toggled)
        self.short_button = self._button("gw_short_list", None)
        self.short_button.setCheckable(True)
        self.short_button.setToolTip(T("gw_short_list_tip"))
        self.short_button.toggled.connect(self._short_toggled)
        self.short_label = QLabel("")
        self.short_label.setWordWrap(True)
        self.short_list = QListWidget()
        self.short_list.setObjectName("groups_short_list")
        self.short_list.itemClicked.connect(lambda item: self.unit_picked.emit(int(item.data(ROLE_UNIT))))
        self.short_label.hide()
        self.short_list.hide()
        edit_row, map_row = QHBoxLayout(), QHBoxLayout()
        edit_row.addWidget(self.add_button)
        edit_row.addWidget(self.remove_button)
        map_row.addWidget(self.consensus_button)
        map_row.addWidget(self.disagreement_button)
        map_row.addWidget(self.short_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table)
        lay.addWidget(self.note)
        lay.addWidget(self.message)
        lay.addLayout(edit_row)
        lay.addLayout(map_row)
        lay.addWidget(self.short_label)
        lay.addWidget(self.short_list, 1)
        lay.addStretch(0)
        groups_state(model).changed.connect(self.refresh)
        model.project_replaced.connect(self.refresh)
        model.layers_changed.connect(self.refresh)
        model.undo.indexChanged.connect(self.refresh)
        self.refresh()

    def say(self, text: str) -> None:
        """One line under the table (a refused edit); no empty line left when there is nothing."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _button(self, key, slot) -> QPushButton:
        b = QPushButton(T(key))
        b.setObjectName(f"groups_{key}")
        if slot is not None:
            b.clicked.connect(lambda _=False: slot())
        return b

    def _ask_text(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text if ok else None

    def _ask_colour(self, current: str) -> str | None:
        colour = QColorDialog.getColor(QColor(current), self, T("gw_colour"))
        return colour.name() if colour.isValid() else None

    # ------------------------------------------------------------------ model → table

    def _indicator_columns(self) -> list[str]:
        """The indicators that count in the score, and any other a group gives points to (a
        group's points on it count in its vector, so they must be visible)."""
        used = {lid for g in self.groups for lid in g.weights}
        return [s.id for s in self.model.project.indicator_layers()
                if s.indicator.extra.get("active", True) is not False or s.id in used]

    def refresh(self, *_):
        try:
            self._refresh()
        except RuntimeError:  # the dock was closed with its window (the model outlives it)
            pass

    def _refresh(self):
        try:
            self.groups = gr.read_groups(self.model.project)
        except SkiktError as exc:
            self.groups = []
            self.say(exc.text(language()))
        columns = self._indicator_columns()
        self.table.blockSignals(True)
        if columns != self.columns or self.table.rowCount() != len(self.groups):
            self.columns = columns
            self._build(columns)
        for row, group in enumerate(self.groups):
            self._fill_row(row, group)
        self.table.blockSignals(False)
        self._update_note()
        self.remove_button.setEnabled(bool(self.groups))
        for b in (self.consensus_button, self.disagreement_button, self.short_button):
            b.setEnabled(bool(self.groups))

    def _build(self, columns: list[str]) -> None:
        self.table.clear()
        self.table.setColumnCount(len(columns) + 3)
        self.table.setRowCount(len(self.groups))
        heads = [T("gw_colour"), T("gw_name")] + [self._head(lid) for lid in columns] + [T("gw_sum")]
        self.table.setHorizontalHeaderLabels(heads)
        for j, lid in enumerate(columns):
            self.table.horizontalHeaderItem(j + 2).setToolTip(self.model.project.layer(lid).title)
        header = self.table.horizontalHeader()
        metrics = header.fontMetrics()
        header.resizeSection(COL_COLOUR, metrics.horizontalAdvance(heads[COL_COLOUR]) + 16)
        header.resizeSection(COL_NAME, max([110, *(metrics.horizontalAdvance(g.name) + 16 for g in self.groups)]))
        for j, head in enumerate(heads[2:], start=2):  # wide enough for the header's longest line
            header.resizeSection(j, max([52, *(metrics.horizontalAdvance(line) + 14 for line in head.split("\n"))]))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows (up to eight), so the short list below gets the rest of the dock."""
        rows = min(max(self.table.rowCount(), 2), 8)
        height = (self.table.horizontalHeader().sizeHint().height() + rows * self.table.verticalHeader().defaultSectionSize()
                  + self.table.horizontalScrollBar().sizeHint().height() + 2 * self.table.frameWidth() + 2)
        self.table.setFixedHeight(height)

    def _head(self, lid: str) -> str:
        """The layer's title on up to three lines, broken between words only."""
        lines = textwrap.wrap(self.model.project.layer(lid).title, 13, break_long_words=False)
        return "\n".join(lines[:3]) + ("…" if len(lines) > 3 else "")

    def _fill_row(self, row: int, group: gr.Group) -> None:
        swatch = self._item(row, COL_COLOUR, "", editable=False)
        swatch.setBackground(QBrush(QColor(group.colour)))
        swatch.setToolTip(T("gw_colour_tip"))
        self._item(row, COL_NAME, group.name, editable=True)
        for j, lid in enumerate(self.columns):
            item = self._item(row, j + 2, points_text(group.weights.get(lid, 0.0)), editable=True)
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        total = gr.row_total(group)
        sum_item = self._item(row, len(self.columns) + 2, points_text(total), editable=False)
        sum_item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        off = abs(total - gr.POINTS_TOTAL) > 1e-9
        sum_item.setForeground(QBrush(QColor("#b00020" if off else "#1b5e20")))
        sum_item.setToolTip(T("gw_sum_off_tip") if off else "")
        font = sum_item.font()
        font.setBold(off)
        sum_item.setFont(font)

    def _item(self, row: int, col: int, text: str, editable: bool) -> QTableWidgetItem:
        item = self.table.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(row, col, item)
        item.setText(text)
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        item.setFlags(flags | Qt.ItemIsEditable if editable else flags)
        return item

    def _update_note(self) -> None:
        off = [g for g in self.groups if abs(gr.row_total(g) - gr.POINTS_TOTAL) > 1e-9]
        if not self.groups:
            self.note.setText(T("gw_no_groups"))
        elif off:
            listed = ", ".join(f"{g.name} {points_text(gr.row_total(g))}" for g in off)
            self.note.setText(T("gw_sum_off").format(rows=listed))
        else:
            self.note.setText(T("gw_sum_ok"))

    # ------------------------------------------------------------------ table → commands

    def _push(self, make) -> bool:
        """Build and push a command; a refused edit is one line in the panel, nothing changes."""
        try:
            command = make()
        except SkiktError as exc:
            self.say(exc.text(language()))
            self.refresh()
            return False
        self.say("")
        self.model.undo.push(command)
        return True

    def _item_changed(self, item: QTableWidgetItem) -> None:
        row, col = item.row(), item.column()
        if row >= len(self.groups):
            return
        group = self.groups[row]
        if col == COL_NAME:
            name = item.text().strip()
            if not name:
                self.say(T("gw_name_empty"))
                self.refresh()
            elif name != group.name:
                self._push(lambda: rename_group(self.model, group.id, name))
            return
        if not 2 <= col < 2 + len(self.columns):
            return
        lid = self.columns[col - 2]
        value = parse_points(item.text())
        if value is None:
            self.say(T("gw_bad_points").format(text=item.text().strip()[:30], name=group.name))
            self.refresh()  # the cell shows the points it still holds
            return
        if value != group.weights.get(lid, 0.0):
            self._push(lambda: set_points(self.model, group.id, lid, value))
        else:
            self.say("")
            self.refresh()

    def edit_next(self, row: int, col: int, back: bool = False) -> None:
        """Open the next cell for typing: the next points cell in the row, then the next row's
        first; backwards with Shift+Tab. The name cell is part of the round."""
        cells = [(r, c) for r in range(self.table.rowCount()) for c in range(COL_NAME, 2 + len(self.columns))]
        if not cells:
            return
        try:
            at = cells.index((row, col))
        except ValueError:
            at = -1
        target = cells[(at + (-1 if back else 1)) % len(cells)]
        self.table.setCurrentCell(*target)
        self.table.editItem(self.table.item(*target))

    def _cell_clicked(self, row: int, col: int) -> None:
        if col == COL_COLOUR and row < len(self.groups):
            self.recolour(row)

    # ------------------------------------------------------------------ buttons

    def add(self) -> None:
        name = self.ask_text(T("gw_add"), T("gw_name"), T("gw_new_group"))
        if not name or not name.strip():
            return
        colour = NEW_GROUP_COLOURS[len(self.groups) % len(NEW_GROUP_COLOURS)]
        if self._push(lambda: add_group(self.model, name, colour)):
            self.table.setCurrentCell(len(self.groups) - 1, 2)

    def remove(self) -> None:
        row = self.table.currentRow()
        if row < 0 and self.groups:
            row = len(self.groups) - 1
        if 0 <= row < len(self.groups):
            gid = self.groups[row].id
            self._push(lambda: remove_group(self.model, gid))

    def recolour(self, row: int) -> None:
        group = self.groups[row]
        colour = self.ask_colour(group.colour)
        if colour and colour.lower() != group.colour:
            self._push(lambda: recolour_group(self.model, group.id, colour))

    # ------------------------------------------------------------------ short list

    def _short_toggled(self, on: bool) -> None:
        self.short_label.setVisible(on)
        self.short_list.setVisible(on)
        self.short_list_toggled.emit(on)

    def show_short_list(self, entries: list[tuple[int, str, str]], total: int, places: str = "",
                        count: int | None = None) -> None:
        """``entries``: (unit index, shown name, unit id), best consensus first; ``places``: where
        most of them lie, in words; ``count``: how many there are (``entries`` may be the first)."""
        count = len(entries) if count is None else count
        head = T("gw_short_list_head").format(n=count, total=total)
        if count > len(entries):
            head += " " + T("gw_short_list_first").format(n=len(entries))
        self.short_label.setText(head + (f"\n{T('gw_short_list_where')}: {places}" if places else ""))
        self.short_list.clear()
        for index, name, uid in entries:
            item = QListWidgetItem(name if name == uid else f"{name}  ·  {uid}")
            item.setData(ROLE_UNIT, index)
            self.short_list.addItem(item)
