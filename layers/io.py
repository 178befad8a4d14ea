"""Read every file format regions actually send, into a GeoDataFrame (or DataFrame) in the project CRS.

Reading goes through geopandas' pyogrio engine; CSV and Excel are read by pandas because the
Swedish conventions (``;`` separators, decimal commas, cp1252, codes with leading zeros) need
handling that GDAL's CSV driver does not do. Source files are opened read-only and never written.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io as _io
import re
import shutil
import sqlite3
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import CRSError, ProjError

from .crs import DEFAULT_CRS, crs_label, is_local_crs, parse_crs, suggest_crs
from .errors import CRSRequired, LoadError, SkiktError
from .i18n import Msg
from .metadata import LoadReport
from .where import filter_frame
from .sysmem import available_memory

VECTOR_EXTS = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite"}
TABLE_EXTS = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm"}
SUPPORTED_EXTS = VECTOR_EXTS | TABLE_EXTS | {".zip"}

# Column-name pairs that carry point coordinates, (x, y). Lat/lon names declare WGS 84; the
# others say nothing about the CRS, so such files need one to be given.
_COORD_PAIRS = [
    ("lon", "lat"), ("lng", "lat"), ("long", "lat"), ("longitude", "latitude"),
    ("longitud", "latitud"), ("x", "y"), ("e", "n"), ("easting", "northing"),
    ("e_sweref", "n_sweref"), ("ost", "nord"), ("öst", "nord"), ("x_koord", "y_koord"),
]
_WGS84_NAMES = {"lat", "latitude", "latitud"}

# The same by shapely type id; per-feature geom_type strings cost half a second at 400,000 features.
FAMILY_BY_TYPE_ID = np.array(["point", "line", "line", "polygon", "point", "line", "polygon", "other"])


def geometry_families(geoms) -> np.ndarray:
    """'point' | 'line' | 'polygon' | 'other' for each geometry ('other' for None too)."""
    ids = shapely.get_type_id(np.asarray(geoms, dtype=object))
    return np.where(ids >= 0, FAMILY_BY_TYPE_ID[np.clip(ids, 0, 7)], "other")


@dataclass
class Loaded:
    """A layer as read: ``frame`` is a GeoDataFrame for vectors, a DataFrame for tables."""

    frame: pd.DataFrame
    kind: str  # "vector" | "table"
    report: LoadReport


# --------------------------------------------------------------------------------------------
# Size limits
#
# Everything a layer holds is read into memory, so a file is refused up front when reading it
# could not fit. The figures are documented in the README ("awkward input").

# A zip's members that Skikt reads (the data file and its sidecars) may unpack to at most this
# much in total. Declared sizes are checked before anything is unpacked, and the bytes are
# counted again while streaming because a crafted zip can declare less than it holds.
ZIP_UNPACKED_LIMIT = 2 * 1024**3

# Peak memory of reading a table, as a multiple of its size on disk (text columns become
# strings, then numbers). Measured peaks: 5.1-6.8x for CSVs of 20 columns (numbers with decimal
# commas, codes, names, coordinates), 11x for an .xlsx (compressed XML); see docs/notes/I.md.
CSV_MEMORY_FACTOR = 8
XLSX_MEMORY_FACTOR = 20

# A file may use at most this share of the memory available when reading starts; the rest is
# left for the grid, the indicators and the other layers.
MEMORY_SHARE = 0.5

_CHUNK = 1 << 20


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _check_memory(size: int, factor: float, path: Path) -> None:
    """Refuse, before reading, a file whose in-memory form would not fit the memory share."""
    avail = available_memory()
    if avail is None:
        return
    need, limit = size * factor, avail * MEMORY_SHARE
    if need > limit:
        raise LoadError.of("err_too_big_for_memory", path, size=human_size(size), need=human_size(need),
                           limit=human_size(limit))


# --------------------------------------------------------------------------------------------
# Files and layers


def _check_file(path: Path) -> None:
    if not path.exists():
        raise LoadError.of("err_not_found", path)
    if path.is_dir():
        raise LoadError.of("err_folder", path)
    if path.stat().st_size == 0:
        raise LoadError.of("err_empty", path)
    if path.suffix.lower() not in SUPPORTED_EXTS:
        raise LoadError.of("err_format", path, ext=path.suffix or "–")


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise LoadError.of("err_bad_zip", path) from None


def _zip_members(path: Path) -> list[str]:
    with _open_zip(path) as z:
        names = [n for n in z.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    members = [n for n in names if Path(n).suffix.lower() in VECTOR_EXTS | TABLE_EXTS - {".txt"}]
    if not members:
        raise LoadError.of("err_zip_empty", path)
    return members


def _member_files(z: zipfile.ZipFile, member: str) -> list[zipfile.ZipInfo]:
    """The member and its sidecars: same folder and stem inside the zip (.shp with .dbf, .prj…)."""
    stem = member[: -len(Path(member).suffix)].lower() if Path(member).suffix else member.lower()
    return [i for i in z.infolist() if not i.is_dir() and
            (i.filename == member or i.filename[: -len(Path(i.filename).suffix) or None].lower() == stem)]


# Private temporary folders (unpacked zip members, recovered GeoPackage copies). A run that is
# killed leaves its folder behind; the next run removes those older than a day, which no live
# read can still be using.
_TEMP_PREFIXES = ("skikt-zip-", "skikt-recover-")
_STALE_SECONDS = 24 * 3600


def _private_temp_dir(prefix: str) -> tempfile.TemporaryDirectory:
    _remove_stale_temp_dirs()
    return tempfile.TemporaryDirectory(prefix=prefix)


def _remove_stale_temp_dirs() -> None:
    import time

    cutoff = time.time() - _STALE_SECONDS
    for prefix in _TEMP_PREFIXES:
        for folder in Path(tempfile.gettempdir()).glob(prefix + "*"):
            try:
                if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass


def _declared_size(infos: list[zipfile.ZipInfo]) -> int:
    return sum(i.file_size for i in infos)


@contextmanager
def _zip_extracted(path: Path, member: str) -> Iterator[Path]:
    """The member (with its sidecars) streamed into a private temporary folder, within the limit.

    Only base names are used inside the folder, so entries like ``../x`` cannot escape it. The
    folder is removed as soon as the layer has been read into memory.
    """
    with _open_zip(path) as z:
        infos = _member_files(z, member)
        declared = _declared_size(infos)
        if declared > ZIP_UNPACKED_LIMIT:
            raise LoadError.of("err_zip_too_big", path, member=member, size=human_size(declared),
                               limit=human_size(ZIP_UNPACKED_LIMIT))
        with _private_temp_dir("skikt-zip-") as tmp:
            total = 0
            for info in infos:
                target = Path(tmp) / Path(info.filename).name
                with z.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(_CHUNK):
                        total += len(chunk)
                        if total > ZIP_UNPACKED_LIMIT:
                            raise LoadError.of("err_zip_too_big", path, member=member,
                                               size=f"> {human_size(ZIP_UNPACKED_LIMIT)}",
                                               limit=human_size(ZIP_UNPACKED_LIMIT))
                        dst.write(chunk)
            yield Path(tmp) / Path(member).name


def _check_zip_bomb(path: Path, source: Path) -> None:
    """An .xlsx is a zip too: refuse one whose parts declare more than the zip limit."""
    try:
        with zipfile.ZipFile(source) as z:
            declared = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise LoadError.of("err_not_excel", path) from None
    if declared > ZIP_UNPACKED_LIMIT:
        raise LoadError.of("err_zip_too_big", path, member="xl/", size=human_size(declared),
                           limit=human_size(ZIP_UNPACKED_LIMIT))


def _sheet_names(path: Path, source: Path) -> list[str]:
    _check_zip_bomb(path, source)
    try:
        import openpyxl

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(source, read_only=True)
        try:
            return list(wb.sheetnames)
        finally:
            wb.close()
    except Exception:  # openpyxl raises many types (KeyError, XML errors…) for non-Excel bytes
        raise LoadError.of("err_not_excel", path) from None


def list_layers(path) -> list[str]:
    """Layer names in a file: GeoPackage layers, zip members, Excel sheets, or the file stem."""
    path = Path(path)
    ext = path.suffix.lower()
    with library_errors_as_one_line(path):
        _check_file(path)
        if ext == ".zip":
            return _zip_members(path)
        if ext in (".xlsx", ".xlsm"):
            return _sheet_names(path, path)
        if ext in TABLE_EXTS:
            return [path.stem]
        import pyogrio

        with _readable_database(path, path, []) as source, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's own warnings; the user gets our one line
            return [str(name) for name, _ in pyogrio.list_layers(source)]


def _gdal_error(exc: Exception, path) -> LoadError:
    """GDAL's message, boiled down to one line the user can act on."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^(/vsizip/)?\S*?: ", "", text)
    low = text.lower()
    if "not recognized as" in low or "not a supported file format" in low:
        return LoadError.of("err_not_gis", path)
    if "database is locked" in low or "database is busy" in low:
        return LoadError.of("err_gpkg_locked", path)
    if "readonly database" in low and Path(f"{path}-journal").exists():
        return LoadError.of("err_gpkg_recovery", path)
    if "sqlite" in low or "malformed" in low or "not a database" in low:
        return LoadError.of("err_gpkg_damaged", path)
    if "unexpected end" in low or "truncated" in low or "short read" in low or "eof" in low:
        return LoadError.of("err_truncated", path, detail=text[:120])
    return LoadError.of("err_cannot_read", path, detail=text[:160])


