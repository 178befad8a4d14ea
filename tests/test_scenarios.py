"""Scenarios ([[scenarios]]), comparing two of them, municipalities and population (issue 10, items 1–2).

Oracles: hand-worked numbers on three squares, scipy's rankdata, geopandas' sjoin and overlay,
and two separate full scorings with the two weight sets.
"""

from __future__ import annotations

import argparse
import math
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import rankdata

from skikt.layers import cli_more
from skikt.layers.errors import SkiktError
from skikt.layers.project import LayerSpec, read_project, write_project
from skikt.layers.scenarios import (Scenario, ScenarioError, add_scenario, apply_scenario, by_municipality, compare,
                                    delete_scenario, insert_scenario, read_scenarios, rename_scenario,
                                    restore_scenario_weights, scenario_weights, set_scenario_weights, top_movers,
                                    unit_municipalities, unit_population)
from skikt.layers.workspace import Workspace

X0, Y0 = 600_000.0, 6_600_000.0


# ------------------------------------------------------------------------------------------------
# A three-square project, worked by hand


def _squares(tmp_path):
    """Three 1 km squares side by side: a | b | c, with two indicator columns."""
    boxes = [shapely.box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(3)]
    gdf = gpd.GeoDataFrame({"code": ["a", "b", "c"], "name": ["Aby", "Bby", "Cby"],
                            "x1": [0.0, 5.0, 10.0], "x2": [10.0, 0.0, 5.0]}, geometry=boxes, crs=3006)
    gdf.to_file(tmp_path / "rutor.gpkg", layer="rutor", driver="GPKG")


def _folk_points(tmp_path):
    pts = [(X0 + 300, Y0 + 500), (X0 + 2500, Y0 + 200), (X0 + 9000, Y0 + 9000)]  # in a, in c, outside
    gpd.GeoDataFrame({"pop": [100.0, 40.0, 999.0]}, geometry=shapely.points(pts), crs=3006) \
        .to_file(tmp_path / "folk.gpkg", layer="folk", driver="GPKG")


def _folk_polygons(tmp_path):
    polys = [shapely.box(X0 + 500, Y0, X0 + 1500, Y0 + 1000),       # half a, half b: 200
             shapely.box(X0 + 2100, Y0 + 100, X0 + 2900, Y0 + 900),  # inside c: 30
             shapely.box(X0 + 1750, Y0, X0 + 2750, Y0 + 1000),       # ¼ b, ¾ c: 80
             shapely.box(X0 + 2500, Y0 + 500, X0 + 3500, Y0 + 1500)]  # ¼ in c, the rest outside: 40
    gpd.GeoDataFrame({"pop": [200.0, 30.0, 80.0, 40.0]}, geometry=polys, crs=3006) \
        .to_file(tmp_path / "folkytor.gpkg", layer="folkytor", driver="GPKG")


THREE = """schema_version = 1
[project]
title = "Tre rutor"
population = {{ layer = "folk", column = "pop" }}

[[layers]]
id = "rutor"
path = "rutor.gpkg"
layer = "rutor"
sector = "reference"

[[layers]]
id = "x1"
path = "rutor.gpkg"
layer = "rutor"
sector = "healthcare"
[layers.indicator]
method = "attribute"
column = "x1"
normalize = "minmax"
weight = 1

[[layers]]
id = "x2"
path = "rutor.gpkg"
layer = "rutor"
sector = "transport"
[layers.indicator]
method = "attribute"
column = "x2"
normalize = "minmax"
weight = 1

[[layers]]
id = "folk"
path = "{folk}.gpkg"
layer = "{folk}"
sector = "reference"

[units]
kind = "areas"
layer = "rutor"
id = "code"
classes = 3

[[scenarios]]
name = "A"
weights = {{ x1 = 3 }}   # x2 keeps the project's 1

[[scenarios]]
name = "B"
weights = {{ x1 = 1, x2 = 3 }}
description = "x2 first"
"""


@pytest.fixture
def three(tmp_path):
    _squares(tmp_path)
    _folk_points(tmp_path)
    _folk_polygons(tmp_path)
    path = tmp_path / "tre.toml"
    path.write_text(THREE.format(folk="folk"), encoding="utf-8")
    return path


