"""Group weights, consensus and disagreement (issue 11, item 4).

Oracles: a 4-unit, 2-group example worked by hand, and an independent numpy/scipy computation
(weighted means over the indicators each unit has, scipy.stats.rankdata) on a matrix with ties
and missing values.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tomlkit
from scipy.stats import rankdata

from skikt.layers.composite import Normalised
from skikt.layers.errors import SkiktError
from skikt.layers.groups import (Group, GroupError, group_columns, group_scores, percentile_ranks, read_groups,
                                 score_table_with_groups, weight_vector)
from skikt.layers.project import read_project
from skikt.layers.workspace import Workspace


def _normalised(rows: dict[str, list[float]]) -> Normalised:
    ids = list(rows)
    return Normalised(ids, ["s"] * len(ids), np.array([rows[i] for i in ids], np.float32))


# ------------------------------------------------------------------------------------------------
# Worked by hand


HAND = {"a": [1.0, 0.6, 0.2, 0.0], "b": [0.0, 0.4, 0.8, 1.0]}


def test_four_units_two_groups_by_hand():
    # A = 75/25 on a/b: scores .75 .55 .35 .25 → percentile 1, 2/3, 1/3, 0.
    # B = 10/30 (shares .25/.75): scores .25 .45 .65 .75 → percentile 0, 1/3, 2/3, 1.
    # Consensus = mean shares (.5, .5): every unit scores .5, a four-way tie, all rank 1.
    gs = group_scores(_normalised(HAND), [Group("A", "A", weights={"a": 75, "b": 25}),
                                          Group("B", "B", weights={"a": 10, "b": 30})], k=2)
    np.testing.assert_allclose(gs.vectors, [[0.75, 0.25], [0.25, 0.75]])
    np.testing.assert_allclose(gs.composites[0].score, [0.75, 0.55, 0.35, 0.25], atol=1e-6)
    np.testing.assert_allclose(gs.composites[1].score, [0.25, 0.45, 0.65, 0.75], atol=1e-6)
    np.testing.assert_allclose(gs.percentile, [[1, 2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3, 1]], atol=1e-12)
    np.testing.assert_allclose(gs.consensus_weights, [0.5, 0.5])
    np.testing.assert_allclose(gs.consensus.score, [0.5] * 4, atol=1e-6)
    assert list(gs.consensus.rank) == [1, 1, 1, 1]
    np.testing.assert_allclose(gs.spread, [1, 1 / 3, 1 / 3, 1], atol=1e-12)
    assert not gs.short_list.any()  # A's top half is u1, u2; B's is u3, u4
    cols = group_columns(gs)
    assert list(cols.columns) == ["A_score", "A_rank", "B_score", "B_rank", "consensus_score", "consensus_rank",
                                  "rank_spread"]
    assert list(cols["A_rank"]) == [1, 2, 3, 4] and list(cols["B_rank"]) == [4, 3, 2, 1]


def test_short_list_is_every_groups_top_class_by_hand():
    # C = 60/40: scores .6 .52 .44 .4 — its top half is u1, u2, as A's.
    gs = group_scores(_normalised(HAND), [Group("A", "A", weights={"a": 75, "b": 25}),
                                          Group("C", "C", weights={"a": 60, "b": 40})], k=2)
    assert list(gs.short_list) == [True, True, False, False]
    np.testing.assert_allclose(gs.spread, [0, 0, 0, 0], atol=1e-12)


def test_percentile_rank_ties_share_their_average_rank():
    # scores 5, 3, 3, NaN, 1: ranks 1, 2.5, 2.5, –, 4 of n = 4 → (4 − r)/3
    np.testing.assert_allclose(percentile_ranks(np.array([5, 3, 3, np.nan, 1.0])), [1, 0.5, 0.5, np.nan, 0])
    assert percentile_ranks(np.array([np.nan, 2.0]))[1] == 1.0


# ------------------------------------------------------------------------------------------------
# Against an independent computation


def _oracle_score(norm: np.ndarray, w: np.ndarray) -> np.ndarray:
    x = norm.astype(np.float64)
    ok = ~np.isnan(x)
    num = np.nansum(np.where(ok, x, 0) * w[:, None], axis=0)
    den = (ok * w[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _oracle_percentile(score: np.ndarray) -> np.ndarray:
    out = np.full(score.shape, np.nan)
    ok = ~np.isnan(score)
    n = ok.sum()
    out[ok] = (n - rankdata(-score[ok], method="average")) / (n - 1)
    return out


def _nasty_matrix() -> np.ndarray:
    rng = np.random.default_rng(11)
    norm = rng.random((4, 60))
    norm[rng.random((4, 60)) < 0.15] = np.nan  # missing values scattered
    norm[:, 10] = norm[:, 11] = norm[:, 12] = norm[:, 3]  # a three-way tie (same values, same gaps)
    norm[:, 20] = np.nan  # nobody scores unit 20
    norm[:, 21] = [np.nan, np.nan, np.nan, 0.7]  # only the last indicator: unscored by groups without it
    norm[:, 22] = norm[:, 23] = [0.5, 0.5, 0.5, 0.5]  # tied
    norm[:, 4] = [1.0, 1.0, 1.0, 1.0]  # everybody's best
    return norm.astype(np.float32)


def test_groups_match_an_independent_computation_with_ties_and_gaps():
    norm = _nasty_matrix()
    normalised = Normalised(["v", "t", "k", "w"], ["a", "b", "c", "d"], norm)
    groups = [Group("kommunerna", "Kommunerna", "#1f78b4", {"v": 50, "t": 30, "k": 20}),
              Group("regionen", "Regionen", "#33a02c", {"v": 10, "t": 10, "k": 10, "w": 70}),
              Group("staten", "Staten", "#e31a1c", {"t": 1, "w": 3})]
    k = 5
    gs = group_scores(normalised, groups, k=k)
    vectors, pcts, tops = [], [], []
    for group, comp in zip(groups, gs.composites):
        points = np.array([group.weights.get(i, 0.0) for i in ["v", "t", "k", "w"]])
        w = points / points.sum()
        vectors.append(w)
        score = _oracle_score(norm, w)
        np.testing.assert_allclose(comp.score, score, rtol=1e-5, equal_nan=True)
        ok = ~np.isnan(score)
        n = ok.sum()
        min_rank = rankdata(-score[ok], method="min")
        assert list(comp.rank[ok]) == list(min_rank)
        assert (comp.rank[~ok] == 0).all()
        cls = 1 + np.floor((min_rank - 1) * k / n)
        assert list(comp.cls[ok]) == list(cls)
        tops.append(np.where(ok, np.isin(np.arange(60), np.flatnonzero(ok)[cls == 1]), False))
        pcts.append(_oracle_percentile(score))
    np.testing.assert_allclose(gs.vectors, vectors, atol=1e-12)
    np.testing.assert_allclose(gs.vectors.sum(axis=1), 1.0)
    consensus = _oracle_score(norm, np.mean(vectors, axis=0))
    np.testing.assert_allclose(gs.consensus.score, consensus, rtol=1e-5, equal_nan=True)
    ok = ~np.isnan(consensus)
    assert list(gs.consensus.rank[ok]) == list(rankdata(-consensus[ok], method="min"))
    pcts = np.array(pcts)
    np.testing.assert_allclose(gs.percentile, pcts, atol=1e-9, equal_nan=True)
    spread = np.where(np.isnan(pcts).any(axis=0), np.nan, pcts.max(axis=0) - pcts.min(axis=0))
    np.testing.assert_allclose(gs.spread, spread, atol=1e-9, equal_nan=True)
    assert np.isnan(gs.spread[20]) and np.isnan(gs.spread[21])  # unscored by some group
    assert gs.spread[10] == gs.spread[11] == gs.spread[12]
    assert list(gs.short_list) == list(np.logical_and.reduce(tops))
    assert gs.short_list[4]
    cols = group_columns(gs)
    assert cols["staten_rank"].isna().sum() == (~np.isnan(_oracle_score(norm, vectors[2]))).size - (
        ~np.isnan(_oracle_score(norm, vectors[2]))).sum()
    assert pd.isna(cols.loc[20, "consensus_rank"]) and pd.isna(cols.loc[20, "rank_spread"])


def test_weight_vector_leaves_out_count_zero_and_all_zero_is_refused():
    np.testing.assert_allclose(weight_vector(Group("g", "g", weights={"b": 30}), ["a", "b", "c"]), [0, 1, 0])
    with pytest.raises(GroupError) as err:
        weight_vector(Group("g", "g", weights={"x": 30}), ["a", "b"])
    assert "\n" not in str(err.value) and '"g"' in str(err.value)


# ------------------------------------------------------------------------------------------------
# Reading [[groups]] from the project file


GROUPS = """
[[groups]]
id = "kommunerna"
name = "Kommunerna"
colour = "#1F78B4"
weights = { vard = 30, kultur = 10, transport = 60 }

