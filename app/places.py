"""Names a person reads: the municipality a grid cell lies in, not its SCB-style cell id."""

from __future__ import annotations

import numpy as np
import shapely

from skikt.layers.export import base_layers
from skikt.layers.i18n import tr

_cache: dict = {}


def _municipality_of_units(ws) -> np.ndarray | None:
    """For each unit, the name of the municipality its centre lies in ('' outside all of them).
    Cached per (units, municipalities) pair, compared by identity: both are replaced, never changed."""
    _, municipalities = base_layers(ws)
    units = ws.units
    if municipalities is None or units is None or "name" not in municipalities.columns:
        return None
    key = _cache.get("key")
    if key is not None and key[0] is units and key[1] is municipalities:
        return _cache["names"]
    tree = shapely.STRtree(municipalities.geometry.to_numpy())
    points = shapely.points(units.centres)
    hit_point, hit_area = tree.query(points, predicate="within")
    names = np.full(units.n, "", dtype=object)
    names[hit_point] = municipalities["name"].astype(str).to_numpy()[hit_area]
    _cache.update(key=(units, municipalities), names=names)
    return names


def cell_size_text(cell: float) -> str:
    return f"{cell / 1000:g} km" if cell >= 1000 and cell % 1000 == 0 else f"{cell:g} m"


def unit_title(ws, i: int, lang: str) -> str:
    """"Norrtälje, 500 m-ruta" for a grid cell; an area unit keeps its own name."""
    units = ws.units
    if units.kind != "grid":
        return units.label(i)
    names = _municipality_of_units(ws)
    place = names[i] if names is not None else ""
    if not place:
        return units.label(i)
    return tr("cell_in", lang).format(place=place, size=cell_size_text(units.grid.cell))


def unit_titles(ws, indices, lang: str) -> list[str]:
    """Titles for a list (a chart's axis): repeated names get a running number, "Norrtälje,
    500 m-ruta (2)", so two bars never carry the same label."""
    titles = [unit_title(ws, int(i), lang) for i in indices]
    seen: dict[str, int] = {}
    out = []
    for t in titles:
        seen[t] = seen.get(t, 0) + 1
        out.append(t if titles.count(t) == 1 else f"{t} ({seen[t]})")
    return out
