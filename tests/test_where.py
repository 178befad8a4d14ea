"""Filters: SQL three-valued logic for nulls, checked against a hand-written truth table, and
depth/length limits that give one line instead of a RecursionError."""

import numpy as np
import pandas as pd
import pytest

from skikt.layers.errors import SkiktError
from skikt.layers.where import MAX_DEPTH, filter_frame

# Row 0: 'a'/1, row 1: 'b'/3, rows 2-5: the nulls pandas meets in practice (None, NaN, NA, NaT
# for text; None, NaN, NA and a non-number for numbers).
TEXT = pd.Series(["a", "b", None, np.nan, pd.NA, "c"], dtype=object)
NUM = pd.Series([1, 3, None, np.nan, pd.NA, "x"], dtype=object)  # "x" is no number: null here
FRAME = pd.DataFrame({"t": TEXT, "n": NUM, "f": [1.0, 3.0, np.nan, np.nan, np.nan, 5.0],
                      "s": pd.array(["a", "b", None, None, None, "c"], dtype="string"),
                      "k": [0, 1, 2, 3, 4, 5]})

# Hand-worked: T = true, F = false, U = unknown (null compared). Kept rows are the T rows.
T, F, U = "T", "F", "U"
TRUTH = {
    # text column t: a, b, None, NaN, NA, c
    "t = 'a'": [T, F, U, U, U, F],
    "t != 'a'": [F, T, U, U, U, T],
    "t <> 'a'": [F, T, U, U, U, T],
    "t < 'b'": [T, F, U, U, U, F],
    "t <= 'b'": [T, T, U, U, U, F],
    "t > 'a'": [F, T, U, U, U, T],
    "t >= 'b'": [F, T, U, U, U, T],
    "t in ('a', 'c')": [T, F, U, U, U, T],
    "not t in ('a', 'c')": [F, T, U, U, U, F],
    "not t = 'a'": [F, T, U, U, U, T],
    "not not t = 'a'": [T, F, U, U, U, F],
    "t is null": [F, F, T, T, T, F],
    "t is not null": [T, T, F, F, F, T],
    # numeric column n: 1, 3, None, NaN, NA, "x"
    "n = 1": [T, F, U, U, U, U],
    "n != 1": [F, T, U, U, U, U],
    "n < 3": [T, F, U, U, U, U],
    "n <= 3": [T, T, U, U, U, U],
    "n > 1": [F, T, U, U, U, U],
    "n >= 1": [T, T, U, U, U, U],
    "n in (1, 2)": [T, F, U, U, U, U],
    "not n = 1": [F, T, U, U, U, U],
    # float column f: 1, 3, NaN, NaN, NaN, 5 and a pandas string column s: a, b, NA, NA, NA, c
    "f != 1": [F, T, U, U, U, T],
    "not f = 1": [F, T, U, U, U, T],
    "s != 'a'": [F, T, U, U, U, T],
    "not s = 'a'": [F, T, U, U, U, T],
    # Kleene and/or (k has no nulls): U and F = F, U and T = U, U or T = T, U or F = U
    "t = 'a' and f = 1": [T, F, U, U, U, F],
    "t = 'zz' and f = 1": [F, F, U, U, U, F],
    "t = 'a' and k = 9": [F, F, F, F, F, F],  # unknown and false = false
    "t = 'a' or k = 3": [T, F, U, T, U, F],  # unknown or true = true
    "t = 'zz' or f = 1": [T, F, U, U, U, F],
    "t = 'zz' or t is null": [F, F, T, T, T, F],
    "t = 'x' or not t = 'x'": [T, T, U, U, U, T],  # excluded middle fails on nulls, as in SQL
    "not (t = 'a' or n = 3)": [F, F, U, U, U, U],
}


def _kept(expected):
    return [i for i, v in enumerate(expected) if v == T]


@pytest.mark.parametrize("text", list(TRUTH))
def test_truth_table_with_nulls(text):
    assert list(filter_frame(FRAME, text).index) == _kept(TRUTH[text])


@pytest.mark.parametrize("text", [t for t in TRUTH if not t.startswith("not ")])
def test_not_keeps_exactly_the_false_rows(text):
    """``not x`` is true where x is false, and unknown where x is unknown: nulls never flip in."""
    expected = [T if v == F else F for v in TRUTH[text]]
    assert list(filter_frame(FRAME, f"not ({text})").index) == _kept(expected)


def test_a_thousand_or_terms_work():
    df = pd.DataFrame({"n": np.arange(3000)})
    text = " or ".join(f"n = {i * 3}" for i in range(1000))
    assert list(filter_frame(df, text)["n"]) == list(range(0, 3000, 3))
    text = " and ".join(f"n != {i}" for i in range(1000))
    assert list(filter_frame(df, text)["n"]) == list(range(1000, 3000))


@pytest.mark.parametrize("text", [
    "(" * 5000 + "n = 1" + ")" * 5000,
    "not " * 5000 + "n = 1",
    "(" * 5000,
    "n = " + "9" * 5000,
    "n = 1 or " * 20000 + "n = 1",
    "n in ('a', 1)",
])
def test_hostile_filters_give_one_line(text):
    with pytest.raises(SkiktError) as info:
        filter_frame(pd.DataFrame({"n": [1]}), text)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300


def test_nesting_up_to_the_limit_works():
    df = pd.DataFrame({"n": [1, 2]})
    assert list(filter_frame(df, "(" * MAX_DEPTH + "n = 1" + ")" * MAX_DEPTH)["n"]) == [1]
    assert list(filter_frame(df, "not " * 100 + "n = 1")["n"]) == [1]  # even count of not
