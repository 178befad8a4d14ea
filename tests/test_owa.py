"""GIS-OWA (Malczewski 2006, Q(p) = p^α) against hand-worked numbers and its limits."""

from __future__ import annotations

import numpy as np
import pytest

from skikt.layers.composite import Normalised, combine
from skikt.layers.owa import order_weights, owa_scores


def nasty(seed=3, m=6, n=2000):
    """Criteria × units with ties (values on a 0.1 grid), NaN and a few units missing everything."""
    rng = np.random.default_rng(seed)
    z = np.round(rng.uniform(0, 1, (m, n)), 1)
    z[rng.uniform(size=z.shape) < 0.15] = np.nan
    z[:, :5] = np.nan  # units with no value at all
    z[:, 5:10] = 0.4  # units whose criteria all tie
    w = rng.uniform(0.2, 3, m)
    return z, w


def mean_by_hand(z, w):
    """Σ wᵢ zᵢ / Σ wᵢ over the criteria each unit has, in float64 (the oracle)."""
    out = np.full(z.shape[1], np.nan)
    for j in range(z.shape[1]):
        ok = ~np.isnan(z[:, j]) & (w > 0)
        if ok.any():
            out[j] = (w[ok] * z[ok, j]).sum() / w[ok].sum()
    return out


def test_hand_worked_unit():
    # z = (0.9, 0.2, 0.6), w = (0.5, 0.3, 0.2), α = 2. Descending: 0.9 (u 0.5), 0.6 (0.2),
    # 0.2 (0.3); cumulative 0.5, 0.7, 1; Q = 0.25, 0.49, 1; v = 0.25, 0.24, 0.51;
    # score = 0.25·0.9 + 0.24·0.6 + 0.51·0.2 = 0.471 (the weighted mean is 0.63).
    z = np.array([[0.9], [0.2], [0.6]])
    w = [0.5, 0.3, 0.2]
    assert np.allclose(order_weights(z[:, 0], w, 2.0), [0.25, 0.24, 0.51], atol=1e-15)
    assert owa_scores(z, w, 2.0)[0] == pytest.approx(0.471, abs=1e-15)
    assert owa_scores(z, w, 1.0)[0] == pytest.approx(0.63, abs=1e-15)


def test_alpha_one_is_the_weighted_mean():
    z, w = nasty()
    got, want = owa_scores(z, w, 1.0), mean_by_hand(z, w)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) < 1e-12


def test_large_alpha_is_the_minimum_over_weighted_criteria():
    z, w = nasty(seed=4)
    w[2] = 0.0  # a criterion without weight never counts, however low its value
    got = owa_scores(z, w, 1e6)
    live = np.where(w[:, None] > 0, z, np.nan)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmin(live, axis=0)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) < 1e-9


def test_small_alpha_is_the_maximum_over_weighted_criteria():
    z, w = nasty(seed=5)
    w[1] = 0.0
    got = owa_scores(z, w, 1e-7)
    live = np.where(w[:, None] > 0, z, np.nan)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmax(live, axis=0)
    assert np.nanmax(np.abs(got - want)) < 1e-5


def test_ties_give_the_tied_value_and_alpha_orders_the_scores():
    z, w = nasty(seed=6)
    for alpha in (0.1, 1, 10):
        assert np.allclose(owa_scores(z, w, alpha)[5:10], 0.4, atol=1e-12)
    # Q(p) = p^α falls with α for p in (0, 1), so the weight moves to lower values: never higher.
    s = [owa_scores(z, w, a) for a in (0.05, 0.5, 1, 2, 20)]
    for hi, lo in zip(s, s[1:]):
        ok = ~np.isnan(hi)
        assert (lo[ok] <= hi[ok] + 1e-12).all()


def test_combine_uses_owa_for_scores_and_classes():
    z, w = nasty(seed=7, n=500)
    nn = Normalised([f"c{i}" for i in range(len(w))], ["s"] * len(w), z.astype(np.float32))
    c = combine(nn, w, 5, method="owa", alpha=3.0)
    want = owa_scores(z.astype(np.float32).astype(np.float64), w.astype(np.float32), 3.0)
    assert np.allclose(c.score, want, atol=1e-6, equal_nan=True)
    assert (c.cls[np.isnan(want)] == 0).all() and set(np.unique(c.cls[~np.isnan(want)])) == {1, 2, 3, 4, 5}
