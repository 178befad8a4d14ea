"""Monte Carlo weight uncertainty: the Dirichlet rule, p_top and rank percentiles by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from skikt.layers.composite import Normalised, combine, quantile_classes
from skikt.layers.errors import SkiktError
from skikt.layers.owa import owa_scores
from skikt.layers.uncertainty import DEFAULT_SEED, concentration, draw_weights, monte_carlo

K = 5


def normalised(seed=1, m=4, n=600, missing=0.1):
    """Continuous values (no accidental ties), some NaN, every 7th unit a copy of the one before
    it (exact ties), and units 0–2 with no value at all."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 1, (m, n))
    z[rng.uniform(size=z.shape) < missing] = np.nan
    z[:, 7::7] = z[:, 6:-1:7][:, : z[:, 7::7].shape[1]]
    z[:, :3] = np.nan
    return Normalised([f"c{i}" for i in range(m)], ["s"] * m, z.astype(np.float32))


def by_hand(nn, draws, score_of):
    """p_top and rank percentiles from scores per draw, ranked by scipy (method "min")."""
    scores = np.array([score_of(w) for w in draws])
    ok = ~np.isnan(scores[0])
    ranks = np.array([rankdata(-s[ok], method="min") for s in scores])
    top = -(-ok.sum() // K)
    return (ranks <= top).mean(axis=0), np.percentile(ranks, (5, 50, 95), axis=0), ok


def mean_scores(nn):
    def score(w):
        z = nn.norm.astype(np.float64)
        valid = ~np.isnan(z)
        with np.errstate(invalid="ignore"):
            return np.where(valid, z, 0).T @ w / (valid.T @ w)
    return score


def test_concentration_rule_by_hand():
    # m = 8, spread 0.2: c = (8 − 1)/0.2² − 1 = 174.
    assert concentration(0.2, 8) == pytest.approx(174)
    assert concentration(0.5, 3) == pytest.approx(7)
    # With c = 174 and w = 1/8 the Dirichlet's sd/mean is sqrt((1 − w)/(w (c + 1))) = 0.2 exactly;
    # the draws show it (statistically, 40,000 draws).
    draws, c = draw_weights(np.ones(8), 40_000, 0.2)
    assert c == pytest.approx(174)
    rel = draws.std(axis=0) / draws.mean(axis=0)
    assert np.allclose(rel, 0.2, atol=0.005)
    assert np.allclose(draws.sum(axis=1), 1, atol=1e-12)
    # Unequal weights: each weight's relative spread follows the formula for its own w_i.
    w = np.array([4.0, 2.0, 1.0, 1.0, 0.0])
    draws, c = draw_weights(w, 40_000, 0.3)
    u = w[:4] / w.sum()
    assert c == pytest.approx(3 / 0.09 - 1)
    assert np.allclose(draws[:, :4].std(axis=0) / draws[:, :4].mean(axis=0),
                       np.sqrt((1 - u) / (u * (c + 1))), rtol=0.03)
    assert (draws[:, 4] == 0).all()  # a weight of 0 is not in play


def test_spread_zero_is_exactly_the_set_weights():
    nn = normalised()
    w = np.array([3.0, 1.0, 2.0, 0.5])
    base = combine(nn, w, K)
    u = monte_carlo(nn, w, draws=50, spread=0.0, k=K)
    scored = base.cls > 0
    assert np.isnan(u.p_top[~scored]).all()
    assert np.array_equal(u.p_top[scored], (base.cls[scored] == 1).astype(float))
    for pct in (u.rank_p05, u.rank_p50, u.rank_p95):
        assert np.array_equal(pct[scored], base.rank[scored])


def test_draws_scored_ranked_and_summarised_as_by_hand():
    nn = normalised(seed=2)
    w = np.array([3.0, 1.0, 2.0, 0.5])
    u = monte_carlo(nn, w, draws=40, spread=0.3, k=K)
    draws, _ = draw_weights(w, 40, 0.3, DEFAULT_SEED)
    p_top, pct, ok = by_hand(nn, draws, mean_scores(nn))
    assert np.array_equal(np.isnan(u.p_top), ~ok)
    assert np.array_equal(u.p_top[ok], p_top)
    assert np.allclose(u.rank_p05[ok], pct[0]) and np.allclose(u.rank_p50[ok], pct[1])
    assert np.allclose(u.rank_p95[ok], pct[2])
    assert 0 < ((p_top > 0) & (p_top < 1)).sum() < ok.sum()  # some units really depend on the weights


def test_owa_draws_as_by_hand():
    nn = normalised(seed=3, missing=0.0)
    w = np.array([1.0, 2.0, 1.0, 3.0])
    u = monte_carlo(nn, w, draws=20, spread=0.25, k=K, method="owa", alpha=4.0)
    draws, _ = draw_weights(w, 20, 0.25)
    p_top, pct, ok = by_hand(nn, draws, lambda d: owa_scores(nn.norm, d, 4.0))
    assert np.array_equal(u.p_top[ok], p_top) and np.allclose(u.rank_p50[ok], pct[1])


def test_same_seed_same_bytes_other_seed_other_draws():
    nn = normalised(seed=4)
    w = [1.0, 1.0, 2.0, 1.0]
    a = monte_carlo(nn, w, 30, 0.2, K)
    b = monte_carlo(nn, w, 30, 0.2, K)
    for name, column in a.columns().items():
        assert column.tobytes() == b.columns()[name].tobytes(), name
    assert not np.array_equal(draw_weights(w, 30, 0.2, seed=1)[0], draw_weights(w, 30, 0.2)[0])


def test_excluded_units_stay_out():
    nn0 = normalised(seed=5)
    excluded = np.zeros(nn0.norm.shape[1], bool)
    excluded[100:200] = True
    z = nn0.norm.copy()
    z[:, excluded] = np.nan
    nn = Normalised(nn0.layer_ids, nn0.sectors, z, excluded)
    u = monte_carlo(nn, [1, 2, 3, 4], 10, 0.2, K)
    assert np.isnan(u.p_top[excluded]).all()
    kept = ~np.isnan(u.p_top)
    assert np.nanmax(u.rank_p95) <= kept.sum()
    assert quantile_classes(combine(nn, [1, 2, 3, 4], K).score, K)[excluded].max() == 0


@pytest.mark.parametrize("draws, spread, words", [
    (0, 0.2, "whole number of draws"),
    (2.5, 0.2, "whole number of draws"),
    (10, -0.1, "--spread"),
    (10, float("nan"), "--spread"),
    (10, 3.0, "too large"),
])
def test_bad_arguments_are_one_line(draws, spread, words):
    with pytest.raises(SkiktError, match=words):
        monte_carlo(normalised(), [1, 1, 1, 1], draws, spread, K)


def test_iter_monte_carlo_reports_each_batch_and_returns_the_same_bytes():
    from skikt.layers.uncertainty import BATCH, iter_monte_carlo

    nn = normalised()
    steps = iter_monte_carlo(nn, [1, 2, 3, 4], 150, 0.3, K)
    fractions = []
    while True:
        try:
            fractions.append(next(steps))
        except StopIteration as done:
            got = done.value
            break
    assert fractions == [min(1.0, (b + 1) * BATCH / 150) for b in range(-(-150 // BATCH))]
    want = monte_carlo(nn, [1, 2, 3, 4], 150, 0.3, K)
    for key, values in want.columns().items():
        np.testing.assert_array_equal(got.columns()[key], values)


def test_p_top_map_classes_say_the_probabilities():
    """Hand-worked classes: 0 → never; (0, 0.1) → rarely; [0.1, 0.5) → depends; [0.5, 0.9) →
    probably; [0.9, 1] → certainly; NaN (not scored) → not drawn."""
    from skikt.layers.uncertainty import Uncertainty, p_top_map

    p = np.array([0.0, 0.001, 0.0999, 0.1, 0.4999, 0.5, 0.8999, 0.9, 1.0, np.nan])
    u = Uncertainty(1000, 0.2, 10.0, DEFAULT_SEED, p, p, p, p)
    um = p_top_map(u, "sv")
    assert um.kind == "p_top" and um.class_of().tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, -1]
    assert um.labels == ("aldrig hög (0 %)", "sällan hög (under 10 %)", "beror på vikterna (10–50 %)",
                         "troligen hög (50–90 %)", "säkert hög prioritet (≥ 90 %)")
    assert "1\u2009000 dragningar" in um.note and "20 %" in um.note
    assert p_top_map(u, "en").labels[-1] == "certainly high priority (≥ 90 %)"
