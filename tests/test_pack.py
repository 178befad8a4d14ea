"""Packing a project with every file it uses, and unpacking untrusted zips safely (issue 10, item 7).

Oracles: file hashes (the source folder is never changed), the zip's own listing, and the scores
of the original project; each refusal with an archive made in the test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import struct
import tomllib
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skikt.layers import cli_more
from skikt.layers.errors import SkiktError
from skikt.layers.pack import PackError, pack, unpack
from skikt.layers.project import read_project
from skikt.layers.workspace import Workspace


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _scores(project_path: Path) -> pd.DataFrame:
    ws = Workspace(read_project(project_path))
    ws.update()
    return ws.result_table()


def _everything_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_sample_round_trip_scores_identically_and_leaves_the_source_alone(sample_copy, tmp_path):
    source = sample_copy.parent
    before = _hashes(source)
    result = pack(sample_copy, tmp_path / "paket.zip")
    assert _hashes(source) == before  # byte-identical, nothing added

    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
    assert names[0] == "sample_project.toml"
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    used = {s.path for s in read_project(sample_copy).layers}
    assert used <= set(names)
    assert {f"{p}.meta.toml" for p in used} <= set(names)  # every sidecar beside its file
    assert "README.md" not in names and "generate.py" not in names  # only what the project uses

    out = unpack(result.path, tmp_path / "ut")
    assert out.project == tmp_path / "ut" / "sample_project.toml"
    # Every layer path in the project was already relative to its folder: the text is unchanged.
    assert out.project.read_text(encoding="utf-8") == sample_copy.read_text(encoding="utf-8")
    pd.testing.assert_frame_equal(_scores(out.project), _scores(sample_copy))
    assert not list(tmp_path.glob(".skikt-unpack-*")) and not list((tmp_path / "ut").glob(".skikt-unpack-*"))


PROJECT = """# A project whose files live in three places.
schema_version = 1

[project]
title = "Utspridd"   # the title stays

[[layers]]
id = "omr"
path = "files/delat/omrade.gpkg"   # inside the project folder: kept as it is
sector = "reference"

[[layers]]
id = "punkter"
path = "../delat/punkter.shp"   # outside: packed under files/delat-2/ (files/delat is taken)
sector = "healthcare"
[layers.indicator]
method = "count"
weight = 2

[[layers]]
id = "andra"
path = "{absolute}"
sector = "transport"
[layers.indicator]
method = "distance"   # an absolute path, on another "disk"
weight = 1