# Modules whose exceptions mean "this file could not be read", not "Skikt has a bug".
_READER_MODULES = ("pyogrio", "fiona", "pandas", "openpyxl", "zipfile", "sqlite3", "_sqlite3", "zlib",
                   "pyproj", "shapely", "xml", "lxml", "et_xmlfile", "csv", "_csv", "codecs", "encodings",
                   "geopandas")


def _raised_by_library(exc: BaseException) -> bool:
    """True when a reading library raised ``exc`` (its type or its innermost frame is theirs).

    Errors raised in Skikt's own code are bugs and must surface as such, not as a damaged file.
    """
    if isinstance(exc, (OSError, UnicodeError, MemoryError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile)):
        return True
    module = type(exc).__module__.split(".")[0]
    if module in _READER_MODULES:
        return True
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame_module = str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0]
    return frame_module in _READER_MODULES


@contextmanager
def library_errors_as_one_line(path) -> Iterator[None]:
    """Any error a reading library raises inside the block becomes one LoadError naming ``path``."""
    try:
        yield
    except SkiktError:
        raise
    except Exception as exc:
        if not _raised_by_library(exc):
            raise
        raise _read_error(exc, Path(path)) from None


def _read_error(exc: BaseException, path: Path) -> LoadError:
    """One line for an error a reading library raised on this file."""
    if isinstance(exc, MemoryError):
        return LoadError.of("err_out_of_memory", path)
    if isinstance(exc, PermissionError):
        return LoadError.of("err_permission", path)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return LoadError.of("err_no_space", path)
    if isinstance(exc, (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error)):
        return LoadError.of("err_bad_zip", path)
    if isinstance(exc, sqlite3.Error):
        return _gdal_error(exc, path)
    if type(exc).__module__.split(".")[0] in ("pyogrio", "fiona"):
        return _gdal_error(exc, path)
    if isinstance(exc, OSError) and exc.strerror:
        return LoadError.of("err_cannot_read", path, detail=exc.strerror)  # the path is named already
    text = (str(exc).strip().splitlines() or [""])[0] or type(exc).__name__
    return LoadError.of("err_cannot_read", path, detail=text[:160])


