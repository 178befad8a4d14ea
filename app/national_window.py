"""The national window: a Skikt national result (the dask engine's COG) drawn from its overviews,
with county and municipal boundaries, a legend, a scale bar and the file's bands; weight sliders
preview a re-weighting at the level on screen at once, while the exact national result is
recomputed in the background when the window knows the project.

A window of its own, so the analyst's map of the open project stays as it was.

Threads: reads of the visible window run on one thread of this window (GDAL handles stay on that
thread); at most one read is in flight and the newest view asked for is read next, and the last
image stays on screen until the new one arrives. The exact recomputation runs the dask engine on
another thread. Both hand their results over through futures that a QTimer on the GUI thread
looks at, not through signals emitted from Python: fewer calls into the binding per step (PySide6
6.12.0 dropped a reference to ``True`` on every emit; tests/test_qt_refcounts.py).
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget,
                               QMainWindow, QProgressBar, QPushButton, QSlider, QVBoxLayout, QWidget)

from skikt.layers import national_view as nv
from skikt.layers.errors import SkiktError
from skikt.layers.project import read_project
from skikt.layers.render import priority_colours
from skikt.layers.workspace import Cancelled

from .i18n import T, language
from .workers import one_line

REFERENCE = Path(__file__).resolve().parent.parent / "sample_data" / "sweden_reference.gpkg"
ZOOM_STEP = 1.25  # per wheel notch
SLIDER_STEPS_PER_UNIT = 10  # a slider step is a weight of 0.1
SLIDER_MAX_WEIGHT = 10
EXACT_DELAY_MS = 700  # after the last slider step: a drag of the slider starts one recomputation


# ------------------------------------------------------------------------------------------------
# The map


class NationalMap(QWidget):
    """Draws the last image read at its own map bounds, boundaries and a scale bar; drag pans,
    the wheel zooms about the cursor. Calls ``on_view_changed`` (its window asks for a new read)
    after every change."""

    def __init__(self, bounds, parent=None):
        super().__init__(parent)
        self.on_view_changed = lambda: None
        self.setMinimumSize(200, 200)
        self.setMouseTracking(True)  # moves reach us however the press came; no drag, no pan
        self.bounds = bounds
        self.cx, self.cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        self.upp = 1.0  # map units per screen pixel
        self._fitted = False
        self._drag = None
        self.image: QImage | None = None
        self.image_bounds = None
        self.boundaries: list[tuple[QPainterPath, QPen]] = []
        self.overlay_text = ""

    # -- geometry

    def fit(self) -> None:
        x0, y0, x1, y1 = self.bounds
        self.cx, self.cy = (x0 + x1) / 2, (y0 + y1) / 2
        self.upp = max((x1 - x0) / max(self.width(), 1), (y1 - y0) / max(self.height(), 1)) * 1.02
        self._fitted = True
        self.on_view_changed()

    def extent(self) -> tuple[float, float, float, float]:
        hw, hh = self.width() * self.upp / 2, self.height() * self.upp / 2
        return self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh

    def to_screen(self) -> QTransform:
        """Map → widget pixels (y up becomes y down)."""
        x0, _, _, y1 = self.extent()
        return QTransform(1 / self.upp, 0, 0, -1 / self.upp, -x0 / self.upp, y1 / self.upp)

    def map_point(self, pos: QPointF) -> tuple[float, float]:
        x0, _, _, y1 = self.extent()
        return x0 + pos.x() * self.upp, y1 - pos.y() * self.upp

    # -- events

    def resizeEvent(self, event):
        if not self._fitted:
            self.fit()
        else:
            self.on_view_changed()
        super().resizeEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            self._drag = (event.position(), self.cx, self.cy)

    def mouseMoveEvent(self, event):
        if self._drag is None:
            return
        start, cx, cy = self._drag
        delta = event.position() - start
        self.cx, self.cy = cx - delta.x() * self.upp, cy + delta.y() * self.upp
        self.update()  # the last image moves with the map at once
        self.on_view_changed()

    def mouseReleaseEvent(self, event):
        if self._drag is not None and event.button() == Qt.LeftButton:
            self.mouseMoveEvent(event)
            self._drag = None

    def wheelEvent(self, event):
        notches = event.angleDelta().y() / 120
        if not notches:
            return
        factor = ZOOM_STEP ** -notches
        mx, my = self.map_point(event.position())
        # the point under the cursor stays under the cursor
        self.cx, self.cy = mx + (self.cx - mx) * factor, my + (self.cy - my) * factor
        self.upp *= factor
        self.update()
        self.on_view_changed()

    # -- drawing

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#eef2f5"))
        t = self.to_screen()
        if self.image is not None and self.image_bounds is not None:
            x0, y0, x1, y1 = self.image_bounds
            target = t.mapRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            p.drawImage(target, self.image)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.setTransform(t)
        for path, pen in self.boundaries:
            p.setPen(pen)
            p.drawPath(path)
        p.resetTransform()
        self._scale_bar(p)
        if self.overlay_text:
            p.setFont(QFont(self.font().family(), 11, QFont.Bold))
            p.setPen(QColor("#7a1f00"))
            p.drawText(QRectF(12, 8, self.width() - 24, 24), Qt.AlignLeft | Qt.AlignVCenter, self.overlay_text)
        p.end()

    def _scale_bar(self, p: QPainter) -> None:
        length = nv.nice_length(self.width() * self.upp / 5)
        if length <= 0:
            return
        px = length / self.upp
        x, y = 16, self.height() - 20
        p.setPen(QPen(QColor("#222222"), 2))
        p.drawLine(QPointF(x, y), QPointF(x + px, y))
        for end in (x, x + px):
            p.drawLine(QPointF(end, y - 5), QPointF(end, y + 1))
        text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
        p.drawText(QRectF(x, y - 22, max(px, 80), 16), Qt.AlignLeft | Qt.AlignBottom, text)


# ------------------------------------------------------------------------------------------------
# The exact recomputation


class ExactJob:
    """The dask engine on another thread with the sliders' weights. The thread only writes
    ``latest`` (progress) and its future's result; the window's timer reads them."""

    def __init__(self):
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skikt-national-exact")
        self.future = None
        self.latest: tuple[float, str] = (0.0, "")
        self._cancel_flag = [False]

    @property
    def busy(self) -> bool:
        return self.future is not None

    def start(self, project, weights: dict[str, float], out: Path) -> None:
        self.cancel()
        self._cancel_flag = flag = [False]
        self.latest = (0.0, "")
        self.future = self.executor.submit(self._run, project, dict(weights), out, flag)

    def cancel(self) -> None:
        """Ask the running job to stop and forget it: whatever it still returns is not shown."""
        self._cancel_flag[0] = True
        self.future = None

    def take(self):
        """(done, path or None, message or None) of the current job, forgotten once done."""
        if self.future is None or not self.future.done():
            return False, None, None
        future, self.future = self.future, None
        return (True, *future.result())

    def shutdown(self) -> None:
        self.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _say(self, flag, fraction: float, message: str) -> None:
        if not flag[0]:
            self.latest = (fraction, message)

    def _run(self, project, weights: dict[str, float], out: Path, flag):
        """(path, None) when done, (None, one-line message) when it failed, (None, None) when
        cancelled: never raises, the window reads the outcome."""
        from skikt.layers.tiled import run_score_dask

        if flag[0]:
            return None, None
        project = copy.deepcopy(project)
        for spec in project.indicator_layers():
            if spec.id in weights:
                spec.indicator.weight = float(weights[spec.id])
        try:
            run_score_dask(project.path, out, progress=lambda f, m: self._say(flag, f, m),
                           cancel=lambda: flag[0], project=project)
        except Cancelled:
            return None, None
        except Exception as exc:  # a bug or bad input: one line, the window stays
            return None, one_line(exc)
        return str(out), None


# ------------------------------------------------------------------------------------------------
# The window


def matching_project(info: nv.NationalInfo, candidates) -> Path | None:
    """The first project among ``candidates`` (paths) that scores a grid with exactly the file's
    indicators, in the file's order."""
    for path in candidates:
        try:
            project = read_project(path)
        except (SkiktError, OSError):
            continue
        if _project_fits(project, info):
            return Path(path)
    return None


