"""Loading the files regions actually receive, and failing clearly on the ones that cannot load."""

import hashlib
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from conftest import points_gdf, write_shapefile
from skikt.layers.errors import CRSRequired, LoadError
from skikt.layers.io import detect_dbf_encoding, list_layers, load, read_raw

NAMES = ["Åre", "Västerås", "Göteborg", "Örebro"]
# SWEREF 99 TM positions, and the same points in RT90 2.5 gon V.
SWEREF = np.array([[444000.0, 7030000.0], [587000.0, 6609000.0], [319000.0, 6400000.0], [513000.0, 6570000.0]])
RT90 = np.column_stack(Transformer.from_crs(3006, 3021, always_xy=True).transform(*SWEREF.T))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rt90_latin1_shapefile_without_cpg(tmp_path):
    shp = write_shapefile(points_gdf(RT90, crs=3021, namn=NAMES), tmp_path / "orter.shp", "cp1252", cpg=False)
    before = {p.name: digest(p) for p in tmp_path.iterdir()}
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert got.report.encoding == "cp1252"
    assert got.report.source_crs == "EPSG:3021" and got.report.reprojected_to == "EPSG:3006"
    np.testing.assert_allclose(shapely.get_coordinates(got.frame.geometry), SWEREF, atol=0.01)
    assert {p.name: digest(p) for p in tmp_path.iterdir()} == before  # source files never written


def test_utf8_shapefile_without_cpg_is_not_read_as_latin1(tmp_path):
    shp = write_shapefile(points_gdf(SWEREF, namn=NAMES), tmp_path / "u.shp", "UTF-8", cpg=False)
    assert not shp.with_suffix(".cpg").exists()
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert got.report.encoding == "UTF-8"


def test_cpg_that_lies_is_overruled_with_a_warning(tmp_path):
    shp = write_shapefile(points_gdf(SWEREF, namn=NAMES), tmp_path / "l.shp", "cp1252", cpg=False)
    shp.with_suffix(".cpg").write_text("UTF-8")
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert any("not valid UTF-8" in w for w in got.report.warnings)


def test_detect_encoding_on_plain_ascii_keeps_label():
    header = bytearray(32)
    header[8:10] = (32).to_bytes(2, "little")
    assert detect_dbf_encoding(bytes(header) + b"plain", None)[0] == "UTF-8"


def test_missing_prj_is_never_guessed(tmp_path):
    shp = write_shapefile(points_gdf(SWEREF, namn=NAMES), tmp_path / "noprj.shp", "UTF-8", prj=False)
    with pytest.raises(CRSRequired) as err:
        load(shp)
    assert "EPSG:3006" in err.value.suggestions and "EPSG:4326" not in err.value.suggestions
    assert "noprj.shp" in str(err.value) and "\n" not in str(err.value)
    got = load(shp, crs="EPSG:3006")
    np.testing.assert_allclose(shapely.get_coordinates(got.frame.geometry), SWEREF)


def test_wgs84_coordinates_without_prj_suggest_wgs84(tmp_path):
    lonlat = np.column_stack(Transformer.from_crs(3006, 4326, always_xy=True).transform(*SWEREF.T))
    shp = write_shapefile(points_gdf(lonlat, crs=4326, namn=NAMES), tmp_path / "ll.shp", "UTF-8", prj=False)
    with pytest.raises(CRSRequired) as err:
        load(shp)
    assert err.value.suggestions == ["EPSG:4326"]


