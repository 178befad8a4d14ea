"""Saved views, and [[scenarios]] / [[views]] / [[groups]] / population in the one schema (issue 10
items 3, 6, 8; issue 11 items 4, 7): checked when read, edited with undo, saved with nothing lost."""

from __future__ import annotations

import math
import tomllib

import geopandas as gpd
import pytest
import shapely

from conftest import ROOT, SAMPLE
from skikt.layers.errors import ProjectError, SkiktError
from skikt.layers.project import read_project, write_project
from skikt.layers.scenarios import add_scenario, delete_scenario, insert_scenario, read_scenarios, rename_scenario
from skikt.layers.views import (View, add_view, apply_view, delete_view, find_view, insert_view, move_view, read_views,
                                rename_view, replace_view, view_from_state)

V1 = ROOT / "tests" / "data" / "project_v1.toml"

# Layers are never loaded here: reading and saving a project does not open its data.
PROJECT = """\
# A hand-written project: every comment below must survive a save.
schema_version = 1
future_key = "kept"   # a key no Skikt knows yet

[project]
title = "Vyer"
crs = "EPSG:3006"
population = { layer = "folk", column = "pop", note = "kept" }

[[layers]]
id = "ref"
path = "ref.gpkg"

[[layers]]
id = "a"
path = "a.gpkg"
sector = "healthcare"
[layers.indicator]
method = "count"
weight = 2

[[layers]]
id = "b"
path = "b.gpkg"
sector = "water"
visible = false
[layers.indicator]
method = "count"
weight = 1

[[layers]]
id = "folk"
path = "folk.gpkg"

# --- scenarios ---
[[scenarios]]
name = "A först"   # the healthcare case
weights = { a = 5 }
description = "a väger mest"
colour = "#ff0000"   # unknown key inside an entry

[[scenarios]]
name = "B först"
weights = { a = 0, b = 4 }

# --- views ---
[[views]]
name = "Översikt"
title = "Hela området"
extent = [600000, 6500000, 760000, 6700000]   # SWEREF 99 TM
layers = ["ref", "a"]
notes = \"\"\"
Första raden.
Andra raden.\"\"\"
zoom_hint = 3   # unknown key

[[views]]
name = "Detalj"
subtitle = "B först"
extent = [650000.5, 6550000, 700000, 6600000]
scenario = "B först"

# --- groups ---
[[groups]]
id = "kommunerna"
name = "Kommunerna"
colour = "#1F78B4"
weights = { a = 60, b = 40 }   # 100 points

[[groups]]
id = "regionen"
name = "Regionen"
colour = "#33a02c"
weights = { b = 100 }
seat = 7   # unknown key

[units]
kind = "grid"
cell_size = 1000
"""


@pytest.fixture
def project_path(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PROJECT, encoding="utf-8")
    return path


