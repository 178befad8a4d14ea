"""The project file's schema: each hostile value gives exactly one line naming the file and the
key's path (0-based [[layers]] index); the lenient read for the app leaves out only bad layers."""

import pytest

from conftest import ROOT
from skikt.layers.errors import LoadError, ProjectError, SkiktError
from skikt.layers.metadata import read_sidecar
from skikt.layers.project import project_from_dict, read_project
from skikt.layers.schema import reference_rows

SAMPLE = (ROOT / "sample_data" / "sample_project.toml").read_text(encoding="utf-8")
# Layers in the sample, 0-based: 2 tatorter (where, visible), 3 vard (weight 3, meta.year),
# 5 kompetens (join), 11 socio (k = 5).
CASES = [
    ("k = 5", 'k = "abc"', 'layers[11].indicator.k: expected an integer 2–10, got "abc"'),
    ("k = 5", "k = inf", "layers[11].indicator.k: expected an integer 2–10, got inf"),
    ("k = 5", "k = nan", "layers[11].indicator.k: expected an integer 2–10, got nan"),
    ("k = 5", "k = 2.9", "layers[11].indicator.k: expected an integer 2–10, got 2.9"),
    ("k = 5", "k = 5.0", "layers[11].indicator.k: expected an integer 2–10, got 5.0"),
    ("k = 5", "k = 11", "layers[11].indicator.k: expected an integer 2–10, got 11"),
    ("weight = 3", "weight = true", "layers[3].indicator.weight: expected a number 0–1000, got true"),
    ("weight = 3", "weight = 1e39", "layers[3].indicator.weight: expected a number 0–1000, got 1e+39"),
    ("weight = 3", 'weight = "3"', 'layers[3].indicator.weight: expected a number 0–1000, got "3"'),
    ("weight = 3", "weight = -inf", "layers[3].indicator.weight: expected a number 0–1000, got -inf"),
    ("weight = 3", "weight = " + "9" * 400,
     "layers[3].indicator.weight: expected a number 0–1000, got 999999999999999…"),
    ("visible = false", 'visible = "false"',
     'layers[2].visible: expected true or false (without quotes), got "false"'),
    ("visible = false", "visible = 0", "layers[2].visible: expected true or false (without quotes), got 0"),
    ("visible = false", "opacity = 5", "layers[2].opacity: expected a number 0–1, got 5"),
    ('sector = "healthcare"', 'sector = ["healthcare"]',
     'layers[3].sector: expected one of transport, skills, culture, tourism, healthcare, water, civil_defence, '
     'socioeconomics, reference, got ["healthcare"]'),
    ("where = \"lan_code = '01'\"", "where = 5", "layers[2].where: expected a filter such as \"code = '14'\", got 5"),
    ("where = \"lan_code = '01'\"", "where = \"lan_code = \"",
     "layers[2].where: the filter expected a value ('text' or a number) but found end of filter"),
    ('[project]\ntitle = "Prioritering Stockholms län (exempel)"\ncrs = "EPSG:3006"', 'project = "abc"',
     'project: expected a table, got "abc"'),
    ("visible = false", 'style = { size = "big" }',
     'layers[2].style.size: expected a number above 0 and at most 1000 (points), got "big"'),
    ("visible = false", 'style = { colour = "notacolour" }',
     'layers[2].style.colour: expected a colour such as "#0072B2" or "red", got "notacolour"'),
    ("visible = false", 'style = "red"', 'layers[2].style: expected a table, got "red"'),
    ("year = 2020", 'year = "abc"', 'layers[3].meta.year: expected an integer 1000–2999, got "abc"'),
    ("cell_size = 500", "cell_size = 500\nclasses = 200", "units.classes: expected an integer 2–10, got 200"),
    ("cell_size = 500", "cell_size = 500\nclasses = 1", "units.classes: expected an integer 2–10, got 1"),
    ("cell_size = 500", "cell_size = inf",
     "units.cell_size: expected a number above 0 and at most 100000 (metres), got inf"),
    ("cell_size = 500", "cell_size = nan",
     "units.cell_size: expected a number above 0 and at most 100000 (metres), got nan"),
    ("cell_size = 500", "cell_size = -5",
     "units.cell_size: expected a number above 0 and at most 100000 (metres), got -5"),
    ("cell_size = 500", "cell_size = 0",
     "units.cell_size: expected a number above 0 and at most 100000 (metres), got 0"),
    ('id = "vard"', 'id = "lan"', "duplicate layer id(s): lan"),
    ('path = "health_facilities_osm.gpkg"\n', "", "layers[3].path: is missing but required"),
    ('crs = "EPSG:3006"', 'crs = "EPSG:4326"',
     "project.crs: EPSG:4326 is geographic (degrees): cell sizes, distances and areas need metres; use "
     "SWEREF 99 TM (EPSG:3006)"),
    ('crs = "EPSG:3006"', 'crs = "EPSG:4978"',
     "project.crs: EPSG:4978 is geocentric (earth-centred): cell sizes, distances and areas need a map projection "
     "in metres; use SWEREF 99 TM (EPSG:3006)"),
    ('crs = "EPSG:3006"', 'crs = "EPSG:2229"',  # California zone 5, US survey feet
     "project.crs: EPSG:2229 is not a projection in metres (unit: US survey foot); use SWEREF 99 TM (EPSG:3006)"),
    ('crs = "EPSG:3006"', 'crs = "EPSG:3857"',
     "project.crs: EPSG:3857 is a Mercator projection: at Swedish latitudes its metres are 1.7–2.8 real metres; "
     "use SWEREF 99 TM (EPSG:3006)"),
    ('crs = "EPSG:3006"', 'crs = \'LOCAL_CS["site",LOCAL_DATUM["d",0],UNIT["metre",1]]\'',
     'project.crs: LOCAL_CS["site",LOCAL_DATUM["d",0],UNIT["metre",1]] is not a map projection; use SWEREF 99 TM '
     "(EPSG:3006)"),
    ('join = { layer = "kommuner"', 'join = { layer = "kompetens"',
     "layers[5].join.layer: layer 'kompetens' joins itself"),
    ('id = "kommuner"\npath = "sweden_reference.gpkg"\n',
     'id = "kommuner"\npath = "sweden_reference.gpkg"\njoin = { layer = "kompetens", left = "code", right = "x" }\n',
     "layers[1].join.layer: the joins go round in a cycle: kommuner → kompetens → kommuner"),
    ('kind = "grid"', 'kind = "areas"', 'units.layer: is required when kind = "areas"'),
    ('kind = "grid"', 'kind = "areas"\nlayer = "nope"\nid = "code"', "units.layer: refers to unknown layer id 'nope'"),
    ("schema_version = 1", "schema_version = true", "schema_version: expected an integer 1–1000000, got true"),
]


