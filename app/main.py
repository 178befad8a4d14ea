"""Start the window: ``skikt`` (sample project), ``skikt open PROJECT``, ``--screenshot FILE --size WxH``."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

T0 = time.perf_counter()


def _args(argv):
    p = argparse.ArgumentParser(prog="skikt", description="Skikt desktop app. Headless commands: "
                                "skikt inspect | score | compose | bench (see skikt inspect -h).")
    p.add_argument("command", nargs="?", choices=["open"], help="open PROJECT")
    p.add_argument("project", nargs="?")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window offscreen, save, exit")
    p.add_argument("--size", default="1600x1000", help="window size for --screenshot (WIDTHxHEIGHT)")
    p.add_argument("--lang", choices=["sv", "en"], help="interface language (remembered)")
    p.add_argument("--quit-after-map", action="store_true", help=argparse.SUPPRESS)  # skikt bench: start-up time
    return p.parse_args(argv)


# The bundled sample project is a template: saving it asks for a place of the user's own.
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"


def sample_project():
    here = SAMPLE_DIR / "sample_project.toml"
    return here if here.exists() else None


def is_bundled_sample(path) -> bool:
    """True for a file in the bundled sample folder (or below it), symlinks resolved."""
    try:
        Path(path).resolve().relative_to(SAMPLE_DIR.resolve())
    except ValueError:
        return False
    return True


def install_excepthook(model) -> None:
    """Anything unexpected in a slot ends as one line for the user (traceback on stderr), never a
    dead app. Qt calls sys.excepthook for exceptions that escape a Python slot or event handler."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            return previous(exc_type, exc, tb)
        try:
            model.report_unexpected(exc.with_traceback(tb))
        except Exception:  # noqa: BLE001 - the hook itself must never fail
            traceback.print_exception(exc_type, exc, tb)

    sys.excepthook = hook


def start_window(model, path):
    """``skikt open PATH``: read the project (in the worker), build the window while it reads,
    and show what could not be read as one line each, in the window."""
    from skikt.layers.errors import SkiktError

    from .i18n import language

    early_error = None
    if path:
        # Start reading the project in the worker first, then import the window's modules
        # (matplotlib's Qt backend above all) and build the window while it reads, so that the
        # two share the machine's cores instead of the reading waiting for the imports.
        try:
            model.open_project(path)
        except SkiktError as exc:
            early_error = exc.text(language())
    from .main_window import MainWindow

    window = MainWindow(model)
    window.place_on_screen(window_geometry())
    window.show()
    if early_error:
        window.show_error(early_error)
    return window


def window_geometry():
    from PySide6.QtCore import QSettings

    return QSettings("Skikt", "Skikt").value("geometry")


# Qt's X11 plugin (since Qt 6.5) needs this system library; without it Qt aborts with a long list
# of plugin names that does not say what to install.
XCB_CURSOR_LIB = "libxcb-cursor.so.0"


def missing_x11_library() -> bool:
    """True when Qt is about to use its X11 plugin on Linux and libxcb-cursor0 cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return False
    if not platform and (os.environ.get("WAYLAND_DISPLAY") or not os.environ.get("DISPLAY")):
        return False
    import ctypes

    try:
        ctypes.CDLL(XCB_CURSOR_LIB)
    except OSError:
        return True
    return False


def import_core_before_qt() -> None:
    """Import the modules the first map needs that do not need Qt, before Qt is imported.

    Once PySide6 is imported, its import hook reads the source file of every module imported
    after it (to see whether the module uses PySide6): for the thousand modules of geopandas,
    pandas, matplotlib and pydantic that cost 0.3–0.5 s of CPU on the way to the first map.
    They are imported the moment the window starts either way; before Qt, the hook never sees
    them. matplotlib's Qt backend needs Qt and comes later, with the window.
    """
    import matplotlib.figure  # noqa: F401
    import pyogrio  # noqa: F401  (the worker reads the layers with it)
    from matplotlib.backends import backend_agg  # noqa: F401

    import skikt.layers.export  # noqa: F401
    import skikt.layers.scene  # noqa: F401
    import skikt.layers.workspace  # noqa: F401


def watch_first_paints(canvas, on_priority) -> dict:
    """(perf_counter, process CPU time) of the first paint event of ``canvas`` that shows the
    layers ("first") and the priority map ("priority"): the moment the pixels reach the window,
    which is after the canvas has drawn them into its buffer (``first_draw_at``). Calls
    ``on_priority`` once the priority map has been painted."""
    from PySide6.QtCore import QEvent, QObject

    stamps = {}

    class FirstPaints(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                for name, drawn in (("first", canvas.first_draw_at), ("priority", canvas.first_priority_at)):
                    if drawn is not None and name not in stamps:
                        stamps[name] = (time.perf_counter(), time.process_time())
                        if name == "priority":
                            on_priority()
            return False

    canvas.skikt_paint_watch = FirstPaints(canvas)  # kept alive with the canvas
    canvas.installEventFilter(canvas.skikt_paint_watch)
    return stamps


def run(argv: list[str]) -> int:
    args = _args(argv)
    if args.command == "open" and not args.project:
        print("skikt: open needs a project file", file=sys.stderr)
        return 2
    if args.screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if missing_x11_library():
        from skikt.layers.i18n import tr

        from .i18n import language

        print(tr("xcb_cursor_missing", args.lang or language()), file=sys.stderr)
        return 2
    import_core_before_qt()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from skikt.layers.errors import SkiktError

    from .i18n import install_qt_translations, set_language
    from .model import AppModel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Skikt")
    app.setOrganizationName("Skikt")
    if args.lang:
        set_language(args.lang, remember=not args.screenshot)
    install_qt_translations(app)
    model = AppModel()
    path = args.project or sample_project()
    if args.screenshot:
        from .main_window import MainWindow

        window = MainWindow(model)
        window.confirm_close = False
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            print(f"skikt: --size must look like 1600x1000, not '{args.size}'", file=sys.stderr)
            return 2
        window.resize(w, h)
        window.show()
        app.processEvents()
        if path:
            try:
                model.set_project_sync(path)
            except SkiktError as exc:
                print(f"skikt: {exc}", file=sys.stderr)
                return 2
        app.processEvents()
        window.canvas.redraw()
        if os.environ.get("SKIKT_TIMING"):
            print(f"first map drawn after {window.canvas.first_draw_at - T0:.2f}s")
        app.processEvents()
        ok = window.grab().save(args.screenshot)
        if not ok:
            print(f"skikt: could not write {args.screenshot}", file=sys.stderr)
            return 2
        print(f"wrote {args.screenshot}")
        return 0
    install_excepthook(model)
    window = start_window(model, path)
    if args.quit_after_map:
        reported = []

        def report():
            if reported:
                return
            reported.append(True)
            # Wall-clock stamps, so the caller can measure from the moment it started the process,
            # and the process's CPU time (every thread's) at each: what the start-up costs,
            # whatever else the machine is doing.
            wall = time.time() - time.perf_counter()
            for name in ("first", "priority"):
                at, cpu = painted.get(name, (float("nan"), float("nan")))
                print(f"{name} map painted at {wall + at:.3f}")
                print(f"{name} map cpu {cpu:.3f}")
            app.quit()

        painted = watch_first_paints(window.canvas, on_priority=lambda: QTimer.singleShot(0, report))
        # Without a priority map (no indicator could be computed) the report comes all the same.
        window.canvas.model.computed.connect(lambda: QTimer.singleShot(3000, report))
    return app.exec()