def test_zipped_shapefile_and_member_choice(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_shapefile(points_gdf(RT90, crs=3021, namn=NAMES), folder / "a.shp", "cp1252", cpg=False)
    write_shapefile(points_gdf(SWEREF[:2], namn=NAMES[:2]), folder / "b.shp", "UTF-8")
    one = tmp_path / "one.zip"
    with zipfile.ZipFile(one, "w") as z:
        for f in folder.glob("a.*"):
            z.write(f, f"data/{f.name}")
    got = load(one)
    assert list(got.frame["namn"]) == NAMES
    both = tmp_path / "both.zip"
    with zipfile.ZipFile(both, "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    assert sorted(list_layers(both)) == ["a.shp", "b.shp"]
    with pytest.raises(LoadError, match="several data files"):
        load(both)
    assert len(load(both, "b").frame) == 2


def test_geojson_wgs84_and_flatgeobuf(tmp_path):
    gdf = points_gdf(SWEREF, namn=NAMES)
    gdf.to_crs(4326).to_file(tmp_path / "p.geojson", driver="GeoJSON")
    gdf.to_file(tmp_path / "p.fgb", driver="FlatGeobuf")
    for name in ("p.geojson", "p.fgb"):
        got = load(tmp_path / name).frame.set_index("namn").loc[NAMES]  # FlatGeobuf reorders by its index
        np.testing.assert_allclose(shapely.get_coordinates(got.geometry), SWEREF, atol=0.01)


def test_swedish_csv_with_lat_lon(tmp_path):
    lon, lat = Transformer.from_crs(3006, 4326, always_xy=True).transform(*SWEREF.T)
    rows = ["Namn;Latitud;Longitud;Besökare"] + [
        f"{n};{la:.6f};{lo:.6f};{v}".replace(".", ",") for n, la, lo, v in zip(NAMES, lat, lon, ["1 200,5", "3", "4", "5"])]
    path = tmp_path / "platser.csv"
    path.write_bytes("\r\n".join(rows).encode("cp1252"))
    got = load(path)
    assert list(got.frame["Namn"]) == NAMES
    assert got.frame["Besökare"].tolist() == [1200.5, 3.0, 4.0, 5.0]
    assert got.report.encoding == "cp1252"
    np.testing.assert_allclose(shapely.get_coordinates(got.frame.geometry), SWEREF, atol=1.0)


def test_csv_with_easting_northing_needs_a_crs(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text("namn,E,N\n" + "\n".join(f"{n},{x},{y}" for n, (x, y) in zip(NAMES, SWEREF)), encoding="utf-8")
    with pytest.raises(CRSRequired) as err:
        load(path)
    assert err.value.suggestions[0] == "EPSG:3006"
    assert len(load(path, crs="3006").frame) == 4


def test_plain_table_keeps_codes_as_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Kommunkod;Värde\n0114;1,5\n0180;2,25\n", encoding="utf-8")
    raw = read_raw(path)
    assert raw.kind == "table"
    assert list(raw.frame["Kommunkod"]) == ["0114", "0180"]
    assert raw.frame["Värde"].tolist() == [1.5, 2.25]


def test_xlsx_table(tmp_path):
    path = tmp_path / "s.xlsx"
    pd.DataFrame({"Kommunkod": [114, 180], "Namn": ["Upplands Väsby", "Stockholm"]}).to_excel(path, index=False)
    raw = read_raw(path)
    assert raw.kind == "table" and list(raw.frame["Namn"]) == ["Upplands Väsby", "Stockholm"]
    assert list(raw.frame["Kommunkod"]) == ["114", "180"]


def test_invalid_null_and_empty_geometries(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    ok = shapely.box(20, 20, 30, 30)
    gdf = gpd.GeoDataFrame({"v": [1, 2, 3, 4]}, geometry=[bowtie, ok, None, shapely.Polygon()], crs=3006)
    gdf.to_file(tmp_path / "g.gpkg", layer="g")
    got = load(tmp_path / "g.gpkg")
    r = got.report
    assert (r.null_geometries, r.empty_geometries, r.invalid_repaired) == (1, 1, 1)
    assert len(got.frame) == 2 and shapely.is_valid(got.frame.geometry).all()
    assert got.frame.geometry.iloc[0].area == pytest.approx(50.0)  # the two triangles of the bow tie
    assert r.feature_count == 4


def test_mixed_geometry_types_refused_then_split(tmp_path):
    gdf = gpd.GeoDataFrame({"v": [1, 2, 3]}, geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1),
                                                        shapely.Point(5, 5)], crs=3006)
    gdf.to_file(tmp_path / "m.geojson", driver="GeoJSON")
    with pytest.raises(LoadError, match="mixed geometry types"):
        load(tmp_path / "m.geojson")
    got = load(tmp_path / "m.geojson", geometry="point")
    assert len(got.frame) == 2 and any("left out 1" in w for w in got.report.warnings)


def test_truncated_and_non_gis_files_give_one_line(tmp_path):
    gdf = points_gdf(SWEREF, namn=NAMES)
    gdf.to_file(tmp_path / "full.gpkg", layer="p")
    data = (tmp_path / "full.gpkg").read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(data[: len(data) // 3])
    (tmp_path / "notes.geojson").write_text("this is not json at all", encoding="utf-8")
    (tmp_path / "photo.shp").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    (tmp_path / "cut.zip").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "empty.gpkg").write_bytes(b"")
    (tmp_path / "readme.docx").write_bytes(b"x")
    for name in ("cut.gpkg", "notes.geojson", "photo.shp", "cut.zip", "empty.gpkg", "readme.docx", "missing.gpkg"):
        with pytest.raises(LoadError) as err:
            load(tmp_path / name)
        msg = str(err.value)
        assert msg.startswith(name + ":") and "\n" not in msg and "Traceback" not in msg, msg


def test_where_filter_on_load(tmp_path):
    points_gdf(SWEREF, namn=NAMES, typ=["a", "b", "a", "c"]).to_file(tmp_path / "w.gpkg", layer="w")
    got = load(tmp_path / "w.gpkg", where="typ in ('a', 'c') and namn != 'Åre'")
    assert list(got.frame["namn"]) == ["Göteborg", "Örebro"]


def test_errors_speak_swedish_in_the_app_and_english_on_the_cli(tmp_path):
    with pytest.raises(LoadError) as err:
        load(tmp_path / "saknas.gpkg")
    assert str(err.value) == "saknas.gpkg: file not found"
    assert err.value.text("sv") == "saknas.gpkg: filen finns inte"
    shp = write_shapefile(points_gdf(SWEREF, namn=NAMES), tmp_path / "utan.shp", "UTF-8", prj=False)
    with pytest.raises(CRSRequired) as err:
        load(shp)
    assert err.value.text("sv") == "utan.shp: saknar koordinatsystem; ange det uttryckligen (koordinaterna passar EPSG:3006)"
    assert err.value.text("en").endswith("(coordinates fit EPSG:3006)")


def test_sample_generator_reproduces_the_committed_layers(tmp_path):
    import importlib.util

    from conftest import SAMPLE

    spec = importlib.util.spec_from_file_location("generate", SAMPLE / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.main(tmp_path)
    for name, layer in [("transportplan_wgs84.geojson", None), ("kultur_besoksnaring.gpkg", "kulturplatser"),
                        ("besoksmal_rt90.zip", None), ("vattenforsorjning.gpkg", "skyddsomraden"),
                        ("civilforsvar.fgb", None), ("kompetensforsorjning_kommun.csv", None),
                        ("socioekonomi_kommun.xlsx", "Kommuner")]:
        fresh, committed = read_raw(tmp_path / name, layer).frame, read_raw(SAMPLE / name, layer).frame
        assert len(fresh) == len(committed) and list(fresh.columns) == list(committed.columns), name
        if "geometry" in fresh.columns:
            fresh = fresh.sort_values(list(fresh.columns[:1]), kind="stable").reset_index(drop=True)
            committed = committed.sort_values(list(committed.columns[:1]), kind="stable").reset_index(drop=True)
            assert shapely.equals_exact(fresh.geometry.values, committed.geometry.values, 1e-6).all(), name
            fresh, committed = fresh.drop(columns="geometry"), committed.drop(columns="geometry")
        pd.testing.assert_frame_equal(fresh.reset_index(drop=True), committed.reset_index(drop=True),
                                      check_dtype=False, obj=name)
        assert (tmp_path / f"{name}.meta.toml").read_text(encoding="utf-8") == \
            (SAMPLE / f"{name}.meta.toml").read_text(encoding="utf-8")


def test_inf_and_nan_in_a_swedish_number_column_keep_it_numeric(tmp_path):
    path = tmp_path / "andel.csv"
    path.write_text("kod;andel;namn\n0114;1,5;a\n0115;inf;b\n0117;-inf;c\n0120;2,5;d\n0121;NaN;e\n", encoding="utf-8")
    got = read_raw(path).frame
    assert got["andel"].iloc[[0, 3]].tolist() == [1.5, 2.5]
    assert np.isposinf(got["andel"].iloc[1]) and np.isneginf(got["andel"].iloc[2]) and np.isnan(got["andel"].iloc[4])
    assert list(got["kod"]) == ["0114", "0115", "0117", "0120", "0121"]
    (tmp_path / "text.csv").write_text("a;b\nx;inf\ny;nan\n", encoding="utf-8")
    assert read_raw(tmp_path / "text.csv").frame["b"].tolist() == ["inf", "nan"]  # no number at all: text
