"""A small, safe filter language for ``where`` keys: ``col = 'x'``, ``col in ('a','b')``, and/or/not.

It is parsed into a tiny tree and evaluated with pandas comparisons. Nothing the user writes is
ever handed to eval, DataFrame.query or SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import SkiktError

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
_KEYWORDS = {"and", "or", "not", "in"}


@dataclass
class Tok:
    kind: str
    value: object


def tokenize(text: str) -> list[Tok]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SkiktError(f"cannot read filter at '{text[pos:pos + 15]}' in: {text}")
        pos = m.end()
        kind = m.lastgroup
        raw = m.group(kind)
        if kind == "str":
            out.append(Tok("lit", raw[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(Tok("lit", float(raw) if "." in raw else int(raw)))
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
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i].kind if self.i < len(self.toks) else None

    def take(self, kind):
        if self.peek() != kind:
            got = self.toks[self.i].value if self.i < len(self.toks) else "end of filter"
            raise SkiktError(f"filter expected {kind!r} but found {got!r} in: {self.text}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek() is not None:
            raise SkiktError(f"unexpected {self.toks[self.i].value!r} in filter: {self.text}")
        return node

    def expr(self):
        node = self.term()
        while self.peek() == "or":
            self.take("or")
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek() == "and":
            self.take("and")
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.peek() == "not":
            self.take("not")
            return ("not", self.factor())
        if self.peek() == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
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
            return ("in", col, values)
        op = self.toks[self.i].kind if self.i < len(self.toks) else None
        if op not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise SkiktError(f"filter needs a comparison after '{col}' in: {self.text}")
        self.i += 1
        return ("cmp", op, col, self.take("lit").value)


def parse_where(text: str):
    """Parse a filter; raises SkiktError with a one-line message on bad syntax."""
    return _Parser(text).parse()


def _column(df: pd.DataFrame, name: str, literal) -> pd.Series:
    if name not in df.columns:
        matches = [c for c in df.columns if str(c).lower() == name.lower()]
        if not matches:
            raise SkiktError(f"filter names unknown column '{name}' (columns: {', '.join(map(str, df.columns))})")
        name = matches[0]
    col = df[name]
    if isinstance(literal, str):
        return col.astype("string")
    return pd.to_numeric(col, errors="coerce")


def evaluate(node, df: pd.DataFrame) -> np.ndarray:
    kind = node[0]
    if kind == "or":
        return evaluate(node[1], df) | evaluate(node[2], df)
    if kind == "and":
        return evaluate(node[1], df) & evaluate(node[2], df)
    if kind == "not":
        return ~evaluate(node[1], df)
    if kind == "in":
        _, col, values = node
        strs = all(isinstance(v, str) for v in values)
        series = _column(df, col, values[0] if strs else 0.0)
        return series.isin(values if strs else [float(v) for v in values]).fillna(False).to_numpy(bool)
    _, op, col, lit = node
    s = _column(df, col, lit)
    res = {
        "=": lambda: s == lit, "!=": lambda: s != lit, "<>": lambda: s != lit,
        "<": lambda: s < lit, "<=": lambda: s <= lit, ">": lambda: s > lit, ">=": lambda: s >= lit,
    }[op]()
    return res.fillna(False).to_numpy(bool)


def filter_frame(df: pd.DataFrame, where: str | None) -> pd.DataFrame:
    if not where:
        return df
    return df[evaluate(parse_where(where), df)]