# --------------------------------------------------------------------------------------------
# GeoPackage / SQLite state


_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def _check_sqlite(source: Path, path: Path) -> None:
    """Say "locked" for a database another program holds, before GDAL waits 10 s and says less.

    Opened read-only through Python's sqlite3, which never writes to the file.
    """
    if source.suffix.lower() not in (".gpkg", ".sqlite"):
        return
    try:
        con = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return  # GDAL will say what is wrong
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        low = str(exc).lower()
        if "locked" in low or "busy" in low:
            raise LoadError.of("err_gpkg_locked", path) from None
    except sqlite3.Error:
        pass
    finally:
        con.close()


def _hot_journal(source: Path) -> Path | None:
    """The leftover rollback journal of an interrupted write, if there is one."""
    journal = Path(f"{source}-journal")
    try:
        with open(journal, "rb") as f:
            return journal if f.read(8) == _JOURNAL_MAGIC else None
    except OSError:
        return None


@contextmanager
def _readable_database(source: Path, path: Path, warns: list) -> Iterator[Path]:
    """``source`` itself, or for a GeoPackage left mid-write a recovered private copy of it."""
    if source.suffix.lower() not in (".gpkg", ".sqlite"):
        yield source
        return
    _check_sqlite(source, path)  # a writer holding the lock also leaves a journal: say "locked"
    journal = _hot_journal(source)
    if journal is None:
        yield source
        return
    with _recovered_copy(source, journal, path) as copy:
        warns.append(Msg.of("warn_gpkg_recovered"))
        yield copy


@contextmanager
def _recovered_copy(source: Path, journal: Path, path: Path) -> Iterator[Path]:
    """A copy of the database with its journal rolled back by SQLite; the original is untouched.

    SQLite recovers a hot journal when it opens the file for writing, and refuses to read it
    read-only; Skikt never writes to a source file, so it lets SQLite recover a private copy.
    """
    with _private_temp_dir("skikt-recover-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copyfile(source, copy)
        shutil.copyfile(journal, Path(f"{copy}-journal"))
        try:
            con = sqlite3.connect(copy, timeout=1.0)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            raise LoadError.of("err_gpkg_recovery", path) from None
        yield copy


# --------------------------------------------------------------------------------------------
# Shapefile encodings
#
# GDAL trusts a .cpg file and otherwise the dBase language byte, defaulting to Latin-1. Real
# files break both: UTF-8 exports without .cpg are common, DOS-era tools write cp850 with only
# the language byte to say so, and tools cut text at the field width in the middle of a UTF-8
# character. So the text is judged value by value, field by field.

# dBase language driver id (header byte 29) → code page. 0x00 means "not said".
_LANGUAGE_DRIVERS = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x08: "cp865", 0x09: "cp437", 0x0A: "cp850",
    0x0B: "cp437", 0x0D: "cp437", 0x0E: "cp850", 0x0F: "cp437", 0x10: "cp850", 0x11: "cp437",
    0x12: "cp850", 0x14: "cp850", 0x15: "cp437", 0x16: "cp850", 0x17: "cp865", 0x18: "cp437",
    0x19: "cp437", 0x1A: "cp850", 0x1B: "cp437", 0x1F: "cp852", 0x22: "cp852", 0x24: "cp860",
    0x25: "cp850", 0x26: "cp866", 0x37: "cp850", 0x40: "cp852", 0x57: "cp1252", 0x58: "cp1252",
    0x59: "cp1252", 0x64: "cp852", 0x65: "cp866", 0x66: "cp865", 0x67: "cp861", 0x6A: "cp737",
    0x6B: "cp857", 0xC8: "cp1250", 0xC9: "cp1251", 0xCA: "cp1254", 0xCB: "cp1253",
}