[units]
kind = "grid"
cell_size = 1000
study_area = {{ layer = "omr" }}
"""


def _scattered_project(tmp_path: Path) -> Path:
    proj = tmp_path / "projekt"
    (proj / "files" / "delat").mkdir(parents=True)
    area = gpd.GeoDataFrame({"code": ["1"]}, geometry=[shapely.box(600_000, 6_600_000, 610_000, 6_608_000)], crs=3006)
    area.to_file(proj / "files" / "delat" / "omrade.gpkg", driver="GPKG")
    shared = tmp_path / "delat"
    shared.mkdir()
    pts = gpd.GeoDataFrame({"namn": ["Åre", "Öby", "Ärla"]},
                           geometry=shapely.points([(601_200, 6_601_300), (605_500, 6_604_100), (608_900, 6_607_700)]),
                           crs=3006)
    pts.to_file(shared / "punkter.shp", encoding="cp1252")
    (shared / "punkter.shp.meta.toml").write_text('source = "test"\nlicence = "CC0"\n', encoding="utf-8")
    (shared / "punkter_annat.txt").write_text("not part of the shapefile")
    other = tmp_path / "annan_disk" / "delat"  # a second folder called "delat"
    other.mkdir(parents=True)
    gpd.GeoDataFrame(geometry=[shapely.LineString([(600_000, 6_600_500), (610_000, 6_607_000)])], crs=3006) \
        .to_file(other / "vag.geojson", driver="GeoJSON")
    path = proj / "projekt.toml"
    path.write_text(PROJECT.format(absolute=(other / "vag.geojson").as_posix()), encoding="utf-8")
    return path


def test_files_from_elsewhere_get_relative_paths_and_comments_survive(tmp_path):
    project = _scattered_project(tmp_path)
    before = _hashes(tmp_path)
    result = pack(project, tmp_path / "ut.zip")
    assert _hashes(tmp_path) == {**before, "ut.zip": _hashes(tmp_path)["ut.zip"]}
    assert sorted(result.files[1:]) == [
        "files/delat-2/punkter.cpg", "files/delat-2/punkter.dbf", "files/delat-2/punkter.prj",
        "files/delat-2/punkter.shp", "files/delat-2/punkter.shp.meta.toml", "files/delat-2/punkter.shx",
        "files/delat-3/vag.geojson",
        "files/delat/omrade.gpkg",
    ]
    with zipfile.ZipFile(result.path) as zf:
        text = zf.read("projekt.toml").decode("utf-8")
    assert "# A project whose files live in three places." in text
    assert 'title = "Utspridd"   # the title stays' in text
    assert 'path = "files/delat/omrade.gpkg"   # inside the project folder: kept as it is' in text
    assert 'path = "files/delat-2/punkter.shp"' in text
    assert 'path = "files/delat-3/vag.geojson"' in text
    assert 'method = "distance"   # an absolute path, on another "disk"' in text

    target = tmp_path / "laptop" / "mapp"
    out = unpack(result.path, target)
    pd.testing.assert_frame_equal(_scores(out.project), _scores(project))
    ws = Workspace(read_project(out.project))
    ws.update()
    assert ws.layers["punkter"].frame["namn"].tolist() == ["Åre", "Öby", "Ärla"]  # the .cpg came along
    assert ws.layers["punkter"].meta.licence == "CC0"  # and the sidecar


def test_pack_refuses_a_missing_file_and_a_wrong_extension(sample_copy, tmp_path):
    (sample_copy.parent / "civilforsvar.fgb").unlink()
    with pytest.raises(PackError) as err:
        pack(sample_copy, tmp_path / "p.zip")
    assert str(err.value) == 'civilforsvar.fgb: file not found (layer "skyddsrum")'
    with pytest.raises(PackError, match="must be a .zip"):
        pack(sample_copy, tmp_path / "p.tar")
    assert not list(tmp_path.glob("p.*")) and not list(tmp_path.glob(".p.*"))


def test_pack_never_writes_over_a_file_the_project_reads(sample_copy):
    zipped_layer = sample_copy.parent / "besoksmal_rt90.zip"  # a zipped shapefile layer
    before = _hashes(sample_copy.parent)
    with pytest.raises(SkiktError) as err:
        pack(sample_copy, zipped_layer)
    assert str(err.value).startswith("besoksmal_rt90.zip: ") and "besoksmal" in str(err.value)
    assert _hashes(sample_copy.parent) == before


# ------------------------------------------------------------------------------------------------
# Refusals


def _zip(path: Path, entries) -> Path:
    """entries: (name, bytes) or (ZipInfo, bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3  # Unix
    return info


def _lying(path: Path, real: int, declared: int) -> Path:
    """A zip whose one entry inflates to ``real`` bytes but declares ``declared`` in both headers."""
    _zip(path, [("ok.toml", b"x" * real)])
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))
    return path


