"""Sensitivity's "units that change class" counts only units that have a class (issue 12 follow-up:
the sample's constraint layer leaves 254 cells without score, rank or class).

Oracle: ranks by scipy and the class formula 1 + ⌊(rank − 1)·k / n⌋ over the scored units, every
weight moved ±10 % in turn, and a hand count of the units that change class in any of them.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from skikt.layers.composite import Normalised, sensitivity


def _classes(score: np.ndarray, k: int) -> np.ndarray:
    ok = ~np.isnan(score)
    cls = np.zeros(len(score), int)
    rank = rankdata(-score[ok], method="min")
    cls[ok] = 1 + (rank - 1) * k // ok.sum()
    return cls


def _changed_by_hand(norm: np.ndarray, weights: np.ndarray, k: int, step: float) -> np.ndarray:
    def mean(w):
        return (w[:, None] * norm).sum(0) / w.sum()  # NaN columns stay NaN
    base = _classes(mean(weights), k)
    changed = np.zeros(norm.shape[1], bool)
    for i in range(len(weights)):
        for sign in (1, -1):
            moved = weights.copy()
            moved[i] *= 1 + sign * step
            changed |= (_classes(mean(moved), k) != base) & (base > 0)
    return changed


def test_any_change_share_counts_only_scored_units():
    # Ten units, units 3 and 4 (0.5025 and 0.5) straddle the class 2|3 border, so a −10 % weight on a swaps just them;
    # units 8 and 9 lie in an excluded area (NaN everywhere, as the workspace builds them).
    a = [1.0, 0.9, 0.8, 0.6, 0.5, 0.4, 0.2, 0.1, np.nan, np.nan]
    b = [0.9, 0.7, 0.6, 0.405, 0.5, 0.58, 0.3, 0.0, np.nan, np.nan]
    norm = np.array([a, b], np.float32)
    excluded = np.array([False] * 8 + [True] * 2)
    weights = np.array([1.0, 1.0])
    sens = sensitivity(Normalised(["a", "b"], ["x", "y"], norm, excluded=excluded), weights, k=4, step=0.1)
    changed = _changed_by_hand(norm.astype(float), weights, 4, 0.1)
    assert not changed[excluded].any() and changed.nonzero()[0].tolist() == [3, 4]
    assert sens.any_change_share == 2 / 8  # of the eight scored units, not 2 / 10 of all units
    np.testing.assert_array_equal(sens.stability > 0, changed)


def test_any_change_share_on_random_data_with_a_block_excluded():
    rng = np.random.default_rng(12)
    norm = rng.random((3, 400)).astype(np.float32)
    excluded = np.zeros(400, bool)
    excluded[rng.choice(400, 90, replace=False)] = True
    norm[:, excluded] = np.nan
    weights = np.array([1.0, 2.0, 0.5])
    sens = sensitivity(Normalised(["a", "b", "c"], ["x", "y", "z"], norm, excluded=excluded), weights, k=5, step=0.1)
    changed = _changed_by_hand(norm.astype(float), weights, 5, 0.1)
    assert sens.any_change_share == changed.sum() / 310
