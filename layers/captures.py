"""What a workshop room says, kept at once: pins, sketched areas, dot votes and a decision log.

Everything goes into one GeoPackage beside the project, ``<project stem>.workshop.gpkg``, never
into a project input. Each capture is its own SQLite transaction, committed before the call
returns (synchronous=FULL, rollback journal), so a laptop that dies mid-meeting loses at most the
capture being written. The file is a plain GeoPackage 1.2 written with SQL: QGIS opens ``pins``
and ``areas`` as point and polygon layers, ``votes`` and ``decision_log`` as attribute tables.

Undo is a delete by id: every capture carries ``seq``, one number shared by the three capture
tables, so "the last capture" is the highest ``seq``. Log details are JSON text: data, read back
with ``json.loads``, never evaluated.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from .errors import SkiktError
from .safe_write import check_output_path, refuse_input_overwrite

SUFFIX = ".workshop.gpkg"
CAPTURE_TABLES = ("pins", "areas", "votes")
LOG_KINDS = ("weight_change", "scenario_switch", "vote", "comment", "undo", "note")
DEFAULT_DOTS = 5
EXPORT_FORMATS = (".gpkg", ".csv")
_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10200  # GeoPackage 1.2
_GEOMETRY_TABLES = {"pins": "POINT", "areas": "POLYGON"}


class CaptureError(SkiktError):
    """A capture that cannot be stored, or a workshop file that cannot be used."""


def workshop_path(project) -> Path:
    """``<project stem>.workshop.gpkg`` beside the project file."""
    if getattr(project, "path", None) is None:
        raise CaptureError.of("werr_no_project_path")
    path = Path(project.path)
    return path.with_name(path.stem + SUFFIX)


def now_iso() -> str:
    """UTC with milliseconds, ISO 8601 with a Z: sortable as text, as GeoPackage dates are."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------------------------------------
# GeoPackage geometry blobs


def gpkg_blob(geom, srs_id: int) -> bytes:
    """A GeoPackage geometry: "GP", version 0, flags (little endian, xy envelope), srs id,
    envelope (minx, maxx, miny, maxy), then standard WKB."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1, output_dimension=2)


def geometry_from_blob(blob: bytes):
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 0b111]
    return shapely.from_wkb(blob[8 + envelope:])


# ------------------------------------------------------------------------------------------------
# The file


def _srs(crs) -> tuple[int, str, str, int | None, str]:
    """(srs_id, name, organisation, code, WKT) for gpkg_spatial_ref_sys."""
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    auth = c.to_authority()
    if auth is not None and auth[0].upper() == "EPSG":
        code = int(auth[1])
        return code, c.name, "EPSG", code, c.to_wkt("WKT1_GDAL")
    return 100000, c.name, "NONE", None, c.to_wkt("WKT1_GDAL")


_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT);
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE pins (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POINT,
  comment TEXT, group_id TEXT, created TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE areas (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POLYGON,
  comment TEXT, group_id TEXT, created TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE votes (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, unit_id TEXT NOT NULL,
  group_id TEXT NOT NULL, dots INTEGER NOT NULL, created TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE decision_log (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, created TEXT NOT NULL,
  kind TEXT NOT NULL, details TEXT NOT NULL);
"""


def _create(con: sqlite3.Connection, crs) -> None:
    srs_id, name, org, code, wkt = _srs(crs)
    con.execute("BEGIN IMMEDIATE")
    con.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {_USER_VERSION}")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            con.execute(statement)
    undefined = 'LOCAL_CS["Undefined cartesian SRS"]'
    rows = [("Undefined cartesian SRS", -1, "NONE", -1, undefined, None),
            ("Undefined geographic SRS", 0, "NONE", 0, 'GEOGCS["Undefined geographic SRS"]', None)]
    if srs_id != 4326:
        from pyproj import CRS

        rows.append(("WGS 84 geodetic", 4326, "EPSG", 4326, CRS.from_epsg(4326).to_wkt("WKT1_GDAL"), None))
    rows.append((name, srs_id, org, code if code is not None else srs_id, wkt, None))
    con.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", rows)
    for table, kind in (("pins", "features"), ("areas", "features"), ("votes", "attributes"),
                        ("decision_log", "attributes")):
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?, ?, ?, ?)",
                    (table, kind, table, srs_id if kind == "features" else None))
    for table, gtype in _GEOMETRY_TABLES.items():
        con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, gtype, srs_id))
    con.execute("COMMIT")