def codec_of_cpg(text: str | None) -> str | None:
    """The Python codec a .cpg names ('UTF-8', '1252', 'ANSI 1252', '8859_1', '65001'…), or None."""
    if not text:
        return None
    label = text.strip().upper().replace("ANSI", "").replace("OEM", "").strip(" _-")
    if label.isdigit():
        number = int(label)
        label = {65001: "utf-8", 28591: "iso8859-1", 28605: "iso8859-15", 88591: "iso8859-1"}.get(number, f"cp{number}")
    elif re.fullmatch(r"8859[_-]?\d+", label):
        label = "iso8859-" + re.split(r"[_-]", label[4:].lstrip("_-") or "1")[-1]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _label(codec: str) -> str:
    """How the encoding is reported and handed to GDAL: 'UTF-8', 'cp1252', 'cp850', 'iso8859-1'."""
    return "UTF-8" if codec == "utf-8" else codec


_MAX_VALUES = 200_000


@dataclass
class _TextEvidence:
    """What the non-ASCII text values of a .dbf say about its encoding (counts are records)."""

    verdicts: dict = field(default_factory=dict)  # (distinct value, fills its field) → UTF-8 verdict
    utf8_failures: int = 0  # values that are not UTF-8 even allowing a cut last character
    utf8_multibyte: int = 0  # values with a complete multi-byte UTF-8 character
    cut_at_width: int = 0  # values whose last UTF-8 character was cut at the field width

    @property
    def values(self) -> set[bytes]:
        return {value for value, _ in self.verdicts}

    def add(self, value: bytes, filled: bool, count: int = 1) -> None:
        verdict = self.verdicts.get((value, filled)) or _utf8_verdict(value, filled)
        if len(self.verdicts) < _MAX_VALUES:  # bounded memory; the counts still see every value
            self.verdicts[(value, filled)] = verdict
        if verdict == "fail":
            self.utf8_failures += count
        if verdict in ("multibyte", "cut multibyte"):
            self.utf8_multibyte += count
        if verdict.startswith("cut"):
            self.cut_at_width += count

    def fails(self, codec: str) -> int:
        bad = 0
        for v in self.values:
            try:
                v.decode(codec)
            except UnicodeDecodeError:
                bad += 1
        return bad


def _utf8_verdict(value: bytes, filled: bool) -> str:
    """'multibyte' | 'cut' | 'cut multibyte' | 'fail' for one non-ASCII value."""
    try:
        value.decode("utf-8")
        return "multibyte"
    except UnicodeDecodeError as exc:
        # A value that fills its field and ends in an incomplete sequence was cut by the writer.
        cut = filled and exc.reason == "unexpected end of data" and exc.start >= len(value) - 3
        if not cut or not _decodes(value[: exc.start]):
            return "fail"
        return "cut" if value[: exc.start].isascii() else "cut multibyte"


def _decodes(value: bytes) -> bool:
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _dbf_fields(header: bytes, header_len: int) -> list[tuple[int, int]]:
    """(offset within the record, width) of each character field; offset 0 is the deletion flag."""
    fields, offset = [], 1
    for start in range(32, max(header_len - 31, 32), 32):
        desc = header[start:start + 32]
        if len(desc) < 32 or desc[0] == 0x0D:
            break
        width = desc[16]
        if chr(desc[11]) in "CcVv":
            fields.append((offset, width))
        offset += width
    return fields


