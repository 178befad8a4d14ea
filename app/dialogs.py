"""Dialogs: add a layer (sector, title, CRS when missing, table join with a live match preview),
style a layer, and show a layer's properties and metadata."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIntValidator
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QSpinBox, QTextBrowser,
                               QVBoxLayout)

from skikt.layers.crs import describe, suggest_crs
from skikt.layers.errors import SkiktError
from skikt.layers.indicators import family
from skikt.layers.i18n import say
from skikt.layers.io import list_layers, read_raw
from skikt.layers.joins import best_join, join_table
from skikt.layers.metadata import LayerMeta, read_sidecar
from skikt.layers.project import METHODS, IndicatorSpec, LayerSpec
from skikt.layers.sectors import SECTORS
from skikt.layers.style import QUALITATIVE, SCHEMES, SEQUENTIAL, Style

from .i18n import T, language
from .workers import Worker

COMMON_CRS = ["EPSG:3006", "EPSG:4326", "EPSG:3021", "EPSG:3007", "EPSG:3008", "EPSG:3009", "EPSG:3010",
              "EPSG:3011", "EPSG:3012", "EPSG:3013", "EPSG:3014", "EPSG:3015", "EPSG:3016", "EPSG:3017",
              "EPSG:3018", "EPSG:3857"]


# The indicator methods that mean something for each kind of layer (a point has no coverage or
# length; a joined table's areas carry values, not features to count).
METHODS_FOR = {
    "point": ("count", "density", "distance", "attribute"),
    "line": ("length", "count", "distance", "attribute"),
    "polygon": ("coverage", "count", "density", "distance", "attribute"),
    "table": ("attribute",),
}
# An indicator set on a table of statistics per area most often describes the population.
TABLE_SECTOR = "socioeconomics"


def geometry_kind(raw) -> str:
    if raw.kind == "table":
        return "table"
    frame = raw.frame[~raw.frame.geometry.isna()]
    return family(frame) if len(frame) else "mixed"


class AddLayerDialog(QDialog):
    """Raises SkiktError from the constructor when the file cannot be read at all."""

    ASYNC_BYTES = 20_000_000  # files at least this large are read in a worker thread

    def __init__(self, model, path, parent=None):
        super().__init__(parent)
        self.model, self.path = model, Path(path)
        self.raw, self.read_error = None, None
        self.reader = Worker(self)
        self.reader.finished.connect(self._apply)
        self.reader.failed.connect(self._failed)
        self.setWindowTitle(f"{T('add_layer_title')}: {self.path.name}")
        self.setMinimumWidth(480)
        self.layer_names = list_layers(self.path)
        side = read_sidecar(self.path)
        form = QFormLayout()
        self.layer = QComboBox()
        self.layer.addItems(self.layer_names)
        self.layer.setEnabled(len(self.layer_names) > 1)
        form.addRow(T("layer_in_file"), self.layer)
        self.sector = QComboBox()
        for sid, sec in SECTORS.items():
            self.sector.addItem(sec.name(language()), sid)
        self.sector.setCurrentIndex(max(0, self.sector.findData(side.get("sector", "reference"))))
        # Reference only until the user or an indicator says otherwise (see _method_changed).
        self._sector_chosen = "sector" in side
        self.sector.activated.connect(lambda _i: setattr(self, "_sector_chosen", True))
        form.addRow(T("sector"), self.sector)
        self.title = QLineEdit(side.get("title") or self.path.stem.replace("_", " "))
        form.addRow(T("title"), self.title)
        # Where the data comes from: on every exported page's attribution line. Pre-filled from a
        # .meta.toml sidecar; what the user types is kept in the project's [layers.meta].
        self.sidecar = side
        self.source = QLineEdit(str(side.get("source") or ""))
        self.licence = QLineEdit(str(side.get("licence") or ""))
        self.year = QLineEdit("" if side.get("year") is None else str(side.get("year")))
        self.year.setValidator(QIntValidator(1000, 9999, self.year))
        self.year.setMaximumWidth(self.year.fontMetrics().horizontalAdvance("00000") + 16)
        self.source.setPlaceholderText(T("source_hint"))
        form.addRow(T("source"), self.source)
        form.addRow(T("licence"), self.licence)
        form.addRow(T("year"), self.year)
        self.crs = QComboBox()
        self.crs.setEditable(True)
        self.crs_label = QLabel(T("crs_missing"))
        self.crs_label.setWordWrap(True)
        self.crs_label.setStyleSheet("color:#a04000")
        form.addRow(self.crs_label)
        form.addRow(T("crs"), self.crs)
        # Table joins
        self.join_box = QGroupBox(T("join_to"))
        jf = QFormLayout(self.join_box)
        self.area_layer = QComboBox()
        self.table_key = QComboBox()
        self.area_key = QComboBox()
        self.match = QLabel("")
        self.match.setWordWrap(True)
        jf.addRow(T("area_layer"), self.area_layer)
        jf.addRow(T("table_key"), self.table_key)
        jf.addRow(T("area_key"), self.area_key)
        jf.addRow(T("match_preview"), self.match)
        # Indicator
        self.ind_box = QGroupBox(T("indicator"))
        inf = QFormLayout(self.ind_box)
        self.method = QComboBox()
        self._fill_methods(METHODS)
        self.column = QComboBox()
        self.direction = QComboBox()
        self.direction.addItem(T("direction_high"), "high")
        self.direction.addItem(T("direction_low"), "low")
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0, 100)
        self.weight.setValue(1)
        inf.addRow(T("method"), self.method)
        inf.addRow(T("column"), self.column)
        inf.addRow("", self.direction)
        inf.addRow(T("weight"), self.weight)
        self.hidden_note = QLabel("")
        self.hidden_note.setWordWrap(True)
        self.hidden_note.setStyleSheet("color:#555555")
        inf.addRow(self.hidden_note)
        self.error = QLabel("")
        self.error.setStyleSheet("color:#b00020")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.join_box)
        lay.addWidget(self.ind_box)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        for area in (s for s in model.project.layers if model.ws.layers.get(s.id) is not None
                     and model.ws.layers[s.id].geo is not None and s.join is None):
            geo = model.ws.layers[area.id].geo
            if len(geo) and family(geo) == "polygon":
                self.area_layer.addItem(area.title, area.id)
        self.layer.currentIndexChanged.connect(self._read)
        self.area_layer.currentIndexChanged.connect(self._area_changed)
        self.table_key.currentIndexChanged.connect(self._preview)
        self.area_key.currentIndexChanged.connect(self._preview)
        self.method.currentIndexChanged.connect(self._method_changed)
        self._read()

    # ------------------------------------------------------------------

    def _layer_arg(self):
        if len(self.layer_names) > 1 or self.path.suffix.lower() in (".gpkg", ".xlsx", ".zip"):
            return self.layer.currentText()
        return None

    def _read(self):
        """Read the file for its columns and preview: here if it is small, in a worker if not,
        so that dropping a 200 MB GeoPackage never freezes the window."""
        self.raw = None
        self.ok.setEnabled(False)
        layer = self._layer_arg()
        if self.path.stat().st_size < self.ASYNC_BYTES:
            try:
                self._apply(read_raw(self.path, layer))
            except SkiktError as exc:
                self._failed(exc.text(language()))
            return
        self.error.setStyleSheet("color:#555555")
        self.error.setText(T("reading"))

        def job(cancel):
            yield 0.0, "read"
            return read_raw(self.path, layer)

        self.reader.start(job)

    def _failed(self, msg: str):
        self.read_error = msg
        self.error.setStyleSheet("color:#b00020")
        self.error.setText(msg)
        self.ok.setEnabled(False)

    def _apply(self, raw):
        self.raw = raw
        self.read_error = None
        self.error.setStyleSheet("color:#b00020")
        self.error.setText("")
        self.ok.setEnabled(True)
        frame = self.raw.frame
        is_table = self.raw.kind == "table"
        self.join_box.setVisible(is_table)
        needs_crs = not is_table and frame.crs is None
        self.crs_label.setVisible(needs_crs)
        self.crs.setEnabled(needs_crs)
        self.crs.clear()
        if needs_crs:
            geom = frame.geometry[~frame.geometry.isna()]
            sugg = suggest_crs(geom.total_bounds) if len(geom) else []
            for code in sugg + [c for c in COMMON_CRS if c not in sugg]:
                self.crs.addItem(describe(code), code)
        else:
            self.crs.addItem(str(frame.crs) if not is_table and frame.crs is not None else "–")
        cols = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None) and c != "geometry"]
        self.table_key.clear()
        self.table_key.addItems([str(c) for c in cols])
        for i, c in enumerate(cols):
            if any(k in str(c).lower() for k in ("kod", "code")):
                self.table_key.setCurrentIndex(i)
                break
        self.column.clear()
        for c in cols:
            if pd.api.types.is_numeric_dtype(frame[c]):
                self.column.addItem(str(c), c)
        kind = geometry_kind(raw)
        self._fill_methods(METHODS_FOR.get(kind, METHODS))
        best = self._pick_best_join() if is_table else None
        self._area_changed()
        if best is not None:
            self.area_key.setCurrentText(best[2])
            self.table_key.setCurrentText(best[1])
        if is_table and self.column.count():
            # A joined table is there for its values: its first numeric column that is not the
            # key becomes the indicator, which the user can still switch off.
            values = [i for i in range(self.column.count()) if self.column.itemText(i) != self.table_key.currentText()]
            if values:
                self.column.setCurrentIndex(values[0])
                self.method.setCurrentIndex(self.method.findData("attribute"))
        self._method_changed()

    def _fill_methods(self, methods) -> None:
        current = self.method.currentData()
        self.method.blockSignals(True)
        self.method.clear()
        self.method.addItem(T("none"), None)
        for m in methods:
            self.method.addItem(T(f"method_{m}"), m)
        self.method.setCurrentIndex(max(0, self.method.findData(current)))
        self.method.blockSignals(False)

    def _pick_best_join(self):
        """Select the area layer and key columns that match most of the table's rows, so a
        table of municipal codes joins to the municipalities without touching the dialog."""
        areas = {self.area_layer.itemData(i): self.model.ws.layers[self.area_layer.itemData(i)].geo
                 for i in range(self.area_layer.count())}
        best = best_join(self.raw.frame, areas)
        if best is None:
            return None
        self.area_layer.blockSignals(True)
        self.area_layer.setCurrentIndex(self.area_layer.findData(best[0]))
        self.area_layer.blockSignals(False)
        self.table_key.blockSignals(True)
        self.table_key.setCurrentText(best[1])
        self.table_key.blockSignals(False)
        return best

    def _area_changed(self):
        self.area_key.clear()
        lid = self.area_layer.currentData()
        if lid:
            geo = self.model.ws.layers[lid].geo
            cols = [c for c in geo.columns if c != geo.geometry.name]
            self.area_key.addItems(cols)
            if "code" in cols:
                self.area_key.setCurrentIndex(cols.index("code"))
        self._preview()

    def _preview(self):
        if self.raw is None or self.raw.kind != "table":
            return
        lid, left, right = self.area_layer.currentData(), self.table_key.currentText(), self.area_key.currentText()
        if not (lid and left and right):
            self.match.setText(T("area_layer") + "?")
            self.ok.setEnabled(False)
            return
        try:
            _, rep = join_table(self.raw.frame, left, self.model.ws.layers[lid].geo, right, source=self.path.name,
                                study_area=self.model.ws.study_area_geometries())
        except SkiktError as exc:
            self.match.setText(exc.text(language()))
            return
        colour = "#1b7837" if rep.match_rate >= 0.9 else ("#b35806" if rep.match_rate > 0 else "#b00020")
        self.match.setText(f"<span style='color:{colour}'><b>{rep.match_rate:.0%}</b></span> – "
                           + html.escape("; ".join(rep.lines(language())[:3])))
        self.ok.setEnabled(rep.matched > 0)

    def _method_changed(self):
        m = self.method.currentData()
        self.column.setEnabled(m == "attribute")
        self.direction.setEnabled(m is not None)
        self.weight.setEnabled(m is not None)
        if m is not None and not self._sector_chosen and self.sector.currentData() == "reference":
            # Reference layers never carry a weight in the legend's sector list: an indicator
            # belongs to a sector. Tables of statistics per area are socio-economic by default.
            self.sector.setCurrentIndex(self.sector.findData(TABLE_SECTOR))
        hidden = self.hides_over_priority_map()
        self.hidden_note.setVisible(hidden)
        self.hidden_note.setText(T("indicator_layer_hidden").format(name=self.title.text()) if hidden else "")

    def _typed_meta(self, spec) -> LayerMeta:
        """Source, licence and year as typed; only what differs from the sidecar is stored (the
        sidecar still supplies the rest when the project is read)."""
        typed = {"source": self.source.text().strip(), "licence": self.licence.text().strip(),
                 "year": int(self.year.text()) if self.year.hasAcceptableInput() else None}
        own = {k: v for k, v in typed.items() if v not in ("", None) and v != self.sidecar.get(k)}
        return LayerMeta.from_dict({**own, "sector": spec.sector, "title": spec.title})

    def hides_over_priority_map(self) -> bool:
        """An indicator drawn as filled areas would recolour the priority classes under it."""
        if self.raw is None or self.method.currentData() is None:
            return False
        return geometry_kind(self.raw) in ("table", "polygon")

    def spec(self) -> LayerSpec:
        layer = self._layer_arg()
        stem = Path(layer).stem if layer else self.path.stem
        spec = LayerSpec(id=self.model.new_layer_id(stem), path=str(self.path.resolve()),
                         sector=self.sector.currentData(), title=self.title.text().strip() or stem, layer=layer)
        if self.crs.isEnabled():
            spec.crs = self.crs.currentData() or self.crs.currentText().split(" ")[0]
        if self.raw is not None and self.raw.kind == "table":
            spec.join = {"layer": self.area_layer.currentData(), "left": self.table_key.currentText(),
                         "right": self.area_key.currentText()}
        m = self.method.currentData()
        if m:
            spec.indicator = IndicatorSpec(method=m, column=self.column.currentData() if m == "attribute" else None,
                                           direction=self.direction.currentData(), weight=self.weight.value())
        spec.meta = self._typed_meta(spec)
        if self.hides_over_priority_map():
            spec.visible = False  # counts in the score; the legend lists it as "also weighted"
        return spec


class StyleDialog(QDialog):
    def __init__(self, spec, frame, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"{T('style')} {spec.title}")
        self.style_ = Style.from_dict(spec.style)
        form = QFormLayout(self)
        self.mode = QComboBox()
        for key in ("single", "categorized", "graduated"):
            self.mode.addItem(T(f"mode_{key}"), key)
        self.mode.setCurrentIndex(self.mode.findData(self.style_.mode))
        cols = [c for c in frame.columns if c != frame.geometry.name]
        self.column = QComboBox()
        self.column.addItems([str(c) for c in cols])
        if self.style_.column in cols:
            self.column.setCurrentText(self.style_.column)
        self.scheme = QComboBox()
        for s in SCHEMES:
            self.scheme.addItem(T(f"scheme_{s}"), s)
        self.scheme.setCurrentIndex(self.scheme.findData(self.style_.scheme))
        self.k = QSpinBox()
        self.k.setRange(2, 9)
        self.k.setValue(self.style_.k)
        self.palette = QComboBox()
        self.palette.addItems(list(SEQUENTIAL) + list(QUALITATIVE))
        self.palette.setCurrentText(self.style_.palette)
        self.colour = QPushButton(self.style_.colour or T("sector_colour"))
        self.colour.clicked.connect(self._pick)
        self.size = QDoubleSpinBox()
        self.size.setRange(2, 200)
        self.size.setValue(self.style_.size)
        self.labels = QComboBox()
        self.labels.addItem(T("none"), None)
        for c in cols:
            self.labels.addItem(str(c), c)
        self.labels.setCurrentIndex(max(0, self.labels.findData(self.style_.labels)))
        self.outline = QCheckBox()
        self.outline.setChecked(self.style_.outline)
        form.addRow(T("symbology"), self.mode)
        form.addRow(T("column"), self.column)
        form.addRow(T("scheme"), self.scheme)
        form.addRow(T("classes_n"), self.k)
        form.addRow(T("palette"), self.palette)
        form.addRow(T("colour"), self.colour)
        form.addRow(T("symbol_size"), self.size)
        form.addRow(T("labels"), self.labels)
        form.addRow(T("outline"), self.outline)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self._mode_changed()

    def _mode_changed(self, *_):
        """Offer only the settings the chosen symbology uses."""
        mode = self.mode.currentData()
        self.column.setEnabled(mode != "single")
        self.colour.setEnabled(mode == "single")
        for w in (self.scheme, self.k):
            w.setEnabled(mode == "graduated")
        self.palette.setEnabled(mode != "single")

    def _pick(self):
        c = QColorDialog.getColor(QColor(self.style_.colour or "#888888"), self)
        if c.isValid():
            self.style_.colour = c.name()
            self.colour.setText(c.name())

    def result_style(self) -> dict:
        s = self.style_
        s.mode = self.mode.currentData()
        s.column = self.column.currentText() or None
        s.scheme = self.scheme.currentData()
        s.k = self.k.value()
        s.palette = self.palette.currentText()
        s.size = self.size.value()
        s.labels = self.labels.currentData()
        s.outline = self.outline.isChecked()
        return s.to_dict()


class PropertiesDialog(QDialog):
    def __init__(self, spec, loaded, error: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"{T('properties')} {spec.title}")
        self.resize(560, 480)
        text = QTextBrowser()
        meta = loaded.meta if loaded is not None else spec.meta
        rows = [(T("title"), spec.title), (T("sector"), SECTORS[spec.sector].name(language())),
                (T("source"), meta.source), (T("licence"), meta.licence), (T("year"), meta.year or ""),
                (T("description"), meta.description), (T("file_path"), spec.path + (f" ▸ {spec.layer}" if spec.layer else ""))]
        if meta.illustrative:
            rows.append((T("illustrative").capitalize(), T("illustrative_note")))
        body = "".join(f"<tr><td style='color:#555;padding-right:10px' valign='top'>{html.escape(str(k))}</td>"
                       f"<td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        extra = ""
        if loaded is not None:
            r = loaded.report
            extra += f"<h4>{T('features').capitalize()}</h4><p>{html.escape(r.summary(language()))}; " \
                     f"encoding {html.escape(str(r.encoding or '–'))}; {T('crs')} {html.escape(str(r.source_crs or '–'))}</p>"
            if loaded.join_report is not None:
                extra += f"<h4>{T('join_report')}</h4><ul>" + "".join(
                    f"<li>{html.escape(line)}</li>" for line in loaded.join_report.lines(language())) + "</ul>"
            others = [w for w in r.warnings if not w.startswith("join:")]
            if others:
                extra += f"<h4>{T('warnings')}</h4><ul>" + "".join(
                    f"<li>{html.escape(say(w, language()))}</li>" for w in others) + "</ul>"
        if error:
            extra += f"<h4 style='color:#b00020'>{T('error')}</h4><p>{html.escape(error)}</p>"
        text.setHtml(f"<table>{body}</table>{extra}")
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)
        for b in buttons.buttons():
            b.clicked.connect(self.accept)
        self.setWindowModality(Qt.WindowModal)
