"""Time the real window, offscreen: a weight change (scores, classes, overlap, redraw), pan and wheel zoom.

Each weight step is timed from the slider's new value until the window has painted the new map.

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
    times, times_cpu = [], []
    for value in range(20, 62, 2):
        c, t = time.process_time(), time.perf_counter()
        row.slider.setValue(value)
        app.processEvents()  # the recombination (queued for the newest weights) and the repaint
        win.canvas.flush_events()
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
        times_cpu.append((time.process_time() - c) * 1000)  # this process's work, however busy the machine
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
    canvas = win.canvas
    canvas.full_extent()
    app.processEvents()

    cpu = []

    def timed(action) -> float:
        c, t = time.process_time(), time.perf_counter()
        action()
        app.processEvents()
        cpu.append((time.process_time() - c) * 1000)
        return (time.perf_counter() - t) * 1000

    x0, x1 = canvas.ax.get_xlim()
    y0, y1 = canvas.ax.get_ylim()
    cx, cy = x0 + 0.55 * (x1 - x0), y0 + 0.45 * (y1 - y0)
    zooms = [timed(lambda f=f: canvas.zoom_at(cx, cy, f)) for f in [1 / 1.25] * 6 + [1.25] * 6]
    zooms_cpu, cpu[:] = list(cpu), []
    px = (x1 - x0) / max(canvas.width(), 1)

    def pan():  # one step of a drag: the view follows the hand by 40 × 25 pixels
        a, b = canvas.ax.get_xlim()
        c, d = canvas.ax.get_ylim()
        canvas.set_view((a + 40 * px, b + 40 * px, c - 25 * px, d - 25 * px))

    pans = [timed(pan) for _ in range(12)]
    print(json.dumps({"units": model.ws.units.n, "steps_ms": times, "pans_ms": pans, "zooms_ms": zooms,
                      "steps_cpu_ms": times_cpu, "pans_cpu_ms": cpu, "zooms_cpu_ms": zooms_cpu,
                      "median_ms": statistics.median(times), "max_ms": max(times)}))


if __name__ == "__main__":
    main(sys.argv[1])