def _dbf_evidence(stream: BinaryIO) -> tuple[_TextEvidence | None, int]:
    """Judge every character field of every record; returns (evidence, language byte)."""
    head = stream.read(32)
    if len(head) < 32:
        return None, 0
    language = head[29]
    header_len = int.from_bytes(head[8:10], "little")
    record_len = int.from_bytes(head[10:12], "little")
    header = head + stream.read(max(header_len - 32, 0))
    fields = _dbf_fields(header, header_len)
    if not fields or record_len <= 1:
        fields, record_len = [(0, 0)], 0  # no usable descriptors: judge the body as one text
    ev = _TextEvidence()
    rows_per_chunk = max(1, _CHUNK // max(record_len, 1))
    while True:
        chunk = stream.read(rows_per_chunk * record_len if record_len else _CHUNK)
        if not chunk:
            break
        if not record_len:
            body = chunk.rstrip(b" \x00\x1a")
            if not body.isascii():
                ev.add(body, False)
            continue
        rows = np.frombuffer(chunk[: len(chunk) // record_len * record_len], np.uint8).reshape(-1, record_len)
        for offset, width in fields:
            cells = rows[:, offset:offset + width]
            hit = (cells >= 0x80).any(axis=1)
            if not hit.any():
                continue
            # Judge each distinct value once: names repeat, and Python-level decoding is the cost.
            distinct, counts = np.unique(np.ascontiguousarray(cells[hit]).view(f"V{width}").ravel(),
                                         return_counts=True)
            for cell, count in zip(distinct, counts):
                value = cell.tobytes().rstrip(b" \x00")
                ev.add(value, len(value) == width, int(count))
    return ev, language


def _fallback(ev: _TextEvidence, language: int) -> str:
    """A single-byte code page for text that is not UTF-8: the language byte's, else cp1252."""
    for codec in (_LANGUAGE_DRIVERS.get(language), "cp1252"):
        if codec and not ev.fails(codec):
            return codec
    return "iso8859-1"  # decodes any byte; cp1252 leaves five undefined


def choose_dbf_encoding(ev: _TextEvidence | None, language: int, cpg: str | None) -> tuple[str | None, list[str]]:
    """(encoding label, warnings) from the judged text, the language byte and the .cpg text.

    A .cpg is overruled only when its code page fails to decode the text. Without one, text that
    is UTF-8 throughout (allowing a cut last character) is UTF-8; else the language byte's code
    page, else cp1252.
    """
    cpg_codec = codec_of_cpg(cpg)
    if cpg and cpg_codec is None:
        enc, warns = choose_dbf_encoding(ev, language, None)
        enc = enc or "UTF-8"
        return enc, [Msg.of("warn_cpg_unknown", cpg=cpg, enc=enc), *warns]
    warns: list[str] = []
    if ev is None or not ev.values:
        return (_label(cpg_codec) if cpg_codec else ("UTF-8" if ev is not None else None)), warns
    utf8 = ev.utf8_failures == 0 and ev.utf8_multibyte > 0
    if cpg_codec == "utf-8":
        codec = "utf-8" if ev.utf8_failures == 0 else _fallback(ev, language)
        if codec != "utf-8":
            warns.append(Msg.of("warn_cpg_not_utf8") if codec == "cp1252" else
                         Msg.of("warn_cpg_failed", cpg=cpg, enc=_label(codec)))
    elif cpg_codec:
        if not ev.fails(cpg_codec):
            codec = cpg_codec
            if utf8:
                warns.append(Msg.of("warn_cpg_kept", cpg=cpg))
        elif utf8:
            codec = "utf-8"
            warns.append(Msg.of("warn_cpg_utf8", cpg=cpg))
        else:
            codec = _fallback(ev, language)
            warns.append(Msg.of("warn_cpg_failed", cpg=cpg, enc=_label(codec)))
    else:
        codec = "utf-8" if utf8 else _fallback(ev, language)
    if ev.cut_at_width and codec == "utf-8":
        warns.append(Msg.of("warn_cut_chars", n=ev.cut_at_width))
    return _label(codec), warns


def detect_dbf_encoding(data: bytes | None, cpg: str | None) -> tuple[str | None, str | None]:
    """Choose the encoding of a .dbf's text from its bytes; returns (encoding, first warning)."""
    ev, language = _dbf_evidence(_io.BytesIO(data)) if data else (None, 0)
    enc, warns = choose_dbf_encoding(ev, language, cpg)
    return enc, (warns[0] if warns else None)


def _shapefile_encoding(source: Path) -> tuple[str | None, list[str], bool]:
    """(encoding, warnings, has cut characters) of the .dbf next to ``source``, read in chunks."""
    dbf = next((p for p in (source.with_suffix(".dbf"), source.with_suffix(".DBF")) if p.exists()), None)
    cpg_path = next((p for p in (source.with_suffix(".cpg"), source.with_suffix(".CPG")) if p.exists()), None)
    cpg = cpg_path.read_bytes()[:100].decode("ascii", "replace").strip() if cpg_path else None
    if dbf is None:
        return (*choose_dbf_encoding(None, 0, cpg), False)
    with open(dbf, "rb") as stream:
        ev, language = _dbf_evidence(stream)
    enc, warns = choose_dbf_encoding(ev, language, cpg)
    return enc, warns, bool(ev and ev.cut_at_width and enc == "UTF-8")


def _utf8_dropping_cut_tail(text):
    """UTF-8 text that came through GDAL as Latin-1 (one code point per byte), decoded with a
    character cut at the field width left out."""
    if not isinstance(text, str):
        return text
    raw = text.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return raw[: exc.start].decode("utf-8", errors="replace")
        return raw.decode("utf-8", errors="replace")


def _decode_cut_columns(gdf: pd.DataFrame) -> pd.DataFrame:
    gdf = gdf.rename(columns={c: _utf8_dropping_cut_tail(c) for c in gdf.columns if c != "geometry"})
    for c in gdf.columns:
        if c != "geometry" and (pd.api.types.is_object_dtype(gdf[c]) or pd.api.types.is_string_dtype(gdf[c])):
            gdf[c] = gdf[c].map(_utf8_dropping_cut_tail)
    return gdf


# --------------------------------------------------------------------------------------------
# Tables (CSV, TSV, Excel)


def _text_encoding(source: Path, path: Path) -> str:
    """The Python codec of a text table: BOMs first (UTF-16 is Excel's "Unicode text"), then
    UTF-8 if every byte decodes as UTF-8 (checked in chunks), else cp1252."""
    with open(source, "rb") as f:
        head = f.read(4096)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in head:
            # UTF-16 without a BOM: ASCII text with a zero after (LE) or before (BE) each byte.
            even, odd = head[0::2], head[1::2]
            if odd and odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
                return "utf-16-le"
            if even and even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
                return "utf-16-be"
            raise LoadError.of("err_binary_table", path)
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = f.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


_ENCODING_LABELS = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}


def _text_sample(source: Path, encoding: str, size: int = 65536) -> str:
    with open(source, "rb") as f:
        return codecs.getincrementaldecoder(encoding)(errors="replace").decode(f.read(size))


def _sniff_delimiter(text: str, ext: str) -> str:
    if ext == ".tsv":
        return "\t"
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,\t|").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in ";,\t|"}
        return max(counts, key=counts.get) if max(counts.values()) else ","


_SWEDISH_NUMBER = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0]\d{3})*(?:,\d+)?$|^[+-]?\d+(?:,\d+)?$")
_DOT_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_CODE_NAME = re.compile(r"(kod|code|^id$|_id$|nr$|nummer)", re.IGNORECASE)
# Spreadsheets and scripts write these into number columns; they stay numbers (the indicator
# step counts ±inf as missing) instead of turning the whole column into text.
_NON_FINITE = re.compile(r"^[+-]?(inf|infinity|nan)$", re.IGNORECASE)


