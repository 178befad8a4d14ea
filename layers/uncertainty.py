"""Weight uncertainty by Monte Carlo: how much do a unit's class and rank depend on the weights?

N weight vectors are drawn from a Dirichlet distribution centred on the set weights. Each draw
is scored exactly as the project scores (mean, geometric or OWA), ranked and classed; per unit
we report the share of draws that put it in the top class (``p_top``) and the 5th, 50th and
95th percentiles of its rank.

Concentration. For Dirichlet(c·w) with Σw = 1, weight i has mean w_i and
sd_i / mean_i = sqrt((1 − w_i) / (w_i (c + 1))). We pick c so that this relative spread equals
``spread`` at the mean weight w̄ = 1/m (m = criteria with positive weight):
spread² = (m − 1)/(c + 1), so c = (m − 1)/spread² − 1. Larger weights then vary relatively less,
smaller ones more, as a Dirichlet does. Criteria with weight 0 stay 0 (they are not in play).

Reproducible: one numpy ``default_rng(seed)`` (seed 12 unless given), draws taken in one call,
so the same project, N, spread and seed give the same bytes.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from .composite import Normalised, combined_score
from .errors import SkiktError

DEFAULT_SEED = 12  # the issue that asked for this; any fixed number would do
BATCH = 64  # draws scored per matrix product: (BATCH, n) float32 temporaries stay small
PERCENTILES = (5, 50, 95)


@dataclass
class Uncertainty:
    draws: int
    spread: float
    concentration: float  # c of Dirichlet(c·w); inf when spread = 0
    seed: int
    p_top: np.ndarray  # (n,) share of draws in the top class; NaN for unscored units
    rank_p05: np.ndarray  # (n,) percentiles of the rank (1 = best) over the draws; NaN unscored
    rank_p50: np.ndarray
    rank_p95: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {"p_top": self.p_top, "rank_p05": self.rank_p05, "rank_p50": self.rank_p50,
                "rank_p95": self.rank_p95}


def concentration(spread: float, m: int) -> float:
    """Dirichlet concentration c giving relative spread ``spread`` at the mean weight 1/m."""
    if spread == 0 or m <= 1:
        return float("inf")
    c = (m - 1) / spread**2 - 1
    if not c > 0:
        raise SkiktError.of("unc_spread_too_large", spread=f"{spread:g}", m=m, limit=f"{np.sqrt(m - 1):.3g}")
    return float(c)


def draw_weights(weights, draws: int, spread: float, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, float]:
    """(draws, m) weight vectors, each summing to 1, and the concentration used."""
    if not (isinstance(draws, (int, np.integer)) and draws >= 1):
        raise SkiktError.of("unc_bad_draws", value=repr(draws))
    if not (np.isfinite(spread) and spread >= 0):
        raise SkiktError.of("unc_bad_spread", value=repr(spread))
    w = np.maximum(np.asarray(weights, np.float64), 0.0)
    if w.sum() <= 0:
        raise SkiktError.of("unc_zero_weights")
    w = w / w.sum()
    live = w > 0
    c = concentration(spread, int(live.sum()))
    out = np.zeros((draws, len(w)))
    if np.isinf(c):
        out[:] = w
    else:
        rng = np.random.default_rng(seed)
        out[:, live] = rng.dirichlet(c * w[live], size=draws)
    return out, c


def _weighted_rows(batch: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(batch), n) Σ_i batch[:, i]·rows[i], one criterion at a time: measured faster than
    ``batch @ rows`` for this thin product (few criteria, many units), as in composite. In
    float64, so that two units' order in a draw is decided by their values, not by float32
    rounding of nearly equal scores."""
    acc = np.zeros((len(batch), rows.shape[1]), np.float64)
    for i in np.flatnonzero(batch.any(axis=0)):
        acc += batch[:, i:i + 1] * rows[i]
    return acc


