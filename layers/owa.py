"""Ordered weighted averaging in the GIS-OWA form with the quantifier Q(p) = p^α.

Malczewski, J. (2006) "Ordered weighted averaging with fuzzy quantifiers: GIS-based multicriteria
evaluation for land-use suitability analysis", Int. J. Applied Earth Observation and
Geoinformation 8, 270–277 (after Yager 1996). Per unit, with u the criterion weights normalised
over the criteria the unit has:

    sort the unit's values in descending order z_(1) ≥ z_(2) ≥ … and carry their weights u_(j);
    v_j = Q(Σ_{k≤j} u_(k)) − Q(Σ_{k<j} u_(k)),   Q(p) = p^α;
    score = Σ_j v_j · z_(j).

α = 1: v_j = u_(j), the weighted mean. α → ∞: Q is 0 until p reaches 1, so all the weight goes
to the last (lowest) value with positive weight: the minimum (AND, "every sector must be good").
α → 0: Q jumps to 1 at the first positive weight: the maximum (OR, "one good sector is enough").
"""

from __future__ import annotations

import numpy as np

ALPHA_MIN, ALPHA_MAX = 1e-3, 1e3  # the range offered to users; the formula itself needs α > 0


class OwaOrder:
    """The per-unit descending order of the criterion values, which does not depend on the
    weights: computed once, it lets many weight vectors be scored (Monte Carlo) cheaply."""

    def __init__(self, norm: np.ndarray):
        z = np.asarray(norm, np.float64)  # (m criteria, n units), NaN missing
        present = ~np.isnan(z)
        key = np.where(present, -z, np.inf)  # missing values sort last
        self.order = np.argsort(key, axis=0, kind="stable")  # (m, n): criterion at sorted position j
        self.sorted_values = np.take_along_axis(np.where(present, z, 0.0), self.order, axis=0)
        self.sorted_present = np.take_along_axis(present, self.order, axis=0)

    def scores(self, weights, alpha: float) -> np.ndarray:
        """(n,) GIS-OWA scores for one weight vector (m,); NaN where the unit has no criterion
        with positive weight."""
        if not alpha > 0:
            raise ValueError("OWA alpha must be positive")
        w = np.maximum(np.asarray(weights, np.float64), 0.0)
        u = w[self.order] * self.sorted_present  # (m, n) weights in each unit's sorted order
        cum = np.cumsum(u, axis=0)
        total = cum[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Dividing by the last cumulative sum makes the last p exactly 1, so for a huge α the
            # weight lands on the lowest value instead of vanishing in rounding (0.9999…^α → 0).
            p = cum / total
            q = p ** alpha
            v = np.diff(q, axis=0, prepend=0.0)
            score = (v * self.sorted_values).sum(axis=0)
        return np.where(total > 0, score, np.nan)


def owa_scores(norm: np.ndarray, weights, alpha: float = 1.0) -> np.ndarray:
    """GIS-OWA scores of every unit; ``norm`` is (criteria, units) with NaN for missing, which is
    dropped per unit and the weights renormalised over the rest, as the weighted mean does."""
    return OwaOrder(norm).scores(weights, alpha)


def order_weights(values, weights, alpha: float) -> np.ndarray:
    """The order weights v_j of one unit, in the descending order of its values (the worked
    example in the README and a readable reference for the tests)."""
    z = np.asarray(values, np.float64)
    u = np.asarray(weights, np.float64) / np.sum(weights)
    order = np.argsort(-z, kind="stable")
    cum = np.cumsum(u[order])
    cum = cum / cum[-1]
    return np.diff(cum ** alpha, prepend=0.0)
