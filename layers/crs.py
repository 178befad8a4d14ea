"""Coordinate systems: parse what users type, label what files say, suggest but never guess."""

from __future__ import annotations

from pyproj import CRS
from pyproj.exceptions import CRSError

from .errors import SkiktError

DEFAULT_CRS = "EPSG:3006"  # SWEREF 99 TM, the national projection used by SCB and Lantmäteriet

# Plausible coordinate ranges for Sweden in the systems files actually arrive in. Used only to
# *suggest* a CRS in dialogs and messages; loading never picks one of these by itself.
_SUGGESTION_RANGES = {
    "EPSG:3006": (180_000, 6_050_000, 1_000_000, 7_750_000),  # SWEREF 99 TM
    "EPSG:3021": (1_180_000, 6_050_000, 1_950_000, 7_750_000),  # RT90 2.5 gon V
    "EPSG:4326": (-180.0, -90.0, 180.0, 90.0),  # WGS 84 lon/lat
}


def parse_crs(value, *, path=None) -> CRS:
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except (CRSError, ValueError, TypeError, OverflowError):
        shown = text if len(text) <= 40 else text[:37] + "…"  # a pasted WKT or a 400-digit code
        raise SkiktError.of("err_unknown_crs", path, value=shown) from None


def is_local_crs(crs) -> bool:
    """True for a local (engineering) CRS, a .prj's LOCAL_CS: a site grid with no tie to the Earth,
    so nothing can be converted to or from it."""
    if crs is None:
        return False
    try:
        return CRS.from_user_input(crs).is_engineering
    except CRSError:
        return False


def crs_label(crs) -> str | None:
    """'EPSG:NNNN' when the CRS has (or clearly matches) an EPSG code, else its name, None if absent."""
    if crs is None:
        return None
    crs = CRS.from_user_input(crs)
    code = crs.to_epsg() or crs.to_epsg(min_confidence=25)
    if code:
        return f"EPSG:{code}"
    return crs.name


def suggest_crs(bounds) -> list[str]:
    """CRSs whose usual coordinate range contains ``bounds`` (minx, miny, maxx, maxy), best first."""
    minx, miny, maxx, maxy = bounds
    out = []
    for code, (x0, y0, x1, y1) in _SUGGESTION_RANGES.items():
        if x0 <= minx and maxx <= x1 and y0 <= miny and maxy <= y1:
            out.append(code)
    # Lon/lat degrees also fit inside any metric range check's complement; keep WGS84 last
    # unless the numbers are small, in which case it is the only sensible reading.
    return out


def describe(code: str) -> str:
    names = {"EPSG:3006": "SWEREF 99 TM", "EPSG:4326": "WGS 84", "EPSG:3021": "RT90 2.5 gon V"}
    return f"{code} ({names[code]})" if code in names else code
