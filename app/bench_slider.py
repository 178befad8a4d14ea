"""Time the slider path in the real window, offscreen: a weight change → scores, classes, redraw.

Run by ``skikt bench`` in a subprocess (the core never imports Qt): prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(project: str) -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from .i18n import set_language
    from .main_window import MainWindow
    from .model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    win.resize(1600, 1000)
    win.show()
    model.set_project_sync(project)
    app.processEvents()
    win.canvas.redraw()
    app.processEvents()
    row = next(iter(win.weights_panel.rows.values()))
    times = []
    for value in range(20, 62, 2):
        t = time.perf_counter()
        row.slider.setValue(value)
        app.processEvents()  # the recombination (queued for the newest weights) and the repaint
        win.canvas.flush_events()
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
    if os.environ.get("SKIKT_PROFILE"):
        import cProfile
        import pstats

        def ticks():
            for value in range(62, 82, 2):
                row.slider.setValue(value)
                app.processEvents()
                win.canvas.flush_events()
                app.processEvents()

        cProfile.runctx("ticks()", globals(), locals(), "/tmp/slider.prof")
        pstats.Stats("/tmp/slider.prof").sort_stats("tottime").print_stats(14)
    print(json.dumps({"units": model.ws.units.n, "median_ms": statistics.median(times), "max_ms": max(times)}))


if __name__ == "__main__":
    main(sys.argv[1])
