"""Into QGIS: every layer and the scores of every scenario as one GeoPackage, and a QGIS project.

``export_gpkg`` writes one table per layer that has geometry (named by layer id, reprojected as
Skikt loaded it; a table joined to areas is written as its joined polygons) and a ``scores``
table: the unit polygons with the columns of ``skikt score`` for the current weights plus
``score_<slug>``, ``rank_<slug>``, ``class_<slug>`` for every ``[[scenarios]]`` entry.

``export_qgs`` writes that GeoPackage beside the ``.qgs`` (same stem) and a QGIS project that
points at it with a relative path: the layers in Skikt's order (the first is drawn on top), their
visibility and opacity, single / categorized / graduated renderers with the colours and class
breaks Skikt draws, and the priority classes (plus one hidden layer per scenario) beneath.

Plain XML, kept to what QGIS 3 needs to open the layers; no Qt or QGIS import here.
"""

from __future__ import annotations

import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .safe_write import atomic_write, check_output_path, project_inputs, refuse_input_overwrite

EXPORT_FORMATS = (".gpkg", ".qgs")
SCORES_TABLE = "scores"
# GeoPackage and SQLite keep these table-name prefixes for themselves.
_RESERVED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")
_QGIS_VERSION = "3.22.0-Białowieża"  # the oldest QGIS the written XML was checked with

# matplotlib markers of the sectors (layers/sectors.py) → QGIS simple-marker shapes
_MARKERS = {"s": "square", "D": "diamond", "^": "triangle", "*": "star", "P": "cross_fill",
            "o": "circle", "X": "cross2", "h": "hexagon", ".": "circle"}
POLYGON_FILL_ALPHA = 0.35  # a single-colour polygon layer is filled see-through, as render.draw_layer does
PRIORITY_ALPHA = 0.9  # as render.draw_priority


# ------------------------------------------------------------------------------------------------
# Names


def table_names(layer_ids: list[str]) -> dict[str, str]:
    """GeoPackage table of each layer: its id, unless that id is ``scores`` or starts with a
    prefix GeoPackage reserves; then ``layer_<id>`` (with ``_`` appended until it is free)."""
    taken = {SCORES_TABLE, *layer_ids}
    out = {}
    for lid in layer_ids:
        name = lid
        if lid == SCORES_TABLE or lid.startswith(_RESERVED_PREFIXES):
            name = f"layer_{lid}"
            while name in taken:
                name += "_"
            taken.add(name)
        out[lid] = name
    return out


def slug(name: str) -> str:
    """A scenario name as a column-name part: accents dropped (å→a, ö→o), lower case, runs of
    anything but a–z and 0–9 as one ``_``; ``scenario`` when nothing is left."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_") or "scenario"


def scenario_slugs(names: list[str]) -> dict[str, str]:
    """Slug of each scenario; a slug already used by an earlier scenario gets ``_2``, ``_3``…"""
    out, used = {}, set()
    for name in names:
        base = candidate = slug(name)
        n = 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        out[name] = candidate
    return out


def _free_column(name: str, columns) -> str:
    taken = {c.lower() for c in columns}
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


# ------------------------------------------------------------------------------------------------
# The data


def _workspace(project_path_or_ws):
    from .project import Project, check_scorable, read_project
    from .workspace import Workspace

    if isinstance(project_path_or_ws, Workspace):
        ws = project_path_or_ws
        if ws.composite is None:
            ws.update(strict=True)
        return ws
    project = project_path_or_ws if isinstance(project_path_or_ws, Project) else read_project(project_path_or_ws)
    check_scorable(project)
    ws = Workspace(project)
    ws.update(strict=True)
    return ws


def scenario_columns(ws) -> pd.DataFrame:
    """``score_<slug>``, ``rank_<slug>``, ``class_<slug>`` per scenario, in scenario order."""
    from .composite import combine
    from .scenarios import scenario_names, scenario_weights

    names = scenario_names(ws.project)
    data = {}
    for name, s in scenario_slugs(names).items():
        weights = scenario_weights(ws.project, name)
        c = combine(ws.normalised, [weights.get(lid, 0.0) for lid in ws.normalised.layer_ids],
                    ws.project.units.classes)
        data[f"score_{s}"] = c.score.astype(float)
        data[f"rank_{s}"] = np.asarray(c.rank)
        data[f"class_{s}"] = c.cls.astype(int)
    return pd.DataFrame(data)


def scores_frame(ws):
    """The ``scores`` table: ``skikt score``'s columns, the scenarios' columns, the unit polygons.
    A scenario column whose name is already taken (case-insensitively) gets ``_2``, ``_3``…"""
    import geopandas as gpd

    df = ws.result_table()
    for column, values in scenario_columns(ws).items():
        df[_free_column(column, df.columns)] = values.to_numpy()
    return gpd.GeoDataFrame(df, geometry=np.asarray(ws.units.geometry), crs=ws.project.crs)


def _writable(gdf):
    """Columns SQLite can hold: names unique regardless of case, and none called like the FID or
    geometry column GDAL adds (``fid``, ``geom``): such a column gets ``_2``, ``_3``…"""
    geometry = gdf.geometry.name
    renames, seen = {}, {"fid", "geom"}
    for column in gdf.columns:
        if column == geometry:
            continue
        name = _free_column(column, seen)
        seen.add(name.lower())
        if name != column:
            renames[column] = name
    out = gdf.rename(columns=renames)
    if geometry != "geometry":
        out = out.rename_geometry("geometry")
    return out.reset_index(drop=True)


@dataclass
class ExportLayer:
    spec: object  # LayerSpec
    table: str
    frame: object  # GeoDataFrame in the project CRS


def export_layers(ws) -> list[ExportLayer]:
    """Every loaded layer that has geometry, in the project's order."""
    names = table_names([s.id for s in ws.project.layers])
    out = []
    for spec in ws.project.layers:
        lay = ws.layers.get(spec.id)
        if lay is None or lay.geo is None:
            continue
        out.append(ExportLayer(spec, names[spec.id], _writable(lay.geo.to_crs(ws.project.crs)
                                                               if lay.geo.crs is not None else lay.geo)))
    return out