def test_three_units_by_hand(three):
    # n1 = [0, .5, 1], n2 = [1, 0, .5]. A (3, 1): [.25, .375, .875] → ranks c, b, a.
    # B (1, 3): [.75, .125, .625] → ranks a, c, b. rank_change = rank_a − rank_b.
    table = compare(read_project(three), "A", "B")
    assert list(table.columns) == ["unit_id", "score_a", "score_b", "rank_a", "rank_b", "rank_change",
                                   "class_a", "class_b"]
    table = table.set_index("unit_id").loc[["a", "b", "c"]]
    np.testing.assert_allclose(table["score_a"], [0.25, 0.375, 0.875], atol=1e-6)
    np.testing.assert_allclose(table["score_b"], [0.75, 0.125, 0.625], atol=1e-6)
    assert table["rank_a"].tolist() == [3, 2, 1]
    assert table["rank_b"].tolist() == [1, 3, 2]
    assert table["rank_change"].tolist() == [2, -1, -1]  # a rises under B; b and c fall
    assert table["class_a"].tolist() == [3, 2, 1]  # k = 3 classes over 3 units: class = rank
    assert table["class_b"].tolist() == [1, 3, 2]
    rising, falling = top_movers(table.reset_index(), 1)
    assert rising["unit_id"].tolist() == ["a"] and falling["unit_id"].tolist() == ["b"]  # tie -1: by id


def test_population_points_by_hand(three):
    ws = Workspace(read_project(three))
    ws.update()
    np.testing.assert_allclose(unit_population(ws), [100, 0, 40])  # the point outside counts nowhere
    summary = by_municipality(ws, compare(ws, "A", "B")).set_index("municipality")
    # Area units are their own municipality. Top class under A is c (40 people), under B a (100).
    assert summary.loc["c", "municipality_name"] == "Cby"
    assert summary["people_top_a"].to_dict() == {"a": 0, "b": 0, "c": 40}
    assert summary["people_top_b"].to_dict() == {"a": 100, "b": 0, "c": 0}
    assert summary["top_units_a"].to_dict() == {"a": 0, "b": 0, "c": 1}
    assert summary["mean_rank_change"].to_dict() == {"a": 2, "b": -1, "c": -1}


def test_population_polygons_by_area_share(three):
    three.write_text(THREE.format(folk="folkytor"), encoding="utf-8")
    ws = Workspace(read_project(three))
    ws.update()
    # a: ½·200; b: ½·200 + ¼·80; c: 30 + ¾·80 + ¼·40. The part of the last polygon outside is lost.
    np.testing.assert_allclose(unit_population(ws), [100, 120, 100])
    summary = by_municipality(ws, compare(ws, "A", "B")).set_index("municipality")
    assert summary["people_top_a"].to_dict() == pytest.approx({"a": 0, "b": 0, "c": 100})
    assert summary["people_top_b"].to_dict() == pytest.approx({"a": 100, "b": 0, "c": 0})
    assert summary["people_top_change"].to_dict() == pytest.approx({"a": 100, "b": 0, "c": -100})


def test_population_key_problems_are_one_line(three):
    text = THREE.format(folk="folk")
    # The key itself and the layer it names are checked when the project is read …
    for bad, expected in (('population = { layer = "saknas", column = "pop" }',
                           "tre.toml: project.population.layer: refers to unknown layer id 'saknas'"),
                          ('population = "folk"', 'tre.toml: project.population: expected a table, got "folk"'),
                          ('population = { layer = "folk" }', "tre.toml: project.population.column: is missing but "
                                                              "required")):
        three.write_text(text.replace('population = { layer = "folk", column = "pop" }', bad), encoding="utf-8")
        with pytest.raises(SkiktError) as err:
            read_project(three)
        assert str(err.value) == expected
    # … the column when the layer's data is there.
    three.write_text(text.replace('column = "pop"', 'column = "ingen"'), encoding="utf-8")
    ws = Workspace(read_project(three))
    ws.update()
    with pytest.raises(SkiktError) as err:
        unit_population(ws)
    assert str(err.value) == 'tre.toml: project.population.column: layer "folk" has no column "ingen"'


