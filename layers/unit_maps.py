"""Per-unit maps drawn in place of the priority classes: the disagreement between groups, the
share of Monte Carlo draws in the top class (p_top), and any other value with its own classes.

A ``UnitMap`` is an immutable description (values, class bounds, colours, legend labels); the
scene draws it where the priority map goes and the legend lists its classes. Whoever computes
the values (a worker thread, the CLI) builds the map; the GUI thread only hands it to the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UnitMap:
    values: np.ndarray            # one value per unit, in the order of Workspace.units; NaN = not drawn
    bounds: tuple[float, ...]     # class edges, len(colours) + 1, increasing; a value v is in class j when bounds[j] <= v < bounds[j+1]
    colours: tuple[str, ...]      # one colour per class, low to high
    labels: tuple[str, ...]       # one legend label per class, low to high
    title: str                    # legend heading
    note: str = ""                # one line under the legend heading (what the values mean)
    kind: str = ""                # what it is ("disagreement", "p_top", ...), for code that must tell maps apart

    def __post_init__(self):
        if len(self.bounds) != len(self.colours) + 1 or len(self.labels) != len(self.colours):
            raise ValueError("UnitMap: bounds must have one more entry than colours and labels")
        if any(b >= a for a, b in zip(self.bounds[1:], self.bounds[:-1])):
            raise ValueError("UnitMap: bounds must increase")

    def class_of(self) -> np.ndarray:
        """Class index per unit (0-based), -1 where the value is NaN or outside the bounds."""
        v = np.asarray(self.values, float)
        idx = np.searchsorted(np.asarray(self.bounds[1:-1], float), v, side="right")
        inside = np.isfinite(v) & (v >= self.bounds[0]) & (v <= self.bounds[-1])
        return np.where(inside, idx, -1)


__all__ = ["UnitMap"]