[[groups]]
id = "regionen"
name = "Regionen"
colour = "#33a02c"
weights = { kompetens = 50, socio = 50 }
"""


def _project_with(sample_copy, text: str):
    """The sample with its own [[groups]] (if any) replaced by ``text``."""
    doc = tomlkit.parse(sample_copy.read_text(encoding="utf-8"))
    doc.pop("groups", None)
    sample_copy.write_text(tomlkit.dumps(doc) + text, encoding="utf-8")
    return read_project(sample_copy)


def test_read_groups_from_the_project(sample_copy):
    groups = read_groups(_project_with(sample_copy, GROUPS))
    assert [g.id for g in groups] == ["kommunerna", "regionen"]
    assert groups[0].colour == "#1f78b4" and groups[0].weights == {"vard": 30.0, "kultur": 10.0, "transport": 60.0}


@pytest.mark.parametrize("entry", [
    'id = "a"\nweights = { vard = 0, kultur = 0 }',
    'id = "a"\nweights = { vattenverk = 10 }',
    'id = "a"\nweights = { nope = 10 }',
    'id = "a"\ncolour = "blue"\nweights = { vard = 10 }',
    'id = "a b"\nweights = { vard = 10 }',
    'id = "a"\nweights = { vard = -1 }',
    'id = "a"\nweights = { vard = "__import__(\'os\')" }',
])
def test_bad_groups_are_refused_in_one_line(sample_copy, entry):
    # Refused by whichever comes first: the project reader (the schema) or read_groups.
    with pytest.raises(SkiktError) as err:
        read_groups(_project_with(sample_copy, f"\n[[groups]]\n{entry}\n"))
    text = str(err.value)
    assert "\n" not in text and text.startswith("sample_project.toml: ") and "group" in text


def test_read_groups_refuses_what_the_schema_may_let_through(sample_copy):
    real = _project_with(sample_copy, GROUPS)
    for entry, words in (({"id": "a", "weights": {"vattenverk": 5}}, "not an indicator layer"),
                         ({"id": "a", "weights": {"vard": 0}}, "no points"),
                         ({"id": "a", "colour": "red", "weights": {"vard": 1}}, "colour")):
        project = SimpleNamespace(groups=[entry], path=real.path, indicator_layers=real.indicator_layers)
        with pytest.raises(GroupError, match=words):
            read_groups(project)


def test_duplicate_group_ids_are_refused(sample_copy):
    with pytest.raises(SkiktError) as err:
        read_groups(_project_with(sample_copy, GROUPS + GROUPS))
    assert "\n" not in str(err.value) and "kommunerna" in str(err.value)


def test_score_table_with_groups_on_the_sample(sample_copy):
    ws = Workspace(_project_with(sample_copy, GROUPS))
    ws.update()
    table = score_table_with_groups(ws)
    for col in ("kommunerna_score", "kommunerna_rank", "regionen_score", "regionen_rank", "consensus_score",
                "consensus_rank", "rank_spread"):
        assert col in table.columns
    ids = ws.normalised.layer_ids
    norm = ws.normalised.norm
    w = np.array([{"vard": 30, "kultur": 10, "transport": 60}.get(i, 0) for i in ids], float)
    np.testing.assert_allclose(table["kommunerna_score"], _oracle_score(norm, w / w.sum()), rtol=1e-5,
                               equal_nan=True)
    assert len(table) == ws.units.n and list(table["unit_id"]) == list(ws.units.ids)


# ------------------------------------------------------------------------------------------------
# The disagreement map and the short list


def test_disagreement_map_classes_by_hand_with_values_on_the_edges():
    from skikt.layers.groups import SPREAD_BOUNDS, disagreement_map

    # Spreads chosen on and beside the class edges 0.10, 0.25, 0.50, 0.75 (a value on an edge
    # belongs to the class above it; 1.0 closes the top class) and a unit some group leaves unscored.
    spread = np.array([0.0, 0.0999, 0.10, 0.25, 0.4999, 0.5, 0.75, 1.0, np.nan])
    gs = SimpleNamespace(spread=spread, groups=[1, 2, 3])
    um = disagreement_map(gs, "sv")
    assert um.kind == "disagreement" and um.bounds == SPREAD_BOUNDS
    assert um.class_of().tolist() == [0, 0, 1, 2, 2, 3, 4, 4, -1]
    assert um.labels[0] == "Eniga (0–10 percentilenheter)"
    assert um.labels[-1] == "Mycket oeniga (75–100 percentilenheter)"
    assert "3 grupper" in um.note
    en = disagreement_map(gs, "en")
    assert en.labels[2] == "Partly disagree (25–50 percentile points)" and en.title.startswith("Disagreement")


def test_disagreement_map_on_the_sample_matches_rankdata(sample_ws):
    from skikt.layers.groups import disagreement_map, workspace_group_scores

    gs = workspace_group_scores(sample_ws)
    pcts = []
    for comp in gs.composites:
        pcts.append(_oracle_percentile(np.asarray(comp.score, np.float64)))
    pcts = np.array(pcts)
    spread = np.where(np.isnan(pcts).any(axis=0), np.nan, pcts.max(axis=0) - pcts.min(axis=0))
    um = disagreement_map(gs)
    np.testing.assert_allclose(um.values, spread, atol=1e-9, equal_nan=True)
    assert len(um.values) == sample_ws.units.n
    # Ties exist in the sample's scores, so the average-rank rule matters here.
    assert any(len(np.unique(c.score[~np.isnan(c.score)])) < (~np.isnan(c.score)).sum() for c in gs.composites)
    expected_class = np.digitize(spread, [0.10, 0.25, 0.50, 0.75])
    expected_class = np.where(np.isnan(spread), -1, expected_class)
    assert (um.class_of() == expected_class).all()
    assert len(set(um.class_of().tolist()) - {-1}) == 5  # every class is used on the sample


def test_short_list_entries_are_the_intersection_of_every_groups_top_class(sample_ws):
    from skikt.layers.groups import short_list_entries, workspace_group_scores

    gs = workspace_group_scores(sample_ws)
    ids = np.asarray(sample_ws.units.ids).astype(str)
    tops = [set(ids[np.asarray(c.cls) == 1]) for c in gs.composites]
    entries = short_list_entries(sample_ws, gs)
    assert {uid for _, uid, _ in entries} == set.intersection(*tops) and len(entries) == len(set.intersection(*tops))
    assert all(ids[i] == uid for i, uid, _ in entries)
    scores = [gs.consensus.score[i] for i, _, _ in entries]
    assert scores == sorted(scores, reverse=True)
    # Cells are named by their municipality: the first one lies inside the municipality named.
    import shapely
    from skikt.layers.scenarios import municipality_layer

    i, _, name = entries[0]
    frame = municipality_layer(sample_ws)
    col = next(c for c in frame.columns if frame[c].astype(str).eq(name).any())
    polygon = frame.loc[frame[col].astype(str) == name].geometry.union_all()
    assert polygon.intersects(shapely.Point(sample_ws.units.centres[i]))
