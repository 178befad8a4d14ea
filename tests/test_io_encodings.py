"""Shapefile text encodings, judged field by field on .dbf files written byte by byte in the test.

The oracle is the bytes themselves: each test writes the dBase file by hand (header, field
descriptors, language byte, fixed-width records), so the expected names are known exactly.
"""

import pytest

from conftest import points_gdf
from skikt.layers.io import detect_dbf_encoding, load, read_raw

NAMES = ["Åre", "Västerås", "Göteborg", "Örebro"]
XY = [[444000.0, 7030000.0], [587000.0, 6609000.0], [319000.0, 6400000.0], [513000.0, 6570000.0]]


def dbf_bytes(fields, rows, language=0x00) -> bytes:
    """A dBase III file: ``fields`` is [(name, width)], ``rows`` holds raw bytes per field."""
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(w for _, w in fields)
    head = bytearray(32)
    head[0] = 0x03
    head[1:4] = bytes([125, 1, 1])
    head[4:8] = len(rows).to_bytes(4, "little")
    head[8:10] = header_len.to_bytes(2, "little")
    head[10:12] = record_len.to_bytes(2, "little")
    head[29] = language
    for name, width in fields:
        desc = bytearray(32)
        desc[: len(name)] = name.encode("ascii")
        desc[11] = ord("C")
        desc[16] = width
        head += desc
    head += b"\x0d"
    for row in rows:
        head += b" " + b"".join(v[:w].ljust(w, b" ") for v, (_, w) in zip(row, fields))
    return bytes(head + b"\x1a")


def shapefile(tmp_path, name, fields, rows, language=0x00, cpg=None):
    """Points from geopandas, then the .dbf replaced by the hand-written one."""
    shp = tmp_path / f"{name}.shp"
    points_gdf(XY[: len(rows)], namn=["x"] * len(rows)).to_file(shp, driver="ESRI Shapefile")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    shp.with_suffix(".dbf").write_bytes(dbf_bytes(fields, rows, language))
    if cpg is not None:
        shp.with_suffix(".cpg").write_text(cpg)
    return shp


def test_utf8_name_cut_mid_character_at_the_field_width_keeps_every_other_name(tmp_path):
    # 8 bytes hold "Väster" + the first byte of "å": the writer cut a character in two.
    cut = "Västerås".encode("utf-8")[:8]
    assert cut == b"V\xc3\xa4ster\xc3"
    rows = [[n.encode("utf-8"), "Län ä".encode("utf-8")] for n in NAMES]
    rows[1][0] = cut
    for cpg in ("UTF-8", None):
        shp = shapefile(tmp_path, f"cut_{cpg}", [("namn", 8), ("lan", 12)], rows, cpg=cpg)
        got = load(shp)
        # Göteborg is 9 bytes in UTF-8: cut at the width on a character boundary, so "Götebor".
        assert list(got.frame["namn"]) == ["Åre", "Väster", "Götebor", "Örebro"], cpg
        assert list(got.frame["lan"]) == ["Län ä"] * 4
        assert got.report.encoding == "UTF-8"
        assert any("cut at the field width in the middle of a character (values: 1)" in w for w in got.report.warnings)
        assert not any("not valid UTF-8" in w for w in got.report.warnings)


def test_a_cut_character_that_does_not_fill_the_field_is_a_real_failure():
    # The same broken byte with room left in the field was not cut by the width: not UTF-8.
    data = dbf_bytes([("namn", 12)], [[b"V\xc3\xa4ster\xc3"], ["Åre".encode("utf-8")]])
    assert detect_dbf_encoding(data, None)[0] == "cp1252"


def test_cp850_dbf_from_a_dos_tool_is_read_by_its_language_byte(tmp_path):
    rows = [[n.encode("cp850")] for n in NAMES]
    assert rows[1][0] == b"V\x84ster\x86s"  # cp850: ä = 0x84, å = 0x86
    shp = shapefile(tmp_path, "dos", [("namn", 20)], rows, language=0x02)
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert got.report.encoding == "cp850"


def test_cp437_language_byte(tmp_path):
    rows = [[n.encode("cp437")] for n in ["Väst", "Öst", "Åby", "Ängö"]]
    shp = shapefile(tmp_path, "dos437", [("namn", 10)], rows, language=0x01)
    assert list(load(shp).frame["namn"]) == ["Väst", "Öst", "Åby", "Ängö"]


def test_latin1_without_cpg_or_language_byte(tmp_path):
    rows = [[n.encode("latin-1")] for n in NAMES]
    shp = shapefile(tmp_path, "latin", [("namn", 20)], rows)
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert got.report.encoding == "cp1252"


def test_cpg_utf8_on_valid_utf8_is_utf8_without_warnings(tmp_path):
    rows = [[n.encode("utf-8")] for n in NAMES]
    shp = shapefile(tmp_path, "u", [("namn", 20)], rows, language=0x57, cpg="UTF-8")
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert got.report.encoding == "UTF-8" and got.report.warnings == []


def test_cpg_is_never_overruled_without_a_decoding_failure(tmp_path):
    # UTF-8 bytes under a .cpg that says 1252: cp1252 decodes them, so the .cpg is followed
    # (with a warning), and the result is what cp1252 makes of those bytes.
    rows = [[n.encode("utf-8")] for n in NAMES]
    shp = shapefile(tmp_path, "c", [("namn", 20)], rows, cpg="1252")
    got = load(shp)
    assert list(got.frame["namn"]) == [n.encode("utf-8").decode("cp1252") for n in NAMES]
    assert got.report.encoding == "cp1252"
    assert any("also valid UTF-8" in w for w in got.report.warnings)


def test_cpg_overruled_only_when_its_code_page_fails(tmp_path):
    # "Á" is C3 81 in UTF-8, and 0x81 is undefined in cp1252: the .cpg cannot be right.
    names = ["Ágota", "Västerås"]
    shp = shapefile(tmp_path, "f", [("namn", 20)], [[n.encode("utf-8")] for n in names], cpg="1252")
    got = load(shp)
    assert list(got.frame["namn"]) == names
    assert any("but the text is UTF-8" in w for w in got.report.warnings)


def test_unknown_cpg_falls_back_with_a_warning(tmp_path):
    shp = shapefile(tmp_path, "k", [("namn", 20)], [[n.encode("cp1252")] for n in NAMES], cpg="KLINGON-9")
    got = load(shp)
    assert list(got.frame["namn"]) == NAMES
    assert any("unknown code page 'KLINGON-9'" in w for w in got.report.warnings)
    assert read_raw(shp).report.encoding == "cp1252"


@pytest.mark.parametrize("cpg,expected", [("UTF-8", "UTF-8"), ("utf8", "UTF-8"), ("65001", "UTF-8"),
                                          ("1252", "cp1252"), ("ANSI 1252", "cp1252"), ("8859_1", "iso8859-1"),
                                          ("ISO-8859-1", "iso8859-1"), ("850", "cp850")])
def test_cpg_spellings(cpg, expected):
    data = dbf_bytes([("namn", 10)], [[b"abc"]])
    assert detect_dbf_encoding(data, cpg)[0] == expected


def test_valid_utf8_beats_a_language_byte(tmp_path):
    # Tools write 0x57 ("ANSI") by habit; text that is UTF-8 throughout is UTF-8.
    shp = shapefile(tmp_path, "l", [("namn", 20)], [[n.encode("utf-8")] for n in NAMES], language=0x57)
    assert list(load(shp).frame["namn"]) == NAMES