def _data(path) -> dict:
    """The file as plain data, by tomllib (the oracle: not Skikt's reader)."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# ------------------------------------------------------------------------------------------------
# Round trip


def test_unchanged_project_saves_byte_identical(project_path, tmp_path):
    project = read_project(project_path)
    out = write_project(project, tmp_path / "copy.toml")
    assert out.read_text(encoding="utf-8") == PROJECT


def test_edited_entries_round_trip_with_nothing_lost(project_path):
    project = read_project(project_path)
    expected = _data(project_path)
    # Edit one of each: a new view from the map, a renamed scenario, a group's points.
    view = view_from_state(project, (640000, 6560000, 690000, 6610000), ["b", "ref"], "A först", name="Ny",
                           title="Ny vy", notes="Säg något.")
    add_view(project, view, 1)
    rename_scenario(project, "B först", "Bara B")
    project.extra["groups"][1]["weights"]["a"] = 25
    write_project(project)

    saved = project_path.read_text(encoding="utf-8")
    got = _data(project_path)
    expected["scenarios"][1]["name"] = "Bara B"
    expected["views"][1]["scenario"] = "Bara B"  # the view follows its scenario
    expected["views"].insert(1, {"name": "Ny", "title": "Ny vy", "extent": [640000, 6560000, 690000, 6610000],
                                 "layers": ["ref", "b"], "scenario": "A först", "notes": "Säg något."})
    expected["groups"][1]["weights"]["a"] = 25
    assert got == expected  # unknown keys at every level included
    for comment in ("# A hand-written project", "# a key no Skikt knows yet", "# the healthcare case",
                    "# unknown key inside an entry", "# --- views ---", "# SWEREF 99 TM", "# unknown key",
                    "# --- groups ---", "# 100 points"):
        assert comment in saved, comment
    # Read back by Skikt: the same model.
    again = read_project(project_path)
    assert again == project
    assert read_views(again) == read_views(project)
    assert [v.name for v in read_views(again)] == ["Översikt", "Ny", "Detalj"]
    assert again.population == {"layer": "folk", "column": "pop", "note": "kept"}


def test_deleting_every_entry_removes_the_key(project_path):
    project = read_project(project_path)
    for name in ("Översikt", "Detalj"):
        delete_view(project, name)
    write_project(project)
    data = _data(project_path)
    assert "views" not in data and len(data["scenarios"]) == 2 and len(data["groups"]) == 2


def test_v1_fixture_still_loads_unchanged(tmp_path):
    project = read_project(V1)
    assert project.extra == {} and project.population is None
    assert read_views(project) == [] and read_scenarios(project) == []
    out = write_project(project, tmp_path / "v1.toml")
    again = read_project(out)
    assert [again.resolve(s.path).resolve() for s in again.layers] == \
        [(V1.parent / d["path"]).resolve() for d in _data(V1)["layers"]]
    for saved, first in zip(_data(out)["layers"], _data(V1)["layers"]):
        assert {k: v for k, v in saved.items() if k != "path"} == {k: v for k, v in first.items() if k != "path"}


# ------------------------------------------------------------------------------------------------
# The schema: one line per problem, with the key path


@pytest.mark.parametrize("old,new,line", [
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [650000, 6550000, 700000]",
     "views[1].extent: expected [xmin, ymin, xmax, ymax]: four finite numbers in the project's coordinate system "
     "with xmin < xmax and ymin < ymax, got [650000, 6550000, 700000]"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [700000, 6550000, 650000, 6600000]",
     "views[1].extent: expected [xmin, ymin, xmax, ymax]"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [650000, 6600000, 700000, 6600000]",
     "views[1].extent: expected [xmin, ymin, xmax, ymax]"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [650000, nan, 700000, 6600000]",
     "got [650000, nan, 700000, 6600000]"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [-inf, 6550000, 700000, 6600000]",
     "views[1].extent: expected"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", "extent = [true, 6550000, 700000, 6600000]",
     "got [true, 6550000, 700000, 6600000]"),
    ("extent = [650000.5, 6550000, 700000, 6600000]", 'extent = "650000 6550000 700000 6600000"',
     "views[1].extent: expected"),
    ('layers = ["ref", "a"]', 'layers = ["ref", "nope"]', 'views[0].layers[1]: no layer has the id "nope"'),
    ('layers = ["ref", "a"]', 'layers = "ref"',
     'views[0].layers: expected a list of layer ids such as ["vard", "kommuner"], got "ref"'),
    ('layers = ["ref", "a"]', 'layers = ["Ref"]', "views[0].layers[0]: expected an id of a–z, 0–9 and _"),
    ('scenario = "B först"', 'scenario = "C först"',
     'views[1].scenario: no scenario named "C först" (known: "A först", "B först")'),
    ('name = "Detalj"', 'name = "Översikt"', 'views[1].name: the name "Översikt" is already used by views[0]'),
    ('name = "Detalj"', 'title = "ingen namn"', "views[1].name: is missing but required"),
    ('title = "Hela området"', "title = 5", "views[0].title: expected a text in quotes, got 5"),
    ('colour = "#1F78B4"', 'colour = "blue"',
     'groups[0].colour: expected a colour "#rrggbb" such as "#1f78b4", got "blue"'),
    ('id = "kommunerna"', 'id = "Kommunerna"', "groups[0].id: expected an id of a–z, 0–9 and _"),
    ('id = "kommunerna"', 'id = "regionen"', 'groups[1].id: the id "regionen" is already used by groups[0]'),
    ("weights = { a = 60, b = 40 }", "weights = { a = 60, ref = 40 }",
     'groups[0].weights.ref: layer "ref" is not an indicator layer and has no weight'),
    ("weights = { a = 60, b = 40 }", "weights = { a = 0, b = 0 }",
     "groups[0].weights: the group gives no points to any indicator layer"),
    ("weights = { a = 60, b = 40 }", "weights = { a = -60, b = 40 }",
     "groups[0].weights.a: expected a number 0–1000, got -60"),
    ("weights = { a = 60, b = 40 }", 'weights = { a = "60" }', 'groups[0].weights.a: expected a number 0–1000, got "60"'),
    ("weights = { a = 5 }", "weights = { a = 5, x = 1 }", 'scenarios[0].weights.x: no layer has the id "x"'),
    ('name = "B först"', 'name = "A först"', 'scenarios[1].name: the name "A först" is already used by scenarios[0]'),
    ('population = { layer = "folk", column = "pop", note = "kept" }', 'population = { layer = "nobody", column = "pop" }',
     "project.population.layer: refers to unknown layer id 'nobody'"),
    ('population = { layer = "folk", column = "pop", note = "kept" }', 'population = { layer = "folk", column = "" }',
     'project.population.column: expected a non-empty text in quotes, got ""'),
])
def test_bad_entries_are_one_line_with_their_key_path(project_path, old, new, line):
    project_path.write_text(_replace(PROJECT, old, new), encoding="utf-8")
    with pytest.raises(ProjectError) as err:
        read_project(project_path)
    text = str(err.value)
    assert "\n" not in text and text.startswith("p.toml: ") and line in text, text


def test_views_table_not_an_array_of_tables(project_path):
    text = PROJECT[: PROJECT.index("# --- views ---")] + '[views]\nname = "x"\n\n[units]\nkind = "grid"\n'
    project_path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError) as err:
        read_project(project_path)
    assert str(err.value) == 'p.toml: views: expected [[views]] tables, got { name = "x" }'
    assert err.value.text("sv") == 'p.toml: views: väntade [[views]]-tabeller, fick { name = "x" }'


def test_lenient_read_leaves_out_bad_entries_and_saves_them_back(project_path):
    bad = _replace(PROJECT, 'scenario = "B först"', 'scenario = "Saknas"')  # views[1]
    bad = _replace(bad, 'colour = "#33a02c"', 'colour = "green"')  # groups[1]
    project_path.write_text(bad, encoding="utf-8")
    project = read_project(project_path, lenient=True)
    assert [str(e) for e in project.layer_errors] == [
        'p.toml: views[1].scenario: no scenario named "Saknas" (known: "A först", "B först")',
        'p.toml: groups[1].colour: expected a colour "#rrggbb" such as "#1f78b4", got "green"']
    assert [v.name for v in read_views(project)] == ["Översikt"]
    assert [g["id"] for g in project.extra["groups"]] == ["kommunerna"]
    write_project(project)
    assert project_path.read_text(encoding="utf-8") == bad  # nothing the user wrote is lost
    # An edit elsewhere keeps the left-out entries where they were.
    add_view(project, view_from_state(project, (1, 2, 3, 4), ["a"], name="Till sist"))
    write_project(project)
    data = _data(project_path)
    assert [v["name"] for v in data["views"]] == ["Översikt", "Detalj", "Till sist"]
    assert data["groups"][1]["colour"] == "green"


def test_lenient_read_keeps_views_of_a_left_out_layer(project_path):
    project_path.write_text(_replace(PROJECT, 'path = "a.gpkg"', "path = 5"), encoding="utf-8")
    project = read_project(project_path, lenient=True)
    assert [e.at for e in project.layer_errors] == ["layers[1].path"]  # only the layer itself
    assert [v.name for v in read_views(project)] == ["Översikt", "Detalj"]


# ------------------------------------------------------------------------------------------------
# Opening a view, making one, editing the list


def test_apply_view_sets_visibility_weights_and_extent(project_path):
    project = read_project(project_path)
    shown, extent = apply_view(project, "Översikt")
    assert {s.id: s.visible for s in shown.layers} == {"ref": True, "a": True, "b": False, "folk": False}
    assert {s.id: s.indicator.weight for s in shown.indicator_layers()} == {"a": 2.0, "b": 1.0}  # no scenario
    assert extent == (600000.0, 6500000.0, 760000.0, 6700000.0)
    shown, extent = apply_view(project, find_view(project, "Detalj"))
    # No layers listed: each layer keeps its own visibility. Scenario "B först": a = 0, b = 4.
    assert {s.id: s.visible for s in shown.layers} == {"ref": True, "a": True, "b": False, "folk": True}
    assert {s.id: s.indicator.weight for s in shown.indicator_layers()} == {"a": 0.0, "b": 4.0}
    assert extent == (650000.5, 6550000.0, 700000.0, 6600000.0)
    assert {s.id: s.indicator.weight for s in project.indicator_layers()} == {"a": 2.0, "b": 1.0}  # untouched


def test_view_from_state_checks_what_it_is_given(project_path):
    project = read_project(project_path)
    view = view_from_state(project, [1.0, 2.0, 3.0, 4.0], ["folk", "a"], "-")
    assert view == View("Vy 3", extent=(1.0, 2.0, 3.0, 4.0), layers=["a", "folk"])  # project order; "-" = none
    for extent in ((3, 2, 1, 4), (0, 0, math.inf, 1), (0, 0, 1)):
        with pytest.raises(ProjectError, match=r"views\[2\]\.extent: expected \[xmin"):
            view_from_state(project, extent, ["a"])
    with pytest.raises(ProjectError, match=r'views\[2\]\.layers\[1\]: no layer has the id "zz"'):
        view_from_state(project, (0, 0, 1, 1), ["a", "zz"])
    with pytest.raises(ProjectError, match=r'views\[2\]\.scenario: no scenario named "Z"'):
        view_from_state(project, (0, 0, 1, 1), ["a"], "Z")
    with pytest.raises(ProjectError, match='already a view named "Detalj"'):
        view_from_state(project, (0, 0, 1, 1), ["a"], name=" Detalj ")


def test_edit_helpers_return_what_undo_needs(project_path):
    project = read_project(project_path)
    original = [dict(v) for v in project.extra["views"]]
    index, removed = delete_view(project, "Översikt")
    assert index == 0 and removed.extra == {"zoom_hint": 3}
    insert_view(project, index, removed)
    assert project.extra["views"] == original
    assert move_view(project, "Detalj", 0) == 1
    assert [v.name for v in read_views(project)] == ["Detalj", "Översikt"]
    move_view(project, "Detalj", 1)
    assert rename_view(project, "Detalj", "  Närbild ") == "Närbild"
    rename_view(project, "Närbild", "Detalj")
    edited = find_view(project, "Detalj")
    edited.title = "Ny titel"
    before = replace_view(project, edited)
    assert find_view(project, "Detalj").title == "Ny titel"
    replace_view(project, before)
    assert project.extra["views"] == original
    # Refused edits change nothing.
    for bad in (lambda: rename_view(project, "Detalj", "Översikt"), lambda: rename_view(project, "Detalj", " "),
                lambda: add_view(project, View("X", extent=(0, 0, 0, 0))),
                lambda: add_view(project, View("X", layers=["nope"])), lambda: find_view(project, "Ingen")):
        with pytest.raises(SkiktError):
            bad()
    assert project.extra["views"] == original


def test_scenario_edits_keep_views_pointing_at_them(project_path):
    project = read_project(project_path)
    rename_scenario(project, "B först", "B2")
    assert find_view(project, "Detalj").scenario == "B2"
    index, removed = delete_scenario(project, "B2")
    assert find_view(project, "Detalj").scenario is None  # shows the project's weights now
    insert_scenario(project, index, removed)  # undo
    assert find_view(project, "Detalj").scenario == "B2"
    with pytest.raises(SkiktError):  # a scenario edit the schema refuses changes nothing
        add_scenario(project, "C", {"ref": 1})
    assert [s.name for s in read_scenarios(project)] == ["A först", "B2"]


# ------------------------------------------------------------------------------------------------
# The sample: scenarios, a story in views, groups


def test_sample_has_scenarios_views_and_groups_that_fit_the_county():
    project = read_project(SAMPLE / "sample_project.toml")
    scenarios = read_scenarios(project)
    views = read_views(project)
    assert len(scenarios) >= 2 and len(views) >= 4
    assert {v.scenario for v in views} >= {s.name for s in scenarios}  # every scenario is shown somewhere
    lan = gpd.read_file(SAMPLE / "sweden_reference.gpkg", layer="lan").to_crs(3006)
    county = lan[lan["code"] == "01"].geometry.union_all()
    for view in views:
        assert view.title and view.subtitle and len(view.notes) > 100, view.name
        box = shapely.box(*view.extent)
        # The view looks at the county: most of it is county (land or water inside the county line),
        # or it holds the whole county.
        inside = box.intersection(county).area
        assert inside / box.area > 0.3 or inside / county.area > 0.99, view.name
    groups = project.extra["groups"]
    assert len(groups) >= 2 and all(sum(g["weights"].values()) == 100 for g in groups)
    assert project.population == {"layer": "tatorter", "column": "pop"}


def test_sample_speaker_notes_tell_what_the_scores_show():
    """The compare views' notes say: under Vård först almost the whole top class lies in Norrtälje
    and Nynäshamn has none; under Beredskap Nynäshamn has more than 250 top-class cells. Checked
    with two separate scorings and a geopandas join of the cells (from their SCB names) to the
    municipalities."""
    from skikt.layers.scenarios import apply_scenario
    from skikt.layers.workspace import Workspace

    project = read_project(SAMPLE / "sample_project.toml")
    kommuner = gpd.read_file(SAMPLE / "sweden_reference.gpkg", layer="kommuner").to_crs(3006)
    top = {}
    for name in ("Vård först", "Beredskap"):
        ws = Workspace(apply_scenario(project, name))
        ws.update()
        table = ws.result_table()
        cells = table[table["priority_class"] == 1]["unit_id"].str.extract(r"E(\d+)N(\d+)").astype(float)
        centres = gpd.GeoDataFrame(geometry=gpd.points_from_xy(cells[0] + 250, cells[1] + 250), crs=3006)
        joined = gpd.sjoin(centres, kommuner[["name", "geometry"]], predicate="within")
        top[name] = joined["name"].value_counts()
    assert top["Vård först"].get("Nynäshamn", 0) == 0
    assert top["Vård först"].get("Norrtälje", 0) > 0.9 * top["Vård först"].sum()
    assert top["Beredskap"].get("Nynäshamn", 0) > 250
    assert top["Beredskap"].get("Haninge", 0) > top["Vård först"].get("Haninge", 0)


def test_a_new_file_writes_entries_as_tables_after_the_units(project_path, tmp_path):
    project = read_project(project_path)
    project.document = None  # as for a project made in the app, never read from a file
    out = write_project(project, tmp_path / "new.toml")
    text = out.read_text(encoding="utf-8")
    assert text.index("[units]") < text.index("[[scenarios]]") < text.index("[[views]]") < text.index("[[groups]]")
    assert text.count("[[views]]") == 2
    data, first = _data(out), _data(project_path)
    for key in ("scenarios", "views", "groups", "project", "future_key"):
        assert data[key] == first[key], key
    assert read_project(out) == project
