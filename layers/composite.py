"""Normalise raw indicators to 0–1, weight them, and combine them into priority scores and classes.

The split matters for speed: normalisation runs when data or a normalisation choice changes;
a weight change only re-runs :func:`combine`: a weighted sum over cached rows and partial sorts
(``np.partition``) for the k − 1 class thresholds. Full ranks are only computed
when something asks for them (the score table, the Info panel).

Everything here is deterministic: no random numbers, no sampling with a random generator, so
the same project gives the same bytes on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS_GEO = 0.01  # floor for the geometric mean, so one zero does not erase everything else
# Fisher–Jenks costs O(k·m²) for m distinct values; above this many it runs on this many evenly
# spaced order statistics of the data (no random sample, so the breaks never change run to run).
JENKS_MAX_VALUES = 2_000
_JENKS_BLOCK = 128  # class ends per vectorised step of the Fisher–Jenks recursion


# ------------------------------------------------------------------------------------------------
# Class breaks (the `classes` normalisation and graduated styles)


def class_breaks(values: np.ndarray, scheme: str, k: int) -> np.ndarray:
    """The k upper class bounds of the finite values, as mapclassify computes them before it
    drops repeated bounds. Repeats are kept on purpose: a repeated bound is an empty class, so
    class c keeps its meaning "c-th of k" however many values tie. Empty when nothing is finite.

    quantiles: mapclassify's percentiles 100/k, 200/k, …, 100 by scipy's ``scoreatpercentile``.
    equal_interval: min + width, min + 2·width, …, max, as mapclassify.EqualInterval.
    natural_breaks: Fisher–Jenks (exact 1-D optimum of within-class squared deviations).
    """
    v = np.asarray(values, np.float64)
    v = np.sort(v[np.isfinite(v)])
    if len(v) == 0:
        return np.array([])
    if scheme == "quantiles":
        return _quantile_breaks(v, k)
    if scheme == "equal_interval":
        return _equal_interval_breaks(v, k)
    if scheme == "natural_breaks":
        return _natural_breaks(v, k)
    raise ValueError(f"unknown classification scheme '{scheme}'")


def classify(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Class 1…len(breaks) of each value (0 for NaN): the first class whose upper bound is at least
    the value, which is mapclassify's ``bin1d`` rule (lower bound exclusive, upper inclusive)."""
    x = np.asarray(values, np.float64)
    cls = np.zeros(x.shape, np.int16)
    ok = ~np.isnan(x)
    if len(breaks):
        cls[ok] = np.minimum(np.searchsorted(breaks, x[ok], side="left"), len(breaks) - 1) + 1
    return cls


def _quantile_breaks(v: np.ndarray, k: int) -> np.ndarray:
    # mapclassify.classifiers.quantile's percentiles, and scoreatpercentile's interpolation
    # written out so that ties give bit-identical bounds (and scipy.stats is not imported).
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)[:k]
    p[-1] = min(p[-1], 100.0)
    idx = p / 100.0 * (len(v) - 1)
    lo = idx.astype(np.int64)
    hi = np.minimum(lo + 1, len(v) - 1)
    w_lo, w_hi = (lo + 1) - idx, idx - lo
    mixed = (v[lo] * w_lo + v[hi] * w_hi) / (w_lo + w_hi)
    return np.where(lo == idx, v[lo], mixed)


def _equal_interval_breaks(v: np.ndarray, k: int) -> np.ndarray:
    lo, hi = v[0], v[-1]
    width = (hi - lo) / k
    cuts = np.arange(lo + width, hi + width, width)[:k] if width > 0 else np.full(k, hi)
    cuts = np.concatenate([cuts, np.full(k - len(cuts), hi)])  # arange may fall one short
    cuts[-1] = hi
    return cuts


def _natural_breaks(v: np.ndarray, k: int) -> np.ndarray:
    """Fisher–Jenks breaks of sorted finite values. Fewer distinct values than classes: each
    distinct value is a class, spread over 1…k (the lowest class 1, the highest class k)."""
    distinct, counts = np.unique(v, return_counts=True)
    if len(distinct) <= k:
        return _spread_breaks(distinct, k)
    if len(distinct) > JENKS_MAX_VALUES:
        distinct, counts = _order_statistics(v, distinct, k)
    return _fisher_jenks(distinct, counts.astype(np.float64), k)


