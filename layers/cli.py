"""Headless command line: ``skikt inspect | score | compare | compose | export | memo | pack | unpack |
bench``. A thin layer over the core.

Every problem with the user's input or with writing the output is one line on stderr starting
with ``skikt:`` and exit code 2; never a traceback. Options are checked as they are parsed, and
the output path (never an input, a folder that can be written) before anything is computed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from .errors import SkiktError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a Unix tool ended by SIGPIPE

SENSITIVITY_DEFAULT = 0.10
BENCH_CELLS_MAX = 20_000_000  # ~1.3 GB of float64 for eight indicators; more is not a benchmark of Skikt
BENCH_NAMES = ("reweight", "score", "render", "panzoom", "slider", "startup")


class UsageError(Exception):
    """A command-line usage problem, already worded as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one ``skikt:`` line instead of usage + message."""

    def error(self, message: str):
        raise UsageError(_one_line(self.prog, message))


def _one_line(prog: str, message: str) -> str:
    # "argument --crs: unknown …" reads better as "--crs: unknown …"; the subcommand stays in front.
    if message.startswith("argument "):
        message = message[len("argument "):]
    command = prog.split(" ", 1)[1] if " " in prog else ""
    text = " ".join(f"{command}: {message}".split()) if command else " ".join(message.split())
    return text


# ------------------------------------------------------------------------------------------------
# Option types: each rejects a bad value with a message naming what is expected


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"expected a fraction 0 < STEP ≤ 1 (0.1 = ±10 %), got '{text}'")
    return value


def _cells(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of cells, got '{text}'") from None
    if not 1 <= value <= BENCH_CELLS_MAX:
        raise argparse.ArgumentTypeError(f"expected 1–{BENCH_CELLS_MAX:,} cells, got {value}")
    return value


def _draws(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of draws, got '{text}'") from None
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected 1–100,000 draws, got {value}")
    return value


def _spread(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a relative spread such as 0.2, got '{text}'") from None
    if not (math.isfinite(value) and 0 <= value <= 5):
        raise argparse.ArgumentTypeError(f"expected a relative spread 0–5 (0.2 = ±20 %), got '{text}'")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of workers, got '{text}'") from None
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"expected 1–1024 workers, got {value}")
    return value


def _tile_cells(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of cells, got '{text}'") from None
    if not 16 <= value <= 8192:
        raise argparse.ArgumentTypeError(f"expected 16–8192 cells along a tile side, got {value}")
    return value


def _bench_names(text: str) -> set[str]:
    names = {n.strip() for n in text.split(",") if n.strip()}
    known = _known_benchmarks()
    unknown = sorted(names - set(known))
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown benchmark '{', '.join(unknown) or text}' "
                                         f"(known: {', '.join(known)})")
    return names


def _known_benchmarks() -> tuple[str, ...]:
    try:
        from . import bench
    except ImportError:  # a broken install: let bench itself say what is missing
        return BENCH_NAMES
    return tuple(getattr(bench, "BENCHMARK_NAMES", BENCH_NAMES))


def _crs(text: str) -> str:
    from .crs import parse_crs

    try:
        parse_crs(text)
    except SkiktError:
        raise argparse.ArgumentTypeError(f"unknown coordinate system '{text}' (try e.g. EPSG:3006)") from None
    return text


def _dpi(text: str) -> int:
    from .safe_write import DPI_RANGE

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not DPI_RANGE[0] <= value <= DPI_RANGE[1]:
        raise argparse.ArgumentTypeError(f"expected a whole number {DPI_RANGE[0]}–{DPI_RANGE[1]}, got '{text}'")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels such as 1600x1000, got '{text}'") from None
    return w, h


NUMERIC_OPTIONS = ("--sensitivity", "--cells", "--dpi")


def _attach_numbers(argv: list[str]) -> list[str]:
    """``--sensitivity -inf`` → ``--sensitivity=-inf``: argparse takes a value that starts with "-"
    and is not a plain negative number for an option, and would then blame the wrong thing."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in NUMERIC_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and _is_number(argv[i + 1]):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parser() -> argparse.ArgumentParser:
    from .cli_more import add_parsers as add_more_parsers
    from .cli_more import add_scenario_argument
    from .safe_write import PAPERS

    p = _Parser(prog="skikt", description="Skikt: stack sector layers into priority maps.")
    sub = p.add_subparsers(dest="command")

    i = sub.add_parser("inspect", help="what a data file holds (layers, CRS, geometry problems)")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    s = sub.add_parser("score", help="compute indicators and priority scores for a project")
    s.add_argument("project")
    s.add_argument("--out", required=True, help="FILE.gpkg or FILE.csv")
    s.add_argument("--crs", type=_crs, help="CRS for files that have none, e.g. EPSG:3006")
    s.add_argument("--sensitivity", type=_fraction, metavar="STEP", nargs="?", const=SENSITIVITY_DEFAULT,
                   help="also report class changes when each weight moves ±STEP, a fraction 0 < STEP ≤ 1 "
                        "(default 0.10)")
    add_scenario_argument(s)
    s.add_argument("--groups", action="store_true",
                   help="add each [[groups]] entry's score and rank, the consensus and the rank spread")
    s.add_argument("--uncertainty", type=_draws, metavar="N",
                   help="Monte Carlo weight uncertainty: N Dirichlet draws around the weights (adds p_top, "
                        "rank_p05, rank_p50, rank_p95)")
    s.add_argument("--spread", type=_spread, default=0.2, metavar="S",
                   help="relative spread of a mean weight in the draws (default 0.2; 0 = the set weights)")
    s.add_argument("--engine", choices=["memory", "dask"], default="memory",
                   help="memory (default) or dask: tiled, for national grids (--out .tif, .parquet or .csv)")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask: an existing dask.distributed scheduler, e.g. tcp://host:8786 (default: a local cluster)")
    s.add_argument("--workers", type=_workers, metavar="N", help="dask: local workers (default: one per core)")
    s.add_argument("--tile-cells", type=_tile_cells, metavar="N",
                   help="dask: cells along a tile side (default 1024; smaller tiles spread a small grid over "
                        "more workers)")
    s.add_argument("--quiet", action="store_true", help="no progress bar (it is drawn only when stderr is a terminal)")

    add_more_parsers(sub)  # compare, pack, unpack

    c = sub.add_parser("compose", help="a map page (PNG, PDF, SVG), or a PDF handout of every saved view")
    c.add_argument("project")
    c.add_argument("--out", required=True, help="FILE.png, FILE.pdf or FILE.svg")
    which = c.add_mutually_exclusive_group()
    which.add_argument("--view", metavar="NAME", help="the page of this [[views]] entry (extent, layers, scenario, "
                                                      "title, subtitle)")
    which.add_argument("--all-views", action="store_true",
                       help="a multi-page PDF handout: one page per saved view, each with its notes")
    add_scenario_argument(c)
    c.add_argument("--title", help="the page title (default: the view's title, else the project's)")
    c.add_argument("--subtitle", help="the line under the title")
    paper = c.add_mutually_exclusive_group()
    paper.add_argument("--paper", type=str.upper, choices=sorted(PAPERS), help="paper size (PDF default: A4)")
    paper.add_argument("--size", type=_size,
                       help="WIDTHxHEIGHT in pixels for a screen-sized page (PNG/SVG default 1600x1000; at most "
                            "20000 a side and what fits in memory)")
    turn = c.add_mutually_exclusive_group()
    turn.add_argument("--landscape", dest="landscape", action="store_true", default=True,
                      help="paper on its side (the default)")
    turn.add_argument("--portrait", dest="landscape", action="store_false", help="paper upright")
    c.add_argument("--dpi", type=_dpi, default=150, help="dots per inch, 50–1200 (default 150; A4 at 300 is "
                                                          "3508x2480 px)")
    c.add_argument("--lang", choices=["sv", "en"], default="sv")
    c.add_argument("--no-composite", action="store_true", help="draw the layers only")
    c.add_argument("--crs", type=_crs)

    e = sub.add_parser("export", help="every layer and every scenario's scores for QGIS (.gpkg, or .qgs + .gpkg)")
    e.add_argument("project")
    e.add_argument("--out", required=True, help="FILE.gpkg or FILE.qgs")

    m = sub.add_parser("memo", help="the prioritisation memo for the board, as a PDF")
    m.add_argument("project")
    m.add_argument("--out", required=True, help="FILE.pdf")
    m.add_argument("--lang", choices=["sv", "en"], default="sv")

    # `skikt present` opens a window, so app/cli.py routes it before this parser; listed for --help.
    pr = sub.add_parser("present", help="presentation mode: the saved views full screen (F5 in the app)")
    pr.add_argument("project")
    pr.add_argument("--view", metavar="NAME")
    pr.add_argument("--screenshot", metavar="FILE.png")
    pr.add_argument("--size", metavar="WxH")

    b = sub.add_parser("bench", help="measure the speed targets (see README)")
    b.add_argument("--cells", type=_cells, default=400_000, help="cells for the re-weighting benchmark")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    b.add_argument("--only", type=_bench_names, help="comma-separated benchmark names")
    return p


