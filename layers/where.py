"""A small, safe filter language for ``where`` keys: ``col = 'x'``, ``col in ('a','b')``, and/or/not.

It is parsed into a tiny tree and evaluated with numpy masks. Nothing the user writes is ever
handed to eval, DataFrame.query or SQL.

Nulls follow SQL's three-valued logic. A comparison (``=``, ``!=``, ``<``, ``in`` …) with a null
value (None, NaN, NA, NaT, or a text that is not a number in a numeric comparison) is *unknown*;
``not unknown`` is unknown; ``unknown and false`` is false, ``unknown or true`` is true; a row
whose filter is unknown is dropped. ``col is null`` / ``col is not null`` select nulls explicitly.

Limits keep every input to one line of error, never a RecursionError: a filter holds at most
``MAX_LENGTH`` characters and nests at most ``MAX_DEPTH`` parentheses or ``not``s. ``and``/``or``
chains are flat lists, so a chain of any length is parsed and evaluated without recursion.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import SkiktError

MAX_DEPTH = 100
MAX_LENGTH = 100_000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<qid>"[^"]+")
      | (?P<word>[A-Za-z_\u00C0-\u024F][\w\u00C0-\u024F]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "null"}
_COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=")


@dataclass
class Tok:
    kind: str
    value: object


def _short(text: str, n: int = 15) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _number(raw: str):
    """A numeric literal that compares safely with float columns (no 5,000-digit integers)."""
    try:
        value = float(raw) if "." in raw else int(raw)
        if not math.isfinite(float(value)):
            raise OverflowError
    except (ValueError, OverflowError):
        raise SkiktError.of("werr_number", value=_short(raw)) from None
    return value


def tokenize(text: str) -> list[Tok]:
    if len(text) > MAX_LENGTH:
        raise SkiktError.of("werr_long", max=MAX_LENGTH)
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SkiktError.of("werr_read", at=_short(text[pos:]))
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "str":
            out.append(Tok("lit", raw[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(Tok("lit", _number(raw)))
        elif kind == "qid":
            out.append(Tok("id", raw[1:-1]))
        elif kind == "word":
            low = raw.lower()
            out.append(Tok(low, low) if low in _KEYWORDS else Tok("id", raw))
        else:
            out.append(Tok(raw, raw))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    """Recursive descent whose recursion is bounded by nesting (MAX_DEPTH), not by length.

    Tree: ("or", [nodes]), ("and", [nodes]), ("not", node), ("cmp", op, col, lit),
    ("in", col, [lits]), ("null", col, is_null).
    """

    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i].kind if self.i < len(self.toks) else None

    def _found(self) -> str:
        return repr(_short(str(self.toks[self.i].value))) if self.i < len(self.toks) else "end of filter"

    def take(self, kind):
        if self.peek() != kind:
            key = {"lit": "werr_want_value", "id": "werr_want_column"}.get(kind, "werr_want")
            raise SkiktError.of(key, want=kind, got=self._found())
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek() is not None:
            raise SkiktError.of("werr_unexpected", got=self._found())
        return node

    def _nest(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SkiktError.of("werr_depth", max=MAX_DEPTH)

    def expr(self):
        terms = [self.term()]
        while self.peek() == "or":
            self.take("or")
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def term(self):
        factors = [self.factor()]
        while self.peek() == "and":
            self.take("and")
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else ("and", factors)

    def factor(self):
        if self.peek() == "not":
            self.take("not")
            self._nest()
            node = ("not", self.factor())
            self.depth -= 1
            return node
        if self.peek() == "(":
            self.take("(")
            self._nest()
            node = self.expr()
            self.take(")")
            self.depth -= 1
            return node
        col = self.take("id").value
        if self.peek() == "in":
            self.take("in")
            self.take("(")
            values = [self.take("lit").value]
            while self.peek() == ",":
                self.take(",")
                values.append(self.take("lit").value)
            self.take(")")
            if len({isinstance(v, str) for v in values}) > 1:
                raise SkiktError.of("werr_mixed_in", col=col)
            return ("in", col, values)
        if self.peek() == "is":
            self.take("is")
            negated = self.peek() == "not"
            if negated:
                self.take("not")
            self.take("null")
            return ("null", col, not negated)
        op = self.peek()
        if op not in _COMPARISONS:
            raise SkiktError.of("werr_cmp", col=col)
        self.i += 1
        return ("cmp", op, col, self.take("lit").value)


def parse_where(text: str):
    """Parse a filter; raises SkiktError with a one-line message on bad syntax."""
    return _Parser(text).parse()


def _raw_column(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        matches = [c for c in df.columns if str(c).lower() == name.lower()]
        if not matches:
            cols = ", ".join(map(str, df.columns))
            raise SkiktError.of("werr_column", name=name, columns=_short(cols, 200))
        name = matches[0]
    return df[name]


def _column(df: pd.DataFrame, name: str, literal, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """(values, known): text for a text literal, float for a number; ``known`` is False where null.
    Converted once per filter and column: a chain of 1,000 ``or`` terms names the same column."""
    key = (name, isinstance(literal, str))
    if key not in cache:
        col = _raw_column(df, name)
        if isinstance(literal, str):
            known = ~col.isna().to_numpy(bool)
            cache[key] = col.astype(object).where(known, "").astype(str).to_numpy(object), known
        else:
            values = pd.to_numeric(col, errors="coerce").to_numpy(float, na_value=np.nan)
            cache[key] = values, ~np.isnan(values)
    return cache[key]


_OPS = {
    "=": np.equal, "!=": np.not_equal, "<>": np.not_equal,
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
}


def _leaf(node, df: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """(true, false) masks of a comparison; rows in neither are unknown (a null was compared)."""
    kind = node[0]
    if kind == "null":
        _, col, is_null = node
        null = _raw_column(df, col).isna().to_numpy(bool)
        hit = null if is_null else ~null
        return hit, ~hit
    if kind == "in":
        _, col, lits = node
        values, known = _column(df, col, lits[0], cache)
        lits = lits if isinstance(lits[0], str) else [float(v) for v in lits]
        hit = np.isin(values, np.asarray(lits, dtype=values.dtype))
    else:
        _, op, col, lit = node
        values, known = _column(df, col, lit, cache)
        lit = lit if isinstance(lit, str) else float(lit)
        hit = np.asarray(_OPS[op](values, lit), bool)
    return hit & known, ~hit & known


def _truth(node, df: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """Kleene logic on (true, false) mask pairs. Recursion follows nesting only (≤ MAX_DEPTH)."""
    kind = node[0]
    if kind == "not":
        true, false = _truth(node[1], df, cache)
        return false, true
    if kind in ("and", "or"):
        pairs = (_truth(child, df, cache) for child in node[1])
        true, false = next(pairs)
        for t, f in pairs:  # and: true if all true, false if any false; or is its dual
            if kind == "and":
                true, false = true & t, false | f
            else:
                true, false = true | t, false & f
        return true, false
    return _leaf(node, df, cache)


def evaluate(node, df: pd.DataFrame) -> np.ndarray:
    """Rows where the filter is true; unknown (null) rows are dropped like false ones."""
    return _truth(node, df, {})[0]


def filter_frame(df: pd.DataFrame, where: str | None) -> pd.DataFrame:
    if not where:
        return df
    return df[evaluate(parse_where(where), df)]