@dataclass
class Removed:
    table: str
    fid: int


class WorkshopStore:
    """The workshop GeoPackage, open for captures. Every ``add_*`` commits before it returns.

    ``dots``: each group's dot budget; the vote that would pass it is refused in one line.
    ``groups``: known group ids (None: any); ``units``: known unit ids (None: any).
    """

    def __init__(self, path, crs="EPSG:3006", *, dots: int = DEFAULT_DOTS, groups=None, units=None, project=None):
        self.path = Path(path)
        if project is not None:
            refuse_input_overwrite(project, self.path)  # the workshop file is its own file, always
        self.dots = int(dots)
        self.groups = None if groups is None else {str(g) for g in groups}
        self.units = None if units is None else {str(u) for u in units}
        new = not self.path.exists() or self.path.stat().st_size == 0
        try:
            self.con = sqlite3.connect(self.path, isolation_level=None)  # transactions by hand
            self.con.execute("PRAGMA synchronous = FULL")
            if new:
                _create(self.con, crs)
            self._check()
        except sqlite3.Error as exc:
            raise CaptureError.of("werr_not_workshop", self.path, detail=str(exc)) from None
        row = self.con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'pins'").fetchone()
        self.srs_id = int(row[0])

    @classmethod
    def for_project(cls, project, *, dots: int = DEFAULT_DOTS, units=None) -> "WorkshopStore":
        from .groups import read_groups

        groups = [g.id for g in read_groups(project)] if _has_groups(project) else None
        return cls(workshop_path(project), project.crs, dots=dots, groups=groups, units=units, project=project)

    def _check(self) -> None:
        tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in (*CAPTURE_TABLES, "decision_log", "gpkg_contents") if t not in tables]
        if missing:
            raise CaptureError.of("werr_not_workshop", self.path, detail=", ".join(missing))

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------------------- writing

    def _transaction(self, write) -> int:
        """Run ``write(con, seq, created)`` in one committed transaction; returns its row id."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            seq = 1 + max(con.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {t}").fetchone()[0] for t in CAPTURE_TABLES)
            fid = write(con, seq, now_iso())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return fid

    def _log(self, con, created: str, kind: str, details: dict) -> None:
        con.execute("INSERT INTO decision_log (created, kind, details) VALUES (?, ?, ?)",
                    (created, kind, json.dumps(details, ensure_ascii=False)))

    def _check_group(self, group: str | None) -> str | None:
        if group is not None and self.groups is not None and str(group) not in self.groups:
            raise CaptureError.of("werr_group", self.path, id=str(group))
        return None if group is None else str(group)

    def _feature(self, table: str, geom, comment: str, group: str | None) -> int:
        expected = _GEOMETRY_TABLES[table]
        if not isinstance(geom, shapely.Geometry) or geom.geom_type.upper() != expected or geom.is_empty:
            kind = geom.geom_type if isinstance(geom, shapely.Geometry) else type(geom).__name__
            raise CaptureError.of("werr_geometry", self.path, expected=expected.lower(), kind=kind)
        group = self._check_group(group)
        blob = gpkg_blob(geom, self.srs_id)

        def write(con, seq, created):
            cur = con.execute(f"INSERT INTO {table} (geom, comment, group_id, created, seq) VALUES (?, ?, ?, ?, ?)",
                              (blob, str(comment), group, created, seq))
            self._log(con, created, "comment", {"table": table, "fid": cur.lastrowid, "group": group,
                                                "comment": str(comment)})
            self._grow_extent(con, table, geom)
            return cur.lastrowid
        return self._transaction(write)

    def _grow_extent(self, con, table: str, geom) -> None:
        minx, miny, maxx, maxy = shapely.bounds(geom)
        con.execute("""UPDATE gpkg_contents SET min_x = MIN(COALESCE(min_x, ?1), ?1), min_y = MIN(COALESCE(min_y, ?2), ?2),
                       max_x = MAX(COALESCE(max_x, ?3), ?3), max_y = MAX(COALESCE(max_y, ?4), ?4),
                       last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?5""",
                    (minx, miny, maxx, maxy, table))

    def add_pin(self, point, comment: str = "", group: str | None = None) -> int:
        """A point with a comment (in the project CRS); returns its fid."""
        if isinstance(point, (tuple, list)):
            point = shapely.Point(*point)
        return self._feature("pins", point, comment, group)

    def add_area(self, polygon, comment: str = "", group: str | None = None) -> int:
        """A sketched polygon with a comment; returns its fid."""
        if isinstance(polygon, (tuple, list)):
            polygon = shapely.Polygon(polygon)
        return self._feature("areas", polygon, comment, group)

    def add_vote(self, unit_id: str, group: str, dots: int = 1) -> int:
        """``dots`` dots of ``group`` on one unit; refused past the group's budget."""
        if isinstance(dots, bool) or not isinstance(dots, (int, np.integer)) or dots < 1:
            raise CaptureError.of("werr_dots", self.path, value=repr(dots))
        unit_id = str(unit_id)
        if self.units is not None and unit_id not in self.units:
            raise CaptureError.of("werr_unknown_unit", self.path, id=unit_id)
        group = self._check_group(group)

        def write(con, seq, created):
            # Checked inside the transaction: two windows voting at once cannot both pass the budget.
            used = con.execute("SELECT COALESCE(SUM(dots), 0) FROM votes WHERE group_id = ?", (group,)).fetchone()[0]
            if used + int(dots) > self.dots:
                raise CaptureError.of("werr_budget", self.path, group=group, budget=self.dots)
            cur = con.execute("INSERT INTO votes (unit_id, group_id, dots, created, seq) VALUES (?, ?, ?, ?, ?)",
                              (unit_id, group, int(dots), created, seq))
            self._log(con, created, "vote", {"fid": cur.lastrowid, "unit_id": unit_id, "group": group,
                                             "dots": int(dots)})
            return cur.lastrowid
        return self._transaction(write)

    def dots_left(self, group: str) -> int:
        used = self.con.execute("SELECT COALESCE(SUM(dots), 0) FROM votes WHERE group_id = ?", (str(group),)).fetchone()[0]
        return self.dots - int(used)

    def log(self, kind: str, **details) -> int:
        """One decision-log entry (weight change, scenario switch, …); details are stored as JSON."""
        if kind not in LOG_KINDS:
            raise CaptureError.of("werr_kind", self.path, kind=str(kind), known=", ".join(LOG_KINDS))
        json.dumps(details)  # refuse what cannot be stored before the transaction starts
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            self._log(con, now_iso(), kind, details)
            fid = con.execute("SELECT last_insert_rowid()").fetchone()[0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return fid

    def delete(self, table: str, fid: int) -> Removed:
        """Remove one capture by id (and say so in the log)."""
        if table not in CAPTURE_TABLES:
            raise CaptureError.of("werr_nothing_to_undo", self.path)

        def write(con, seq, created):
            gone = con.execute(f"DELETE FROM {table} WHERE fid = ?", (int(fid),)).rowcount
            if not gone:
                raise CaptureError.of("werr_nothing_to_undo", self.path)
            self._log(con, created, "undo", {"table": table, "fid": int(fid)})
            return int(fid)
        self._transaction(write)
        return Removed(table, int(fid))

    def undo_last(self) -> Removed:
        """Remove the most recent pin, area or vote."""
        last = None
        for table in CAPTURE_TABLES:
            row = self.con.execute(f"SELECT seq, fid FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
            if row is not None and (last is None or row[0] > last[0]):
                last = (row[0], table, row[1])
        if last is None:
            raise CaptureError.of("werr_nothing_to_undo", self.path)
        return self.delete(last[1], last[2])

    # -------------------------------------------------------------------------- reading

    def _frame(self, table: str) -> pd.DataFrame:
        df = pd.read_sql_query(f"SELECT * FROM {table} ORDER BY fid", self.con)
        # An empty table comes back as object columns; GDAL needs an integer fid to write it.
        for column in ("fid", "seq", "dots"):
            if column in df.columns:
                df[column] = df[column].astype("int64")
        for column in ("comment", "group_id", "created", "unit_id", "kind", "details"):
            if column in df.columns and df.empty:
                df[column] = df[column].astype(str)
        return df

    def pins(self):
        return self._features("pins")

    def areas(self):
        return self._features("areas")

    def _features(self, table: str):
        import geopandas as gpd

        df = self._frame(table)
        geoms = [geometry_from_blob(b) for b in df.pop("geom")]
        crs = self._crs()
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)

    def _crs(self):
        org, code, wkt = self.con.execute("SELECT organization, organization_coordsys_id, definition FROM "
                                          "gpkg_spatial_ref_sys WHERE srs_id = ?", (self.srs_id,)).fetchone()
        return f"EPSG:{code}" if str(org).upper() == "EPSG" else wkt

    def votes(self) -> pd.DataFrame:
        return self._frame("votes")

    def decision_log(self) -> pd.DataFrame:
        """The log with ``details`` parsed from JSON (data only)."""
        df = self._frame("decision_log")
        df["details"] = [json.loads(d) for d in df["details"]]
        return df

    def tally(self, by_group: bool = False) -> pd.DataFrame:
        """Dots per unit, most first (ties by unit id); with ``by_group`` one column per group too."""
        votes = self.votes()
        if votes.empty:
            return pd.DataFrame({"unit_id": pd.Series(dtype=str), "dots": pd.Series(dtype="int64")})
        total = votes.groupby("unit_id")["dots"].sum().rename("dots")
        out = total.to_frame()
        if by_group:
            per = votes.pivot_table(index="unit_id", columns="group_id", values="dots", aggfunc="sum", fill_value=0)
            out = out.join(per.astype("int64"))
        out = out.reset_index().sort_values(["dots", "unit_id"], ascending=[False, True], kind="stable")
        return out.reset_index(drop=True)

    # -------------------------------------------------------------------------- export

    def export(self, out, project=None) -> list[Path]:
        """A copy for others: ``.gpkg`` (pins, areas, votes, tally, decision_log as layers) or
        ``.csv`` (one file per table beside ``out``: ``<stem>_pins.csv`` …; geometry as WKT)."""
        if project is not None:
            refuse_input_overwrite(project, out)
        out = check_output_path(out, EXPORT_FORMATS, "werr_export_format")
        if out.resolve() == self.path.resolve():
            raise SkiktError.of("oerr_out_is_input", out, layer="workshop")
        tables = {"pins": self.pins(), "areas": self.areas(), "votes": self.votes(),
                  "tally": self.tally(by_group=True), "decision_log": self._frame("decision_log")}
        if out.suffix.lower() == ".gpkg":
            return [_export_gpkg(out, tables)]
        import geopandas as gpd

        written = []
        for name, frame in tables.items():
            path = out.with_name(f"{out.stem}_{name}.csv")
            if project is not None:
                refuse_input_overwrite(project, path)
            if isinstance(frame, gpd.GeoDataFrame):
                wkt = frame.geometry.to_wkt()
                frame = pd.DataFrame(frame.drop(columns="geometry")).assign(geometry=wkt)
            frame.to_csv(path, index=False, encoding="utf-8")
            written.append(path)
        return written


def _export_gpkg(out: Path, tables: dict) -> Path:
    import geopandas as gpd
    import pyogrio

    tmp = out.with_name(out.stem + ".part.gpkg")
    tmp.unlink(missing_ok=True)
    for name, frame in tables.items():
        if isinstance(frame, gpd.GeoDataFrame):
            # Named, so an empty table still opens as a point or polygon layer.
            gtype = _GEOMETRY_TABLES[name].title()
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", geometry_type=gtype)
        else:
            pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG")
    tmp.replace(out)
    return out


def _has_groups(project) -> bool:
    from .groups import _raw_groups

    return bool(_raw_groups(project))