def _project_fits(project, info: nv.NationalInfo) -> bool:
    """A grid of the file's cell size with the file's indicators in the file's order."""
    return (project.units.kind == "grid" and [s.id for s in project.indicator_layers()] == info.indicator_ids
            and math.isclose(float(project.units.cell_size or 0), info.levels[0].pixel_size, rel_tol=1e-9))


class NationalWindow(QMainWindow):
    def __init__(self, info: nv.NationalInfo, project_path: Path | None = None, parent=None):
        super().__init__(parent)
        self.setAttribute(Qt.WA_DeleteOnClose)  # its threads and temporary files go with it
        self.info = info
        self.original = info
        self.source = info  # the file whose classes are drawn: the original or an exact recomputation
        self.setWindowTitle(T("nv_title").format(name=info.path.name))
        self.reweighter: nv.Reweighter | None = None
        self._readers: dict[Path, nv.Reader] = {}  # used on the read thread only
        self.read_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skikt-national-read")
        self._read_future = None
        self._read_wanted = None  # (source, level, extent) of the newest view not yet read
        self._read_poll = QTimer(self, interval=5)  # looks at the read in flight
        self._read_poll.timeout.connect(self._poll_read)
        self.last_read: nv.WindowRead | None = None
        self.reads = 0  # how many window reads reached the screen
        self.classes_on_screen: np.ndarray | None = None
        self.mode = "file"  # file | preview
        self.project = None
        self.project_weights: dict[str, float] | None = None
        self.k = nv.class_count(info)
        self.colours = priority_colours(self.k)
        self._tmp = Path(tempfile.mkdtemp(prefix="skikt-national-"))
        self._exact_runs = itertools.count(1)
        self.exact = ExactJob()
        self._exact_poll = QTimer(self, interval=100)
        self._exact_poll.timeout.connect(self._poll_exact)
        self._exact_timer = QTimer(self, singleShot=True, interval=EXACT_DELAY_MS)
        self._exact_timer.timeout.connect(self._start_exact)
        self._read_timer = QTimer(self, singleShot=True, interval=0)  # one read per burst of events
        self._read_timer.timeout.connect(self._request_read)

        self.destroyed.connect(functools.partial(_release, self.exact, self.read_executor, self._readers, self._tmp))
        self.map = NationalMap(info.bounds, self)
        self.setCentralWidget(self.map)
        self.map.on_view_changed = self._read_timer.start
        self._build_panel()
        self._build_status()
        self._boundary_key = None
        self._boundary_paths: dict[float, list] = {}
        self.set_project(project_path, quiet=True)
        self.resize(1400, 900)

    # -- panel

    def _build_panel(self) -> None:
        panel = QWidget()
        lay = QVBoxLayout(panel)
        self.shown_label = QLabel()
        self.shown_label.setWordWrap(True)
        lay.addWidget(self.shown_label)
        legend = QGroupBox(T("legend"))
        form = QVBoxLayout(legend)
        for c, colour in enumerate(self.colours, start=1):
            row = QLabel(f"<span style='background:{colour}'>&nbsp;&nbsp;&nbsp;&nbsp;</span>&nbsp;"
                         f"{self._class_label(c)}")
            form.addWidget(row)
        self.level_label = QLabel()
        form.addWidget(self.level_label)
        lay.addWidget(legend)
        weights = QGroupBox(T("weights"))
        wl = QVBoxLayout(weights)
        self.weights_note = QLabel()
        self.weights_note.setWordWrap(True)
        wl.addWidget(self.weights_note)
        grid = QFormLayout()
        self.sliders: dict[str, QSlider] = {}
        self.slider_values: dict[str, QLabel] = {}
        for lid in self.info.indicator_ids:
            s = QSlider(Qt.Horizontal)
            s.setObjectName(f"nv_weight_{lid}")
            s.setRange(0, SLIDER_MAX_WEIGHT * SLIDER_STEPS_PER_UNIT)
            s.setSingleStep(1)
            s.setPageStep(SLIDER_STEPS_PER_UNIT)
            s.valueChanged.connect(self._on_slider)
            value = QLabel()
            value.setMinimumWidth(32)
            row = QHBoxLayout()
            row.addWidget(s, 1)
            row.addWidget(value)
            grid.addRow(lid, row)
            self.sliders[lid], self.slider_values[lid] = s, value
        wl.addLayout(grid)
        self.project_button = QPushButton(T("nv_choose_project"))
        self.project_button.clicked.connect(self.choose_project)
        wl.addWidget(self.project_button)
        lay.addWidget(weights)
        bands = QGroupBox(T("nv_bands"))
        bl = QVBoxLayout(bands)
        self.band_list = QListWidget()
        self.band_list.addItems([f"{i}: {name}" for i, name in enumerate(self.info.bands, start=1)])
        bl.addWidget(self.band_list)
        crs = f"EPSG:{self.info.epsg}" if self.info.epsg else "CRS"
        l0 = self.info.levels[0]
        bl.addWidget(QLabel(T("nv_file_facts").format(crs=crs, width=l0.width, height=l0.height,
                                                      n=len(self.info.levels) - 1)))
        lay.addWidget(bands)
        lay.addStretch(1)
        dock = QDockWidget(T("legend"), self)
        dock.setObjectName("nv_panel")
        dock.setWidget(panel)
        dock.setFeatures(QDockWidget.NoDockWidgetFeatures)
        dock.setTitleBarWidget(QWidget())  # the panel's own boxes say what they hold
        self.addDockWidget(Qt.RightDockWidgetArea, dock)

    def _class_label(self, c: int) -> str:
        if c == 1:
            return T("class_highest")
        if c == self.k:
            return T("class_lowest")
        return T("class_n").format(n=c)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton(T("cancel"))
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_exact)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _status(self, text: str, msecs: int = 0) -> None:
        self.statusBar().showMessage(text, msecs)

    # -- project and weights

    def set_project(self, path: Path | None, quiet: bool = False) -> bool:
        """Take the weights (and the right to recompute exactly) from the project at ``path``;
        None: equal weights and no exact recomputation."""
        project = None
        if path is not None:
            try:
                project = read_project(path)
            except SkiktError as exc:
                self._status(exc.text(language()))
                return False
            if not _project_fits(project, self.info):
                self._status(SkiktError.of("nv_project_mismatch", path,
                                           ids=", ".join(self.info.indicator_ids)).text(language()))
                return False
        self.project = project
        if project is not None:
            self.project_weights = {s.id: float(s.indicator.weight) for s in project.indicator_layers()}
            self.weights_note.setText(T("nv_weights_from").format(name=Path(project.path).name))
        elif self.info.weights is not None:
            self.project_weights = None
            self.weights_note.setText(T("nv_weights_file"))
        else:
            self.project_weights = None
            self.weights_note.setText(T("nv_weights_equal"))
        # The weights the file says it was made with come first: they are what its classes show.
        start = self.info.weights or self.project_weights or {lid: 1.0 for lid in self.info.indicator_ids}
        top = max(SLIDER_MAX_WEIGHT, math.ceil(2 * max(start.values(), default=0)))
        for lid, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setMaximum(top * SLIDER_STEPS_PER_UNIT)
            slider.setValue(round(start[lid] * SLIDER_STEPS_PER_UNIT))
            slider.blockSignals(False)
            self.slider_values[lid].setText(f"{slider.value() / SLIDER_STEPS_PER_UNIT:g}")
        self._file_weights = self.weights()
        self._update_shown()
        if not quiet and project is not None:
            self._status(T("nv_weights_from").format(name=Path(project.path).name), 6000)
        return True

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, T("nv_choose_project"), str(self.info.path.parent),
                                              "Skikt (*.toml)")
        if path:
            self.set_project(Path(path))

    def weights(self) -> dict[str, float]:
        return {lid: s.value() / SLIDER_STEPS_PER_UNIT for lid, s in self.sliders.items()}

    def _on_slider(self, *_):
        for lid, s in self.sliders.items():
            self.slider_values[lid].setText(f"{s.value() / SLIDER_STEPS_PER_UNIT:g}")
        if self.weights() == self._file_weights:
            # back to the weights the drawn file was computed with: its own classes
            self.mode = "file"
            self._exact_timer.stop()
            self.exact.cancel()
            self._exact_ui(False)
        else:
            self.mode = "preview"
            if self.project is not None:
                self._exact_timer.start()
            else:
                self._status(T("nv_needs_project"))
        self._update_shown()
        self._render()

    # -- reading

    def _request_read(self) -> None:
        self._read_wanted = (self.source, nv.pick_level(self.source, self.map.upp), self.map.extent())
        if self._read_future is None:
            self._start_read()
        self._update_boundaries()

    def _start_read(self) -> None:
        info, level, extent = self._read_wanted
        self._read_wanted = None
        readers = self._readers

        def read():
            reader = readers.get(info.path)
            if reader is None:
                reader = readers[info.path] = nv.Reader(info)
            return reader.read(level, extent)

        self._read_future = self.read_executor.submit(read)
        self._read_poll.start()

    def _poll_read(self) -> None:
        future = self._read_future
        if future is None or not future.done():
            return
        self._read_future = None
        if self._read_wanted is not None:
            self._start_read()  # the view moved on while this one was read: read the newest
        else:
            self._read_poll.stop()
        try:
            read = future.result()
        except Exception as exc:  # a damaged block: one line, the last image stays
            self._status(one_line(exc))
            return
        self._on_read(read)

    @property
    def reading(self) -> bool:
        return self._read_future is not None or self._read_wanted is not None

    def _on_read(self, read) -> None:
        if read is None:  # the view is beside the country: nothing to draw there
            self.map.image, self.map.image_bounds = None, None
            self.classes_on_screen = self.last_read = None
            self.map.update()
            self.reads += 1
            return
        self.last_read = read
        self.reads += 1
        lv = self.source.levels[read.level]
        self.level_label.setText(T("nv_level").format(level=read.level, size=f"{lv.pixel_size:,.0f}".replace(",", " ")))
        self._render()

    def _render(self) -> None:
        read = self.last_read
        if read is None:
            return
        if self.mode == "preview":
            if self.reweighter is None:
                self.reweighter = nv.Reweighter(self.original, self.k)
            w = self.weights()
            cls = self.reweighter.classes(read, [w[lid] for lid in self.info.indicator_ids])
        else:
            cls = read.classes()
        self.classes_on_screen = cls
        rgba = np.ascontiguousarray(nv.class_image(cls, self.colours))
        h, w_ = cls.shape
        self.map.image = QImage(rgba.data, w_, h, 4 * w_, QImage.Format_RGBA8888).copy()
        self.map.image_bounds = read.bounds
        self._update_shown()
        self.map.update()

    def _update_boundaries(self) -> None:
        """County and municipal boundaries simplified to about a screen pixel (a power of two, so
        a few scales are built once and kept)."""
        if not REFERENCE.exists():
            return
        tol = 2.0 ** math.floor(math.log2(max(self.map.upp, 1.0)))
        if tol == self._boundary_key:
            return
        self._boundary_key = tol
        paths = self._boundary_paths.get(tol)
        if paths is None:
            paths = self._boundary_paths[tol] = self._boundary_paths_at(tol)
        self.map.boundaries = paths
        self.map.update()

    def _boundary_paths_at(self, tol: float) -> list:
        """One path per layer, a polygon per ring: a handful of Qt calls per ring, not one per
        vertex (each void call into PySide6 6.12 costs None a reference; see the module note)."""
        out = []
        # One-pixel cosmetic pens: Qt's antialiased stroke of any other width took a hundred
        # times longer for Sweden's counties; the colour tells county from municipality.
        for layer, colour, width in (("kommuner", "#9a9a9a", 1.0), ("lan", "#1a1a1a", 1.0)):
            try:
                rings = nv.boundary_lines(str(REFERENCE), layer, tol, self.info.crs_wkt)
            except Exception:  # the boundaries are decoration: a broken reference file must not stop the map
                continue
            path = QPainterPath()
            for ring in rings:
                path.addPolygon(QPolygonF([QPointF(x, y) for x, y in ring.tolist()]))
            pen = QPen(QColor(colour), width)
            pen.setCosmetic(True)  # widths in screen pixels whatever the scale
            out.append((path, pen))
        return out

    # -- the exact result

    def _start_exact(self) -> None:
        if self.project is None or self.mode != "preview":
            return
        out = self._tmp / f"exact_{next(self._exact_runs)}.tif"
        self.exact.start(self.project, self.weights(), out)
        self._exact_weights = self.weights()
        self._exact_ui(True)
        self._exact_poll.start()
        self._status(T("nv_computing").format(message="…"))

    def _poll_exact(self) -> None:
        if not self.exact.busy:
            self._exact_poll.stop()
            return
        done, path, message = self.exact.take()
        if not done:
            fraction, text = self.exact.latest
            self.progress.setValue(int(fraction * 1000))
            if text:
                self._status(T("nv_computing").format(message=text))
            return
        self._exact_poll.stop()
        if path is not None:
            self._exact_finished(path)
        elif message is not None:
            self._exact_failed(message)
        else:
            self._exact_cancelled()

    def cancel_exact(self) -> None:
        self._exact_timer.stop()
        self._exact_poll.stop()
        self.exact.cancel()
        self._exact_cancelled()

    def _exact_ui(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setValue(0)

    def _exact_finished(self, path: str) -> None:
        self._exact_ui(False)
        try:
            info = nv.open_national(path)
        except SkiktError as exc:
            self._status(exc.text(language()))
            return
        if self._exact_weights != self.weights():
            return  # the sliders moved on: a newer run is due
        self.source = info
        self._file_weights = self._exact_weights
        self.mode = "file"
        self._status("")
        self._update_shown()
        self._request_read()

    def _exact_failed(self, message: str) -> None:
        self._exact_ui(False)
        self._status(message)

    def _exact_cancelled(self) -> None:
        self._exact_ui(False)
        self._status(T("nv_cancelled"), 8000)

    def _update_shown(self) -> None:
        if self.mode == "preview":
            level = self.reweighter.level if self.reweighter is not None else 0
            text = T("nv_shown_preview").format(level=level)
        elif self.source is not self.original:
            text = T("nv_shown_exact")
        else:
            text = T("nv_shown_file")
        self.shown_label.setText(f"<b>{text}</b>")
        self.map.overlay_text = text if self.mode == "preview" else ""

    # -- closing

    def closeEvent(self, event):
        self._exact_timer.stop()
        self._exact_poll.stop()
        self._read_poll.stop()
        _release(self.exact, self.read_executor, self._readers, self._tmp)
        super().closeEvent(event)


def _release(exact: ExactJob, read_executor: ThreadPoolExecutor, readers: dict, tmp: Path) -> None:
    """Stop the background work and remove the temporary results. Also called when Qt deletes
    the window with its parent (the main window closed or rebuilt for another language), where
    no closeEvent comes: a national run left going would keep the process alive at exit.
    Holds no reference to the window, so it can run while the window is being destroyed."""
    exact.shutdown()
    if not getattr(read_executor, "_shutdown", False):
        read_executor.submit(lambda: [r.close() for r in readers.values()])
        read_executor.shutdown(wait=True)  # a read in flight is one screen's worth
    shutil.rmtree(tmp, ignore_errors=True)


def open_national_window(path, parent=None, project_hint=None) -> NationalWindow:
    """Open ``path`` in a national window; SkiktError (one line naming the file) when it is not
    a Skikt national result, before any window is made. The project is the first that has the
    file's indicators and cell size of: ``project_hint`` (the main window's project), the
    project the file's SKIKT_PROJECT tag names, a .toml beside the file."""
    info = nv.open_national(path)
    candidates = [project_hint] if project_hint is not None else []
    if info.project:  # the file's own tag names the project (relative: to the file)
        candidates.append(Path(info.path).parent / info.project)
    candidates += sorted(Path(info.path).parent.glob("*.toml"))
    win = NationalWindow(info, matching_project(info, candidates), parent)
    return win


# ------------------------------------------------------------------------------------------------
# Measuring (python -m skikt.app.national_window FILE.tif [--size 1920x1080] [--steps 20])


def measure_steps(win: NationalWindow, steps: int = 20) -> dict:
    """Median wall and CPU (the whole process: the read thread included) per pan step (a tenth of
    the map's width), per zoom step (one wheel notch) and per weight step (a slider step), each
    from the change to the new image painted, at the national extent the window opens with."""
    import statistics
    import time

    app = QApplication.instance()
    m = win.map

    def settle():
        while win.reading or win._read_timer.isActive():
            app.processEvents()
            time.sleep(0.001)
        m.repaint()

    def timed(change) -> tuple[float, float]:
        walls, cpus = [], []
        for i in range(steps):
            w0, c0 = time.perf_counter(), time.process_time()
            change(i)
            settle()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        return statistics.median(walls), statistics.median(cpus)

    settle()
    m.fit()
    settle()
    home = (m.cx, m.cy, m.upp)

    def pan(i):
        m.cx += (1 if i % 4 < 2 else -1) * m.width() * m.upp / 10
        m.update()
        m.on_view_changed()

    def zoom(i):
        m.upp *= ZOOM_STEP ** (1 if i % 4 < 2 else -1)
        m.update()
        m.on_view_changed()

    def paint_only(i):
        m.cx += (1 if i % 2 else -1) * m.upp
        m.repaint()

    pan_t = timed(pan)
    m.cx, m.cy, m.upp = home
    zoom_t = timed(zoom)
    m.cx, m.cy, m.upp = home
    m.on_view_changed()
    settle()
    paint_t = timed(paint_only)
    slider = next(iter(win.sliders.values()))
    start = slider.value()
    weight_t = timed(lambda i: slider.setValue(slider.value() + (1 if i % 2 == 0 else -1)))
    slider.setValue(start)
    win.cancel_exact()
    return {"file": str(win.info.path), "size": [m.width(), m.height()], "level": win.last_read.level,
            "pan_wall_ms": 1000 * pan_t[0], "pan_cpu_ms": 1000 * pan_t[1],
            "zoom_wall_ms": 1000 * zoom_t[0], "zoom_cpu_ms": 1000 * zoom_t[1],
            "drag_paint_wall_ms": 1000 * paint_t[0], "weight_wall_ms": 1000 * weight_t[0],
            "weight_cpu_ms": 1000 * weight_t[1], "steps": steps}


def _main(argv=None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m skikt.app.national_window",
                                     description="Open a national result and measure pan, zoom and weight steps")
    parser.add_argument("file")
    parser.add_argument("--size", default="1920x1080", help="window size in pixels, WxH")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lang", choices=["sv", "en"], default="sv")
    parser.add_argument("--screenshot", help="save the window as PNG here, after the steps, previewing "
                                             "the first indicator at twice its weight")
    args = parser.parse_args(argv)
    from .i18n import set_language

    set_language(args.lang, remember=False)
    app = QApplication.instance() or QApplication([])
    try:
        win = open_national_window(args.file)
    except SkiktError as exc:
        print(exc, file=sys.stderr)
        return 2
    w, h = (int(v) for v in args.size.lower().split("x"))
    win.show()
    win.resize(w, h)
    app.processEvents()
    print(json.dumps(measure_steps(win, args.steps), indent=1))
    if args.screenshot:
        win.map.fit()
        slider = next(iter(win.sliders.values()))
        slider.setValue(min(slider.maximum(), slider.value() * 2 or SLIDER_STEPS_PER_UNIT))
        win.cancel_exact()
        win.statusBar().clearMessage()
        while win.reading or win._read_timer.isActive():
            app.processEvents()
        win.grab().save(args.screenshot)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