# ------------------------------------------------------------------------------------------------
# Commands


def _project_for_output(project_path: str, out: str, formats: tuple[str, ...], format_key: str,
                        scorable: bool):
    """Read the project and refuse, before any computing, an output that cannot or must not be
    written, and a project that has nothing to score."""
    from .project import check_scorable, read_project
    from .safe_write import check_output_path, clean_stale_temporaries, project_inputs, refuse_input_overwrite

    project = read_project(project_path)
    refuse_input_overwrite(project, out)
    out_path = check_output_path(out, formats, format_key)
    if scorable:
        check_scorable(project)
    if out_path.parent.is_dir():
        clean_stale_temporaries(out_path.parent, keep=project_inputs(project))
    return project


def _workspace(project, crs: str | None, ws=None):
    from .workspace import Workspace

    ws = ws or Workspace(project, crs_override=crs)
    try:
        ws.update(strict=True)
    except SkiktError as exc:
        raise _naming_dask(exc) from None
    return ws


def _naming_dask(exc: SkiktError) -> SkiktError:
    """The memory guard's refusal names a cell size that fits; the national engine is the other
    way, so its line says so too. Other errors pass unchanged."""
    if exc.key != "err_grid_memory":
        return exc
    from .i18n import tr

    refusal = SkiktError(f"{exc}; {tr('nd_memory_dask', 'en')}")
    refusal.key, refusal.params, refusal.path = exc.key, exc.params, exc.path
    return refusal


