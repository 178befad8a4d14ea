"""File ▸ Export map: a page dialog with a live preview (issue 10, item 4).

Choose the saved view (or the map as it is on screen, or every view as a PDF handout), the
weights, the sheet (A4/A3 or screen size, either way round, dpi), title and subtitle. The preview
is the real page (``compose_figure``) drawn at a low resolution in a worker thread, so typing a
title never waits for matplotlib; the export runs on the main window's export worker as before.
"""

from __future__ import annotations

import io

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSizePolicy, QSpinBox, QVBoxLayout)

from skikt.layers.export import SCREEN_PAGE, PageSpec, compose_figure, compose_handout, compose_map, page_content
from skikt.layers.scenarios import scenario_names
from skikt.layers.views import read_views

from .i18n import T, language
from .workers import Worker

ALL_VIEWS = "\x00all"  # the view combo's data for "every view, one PDF page each"
PROJECT_WEIGHTS = "-"  # page_content's name for the project's own weights
PREVIEW_BOX = (520, 380)  # the preview's largest pixmap, in pixels
DEBOUNCE_MS = 200  # a burst of typing or spinning redraws the preview once
PREVIEW_WAIT_MS = 30000  # closing waits for a preview being drawn, but never forever


class ExportDialog(QDialog):
    """The page dialog. ``fork_ws`` returns a workspace copy a thread may use; ``extent`` and
    ``composite`` describe the map on screen; ``worker`` runs the export (the window's)."""

    def __init__(self, fork_ws, *, extent=None, composite: bool = True, screen_size=None, worker=None,
                 parent=None):
        super().__init__(parent)
        self.fork_ws = fork_ws
        self.ws = fork_ws()
        self.screen_extent = extent
        self.composite = composite
        self.screen_size = tuple(screen_size or SCREEN_PAGE)
        self.lang = language()
        self.views = read_views(self.ws.project)
        self.export_worker = worker or Worker(self)
        self.preview_worker = Worker(self)
        self.preview_worker.finished.connect(self._show_preview)
        self.preview_worker.failed.connect(self._preview_failed)
        self.last_error: str | None = None
        self.setWindowTitle(T("exd_title"))
        self._build()
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.render_preview)
        self._connect()
        self._refill_texts()
        self.resize(1060, 560)
        self.schedule_preview()

    # ------------------------------------------------------------------ widgets

    def _build(self):
        self.view_combo = QComboBox()
        self.view_combo.addItem(T("exd_view_screen"), None)
        for view in self.views:
            self.view_combo.addItem(view.name, view.name)
        if self.views:
            self.view_combo.addItem(T("exd_view_all"), ALL_VIEWS)
        self.scenario_combo = QComboBox()
        self.scenario_combo.addItem(T("exd_scenario_own"), None)
        self.scenario_combo.addItem(T("exd_scenario_project"), PROJECT_WEIGHTS)
        for name in scenario_names(self.ws.project):
            self.scenario_combo.addItem(name, name)
        self.paper_combo = QComboBox()
        self.paper_combo.addItem("A4", "A4")
        self.paper_combo.addItem("A3", "A3")
        w, h = self.screen_size
        self.paper_combo.addItem(T("exd_screen_size").format(w=w, h=h), None)
        self.orientation_combo = QComboBox()
        self.orientation_combo.addItem(T("exd_landscape"), True)
        self.orientation_combo.addItem(T("exd_portrait"), False)
        self.dpi_spin = QSpinBox()
        self.dpi_spin.setRange(50, 600)
        self.dpi_spin.setSingleStep(50)
        self.dpi_spin.setValue(150)
        self.title_edit = QLineEdit()
        self.subtitle_edit = QLineEdit()
        self.size_label = QLabel()
        for field in (self.view_combo, self.scenario_combo, self.title_edit, self.subtitle_edit):
            field.setMinimumWidth(300)
        form = QFormLayout()
        form.addRow(T("exd_view"), self.view_combo)
        form.addRow(T("exd_scenario"), self.scenario_combo)
        form.addRow(T("exd_paper"), self.paper_combo)
        form.addRow(T("exd_orientation"), self.orientation_combo)
        form.addRow(T("exd_dpi"), self.dpi_spin)
        form.addRow(T("exd_page_title"), self.title_edit)
        form.addRow(T("exd_page_subtitle"), self.subtitle_edit)
        form.addRow("", self.size_label)
        self.preview = QLabel(T("exd_preview_wait"))
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumSize(*PREVIEW_BOX)
        self.preview.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.preview.setStyleSheet("QLabel { background: #d8d8d8; }")
        self.export_button = QPushButton(T("exd_export"))
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton(T("exd_cancel"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addStretch(1)
        left.addLayout(buttons)
        outer = QHBoxLayout(self)
        outer.addLayout(left)
        outer.addWidget(self.preview, 1)

    def _connect(self):
        self.view_combo.currentIndexChanged.connect(self._refill_texts)
        self.scenario_combo.currentIndexChanged.connect(self._refill_texts)
        for combo in (self.view_combo, self.scenario_combo, self.paper_combo, self.orientation_combo):
            combo.currentIndexChanged.connect(self.schedule_preview)
        self.dpi_spin.valueChanged.connect(self.schedule_preview)
        self.title_edit.textChanged.connect(self.schedule_preview)
        self.subtitle_edit.textChanged.connect(self.schedule_preview)
        self.export_button.clicked.connect(self.export)
        self.cancel_button.clicked.connect(self.reject)

    # ------------------------------------------------------------------ choices

    def view_choice(self):
        """None (the map on screen), ALL_VIEWS, or the chosen saved view."""
        data = self.view_combo.currentData()
        if data is None or data == ALL_VIEWS:
            return data
        return next(v for v in self.views if v.name == data)

    def scenario_choice(self) -> str | None:
        return self.scenario_combo.currentData()

    def page(self) -> PageSpec:
        paper, landscape, dpi = self.paper_combo.currentData(), self.orientation_combo.currentData(), self.dpi_spin.value()
        if paper is not None:
            return PageSpec(paper=paper, landscape=landscape, dpi=dpi)
        w, h = self.screen_size
        if landscape != (w >= h):
            w, h = h, w
        return PageSpec(paper=None, size=(w, h), dpi=dpi)

    def _texts(self) -> tuple[str | None, str | None]:
        """Title and subtitle to draw; None lets each view of a handout keep its own."""
        if self.view_choice() == ALL_VIEWS:
            return None, None
        return self.title_edit.text().strip() or None, self.subtitle_edit.text().strip() or None

    def _content(self, ws, view):
        title, subtitle = self._texts()
        if view is None:
            return page_content(ws, scenario=self.scenario_choice(), title=title, subtitle=subtitle,
                                composite=self.composite, extent=self.screen_extent, lang=self.lang)
        return page_content(ws, view=view, scenario=self.scenario_choice(), title=title, subtitle=subtitle,
                            lang=self.lang)

    def _refill_texts(self, *_):
        """Title and subtitle follow the view and weights until the user edits them."""
        view = self.view_choice()
        handout = view == ALL_VIEWS
        self.title_edit.setEnabled(not handout)
        self.subtitle_edit.setEnabled(not handout)
        if handout:
            return
        try:
            content = page_content(self.ws, view=view, scenario=self.scenario_choice(),
                                   composite=self.composite if view is None else True,
                                   extent=self.screen_extent if view is None else None, lang=self.lang)
        except Exception as exc:  # a broken view or scenario: say so once, keep the fields
            self._preview_failed(_line(exc))
            return
        for edit, text in ((self.title_edit, content.title), (self.subtitle_edit, content.subtitle)):
            if not edit.isModified():
                edit.setText(text)
                edit.setCursorPosition(0)  # a long subtitle shows its beginning, not its end

    # ------------------------------------------------------------------ preview

    def schedule_preview(self, *_):
        page = self.page()
        w, h = page.pixels
        self.size_label.setText(T("exd_page_size").format(w=w, h=h, dpi=page.dpi))
        self._timer.start()

    def render_preview(self):
        """Draw the page in a worker thread at a resolution that fits the preview box."""
        ws, page, view = self.fork_ws(), self.page(), self.view_choice()
        handout = view == ALL_VIEWS
        if handout:
            view = self.views[0]
        w_in, h_in = page.inches
        box_w, box_h = self._box()
        preview_dpi = min(box_w / w_in, box_h / h_in)

        def job(cancel):
            yield 0.1, "preview"
            fig = compose_figure(ws, page, self._content(ws, view), lang=self.lang, raster=True, notes=handout)
            buf = io.BytesIO()
            fig.savefig(buf, dpi=preview_dpi, format="png")
            return buf.getvalue()

        self.preview_worker.start(job)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if hasattr(self, "_timer"):  # not while the widgets are being built
            self.schedule_preview()  # the preview fills its box; debounced like every other change

    def _box(self) -> tuple[int, int]:
        size = self.preview.size()
        return max(size.width() - 8, PREVIEW_BOX[0] // 2), max(size.height() - 8, PREVIEW_BOX[1] // 2)

    def _show_preview(self, png: bytes):
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self.preview.setPixmap(pixmap)

    def _preview_failed(self, message: str):
        self.last_error = message
        self.preview.setPixmap(QPixmap())
        self.preview.setText(message)

    def preview_pixmap(self) -> QPixmap:
        return self.preview.pixmap()

    # ------------------------------------------------------------------ export

    def default_name(self) -> str:
        return T("exd_handout_name") if self.view_choice() == ALL_VIEWS else T("export_map_name")

    def export(self):
        handout = self.view_choice() == ALL_VIEWS
        filters = "PDF (*.pdf)" if handout else "PNG (*.png);;PDF (*.pdf);;SVG (*.svg)"
        path, _ = QFileDialog.getSaveFileName(self, T("exd_title"), self.default_name(), filters)
        if not path:
            return
        self.stop_preview()
        self.start_export(path)
        self.accept()

    def stop_preview(self):
        """No preview thread outlives the dialog or draws beside the export: matplotlib is not
        made for two pages drawn at once, and the dialog's widgets are gone after it closes. At
        most the one page being drawn is waited for."""
        self._timer.stop()
        self.preview_worker.abandon()
        self.preview_worker.wait(PREVIEW_WAIT_MS)

    def done(self, result):
        self.stop_preview()
        super().done(result)

    def start_export(self, path):
        """Write the page (or handout) on the export worker; errors reach the worker's `failed`."""
        ws, page, view, scenario, lang = self.fork_ws(), self.page(), self.view_choice(), self.scenario_choice(), self.lang
        title, subtitle = self._texts()
        views, composite, extent = self.views, self.composite, self.screen_extent

        def job(cancel):
            yield 0.1, "export"
            if view == ALL_VIEWS:
                return compose_handout(ws, path, views, page=page, lang=lang, scenario=scenario)
            if view is None:
                return compose_map(ws, path, page=page, lang=lang, composite=composite, extent=extent,
                                   scenario=scenario, title=title, subtitle=subtitle)
            return compose_map(ws, path, page=page, lang=lang, view=view, scenario=scenario, title=title,
                               subtitle=subtitle)

        return self.export_worker.start(job)


def _line(exc: BaseException) -> str:
    from .workers import one_line

    return one_line(exc)


def dialog_for_window(window) -> ExportDialog:
    """The dialog for the main window's map: its extent, composite switch and export worker."""
    canvas = window.canvas
    extent = (*canvas.ax.get_xlim(), *canvas.ax.get_ylim())
    # A canvas squeezed by the docks would make an unreadable sheet: then the usual screen page.
    size = (canvas.width(), canvas.height())
    screen = size if size[0] >= 640 and size[1] >= 400 else SCREEN_PAGE
    return ExportDialog(window.model.ws.fork, extent=extent, composite=canvas.scene.show_composite,
                        screen_size=screen, worker=window.export_worker, parent=window)
