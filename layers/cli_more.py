"""Command-line pieces for scenarios and packing: ``skikt compare | pack | unpack`` and
``--scenario NAME`` for commands that score a project.

``layers/cli.py`` wires them in with :func:`add_parsers` (each sub-parser's ``handler`` default is
its function) and :func:`add_scenario_argument` / :func:`apply_scenario_arg`. Handlers take the
parsed arguments, print a short report, return 0, and raise :class:`SkiktError` (one line) on
bad input, which ``cli.main`` turns into exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import SkiktError
from .safe_write import atomic_write, check_output_path, project_inputs, refuse_input_overwrite


def add_scenario_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", metavar="NAME",
                        help="score with the weights of this [[scenarios]] entry of the project")


def apply_scenario_arg(project, name: str | None):
    """The project as given, or a copy with scenario ``name``'s weights (``--scenario NAME``)."""
    if not name:
        return project
    from .scenarios import apply_scenario

    return apply_scenario(project, name)


def add_parsers(sub) -> None:
    """Add ``compare``, ``pack`` and ``unpack`` to an ``add_subparsers()`` object."""
    c = sub.add_parser("compare", help="compare the scores of two scenarios unit by unit")
    c.add_argument("project")
    c.add_argument("a", help="scenario A (\"-\": the project's own weights)")
    c.add_argument("b", help="scenario B (\"-\": the project's own weights)")
    c.add_argument("--out", required=True, help="FILE.csv or FILE.gpkg")
    c.add_argument("--municipalities", metavar="FILE.csv",
                   help="also write the per-municipality summary as CSV (a .gpkg gets it as a layer)")
    c.add_argument("--top", type=int, default=5, help="how many rising and falling units to list (default 5)")
    c.add_argument("--crs", help="CRS for files that have none, e.g. EPSG:3006")
    c.set_defaults(handler=cmd_compare)

    p = sub.add_parser("pack", help="bundle a project and every file it uses into one zip")
    p.add_argument("project")
    p.add_argument("--out", required=True, help="FILE.zip")
    p.set_defaults(handler=cmd_pack)

    u = sub.add_parser("unpack", help="restore a packed project into a folder")
    u.add_argument("zip")
    u.add_argument("--to", required=True, metavar="DIR", help="folder to restore into (created if missing)")
    u.add_argument("--overwrite", action="store_true", help="replace files that already exist in DIR")
    u.set_defaults(handler=cmd_unpack)


# ------------------------------------------------------------------------------------------------
# compare


COMPARE_FORMATS = (".csv", ".gpkg")


def write_comparison(table, out, ws=None, municipalities=None) -> Path:
    """CSV: the table as it is. GeoPackage: layer ``compare`` with the unit geometry of ``ws``,
    and layer ``municipalities`` (no geometry) when a summary is given. Never over a file the
    project reads; written through a temporary file (``safe_write``)."""
    out = check_output_path(out, COMPARE_FORMATS, "cmp_out_format")
    project = ws.project if ws is not None else None
    if out.suffix.lower() == ".csv":
        # As `skikt score`: six decimals, written by pyarrow (pandas' to_csv takes seconds for 400,000 rows).
        import pyarrow as pa
        import pyarrow.csv as pacsv

        rounded = table.copy()
        floats = rounded.select_dtypes("float").columns
        rounded[floats] = rounded[floats].round(6)
        arrow = pa.Table.from_pandas(rounded, preserve_index=False)
        return _write_safely(out, lambda p: pacsv.write_csv(arrow, p), project)
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(table, geometry=ws.units.geometry, crs=ws.project.crs)

    def write(p):
        gdf.to_file(p, layer="compare", driver="GPKG", engine="pyogrio")
        if municipalities is not None:
            import pyogrio

            pyogrio.write_dataframe(municipalities, p, layer="municipalities", driver="GPKG", append=True)

    return _write_safely(out, write, project)


def _write_safely(out: Path, write, project) -> Path:
    if project is not None:
        refuse_input_overwrite(project, out)
    return atomic_write(out, write, keep=project_inputs(project) if project is not None else ())


def _print_summary(table, summary, top: int, a: str, b: str) -> None:
    import pandas as pd

    from .scenarios import top_movers

    rising, falling = top_movers(table, top)
    print(f"rank_change = rank under {a!r} − rank under {b!r}: positive = rises under {b!r}")
    for label, rows in (("rise most", rising), ("fall most", falling)):
        if len(rows):
            moves = ", ".join(f"{r.unit_id} ({int(r.rank_change):+d})" for r in rows.itertuples())
            print(f"  units that {label}: {moves}")
    named = summary[summary["municipality"] != ""]  # sorted by mean rank change, risers first
    if len(named) > 2 * top:
        named = pd.concat([named.head(top), named.tail(top)])
    if len(named):
        print("  municipalities that move most (mean rank change; top-class units A → B"
              + ("; people in top-class units A → B" if "people_top_a" in named else "") + "):")
        for r in named.itertuples():
            line = f"    {r.municipality_name}: {r.mean_rank_change:+.1f}; {r.top_units_a} → {r.top_units_b}"
            if "people_top_a" in named:
                line += f"; {r.people_top_a:,.0f} → {r.people_top_b:,.0f}"
            print(line)


def cmd_compare(args) -> int:
    from .project import read_project
    from .scenarios import by_municipality, compare, scenario_weights
    from .workspace import Workspace

    out = check_output_path(args.out, COMPARE_FORMATS, "cmp_out_format")
    summary_out = check_output_path(args.municipalities, (".csv",), "cmp_out_format") if args.municipalities else None
    project = read_project(args.project)
    for path in (out, summary_out):
        if path is not None:
            refuse_input_overwrite(project, path)
    for name in (args.a, args.b):  # a misspelt name fails before the slow part
        scenario_weights(project, name)
    ws = Workspace(project, crs_override=args.crs)
    ws.update(strict=True)
    table = compare(ws, args.a, args.b)
    summary = by_municipality(ws, table)
    out = write_comparison(table, out, ws, summary)
    if summary_out is not None:
        write_comparison(summary, summary_out, ws)
    print(f"{ws.units.n} units, scenarios {args.a!r} and {args.b!r} → {out}")
    _print_summary(table, summary, args.top, args.a, args.b)
    return 0


# ------------------------------------------------------------------------------------------------
# pack / unpack


def cmd_pack(args) -> int:
    from .pack import pack

    result = pack(args.project, args.out)
    print(f"packed {len(result.files)} files ({result.bytes / 1e6:.1f} MB unpacked) → {result.path}")
    return 0


def cmd_unpack(args) -> int:
    from .pack import unpack

    result = unpack(args.zip, args.to, overwrite=args.overwrite)
    where = f"; project {result.project}" if result.project else ""
    print(f"unpacked {len(result.files)} files ({result.bytes / 1e6:.1f} MB) into {result.folder}{where}")
    return 0


HANDLERS = {"compare": cmd_compare, "pack": cmd_pack, "unpack": cmd_unpack}