REFUSED = [
    ("outside", [("projekt.toml", b"a"), ("../utanfor.txt", b"evil")], {}, 'entry "../utanfor.txt" would land outside'),
    ("deep outside", [("a/b/../../../utanfor.txt", b"evil")], {}, "would land outside"),
    ("backslashes", [("..\\utanfor.txt", b"evil")], {}, "would land outside"),
    ("absolute", [("projekt.toml", b"a"), ("/tmp/utanfor.txt", b"evil")], {}, 'entry "/tmp/utanfor.txt" has an absolute path'),
    ("drive", [("C:/utanfor.txt", b"evil")], {}, "has an absolute path"),
    ("link", [("projekt.toml", b"a"), (_symlink("data.gpkg", "/etc/passwd"), b"/etc/passwd")], {},
     'entry "data.gpkg" is a link or special file'),
    ("too big", [("a.gpkg", b"\0" * 3000), ("b.gpkg", b"\0" * 3000)], {"max_bytes": 5000},
     "would pass the limit of 4.88 KB"),
    ("too many", [(f"f{i}.txt", b"x") for i in range(6)], {"max_entries": 5}, "has 6 entries, more than the limit of 5"),
    ("twice", [("a.toml", b"1"), ("A.toml", b"2")], {}, 'entry "A.toml" occurs twice'),
    ("file and folder", [("data", b"1"), ("data/x.gpkg", b"2")], {},
     'entry "data/x.gpkg" needs a folder where entry "data" is a file'),
    ("folder and file", [("data/x.gpkg", b"2"), ("data", b"1")], {},
     'entry "data/x.gpkg" needs a folder where entry "data" is a file'),
]