def _convert_column(name: str, s: pd.Series) -> pd.Series:
    """Turn a text column into numbers when every value is a number, keeping codes as text.

    A column counts as a code when its name says so or any value has a leading zero: '0114' must
    stay '0114', and '114' in a column named Kommunkod is still a code to be normalised on join.
    """
    vals = s.dropna().astype(str).str.strip()
    vals = vals[vals != ""]
    if vals.empty:
        return s
    if _CODE_NAME.search(str(name)) and vals.str.fullmatch(r"\d+(\.0)?").all():
        return s.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    if vals.str.fullmatch(r"0\d+").any():
        return s.astype("string").str.strip()
    special = vals.str.match(_NON_FINITE)
    if special.all():
        return s
    vals = vals[~special]
    if vals.str.match(_DOT_NUMBER).all():
        return pd.to_numeric(s.astype(str).str.strip().replace("", np.nan), errors="coerce")
    if vals.str.match(_SWEDISH_NUMBER).all():
        cleaned = s.astype(str).str.strip().str.replace(r"[ \u00a0]", "", regex=True).str.replace(",", ".")
        return pd.to_numeric(cleaned.replace("", np.nan), errors="coerce")
    return s


def _convert_table(df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c).strip() for c in df.columns]
    for c in df.columns:
        if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c]):
            df[c] = _convert_column(c, df[c])
    return df