def _suggest_dask_engine(project, crs: str | None):
    """For a grid above tiled.DASK_SUGGEST_CELLS cells, one line suggesting --engine dask, said
    before anything slow: only the study area is read to count the cells (about: its area over
    the cell's). Returns the workspace holding that layer, for the run to go on with."""
    from .tiled import DASK_SUGGEST_CELLS, suggest_dask
    from .units import check_grid_fits, grid_memory
    from .workspace import Workspace

    ws = Workspace(project, crs_override=crs)
    u = project.units
    if u.kind != "grid" or not u.study_area:
        return ws
    study = ws._study_area()
    # A grid that cannot fit at all is refused here, in the guard's one line (which names
    # --engine dask itself), rather than suggested first and refused after.
    try:
        check_grid_fits(study, float(u.cell_size), len(project.indicator_layers()), path=project.path)
    except SkiktError as exc:
        raise _naming_dask(exc) from None
    cells = grid_memory(study, float(u.cell_size), len(project.indicator_layers()))[1]
    if suggest_dask(int(cells)):
        from .i18n import tr

        _say(tr("nd_suggest_dask", "en").format(cells=f"{cells:,.0f}", limit=f"{DASK_SUGGEST_CELLS:,}"))
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
    from .cli_more import apply_scenario_arg
    from .composite import sensitivity
    from .output import SCORE_FORMATS, write_scores

    if args.engine == "dask":
        return _score_dask(args)
    if args.scheduler or args.workers:
        raise SkiktError("score: --scheduler and --workers need --engine dask")
    if args.tile_cells:
        raise SkiktError("score: --tile-cells needs --engine dask")
    project = _project_for_output(args.project, args.out, SCORE_FORMATS, "oerr_scores_format", scorable=True)
    project = apply_scenario_arg(project, args.scenario)
    if args.groups:
        from .groups import read_groups

        read_groups(project) or _no_groups(project)  # before the slow part
    ws = _workspace(project, args.crs, _suggest_dask_engine(project, args.crs))
    uncertainty = ws.weight_uncertainty(args.uncertainty, args.spread) if args.uncertainty else None
    table = ws.result_table(uncertainty) if uncertainty is not None else None
    if args.groups:
        from .groups import score_table_with_groups

        with_groups = score_table_with_groups(ws)
        if table is not None:
            for col in ("p_top", "rank_p05", "rank_p50", "rank_p95"):
                with_groups[col] = table[col].to_numpy()
        table = with_groups
    out = write_scores(ws, args.out, table=table)
    c = ws.composite
    scenario = f", scenario {args.scenario!r}" if args.scenario else ""
    print(f"{ws.units.n} units ({ws.project.units.kind}), {len(ws.normalised.layer_ids)} indicators{scenario} → {out}")
    _print_decision_methods(ws, uncertainty)
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


