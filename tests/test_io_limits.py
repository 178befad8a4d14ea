"""Size limits: zip bombs are refused without being inflated, and tables that would not fit in
memory are refused before they are parsed. Every file is made in the test."""

import struct
import tracemalloc
import zipfile
import zlib

import pandas as pd
import pytest

import skikt.layers.io as io
from skikt.layers.errors import LoadError
from skikt.layers.io import list_layers, load

MiB = 1024 * 1024


def deflated_zeros(n_mib: int) -> bytes:
    """A raw deflate stream of n MiB of zeros, built from one compressed MiB repeated.

    After a full flush the compressor starts afresh, so the same flushed segment may follow
    itself; the stream ends with an empty final block.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return segment * n_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def raw_zip(path, name: str, data: bytes, declared_size: int, crc: int = 0):
    """A one-member zip written field by field, declaring whatever size it is told to."""
    fname = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), declared_size, len(fname), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), declared_size,
                          len(fname), 0, 0, 0, 0, 0, 0)
    body = local + fname + data
    cd = central + fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(body), 0)
    path.write_bytes(body + cd + end)
    return path


def test_zip_bomb_declaring_3_gb_is_refused_before_anything_is_inflated(tmp_path):
    data = deflated_zeros(3 * 1024)  # 3 GiB of zeros in a few MB
    bomb = raw_zip(tmp_path / "bomb.zip", "data.csv", data, declared_size=3 * 1024 * MiB)
    assert bomb.stat().st_size < 5 * MiB
    assert zipfile.ZipFile(bomb).infolist()[0].file_size == 3 * 1024 * MiB  # an independent reader agrees
    assert list_layers(bomb) == ["data.csv"]  # listing names reads no member
    tracemalloc.start()
    try:
        with pytest.raises(LoadError) as err:
            load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    assert msg == "bomb.zip: 'data.csv' unpacks to 3.0 GB, over the 2.0 GB limit (a zip bomb, or too big to read)"
    assert peak < 32 * MiB  # nothing was inflated into memory
    assert not list(tmp_path.glob("skikt-zip-*"))


def test_zip_member_that_declares_less_than_it_holds_is_refused(tmp_path):
    # Declares 1000 bytes, inflates to 64 MiB: the reader stops at the declared size and the
    # check sum fails, so the member is never trusted beyond what it declared.
    liar = raw_zip(tmp_path / "liar.zip", "data.csv", deflated_zeros(64), declared_size=1000)
    tracemalloc.start()
    try:
        with pytest.raises(LoadError) as err:
            load(liar)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == "liar.zip: not a valid zip file (truncated or damaged)"
    assert peak < 32 * MiB


def test_streamed_bytes_are_counted_against_the_limit(tmp_path, monkeypatch):
    # A header that understates its sizes passes the declared check; the bytes counted while
    # streaming still stop the member at the limit.
    with zipfile.ZipFile(tmp_path / "z.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.csv", "a;b\n" + "1;2\n" * (2 * MiB))
    monkeypatch.setattr(io, "ZIP_UNPACKED_LIMIT", MiB)
    monkeypatch.setattr(io, "_declared_size", lambda infos: 0)
    with pytest.raises(LoadError) as err:
        load(tmp_path / "z.zip")
    assert str(err.value) == ("z.zip: 'zeros.csv' unpacks to > 1.0 MB, over the 1.0 MB limit "
                              "(a zip bomb, or too big to read)")


def test_zip_with_traversal_names_stays_contained(tmp_path):
    folder = tmp_path / "inner"
    folder.mkdir()
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../../escape.csv", "Kommunkod;v\n0114;1,5\n")
    got = load(tmp_path / "evil.zip")
    assert list(got.frame["Kommunkod"]) == ["0114"]
    assert not (tmp_path.parent / "escape.csv").exists() and not (tmp_path / "escape.csv").exists()


def test_csv_that_would_not_fit_in_memory_is_refused_up_front(tmp_path, monkeypatch):
    path = tmp_path / "stor.csv"
    path.write_text("Kod;Andel_x\n" + "0114;12,5\n" * 209_714, encoding="utf-8")
    assert path.stat().st_size == 2 * MiB
    monkeypatch.setattr(io, "available_memory", lambda: 10 * MiB)

    def never(*a, **k):
        raise AssertionError("the table was parsed before the size check")

    monkeypatch.setattr(pd, "read_csv", never)
    with pytest.raises(LoadError) as err:
        load(path)
    # 2 MB × 8 = 16 MB needed, the limit is half of the 10 MB available.
    assert str(err.value) == ("stor.csv: file is 2.0 MB: reading it needs about 16.0 MB of memory, over the limit "
                              "of 5.0 MB (half the available memory); split it or keep only the columns needed")
    assert err.value.text("sv").startswith("stor.csv: filen är 2.0 MB")


def test_csv_within_the_limit_reads(tmp_path, monkeypatch):
    path = tmp_path / "liten.csv"
    path.write_text("Kommunkod;Andel\n" + "0114;12,5\n" * 1000, encoding="utf-8")
    monkeypatch.setattr(io, "available_memory", lambda: 10 * MiB)
    got = load(path)
    assert len(got.frame) == 1000 and got.frame["Andel"].eq(12.5).all()


def test_xlsx_bomb_is_refused_by_declared_sizes(tmp_path):
    raw_zip(tmp_path / "bomb.xlsx", "xl/worksheets/sheet1.xml", deflated_zeros(3 * 1024), 3 * 1024 * MiB)
    with pytest.raises(LoadError, match="unpacks to 3.0 GB, over the 2.0 GB limit"):
        load(tmp_path / "bomb.xlsx")


def test_temporary_folders_of_a_killed_run_are_removed_by_the_next(tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    stale = tmp_path / "tmp" / "skikt-zip-dead1234"
    fresh = tmp_path / "tmp" / "skikt-zip-live5678"
    other = tmp_path / "tmp" / "someone-elses"
    for folder in (stale, fresh, other):
        folder.mkdir()
        (folder / "member.shp").write_bytes(b"x" * 100)
    two_days_ago = stale.stat().st_mtime - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    os.utime(other, (two_days_ago, two_days_ago))
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as z:
        z.writestr("t.csv", "Kommunkod;v\n0114;1,5\n")
    assert list(load(tmp_path / "t.zip").frame["Kommunkod"]) == ["0114"]
    assert not stale.exists() and fresh.exists() and other.exists()
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == ["skikt-zip-live5678", "someone-elses"]
