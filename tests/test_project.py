"""The project format: the published v1 keeps loading, unknown keys survive, bad files are refused."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from skikt.layers.errors import ProjectError, SkiktError
from skikt.layers.joins import join_table, normalise_codes
from skikt.layers.project import check_scorable, project_from_dict, read_project, write_project
from skikt.layers.where import filter_frame, parse_where
from skikt.layers.workspace import Workspace

V1 = ROOT / "tests" / "data" / "project_v1.toml"


def test_v1_fixture_loads_and_scores_by_municipality():
    ws = Workspace(read_project(V1))
    ws.update()
    assert ws.units.kind == "areas" and ws.units.n == 49  # Västra Götaland's municipalities
    assert all(code.startswith("14") for code in ws.units.ids)
    table = ws.result_table().set_index("unit_id")
    assert table.loc["1480", "name"] == "Göteborg"
    # Independent check: population of urban-area points per municipality by a geopandas sjoin.
    import geopandas as gpd

    kom = ws.layers["kommuner"].geo
    j = gpd.sjoin(ws.layers["tatorter"].geo, kom[kom.code.str.startswith("14")], predicate="within")
    expect = j.groupby("code_right")["pop"].sum().reindex(table.index, fill_value=0)
    np.testing.assert_allclose(table["tatorter_raw"], expect)
    # SCB's point for Göteborg's urban area lies just inside Mölndal on these boundaries.
    assert table["tatorter_raw"].idxmax() == "1481"


def test_round_trip_keeps_unknown_keys(tmp_path):
    text = V1.read_text(encoding="utf-8").replace("../../sample_data", str(ROOT / "sample_data"))
    text = text.replace('[project]\n', '[project]\nowner = "Region X"\n')
    text += '\n[[views]]\nname = "Vård först"\nzoom = [1, 2, 3, 4]\n'
    text = text.replace('weight = 2\n', 'weight = 2\nfuture_option = "kept"\n', 1)
    src = tmp_path / "p.toml"
    src.write_text(text, encoding="utf-8")
    proj = read_project(src)
    proj.layer("vard").indicator.weight = 5
    out = write_project(proj, tmp_path / "sub" / "copy.toml") if (tmp_path / "sub").mkdir() is None else None
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert data["views"][0]["name"] == "Vård först" and data["project"]["owner"] == "Region X"
    vard = next(d for d in data["layers"] if d["id"] == "vard")
    assert vard["indicator"]["weight"] == 5 and vard["indicator"]["future_option"] == "kept"
    again = read_project(out)
    assert again.resolve(again.layer("vard").path) == proj.resolve(proj.layer("vard").path)
    assert again.units.study_area == {"layer": "lan", "where": "code = '14'"}


def test_atomic_save_leaves_no_temp_files(tmp_path):
    proj = read_project(V1)
    out = write_project(proj, tmp_path / "a.toml")
    write_project(proj, out)
    assert [p.name for p in tmp_path.iterdir()] == ["a.toml"]


@pytest.mark.parametrize("patch,msg", [
    ({"schema_version": 2}, "newer than this Skikt"),
    ({"layers": [{"id": "Bad Id", "path": "x.gpkg"}]}, 'layers[0].id: expected an id of a–z, 0–9 and _'),
    ({"layers": [{"id": "a", "path": "x", "sector": "space"}]}, 'layers[0].sector: expected one of transport,'),
    ({"layers": [{"id": "a", "path": "x", "indicator": {"method": "attribute"}}]},
     'layers[0].indicator.column: is required for method "attribute"'),
    ({"layers": [{"id": "a", "path": "x", "indicator": {"method": "count", "weight": -1}}]},
     "layers[0].indicator.weight: expected a number 0–1000, got -1"),
    ({"layers": [{"id": "a", "path": "x", "indicator": {"method": "count", "normalize": "log"}}]},
     'layers[0].indicator.normalize: expected one of minmax, rank, zscore, classes, piecewise, got "log"'),
    ({"layers": [{"id": "a", "path": "x"}, {"id": "a", "path": "y"}]}, "duplicate layer id"),
    ({"units": {"kind": "hex"}}, 'units.kind: expected one of grid, areas, got "hex"'),
    ({"units": {"kind": "grid", "study_area": {"layer": "nope"}}},
     "units.study_area.layer: refers to unknown layer id 'nope'"),
    ({"project": {"crs": "EPSG:999999"}}, 'project.crs: expected a projected coordinate system in metres such as'),
])
def test_invalid_projects_are_refused(patch, msg):
    base = {"schema_version": 1, "project": {"title": "t"}, "layers": [], "units": {"kind": "grid"}}
    base.update(patch)
    with pytest.raises(ProjectError) as info:
        project_from_dict(base)
    assert msg in str(info.value)


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    import difflib

    diff = [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:2] in ("- ", "+ ")]
    return [(a[2:], b[2:]) for a, b in zip(diff[::2], diff[1::2])] if len(diff) % 2 == 0 else diff


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_save_changes_only_the_edited_line_and_keeps_the_mode(sample_copy, mode):
    import os
    import stat

    sample_copy.chmod(mode)
    before = sample_copy.read_text(encoding="utf-8")
    proj = read_project(sample_copy)
    proj.layer("kultur").indicator.weight = 2.5
    write_project(proj)
    after = sample_copy.read_text(encoding="utf-8")
    assert after.startswith("# Skikt sample project: Stockholms län, every sector, 500 m grid.\n")
    # kultur is the only layer with weight 1 after transport; find its weight line by position
    assert _changed_lines(before, after) == [("weight = 1", "weight = 2.5")]
    idx = before.index('id = "kultur"')
    assert after[:idx] == before[:idx]
    assert stat.S_IMODE(os.stat(sample_copy).st_mode) == mode
    assert sorted(p.name for p in sample_copy.parent.glob(".*tmp")) == []


def test_save_without_changes_is_byte_identical_with_comments_crlf_and_bom(tmp_path):
    text = V1.read_text(encoding="utf-8").replace("../../sample_data", str(ROOT / "sample_data"))
    text = text.replace("weight = 2\n", "weight = 2  # agreed with the board\nfuture = { a = 1 }\n", 1)
    raw = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
    path = tmp_path / "p.toml"
    path.write_bytes(raw)
    write_project(read_project(path))
    assert path.read_bytes() == raw
    proj = read_project(path)
    proj.layer("vard").indicator.weight = 7
    write_project(proj)
    assert path.read_bytes() == raw.replace(b"weight = 2  #", b"weight = 7  #", 1)


def test_save_adds_removes_and_reorders_layers_keeping_comments(tmp_path):
    from skikt.layers.project import LayerSpec

    text = V1.read_text(encoding="utf-8").replace("../../sample_data", str(ROOT / "sample_data"))
    text = text.replace('[[layers]]\nid = "vard"', '# Healthcare, our main concern\n[[layers]]\nid = "vard"')
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    proj = read_project(path)
    proj.layers = [s for s in proj.layers if s.id != "tatorter"]
    proj.layers.insert(0, LayerSpec(id="nytt", path=str(ROOT / "sample_data" / "civilforsvar.fgb"),
                                    sector="civil_defence", title="Nytt"))
    write_project(proj)
    out = path.read_text(encoding="utf-8")
    data = tomllib.loads(out)
    assert [d["id"] for d in data["layers"]] == ["nytt", "lan", "kommuner", "vard"]
    assert "# Healthcare, our main concern" in out and out.startswith("# A schema_version 1 project")
    again = read_project(path)
    assert again.resolve(again.layer("nytt").path).resolve() == ROOT / "sample_data" / "civilforsvar.fgb"
    assert again.layer("vard").indicator.weight == 2 and again.units.study_area["where"] == "code = '14'"


def test_save_flushes_and_fsyncs_file_and_folder(tmp_path, monkeypatch):
    import os
    import stat

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    out = write_project(read_project(V1), tmp_path / "new.toml")
    assert synced == [False, True]  # the temp file before the rename, then its folder
    old = os.umask(0o027)
    try:
        write_project(read_project(out), tmp_path / "fresh.toml")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.toml").st_mode) == 0o640  # a new file follows the umask


def test_save_into_a_read_only_folder_is_one_line_and_keeps_the_file(tmp_path, monkeypatch):
    import os

    out = write_project(read_project(V1), tmp_path / "p.toml")
    before = out.read_bytes()
    proj = read_project(out)
    proj.layer("vard").indicator.weight = 9
    real_open = os.open

    def refuse_new_files(path, flags, *args, **kw):  # what a read-only folder does (even for root)
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", refuse_new_files)
    with pytest.raises(ProjectError, match=r"^p.toml: cannot save the project: Permission denied$"):
        write_project(proj)
    monkeypatch.undo()
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["p.toml"]


@pytest.mark.parametrize("weights,msg", [
    ([], "no indicator layer"),
    ([0, 0.0], "every indicator weight is zero"),
    ([1e308, 1e308], "not a finite number"),  # weights set in memory, past the file's range
])
def test_check_scorable_refuses_a_project_without_weight(weights, msg):
    layers = [{"id": "ref", "path": "r.gpkg"}]
    layers += [{"id": f"i{n}", "path": "x.gpkg", "indicator": {"method": "count"}} for n in range(len(weights))]
    proj = project_from_dict({"layers": layers}, "p.toml")
    for spec, w in zip(proj.indicator_layers(), weights):
        spec.indicator.weight = w
    with pytest.raises(ProjectError, match=msg) as info:
        check_scorable(proj)
    assert str(info.value).startswith("p.toml: ") and "\n" not in str(info.value)


def test_check_scorable_accepts_one_positive_weight():
    proj = project_from_dict({"layers": [{"id": "a", "path": "x", "indicator": {"method": "count", "weight": 0}},
                                         {"id": "b", "path": "y", "indicator": {"method": "count", "weight": 0.5}}]})
    check_scorable(proj)


def test_not_toml(tmp_path):
    (tmp_path / "p.toml").write_text("this = is = not toml", encoding="utf-8")
    with pytest.raises(ProjectError, match="not valid TOML"):
        read_project(tmp_path / "p.toml")


# ------------------------------------------------------------------------------------------------ where


def test_where_parser_filters():
    df = pd.DataFrame({"code": ["01", "03", "14"], "pop": [10, 20, 30], "namn": ["Å", "B", "it's"]})
    assert list(filter_frame(df, "code = '14'")["pop"]) == [30]
    assert list(filter_frame(df, "code in ('01','03') and pop > 10")["code"]) == ["03"]
    assert list(filter_frame(df, "not (pop >= 20) or namn = 'it''s'")["code"]) == ["01", "14"]
    assert list(filter_frame(df, '"namn" = \'Å\'')["code"]) == ["01"]


@pytest.mark.parametrize("text", ["__import__('os').system('echo hi')", "code = '1'; drop table x",
                                  "code == 1 or", "pop > ", "code = foo", "exec('1')"])
def test_where_never_evaluates_code(text):
    with pytest.raises(SkiktError):
        filter_frame(pd.DataFrame({"code": ["1"], "pop": [1]}), text)


def test_where_unknown_column():
    with pytest.raises(SkiktError, match="unknown column 'kod'"):
        filter_frame(pd.DataFrame({"code": ["1"]}), "kod = '1'")
    assert parse_where("a = 1")[0] == "cmp"


# ------------------------------------------------------------------------------------------------ joins


def test_codes_that_lost_their_leading_zeros_still_join():
    import geopandas as gpd
    import shapely

    areas = gpd.GeoDataFrame({"code": ["0114", "0180", "1480"]}, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)])
    table = pd.DataFrame({"Kommunkod": [114, 180.0, "9999", None, "0114"], "v": [1, 2, 3, 4, 5]})
    joined, rep = join_table(table, "Kommunkod", areas, "code")
    assert rep.matched == 3 and rep.unmatched_values == ["9999"] and rep.missing_values == 1
    assert rep.duplicate_values == ["0114"] and rep.areas_without_data == ["1480"]
    assert list(joined["v"].iloc[:2]) == [1, 2] and np.isnan(joined["v"].iloc[2])
    assert any("9999" in line for line in rep.lines())
    assert list(normalise_codes(pd.Series(["1", 14.0, " 03 "]), 2)) == ["01", "14", "03"]


def test_sample_join_report(sample_ws):
    rep = sample_ws.layers["kompetens"].join_report
    assert rep.matched == 26 and rep.unmatched_values == ["1"]  # the county total row
    assert sample_ws.layers["socio"].join_report.match_rate == 1.0