def _print_decision_methods(ws, uncertainty) -> None:
    """What the decision methods did, so a number on the map can be traced back from the log."""
    import numpy as np

    ahp = getattr(ws, "ahp", None)
    if ahp is not None:
        weights = ", ".join(f"{lid} {w:.3f}" for lid, w in ahp.weight_of().items())
        print(f"AHP weights: {weights} (λmax {ahp.lambda_max:.3f}, CR {ahp.cr:.3f})")
        if ahp.warning():
            _say(f"warning: {ahp.warning()}")
    method, alpha = ws.combine_method()
    if method != "mean":
        print(f"combination: {method}" + (f", alpha {alpha:g}" if method == "owa" else ""))
    excluded = getattr(ws, "excluded_by", None)
    if excluded is not None and (excluded != "").any():
        for lid in sorted(set(excluded) - {""}):
            print(f"excluded: {int((excluded == lid).sum()):,} units by {lid}")
    if uncertainty is not None:
        p = uncertainty.p_top
        always, sometimes = float(np.mean(p == 1)), float(np.mean((p > 0) & (p < 1)))
        print(f"weight uncertainty: {uncertainty.draws} draws, Dirichlet concentration c = "
              f"{uncertainty.concentration:.1f}; {always:.1%} of units always in the top class, {sometimes:.1%} sometimes")


def _score_dask(args) -> int:
    """--engine dask: the tiled engine (layers/tiled.py) on a local or remote dask cluster, with a
    progress bar on a terminal and Ctrl-C that closes the cluster and leaves no output file."""
    from .cli_more import apply_scenario_arg
    from .cli_progress import cancel_on_ctrl_c, ProgressLine
    from .i18n import tr
    from .project import check_scorable, read_project
    from .safe_write import refuse_input_overwrite
    from .tiled import run_score_dask, TILE_CELLS
    from .workspace import Cancelled

    if args.sensitivity:
        raise SkiktError("score: --sensitivity is not available with --engine dask yet")
    project = read_project(args.project)
    refuse_input_overwrite(project, args.out)
    project = apply_scenario_arg(project, args.scenario)
    check_scorable(project)
    bar = ProgressLine(sys.stderr, enabled=False if args.quiet else None)
    uncertainty = (args.uncertainty, args.spread) if args.uncertainty else None
    try:
        with cancel_on_ctrl_c() as pressed:
            done = run_score_dask(args.project, args.out, scheduler=args.scheduler, workers=args.workers,
                                  project=project, progress=bar, cancel=pressed.is_set,
                                  tile_cells=args.tile_cells or TILE_CELLS, groups=args.groups, uncertainty=uncertainty)
    except Cancelled:
        bar.close()
        _say(tr("nd_cancelled", "en"))
        return EXIT_INTERRUPTED
    finally:
        bar.close()
    scenario = f", scenario {args.scenario!r}" if args.scenario else ""
    print(f"{done['cells']:,} cells ({done['scored']:,} scored) in {done['tiles']} tiles, "
          f"{done['indicators']} indicators{scenario}, {done['seconds']:.1f} s → {done['out']}")
    extra = done["extra"]
    ahp = done.get("ahp")
    if ahp is not None:
        weights = ", ".join(f"{lid} {w:.3f}" for lid, w in ahp.weight_of().items())
        print(f"AHP weights: {weights} (λmax {ahp.lambda_max:.3f}, CR {ahp.cr:.3f})")
        if ahp.warning():
            _say(f"warning: {ahp.warning()}")
    if extra.method != "mean":
        print(f"combination: {extra.method}" + (f", alpha {extra.alpha:g}" if extra.method == "owa" else ""))
    if extra.groups:
        print(f"groups: {', '.join(extra.group_ids)}, consensus and rank spread")
    if extra.uncertainty:
        print(f"weight uncertainty: {extra.n_draws} draws, Dirichlet concentration c = {extra.concentration:.1f}")
    for line in done["warnings"]:
        _say(f"warning: {line}")
    return 0


