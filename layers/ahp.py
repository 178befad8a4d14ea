"""Pairwise-comparison (AHP) weights: Saaty's principal eigenvector and consistency ratio.

The project file says which indicator is how much more important than which::

    [ahp]
    order = ["vard", "transport", "kultur"]        # indicator layer ids
    matrix = [[1, 3, 5], [1/3, 1, 3], [1/5, 1/3, 1]]  # a_ij: how much more i matters than j

Weights are the principal (Perron) eigenvector of the matrix, normalised to sum 1; the
consistency ratio CR = CI / RI with CI = (λmax − n)/(n − 1) and Saaty's random index RI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import SkiktError
from .i18n import Msg

# Saaty's random consistency index: the mean CI of random reciprocal matrices of order n.
# Saaty, T. L. (1980) "The Analytic Hierarchy Process", McGraw-Hill, Table 1.3 (n = 1…15), the
# values repeated in Saaty (1990), Eur. J. Oper. Res. 48, 9–26, for n = 1…10.
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45,
                10: 1.49, 11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59}
CR_LIMIT = 0.10  # Saaty's rule of thumb: above this the judgements should be revisited
SCALE_MIN, SCALE_MAX = 1 / 9, 9.0
# Matrices are typed with rounded reciprocals (0.333 for 1/3), so reciprocity and the scale are
# checked to a relative tolerance that accepts three decimals but not a different judgement.
RECIPROCAL_RTOL = 0.01


@dataclass
class AhpResult:
    order: list[str]
    matrix: np.ndarray  # (n, n) as given
    weights: np.ndarray  # (n,) principal eigenvector, sum 1
    lambda_max: float
    ci: float  # (λmax − n)/(n − 1)
    ri: float  # Saaty's random index for n
    cr: float  # CI / RI (0 for n ≤ 2, which are always consistent)
    worst_pair: tuple[str, str] | None  # the most inconsistent pair, see :func:`most_inconsistent_pair`

    @property
    def consistent(self) -> bool:
        return self.cr <= CR_LIMIT

    def warning(self) -> Msg | None:
        """One line for the CLI and the app when CR > 0.10, naming the pair to revisit (English as
        a str; ``layers.i18n.say(msg, lang)`` gives it in the app's language)."""
        if self.consistent:
            return None
        i, j = self.worst_pair
        return Msg.of("ahp_warning", cr=f"{self.cr:.3f}", limit=f"{CR_LIMIT:.2f}", a=i, b=j)

    def weight_of(self) -> dict[str, float]:
        return dict(zip(self.order, (float(w) for w in self.weights)))


def check_matrix(matrix, order=None, path=None) -> np.ndarray:
    """The matrix as floats, or a one-line SkiktError: square, finite, positive, diagonal 1,
    every entry on Saaty's 1/9…9 scale, a_ji = 1/a_ij (within RECIPROCAL_RTOL)."""
    try:
        a = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise SkiktError.of("ahp_err_not_numbers", path) from None
    n = a.shape[0] if a.ndim == 2 else 0
    if a.ndim != 2 or a.shape != (n, n) or n == 0:
        raise SkiktError.of("ahp_err_shape", path, shape=str(a.shape))
    if order is not None and len(order) != n:
        raise SkiktError.of("ahp_err_order_size", path, n=n, m=len(order))
    if n > max(RANDOM_INDEX):
        raise SkiktError.of("ahp_err_too_many", path, most=max(RANDOM_INDEX), n=n)
    if not np.isfinite(a).all() or (a <= 0).any():
        raise SkiktError.of("ahp_err_positive", path)
    label = (lambda i: f"'{order[i]}'") if order is not None else (lambda i: f"row {i + 1}")
    for i in range(n):
        if not math.isclose(a[i, i], 1.0, rel_tol=1e-9):
            raise SkiktError.of("ahp_err_diagonal", path, a=label(i), value=f"{a[i, i]:g}")
    low, high = SCALE_MIN * (1 - RECIPROCAL_RTOL), SCALE_MAX * (1 + RECIPROCAL_RTOL)
    for i, j in zip(*np.nonzero((a < low) | (a > high))):
        raise SkiktError.of("ahp_err_scale", path, a=label(i), b=label(j), value=f"{a[i, j]:g}")
    for i, j in zip(*np.triu_indices(n, 1)):
        if not math.isclose(a[i, j] * a[j, i], 1.0, rel_tol=RECIPROCAL_RTOL):
            raise SkiktError.of("ahp_err_reciprocal", path, a=label(j), b=label(i), value=f"{a[i, j]:g}",
                                got=f"{a[j, i]:g}")
    return a


def principal_eigenvector(a: np.ndarray) -> tuple[np.ndarray, float]:
    """(weights summing to 1, λmax). A positive matrix has one real eigenvalue of largest modulus
    with a positive eigenvector (Perron–Frobenius); numpy's eig finds it, and the sign of the
    vector is fixed by normalising to sum 1."""
    values, vectors = np.linalg.eig(a)
    top = int(np.argmax(values.real))
    w = vectors[:, top].real
    w = w / w.sum()
    return w, float(values[top].real)


def most_inconsistent_pair(a: np.ndarray, w: np.ndarray) -> tuple[int, int]:
    """The pair (i, j), i < j, whose judgement a_ij disagrees most with the weights' own ratio
    w_i/w_j: the largest |ln(a_ij · w_j / w_i)|. Ties go to the first in row order."""
    err = np.abs(np.log(a * w[None, :] / w[:, None]))
    err[np.tril_indices(len(w))] = -1.0
    i, j = np.unravel_index(int(np.argmax(err)), err.shape)
    return int(i), int(j)


def ahp(matrix, order=None, path=None) -> AhpResult:
    """Weights, λmax, CI, CR and the most inconsistent pair of a pairwise-comparison matrix."""
    a = check_matrix(matrix, order, path)
    n = len(a)
    order = list(order) if order is not None else [str(i + 1) for i in range(n)]
    w, lam = principal_eigenvector(a)
    ci = max(lam - n, 0.0) / (n - 1) if n > 1 else 0.0  # λmax ≥ n in exact arithmetic
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    i, j = most_inconsistent_pair(a, w) if n > 1 else (0, 0)
    return AhpResult(order, a, w, lam, ci, ri, cr, (order[i], order[j]) if n > 1 else None)


def matrix_from_weights(weights) -> np.ndarray:
    """The perfectly consistent matrix a_ij = w_i / w_j (a test oracle and the dialog's start)."""
    w = np.asarray(weights, np.float64)
    return w[:, None] / w[None, :]


def project_ahp(project) -> AhpResult | None:
    """The project's [ahp] table evaluated, or None without one. ``order`` must name indicator
    layers, each once; the weights then replace those layers' weights (see :func:`apply_ahp`)."""
    table = project.extra.get("ahp")
    if table is None:
        return None
    path = project.path
    if not isinstance(table, dict) or "order" not in table or "matrix" not in table:
        raise SkiktError.of("ahp_err_table", path)
    order = table["order"]
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
        raise SkiktError.of("ahp_err_order_list", path)
    if len(set(order)) != len(order):
        raise SkiktError.of("ahp_err_order_twice", path)
    indicators = {s.id for s in project.indicator_layers()}
    for lid in order:
        if lid not in indicators:
            raise SkiktError.of("ahp_err_not_indicator", path, id=lid)
    return ahp(table["matrix"], order, path)


def apply_ahp(project, result: AhpResult) -> None:
    """Set the ordered layers' weights from the AHP. When ``order`` names every indicator the
    weights become the AHP weights (sum 1). When it names a subset, the AHP weights are scaled
    to the subset's previous total, so the layers left out keep their share of the whole."""
    named = [project.layer(lid).indicator for lid in result.order]
    total = sum(float(i.weight) for i in named)
    if len(named) == len(project.indicator_layers()) or total <= 0:
        total = 1.0
    for spec, weight in zip(named, result.weights):
        spec.weight = float(weight) * total
