"""The workshop's captures on a map: what is drawn (pins, sketched areas, the dot tally per unit),
the small comment line that asks for a pin's or an area's comment, and the one place that writes
a capture to the workshop GeoPackage (app/workshop_store.py) and words the outcome in one line.

Both the desk map (app/capture_ui.py) and presentation mode (app/presentation.py) use these, so a
dot placed on the projector shows on the desk map at once and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit

from skikt.layers.errors import SkiktError
from skikt.layers.i18n import tr

NO_GROUP_COLOUR = "#444444"
MIXED_COLOUR = "#222222"  # a unit with dots of several groups
INK = "#111111"
_RECLUSTERING = False  # a tally being redrawn (CaptureOverlay._tally)
ZORDER = 40  # over the priority map, the layers and the base map; under the sketch and notes


@dataclass
class GroupInfo:
    id: str
    name: str
    colour: str


def project_groups(project) -> list[GroupInfo]:
    """The project's groups (id, name, colour); none if there are none or they cannot be read
    (the groups part reports that problem; the capture tools then offer "no group" only)."""
    from skikt.layers.groups import read_groups

    try:
        return [GroupInfo(g.id, g.name, g.colour) for g in read_groups(project)]
    except SkiktError:
        return []


@dataclass
class CaptureData:
    """What the store holds, ready to draw: features in the project CRS, the tally per unit and
    group with each unit's centre."""

    pins: object = None  # GeoDataFrame
    areas: object = None  # GeoDataFrame
    tally: pd.DataFrame = field(default_factory=pd.DataFrame)  # unit_id, dots, <group id>..., x, y
    groups: list[GroupInfo] = field(default_factory=list)
    dots_left: dict[str, int] = field(default_factory=dict)

    def colour(self, group_id) -> str:
        for g in self.groups:
            if g.id == group_id:
                return g.colour
        return NO_GROUP_COLOUR

    @property
    def empty(self) -> bool:
        return (self.pins is None or not len(self.pins)) and (self.areas is None or not len(self.areas)) \
            and not len(self.tally)


def read_captures(store, units, groups: list[GroupInfo]) -> CaptureData:
    """The store's pins, areas and tally; tallied units are placed at their centres (units whose
    id the current units no longer have are left out of the drawing, never out of the file)."""
    tally = store.tally(by_group=True)
    if len(tally) and units is not None:
        index = {str(uid): i for i, uid in enumerate(units.ids)}
        rows = tally["unit_id"].map(index)
        tally = tally[rows.notna()].copy()
        at = rows.dropna().astype(int).to_numpy()
        tally["x"], tally["y"] = units.centres[at, 0], units.centres[at, 1]
    else:
        tally = tally.iloc[0:0].assign(x=pd.Series(dtype=float), y=pd.Series(dtype=float))
    left = {g.id: store.dots_left(g.id) for g in groups}
    return CaptureData(store.pins(), store.areas(), tally, list(groups), left)