def _read_excel(source: Path, path: Path, layer: str | None) -> pd.DataFrame:
    sheets = _sheet_names(path, source)
    if layer in sheets:
        sheet = layer
    elif len(sheets) == 1 and layer in (None, path.stem, source.stem):
        sheet = sheets[0]
    elif layer is None:
        raise LoadError.of("err_several_sheets", path, names=", ".join(sheets))
    else:
        raise LoadError.of("err_no_sheet", path, layer=layer, names=", ".join(sheets))
    _check_memory(source.stat().st_size, XLSX_MEMORY_FACTOR, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = pd.read_excel(source, sheet_name=sheet, dtype=object, engine="openpyxl")
    except Exception as exc:
        if not _raised_by_library(exc):
            raise
        raise LoadError.of("err_not_excel", path) from None
    return _convert_table(df)


def _read_table(source: Path, path: Path, layer: str | None) -> tuple[pd.DataFrame, str | None]:
    """A CSV/TSV/text or Excel table. CSVs are parsed from the file in a streaming parser, after
    a size check, so peak memory is the table itself, never copies of the whole text."""
    ext = source.suffix.lower()
    if ext in (".xlsx", ".xlsm"):
        return _read_excel(source, path, layer), None
    encoding = _text_encoding(source, path)
    # UTF-16 spends two bytes on disk per character that UTF-8 and the parser spend one on.
    _check_memory(source.stat().st_size // (2 if encoding.startswith("utf-16") else 1), CSV_MEMORY_FACTOR, path)
    sample = _text_sample(source, encoding)
    if not sample.strip(" \t\r\n\ufeff"):
        raise LoadError.of("err_no_rows", path)
    delim = _sniff_delimiter(sample.lstrip("\ufeff"), ext)
    try:
        df = pd.read_csv(source, sep=delim, dtype=str, keep_default_na=False, na_values=[""],
                         skipinitialspace=True, encoding=encoding, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise LoadError.of("err_no_rows", path) from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise LoadError(f"cannot parse as a table ({str(exc).splitlines()[0][:120]})", path) from None
    if df.shape[1] < 2:
        raise LoadError.of("err_one_column", path)
    return _convert_table(df), _ENCODING_LABELS.get(encoding, encoding)


def _coordinate_columns(df: pd.DataFrame) -> tuple[str, str] | None:
    lower = {str(c).lower().strip(): c for c in df.columns}
    for xn, yn in _COORD_PAIRS:
        if xn in lower and yn in lower:
            x, y = lower[xn], lower[yn]
            if pd.api.types.is_numeric_dtype(df[x]) and pd.api.types.is_numeric_dtype(df[y]):
                return x, y
    return None


def _table_to_points(df: pd.DataFrame, path: Path, report: LoadReport) -> gpd.GeoDataFrame | None:
    cols = _coordinate_columns(df)
    if cols is None:
        return None
    x, y = cols
    xs, ys = df[x].to_numpy(float), df[y].to_numpy(float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    geom = np.full(len(df), None, dtype=object)
    geom[ok] = shapely.points(xs[ok], ys[ok])
    crs = None
    if str(y).lower().strip() in _WGS84_NAMES:
        if ok.any() and (np.abs(xs[ok]).max() > 180 or np.abs(ys[ok]).max() > 90):
            raise LoadError(f"columns '{x}'/'{y}' are named lon/lat but hold values outside degrees", path)
        crs = "EPSG:4326"
        report.warnings.append(Msg.of("warn_coords_wgs84", x=x, y=y))
    else:
        report.warnings.append(Msg.of("warn_coords", x=x, y=y))
    return gpd.GeoDataFrame(df.drop(columns=[x, y]), geometry=gpd.GeoSeries(geom), crs=crs)


# --------------------------------------------------------------------------------------------
# Geometry hygiene


_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection"])


def geometry_types(gs: gpd.GeoSeries) -> list[str]:
    arr = gs.to_numpy()
    present = ~shapely.is_missing(arr)
    present[present] = ~shapely.is_empty(arr[present])
    return sorted(set(_TYPE_NAMES[shapely.get_type_id(arr[present])]))


def _polygonal(geom):
    """Keep the polygon parts of what make_valid returned (it may add stray lines or points)."""
    if geom is None or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else None


def clean_geometries(gdf: gpd.GeoDataFrame, report: LoadReport, family: str | None, path) -> gpd.GeoDataFrame:
    geom = gdf.geometry
    null = geom.isna().to_numpy()
    empty = np.zeros(len(gdf), bool)
    empty[~null] = shapely.is_empty(geom.to_numpy()[~null])
    report.null_geometries, report.empty_geometries = int(null.sum()), int(empty.sum())
    if null.any() or empty.any():
        report.warnings.append(Msg.of("warn_dropped", null=int(null.sum()), empty=int(empty.sum())))
    gdf = gdf[~(null | empty)].copy()

    # A numpy array of family names, not a pandas Series: pandas would store it as Arrow strings,
    # and iterating those one element at a time cost more than reading the file.
    fams = geometry_families(gdf.geometry.to_numpy())
    names, counts = np.unique(fams, return_counts=True)
    present = [str(n) for n in names]
    if len(present) > 1 or family:
        counts = dict(zip(present, counts.tolist()))
        if family is None:
            desc = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            raise LoadError.of("err_mixed", path, types=desc)
        keep = fams == family
        if not keep.any():
            raise LoadError(f"has no {family} geometries (found {', '.join(present)})", path)
        if (~keep).any():
            report.warnings.append(Msg.of("warn_kept_family", kept=int(keep.sum()), family=family,
                                          left=int((~keep).sum())))
        gdf = gdf[keep].copy()

    arr = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        fixed = shapely.make_valid(arr[invalid])
        if (geometry_families(arr) == "polygon").all():
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        arr = arr.copy()
        arr[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(arr, index=gdf.index, crs=gdf.crs))
        report.invalid_repaired = int(invalid.sum())
        report.warnings.append(Msg.of("warn_repaired", n=int(invalid.sum())))
        gone = gdf.geometry.isna() | gdf.geometry.is_empty
        if gone.any():
            gdf = gdf[~gone].copy()
            report.warnings.append(Msg.of("warn_collapsed", n=int(gone.sum())))
    return gdf


# --------------------------------------------------------------------------------------------
# Public entry points


def resolve_member(path: Path, layer: str | None) -> tuple[str | None, str | None]:
    """For a zip: (member, layer-within-member). Elsewhere (None, layer)."""
    if path.suffix.lower() != ".zip":
        return None, layer
    members = _zip_members(path)
    if layer is None:
        if len(members) > 1:
            raise LoadError.of("err_zip_several", path, names=", ".join(members))
        return members[0], None
    for m in members:
        if layer in (m, Path(m).stem, Path(m).name):
            return m, None
    raise LoadError(f"zip has no member '{layer}' (has: {', '.join(members)})", path)


def read_raw(path, layer: str | None = None) -> Loaded:
    """Read a file as it is: no cleaning, no reprojection. Used by ``inspect`` and by ``load``.

    Any error a reading library raises on the file becomes one :class:`LoadError` line naming
    it; errors from Skikt's own code are not disguised as a bad file.
    """
    path = Path(path)
    with library_errors_as_one_line(path):
        _check_file(path)
        member, layer = resolve_member(path, layer)
        report = LoadReport(path=str(path), layer=layer or (Path(member).stem if member else None))
        if member is None:
            return _read_source(path, path, layer, report)
        with _zip_extracted(path, member) as inner:
            return _read_source(inner, path, layer, report)


def _read_source(source: Path, path: Path, layer: str | None, report: LoadReport) -> Loaded:
    """Read ``source`` (the file itself, or what was unpacked from the zip ``path``)."""
    ext = source.suffix.lower()
    if ext in TABLE_EXTS:
        df, encoding = _read_table(source, path, layer)
        report.encoding = encoding
        points = _table_to_points(df, path, report)
        report.feature_count = len(df)
        if points is not None:
            report.source_crs = crs_label(points.crs)
            return Loaded(points, "vector", report)
        return Loaded(df, "table", report)
    with _readable_database(source, path, report.warnings) as readable:
        return _read_vector(readable, path, layer, report)


def _read_vector(source: Path, path: Path, layer: str | None, report: LoadReport) -> Loaded:
    import pyogrio

    ext = source.suffix.lower()
    kwargs = {}
    cut = False
    if ext == ".shp":
        enc, warns, cut = _shapefile_encoding(source)
        report.encoding = enc
        report.warnings.extend(warns)
        if enc:
            # GDAL refuses a UTF-8 character cut in two; let it pass bytes through as Latin-1
            # and decode them here instead.
            kwargs["encoding"] = "ISO-8859-1" if cut else enc
    else:
        report.encoding = "UTF-8"
    try:
        if layer is None and ext in (".gpkg", ".sqlite"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                names = [str(n) for n, _ in pyogrio.list_layers(source)]
            if len(names) > 1:
                raise LoadError.of("err_several_layers", path, names=", ".join(names))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = gpd.read_file(source, layer=layer, engine="pyogrio", **kwargs)
    except SkiktError:
        raise
    except Exception as exc:
        if not _raised_by_library(exc):
            raise
        msg = str(exc).lower()
        if layer and ("not found" in msg or "layer" in msg and "exist" in msg):
            raise LoadError.of("err_no_layer", path, layer=layer) from None
        raise _read_error(exc, path) from None
    if cut:
        gdf = _decode_cut_columns(gdf)
    report.feature_count = len(gdf)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        report.warnings.append(Msg.of("warn_as_table"))
        return Loaded(pd.DataFrame(gdf), "table", report)
    report.source_crs = crs_label(gdf.crs)
    return Loaded(gdf, "vector", report)


def load(path, layer: str | None = None, *, crs=None, target_crs=DEFAULT_CRS,
         where: str | None = None, geometry: str | None = None) -> Loaded:
    """Read, clean and reproject one layer into ``target_crs``.

    ``crs`` is used only when the file has none (or to override a wrong one, with a warning).
    A file without a CRS and without ``crs`` raises :class:`CRSRequired` listing plausible CRSs;
    one with a local (engineering) CRS, which cannot be converted, raises :class:`LoadError`.
    """
    raw = read_raw(path, layer)
    report = raw.report
    frame = raw.frame
    if where:
        try:
            frame = filter_frame(frame, where)
        except SkiktError as exc:
            raise LoadError(str(exc), path) from None
        report.warnings.append(Msg.of("warn_filter", where=where, kept=len(frame), total=report.feature_count))
    if raw.kind == "table":
        return Loaded(frame.reset_index(drop=True), "table", report)
    with library_errors_as_one_line(path):
        return _clean_and_project(frame, report, path, crs, target_crs, geometry)


def _clean_and_project(gdf, report: LoadReport, path, crs, target_crs, geometry) -> Loaded:
    gdf = clean_geometries(gdf, report, geometry, path)
    if crs is not None:
        given = parse_crs(crs, path=path)
        if gdf.crs is not None and not given.equals(gdf.crs):
            report.warnings.append(Msg.of("warn_crs_override", file=crs_label(gdf.crs), given=crs_label(given)))
        gdf = gdf.set_crs(given, allow_override=True)
    elif gdf.crs is None:
        bounds = gdf.total_bounds if len(gdf) else (0, 0, 0, 0)
        raise CRSRequired(path, suggest_crs(bounds))
    target = parse_crs(target_crs)
    if is_local_crs(gdf.crs):
        raise LoadError.of("err_local_crs", path, name=gdf.crs.name, target=crs_label(target))
    report.source_crs = crs_label(gdf.crs)
    if not target.equals(gdf.crs):
        try:
            gdf = gdf.to_crs(target)
        except (CRSError, ProjError):
            raise LoadError.of("err_cannot_reproject", path, src=crs_label(gdf.crs), dst=crs_label(target)) from None
        report.reprojected_to = crs_label(target)
    bad = ~np.isfinite(gdf.geometry.bounds.to_numpy()).all(axis=1) if len(gdf) else np.zeros(0, bool)
    if bad.any():
        gdf = gdf[~bad]
        report.warnings.append(Msg.of("warn_unprojectable", n=int(bad.sum())))
    return Loaded(gdf.reset_index(drop=True), "vector", report)