def _batch_scores(normalised: Normalised, batch: np.ndarray, method: str, alpha: float, owa) -> np.ndarray:
    """(len(batch), n) scores; -inf where a unit has no weighted indicator, so that such units
    rank after every scored one (their ranks are never reported)."""
    if method == "owa":
        s = np.stack([owa.scores(w, alpha) for w in batch])
        return np.where(np.isnan(s), -np.inf, s)
    b = batch
    num = _weighted_rows(b, normalised.filled if method == "mean" else normalised.logs)
    den = b.sum(axis=1, keepdims=True) if normalised._all_valid else _weighted_rows(b, normalised.valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = num / den
    if method == "geometric":
        np.exp(s, out=s)
    return np.where(den > 0, s, -np.inf)


def _ranks_into(scores: np.ndarray, out: np.ndarray) -> None:
    """Rank 1 = best in each row, ties sharing the best rank (scipy's method "min"), for a batch
    of rows at once: one argsort per row, then each position's rank is that of the first of its
    run of equal scores (a running maximum), written back through the sort order."""
    order = np.argsort(-scores, axis=1)  # ties get one rank whatever their order
    ordered = np.take_along_axis(scores, order, axis=1)
    new = np.ones(ordered.shape, bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    position = np.arange(1, scores.shape[1] + 1, dtype=np.int32)
    rank = np.maximum.accumulate(np.where(new, position, 0), axis=1)
    np.put_along_axis(out, order, rank.astype(out.dtype), axis=1)


def monte_carlo(normalised: Normalised, weights, draws: int = 1000, spread: float = 0.2, k: int = 5,
                method: str = "mean", alpha: float = 1.0, seed: int = DEFAULT_SEED) -> Uncertainty:
    """p_top and rank percentiles over ``draws`` Dirichlet weight vectors (see the module)."""
    steps = iter_monte_carlo(normalised, weights, draws, spread, k, method, alpha, seed)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def iter_monte_carlo(normalised: Normalised, weights, draws: int = 1000, spread: float = 0.2, k: int = 5,
                     method: str = "mean", alpha: float = 1.0, seed: int = DEFAULT_SEED
                     ) -> Generator[float, None, Uncertainty]:
    """:func:`monte_carlo` as a generator that yields the fraction of draws scored after each
    batch and returns the result: the app's worker thread reports progress and stops between
    batches when the user cancels. The same draws and bytes as ``monte_carlo``."""
    sampled, c = draw_weights(weights, draws, spread, seed)
    n = normalised.norm.shape[1]
    scored = ~np.isnan(combined_score(normalised, sampled[0], method, alpha))
    n_scored = int(scored.sum())
    # One rank per scored unit and draw, unit-major so that each unit's draws are contiguous for
    # the percentiles, in the smallest integer type that holds n: draws · n_scored · 2 bytes
    # below 65,536 units (50 MB for the sample project's 1,000 draws), 4 bytes above.
    dtype = np.uint16 if n < 2**16 else np.int32
    if np.isinf(c):  # spread 0: every draw is the set weights; score them as combine does
        base = combined_score(normalised, sampled[0], method, alpha).astype(np.float64)
        row = np.zeros((1, n), dtype)
        _ranks_into(np.where(np.isnan(base), -np.inf, base)[None, :], row)
        rank_by_unit = row[:, scored].T  # every draw the same: one column stands for all
    else:
        owa = normalised.owa_order() if method == "owa" else None
        rank_by_unit = np.empty((n_scored, draws), dtype)
        for start in range(0, draws, BATCH):
            batch = sampled[start:start + BATCH]
            rows = np.empty((len(batch), n), dtype)
            _ranks_into(_batch_scores(normalised, batch, method, alpha, owa), rows)
            rank_by_unit[:, start:start + len(batch)] = rows[:, scored].T
            yield (start + len(batch)) / draws
    # Top class = rank ≤ ⌈n/k⌉: the same rule as quantile_classes (class 1 + ⌊(rank − 1)k/n⌋).
    top_size = -(-n_scored // k)
    p_top = np.full(n, np.nan)
    p_top[scored] = (rank_by_unit <= top_size).mean(axis=1)
    pct = np.full((len(PERCENTILES), n), np.nan)
    if n_scored:
        pct[:, scored] = np.percentile(rank_by_unit, PERCENTILES, axis=1)
    return Uncertainty(draws, float(spread), c, seed, p_top, pct[0], pct[1], pct[2])


# The p_top map's classes, low to high: a value v is in class j when bounds[j] <= v < bounds[j+1]
# (the top edge closed). "Never" is exactly 0: the smallest share above it is 1/draws.
P_TOP_BOUNDS = (0.0, 1e-9, 0.1, 0.5, 0.9, 1.0)
P_TOP_LABELS = ("ptop_never", "ptop_rarely", "ptop_depends", "ptop_likely", "ptop_sure")
P_TOP_COLOURS = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#6a51a3", "#3f007d")  # ColorBrewer Purples: one hue, colour-blind safe


def p_top_map(u: Uncertainty, lang: str = "sv"):
    """The share of draws in the top class as a per-unit map (layers.unit_maps.UnitMap) in five
    classes whose labels say the probabilities: never (0), rarely (< 10 %), depends on the weights
    (10–50 %), probably (50–90 %), certainly high priority (≥ 90 %)."""
    from .i18n import tr
    from .unit_maps import UnitMap

    note = tr("ptop_note", lang).format(draws=f"{u.draws:,}".replace(",", "\u2009"), spread=f"{u.spread * 100:.3g} %",
                                         seed=u.seed)
    return UnitMap(np.asarray(u.p_top, float), P_TOP_BOUNDS, P_TOP_COLOURS,
                   tuple(tr(key, lang) for key in P_TOP_LABELS), tr("ptop_title", lang), note, "p_top")