class CaptureOverlay:
    """The captures as artists on one Axes. ``size`` is the base size in points (pins and the
    tally discs are drawn at multiples of it), so the projector can draw them larger."""

    def __init__(self, ax, size: float = 9.0, text_size: float | None = None):
        self.ax = ax
        self.size = size
        self.text_size = text_size  # points; None: 1.1 × size (the projector sets its minimum)
        self.artists: list = []
        self.legend: Legend | None = None
        self.tally_texts: list = []  # (unit id, or the ids joined by "+" for a cluster; text artist)
        self.tally_members: list = []  # (the units' ids, text artist): a disc's units and its count
        self._tally_artists: list = []
        self.data: CaptureData | None = None

    def screen_boxes(self, canvas) -> list[tuple[float, float, float, float]]:
        """The drawn tally discs and pins as boxes in the canvas' Qt pixels (top left origin)."""
        ratio = canvas.device_pixel_ratio or 1.0
        height = canvas.height()
        out = []
        for art in self.artists:
            if not isinstance(art, PathCollection) or not len(art.get_sizes()):
                continue
            radius = art.get_sizes().max() ** 0.5 / 2 * canvas.figure.dpi / 72
            for px, py in self.ax.transData.transform(np.asarray(art.get_offsets(), float)):
                x, y = px / ratio, height - py / ratio
                r = radius / ratio
                out.append((x - r, y - r, x + r, y + r))
        return out

    def _text_points(self) -> float:
        return self.text_size if self.text_size is not None else self.size * 1.1

    def clear(self) -> None:
        for art in self.artists:
            art.remove()
        self.artists, self.tally_texts, self.tally_members, self._tally_artists, self.data = [], [], [], [], None
        if self.legend is not None:
            self.legend.remove()
            self.legend = None

    def show(self, data: CaptureData, legend_title: str = "", legend_loc: str = "upper left",
             highlight: str | None = None, legend: bool = True, dots_left: bool = True) -> None:
        """Draw ``data`` in place of what was drawn; a legend of the groups (with their dots left
        unless ``dots_left`` is False) when the project has groups and ``legend`` is True.
        ``highlight``: the group picked for the next capture."""
        self.clear()
        self.data = data
        self._areas(data)
        self._pins(data)
        self._tally(data)
        if data.groups and legend:
            self._legend(data, legend_title, legend_loc, highlight, dots_left)

    def _areas(self, data: CaptureData) -> None:
        if data.areas is None or not len(data.areas):
            return
        rings = [np.asarray(shapely.get_coordinates(g.exterior)) for g in data.areas.geometry]
        colours = [data.colour(gid) for gid in data.areas["group_id"]]
        art = PolyCollection(rings, facecolors=[_with_alpha(c, 0.18) for c in colours], edgecolors=colours,
                             linewidths=self.size * 0.3, zorder=ZORDER)
        self.artists.append(self.ax.add_collection(art, autolim=False))

    def _pins(self, data: CaptureData) -> None:
        if data.pins is None or not len(data.pins):
            return
        xy = shapely.get_coordinates(data.pins.geometry.to_numpy())
        colours = [data.colour(gid) for gid in data.pins["group_id"]]
        # The marker's height is half its nominal size (its path reaches 2.4 above the tip and is
        # scaled to 0.5): a pin of about 2.4 × size points, its tip on the place clicked.
        art = self.ax.scatter(xy[:, 0], xy[:, 1], s=(self.size * 4.8) ** 2, marker=PIN_MARKER, c=colours,
                              edgecolors="white", linewidths=self.size * 0.18, zorder=ZORDER + 2)
        self.artists.append(art)

    def _tally(self, data: CaptureData) -> None:
        """One numbered disc per unit with dots, or, where discs would overlap at this scale (the
        neighbouring 500 m cells of a busy spot), one disc for the cluster with the summed count:
        a heap of discs cannot be read from the back of the room."""
        global _RECLUSTERING
        # Adding the discs may change the limits, which would call this again (for this overlay or
        # another on the same axes): one redo at a time, for every overlay.
        _RECLUSTERING = True
        try:
            self._draw_tally(data)
        finally:
            _RECLUSTERING = False

    def _draw_tally(self, data: CaptureData) -> None:
        for art in self._tally_artists:
            art.remove()
            self.artists.remove(art)
        self._tally_artists, self.tally_texts, self.tally_members = [], [], []
        if not len(data.tally):
            return
        group_columns = [g.id for g in data.groups if g.id in data.tally.columns]
        clusters = self._clusters(data.tally, group_columns)
        colours = [data.colour(next(iter(c["groups"]))) if len(c["groups"]) == 1 else MIXED_COLOUR for c in clusters]
        xy = np.array([c["xy"] for c in clusters], float)
        disc = self.ax.scatter(xy[:, 0], xy[:, 1], s=(self.size * 2.4) ** 2, c=colours,
                               edgecolors="white", linewidths=self.size * 0.22, zorder=ZORDER + 3)
        self._tally_artists.append(disc)
        for c in clusters:
            text = self.ax.text(c["xy"][0], c["xy"][1], str(c["dots"]), ha="center", va="center_baseline",
                                fontsize=max(self.size * 1.25, self._text_points()), fontweight="bold",
                                color="white", zorder=ZORDER + 4, parse_math=False, clip_on=True)
            self._tally_artists.append(text)
            key = c["members"][0] if len(c["members"]) == 1 else "+".join(c["members"])
            self.tally_texts.append((key, text))
            self.tally_members.append((tuple(c["members"]), text))
        self.artists += self._tally_artists

    def disc_diameter_px(self) -> float:
        """A tally disc's outer diameter in display pixels (its white ring included)."""
        return (self.size * 2.4 + self.size * 0.22) * self.ax.figure.dpi / 72

    def _clusters(self, tally: pd.DataFrame, group_columns: list[str]) -> list[dict]:
        """Units whose discs would touch on screen merged, until no two discs touch; each merge
        puts the disc at the dots-weighted mean of its units. Deterministic: the units start in
        the order (most dots, unit id), and the first touching pair is merged first."""
        order = sorted(range(len(tally)), key=lambda i: (-int(tally["dots"].iloc[i]), str(tally["unit_id"].iloc[i])))
        clusters = []
        for i in order:
            row = tally.iloc[i]
            clusters.append({"members": [str(row["unit_id"])], "dots": int(row["dots"]),
                             "xy": (float(row["x"]), float(row["y"])),
                             "groups": {gid for gid in group_columns if row[gid] > 0}})
        spacing = self.disc_diameter_px() * 1.05
        transform = self.ax.transData.transform
        merged = True
        while merged and len(clusters) > 1:
            merged = False
            screen = transform(np.array([c["xy"] for c in clusters], float))
            for i in range(len(clusters)):
                gaps = np.hypot(*(screen[i + 1:] - screen[i]).T)
                close = np.flatnonzero(gaps < spacing)
                if len(close):
                    a, b = clusters[i], clusters.pop(i + 1 + int(close[0]))
                    total = a["dots"] + b["dots"]
                    a["xy"] = tuple((np.array(a["xy"]) * a["dots"] + np.array(b["xy"]) * b["dots"]) / total)
                    a["dots"], a["members"], a["groups"] = total, a["members"] + b["members"], a["groups"] | b["groups"]
                    merged = True
                    break
        return clusters

    def view_changed(self) -> None:
        """The discs clustered anew for the new scale (the desk canvas' view_moved; the projector
        redraws the captures on every layout)."""
        if self.data is not None and not _RECLUSTERING:
            self._tally(self.data)

    def _legend(self, data: CaptureData, title: str, loc: str, highlight: str | None,
                dots_left: bool = True) -> None:
        """The groups with their colours and dots left; the picked group marked with ▶."""
        handles, labels = [], []
        for g in data.groups:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=self.size * 1.2,
                                  markerfacecolor=g.colour, markeredgecolor="white"))
            left = data.dots_left.get(g.id) if dots_left else None
            label = g.name if left is None else f"{g.name} · {left}"
            labels.append(("▶ " if g.id == highlight else "") + label)
        self.legend = Legend(self.ax, handles, labels, loc=loc, title=title or None,
                             fontsize=self._text_points(), title_fontsize=self._text_points(), framealpha=0.94,
                             edgecolor=INK, borderpad=0.5, handletextpad=0.4)
        self.legend.set_zorder(ZORDER + 5)
        for text in [*self.legend.get_texts(), self.legend.get_title()]:
            text.set_parse_math(False)
        self.ax.add_artist(self.legend)


