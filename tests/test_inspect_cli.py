"""`skikt inspect`, `score` and `compose` from the outside: output shape, figures, exit codes."""

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from conftest import ROOT, points_gdf, write_shapefile
from skikt.layers.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "layers", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def test_inspect_json_shape_and_figures(tmp_path, capsys):
    gdf = gpd.GeoDataFrame(
        {"namn": ["Åre", "Kiruna", "Lund", "Ystad"], "n": [1, 2, 3, 4]},
        geometry=[shapely.Point(1, 1), None, shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]), shapely.Point()],
        crs=3006)
    gdf.to_file(tmp_path / "x.gpkg", layer="blandat")
    assert main(["inspect", str(tmp_path / "x.gpkg"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"].endswith("x.gpkg")
    (lay,) = out["layers"]
    assert set(lay) >= {"name", "kind", "feature_count", "geometry_types", "crs", "null_geometries",
                        "empty_geometries", "invalid_geometries", "encoding", "columns", "preview", "warnings"}
    assert lay["name"] == "blandat" and lay["kind"] == "vector"
    assert lay["feature_count"] == 4  # the null geometry counts as a record
    assert (lay["null_geometries"], lay["empty_geometries"], lay["invalid_geometries"]) == (1, 1, 1)
    assert lay["crs"] == "EPSG:3006"
    assert set(lay["geometry_types"]) == {"Point", "Polygon"}
    assert lay["preview"][0] == {"namn": "Åre", "n": 1}
    assert any("mixed geometry" in w for w in lay["warnings"])


def test_inspect_shapefile_without_prj_reports_null_crs(tmp_path, capsys):
    write_shapefile(points_gdf([[600000, 6600000]], namn=["Järfälla"]), tmp_path / "a.shp", "cp1252",
                    cpg=False, prj=False)
    assert main(["inspect", str(tmp_path / "a.shp"), "--json"]) == 0
    (lay,) = json.loads(capsys.readouterr().out)["layers"]
    assert lay["crs"] is None and lay["encoding"] == "cp1252"
    assert lay["preview"] == [{"namn": "Järfälla"}]
    assert any("no coordinate system" in w and "EPSG:3006" in w for w in lay["warnings"])


def test_inspect_table(tmp_path, capsys):
    (tmp_path / "t.csv").write_bytes("Kommunkod;Värde\n114;1,5\n180;2\n".encode("cp1252"))
    assert main(["inspect", str(tmp_path / "t.csv"), "--json"]) == 0
    (lay,) = json.loads(capsys.readouterr().out)["layers"]
    assert lay["kind"] == "table" and lay["crs"] is None and lay["geometry_types"] == []
    assert lay["encoding"] == "cp1252" and lay["feature_count"] == 2
    assert lay["preview"][0] == {"Kommunkod": "114", "Värde": 1.5}


def test_bad_input_exits_2_with_one_line(tmp_path):
    (tmp_path / "cut.gpkg").write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    res = run("inspect", tmp_path / "cut.gpkg")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "cut.gpkg" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("edit,expect", [
    (lambda t: t.replace('path = "civilforsvar.fgb"', 'path = "saknas.fgb"'), "saknas.fgb: file not found"),
    (lambda t: t.replace('method = "coverage"', 'method = "magic"'), "magic"),  # wording belongs to the schema
    (lambda t: t.replace("schema_version = 1", "schema_version = 7"), "schema_version 7 is newer"),
    (lambda t: t.replace('layer = "kommuner", left', 'layer = "okand", left', 1), "unknown layer id 'okand'"),
    (lambda t: t.replace("code = '01'", "code = '01' or 1=1; drop"), "filter"),
])
def test_bad_project_exits_2(sample_copy, tmp_path, edit, expect):
    sample_copy.write_text(edit(sample_copy.read_text(encoding="utf-8")), encoding="utf-8")
    res = run("score", sample_copy, "--out", tmp_path / "o.csv")
    assert res.returncode == 2, res.stderr
    assert expect in res.stderr and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "o.csv").exists()


def test_score_outputs(sample_copy, tmp_path):
    res = run("score", sample_copy, "--out", tmp_path / "s.csv", "--sensitivity")
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(tmp_path / "s.csv", dtype={"unit_id": str})
    ids = ["vard", "transport", "kompetens", "kultur", "besoksmal", "vattenskydd", "skyddsrum", "socio"]
    for col in ["unit_id", "x", "y", "score", "rank", "priority_class"] + [f"{i}_{k}" for i in ids for k in ("raw", "norm")]:
        assert col in df.columns
    assert df["rank"].min() == 1 and df["rank"].max() <= len(df)
    top = df.loc[df["rank"] == 1, "score"].iloc[0]
    assert top == pytest.approx(df["score"].max())
    assert df["unit_id"].str.match(r"^500mE\d+N\d+$").all()
    # Cell centres sit half a cell inside SCB-aligned edges.
    assert ((df["x"] - 250) % 500 == 0).all() and ((df["y"] - 250) % 500 == 0).all()
    assert "sensitivity" in res.stdout
    res = run("score", sample_copy, "--out", tmp_path / "s.gpkg")
    assert res.returncode == 0, res.stderr
    g = gpd.read_file(tmp_path / "s.gpkg")
    assert len(g) == len(df) and g.crs.to_epsg() == 3006
    np.testing.assert_allclose(g.geometry.area, 500 * 500)
    np.testing.assert_allclose(g.sort_values("unit_id")["score"].to_numpy(),
                               df.sort_values("unit_id")["score"].to_numpy(), atol=1e-6)


def test_compose_writes_a_map_that_is_not_blank(sample_copy, tmp_path):
    out = tmp_path / "karta.png"
    res = run("compose", sample_copy, "--out", out, "--size", "800x500", "--dpi", "80")
    assert res.returncode == 0, res.stderr
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[:2] == (500, 800)
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50  # a real map, not an empty page
    res = run("compose", sample_copy, "--out", tmp_path / "k.pdf", "--lang", "en")
    assert res.returncode == 0 and (tmp_path / "k.pdf").read_bytes()[:4] == b"%PDF"


def test_a_full_run_never_writes_to_the_source_files(sample_copy, tmp_path):
    import hashlib

    folder = sample_copy.parent
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}
    assert run("score", sample_copy, "--out", tmp_path / "s.gpkg").returncode == 0
    assert run("compose", sample_copy, "--out", tmp_path / "k.png", "--size", "600x400").returncode == 0
    for p in folder.iterdir():
        if p.is_file():
            assert hashlib.sha256(p.read_bytes()).hexdigest() == before[p.name], p.name
    assert sorted(p.name for p in folder.iterdir()) == sorted(before)  # nothing added beside them either


def test_inspect_on_awkward_files_is_one_line_or_a_description(tmp_path):
    import hashlib
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    data = segment * 3072 + zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # 3 GiB of zeros
    name, size = b"data.csv", 3 << 30
    import struct

    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0, len(data), size,
                          len(name), 0, 0, 0, 0, 0, 0)
    body = local + name + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name), len(body), 0)
    (tmp_path / "bomb.zip").write_bytes(body + central + name + end)
    (tmp_path / "cut.zip").write_bytes(b"PK\x03\x04garbage")
    with pd.ExcelWriter(tmp_path / "bok.xlsx") as w:
        pd.DataFrame({"a": [1]}).to_excel(w, sheet_name="Ett", index=False)
        pd.DataFrame({"a": [2]}).to_excel(w, sheet_name="Två", index=False)
    (tmp_path / "unicode.txt").write_bytes("Kod\tNamn\r\n0114\tVäsby\r\n".encode("utf-16"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}

    res = run("inspect", tmp_path / "bomb.zip")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "bomb.zip: 'data.csv' unpacks to 3.0 GB, over the 2.0 GB limit" in res.stderr
    res = run("inspect", tmp_path / "cut.zip")
    assert res.returncode == 2 and res.stderr.strip().endswith("cut.zip: not a valid zip file (truncated or damaged)")
    res = run("inspect", tmp_path / "bok.xlsx")  # inspect lists every sheet, so it needs no choice
    assert res.returncode == 0 and "layer Ett (table)" in res.stdout and "layer Två (table)" in res.stdout
    res = run("inspect", tmp_path / "unicode.txt")
    assert res.returncode == 0 and "encoding UTF-16" in res.stdout and "Namn=Väsby" in res.stdout
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()} == before
