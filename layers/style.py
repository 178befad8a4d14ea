"""How a layer looks. Pure data: changing it never touches indicators (the "look changed" path)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

# Colour-blind-safe palettes only: ColorBrewer schemes marked CB-safe and the viridis family.
SEQUENTIAL = ("viridis", "cividis", "magma", "YlOrRd", "YlGnBu", "Blues", "Greens", "Purples", "OrRd")
QUALITATIVE = ("okabe_ito", "Set2", "Dark2", "Paired")
SCHEMES = ("quantiles", "equal_interval", "natural_breaks", "std_mean")
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
PRIORITY_CMAP = "YlOrRd"


@dataclass
class Style:
    mode: str = "single"  # single | categorized | graduated
    colour: str | None = None  # single: None means the sector's colour
    column: str | None = None  # categorized / graduated
    scheme: str = "quantiles"
    k: int = 5
    palette: str = "viridis"
    size: float = 18.0  # point marker area in points²
    line_width: float = 1.2
    outline: bool = True
    labels: str | None = None  # column to label features with

    def to_dict(self) -> dict:
        default = Style()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Style":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})


def qualitative_colours(n: int, palette: str = "okabe_ito") -> list[str]:
    if palette == "okabe_ito" or palette not in QUALITATIVE:
        base = OKABE_ITO
    else:
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        cmap = colormaps[palette]
        base = [to_hex(cmap(i)) for i in range(cmap.N)]
    return [base[i % len(base)] for i in range(n)]


def sequential_colours(k: int, palette: str = "viridis") -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[palette if palette in colormaps else "viridis"]
    return [to_hex(cmap(x)) for x in np.linspace(0.08, 0.92, k)] if k > 1 else [to_hex(cmap(0.6))]


def graduated_breaks(values: pd.Series, scheme: str, k: int) -> np.ndarray:
    """Upper class bounds for drawing: the breaks of the `classes` normalisation (deterministic
    Fisher–Jenks for natural breaks), with repeated bounds dropped as mapclassify does, so the
    legend has no empty rows; standard-deviation classes by mapclassify (imported only then)."""
    from .composite import class_breaks

    import pandas as pd  # not at import time: the project reader imports this module on the way to the window

    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    if scheme != "std_mean":
        return np.unique(class_breaks(v, scheme, k))
    import warnings

    import mapclassify

    v = v[np.isfinite(v)]
    if len(v) == 0:
        return np.array([])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(mapclassify.StdMean(v).bins, float)


def fmt_number(x: float) -> str:
    """A number as the data holds it, for the Info panel and legends.

    Whole numbers stay whole; other values keep four significant digits without trailing zeros
    (10.6 stays 10.6, 0.01234 stays 0.01234), so a figure read off the map matches the source
    table when someone checks it. From 10,000 up, values are whole and grouped with thin spaces.
    """
    if not np.isfinite(x):
        return "–"
    x = float(x)
    if x.is_integer() or abs(x) >= 9999.5:  # 9999.5 would show as "1e+04" with four digits
        whole = round(x)
        return f"{whole:,}".replace(",", "\u202f") if abs(whole) >= 10_000 else str(whole)
    return f"{x:.4g}"