def _no_groups(project):
    from .groups import GroupError

    raise GroupError.of("gerr_none", project.path)


def _page_spec(args, out: str):
    from .export import PageSpec

    return PageSpec.for_output(out, paper=args.paper, landscape=args.landscape, dpi=args.dpi, size=args.size)


def cmd_compose(args) -> int:
    from .safe_write import check_page

    page = _page_spec(args, args.out)
    check_page(*page.pixels, page.dpi, page.paper)  # before the project is computed: a page that cannot be drawn
    from .export import MAP_FORMATS, compose_handout, compose_map, project_view, project_views

    project = _project_for_output(args.project, args.out, MAP_FORMATS, "oerr_map_format",
                                  scorable=not args.no_composite)
    if args.all_views:
        views = project_views(project)  # a missing view or a non-PDF output is refused before computing
        _check_handout(project, args.out, views)
    view = project_view(project, args.view) if args.view else None
    if args.scenario:
        from .scenarios import scenario_weights

        scenario_weights(project, args.scenario)  # a misspelt name fails before the slow part
    ws = _workspace(project, args.crs)
    options = dict(title=args.title, subtitle=args.subtitle, page=page, lang=args.lang,
                   composite=not args.no_composite, scenario=args.scenario)
    if args.all_views:
        out = compose_handout(ws, args.out, views, **options)
        print(f"wrote {out} ({len(views)} pages)")
        return 0
    out = compose_map(ws, args.out, view=view, **options)
    print(f"wrote {out}")
    return 0


def _check_handout(project, out: str, views) -> None:
    from pathlib import Path

    if Path(out).suffix.lower() != ".pdf":
        raise SkiktError.of("oerr_handout_pdf", out)
    if not views:
        raise SkiktError.of("oerr_no_views", project.path)


def cmd_export(args) -> int:
    from .qgis_export import run_export

    out = run_export(args.project, args.out)
    print(f"wrote {out}")
    return 0


def cmd_memo(args) -> int:
    from .project import check_scorable, read_project
    from .safe_write import check_output_path, refuse_input_overwrite

    project = read_project(args.project)
    refuse_input_overwrite(project, args.out)
    check_output_path(args.out, (".pdf",), "memo_out_format")
    check_scorable(project)
    from .memo import write_memo

    out = write_memo(project, args.out, args.lang)
    print(f"wrote {out}")
    return 0


def cmd_present(args) -> int:
    raise SkiktError("present: opens a window; run it as `skikt present PROJECT`")


def cmd_bench(args) -> int:
    from .bench import run_benchmarks

    return run_benchmarks(cells=args.cells, quick=args.quick, only=args.only)


HANDLERS = {"inspect": cmd_inspect, "score": cmd_score, "compose": cmd_compose, "export": cmd_export,
            "memo": cmd_memo, "present": cmd_present, "bench": cmd_bench}


def _say(line: str) -> None:
    try:
        print(f"skikt: {line}", file=sys.stderr)
    except (BrokenPipeError, OSError):
        pass  # stderr itself closed: nothing more we can tell anyone


def _quiet_stdout() -> None:
    """After the reader of our stdout went away: point stdout at /dev/null, so the interpreter's
    final flush does not print "Exception ignored … BrokenPipeError" on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout replaced by something without a descriptor (tests): nothing to flush


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(_attach_numbers(list(sys.argv[1:] if argv is None else argv)))
        if args.command is None:
            parser.print_help()
            return 0
        # Sub-commands added elsewhere name their function with set_defaults(handler=...).
        handler = getattr(args, "handler", None) or HANDLERS[args.command]
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at exit
        return code
    except UsageError as exc:
        _say(str(exc))
        return EXIT_BAD_INPUT
    except SkiktError as exc:
        _say(str(exc))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except MemoryError:
        _say("not enough memory for this run (a smaller cell_size, page or input would fit)")
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug, not bad input: still one line, and its own exit code
        if os.environ.get("SKIKT_DEBUG"):
            raise
        detail = " ".join(str(exc).split())[:300]
        _say(f"internal error ({type(exc).__name__}: {detail}); please report it with the input "
             f"(SKIKT_DEBUG=1 shows the traceback)")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