def _write_tables(path: Path, layers: list[ExportLayer], scores) -> None:
    import pyogrio

    tables = [(lay.table, lay.frame) for lay in layers] + [(SCORES_TABLE, _writable(scores))]
    for i, (table, frame) in enumerate(tables):
        # GeoPackage 1.2: the GDAL of QGIS 3.22 (Debian 12) warns that 1.4 is "partially supported".
        options = {"dataset_options": {"VERSION": "1.2"}} if i == 0 else {}
        pyogrio.write_dataframe(frame, path, layer=table, driver="GPKG", **options)


def export_gpkg(project_path_or_ws, out_gpkg) -> Path:
    """Every layer with geometry and the ``scores`` table as one GeoPackage; returns its path."""
    ws = _workspace(project_path_or_ws)
    refuse_input_overwrite(ws.project, out_gpkg)
    out = check_output_path(out_gpkg, (".gpkg",), "qerr_format")
    layers, scores = export_layers(ws), scores_frame(ws)
    atomic_write(out, lambda p: _write_tables(p, layers, scores), keep=project_inputs(ws.project))
    return out


# ------------------------------------------------------------------------------------------------
# The QGIS project


def _rgba(colour, alpha: float = 1.0) -> str:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(colour)
    return ",".join(str(round(v * 255)) for v in (r, g, b, a * alpha))


def _family(frame) -> str:
    types = set(frame.geometry.geom_type.dropna())
    if types and types <= {"Point", "MultiPoint"}:
        return "point"
    if types and types <= {"LineString", "MultiLineString", "LinearRing"}:
        return "line"
    return "polygon"


def _props(layer: ET.Element, props: dict) -> None:
    for k, v in props.items():
        ET.SubElement(layer, "prop", k=k, v=str(v))


def _symbol(name: str, family: str, colour: str, *, alpha: float = 1.0, edge: str | None = None,
            edge_width: float = 0.0, size: float = 18.0, marker: str = "o", line_width: float = 1.2) -> ET.Element:
    """One QGIS symbol. Widths and sizes in points, as Skikt's matplotlib drawing uses them."""
    kind = {"point": "marker", "line": "line", "polygon": "fill"}[family]
    sym = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    if family == "point":
        lay = ET.SubElement(sym, "layer", attrib={"class": "SimpleMarker", "enabled": "1", "locked": "0", "pass": "0"})
        _props(lay, {"name": _MARKERS.get(marker, "circle"), "color": _rgba(colour, alpha),
                     "size": f"{math.sqrt(size):.3g}", "size_unit": "Point", "scale_method": "diameter",
                     "outline_color": _rgba(edge or colour), "outline_style": "solid" if edge else "no",
                     "outline_width": edge_width, "outline_width_unit": "Point"})
    elif family == "line":
        lay = ET.SubElement(sym, "layer", attrib={"class": "SimpleLine", "enabled": "1", "locked": "0", "pass": "0"})
        _props(lay, {"line_color": _rgba(colour, alpha), "line_width": f"{line_width:.3g}",
                     "line_width_unit": "Point", "line_style": "solid", "capstyle": "round", "joinstyle": "round"})
    else:
        lay = ET.SubElement(sym, "layer", attrib={"class": "SimpleFill", "enabled": "1", "locked": "0", "pass": "0"})
        _props(lay, {"color": _rgba(colour, alpha), "style": "solid" if alpha > 0 else "no",
                     "outline_color": _rgba(edge or colour), "outline_style": "solid" if edge_width else "no",
                     "outline_width": f"{edge_width:.3g}", "outline_width_unit": "Point"})
    return sym