# ------------------------------------------------------------------------------------------------
# Reading, validation, editing


def test_scenario_weights_fill_in_the_project_weights(three):
    project = read_project(three)
    assert scenario_weights(project, "A") == {"x1": 3.0, "x2": 1.0}
    assert scenario_weights(project, "B") == {"x1": 1.0, "x2": 3.0}
    assert scenario_weights(project, "-") == {"x1": 1.0, "x2": 1.0}
    applied = apply_scenario(project, "B")
    assert [s.indicator.weight for s in applied.indicator_layers()] == [1.0, 3.0]
    assert [s.indicator.weight for s in project.indicator_layers()] == [1.0, 1.0]  # the original is untouched
    with pytest.raises(ScenarioError) as err:
        scenario_weights(project, "C")
    assert str(err.value) == 'tre.toml: no scenario named "C" (known: "A", "B")'


BROKEN = """
[[scenarios]]
name = "Vård"
weights = { x1 = "x", x2 = -1 }

[[scenarios]]
name = "Vård"
weights = { "okänd" = 1, rutor = 2, x1 = true }
description = 5

[[scenarios]]
weights = []

[[scenarios]]
name = "Noll"
weights = { x1 = 0, x2 = 0 }

[[scenarios]]
name = "-"
weights = { x1 = nan }

[[scenarios]]
name = "Stor"
weights = { x1 = 1e308, x2 = 1e308 }
"""


EVERY_PROBLEM = [
    'tre.toml: scenarios[0].weights.x1: expected a number 0–1000, got "x"',
    'tre.toml: scenarios[0].weights.x2: expected a number 0–1000, got -1',
    'tre.toml: scenarios[1].weights.x1: expected a number 0–1000, got true',
    'tre.toml: scenarios[1].description: expected a text in quotes, got 5',
    'tre.toml: scenarios[1].name: the name "Vård" is already used by scenarios[0]',
    'tre.toml: scenarios[1].weights.okänd: no layer has the id "okänd"',
    'tre.toml: scenarios[1].weights.rutor: layer "rutor" is not an indicator layer and has no weight',
    'tre.toml: scenarios[2].name: is missing but required',
    'tre.toml: scenarios[2].weights: expected a table, got []',
    'tre.toml: scenarios[3].weights: every indicator weight would be zero',
    'tre.toml: scenarios[4].weights.x1: expected a number 0–1000, got nan',
    'tre.toml: scenarios[4].name: the name "-" is reserved for the project\'s own weights',
    'tre.toml: scenarios[5].weights.x1: expected a number 0–1000, got 1e+308',
    'tre.toml: scenarios[5].weights.x2: expected a number 0–1000, got 1e+308',
]


def test_scenarios_are_checked_when_the_project_is_read(three):
    text = three.read_text(encoding="utf-8")
    three.write_text(text[: text.index("[[scenarios]]")] + BROKEN, encoding="utf-8")
    with pytest.raises(SkiktError) as err:  # the CLI: the first problem, one line
        read_project(three)
    assert str(err.value) == EVERY_PROBLEM[0]
    project = read_project(three, lenient=True)  # the app: the bad entries are left out, one line each
    assert project.extra["scenarios"] == []
    assert [str(e) for e in project.layer_errors] == [
        EVERY_PROBLEM[0], EVERY_PROBLEM[2], EVERY_PROBLEM[7], EVERY_PROBLEM[9], EVERY_PROBLEM[10], EVERY_PROBLEM[12]]


def test_every_problem_is_one_line_with_its_key_path(three):
    text = three.read_text(encoding="utf-8")
    three.write_text(text[: text.index("[[scenarios]]")] + BROKEN, encoding="utf-8")
    project = read_project(three, lenient=True)
    project.extra["scenarios"] = tomllib.loads(three.read_text(encoding="utf-8"))["scenarios"]  # as if edited
    with pytest.raises(ScenarioError) as err:
        read_scenarios(project)
    lines = [str(p) for p in err.value.problems]
    assert lines == EVERY_PROBLEM
    assert all("\n" not in line for line in lines)
    assert str(err.value) == lines[0] + " (and 13 more problems)"
    assert err.value.text("sv") == 'tre.toml: scenarios[0].weights.x1: väntade ett tal 0–1000, fick "x" ' \
                                   '(och 13 problem till)'


