"""Property: whatever VALUES a project file holds, reading it gives the project or one line of
Skikt's own error, never another exception; and what was read saves and reads back the same.

Hypothesis is derandomized (a fixed seed derived from the test) with a bounded number of
examples and no example database, so CI runs the same inputs every time.
"""

import datetime as dt
import math
import tomllib

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from skikt.layers.errors import SkiktError
from skikt.layers.project import read_project, write_project

SAMPLE = tomllib.loads((ROOT / "sample_data" / "sample_project.toml").read_text(encoding="utf-8"))


def _paths(value, prefix=()):
    """Every place a value sits: table keys and array items, nested ones too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield prefix + (i,)
            yield from _paths(item, prefix + (i,))


PATHS = sorted(_paths(SAMPLE), key=repr)

scalars = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "abc", "false", "true", "EPSG:4326", "EPSG:4978", "nope", "kommuner", "lan",
                     "code = ", "((((", "not " * 200 + "a = 1", "#zzz", "areas", "grid", "classes", "attribute",
                     "\u202e", "a\nb", "x" * 5000]),
    st.integers(min_value=-10**400, max_value=10**400),
    st.sampled_from([0, 1, -1, 2, 10, 11, 200, 2**63, -2**63, 10**399]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -0.0, 2.9, 1e39, 5e-324]),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.dates(),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["layer", "where", "size", "colour", "k", "x", "id", "left", "right"]),
                    inner, max_size=3)), max_leaves=6)


def _set(data, path, value):
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _mutated(mutations):
    data = tomllib.loads(tomli_w.dumps(SAMPLE))  # a fresh deep copy
    for index, value in mutations:
        path = PATHS[index % len(PATHS)]
        try:
            _set(data, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier mutation replaced a parent
            pass
    return data


def _one_line(err: SkiktError, name: str) -> None:
    for text in (str(err), err.text("sv"), err.text("en")):
        assert "\n" not in text and "\r" not in text, text
        assert text.startswith(f"{name}: "), text
        assert len(text) < 600, text


@settings(derandomize=True, max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(st.integers(0, 10_000), values), min_size=1, max_size=3))
def test_mutated_values_give_a_project_or_one_line(tmp_path_factory, mutations):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "fuzz.toml"
    try:
        path.write_text(tomli_w.dumps(_mutated(mutations)), encoding="utf-8")
    except (ValueError, TypeError):  # tomli_w cannot write it (e.g. > 4300 digits): no TOML file
        return
    for lenient in (False, True):
        try:
            proj = read_project(path, lenient=lenient)
        except SkiktError as err:  # ProjectError, or SkiktError from a filter or a CRS
            _one_line(err, "fuzz.toml")
            continue
        for err in proj.layer_errors:
            _one_line(err, "fuzz.toml")
        # What was read saves, and the copy reads back to the same model.
        copy = write_project(proj, folder / f"copy_{lenient}.toml")
        again = read_project(copy, lenient=lenient)
        assert again.to_dict() == proj.to_dict()
        assert [str(e).split(": ", 1)[1] for e in again.layer_errors] == \
            [str(e).split(": ", 1)[1] for e in proj.layer_errors]