def _qgis_text(value) -> str:
    """A value as QGIS keys categories by (QVariant::toString): 3.0 → "3", True → "true"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Category:
    value: str  # "" is QGIS's catch-all: empty values and every value without a category of its own
    label: str
    colour: str


def categories(frame, style, lang: str = "sv") -> list[Category]:
    """The categories as render.feature_colours draws them: sorted as text, at most twelve (the
    eleven most common and "other"), the qualitative palette in that order."""
    from .i18n import tr
    from .style import qualitative_colours

    column = frame[style.column]
    text = column.astype("string").fillna("–")  # exactly as Skikt labels and sorts them
    qgis_value = {}
    for shown, value in zip(text, column):
        if shown not in qgis_value:
            qgis_value[shown] = "" if pd.isna(value) else _qgis_text(value)
    cats = sorted(text.unique(), key=str)
    other = len(cats) > 12
    if other:
        cats = sorted(text.value_counts().index[:11].tolist(), key=str) + [tr("other", lang)]
    colours = qualitative_colours(len(cats), style.palette or "okabe_ito")
    out = []
    for i, (cat, colour) in enumerate(zip(cats, colours)):
        value = "" if other and i == len(cats) - 1 else qgis_value[cat]
        out.append(Category(value, cat, colour))
    return out


@dataclass
class GradClass:
    lower: float
    upper: float
    label: str
    colour: str


def graduated_classes(frame, style) -> list[GradClass]:
    """Class ranges as render.feature_colours draws them: Skikt's breaks (``style.graduated_breaks``)
    as upper bounds, the first class from the smallest value, the last up to the largest."""
    from .style import fmt_number, graduated_breaks, sequential_colours

    values = pd.to_numeric(frame[style.column], errors="coerce")
    bins = graduated_breaks(values, style.scheme, style.k)
    if not len(bins):
        return []
    colours = sequential_colours(len(bins), style.palette)
    lows = np.r_[np.nanmin(values), bins[:-1]]
    uppers = np.array(bins, float)
    uppers[-1] = max(uppers[-1], np.nanmax(values))  # values above the top break are drawn in the top class
    return [GradClass(float(lo), float(hi), f"{fmt_number(lo)} – {fmt_number(b)}", c)
            for lo, hi, b, c in zip(lows, uppers, bins, colours)]


def _renderer_single(sym: ET.Element) -> ET.Element:
    r = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", forceraster="0", enableorderby="0")
    ET.SubElement(r, "symbols").append(sym)
    return r


def _renderer_categorized(column: str, cats: list[Category], make_symbol) -> ET.Element:
    r = ET.Element("renderer-v2", type="categorizedSymbol", attr=column, symbollevels="0", forceraster="0",
                   enableorderby="0")
    ce, se = ET.SubElement(r, "categories"), ET.SubElement(r, "symbols")
    for i, cat in enumerate(cats):
        ET.SubElement(ce, "category", render="true", symbol=str(i), value=cat.value, label=cat.label)
        se.append(make_symbol(str(i), cat.colour))
    return r


def _renderer_graduated(column: str, classes: list[GradClass], make_symbol) -> ET.Element:
    r = ET.Element("renderer-v2", type="graduatedSymbol", attr=column, graduatedMethod="GraduatedColor",
                   symbollevels="0", forceraster="0", enableorderby="0")
    re_, se = ET.SubElement(r, "ranges"), ET.SubElement(r, "symbols")
    for i, c in enumerate(classes):
        ET.SubElement(re_, "range", render="true", symbol=str(i), lower=repr(c.lower), upper=repr(c.upper),
                      label=c.label)
        se.append(make_symbol(str(i), c.colour))
    return r


def layer_renderer(lay: ExportLayer, base: str | None, lang: str = "sv") -> ET.Element:
    """The renderer that draws a layer as Skikt does (render.draw_layer; base-map outlines as
    render.draw_basemap)."""
    from .sectors import get_sector
    from .style import Style

    family = _family(lay.frame)
    if base is not None:  # Skikt draws the county and municipality layers as quiet outlines
        colour, width = {"counties": ("#555555", 1.3), "municipalities": ("#9a9a9a", 0.5)}[base]
        return _renderer_single(_symbol("0", family, colour, alpha=0.0, edge=colour, edge_width=width,
                                        line_width=width))
    style, sector = Style.from_dict(lay.spec.style), get_sector(lay.spec.sector)
    outline = 0.8 if style.outline else 0.0

    def per_feature(name: str, colour: str) -> ET.Element:
        return _symbol(name, family, colour, edge="#1a1a1a" if family == "point" and style.outline else "#444444",
                       edge_width=0.5 if family == "point" else outline, size=style.size, marker=sector.marker,
                       line_width=style.line_width * 1.6)

    column = style.column if style.column in lay.frame.columns else None
    if style.mode == "categorized" and column:
        return _renderer_categorized(column, categories(lay.frame, style, lang), per_feature)
    if style.mode == "graduated" and column:
        classes = graduated_classes(lay.frame, style)
        if classes:
            return _renderer_graduated(column, classes, per_feature)
    colour = style.colour or sector.colour
    if family == "point":
        sym = _symbol("0", family, colour, edge="#1a1a1a" if style.outline else None, edge_width=0.5,
                      size=style.size, marker=sector.marker)
    elif family == "line":
        sym = _symbol("0", family, colour, line_width=style.line_width * 1.6)
    else:
        sym = _symbol("0", family, colour, alpha=POLYGON_FILL_ALPHA, edge=colour, edge_width=outline)
    return _renderer_single(sym)


def priority_renderer(column: str, k: int, units_kind: str, lang: str = "sv") -> ET.Element:
    """The priority classes 1 (highest) … k with Skikt's colours and legend texts."""
    from .i18n import tr
    from .render import priority_colours

    cats = []
    for c, colour in zip(range(1, k + 1), priority_colours(k)):
        label = tr("class_highest", lang) if c == 1 else tr("class_lowest", lang) if c == k else \
            tr("class_n", lang).format(n=c)
        cats.append(Category(str(c), label, colour))
    # Areas get white borders as in Skikt. Grid cells get a thin border in their own colour: without
    # it QGIS's antialiasing leaves pale seams between touching cells.
    def symbol(name: str, colour: str) -> ET.Element:
        if units_kind == "areas":
            return _symbol(name, "polygon", colour, edge="#ffffff", edge_width=0.4)
        return _symbol(name, "polygon", colour, edge=colour, edge_width=0.2)

    return _renderer_categorized(column, cats, symbol)