def _pin_marker():
    """A map pin: a round head on a point, the point at (0, 0) so that it marks the place."""
    from matplotlib.path import Path as MplPath

    head = MplPath.circle(center=(0.0, 1.5), radius=0.9)
    stem = MplPath([(0.0, 0.0), (-0.62, 0.85), (0.62, 0.85), (0.0, 0.0)],
                   [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.CLOSEPOLY])
    return MplPath.make_compound_path(stem, head)


PIN_MARKER = _pin_marker()


def _with_alpha(colour: str, alpha: float):
    from matplotlib.colors import to_rgba

    return to_rgba(colour, alpha)


# ------------------------------------------------------------------------------------------------
# The comment line


class CommentEdit(QLineEdit):
    """A one-line comment asked for over the map, non-modal: Enter stores (``accepted``), Esc
    cancels (``cancelled``); the map and the window stay usable meanwhile."""

    accepted = Signal(str)
    cancelled = Signal()

    def __init__(self, parent, prompt: str):
        super().__init__(parent)
        self.setPlaceholderText(prompt)
        self.setMinimumWidth(380)
        self.setStyleSheet("QLineEdit { background: #fffbe6; border: 2px solid #111111; padding: 4px; }")
        self.returnPressed.connect(lambda: self.accepted.emit(self.text()))

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)

    def place_near(self, x_px: float, y_px: float, avoid=()) -> None:
        """Beside the point clicked (Qt pixels, top left origin), kept inside the parent and off
        the boxes in ``avoid`` ((x0, y0, x1, y1) in the same pixels: the tally discs and pins the
        comment refers to) if any of the places tried leaves them free."""
        parent = self.parentWidget()
        self.adjustSize()
        w = max(self.minimumWidth(), self.sizeHint().width())
        h = self.sizeHint().height()

        def inside(x, y):
            return (int(min(max(x, 4), max(parent.width() - w - 4, 4))),
                    int(min(max(y, 4), max(parent.height() - h - 4, 4))))

        def covered(x, y):
            return sum(max(0.0, min(x + w, b[2]) - max(x, b[0])) * max(0.0, min(y + h, b[3]) - max(y, b[1]))
                       for b in avoid)

        gap = 14
        tried = [(x_px + gap, y_px + gap), (x_px + gap, y_px - h - gap), (x_px - w - gap, y_px + gap),
                 (x_px - w - gap, y_px - h - gap)]
        if avoid:  # further off: below or above everything to avoid
            tried += [(x_px + gap, max(b[3] for b in avoid) + gap), (x_px + gap, min(b[1] for b in avoid) - h - gap)]
        places = [inside(x, y) for x, y in tried]
        x, y = min(places, key=lambda p: (covered(*p) > 0, covered(*p), places.index(p)))
        self.setGeometry(x, y, w, h)
        self.show()
        self.raise_()
        self.setFocus(Qt.OtherFocusReason)

    def place_at(self, x: int, y: int, width: int) -> None:
        """At a fixed place and width (the projector's title band)."""
        self.adjustSize()
        self.setGeometry(int(x), int(y), int(width), self.sizeHint().height())
        self.show()
        self.raise_()
        self.setFocus(Qt.OtherFocusReason)


