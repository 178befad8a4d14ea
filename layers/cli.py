"""Headless command line: ``skikt inspect | score | compose | bench``. A thin layer over the core.

Errors in the user's input print one line on stderr and exit with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import SkiktError

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="skikt", description="Skikt: stack sector layers into priority maps.")
    sub = p.add_subparsers(dest="command")

    i = sub.add_parser("inspect", help="what a data file holds (layers, CRS, geometry problems)")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    s = sub.add_parser("score", help="compute indicators and priority scores for a project")
    s.add_argument("project")
    s.add_argument("--out", required=True, help="FILE.gpkg or FILE.csv")
    s.add_argument("--crs", help="CRS for files that have none, e.g. EPSG:3006")
    s.add_argument("--sensitivity", type=float, metavar="STEP", nargs="?", const=0.10,
                   help="also report class changes when each weight moves ±STEP (default 0.10)")

    c = sub.add_parser("compose", help="render the project's priority map to PNG, PDF or SVG")
    c.add_argument("project")
    c.add_argument("--out", required=True)
    c.add_argument("--title")
    c.add_argument("--size", default="1600x1000", help="WIDTHxHEIGHT in pixels (default 1600x1000)")
    c.add_argument("--dpi", type=int, default=150)
    c.add_argument("--lang", choices=["sv", "en"], default="sv")
    c.add_argument("--no-composite", action="store_true", help="draw the layers only")
    c.add_argument("--crs")

    b = sub.add_parser("bench", help="measure the speed targets (see README)")
    b.add_argument("--cells", type=int, default=400_000, help="cells for the re-weighting benchmark")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    b.add_argument("--only", help="comma-separated benchmark names")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w < 200 or h < 150 or w > 20000 or h > 20000:
            raise ValueError
        return w, h
    except ValueError:
        raise SkiktError(f"--size must look like 1600x1000, not '{text}'") from None


def _workspace(project_path: str, crs: str | None):
    from .project import read_project
    from .workspace import Workspace

    ws = Workspace(read_project(project_path), crs_override=crs)
    ws.update(strict=True)
    return ws


def cmd_inspect(args) -> int:
    from .inspect import format_inspection, inspect_path

    result = inspect_path(args.path)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_inspection(result))
    return 0


def cmd_score(args) -> int:
    from .composite import sensitivity
    from .output import write_scores

    ws = _workspace(args.project, args.crs)
    out = write_scores(ws, args.out)
    c = ws.composite
    print(f"{ws.units.n} units ({ws.project.units.kind}), {len(ws.normalised.layer_ids)} indicators → {out}")
    for lid, share, missing in zip(ws.normalised.layer_ids, c.shares, ws.normalised.missing):
        extra = f", {missing} units without a value" if missing else ""
        print(f"  {lid}: weight share {share:.1%}{extra}")
    for lid, lay in ws.layers.items():
        for w in lay.report.warnings:
            if w.startswith("join:"):
                print(f"  {lid} {w}")
    if args.sensitivity:
        sens = sensitivity(ws.normalised, c.weights, c.k, args.sensitivity)
        print(f"sensitivity ±{args.sensitivity:.0%}: {sens.any_change_share:.1%} of units change class "
              f"under at least one of {sens.perturbations} perturbations")
        for name, share in sens.changed_share.items():
            print(f"  {name}: {share:.1%}")
    return 0


def cmd_compose(args) -> int:
    from .export import compose_map

    ws = _workspace(args.project, args.crs)
    out = compose_map(ws, args.out, title=args.title, size=_size(args.size), dpi=args.dpi, lang=args.lang,
                      composite=not args.no_composite)
    print(f"wrote {out}")
    return 0


def cmd_bench(args) -> int:
    from .bench import run_benchmarks

    only = set(args.only.split(",")) if args.only else None
    return run_benchmarks(cells=args.cells, quick=args.quick, only=only)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    handler = {"inspect": cmd_inspect, "score": cmd_score, "compose": cmd_compose, "bench": cmd_bench}[args.command]
    try:
        return handler(args)
    except SkiktError as exc:
        print(f"skikt: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
