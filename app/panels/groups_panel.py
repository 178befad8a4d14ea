"""Groups dock (*Grupper*): each stakeholder group's points in a table, and the buttons that put
the groups on the map (consensus, disagreement, short list).

One row per group: its colour (click the swatch to change it), its name, the row's sum and its
points per indicator under short headers (the full title is the tooltip). Typing from a printed
form is fast: Tab and Enter commit the cell and open the next points cell, row by row, and stop
after the last row; a name is edited only by double-click or F2, so a number typed for the next
row never renames a group. Values are 0–100, and text that is not such a number is refused in
one line. A row need not sum to 100: points become shares of the row's own sum (as
layers/groups.py computes them), and a sentence under the table says so when it matters.
Every edit is one undo step (app/commands_groups.py).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QColorDialog, QFrame, QHBoxLayout, QHeaderView, QInputDialog, QLabel,
                               QPushButton, QScrollArea, QStyledItemDelegate, QTableWidget,
                               QTableWidgetItem, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from skikt.layers import groups as gr
from skikt.layers.errors import SkiktError

from ..commands_groups import add_group, groups_state, recolour_group, remove_group, rename_group, set_points
from ..i18n import T, language

COL_COLOUR, COL_NAME, COL_SUM = 0, 1, 2
FIRST_POINTS = 3  # the first indicator's column: the sum stays in view beside the name
HEAD_CHARS = 7  # an indicator's column header: its title cut to this many characters (full title as tooltip)
NAME_WIDTH = 110  # pixels at most for the name column; a longer name is elided, its full text a tooltip
NEW_GROUP_COLOURS = ("#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#b2df8a")
ROLE_UNIT = Qt.UserRole  # a unit entry: the unit's index
ROLE_PLACE = Qt.UserRole + 1  # a municipality's entry: its position in ``short_places``


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


def short_head(title: str, limit: int = HEAD_CHARS) -> str:
    """A title's first words that fit in ``limit`` characters, else its first word cut with a full
    stop: "Andel 65 år och äldre" → "Andel 65", "Skyddsrum" → "Skyddsr."."""
    words = title.replace(",", " ").split()
    if not words:
        return title
    head = words[0]
    if len(head) > limit:
        return head[:limit - 1] + "."
    for word in words[1:]:
        if len(head) + 1 + len(word) > limit:
            break
        head += " " + word
    return head


def count_text(n: int) -> str:
    """1949 as "1 949" in Swedish (a narrow no-break space), "1,949" in English."""
    return f"{n:,}".replace(",", "\u202f") if language() == "sv" else f"{n:,}"


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
    place_picked = Signal(object)  # a municipality's entry was clicked: its listed units' indices
    consensus_shown = Signal(str)  # "" or the sentence saying the live weights are the groups' consensus

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
        # Said where the room looks once Konsensus is pressed (mock workshop: nothing on the desk
        # said the map was the consensus): stays while the live weights are the groups' mean.
        self.consensus_note = QLabel("")
        self.consensus_note.setObjectName("groups_consensus_note")
        self.consensus_note.setWordWrap(True)
        self.consensus_note.setStyleSheet("background:#e6f2e6; color:#1b5e20; font-weight:bold; padding:3px;"
                                          " border:1px solid #1b5e20; border-radius:3px")
        self.consensus_note.hide()
        self.short_label = QLabel("")
        self.short_label.setWordWrap(True)
        # One entry per municipality ("Norrtälje: 1 949 rutor"; a click zooms to its listed units),
        # its units underneath when it is opened: a top class of thousands of cells is not a list.
        self.short_list = QTreeWidget()
        self.short_list.setObjectName("groups_short_list")
        self.short_list.setHeaderHidden(True)
        self.short_list.setColumnCount(1)
        self.short_list.setUniformRowHeights(True)
        self.short_list.setMinimumHeight(90)
        self.short_list.itemClicked.connect(self._short_clicked)
        self.short_list.itemExpanded.connect(self._fill_place)
        self.short_places: list[tuple[str, list[tuple[int, str, str]]]] = []
        self.short_label.hide()
        self.short_list.hide()
        edit_row, map_row = QHBoxLayout(), QHBoxLayout()
        edit_row.addWidget(self.add_button)
        edit_row.addWidget(self.remove_button)
        map_row.addWidget(self.consensus_button)
        map_row.addWidget(self.disagreement_button)
        map_row.addWidget(self.short_button)
        # Everything scrolls inside the dock: the dock asks for no more height than a scroll area
        # (a fixed-height table, the wrapped note and the short list once asked for more than a
        # 720-pixel screen has, and the main window grew past the screen's edge).
        inner = QWidget()
        inner.setObjectName("groups_inner")
        self.scroll = QScrollArea()
        self.scroll.setObjectName("groups_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table)
        lay.addWidget(self.note)
        lay.addWidget(self.message)
        lay.addLayout(edit_row)
        lay.addLayout(map_row)
        lay.addWidget(self.consensus_note)
        lay.addWidget(self.short_label)
        lay.addWidget(self.short_list, 1)
        lay.addStretch(0)
        groups_state(model).changed.connect(self.refresh)
        model.project_replaced.connect(self.refresh)
        model.layers_changed.connect(self.refresh)
        model.undo.indexChanged.connect(self.refresh)
        model.composite_changed.connect(self.check_consensus)
        model.computed.connect(self.check_consensus)
        groups_state(model).changed.connect(self.check_consensus)
        self.refresh()
        self.check_consensus()

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
        self.table.setColumnCount(len(columns) + FIRST_POINTS)
        self.table.setRowCount(len(self.groups))
        heads = ["", T("gw_name"), T("gw_sum")] + [self._head(lid) for lid in columns]
        self.table.setHorizontalHeaderLabels(heads)
        self.table.horizontalHeaderItem(COL_COLOUR).setToolTip(T("gw_colour"))
        for j, lid in enumerate(columns):
            self.table.horizontalHeaderItem(j + FIRST_POINTS).setToolTip(self.model.project.layer(lid).title)
        header = self.table.horizontalHeader()
        font = header.font()
        font.setPointSizeF(max(7.0, self.table.font().pointSizeF() - 1))  # headers a point smaller: more columns fit
        header.setFont(font)
        metrics, cells = header.fontMetrics(), self.table.fontMetrics()
        header.setMinimumSectionSize(18)
        header.resizeSection(COL_COLOUR, 22)
        header.resizeSection(COL_NAME, min(NAME_WIDTH, max([60, *(cells.horizontalAdvance(g.name) + 10 for g in self.groups)])))
        for j, head in enumerate(heads[COL_SUM:], start=COL_SUM):  # numbers up to 100: the header sets the width
            header.resizeSection(j, max(cells.horizontalAdvance("100,5") + 8, metrics.horizontalAdvance(head) + 10))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows (up to eight), so the short list below gets the rest of the dock."""
        rows = min(max(self.table.rowCount(), 2), 8)
        height = (self.table.horizontalHeader().sizeHint().height() + rows * self.table.verticalHeader().defaultSectionSize()
                  + self.table.horizontalScrollBar().sizeHint().height() + 2 * self.table.frameWidth() + 2)
        self.table.setFixedHeight(height)

    def _head(self, lid: str) -> str:
        """The layer's title cut short for a narrow column: its first words up to HEAD_CHARS
        characters, a word cut with a full stop ("Vårdcentraler, läkare…" → "Vårdcen.")."""
        return short_head(self.model.project.layer(lid).title)

    def _fill_row(self, row: int, group: gr.Group) -> None:
        swatch = self._item(row, COL_COLOUR, "", editable=False)
        swatch.setBackground(QBrush(QColor(group.colour)))
        swatch.setToolTip(T("gw_colour_tip"))
        self._item(row, COL_NAME, group.name, editable=True).setToolTip(group.name)
        for j, lid in enumerate(self.columns):
            item = self._item(row, j + FIRST_POINTS, points_text(group.weights.get(lid, 0.0)), editable=True)
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        total = gr.row_total(group)
        sum_item = self._item(row, COL_SUM, points_text(total), editable=False)
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

    # ------------------------------------------------------------------ consensus on the map

    def consensus_text(self) -> str:
        """The sentence when the live weights are the groups' consensus (the same shares over the
        scored indicators), else ""."""
        from ..commands_scenarios import working_weights
        from ..workshop_ui import group_scores_for

        try:
            gs = group_scores_for(self.model)
        except SkiktError:
            return ""
        if gs is None:
            return ""
        weights = working_weights(self.model)
        live = np.array([weights.get(lid, 0.0) for lid in gs.layer_ids], float)
        if not live.sum() > 0:
            return ""
        if np.allclose(live / live.sum(), np.asarray(gs.consensus_weights, float), rtol=0, atol=1e-6):
            return T("gw_consensus_on").format(n=len(gs.groups))
        return ""

    def check_consensus(self, *_) -> None:
        try:
            text = self.consensus_text()
            if text == self.consensus_note.text() and self.consensus_note.isVisibleTo(self) == bool(text):
                return
            self.consensus_note.setText(text)
            self.consensus_note.setVisible(bool(text))
        except RuntimeError:  # the dock was closed with its window (the model outlives it)
            return
        self.consensus_shown.emit(text)

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
        if not FIRST_POINTS <= col < FIRST_POINTS + len(self.columns):
            return
        lid = self.columns[col - FIRST_POINTS]
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
        """Open the next points cell for typing: the next in the row, then the next row's first;
        backwards with Shift+Tab. Names are not part of the round (a number typed for the next
        row must not rename it), and the round stops at the table's ends instead of wrapping to
        the first row. From a name cell (F2), Tab goes to that row's first points cell."""
        cells = [(r, c) for r in range(self.table.rowCount())
                 for c in range(FIRST_POINTS, FIRST_POINTS + len(self.columns))]
        if not cells:
            return
        if (row, col) in cells:
            at = cells.index((row, col)) + (-1 if back else 1)
        else:  # the name cell: its row's first points cell either way
            at = cells.index((row, FIRST_POINTS)) if (row, FIRST_POINTS) in cells else -1
        if not 0 <= at < len(cells):
            self.table.setCurrentCell(row, col)  # the last (or first) cell: stay, committed
            return
        target = cells[at]
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
            self.table.setCurrentCell(len(self.groups) - 1, FIRST_POINTS)

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

    def show_short_list(self, places: list[tuple[str, list[tuple[int, str, str]]]], total: int,
                        cells: bool = True) -> None:
        """``places``: (municipality, its entries) most entries first, each entry (unit index, shown
        name, unit id) best consensus first; ``total``: the units there are; ``cells``: grid cells
        (counted as "rutor") or area units ("enheter")."""
        count = sum(len(entries) for _, entries in places)
        head = T("gw_short_list_head").format(n=count_text(count), total=count_text(total))
        most = ", ".join(f"{place} {count_text(len(entries))}" for place, entries in places[:5] if place)
        self.short_label.setText(head + (f"\n{T('gw_short_list_where')}: {most}" if most else ""))
        # Under each municipality its units come best consensus first.
        self.short_list.setToolTip(T("gw_short_list_first").format(n=count_text(count)))
        self.short_places = places
        self.short_list.clear()
        pattern = T("gw_short_list_place_cells" if cells else "gw_short_list_place_units")
        for at, (place, entries) in enumerate(places):
            item = QTreeWidgetItem([pattern.format(place=place or T("gw_short_list_no_place"),
                                                   n=count_text(len(entries)))])
            item.setData(0, ROLE_PLACE, at)
            item.setChildIndicatorPolicy(QTreeWidgetItem.ShowIndicator)  # its units are added when opened
            self.short_list.addTopLevelItem(item)

    def _fill_place(self, item) -> None:
        if item.childCount() or item.data(0, ROLE_PLACE) is None:
            return
        _, entries = self.short_places[int(item.data(0, ROLE_PLACE))]
        children = []
        for index, name, uid in entries:
            child = QTreeWidgetItem([name if name == uid else f"{name}  ·  {uid}"])
            child.setData(0, ROLE_UNIT, index)
            children.append(child)
        item.addChildren(children)

    def _short_clicked(self, item, _column: int = 0) -> None:
        unit = item.data(0, ROLE_UNIT)
        if unit is not None:
            self.unit_picked.emit(int(unit))
            return
        at = item.data(0, ROLE_PLACE)
        if at is not None:
            self.place_picked.emit([index for index, _, _ in self.short_places[int(at)][1]])
