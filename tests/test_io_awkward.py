"""Messages that tell the truth about awkward files: locked or interrupted GeoPackages, Excel's
UTF-16 text, workbooks with several sheets, local coordinate systems, bad zips, and errors from
the reading libraries. Every file is made in the test."""

import hashlib
import sqlite3
import subprocess
import sys
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import skikt.layers.io as io
from conftest import points_gdf
from skikt.layers.errors import LoadError
from skikt.layers.inspect import inspect_path
from skikt.layers.io import list_layers, load, read_raw

XY = [[444000.0, 7030000.0], [587000.0, 6609000.0]]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(err, name):
    msg = str(err.value)
    assert msg.startswith(name + ": ") and "\n" not in msg and "Traceback" not in msg, msg
    return msg


# --- GeoPackages held by another program or left mid-write


HOLD_LOCK = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""

CRASH_MID_WRITE = """
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size = 2")  # spill changed pages into the file before the commit
con.execute("BEGIN")
con.execute("CREATE TABLE half_written (x)")
for _ in range(3000):
    con.execute("INSERT INTO half_written VALUES (?)", ("x" * 200,))
os._exit(1)  # killed: the rollback journal stays behind, hot
"""


def test_geopackage_locked_by_another_program_says_locked(tmp_path):
    gpkg = tmp_path / "last.gpkg"
    points_gdf(XY, namn=["a", "b"]).to_file(gpkg, layer="p")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(gpkg)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for call in (lambda: load(gpkg), lambda: list_layers(gpkg)):
            with pytest.raises(LoadError) as err:
                call()
            msg = one_line(err, "last.gpkg")
            assert "locked by another program" in msg and "damaged" not in msg
            assert "låst av ett annat program" in err.value.text("sv")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert len(load(gpkg).frame) == 2  # released: reads normally


def test_geopackage_with_a_hot_journal_is_read_as_sqlite_recovers_it_without_touching_it(tmp_path):
    gpkg = tmp_path / "avbruten.gpkg"
    points_gdf(XY, namn=["Åre", "Västerås"]).to_file(gpkg, layer="p")
    subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, str(gpkg)], check=False)
    journal = tmp_path / "avbruten.gpkg-journal"
    assert journal.exists() and journal.stat().st_size > 0
    # Independent check that the journal is hot: SQLite itself refuses to read it read-only.
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    con.close()
    before = {p.name: digest(p) for p in tmp_path.iterdir()}
    got = load(gpkg)
    assert list(got.frame["namn"]) == ["Åre", "Västerås"]
    assert any("interrupted write" in w for w in got.report.warnings)
    assert {p.name: digest(p) for p in tmp_path.iterdir()} == before  # the source and its journal untouched


# --- Tables


def test_excel_unicode_text_utf16_tab_separated_is_read(tmp_path):
    text = "Kommunkod\tKommun\tAndel\r\n0114\tUpplands Väsby\t12,5\r\n0180\tStockholm\t7,25\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))  # what Excel writes: a BOM, then UTF-16 LE
    assert path.read_bytes()[:2] == b"\xff\xfe"
    raw = read_raw(path)
    assert raw.kind == "table" and raw.report.encoding == "UTF-16"
    assert list(raw.frame["Kommunkod"]) == ["0114", "0180"]
    assert list(raw.frame["Kommun"]) == ["Upplands Väsby", "Stockholm"]
    assert raw.frame["Andel"].tolist() == [12.5, 7.25]
    path.write_bytes(text.encode("utf-16-le"))  # and without the BOM
    assert list(read_raw(path).frame["Kommun"]) == ["Upplands Väsby", "Stockholm"]