def _write(tmp_path, text, name="sample.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("old,new,line", CASES, ids=[c[1][:40] for c in CASES])
def test_each_bad_value_gives_one_line_with_the_key_path(tmp_path, old, new, line):
    assert old in SAMPLE
    path = _write(tmp_path, SAMPLE.replace(old, new, 1))
    with pytest.raises(ProjectError) as info:
        read_project(path)
    assert str(info.value) == f"sample.toml: {line}"
    assert "\n" not in info.value.text("sv") and info.value.text("sv").startswith("sample.toml: ")


def test_messages_are_translated_whole():
    with pytest.raises(ProjectError) as info:
        project_from_dict({"layers": [{"id": "a", "path": "x", "indicator": {"method": "count", "k": "abc"}}]},
                          "p.toml")
    assert info.value.text("sv") == 'p.toml: layers[0].indicator.k: väntade ett heltal 2–10, fick "abc"'
    assert info.value.text("en") == 'p.toml: layers[0].indicator.k: expected an integer 2–10, got "abc"'


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"))
    proj = read_project(path)
    assert proj.title == "Prioritering Stockholms län (exempel)" and len(proj.layers) == 13


def test_valid_edge_values_are_accepted(tmp_path):
    text = SAMPLE.replace("k = 5", "k = 10").replace("weight = 3", "weight = 0").replace(
        "visible = false", "visible = true\nopacity = 0").replace("cell_size = 500", "cell_size = 0.5\nclasses = 2")
    text = text.replace('crs = "EPSG:3006"', 'crs = "EPSG:3006+5613"')  # compound: SWEREF 99 TM + RH2000
    proj = read_project(_write(tmp_path, text))
    assert proj.layer("socio").indicator.k == 10 and proj.layer("vard").indicator.weight == 0
    assert proj.layer("tatorter").opacity == 0 and proj.units.cell_size == 0.5 and proj.units.classes == 2


def test_layer_crs_may_be_geographic(tmp_path):
    text = SAMPLE.replace('path = "transportplan_wgs84.geojson"\n', 'path = "transportplan_wgs84.geojson"\ncrs = "EPSG:4326"\n')
    assert read_project(_write(tmp_path, text)).layer("transport").crs == "EPSG:4326"


def test_unknown_keys_are_kept_with_their_values():
    proj = project_from_dict({"future": {"x": [1, 2]}, "project": {"owner": "Region X"},
                              "layers": [{"id": "a", "path": "x", "colour_ramp": "new",
                                          "indicator": {"method": "count", "explain": True},
                                          "style": {"hatch": "//"}}],
                              "units": {"kind": "grid", "origin": [0, 0]}})
    assert proj.extra == {"future": {"x": [1, 2]}} and proj.project_extra == {"owner": "Region X"}
    a = proj.layer("a")
    assert a.extra == {"colour_ramp": "new"} and a.indicator.extra == {"explain": True}
    assert a.style == {"hatch": "//"} and proj.units.extra == {"origin": [0, 0]}


# ------------------------------------------------------------------------------------------------ sidecars


@pytest.mark.parametrize("text,line", [
    ('year = "abc"\n', 'roads.gpkg.meta.toml: year: expected an integer 1000–2999, got "abc"'),
    ('illustrative = "yes"\n', 'roads.gpkg.meta.toml: illustrative: expected true or false (without quotes), got "yes"'),
    ("year = [\n", "roads.gpkg.meta.toml: not valid TOML"),
])
def test_a_bad_sidecar_gives_one_line_naming_it(tmp_path, text, line):
    (tmp_path / "roads.gpkg.meta.toml").write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as info:
        read_sidecar(tmp_path / "roads.gpkg")
    assert str(info.value).startswith(line) and "\n" not in str(info.value)
    assert read_sidecar(tmp_path / "roads.gpkg", strict=False) == {}


def test_a_good_sidecar_is_read():
    side = read_sidecar(ROOT / "sample_data" / "civilforsvar.fgb")
    assert side["year"] == 2026 and side["illustrative"] is True


# ------------------------------------------------------------------------------------------------ lenient


def _lenient_copy(sample_copy, old, new):
    sample_copy.write_text(SAMPLE.replace(old, new, 1), encoding="utf-8")
    return sample_copy


def test_lenient_read_leaves_out_only_the_bad_layer(sample_copy):
    path = _lenient_copy(sample_copy, "where = \"lan_code = '01'\"", "where = 5")
    with pytest.raises(ProjectError):
        read_project(path)
    proj = read_project(path, lenient=True)
    assert [s.id for s in proj.layers] == ["lan", "kommuner", "vard", "transport", "kompetens", "kultur",
                                          "besoksmal", "vattenskydd", "vattenverk", "skyddsrum", "socio", "forsvar"]
    assert [str(e) for e in proj.layer_errors] == [
        "sample_project.toml: layers[2].where: expected a filter such as \"code = '14'\", got 5"]
    assert all(isinstance(e, ProjectError) for e in proj.layer_errors)


def test_lenient_read_keeps_several_errors_in_file_order(sample_copy):
    text = SAMPLE.replace("opacity", "x").replace("visible = false", "opacity = 5", 1).replace("k = 5", "k = 0")
    sample_copy.write_text(text, encoding="utf-8")
    proj = read_project(sample_copy, lenient=True)
    assert [e.at for e in proj.layer_errors] == ["layers[2].opacity", "layers[11].indicator.k"]
    assert "tatorter" not in [s.id for s in proj.layers] and "socio" not in [s.id for s in proj.layers]


@pytest.mark.parametrize("old,new,line", [
    # kommuner is the join layer of kompetens and socio: the rest cannot stand without it
    ('id = "kommuner"\npath = "sweden_reference.gpkg"\n', 'id = "kommuner"\npath = 5\n',
     "layers[1].path: expected a non-empty text in quotes, got 5"),
    # lan is the study area's layer
    ('id = "lan"\npath = "sweden_reference.gpkg"\n', 'id = "lan"\npath = "sweden_reference.gpkg"\nvisible = 1\n',
     "layers[0].visible: expected true or false (without quotes), got 1"),
    # outside [[layers]]
    ("cell_size = 500", "cell_size = inf", "units.cell_size: expected a number above 0"),
    ('[project]\ntitle = "Prioritering Stockholms län (exempel)"', '[project]\ntitle = 5',
     "project.title: expected a text in quotes, got 5"),
])
def test_lenient_read_still_refuses_what_others_depend_on(sample_copy, old, new, line):
    path = _lenient_copy(sample_copy, old, new)
    with pytest.raises(ProjectError) as info:
        read_project(path, lenient=True)
    assert str(info.value).startswith(f"sample_project.toml: {line}")


def test_lenient_units_layer_that_is_bad_is_fatal():
    data = {"layers": [{"id": "kom", "path": "k.gpkg", "opacity": 2}, {"id": "x", "path": "x.gpkg"}],
            "units": {"kind": "areas", "layer": "kom", "id": "code"}}
    with pytest.raises(ProjectError, match=r"layers\[0\].opacity"):
        project_from_dict(data, "p.toml", lenient=True)
    data["units"] = {"kind": "grid"}
    proj = project_from_dict(data, "p.toml", lenient=True)
    assert [s.id for s in proj.layers] == ["x"] and len(proj.layer_errors) == 1


def test_saving_a_lenient_project_keeps_the_bad_entry_as_written(sample_copy):
    from skikt.layers.project import write_project

    path = _lenient_copy(sample_copy, "where = \"lan_code = '01'\"", "where = 5")
    before = path.read_text(encoding="utf-8")
    proj = read_project(path, lenient=True)
    proj.layer("vard").indicator.weight = 4
    write_project(proj)
    after = path.read_text(encoding="utf-8")
    assert after == before.replace("weight = 3", "weight = 4", 1)


def test_reference_table_lists_every_key():
    keys = {row[0] for row in reference_rows()}
    assert {"layers[i].indicator.k", "units.cell_size", "project.crs", "layers[i].style.colour",
            "layers[i].meta.year", "units.study_area.where"} <= keys
    assert dict((r[0], r[1]) for r in reference_rows())["layers[i].indicator.k"] == "an integer 2–10"



@pytest.mark.parametrize("key", ["model_config", "model_fields", "__dict__", "__class__", "__pydantic_extra__",
                                 "_private", "copy", "json", "schema", "model_extra"])
def test_unknown_keys_named_like_python_internals_are_kept(key):
    data = {key: 1, "project": {key: 2}, "layers": [{"id": "a", "path": "x", key: 3,
                                                     "indicator": {"method": "count", key: 4}}], "units": {key: 5}}
    proj = project_from_dict(data)
    assert proj.extra == {key: 1} and proj.project_extra == {key: 2} and proj.units.extra == {key: 5}
    assert proj.layer("a").extra == {key: 3} and proj.layer("a").indicator.extra == {key: 4}


# Decision methods (issue 12): their keys live in the specs' `extra` for the engine, but are
# checked when the file is read, with the same one-line messages as every other key.
# The sample's own value curve on vard (issue 12): each case breaks its `points` line.
POINTS = "points = [[0, 0], [5000, 0], [30000, 1]]"
VARD = f'method = "distance"\ndirection = "high"\nnormalize = "piecewise"\n{POINTS}\nweight = 3'
DECISION_CASES = [
    (VARD, VARD.replace(POINTS + "\n", ""),
     'layers[3].indicator.points: is required when normalize = "piecewise"'),
    (VARD, VARD.replace(POINTS, "points = [[0, 0], [0, 1]]"),
     "layers[3].indicator.points: expected at least two [raw, value] pairs of finite numbers, raw values "
     "strictly increasing and values 0–1, got [[0, 0], [0, 1]]"),
    (VARD, VARD.replace(POINTS, "points = [[0, 0], [10, 2]]"),
     "layers[3].indicator.points: expected at least two [raw, value] pairs of finite numbers, raw values "
     "strictly increasing and values 0–1, got [[0, 0], [10, 2]]"),
    (VARD, VARD.replace(POINTS, "points = [[0, 0], [true, 1]]"),
     "layers[3].indicator.points: expected at least two [raw, value] pairs of finite numbers, raw values "
     "strictly increasing and values 0–1, got [[0, 0], [true, 1]]"),
    (VARD, VARD + '\nactive = "no"', 'layers[3].indicator.active: expected true or false (without quotes), got "no"'),
    ('id = "transport"', 'id = "transport"\nrole = "hide"', 'layers[4].role: expected one of exclude, got "hide"'),
    ('id = "transport"', 'id = "transport"\nrole = "exclude"',
     'layers[4].role: an exclusion layer (role = "exclude") cannot also be an indicator'),
    ('id = "transport"', 'id = "transport"\nexclude_share = 0.5',
     'layers[4].exclude_share: applies only to layers with role = "exclude"'),
    ("[units]", '[combine]\nmethod = "median"\n\n[units]', 'combine.method: expected one of mean, geometric, owa, got "median"'),
    ("[units]", '[combine]\nmethod = "owa"\nalpha = 0\n\n[units]',
     "combine.alpha: expected a number above 0 and at most 1000, got 0"),
    ("[units]", '[ahp]\norder = ["vard", "transport"]\nmatrix = "x"\n\n[units]',
     "ahp.matrix: expected a square table of positive numbers (Saaty's scale 1/9–9), got \"x\""),
    ("[units]", '[ahp]\norder = ["vard", "transport"]\nmatrix = [[1, 3], [0.5, 1]]\n\n[units]',
     "[ahp] matrix: 'transport' vs 'vard' must be 1/3 (the reciprocal of 'vard' vs 'transport'), got 0.5"),
]


@pytest.mark.parametrize("old,new,line", DECISION_CASES, ids=[c[2][:40] for c in DECISION_CASES])
def test_decision_method_keys_are_checked_when_read(tmp_path, old, new, line):
    assert old in SAMPLE
    path = _write(tmp_path, SAMPLE.replace(old, new, 1))
    with pytest.raises(SkiktError) as err:  # [ahp]'s deeper checks come from skikt.layers.ahp
        read_project(path)
    assert str(err.value) == f"sample.toml: {line}"


def test_decision_method_keys_reach_the_engine_where_it_reads_them(tmp_path):
    assert VARD in SAMPLE
    text = SAMPLE.replace(POINTS, "points = [[0, 0], [2500, 0.25], [30000, 1]]", 1)
    text = text.replace("[units]", '[combine]\nmethod = "owa"\nalpha = 2\n\n'
                                   '[ahp]\norder = ["vard", "transport"]\nmatrix = [[1, 3], [0.3333, 1]]\n\n[units]', 1)
    project = read_project(_write(tmp_path, text))
    assert project.layer("vard").indicator.normalize == "piecewise"
    assert project.layer("vard").indicator.extra["points"] == [[0, 0], [2500, 0.25], [30000, 1]]
    assert project.extra["combine"] == {"method": "owa", "alpha": 2}
    assert project.extra["ahp"]["order"] == ["vard", "transport"]
    keys = {row[0] for row in reference_rows()}
    assert {"layers[i].indicator.points", "layers[i].role", "combine.alpha", "ahp.matrix"} <= keys
