"""Constraint layers: a layer with ``role = "exclude"`` removes the units it covers from scoring.

Grid units: a cell is removed when its centre lies in (or on the edge of) any of the layer's
polygons. Area units: when the share of the unit's area covered by the union of the polygons is
at least ``exclude_share`` (default 0.5). Removed units get no score, rank or class; ranks and
class thresholds are computed over the remaining units only.
"""

from __future__ import annotations

import numpy as np
import shapely

from .errors import SkiktError

ROLE_EXCLUDE = "exclude"
DEFAULT_SHARE = 0.5


def is_exclusion(spec) -> bool:
    return spec.extra.get("role") == ROLE_EXCLUDE


def exclusion_share(spec, path=None) -> float:
    share = spec.extra.get("exclude_share", DEFAULT_SHARE)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise SkiktError(f"layer '{spec.id}': exclude_share must be a number above 0 and at most 1, got {share!r}", path)
    return float(share)


def _polygons(geoms: np.ndarray) -> np.ndarray:
    kind = shapely.get_type_id(geoms)
    return geoms[(kind == 3) | (kind == 6) | (kind == 7)]  # Polygon, MultiPolygon, collections


def covered_units(units, geoms: np.ndarray, share: float = DEFAULT_SHARE) -> np.ndarray:
    """(n,) True for the units the polygons ``geoms`` remove (see the module)."""
    polys = _polygons(np.asarray(geoms, dtype=object))
    polys = polys[~shapely.is_empty(polys)]
    out = np.zeros(units.n, bool)
    if len(polys) == 0:
        return out
    polys = shapely.make_valid(polys)
    tree = shapely.STRtree(polys)
    if units.kind == "grid":
        centres = shapely.points(units.centres)
        hit, _ = tree.query(centres, predicate="intersects")  # inside or on an edge
        out[hit] = True
        return out
    unit_geoms = units.geometry
    hit_units, hit_polys = tree.query(unit_geoms, predicate="intersects")
    for i in np.unique(hit_units):
        cover = shapely.union_all(polys[hit_polys[hit_units == i]])
        area = shapely.area(unit_geoms[i])
        out[i] = area > 0 and shapely.area(shapely.intersection(unit_geoms[i], cover)) / area >= share
    return out


def excluded_by(units, layers: list[tuple[str, np.ndarray, float]]) -> np.ndarray:
    """(n,) object array: the id of the first exclusion layer (project order) that removes each
    unit, "" for the units that stay. ``layers`` is [(layer id, geometries, share), …]."""
    out = np.full(units.n, "", dtype=object)
    for layer_id, geoms, share in layers:
        geoms = np.asarray(geoms, dtype=object)
        if len(geoms) and not len(_polygons(geoms)):
            raise SkiktError(f"layer '{layer_id}': role = \"exclude\" needs polygons, and this layer has none")
        hit = covered_units(units, geoms, share) & (out == "")
        out[hit] = layer_id
    return out


def excluding_titles(project, excluded: np.ndarray | None, units: np.ndarray | None = None) -> list[str]:
    """Titles of the exclusion layers that remove at least one unit (of ``units``, default all),
    in project order: what the legend's "Undantaget: …" line names."""
    if excluded is None:
        return []
    ids = excluded if units is None else excluded[units]
    present = set(ids[ids != ""].tolist())
    return [spec.title for spec in project.layers if spec.id in present]


def unit_exclusion_note(ws, unit: int, lang: str = "sv") -> str:
    """"Undantagen från poängen av <layer title>" for an excluded unit, "" for a scored one
    (for the Info panel: an excluded unit has no score to explain)."""
    from .i18n import tr

    if ws.excluded_by is None or unit is None or not ws.excluded_by[unit]:
        return ""
    titles = excluding_titles(ws.project, ws.excluded_by, np.array([unit]))
    return tr("excluded_unit", lang).format(names=", ".join(titles))