def test_workbook_with_several_sheets_asks_for_one(tmp_path):
    path = tmp_path / "bok.xlsx"
    with pd.ExcelWriter(path) as w:
        pd.DataFrame({"Kommunkod": ["0114"], "v": [1.5]}).to_excel(w, sheet_name="Kommuner", index=False)
        pd.DataFrame({"Länskod": ["01"], "v": [2.5]}).to_excel(w, sheet_name="Län", index=False)
    with pytest.raises(LoadError) as err:
        load(path)
    assert one_line(err, "bok.xlsx") == "bok.xlsx: has several sheets; choose one with layer = (Kommuner, Län)"
    assert err.value.text("sv") == "bok.xlsx: har flera blad; välj ett med layer = (Kommuner, Län)"
    assert load(path, "Län").frame["v"].tolist() == [2.5]
    with pytest.raises(LoadError, match=r"has no sheet 'Nope' \(sheets: Kommuner, Län\)"):
        load(path, "Nope")
    assert [lay["name"] for lay in inspect_path(path)["layers"]] == ["Kommuner", "Län"]


# --- Coordinate systems

LOCAL_CS = ('LOCAL_CS["Byggplatsens rutnät",LOCAL_DATUM["Site",0],UNIT["metre",1],'
            'AXIS["X",EAST],AXIS["Y",NORTH]]')


def test_prj_with_local_cs_gives_one_line(tmp_path):
    shp = tmp_path / "lokal.shp"
    points_gdf(XY, namn=["a", "b"]).to_file(shp)
    shp.with_suffix(".prj").write_text(LOCAL_CS)
    with pytest.raises(LoadError) as err:
        load(shp)
    msg = one_line(err, "lokal.shp")
    assert "local coordinate system (LOCAL_CS 'Byggplatsens rutnät')" in msg and "EPSG:3006" in msg
    got = load(shp, crs="EPSG:3006")  # the user says what it really is
    np.testing.assert_allclose(shapely.get_coordinates(got.frame.geometry), XY)
    info = inspect_path(shp)["layers"][0]
    assert any("LOCAL_CS" in w for w in info["warnings"])


# --- Zips and workbooks that are not what they say


def test_bad_zip_says_not_a_valid_zip_file(tmp_path):
    (tmp_path / "cut.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(LoadError) as err:
        load(tmp_path / "cut.zip")
    assert one_line(err, "cut.zip") == "cut.zip: not a valid zip file (truncated or damaged)"
    assert err.value.text("sv") == "cut.zip: inte en giltig zip-fil (avkortad eller skadad)"
    assert "BadZipFile" not in str(err.value)


def test_zip_whose_member_is_corrupt_says_not_a_valid_zip_file(tmp_path):
    good = tmp_path / "ok.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.csv", "Kommunkod;v\n" + "".join(f"{i:04d};{i},5\n" for i in range(2000)))
    data = bytearray(good.read_bytes())
    middle = 30 + len("t.csv") + 200
    data[middle:middle + 40] = bytes(40)  # damage the compressed bytes, keep the directory
    (tmp_path / "skadad.zip").write_bytes(bytes(data))
    with pytest.raises(LoadError) as err:
        load(tmp_path / "skadad.zip")
    assert one_line(err, "skadad.zip") == "skadad.zip: not a valid zip file (truncated or damaged)"


@pytest.mark.parametrize("content", [b"PK\x03\x04garbage", b"plain text, not a workbook"])
def test_xlsx_that_is_not_a_workbook(tmp_path, content):
    (tmp_path / "fel.xlsx").write_bytes(content)
    with pytest.raises(LoadError) as err:
        load(tmp_path / "fel.xlsx")
    assert one_line(err, "fel.xlsx") == "fel.xlsx: not a readable Excel workbook (damaged, or not really .xlsx)"


def test_zip_that_is_not_a_workbook_inside(tmp_path):
    with zipfile.ZipFile(tmp_path / "zip.xlsx", "w") as z:
        z.writestr("hello.txt", "not excel")
    with pytest.raises(LoadError) as err:
        list_layers(tmp_path / "zip.xlsx")
    assert one_line(err, "zip.xlsx").endswith("not a readable Excel workbook (damaged, or not really .xlsx)")