# ------------------------------------------------------------------------------------------------
# Writing


class CaptureWriter:
    """Writes captures for one model and words each outcome as one line (the status bar's or the
    presentation's). ``store()`` gives the open store or None; ``units()`` the current units."""

    def __init__(self, store, units, lang: str, changed=None, problem=None, brief: bool = False, place=None):
        self._store, self._units, self.lang, self._changed = store, units, lang, changed
        self._problem = problem or (lambda: "")
        self.brief = brief  # the projector: no file name in front of a refusal, it must fit one line
        # A unit as a person reads it ("Norrtälje, 500 m-ruta", app.places.unit_title), not its id.
        self._place = place or (lambda i: self._units().label(i))
        self.refused = False  # the last outcome was a refusal (a rule of the workshop), not a failure

    def _error(self, exc: SkiktError, group_name: str | None = None) -> str:
        """The refusal in one line, naming the group as the room knows it."""
        if exc.key is None:
            return exc.text(self.lang)
        if exc.key == "werr_budget":  # a rule of the workshop, not a fault of the file: no file name
            self.refused = True
            name = group_name if group_name is not None else exc.params.get("group", "")
            return self._t("cap_budget_refused", group=name, budget=exc.params.get("budget", ""))
        params = dict(exc.params)
        if group_name is not None and "group" in params:
            params["group"] = group_name
        body = " ".join(tr(exc.key, self.lang).format(**params).split())
        return body if self.brief or not exc.path else f"{Path(exc.path).name}: {body}"

    def _t(self, key: str, **params) -> str:
        return tr(key, self.lang).format(**params)

    def _open(self):
        store = self._store()
        if store is None:
            raise _Refused(self._t("cap_no_store", reason=self._problem()))
        return store

    def _done(self, message: str) -> tuple[bool, str]:
        if self._changed is not None:
            self._changed()
        return True, message

    def pin(self, x: float, y: float, comment: str, group: str | None, group_name: str) -> tuple[bool, str]:
        try:
            self._open().add_pin((float(x), float(y)), comment.strip(), group)
        except _Refused as exc:
            return False, str(exc)
        except SkiktError as exc:
            return False, self._error(exc, group_name)
        return self._done(self._t("cap_saved_pin", group=group_name))

    def area(self, vertices, comment: str, group: str | None, group_name: str) -> tuple[bool, str]:
        try:
            self._open().add_area(shapely.Polygon(vertices), comment.strip(), group)
        except _Refused as exc:
            return False, str(exc)
        except SkiktError as exc:
            return False, self._error(exc, group_name)
        return self._done(self._t("cap_saved_area", group=group_name))

    def dot(self, x: float, y: float, group: str | None, group_name: str) -> tuple[bool, str]:
        """One dot of ``group`` on the unit at (x, y); refused in one line without a group,
        outside the units, or past the group's budget (nothing written then)."""
        self.refused = True  # until written: the checks below are the workshop's rules
        if group is None:
            return False, _upper_first(self._t("cap_pick_group"))
        units = self._units()
        if units is None:
            return False, self._t("cap_no_units")
        at = units.unit_at(float(x), float(y))
        if at is None:
            return False, _upper_first(self._t("cap_outside"))
        self.refused = False
        try:
            store = self._open()
            store.add_vote(str(units.ids[at]), group, 1)
        except _Refused as exc:
            return False, str(exc)
        except SkiktError as exc:
            return False, self._error(exc, group_name)
        return self._done(self._t("cap_saved_dot", unit=self._place(at), group=group_name,
                                  n=store.dots_left(group)))

    def undo(self) -> tuple[bool, str]:
        try:
            removed = self._open().undo_last()
        except _Refused as exc:
            return False, str(exc)
        except SkiktError as exc:
            return False, self._error(exc)
        what = {"pins": "cap_what_pin", "areas": "cap_what_area", "votes": "cap_what_dot"}[removed.table]
        return self._done(self._t("cap_undone", what=self._t(what)))


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Refused(Exception):
    """A capture refused before the store was reached (no store); its text is the line shown."""
