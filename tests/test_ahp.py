"""AHP weights and consistency against Saaty's published examples and hand-worked cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg

from skikt.layers.ahp import RANDOM_INDEX, ahp, check_matrix, matrix_from_weights, most_inconsistent_pair
from skikt.layers.errors import SkiktError

SAATY_3 = [[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]

# Saaty (1990) "How to make a decision: the analytic hierarchy process", Eur. J. Oper. Res. 48,
# 9–26, the house example: 8 criteria (size, transport, neighbourhood, age, yard, modern
# facilities, condition, finance). Upper triangle as published; reciprocals below.
HOUSE_UPPER = [[5, 3, 7, 6, 6, 1 / 3, 1 / 4], [1 / 3, 5, 3, 3, 1 / 5, 1 / 7], [6, 3, 4, 6, 1 / 5],
               [1 / 3, 1 / 4, 1 / 7, 1 / 8], [1 / 2, 1 / 5, 1 / 6], [1 / 5, 1 / 6], [1 / 2]]
HOUSE_WEIGHTS = [0.173, 0.054, 0.188, 0.018, 0.031, 0.036, 0.167, 0.333]  # as published, 3 decimals
HOUSE_LAMBDA, HOUSE_CI, HOUSE_CR = 9.669, 0.238, 0.169


def reciprocal(upper) -> np.ndarray:
    n = len(upper) + 1
    a = np.ones((n, n))
    for i, row in enumerate(upper):
        for d, value in enumerate(row):
            a[i, i + 1 + d] = value
            a[i + 1 + d, i] = 1 / value
    return a


def test_saaty_3x3_weights_lambda_and_cr():
    r = ahp(SAATY_3, ["a", "b", "c"])
    # Published (Saaty): 0.637, 0.258, 0.105 and CR ≈ 0.03.
    assert np.allclose(r.weights, [0.637, 0.258, 0.105], atol=5e-4)
    # Hand-worked, exact: for n = 3 the principal eigenvector equals the normalised row geometric
    # means (Crawford & Williams 1985): 15^(1/3), 1, 15^(-1/3). λmax of a 3×3 reciprocal matrix
    # with a12 = a, a13 = b, a23 = c is 1 + (b/(ac))^(1/3) + (ac/b)^(1/3).
    g = np.array([15 ** (1 / 3), 1.0, 15 ** (-1 / 3)])
    assert np.allclose(r.weights, g / g.sum(), rtol=0, atol=1e-12)
    lam = 1 + (5 / 9) ** (1 / 3) + (9 / 5) ** (1 / 3)
    assert r.lambda_max == pytest.approx(lam, abs=1e-12)
    assert r.ci == pytest.approx((lam - 3) / 2, abs=1e-12)
    assert r.cr == pytest.approx((lam - 3) / 2 / 0.58, abs=1e-12)
    assert round(r.cr, 3) == 0.033 and r.consistent and r.warning() is None


def test_saaty_house_8x8_published():
    a = reciprocal(HOUSE_UPPER)
    names = ["size", "transport", "neighbourhood", "age", "yard", "modern", "condition", "finance"]
    r = ahp(a, names)
    assert np.allclose(r.weights, HOUSE_WEIGHTS, atol=5e-4)
    assert r.lambda_max == pytest.approx(HOUSE_LAMBDA, abs=5e-4)
    assert r.ci == pytest.approx(HOUSE_CI, abs=5e-4)
    assert r.cr == pytest.approx(HOUSE_CR, abs=5e-4)
    # Inconsistent (CR > 0.10): the warning names the pair with the largest |ln(a_ij w_j / w_i)|,
    # found here by brute force over all pairs.
    w = r.weights
    i, j = max(itertools.combinations(range(8), 2), key=lambda p: abs(math.log(a[p] * w[p[1]] / w[p[0]])))
    assert not r.consistent
    assert r.worst_pair == (names[i], names[j])
    assert f"'{names[i]}' vs '{names[j]}'" in r.warning() and "0.169" in r.warning()


def test_consistent_8x8_gives_its_weights_and_cr_zero():
    w = np.array([8, 1, 4, 2, 6, 3, 5, 7], float) / 36
    r = ahp(matrix_from_weights(w))
    assert np.allclose(r.weights, w, rtol=0, atol=1e-12)
    assert r.lambda_max == pytest.approx(8, abs=1e-10)
    assert r.cr == pytest.approx(0, abs=1e-10)


def test_perturbed_8x8_against_scipy_eigenvalues():
    w = np.array([8, 1, 4, 2, 6, 3, 5, 7], float) / 36
    a = matrix_from_weights(w)
    a[0, 3] = 2  # was 8/2 = 4
    a[3, 0] = 1 / 2
    a[2, 6] = 1 / 5
    a[6, 2] = 5
    r = ahp(a)
    lam = max(scipy.linalg.eigvals(a).real)  # independent: LAPACK via scipy, no numpy.linalg.eig
    assert r.lambda_max == pytest.approx(lam, abs=1e-10)
    assert r.cr == pytest.approx((lam - 8) / 7 / 1.41, abs=1e-10)
    # The eigenvector satisfies A w = λ w.
    assert np.allclose(a @ r.weights, lam * r.weights, atol=1e-12)
    # The pair changed the most (a[2, 6] from 4/5 to 1/5, a factor 4; a[0, 3] by 2) is named.
    assert most_inconsistent_pair(a, r.weights) == (2, 6)


def test_random_index_is_saatys_table():
    assert [RANDOM_INDEX[n] for n in range(1, 11)] == [0, 0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49]


def test_two_criteria_are_always_consistent():
    r = ahp([[1, 4], [0.25, 1]], ["x", "y"])
    assert np.allclose(r.weights, [0.8, 0.2], atol=1e-12) and r.cr == 0


def test_rounded_reciprocals_are_accepted():
    r = ahp([[1, 3, 5], [0.333, 1, 3], [0.2, 0.333, 1]])
    assert np.allclose(r.weights, [0.637, 0.258, 0.105], atol=2e-3)


@pytest.mark.parametrize("matrix, words", [
    ([[1, 3], [1 / 3, 1], [1, 1]], "square"),
    ([[1, 3, 5], [1 / 3, 1, 3]], "square"),
    ([[1, -3], [-1 / 3, 1]], "positive"),
    ([[1, float("nan")], [1, 1]], "positive"),
    ([[2, 3], [1 / 3, 1]], "diagonal"),
    ([[1, 10], [0.1, 1]], "1/9…9"),
    ([[1, 3], [3, 1]], "reciprocal"),
    ([[1, "x"], [1, 1]], "numbers"),
])
def test_bad_matrices_are_one_line(matrix, words):
    with pytest.raises(SkiktError) as err:
        check_matrix(matrix, path="p.toml")
    text = str(err.value)
    assert words in text and "\n" not in text and text.startswith("p.toml: [ahp] matrix")


def test_order_must_match_the_matrix():
    with pytest.raises(SkiktError, match="order names 2 layers"):
        ahp(SAATY_3, ["a", "b"])


def test_messages_are_swedish_in_the_app_and_english_on_the_command_line():
    """Item 4: the warning and the matrix errors carry translation keys; the CLI keeps English."""
    from skikt.layers.i18n import say

    r = ahp(reciprocal(HOUSE_UPPER), list("abcdefgh"))
    i, j = r.worst_pair
    assert str(r.warning()).startswith("AHP consistency ratio 0.169 is above 0.10")
    sv = say(r.warning(), "sv")
    assert sv.startswith("AHP:s konsistenskvot 0.169 är över 0.10") and f"'{i}' mot '{j}'" in sv
    with pytest.raises(SkiktError) as err:
        check_matrix([[1, 3], [3, 1]], ["vard", "kultur"], path="p.toml")
    assert "reciprocal" in str(err.value)
    assert err.value.text("sv") == "p.toml: [ahp] matrix: 'kultur' mot 'vard' måste vara 1/3 " \
                                   "(det omvända värdet av 'vard' mot 'kultur'), fick 3"