@pytest.mark.parametrize("entries, kwargs, message", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_unpack_refuses_with_one_line_and_writes_nothing(tmp_path, entries, kwargs, message):
    archive = _zip(tmp_path / "paket.zip", entries)
    target = tmp_path / "ut"
    before = _everything_under(tmp_path)
    with pytest.raises(PackError) as err:
        unpack(archive, target, **kwargs)
    text = str(err.value)
    assert text.startswith("paket.zip: ") and message in text and "\n" not in text
    assert text.endswith("nothing unpacked")
    assert _everything_under(tmp_path) == before  # no target folder, no staging folder, nothing outside
    assert not Path("/tmp/utanfor.txt").exists()


def test_unpack_counts_bytes_while_extracting_not_only_the_declared_sizes(tmp_path):
    # The headers say 10 bytes; the data inflates to 50,000. Nothing past the declared size may
    # be written, and the archive is refused as damaged.
    archive = _lying(tmp_path / "ljuger.zip", real=50_000, declared=10)
    with zipfile.ZipFile(archive) as zf:
        assert sum(i.file_size for i in zf.infolist()) == 10
    before = _everything_under(tmp_path)
    with pytest.raises(PackError) as err:
        unpack(archive, tmp_path / "ut", max_bytes=1000)
    assert str(err.value).startswith('ljuger.zip: entry "ok.toml" cannot be read')
    assert _everything_under(tmp_path) == before


def test_unpack_refuses_an_existing_file_and_keeps_it(tmp_path):
    archive = _zip(tmp_path / "paket.zip", [("ny.txt", b"new"), ("data/befintlig.txt", b"new")])
    target = tmp_path / "ut"
    (target / "data").mkdir(parents=True)
    (target / "data" / "befintlig.txt").write_bytes(b"old")
    with pytest.raises(PackError) as err:
        unpack(archive, target)
    assert str(err.value) == (f'paket.zip: "data/befintlig.txt" already exists in {target}; choose an empty folder '
                              "(or --overwrite); nothing unpacked")
    assert _everything_under(target) == ["data", "data/befintlig.txt"]
    assert (target / "data" / "befintlig.txt").read_bytes() == b"old"
    unpack(archive, target, overwrite=True)  # when asked, it replaces
    assert (target / "data" / "befintlig.txt").read_bytes() == b"new" and (target / "ny.txt").read_bytes() == b"new"


def test_unpack_refuses_when_a_file_in_the_target_stands_where_a_folder_must_go(tmp_path):
    archive = _zip(tmp_path / "paket.zip", [("data/x.gpkg", b"new")])
    target = tmp_path / "ut"
    target.mkdir()
    (target / "data").write_bytes(b"old")
    with pytest.raises(PackError, match='"data" already exists'):
        unpack(archive, target, overwrite=True)
    assert (target / "data").read_bytes() == b"old" and _everything_under(target) == ["data"]


def test_unpack_refuses_a_symlink_in_the_target_that_leads_out(tmp_path):
    archive = _zip(tmp_path / "paket.zip", [("lank/fil.txt", b"evil")])
    target = tmp_path / "ut"
    target.mkdir()
    elsewhere = tmp_path / "annanstans"
    elsewhere.mkdir()
    (target / "lank").symlink_to(elsewhere)
    with pytest.raises(PackError, match="would land outside"):
        unpack(archive, target)
    assert list(elsewhere.iterdir()) == []


def test_unpack_refuses_what_is_not_a_zip(tmp_path):
    fake = tmp_path / "paket.zip"
    fake.write_text("not a zip")
    with pytest.raises(PackError) as err:
        unpack(fake, tmp_path / "ut")
    assert str(err.value) == "paket.zip: not a readable zip archive"
    assert not (tmp_path / "ut").exists()


# ------------------------------------------------------------------------------------------------
# The command-line handlers


def _run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_more.add_parsers(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def _files_the_sample_uses(project_path):
    """The project file, each distinct layer source and each source's .meta.toml sidecar (21 since
    the constraint layer forsvar came in), counted from the TOML itself rather than from pack."""
    sources = {layer["path"] for layer in tomllib.loads(project_path.read_text(encoding="utf-8"))["layers"]}
    sidecars = {s for s in sources if (project_path.parent / f"{s}.meta.toml").exists()}
    return 1 + len(sources) + len(sidecars)


def test_cli_pack_and_unpack(sample_copy, tmp_path, capsys):
    assert _files_the_sample_uses(sample_copy) == 21
    archive = tmp_path / "workshop.zip"
    assert _run(["pack", str(sample_copy), "--out", str(archive)]) == 0
    assert _run(["unpack", str(archive), "--to", str(tmp_path / "laptop")]) == 0
    out = capsys.readouterr().out
    assert f"packed {_files_the_sample_uses(sample_copy)} files" in out and f"project {tmp_path / 'laptop' / 'sample_project.toml'}" in out
    with pytest.raises(SkiktError) as err:  # a second unpack into the same folder is refused
        _run(["unpack", str(archive), "--to", str(tmp_path / "laptop")])
    assert "already exists" in str(err.value) and "\n" not in str(err.value)
    assert _run(["unpack", str(archive), "--to", str(tmp_path / "laptop"), "--overwrite"]) == 0


_PARTS = st.sampled_from(["..", ".", "", "a", "b.txt", "C:", "\\", "..\\..", "/", "ä ö"])


@settings(derandomize=True, max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.lists(_PARTS, min_size=1, max_size=4).map("/".join), min_size=1, max_size=4))
def test_unpack_never_writes_outside_the_target_whatever_the_names(tmp_path, names):
    import tempfile
    import warnings

    with tempfile.TemporaryDirectory(dir=tmp_path) as work:
        work = Path(work)
        archive = work / "slump.zip"
        with zipfile.ZipFile(archive, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the test
            for i, name in enumerate(names):
                zf.writestr(zipfile.ZipInfo(name), f"{i}")
        outer = work / "yttre"
        target = outer / "ut"
        outer.mkdir()
        try:
            result = unpack(archive, target)
        except PackError as exc:
            assert "\n" not in str(exc)
            assert _everything_under(outer) == []  # refused: nothing at all
        else:
            real = os.path.realpath(target)
            for f in result.files:
                assert os.path.commonpath([real, os.path.realpath(f)]) == real
            assert all(p.startswith("ut") for p in _everything_under(outer))
        assert sorted(p.name for p in work.iterdir()) == ["slump.zip", "yttre"]