# --- Whatever a reading library raises is one line; Skikt's own bugs are not hidden


def _raiser(exc):
    def read(*args, **kwargs):
        raise exc
    return read


@pytest.mark.parametrize("exc,expect", [
    (MemoryError(), "too large to read into memory"),
    (PermissionError(13, "Permission denied"), "permission denied"),
    (sqlite3.DatabaseError("file is not a database"), "GeoPackage is truncated or damaged"),
    (zipfile.BadZipFile("Bad CRC-32 for file 'x'"), "not a valid zip file"),
    (OSError(28, "No space left on device"), "no space left on disk"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "cannot read"),
])
def test_library_errors_become_one_line(tmp_path, monkeypatch, exc, expect):
    points_gdf(XY, namn=["a", "b"]).to_file(tmp_path / "p.gpkg", layer="p")
    monkeypatch.setattr(gpd, "read_file", _raiser(exc))
    with pytest.raises(LoadError) as err:
        load(tmp_path / "p.gpkg")
    assert expect in one_line(err, "p.gpkg")


def test_pyogrio_and_pandas_errors_become_one_line(tmp_path, monkeypatch):
    import pyogrio.errors

    points_gdf(XY, namn=["a", "b"]).to_file(tmp_path / "p.gpkg", layer="p")
    monkeypatch.setattr(gpd, "read_file", _raiser(pyogrio.errors.DataSourceError("p.gpkg: odd failure\nmore")))
    with pytest.raises(LoadError) as err:
        load(tmp_path / "p.gpkg")
    assert one_line(err, "p.gpkg") == "p.gpkg: cannot read: odd failure"
    (tmp_path / "t.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    monkeypatch.setattr(pd, "read_csv", _raiser(pd.errors.ParserError("Error tokenizing data. C error")))
    with pytest.raises(LoadError) as err:
        load(tmp_path / "t.csv")
    assert "cannot parse as a table" in one_line(err, "t.csv")


def test_a_bug_in_skikt_is_not_disguised_as_a_bad_file(tmp_path, monkeypatch):
    points_gdf(XY, namn=["a", "b"]).to_file(tmp_path / "p.gpkg", layer="p")

    def buggy(*args, **kwargs):
        return {}["no such key"]  # a KeyError raised in Skikt's own code

    monkeypatch.setattr(io, "clean_geometries", buggy)
    with pytest.raises(KeyError):
        load(tmp_path / "p.gpkg")


@pytest.mark.parametrize("value", ["garbage", "9" * 400, "inf", "", "+proj=nonsense", "EPSG:"])
def test_parse_crs_refuses_garbage_in_one_short_line(value):
    from skikt.layers.crs import parse_crs
    from skikt.layers.errors import SkiktError

    with pytest.raises(SkiktError) as err:
        parse_crs(value, path="projekt.toml")
    msg = str(err.value)
    assert msg.startswith("projekt.toml: unknown coordinate system '") and msg.endswith("(try e.g. EPSG:3006)")
    assert len(msg) < 120 and "\n" not in msg
    assert err.value.text("sv").startswith("projekt.toml: okänt koordinatsystem '")


def test_inspect_lists_and_reads_a_geopackage_left_mid_write(tmp_path):
    gpkg = tmp_path / "avbruten.gpkg"
    points_gdf(XY, namn=["Åre", "Västerås"]).to_file(gpkg, layer="p")
    subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, str(gpkg)], check=False)
    before = {p.name: digest(p) for p in tmp_path.iterdir()}
    assert list_layers(gpkg) == ["p"]
    (lay,) = inspect_path(gpkg)["layers"]
    assert lay["feature_count"] == 2 and any("interrupted write" in w for w in lay["warnings"])
    assert {p.name: digest(p) for p in tmp_path.iterdir()} == before
