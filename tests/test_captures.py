"""Pins, sketched areas, dot votes and the decision log in the workshop GeoPackage (issue 11, items 5–6).

Oracles: GDAL (through pyogrio/geopandas) reading the file we wrote with plain SQL, a fresh
process reading it after the writer died without closing, Counter tallies, shapely equality.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import tomlkit

from skikt.layers.captures import CaptureError, WorkshopStore, gpkg_blob, geometry_from_blob, workshop_path
from skikt.layers.errors import SkiktError
from skikt.layers.project import read_project

X0, Y0 = 674_000.0, 6_580_000.0
SQUARE = shapely.Polygon([(X0, Y0), (X0 + 900, Y0), (X0 + 900, Y0 + 700), (X0, Y0 + 700)])
HOLED = shapely.Polygon(SQUARE.exterior.coords, [[(X0 + 100, Y0 + 100), (X0 + 200, Y0 + 100), (X0 + 200, Y0 + 200)]])


def test_blob_round_trip_matches_shapely():
    for geom in (shapely.Point(X0, Y0), HOLED):
        assert shapely.equals(geometry_from_blob(gpkg_blob(geom, 3006)), geom)


def test_each_capture_is_committed_at_once(tmp_path):
    path = tmp_path / "p.workshop.gpkg"
    store = WorkshopStore(path, "EPSG:3006", dots=5)
    store.add_pin((X0, Y0), "Här behövs en vårdcentral", "kommunerna")
    # A second connection sees it while the store is still open: it has been committed.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT comment FROM pins").fetchall() == [("Här behövs en vårdcentral",)]
        store.add_vote("u1", "kommunerna", 2)
        assert other.execute("SELECT unit_id, dots FROM votes").fetchall() == [("u1", 2)]
    store.close()


WRITER = """
import os, sys, shapely
from skikt.layers.captures import WorkshopStore
s = WorkshopStore(sys.argv[1], "EPSG:3006", dots=3)
s.add_pin((674000.0, 6580000.0), "pin ett", "a")
s.add_area(shapely.box(674000, 6580000, 674500, 6580400), "område ett", "b")
s.add_vote("1000mE674000N6580000", "a", 2)
s.add_vote("1000mE675000N6580000", "b", 1)
s.log("weight_change", layer="vard", before=3, after=5)
os._exit(1)  # the laptop dies: no close, no clean exit
"""


def test_captures_survive_a_dying_process_and_a_restart(tmp_path):
    path = tmp_path / "p.workshop.gpkg"
    res = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True)
    assert res.returncode == 1, res.stderr
    # Read back in a fresh process, with GDAL rather than our own reader.
    reader = ("import sys, pyogrio; "
              "print(sorted((n, g) for n, g in pyogrio.list_layers(sys.argv[1]).tolist())); "
              "print(pyogrio.read_dataframe(sys.argv[1], layer='votes')[['unit_id','group_id','dots']].values.tolist())")
    out = subprocess.run([sys.executable, "-c", reader, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    layers_line, votes_line = out.stdout.strip().splitlines()
    assert eval(layers_line) == sorted([("pins", "Point"), ("areas", "Polygon"), ("votes", None),  # noqa: S307 (our own repr)
                                        ("decision_log", None)])
    assert eval(votes_line) == [["1000mE674000N6580000", "a", 2], ["1000mE675000N6580000", "b", 1]]  # noqa: S307
    # And the store, reopened, goes on where it stopped: the budget counts the dots before the crash.
    with WorkshopStore(path, dots=3) as store:
        assert store.dots_left("a") == 1 and store.dots_left("b") == 2
        assert list(store.pins()["comment"]) == ["pin ett"]
        log = store.decision_log()
        assert list(log["kind"]) == ["comment", "comment", "vote", "vote", "weight_change"]
        assert log["details"].iloc[-1] == {"layer": "vard", "before": 3, "after": 5}


def test_geopandas_reads_every_table(tmp_path):
    path = tmp_path / "p.workshop.gpkg"
    with WorkshopStore(path, "EPSG:3006") as store:
        store.add_pin(shapely.Point(X0 + 10, Y0 + 20), "a pin", "g1")
        store.add_area(HOLED, "a holed area", "g2")
        store.add_vote("u9", "g1")
        store.log("scenario_switch", to="Vård först")
    pins = gpd.read_file(path, layer="pins")
    assert pins.crs.to_epsg() == 3006 and shapely.equals(pins.geometry.iloc[0], shapely.Point(X0 + 10, Y0 + 20))
    assert list(pins.columns[:4]) == ["comment", "group_id", "created", "seq"]
    areas = gpd.read_file(path, layer="areas")
    assert shapely.equals(areas.geometry.iloc[0], HOLED) and areas.group_id.iloc[0] == "g2"
    votes = gpd.read_file(path, layer="votes")
    assert votes.drop(columns="geometry", errors="ignore")[["unit_id", "group_id", "dots"]].values.tolist() == [["u9", "g1", 1]]
    log = pyogrio.read_dataframe(path, layer="decision_log")
    assert [json.loads(d) for d in log.details][-1] == {"to": "Vård först"}
    info = pyogrio.read_info(path, layer="areas")
    assert info["geometry_type"] == "Polygon" and info["features"] == 1
    extent = pyogrio.read_info(path, layer="areas", force_total_bounds=True)["total_bounds"]
    np.testing.assert_allclose(extent, SQUARE.bounds)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_dot_budget_refuses_the_extra_dot_in_one_line(tmp_path):
    with WorkshopStore(tmp_path / "w.gpkg", dots=3, groups=["a", "b"], units=["u1", "u2"]) as store:
        store.add_vote("u1", "a", 2)
        store.add_vote("u2", "a")
        with pytest.raises(CaptureError) as err:
            store.add_vote("u1", "a")
        assert "\n" not in str(err.value) and "3 dots" in str(err.value) and '"a"' in str(err.value)
        store.add_vote("u1", "b", 3)  # each group has its own budget
        with pytest.raises(CaptureError, match="dots"):
            store.add_vote("u2", "b", 0)
        with pytest.raises(CaptureError, match="no unit"):
            store.add_vote("u3", "b")
        with pytest.raises(CaptureError, match="no group"):
            store.add_vote("u1", "c")
        assert store.tally(by_group=True).values.tolist() == [["u1", 5, 2, 3], ["u2", 1, 1, 0]]
        assert (store.decision_log()["kind"] == "vote").sum() == 3  # refused votes leave no trace


def test_tally_matches_a_counter(tmp_path):
    rng = np.random.default_rng(5)
    units = [f"u{i}" for i in range(6)]
    groups = ["a", "b", "c"]
    expected, per_group = Counter(), Counter()
    with WorkshopStore(tmp_path / "w.gpkg", dots=1000) as store:
        for _ in range(40):
            u, g, d = units[rng.integers(6)], groups[rng.integers(3)], int(rng.integers(1, 4))
            store.add_vote(u, g, d)
            expected[u] += d
            per_group[(u, g)] += d
        tally = store.tally(by_group=True)
    assert dict(zip(tally.unit_id, tally.dots)) == dict(expected)
    for (u, g), d in per_group.items():
        assert tally.set_index("unit_id").loc[u, g] == d
    assert list(tally.dots) == sorted(tally.dots, reverse=True)


def test_undo_removes_the_last_capture_whatever_its_kind(tmp_path):
    with WorkshopStore(tmp_path / "w.gpkg") as store:
        pin = store.add_pin((X0, Y0), "first", "a")
        vote = store.add_vote("u1", "a")
        area = store.add_area(SQUARE, "third", "b")
        assert (store.undo_last().table, store.undo_last().table) == ("areas", "votes")
        assert store.areas().empty and store.votes().empty and list(store.pins().fid) == [pin]
        assert store.undo_last().fid == pin
        with pytest.raises(CaptureError, match="nothing to undo"):
            store.undo_last()
        undone = [d for k, d in zip(store.decision_log().kind, store.decision_log().details) if k == "undo"]
        assert undone == [{"table": "areas", "fid": area}, {"table": "votes", "fid": vote}, {"table": "pins", "fid": pin}]


def test_wrong_geometry_and_log_kind_are_refused(tmp_path):
    with WorkshopStore(tmp_path / "w.gpkg") as store:
        with pytest.raises(CaptureError, match="expected polygon"):
            store.add_area(shapely.Point(0, 0), "x")
        with pytest.raises(CaptureError, match="expected point"):
            store.add_pin(SQUARE, "x")
        with pytest.raises(CaptureError, match="unknown log entry"):
            store.log("exec")
        # Text that looks like code is stored and read back as text.
        store.log("note", text="__import__('os').system('echo hi')")
        assert store.decision_log().details.iloc[-1] == {"text": "__import__('os').system('echo hi')"}


def test_not_a_workshop_file_is_one_line(tmp_path):
    bad = tmp_path / "x.workshop.gpkg"
    bad.write_text("not sqlite at all " * 100)
    with pytest.raises(CaptureError) as err:
        WorkshopStore(bad)
    assert "\n" not in str(err.value) and str(err.value).startswith("x.workshop.gpkg: ")
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=3006).to_file(other, layer="x")
    with pytest.raises(CaptureError, match="pins"):
        WorkshopStore(other)


def test_beside_the_project_and_never_over_an_input(sample_copy):
    doc = tomlkit.parse(sample_copy.read_text(encoding="utf-8"))
    doc.pop("groups", None)  # the sample's own, if any: this test names its group
    sample_copy.write_text(tomlkit.dumps(doc) + '\n[[groups]]\nid = "kommunerna"\nweights = { vard = 1 }\n',
                           encoding="utf-8")
    project = read_project(sample_copy)
    assert workshop_path(project) == sample_copy.with_name("sample_project.workshop.gpkg")
    inputs_before = {p: p.read_bytes() for p in sample_copy.parent.iterdir() if p.is_file()}
    with WorkshopStore.for_project(project, dots=2) as store:
        store.add_vote("x", "kommunerna")
        with pytest.raises(CaptureError, match="no group"):
            store.add_vote("x", "anyone")
    for p, data in inputs_before.items():
        assert p.read_bytes() == data
    with pytest.raises(SkiktError, match="inputs are never overwritten"):
        WorkshopStore(sample_copy.with_name("vattenforsorjning.gpkg"), project=project)


def test_export_gpkg_and_csv(tmp_path):
    path = tmp_path / "w.workshop.gpkg"
    with WorkshopStore(path, dots=10) as store:
        store.add_pin((X0, Y0), "pin; with, \"quotes\"", "a")
        store.add_area(SQUARE, "area", "b")
        store.add_vote("u1", "a", 3)
        store.add_vote("u2", "b", 1)
        out = store.export(tmp_path / "out" / "captures.gpkg") if (tmp_path / "out").mkdir() is None else None
        csvs = store.export(tmp_path / "out" / "captures.csv")
        with pytest.raises(SkiktError):
            store.export(path)
    assert sorted(n for n, _ in pyogrio.list_layers(out[0])) == ["areas", "decision_log", "pins", "tally", "votes"]
    assert shapely.equals(gpd.read_file(out[0], layer="areas").geometry.iloc[0], SQUARE)
    tally = pyogrio.read_dataframe(out[0], layer="tally")
    assert tally[["unit_id", "dots"]].values.tolist() == [["u1", 3], ["u2", 1]]
    names = sorted(p.name for p in csvs)
    assert names == ["captures_areas.csv", "captures_decision_log.csv", "captures_pins.csv", "captures_tally.csv",
                     "captures_votes.csv"]
    pins = pd.read_csv(tmp_path / "out" / "captures_pins.csv")
    assert pins.comment.iloc[0] == "pin; with, \"quotes\""
    assert shapely.equals(shapely.from_wkt(pins.geometry.iloc[0]), shapely.Point(X0, Y0))


def test_export_of_an_empty_workshop_keeps_the_layer_types(tmp_path):
    with WorkshopStore(tmp_path / "w.workshop.gpkg") as store:
        out = store.export(tmp_path / "empty.gpkg")[0]
    assert dict(pyogrio.list_layers(out).tolist()) == {"pins": "Point", "areas": "Polygon", "votes": None,
                                                      "tally": None, "decision_log": None}