def test_scenarios_written_as_a_table_not_an_array(three):
    text = three.read_text(encoding="utf-8")
    three.write_text(text[: text.index("[[scenarios]]")] + '[scenarios]\nname = "A"\n', encoding="utf-8")
    with pytest.raises(SkiktError) as err:
        read_project(three)
    assert str(err.value) == 'tre.toml: scenarios: expected [[scenarios]] tables, got { name = "A" }'


def test_edits_round_trip_through_save_and_load(three, tmp_path):
    project = read_project(three)
    project.extra["scenarios"][1]["colour"] = "#ff0000"  # a key we do not know survives
    for spec in project.indicator_layers():
        spec.indicator.weight = 2.5 if spec.id == "x1" else 0.5
    assert add_scenario(project, "  Nuvarande  ", description="sparad från reglagen") == 2  # save as scenario
    rename_scenario(project, "A", "A2")
    set_scenario_weights(project, "A2", {"x2": 4})
    index, removed = delete_scenario(project, "B")
    insert_scenario(project, index, removed)  # undo of the delete
    saved = write_project(project, tmp_path / "sparad.toml")
    again = read_scenarios(read_project(saved))
    assert again == [Scenario("A2", {"x1": 3.0, "x2": 4.0}),
                     Scenario("B", {"x1": 1.0, "x2": 3.0}, "x2 first", {"colour": "#ff0000"}),
                     Scenario("Nuvarande", {"x1": 2.5, "x2": 0.5}, "sparad från reglagen")]


def test_edit_helpers_refuse_bad_input_and_undo_exactly(three):
    project = read_project(three)
    before = [dict(d) for d in project.extra["scenarios"]]
    with pytest.raises(ScenarioError, match='already a scenario named "B"'):
        rename_scenario(project, "A", "B ")
    with pytest.raises(ScenarioError, match="expected a name"):
        add_scenario(project, "   ")
    with pytest.raises(ScenarioError, match='scenarios\\[2\\].weights.x9: no layer has the id "x9"'):
        add_scenario(project, "C", {"x9": 1})
    with pytest.raises(ScenarioError, match='layer "rutor" is not an indicator layer'):
        add_scenario(project, "C", {"rutor": 1})
    with pytest.raises(ScenarioError, match="scenarios\\[0\\].weights.x1: expected a number 0–1000, got -2"):
        set_scenario_weights(project, "A", {"x1": -2})
    assert project.extra["scenarios"] == before  # a refused edit changes nothing
    old = set_scenario_weights(project, "A", {"x1": 7, "x2": 9})
    assert old == {"x1": 3.0, "x2": None}
    restore_scenario_weights(project, "A", old)
    assert read_scenarios(project)[0] == Scenario("A", {"x1": 3.0})
    delete_scenario(project, "A")
    delete_scenario(project, "B")
    assert "scenarios" not in project.extra  # nothing left: no empty key written


# ------------------------------------------------------------------------------------------------
# The sample project: compare against two separate scorings


@pytest.fixture
def sample_with_scenarios(sample_copy):
    project = read_project(sample_copy)
    delete_scenario(project, "Vård först")  # the sample's own; these tests want their own weights
    add_scenario(project, "Vård först", {"vard": 6, "transport": 0.5})
    add_scenario(project, "Vatten", {"vattenskydd": 5, "skyddsrum": 0})
    project.population = {"layer": "tatorter", "column": "pop"}
    write_project(project)
    return sample_copy


def _scored(project_path, scenario):
    ws = Workspace(apply_scenario(read_project(project_path), scenario))
    ws.update()
    return ws.result_table().set_index("unit_id")


def _excluded_by_centre(project_path, unit_ids):
    """Cells whose centre lies in one of the sample's military training areas (role = "exclude"):
    from the SCB cell names and geopandas, independently of Skikt's units and exclusion code."""
    areas = gpd.read_file(project_path.parent / "forsvar_ovningsomraden.gpkg", layer="ovningsomraden")
    corner = pd.Series(unit_ids).str.extract(r"E(\d+)N(\d+)").astype(float).to_numpy()
    centres = gpd.GeoDataFrame(geometry=shapely.points(corner + 250), crs=3006)
    inside = gpd.sjoin(centres, areas[["geometry"]], predicate="within").index.unique()
    excluded = np.zeros(len(unit_ids), dtype=bool)
    excluded[inside] = True
    return excluded