def _spread_breaks(distinct: np.ndarray, k: int) -> np.ndarray:
    """Bounds putting the i-th of m ≤ k distinct values in class 1 + round(i·(k − 1)/(m − 1))."""
    m = len(distinct)
    if m == 1:
        return np.full(k, distinct[0])
    cls_of = 1 + np.round(np.arange(m) * (k - 1) / (m - 1)).astype(np.int64)
    # Bound of class j = the largest distinct value whose class is ≤ j.
    last = np.searchsorted(cls_of, np.arange(1, k + 1), side="right") - 1
    return distinct[last]


def _order_statistics(v: np.ndarray, distinct: np.ndarray, k: int):
    """JENKS_MAX_VALUES evenly spaced order statistics (min and max included), as (values, counts).
    Should a huge tie leave fewer than k distinct ones, evenly spaced distinct values join them."""
    m = JENKS_MAX_VALUES
    sample = v[np.round(np.linspace(0, len(v) - 1, m)).astype(np.int64)]
    if len(np.unique(sample)) < k:
        sample = np.concatenate([sample, distinct[np.round(np.linspace(0, len(distinct) - 1, m)).astype(np.int64)]])
    return np.unique(sample, return_counts=True)


def _fisher_jenks(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of the k classes of sorted distinct values x (with multiplicities w) that
    minimise the total within-class sum of squared deviations; dynamic programming over the
    start of the last class, vectorised over blocks of class ends (small blocks keep the
    temporaries in cache). Among equal totals the last class starts as early as possible, as
    in mapclassify's implementation."""
    m = len(x)
    xc = x - np.average(x, weights=w)  # centred: the sums of squares below lose less precision
    cw = np.r_[0.0, np.cumsum(w)]
    c1 = np.r_[0.0, np.cumsum(w * xc)]
    c2 = np.r_[0.0, np.cumsum(w * xc * xc)]
    best = c2 - c1 * c1 / np.maximum(cw, 1)  # best[j]: x[:j] as one class
    start = np.zeros((k + 1, m + 1), np.int64)  # start[c, j]: where class c begins when it ends at j
    for c in range(2, k + 1):
        new = np.full(m + 1, np.inf)
        for first_end in range(c, m + 1, _JENKS_BLOCK):
            ends = np.arange(first_end, min(first_end + _JENKS_BLOCK, m + 1))
            starts = np.arange(c - 1, ends[-1])  # the first c − 1 classes hold x[:s]
            j, i = ends[:, None], starts[None, :]
            count = cw[j] - cw[i]
            mean_part = c1[j] - c1[i]
            np.square(mean_part, out=mean_part)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(mean_part, count, out=mean_part)
            total = c2[j] - c2[i]
            total -= mean_part
            total += best[starts]
            np.putmask(total, count <= 0, np.inf)  # a start at or after the end is no class
            pick = np.argmin(total, axis=1)
            new[ends] = total[np.arange(len(ends)), pick]
            start[c, ends] = starts[pick]
        best = new
    bounds = np.empty(k)
    j = m
    for c in range(k, 0, -1):
        bounds[c - 1] = x[j - 1]
        j = start[c, j]
    return bounds


# ------------------------------------------------------------------------------------------------
# Normalisation


def average_ranks(v: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as scipy's rankdata, without importing
    scipy.stats, which costs most of a second at start-up)."""
    order = np.argsort(v, kind="stable")
    sv = v[order]
    new = np.r_[True, sv[1:] != sv[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(sv)]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based positions start+1 … end
    out = np.empty(len(v))
    out[order] = avg[group]
    return out


def check_points(points, path=None) -> np.ndarray:
    """A value curve's points as an (m, 2) float array, or a one-line SkiktError: at least two
    [raw, value] pairs of finite numbers, raw strictly increasing, values within 0–1."""
    from .errors import SkiktError

    try:
        p = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise SkiktError.of("err_points_numbers", path) from None
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
        raise SkiktError.of("err_points_two", path)
    if not np.isfinite(p).all():
        raise SkiktError.of("err_points_finite", path)
    if (np.diff(p[:, 0]) <= 0).any():
        raise SkiktError.of("err_points_increasing", path)
    if ((p[:, 1] < 0) | (p[:, 1] > 1)).any():
        raise SkiktError.of("err_points_range", path)
    return p


def piecewise(raw: np.ndarray, points) -> np.ndarray:
    """A value curve: linear interpolation between the points, flat beyond the first and the
    last (np.interp). The curve is absolute, so a constant indicator is not sent to 0.5."""
    p = check_points(points)
    x = np.asarray(raw, np.float64)
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    out[ok] = np.interp(x[ok], p[:, 0], p[:, 1])
    return out.astype(np.float32)


def normalise(raw: np.ndarray, method: str = "minmax", direction: str = "high",
              scheme: str = "quantiles", k: int = 5, points=None) -> np.ndarray:
    """0–1 values where 1 is the highest priority; NaN stays NaN (missing).

    minmax: (x − min)/(max − min), or (max − x)/(max − min) for direction "low".
    rank: percentile rank (average for ties), 0 for the lowest, 1 for the highest.
    zscore: Φ((x − mean)/sd), the standard normal CDF, so outliers cannot squash the rest.
    classes: class c of k (see :func:`class_breaks` and :func:`classify`) becomes (c − 1)/(k − 1),
    always: classes left empty by ties stay empty, nothing is rescaled to the classes found.
    A constant indicator cannot tell units apart and becomes 0.5 everywhere.
    piecewise: the value curve ``points`` (:func:`piecewise`). The curve already says which raw
    values matter most, so ``direction`` is not applied to it.
    """
    if method == "piecewise":
        return piecewise(raw, points)
    x = np.asarray(raw, dtype=np.float64)
    ok = ~np.isnan(x)
    out = np.full(x.shape, np.nan)
    if not ok.any():
        return out.astype(np.float32)
    v = x[ok]
    lo, hi = v.min(), v.max()
    if hi == lo:
        out[ok] = 0.5
        return out.astype(np.float32)
    if method == "minmax":
        n = (v - lo) / (hi - lo)
    elif method == "rank":
        n = (average_ranks(v) - 1) / max(len(v) - 1, 1)
    elif method == "zscore":
        from scipy.special import ndtr  # imported here: scipy.special costs 0.2 s at start-up

        n = ndtr((v - v.mean()) / v.std())
    elif method == "classes":
        n = (classify(v, class_breaks(v, scheme, k)) - 1) / max(k - 1, 1)
    else:
        raise ValueError(f"unknown normalisation '{method}'")
    out[ok] = n if direction == "high" else 1.0 - n
    return out.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Ranks and priority classes


def ranks(score: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; equal scores share the best rank (scipy's method="min" on −score);
    missing scores get 0."""
    s = np.asarray(score)
    r = np.zeros(s.shape, np.int32)
    scored = np.flatnonzero(~np.isnan(s))
    if len(scored) == 0:
        return r
    order = np.argsort(-s[scored], kind="stable")
    ss = s[scored][order]
    new = np.r_[True, ss[1:] != ss[:-1]]
    position = np.arange(1, len(ss) + 1, dtype=np.int32)
    r[scored[order]] = np.maximum.accumulate(np.where(new, position, 0))
    return r


def quantile_classes(score: np.ndarray, k: int = 5) -> np.ndarray:
    """Priority class 1 (top 1/k of the n scored units) … k; 0 where the score is missing.

    Exactly class = 1 + ⌊(rank − 1)·k / n⌋ with ranks as :func:`ranks`, so equal scores share a
    class. A unit is below class c when at least t = ⌈c·n/k⌉ scores beat it, i.e. when its score
    is below the t-th largest; those k − 1 order statistics come from one ``np.partition``,
    which is what keeps a slider step free of a full sort."""
    s = np.asarray(score)
    missing = np.isnan(s)
    scored = s[~missing]  # a copy of our own, partitioned in place below
    n = len(scored)
    cls = np.ones(s.shape, np.int8)
    if n and k >= 2:
        beaten_by = -((-np.arange(1, k) * n) // k)  # ⌈c·n/k⌉ for c = 1 … k − 1, each in 1 … n
        kth = n - beaten_by  # the t-th largest sits at ascending position n − t
        _select(scored, kth)
        for threshold in scored[kth]:
            cls += s < threshold  # NaN compares False
    cls[missing] = 0
    return cls


def _select(values: np.ndarray, positions: np.ndarray) -> None:
    """Put the order statistics at ``positions`` in place, one single-position partition each,
    every one on the part above the last: numpy's partition with several positions at once
    does not use its vectorised selection and measured several times slower."""
    low = 0
    for position in np.unique(positions):
        values[low:].partition(position - low)
        low = position + 1


def top_class(score: np.ndarray, k: int) -> np.ndarray:
    """Whether each unit is in priority class 1 (the same rule as :func:`quantile_classes`)."""
    s = np.asarray(score)
    scored = s[~np.isnan(s)]
    n = len(scored)
    if n == 0:
        return np.zeros(s.shape, bool)
    kth = n - (-((-n) // k))  # ascending position of the ⌈n/k⌉-th largest
    scored.partition(kth)
    return s >= scored[kth]  # NaN compares False


# ------------------------------------------------------------------------------------------------
# The combination


def _weighted_sum(w: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Σ wᵢ·rowᵢ, one row at a time, rows with weight 0 skipped (a sector's score reads only its
    own rows). Not ``w @ rows``: OpenBLAS hands this thin product to its thread pool, whose
    hand-over made the slider's cost jump by an order of magnitude whenever the machine was busy."""
    total = np.zeros(rows.shape[1], np.float32)
    term = np.empty_like(total)
    for i in np.flatnonzero(w):
        np.multiply(rows[i], w[i], out=term)
        total += term
    return total


@dataclass
class Normalised:
    """Indicators normalised over the units, laid out for fast re-weighting."""

    layer_ids: list[str]
    sectors: list[str]
    norm: np.ndarray  # (m, n) float32, NaN missing
    # (n,) True for units a constraint layer removes: NaN in every row of ``norm``, so they get
    # no score, rank or class, and do not count as "missing" in ``missing``.
    excluded: np.ndarray | None = None
    valid: np.ndarray = field(init=False)  # (m, n) float32 1/0
    filled: np.ndarray = field(init=False)  # norm with NaN → 0
    logs: np.ndarray = field(init=False)  # log(max(norm, EPS)), NaN → 0
    missing: np.ndarray = field(init=False)  # (m,) count of units without a value

    def __post_init__(self):
        ok = ~np.isnan(self.norm)
        self.valid = ok.astype(np.float32)
        self.filled = np.where(ok, self.norm, 0).astype(np.float32)
        self.logs = np.where(ok, np.log(np.maximum(self.filled, EPS_GEO)), 0).astype(np.float32)
        if self.excluded is not None:
            ok[:, self.excluded] = True  # excluded units are not counted as missing
            self.missing = (~ok).sum(axis=1)
            ok[:, self.excluded] = False
        else:
            self.missing = (~ok).sum(axis=1)
        self._all_valid = bool(ok.all())
        self._sector_cache: dict = {}
        self._owa_order = None

    def owa_order(self):
        """Each unit's criteria in descending order of value, for OWA: it does not depend on the
        weights, so a slider step (or a Monte Carlo draw) only re-weights it."""
        if self._owa_order is None:
            from .owa import OwaOrder

            self._owa_order = OwaOrder(self.norm)
        return self._owa_order

    @property
    def m(self) -> int:
        return self.norm.shape[0]

    def weighted_mean(self, weights) -> np.ndarray:
        """Σ wᵢ·nᵢ / Σ wᵢ over the indicators each unit has: a unit missing an indicator is scored
        on the others. An indicator with weight 0 takes no part, which is how one sector's score
        is taken from the same arrays."""
        return self._mean(weights, self.filled)

    def geometric_mean(self, weights) -> np.ndarray:
        return self._mean(weights, self.logs, np.exp)

    def _mean(self, weights, rows: np.ndarray, back=None) -> np.ndarray:
        """Σ wᵢ·rowᵢ / Σ wᵢ over the indicators each unit has, then ``back`` (exp for logs)."""
        w = np.asarray(weights, np.float32)
        if self.m == 0 or w.sum() <= 0:
            return np.full(self.norm.shape[1], np.nan, np.float32)
        back = back or (lambda x: x)
        if self._all_valid:
            return back(_weighted_sum(w, rows) / w.sum())
        den = _weighted_sum(w, self.valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, back(_weighted_sum(w, rows) / den), np.nan).astype(np.float32, copy=False)

    def sector_top(self, weights: np.ndarray, k: int) -> np.ndarray:
        """(n,) count of sectors in whose own score the unit is in the top class. A slider moves
        one weight, so one sector's top class is recomputed and the others come from a cache
        keyed by the sector and its weight shares."""
        n = self.norm.shape[1]
        overlap = np.zeros(n, np.int8)
        sectors = np.array(self.sectors)
        for sector in dict.fromkeys(self.sectors):
            idx = np.flatnonzero(sectors == sector)
            w = np.asarray(weights, float)[idx]
            if w.sum() <= 0:
                continue
            key = (sector, tuple(np.round(w / w.sum(), 9)), k)
            top = self._sector_cache.get(key)
            if top is None:
                only = np.zeros(self.m, np.float32)
                only[idx] = w  # the other sectors' indicators weigh nothing here
                top = top_class(self.weighted_mean(only), k)
                if len(self._sector_cache) > 64:
                    self._sector_cache.clear()
                self._sector_cache[key] = top
            overlap += top
        return overlap


@dataclass
class Composite:
    """Scores of all units for one set of weights. Ranks and the geometric mean are computed when
    first asked for, since the slider path shows neither.

    ``no_weights`` is True when there is no indicator or every weight is zero: then every score
    is NaN and every class 0, and the map must say so rather than draw nothing (the CLI refuses
    such a project before scoring: project.check_scorable)."""

    normalised: Normalised
    weights: np.ndarray
    score: np.ndarray
    cls: np.ndarray
    overlap: np.ndarray
    k: int
    _rank: np.ndarray | None = None
    _geo: np.ndarray | None = None
    method: str = "mean"
    alpha: float = 1.0

    @property
    def no_weights(self) -> bool:
        w = np.asarray(self.weights, float)
        return self.normalised.m == 0 or not bool(w.sum() > 0)

    @property
    def rank(self) -> np.ndarray:
        if self._rank is None:
            self._rank = ranks(self.score)
        return self._rank

    def rank_of(self, i: int) -> int:
        """Unit i's rank (0 if unscored) without ranking every unit: one count of higher scores."""
        s = self.score[i]
        return 0 if np.isnan(s) else 1 + int(np.count_nonzero(self.score > s))

    @property
    def geo(self) -> np.ndarray:
        if self._geo is None:
            self._geo = self.normalised.geometric_mean(self.weights)
        return self._geo

    @property
    def shares(self) -> np.ndarray:
        w = np.asarray(self.weights, float)
        return w / w.sum() if w.sum() > 0 else w

    def contributions(self, i: int) -> np.ndarray:
        """Each indicator's part of unit i's score: wᵢ·nᵢ / Σ wⱼ over the indicators it has."""
        w = np.asarray(self.weights, float)
        col = self.normalised.norm[:, i].astype(float)
        ok = ~np.isnan(col)
        den = w[ok].sum()
        out = np.zeros(len(w))
        if den > 0:
            out[ok] = w[ok] * col[ok] / den
        return out


COMBINE_METHODS = ("mean", "geometric", "owa")


def combined_score(normalised: Normalised, weights, method: str = "mean", alpha: float = 1.0) -> np.ndarray:
    """The score of every unit by ``method``: the weighted mean, the weighted geometric mean, or
    GIS-OWA with the quantifier Q(p) = p^alpha (layers/owa.py)."""
    if method == "mean":
        return normalised.weighted_mean(weights)
    if method == "geometric":
        return normalised.geometric_mean(weights)
    if method == "owa":
        return normalised.owa_order().scores(weights, alpha).astype(np.float32)
    raise ValueError(f"unknown combination method '{method}'")


def combine(normalised: Normalised, weights, k: int = 5, method: str = "mean", alpha: float = 1.0) -> Composite:
    """Scores, exact quantile priority classes and sector overlap for one set of weights. Never
    raises for zero weights: the result says ``no_weights`` (scores NaN, classes 0). ``method``
    chooses the score (:func:`combined_score`); sectors' overlap always uses the mean."""
    w = np.asarray(weights, np.float32)
    score = combined_score(normalised, w, method, alpha)
    cls = quantile_classes(score, k)
    overlap = normalised.sector_top(w, k)
    return Composite(normalised, w, score, cls, overlap, k, method=method, alpha=alpha)


@dataclass
class Sensitivity:
    step: float
    changed_share: dict  # "layer_id +10%" -> share of units whose class changes
    stability: np.ndarray  # (n,) how many of the perturbations change the unit's class
    perturbations: int
    # (n,) True where the unit has a class at the set weights. Excluded units (a constraint layer)
    # and units without any value have none, so they can never "change class": counting them in
    # the denominator would make the map look steadier than it is.
    scored: np.ndarray | None = None

    @property
    def any_change_share(self) -> float:
        counted = self.stability if self.scored is None else self.stability[self.scored]
        return float((counted > 0).mean()) if len(counted) else 0.0


def sensitivity(normalised: Normalised, weights, k: int = 5, step: float = 0.10) -> Sensitivity:
    """Move each weight by ±step (relative) and count which units change priority class."""
    w = np.asarray(weights, np.float64)
    base = quantile_classes(normalised.weighted_mean(w), k)
    scored = base > 0
    stability = np.zeros(len(base), np.int16)
    shares = {}
    for i, lid in enumerate(normalised.layer_ids):
        if w[i] == 0:
            continue
        for sign in (+1, -1):
            wp = w.copy()
            wp[i] = w[i] * (1 + sign * step)
            cls = quantile_classes(normalised.weighted_mean(wp), k)
            changed = (cls != base) & scored
            stability += changed
            shares[f"{lid} {'+' if sign > 0 else '−'}{step:.0%}"] = float(changed.sum() / max(scored.sum(), 1))
    return Sensitivity(step, shares, stability, len(shares), scored)
