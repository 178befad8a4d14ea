"""Legend dock: built from what the canvas scene has drawn, so it cannot drift out of sync."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from matplotlib.colors import to_hex

from ..i18n import T
from .common import clear_layout, scrolling


def legend_icon(entry, size: int = 18) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    colour = QColor(to_hex(entry.colour, keep_alpha=False)) if not isinstance(entry.colour, str) else QColor(entry.colour)
    if entry.kind == "line":
        p.setPen(QPen(colour, 3))
        p.drawLine(2, size // 2, size - 2, size // 2)
    elif entry.kind == "point":
        p.setPen(QPen(QColor("#222222"), 1))
        p.setBrush(colour)
        c, r = size / 2, size / 3
        if entry.marker in ("s", "D"):
            if entry.marker == "D":
                p.drawPolygon(QPolygonF([QPointF(c, c - r), QPointF(c + r, c), QPointF(c, c + r), QPointF(c - r, c)]))
            else:
                p.drawRect(QRectF(c - r * 0.8, c - r * 0.8, r * 1.6, r * 1.6))
        elif entry.marker == "^":
            p.drawPolygon(QPolygonF([QPointF(c, c - r), QPointF(c + r, c + r * 0.8), QPointF(c - r, c + r * 0.8)]))
        elif entry.marker in ("*", "h"):
            import math

            n, inner = (5, 0.45) if entry.marker == "*" else (6, 1.0)
            pts = []
            for i in range(n * 2 if entry.marker == "*" else n):
                ang = -math.pi / 2 + i * math.pi / (n if entry.marker == "*" else n / 2)
                rad = r * 1.2 if i % 2 == 0 or entry.marker == "h" else r * 1.2 * inner
                pts.append(QPointF(c + rad * math.cos(ang), c + rad * math.sin(ang)))
            p.drawPolygon(QPolygonF(pts))
        elif entry.marker in ("P", "X"):
            w = r * 0.55
            arm = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w),
                   (-r, -w), (-w, -w)]
            if entry.marker == "X":
                import math

                cs, sn = math.cos(math.pi / 4), math.sin(math.pi / 4)
                arm = [(x * cs - y * sn, x * sn + y * cs) for x, y in arm]
            p.drawPolygon(QPolygonF([QPointF(c + x, c + y) for x, y in arm]))
        else:
            p.drawEllipse(QPointF(c, c), r, r)
    elif entry.kind == "hatch":
        _draw_hatch(p, QRectF(2, 3, size - 4, size - 6), colour, QColor(entry.edge or "#555555"))
    else:
        p.setPen(QPen(QColor("#555555"), 1))
        p.setBrush(colour)
        p.drawRect(QRectF(2, 3, size - 4, size - 6))
    p.end()
    return pm


def _draw_hatch(p: QPainter, box: QRectF, face: QColor, line: QColor) -> None:
    """The excluded units' look: a fill in ``face`` crossed by "/" lines in ``line``, as the map
    draws them, so the legend swatch reads as "not scored" rather than one more class colour."""
    p.setPen(Qt.NoPen)
    p.setBrush(face)
    p.drawRect(box)
    p.save()
    p.setClipRect(box)
    p.setPen(QPen(line, 1.2))
    step = max(box.height() / 3, 3.0)
    offset = -box.height()
    while offset < box.width():
        p.drawLine(QPointF(box.left() + offset, box.bottom()), QPointF(box.left() + offset + box.height(), box.top()))
        offset += step
    p.restore()
    p.setPen(QPen(line, 1))
    p.setBrush(Qt.NoBrush)
    p.drawRect(box)


class LegendPanel(QWidget):
    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.body = QWidget()
        self.inner = QVBoxLayout(self.body)
        self.inner.setContentsMargins(6, 6, 6, 6)
        self.inner.setSpacing(2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scrolling(self.body))
        canvas.drawn.connect(self.rebuild)
        canvas.model.no_map_changed.connect(self.rebuild)
        self.rebuild()

    def stability_explained(self) -> str:
        """What "Byter klass (1/3)" means, in counts: each try moves one weight by ±10 %; the
        three shades split 1…(most changes of any unit) into thirds, as the map's colours do."""
        values = self.canvas.scene.show_stability
        ws = self.canvas.model.ws
        if values is None or ws.composite is None:
            return ""
        tries = 2 * int(np.count_nonzero(np.asarray(ws.composite.weights) > 0))
        finite = np.asarray(values, float)[np.isfinite(values)]  # excluded units have no count
        top = max(int(finite.max()) if len(finite) else 0, 1)
        # The scene's bounds: a count v is in shade j when v < j·top/3 + 0.5.
        upper = [math.ceil(j * top / 3 + 0.5) - 1 for j in (1, 2)] + [top]
        lower = [1, upper[0] + 1, upper[1] + 1]
        shades = [f"({j + 1}/3) {lo}–{hi}" if lo < hi else f"({j + 1}/3) {hi}"
                  for j, (lo, hi) in enumerate(zip(lower, upper)) if lo <= hi]
        return T("stability_explained").format(n=tries, shades=", ".join(shades))

    def hidden_weighted(self) -> list[str]:
        """Titles of the layers that count in the score (weight above zero) but are not shown."""
        return [s.title for s in self.canvas.model.project.layers
                if s.indicator is not None and s.indicator.weight > 0 and not s.visible]

    def titles(self) -> list[str]:
        return [title for title, _, _ in self.canvas.scene.legend_sections()]

    @staticmethod
    def _unit_map_note(text: str) -> QLabel:
        """What the shown per-unit map's values mean (UnitMap.note), right under its heading."""
        note = QLabel(text)
        note.setObjectName("unit_map_note")
        note.setWordWrap(True)
        note.setStyleSheet("color:#444444")
        return note

    def rebuild(self, *_):
        clear_layout(self.inner)
        reason = self.canvas.model.no_map_reason
        if reason:  # why the map has no priority layer, above everything else
            note = QLabel(f"<b>{reason}</b>")
            note.setObjectName("no_map")
            note.setWordWrap(True)
            note.setStyleSheet("color:#7a1f00;background:#fff4e5;border:1px solid #b35900;padding:4px")
            self.inner.addWidget(note)
        sections = self.canvas.scene.legend_sections()
        explained = self.stability_explained()
        if explained:
            what = QLabel(explained)
            what.setObjectName("stability_explained")
            what.setWordWrap(True)
            what.setStyleSheet("color:#444444")
            self.inner.addWidget(what)
        hidden = self.hidden_weighted()
        if hidden and sections and not reason:
            # Counted in the score but not drawn: the map's colours come from these too.
            also = QLabel(T("also_weighted").format(names=", ".join(hidden)))
            also.setObjectName("also_weighted")
            also.setWordWrap(True)
            also.setStyleSheet("color:#444444;font-style:italic")
            self.inner.addWidget(also)
        if not sections and not reason:
            self.inner.addWidget(QLabel(T("no_features_here")))
        unit_map = self.canvas.scene.unit_map
        note_under = unit_map.title if unit_map is not None and unit_map.note else None
        for title, entries, illustrative in sections:
            single = len(entries) == 1 and not entries[0].label
            head = QHBoxLayout()
            if single:
                icon = QLabel()
                icon.setPixmap(legend_icon(entries[0]))
                head.addWidget(icon)
            label = QLabel(f"<b>{title}</b>" if not illustrative else
                           f"<b>{title.rsplit(' (', 1)[0]}</b> <i style='color:#a05a00'>({T('illustrative')})</i>")
            label.setWordWrap(True)
            head.addWidget(label, 1)
            box = QWidget()
            box.setLayout(head)
            head.setContentsMargins(0, 6, 0, 0)
            self.inner.addWidget(box)
            if title == note_under:
                self.inner.addWidget(self._unit_map_note(unit_map.note))
                note_under = None  # once, under the map's own heading
            if single:
                continue
            for e in entries:
                row = QHBoxLayout()
                row.setContentsMargins(12, 0, 0, 0)
                icon = QLabel()
                icon.setPixmap(legend_icon(e))
                row.addWidget(icon)
                row.addWidget(QLabel(e.label), 1)
                w = QWidget()
                w.setLayout(row)
                self.inner.addWidget(w)
        self.inner.addStretch(1)
