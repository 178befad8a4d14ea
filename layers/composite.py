"""Normalise raw indicators to 0–1, weight them, and combine them into priority scores and classes.

The split matters for speed: normalisation runs when data or a normalisation choice changes;
a weight change only re-runs :func:`combine`: one matrix–vector product over cached arrays and
one sort for the ranks and classes.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

EPS_GEO = 0.01  # floor for the geometric mean, so one zero does not erase everything else
_SAMPLE = 20_000  # values used to fit class breaks; 400,000 gives the same breaks, 20× slower


# ------------------------------------------------------------------------------------------------
# Normalisation


def class_breaks(values: np.ndarray, scheme: str, k: int) -> np.ndarray:
    """Upper bounds of k classes. Natural breaks (Jenks) come from mapclassify, fitted on a seeded
    sample for large inputs; quantiles and equal intervals are one numpy call each, which spares
    the app mapclassify's 1.4 s import at start-up (its results are the same: see the tests)."""
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return np.array([])
    k = max(1, min(k, len(np.unique(v))))
    if scheme == "quantiles":
        return np.unique(np.quantile(v, np.arange(1, k + 1) / k))
    if scheme == "equal_interval":
        return v.min() + (v.max() - v.min()) * np.arange(1, k + 1) / k
    import warnings

    import mapclassify

    if len(v) > _SAMPLE:
        sample = np.random.default_rng(0).choice(v, _SAMPLE, replace=False)
        v = np.concatenate([sample, [v.min(), v.max()]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(mapclassify.NaturalBreaks(v, k=k).bins, float)


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


def normalise(raw: np.ndarray, method: str = "minmax", direction: str = "high",
              scheme: str = "quantiles", k: int = 5) -> np.ndarray:
    """0–1 values where 1 is the highest priority; NaN stays NaN (missing).

    minmax: (x − min)/(max − min), or (max − x)/(max − min) for direction "low".
    rank: percentile rank (average for ties), 0 for the lowest, 1 for the highest.
    zscore: Φ((x − mean)/sd), the standard normal CDF, so outliers cannot squash the rest.
    classes: class 1..k by mapclassify breaks, mapped to (class − 1)/(k − 1).
    A constant indicator cannot tell units apart and becomes 0.5 everywhere.
    """
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
        bins = class_breaks(x, scheme, k)
        c = np.minimum(np.searchsorted(bins, v, side="left"), len(bins) - 1)
        n = c / max(len(bins) - 1, 1)
    else:
        raise ValueError(f"unknown normalisation '{method}'")
    out[ok] = n if direction == "high" else 1.0 - n
    return out.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Classes and ranks


def quantile_classes(score: np.ndarray, k: int = 5) -> np.ndarray:
    """Priority class 1 (top 1/k of the scored units) … k; 0 where the score is missing."""
    return classes_from_ranks(ranks(np.asarray(score, np.float32)), k)


def equal_interval_classes(score: np.ndarray, k: int = 5) -> np.ndarray:
    cls = np.zeros(score.shape, np.int8)
    ok = ~np.isnan(score)
    if not ok.any():
        return cls
    s = score[ok]
    lo, hi = float(s.min()), float(s.max())
    rel = (hi - s) / (hi - lo) if hi > lo else np.zeros_like(s)
    cls[ok] = np.minimum(k, 1 + (rel * k).astype(np.int64))
    return cls


def ranks(score: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; equal scores share the best rank; missing scores get 0."""
    s = np.asarray(score)
    if s.dtype == np.float32 and s.ndim == 1 and len(s) < 2**32:
        lo, hi = np.fmin.reduce(s, initial=np.inf), np.fmax.reduce(s, initial=0)  # NaN skipped
        if lo >= 0 and hi < np.inf:
            return _ranks_packed(s)
    return _ranks_argsort(s)


class _Scratch(threading.local):
    """Per-thread buffers for ranking: fresh 3 MB arrays cost more in page faults than the
    arithmetic on them, and the slider asks for ranks on every step."""

    n = -1

    def get(self, n: int):
        if n != self.n:
            self.n = n
            self.index = np.arange(n, dtype=np.uint64)
            self.positions = np.arange(1, n + 1, dtype=np.int32)
            self.key = np.empty(n, np.uint64)
            self.pos = np.empty(n, np.int32)
            self.order = np.empty(n, np.intp)
            self.missing = np.empty(n, bool)
        return self


_SCRATCH = _Scratch()


def _ranks_packed(s: np.ndarray) -> np.ndarray:
    """Ranks from one plain sort instead of an argsort, which numpy does 3–4× slower.

    The bit pattern of a non-negative float32 orders like its value, so each unit becomes one
    64-bit key: the inverted score bits on top (descending order), the unit index below. Those
    keys are sorted as float64, for which numpy has a vectorised sort; every key stays a finite
    positive float because its top bit is 0 and its exponent field is below 0x7FF.
    """
    n = len(s)
    r = np.zeros(n, np.int32)
    buf = _SCRATCH.get(n)
    missing = np.isnan(s, out=buf.missing)
    m = n - int(np.count_nonzero(missing))
    if m == 0:
        return r
    key = buf.key
    bits = (s + np.float32(0)).view(np.uint32)  # -0.0 becomes 0.0
    np.subtract(np.uint32(0x7F7FFFFF), bits, out=key, casting="unsafe")
    key <<= np.uint64(32)
    key |= buf.index
    if m < n:
        key[missing] = np.uint64(0x7FEFFFFFFFFFFFFF)  # largest finite float64: missing sort last
    _sort_in_place(key.view(np.float64))
    halves = key.view(np.uint32)[: 2 * m]
    order, value = halves[0::2], halves[1::2]  # little-endian: index in the low half
    if not np.little_endian:  # pragma: no cover - every platform we ship on is little-endian
        order, value = value, order
    pos = buf.pos[:m]
    pos[:] = buf.positions[:m]
    _share_first_position(pos, value)
    index = buf.order[:m]
    index[:] = order  # numpy scatters through a native index twice as fast
    r[index] = pos
    return r


_SORT_HELPER: ThreadPoolExecutor | None = None


def _sort_in_place(a: np.ndarray) -> None:
    """Sort, on two cores when the array is large: split at the median, then sort both halves
    at once (numpy releases the GIL while sorting). Saves about a quarter at 400,000 units."""
    global _SORT_HELPER
    if len(a) < 200_000 or (os.cpu_count() or 1) < 2:
        a.sort()
        return
    if _SORT_HELPER is None:
        _SORT_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skikt-sort")
    half = len(a) // 2
    a.partition(half)
    low = _SORT_HELPER.submit(a[:half].sort)
    a[half:].sort()
    low.result()


def _share_first_position(pos: np.ndarray, sorted_values: np.ndarray) -> None:
    """Give each run of equal sorted values the position of its first member, in place.

    Only the repeats are touched: float32 scores of 400,000 units repeat a few thousand times,
    and a pass over those is much cheaper than an accumulate over all units."""
    j = np.flatnonzero(sorted_values[1:] == sorted_values[:-1]) + 1  # repeats of the one before
    if len(j) == 0:
        return
    run_start = np.ones(len(j), bool)
    run_start[1:] = j[1:] != j[:-1] + 1
    first = np.where(run_start, j - 1, 0)  # the member before a run's first repeat leads it
    pos[j] = pos[np.maximum.accumulate(first)]


def _ranks_argsort(score: np.ndarray) -> np.ndarray:
    r = np.zeros(score.shape, np.int32)
    valid = ~np.isnan(score)
    all_valid = bool(valid.all())
    s = score if all_valid else score[valid]
    if len(s) == 0:
        return r
    order = np.argsort(-s)  # tie order is irrelevant: ties get the same rank below
    ss = s[order]
    pos = np.arange(1, len(ss) + 1, dtype=np.int32)
    _share_first_position(pos, ss)
    if all_valid:
        r[order] = pos
    else:
        r[np.flatnonzero(valid)[order]] = pos
    return r


def classes_from_ranks(rank: np.ndarray, k: int) -> np.ndarray:
    """Quantile priority classes, exactly: class 1 holds the top 1/k of the scored units, and
    equal scores share a class (the one their shared rank falls in)."""
    n = int(np.count_nonzero(rank))
    cls = np.zeros(rank.shape, np.int8)
    # Class 1 + c·… : rank − 1 ≥ c·n/k, i.e. rank ≥ ⌈c·n/k⌉ + 1, for c = 0 … k−1. Counting the
    # thresholds a unit passes avoids integer division over all units; rank 0 (missing) passes none.
    for c in range(k):
        np.add(cls, rank >= -((-c * n) // k) + 1, out=cls, casting="unsafe")
    return cls


# ------------------------------------------------------------------------------------------------
# The combination


@dataclass
class Normalised:
    """Indicators normalised over the units, laid out for fast re-weighting."""

    layer_ids: list[str]
    sectors: list[str]
    norm: np.ndarray  # (m, n) float32, NaN missing
    valid: np.ndarray = field(init=False)  # (m, n) float32 1/0
    filled: np.ndarray = field(init=False)  # norm with NaN → 0
    logs: np.ndarray = field(init=False)  # log(max(norm, EPS)), NaN → 0
    missing: np.ndarray = field(init=False)  # (m,) count of units without a value

    def __post_init__(self):
        ok = ~np.isnan(self.norm)
        self.valid = ok.astype(np.float32)
        self.filled = np.where(ok, self.norm, 0).astype(np.float32)
        self.logs = np.where(ok, np.log(np.maximum(self.filled, EPS_GEO)), 0).astype(np.float32)
        self.missing = (~ok).sum(axis=1)
        self._all_valid = bool(ok.all())
        self._sector_cache: dict = {}

    @property
    def m(self) -> int:
        return self.norm.shape[0]

    def scores(self, weights: np.ndarray, geometric: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted arithmetic and geometric means; a unit missing an indicator is scored on the
        others, with the remaining weights rescaled to sum to one. An indicator with weight 0
        takes no part, which is how one sector's score is taken from the same arrays."""
        score = self.weighted_mean(weights)
        return score, (self.geometric_mean(weights) if geometric else None)

    def weighted_mean(self, weights) -> np.ndarray:
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
            return back((w @ rows) / w.sum())
        den = w @ self.valid
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, back((w @ rows) / den), np.nan).astype(np.float32)

    def sector_top(self, weights: np.ndarray, k: int) -> np.ndarray:
        """(n,) count of sectors in whose own score the unit is in the top class."""
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
                s, _ = self.scores(only, geometric=False)
                top = quantile_classes(s, k) == 1
                if len(self._sector_cache) > 64:
                    self._sector_cache.clear()
                self._sector_cache[key] = top
            overlap += top
        return overlap


@dataclass
class Composite:
    """Scores of all units for one set of weights. The geometric mean is computed when first
    asked for, since the slider path never shows it."""

    normalised: Normalised
    weights: np.ndarray
    score: np.ndarray
    cls: np.ndarray
    overlap: np.ndarray
    k: int
    _rank: np.ndarray | None = None
    _geo: np.ndarray | None = None

    @property
    def rank(self) -> np.ndarray:
        if self._rank is None:
            self._rank = ranks(self.score)
        return self._rank

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


def combine(normalised: Normalised, weights, k: int = 5, scheme: str = "quantiles",
            with_overlap: bool = True) -> Composite:
    w = np.asarray(weights, np.float32)
    score = normalised.weighted_mean(w)
    rank = None
    if scheme == "quantiles":
        # One sort gives exact ranks, and exact quantile classes follow from them.
        rank = ranks(score)
        cls = classes_from_ranks(rank, k)
    else:
        cls = equal_interval_classes(score, k)
    overlap = normalised.sector_top(w, k) if with_overlap else np.zeros(len(score), np.int8)
    return Composite(normalised, w, score, cls, overlap, k, _rank=rank)


@dataclass
class Sensitivity:
    step: float
    changed_share: dict  # "layer_id +10%" -> share of units whose class changes
    stability: np.ndarray  # (n,) how many of the perturbations change the unit's class
    perturbations: int

    @property
    def any_change_share(self) -> float:
        return float((self.stability > 0).mean()) if len(self.stability) else 0.0


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
    return Sensitivity(step, shares, stability, len(shares))