def _spatialrefsys(crs) -> ET.Element:
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    srs = ET.Element("spatialrefsys")
    ET.SubElement(srs, "wkt").text = crs.to_wkt()
    auth = crs.to_authority()
    ET.SubElement(srs, "authid").text = f"{auth[0]}:{auth[1]}" if auth else ""
    ET.SubElement(srs, "description").text = crs.name
    return srs


@dataclass
class QgsLayer:
    qid: str
    name: str
    table: str
    family: str
    visible: bool
    opacity: float
    renderer: ET.Element


def _maplayer(lay: QgsLayer, gpkg_name: str, crs) -> ET.Element:
    geometry = {"point": "Point", "line": "Line", "polygon": "Polygon"}[lay.family]
    ml = ET.Element("maplayer", type="vector", geometry=geometry, autoRefreshEnabled="0", readOnly="0")
    ET.SubElement(ml, "id").text = lay.qid
    ET.SubElement(ml, "datasource").text = f"./{gpkg_name}|layername={lay.table}"
    ET.SubElement(ml, "layername").text = lay.name
    ET.SubElement(ET.SubElement(ml, "srs"), "spatialrefsys").extend(list(_spatialrefsys(crs)))
    ET.SubElement(ml, "provider", encoding="UTF-8").text = "ogr"
    ml.append(lay.renderer)
    ET.SubElement(ml, "layerOpacity").text = f"{lay.opacity:g}"
    return ml


def _layer_id(name: str) -> str:
    """A QGIS layer id. QGIS 3.22 drops ids of 10 characters or fewer (it expects a timestamp) and
    makes up a new one, which the layer tree then no longer finds."""
    return f"skikt_layer_{name}"