def test_compare_agrees_with_two_separate_scorings(sample_with_scenarios):
    table = compare(read_project(sample_with_scenarios), "Vård först", "Vatten").set_index("unit_id")
    excluded = _excluded_by_centre(sample_with_scenarios, table.index)
    assert excluded.sum() == 254
    # Excluded cells have no score, rank or class on either side; the rest is ranked among itself.
    assert table.loc[excluded].isna().all().all()
    assert table.loc[~excluded].notna().all().all()
    table = table.loc[~excluded]
    for side, name in (("a", "Vård först"), ("b", "Vatten")):
        alone = _scored(sample_with_scenarios, name).loc[table.index]
        np.testing.assert_array_equal(table[f"score_{side}"].to_numpy(), alone["score"].to_numpy())
        np.testing.assert_array_equal(table[f"rank_{side}"].to_numpy(int), alone["rank"].to_numpy(int))
        np.testing.assert_array_equal(table[f"class_{side}"].to_numpy(int), alone["priority_class"].to_numpy(int))
        # And ranks and classes as scipy and the class formula give them from the scores.
        rank = rankdata(-table[f"score_{side}"].to_numpy(float), method="min")
        np.testing.assert_array_equal(table[f"rank_{side}"].to_numpy(int), rank)
        n = len(rank)
        np.testing.assert_array_equal(table[f"class_{side}"].to_numpy(int), 1 + (rank - 1) * 5 // n)
    np.testing.assert_array_equal(table["rank_change"].to_numpy(int),
                                  table["rank_a"].to_numpy(int) - table["rank_b"].to_numpy(int))
    assert (table["rank_change"] != 0).mean() > 0.5  # the two scenarios really differ


def test_compare_scores_are_the_weighted_means_of_the_normalised_values(sample_with_scenarios):
    project = read_project(sample_with_scenarios)
    alone = _scored(sample_with_scenarios, "-")
    table = compare(project, "Vård först", "-").set_index("unit_id").loc[alone.index]
    weights = scenario_weights(project, "Vård först")
    norm = np.column_stack([alone[f"{lid}_norm"].to_numpy(float) for lid in weights])
    w = np.array(list(weights.values()))
    expected = np.nansum(norm * w, axis=1) / ((~np.isnan(norm)) * w).sum(axis=1)
    np.testing.assert_allclose(table["score_a"].to_numpy(), expected, atol=2e-6)


def test_grid_cells_get_the_municipality_containing_their_centre(sample_with_scenarios):
    ws = Workspace(read_project(sample_with_scenarios))
    ws.update()
    code, _name = unit_municipalities(ws)
    kommuner = gpd.read_file(sample_with_scenarios.parent / "sweden_reference.gpkg", layer="kommuner")
    centres = gpd.GeoDataFrame({"i": np.arange(ws.units.n)}, geometry=shapely.points(ws.units.centres), crs=3006)
    joined = gpd.sjoin(centres, kommuner[["code", "geometry"]], predicate="within").sort_values(["i", "index_right"])
    joined = joined.drop_duplicates("i")
    expected = np.full(ws.units.n, "", dtype=object)
    expected[joined["i"].to_numpy()] = joined["code"].to_numpy()
    assert (code == expected).all()
    assert (code != "").mean() > 0.99


def test_grid_population_from_points_against_the_cell_names(sample_with_scenarios):
    ws = Workspace(read_project(sample_with_scenarios))
    ws.update()
    people = unit_population(ws)
    points = ws.layers["tatorter"].geo
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    cell = 500
    names = [f"500mE{int(math.floor(x / cell) * cell)}N{int(math.floor(y / cell) * cell)}" for x, y in xy]
    by_cell = pd.Series(points["pop"].to_numpy(float)).groupby(pd.Series(names)).sum()
    expected = by_cell.reindex(ws.units.ids).fillna(0).to_numpy()
    np.testing.assert_allclose(people, expected)
    assert (people > 0).sum() > 100  # the county's urban areas are placed

    table = compare(ws, "Vård först", "Vatten")
    summary = by_municipality(ws, table, people).set_index("municipality")
    code, _ = unit_municipalities(ws)
    # Excluded cells have no class, so they are in no one's top class.
    frame = pd.DataFrame({"code": code, "p": people, "ta": table["class_a"].fillna(0).to_numpy(int) == 1,
                          "tb": table["class_b"].fillna(0).to_numpy(int) == 1})
    np.testing.assert_allclose(summary["people_top_a"], frame[frame.ta].groupby("code")["p"].sum()
                               .reindex(summary.index).fillna(0))
    np.testing.assert_allclose(summary["people_top_b"], frame[frame.tb].groupby("code")["p"].sum()
                               .reindex(summary.index).fillna(0))


def test_grid_population_from_polygons_against_overlay(sample_with_scenarios):
    ws = Workspace(read_project(sample_with_scenarios))
    ws.update()
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = shapely.total_bounds(shapely.points(ws.units.centres))
    corners = rng.uniform([xmin, ymin], [xmax - 3000, ymax - 3000], size=(12, 2))
    polys = [shapely.box(x, y, x + w, y + h) for (x, y), w, h in
             zip(corners, rng.uniform(200, 3000, 12), rng.uniform(200, 3000, 12))]
    polys.append(shapely.Polygon([(xmin + 1000, ymin + 1000), (xmin + 9000, ymin + 1500), (xmin + 4000, ymin + 8000)]))
    folk = gpd.GeoDataFrame({"pop": rng.uniform(10, 1000, len(polys))}, geometry=polys, crs=3006)
    folk.to_file(sample_with_scenarios.parent / "folk.gpkg", layer="folk", driver="GPKG")
    project = read_project(sample_with_scenarios)
    project.layers.append(LayerSpec(id="folk", path="folk.gpkg"))
    project.population = {"layer": "folk", "column": "pop"}
    ws = Workspace(project)
    ws.update()
    people = unit_population(ws)
    # Cells from their SCB names, independently of the units module.
    ids = pd.Series(ws.units.ids)
    e = ids.str.extract(r"E(\d+)N(\d+)").astype(float).to_numpy()
    cells = gpd.GeoDataFrame({"unit_id": ids}, geometry=shapely.box(e[:, 0], e[:, 1], e[:, 0] + 500, e[:, 1] + 500),
                             crs=3006)
    folk["whole"] = folk.geometry.area
    pieces = gpd.overlay(cells, folk, how="intersection", keep_geom_type=True)
    pieces["share"] = pieces["pop"] * pieces.geometry.area / pieces["whole"]
    expected = pieces.groupby("unit_id")["share"].sum().reindex(ids).fillna(0).to_numpy()
    np.testing.assert_allclose(people, expected, rtol=1e-9, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# The command-line handlers


def _run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_more.add_parsers(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_compare_writes_the_columns_and_agrees_with_score_scenario(sample_with_scenarios, tmp_path, capsys):
    out, summary = tmp_path / "jmf.csv", tmp_path / "kommuner.csv"
    assert _run(["compare", str(sample_with_scenarios), "Vård först", "Vatten", "--out", str(out),
                 "--municipalities", str(summary)]) == 0
    table = pd.read_csv(out, dtype={"unit_id": str}).set_index("unit_id")
    assert list(table.columns) == ["score_a", "score_b", "rank_a", "rank_b", "rank_change", "class_a", "class_b"]
    excluded = _excluded_by_centre(sample_with_scenarios, table.index)
    assert excluded.sum() == 254 and table.loc[excluded].isna().all().all()  # empty cells in the CSV
    table = table.loc[~excluded]
    # What `skikt score --scenario NAME` scores: the project with that scenario applied.
    for side, name in (("a", "Vård först"), ("b", "Vatten")):
        project = cli_more.apply_scenario_arg(read_project(sample_with_scenarios), name)
        ws = Workspace(project)
        ws.update()
        alone = ws.result_table().set_index("unit_id").loc[table.index]
        np.testing.assert_allclose(table[f"score_{side}"], alone["score"], atol=1e-6)
        assert (table[f"rank_{side}"].to_numpy() == alone["rank"].to_numpy()).all()
        assert (table[f"class_{side}"].to_numpy() == alone["priority_class"].to_numpy()).all()
    kommuner = pd.read_csv(summary, dtype={"municipality": str})
    assert {"municipality", "municipality_name", "people_top_a", "people_top_b", "mean_rank_change"} <= set(kommuner)
    text = capsys.readouterr().out
    assert "positive = rises under 'Vatten'" in text and "units that rise most" in text


def test_cli_compare_gpkg_has_geometry_and_the_municipality_layer(sample_with_scenarios, tmp_path):
    import pyogrio

    out = tmp_path / "jmf.gpkg"
    _run(["compare", str(sample_with_scenarios), "Vård först", "-", "--out", str(out)])
    assert [name for name, _ in pyogrio.list_layers(out)] == ["compare", "municipalities"]
    units = gpd.read_file(out, layer="compare")
    assert len(units) == 25016 and units.geometry.area.round().eq(250_000).all()


@pytest.mark.parametrize("argv, message", [
    (["compare", "{p}", "Vård först", "Ingen", "--out", "{t}/x.csv"], 'no scenario named "Ingen"'),
    (["compare", "{p}", "Vård först", "Vatten", "--out", "{t}/x.xlsx"], "cannot write a comparison as '.xlsx'"),
])
def test_cli_compare_bad_input_is_one_line(sample_with_scenarios, tmp_path, argv, message):
    argv = [a.format(p=sample_with_scenarios, t=tmp_path) for a in argv]
    with pytest.raises(SkiktError) as err:
        _run(argv)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not list(tmp_path.glob("x.*"))


def test_cli_compare_never_writes_over_an_input(three):
    data = three.parent / "folk.gpkg"
    before = data.read_bytes()
    with pytest.raises(SkiktError) as err:
        _run(["compare", str(three), "A", "B", "--out", str(data)])
    assert str(err.value).startswith("folk.gpkg: ") and "\n" not in str(err.value)
    assert data.read_bytes() == before


def test_apply_scenario_arg_without_a_name_is_the_project_itself(three):
    project = read_project(three)
    assert cli_more.apply_scenario_arg(project, None) is project
    parser = argparse.ArgumentParser()
    cli_more.add_scenario_argument(parser)
    args = parser.parse_args(["--scenario", "B"])
    assert [s.indicator.weight for s in cli_more.apply_scenario_arg(project, args.scenario).indicator_layers()] \
        == [1.0, 3.0]


def test_a_unit_without_any_value_has_no_rank_and_no_rank_change(three, tmp_path):
    boxes = [shapely.box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(4)]
    gpd.GeoDataFrame({"code": ["a", "b", "c", "d"], "name": ["Aby", "Bby", "Cby", "Dby"],
                      "x1": [0.0, 5.0, 10.0, np.nan], "x2": [10.0, 0.0, 5.0, np.nan]}, geometry=boxes, crs=3006) \
        .to_file(tmp_path / "rutor.gpkg", layer="rutor", driver="GPKG")
    ws = Workspace(read_project(three))
    ws.update()
    table = compare(ws, "A", "B").set_index("unit_id")
    assert table.loc[["a", "b", "c"], "rank_change"].tolist() == [2, -1, -1]  # the three scored as before
    assert table.loc["d", ["rank_a", "rank_b", "rank_change", "class_a", "class_b"]].isna().all()
    assert np.isnan(table.loc["d", "score_a"])
    rising, falling = top_movers(table.reset_index(), 5)
    assert "d" not in set(rising["unit_id"]) | set(falling["unit_id"])
    out = tmp_path / "jmf.csv"
    cli_more.write_comparison(table.reset_index(), out)
    assert out.read_text(encoding="utf-8").splitlines()[4].startswith('"d",,,,,,,')
    summary = by_municipality(ws, table.reset_index()).set_index("municipality")
    assert summary.loc["d", "people_top_a"] == 0 and np.isnan(summary.loc["d", "mean_rank_change"])