def qgs_layers(ws, layers: list[ExportLayer], lang: str = "sv") -> list[QgsLayer]:
    """The QGIS layers top to bottom: Skikt's layers in its order (the first draws on top), then
    the priority map (Skikt draws it beneath everything) and one hidden layer per scenario."""
    from .export import base_layers, layer_title
    from .i18n import tr
    from .scenarios import scenario_names

    counties, municipalities = base_layers(ws)
    out = []
    for lay in layers:
        geo = ws.layers[lay.spec.id].geo
        base = "counties" if geo is counties else "municipalities" if geo is municipalities else None
        out.append(QgsLayer(_layer_id(lay.table), layer_title(lay.spec, ws.layers[lay.spec.id].meta, lang),
                            lay.table, _family(lay.frame), bool(lay.spec.visible), float(lay.spec.opacity),
                            layer_renderer(lay, base, lang)))
    k, kind = ws.project.units.classes, ws.project.units.kind
    # Skikt's 0.9 alpha as the layer's opacity, not the symbols': QGIS then blends the grid once
    # instead of cell by cell, which would leave pale seams between cells.
    out.append(QgsLayer(_layer_id(SCORES_TABLE), tr("priority_map", lang), SCORES_TABLE, "polygon", True,
                        PRIORITY_ALPHA, priority_renderer("priority_class", k, kind, lang)))
    for name, s in scenario_slugs(scenario_names(ws.project)).items():
        title = tr("qgis_scenario_layer", lang).format(name=name)
        out.append(QgsLayer(_layer_id(f"{SCORES_TABLE}_{s}"), title, SCORES_TABLE, "polygon", False, PRIORITY_ALPHA,
                            priority_renderer(f"class_{s}", k, kind, lang)))
    return out


def qgs_document(ws, layers: list[QgsLayer], gpkg_name: str) -> ET.ElementTree:
    crs = ws.project.crs
    root = ET.Element("qgis", projectname=ws.project.title or "", version=_QGIS_VERSION)
    ET.SubElement(root, "title").text = ws.project.title or ""
    ET.SubElement(root, "projectCrs").append(_spatialrefsys(crs))
    tree = ET.SubElement(root, "layer-tree-group")
    for lay in layers:
        ET.SubElement(tree, "layer-tree-layer", id=lay.qid, name=lay.name, providerKey="ogr",
                      source=f"./{gpkg_name}|layername={lay.table}", expanded="1",
                      checked="Qt::Checked" if lay.visible else "Qt::Unchecked")
    project_layers = ET.SubElement(root, "projectlayers")
    for lay in layers:
        project_layers.append(_maplayer(lay, gpkg_name, crs))
    props = ET.SubElement(root, "properties")
    ET.SubElement(ET.SubElement(props, "Paths"), "Absolute", type="bool").text = "false"
    # Without this flag QGIS ignores <projectCrs> and takes the first layer's.
    ET.SubElement(ET.SubElement(props, "SpatialRefSys"), "ProjectionsEnabled", type="int").text = "1"
    ET.indent(root, "  ")
    return ET.ElementTree(root)


def _write_qgs(path: Path, doc: ET.ElementTree) -> None:
    with open(path, "wb") as f:
        f.write(b"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n")
        doc.write(f, encoding="utf-8", xml_declaration=False)


def export_qgs(project_path_or_ws, out_qgs, lang: str = "sv") -> Path:
    """The GeoPackage beside ``out_qgs`` (same stem, ``.gpkg``) and a QGIS project referencing it."""
    ws = _workspace(project_path_or_ws)
    refuse_input_overwrite(ws.project, out_qgs)
    out = check_output_path(out_qgs, (".qgs",), "qerr_format")
    gpkg = out.with_suffix(".gpkg")
    refuse_input_overwrite(ws.project, gpkg)
    layers, scores = export_layers(ws), scores_frame(ws)
    keep = project_inputs(ws.project)
    atomic_write(gpkg, lambda p: _write_tables(p, layers, scores), keep=keep)
    doc = qgs_document(ws, qgs_layers(ws, layers, lang), gpkg.name)
    atomic_write(out, lambda p: _write_qgs(p, doc), keep=keep)
    return out


def run_export(project_path, out_path) -> Path:
    """``skikt export PROJECT --out FILE.gpkg|FILE.qgs``: the format by the suffix. The output is
    checked before anything is computed; any other suffix, an output that is one of the project's
    inputs, or a project with nothing to score raises :class:`SkiktError` (one line)."""
    from .project import check_scorable, read_project

    project = read_project(project_path)
    refuse_input_overwrite(project, out_path)
    out = check_output_path(out_path, EXPORT_FORMATS, "qerr_format")
    if out.suffix.lower() == ".qgs":
        refuse_input_overwrite(project, out.with_suffix(".gpkg"))
    check_scorable(project)
    if out.suffix.lower() == ".gpkg":
        return export_gpkg(project, out)
    return export_qgs(project, out)
