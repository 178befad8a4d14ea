"""``skikt bench --only national``: the national sample scored on dask, timed, with the peak memory
of the whole process tree (the client and every local worker process) sampled while it runs."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

SVERIGE = Path(__file__).resolve().parent.parent / "sample_data" / "sverige_project.toml"
SAMPLE_EVERY = 0.2  # seconds between memory samples


class TreeMemory:
    """Peak resident memory of this process and all its descendants, sampled in a thread."""

    def __init__(self):
        import psutil

        self.root = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        import psutil

        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._total())
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._total())


def _tree_cpu_seconds() -> float:
    import psutil

    root = psutil.Process()
    total = sum(root.cpu_times()[:2])
    for proc in root.children(recursive=True):
        try:
            total += sum(proc.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def bench_national(resolution: float = 250, workers: int | None = None, county: str | None = None,
                   processes: bool = False, out: str | None = None) -> dict:
    """Score the national sample at ``resolution`` metres on a local cluster of ``workers``
    (default: one per core); ``county`` (a county code such as '01') scores that county only, for
    the county-to-nation comparison. Returns wall and CPU seconds, peak memory of the process
    tree, cells, tiles and the load average before and after."""
    from .project import read_project
    from .tiled import run_score_dask

    project = read_project(SVERIGE)
    project.units.cell_size = float(resolution)
    if county:
        project.units.study_area = {**project.units.study_area, "where": f"code = '{county}'"}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(out) if out else Path(tmp) / "sverige.tif"
        cpu = _tree_cpu_seconds()
        with TreeMemory() as memory:
            t0 = time.perf_counter()
            summary = run_score_dask(SVERIGE, target, workers=workers, project=project, processes=processes)
            seconds = time.perf_counter() - t0
        cpu = _tree_cpu_seconds() - cpu  # worker processes that ended are not counted: threads by default
        size = target.stat().st_size
    return {"resolution": resolution, "workers": workers or os.cpu_count(), "county": county,
            "processes": processes, "cells": summary["cells"], "tiles": summary["tiles"],
            "indicators": summary["indicators"], "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_gb": round(memory.peak / 1e9, 2), "file_mb": round(size / 1e6, 1),
            "load_before": [round(x, 1) for x in load_before], "load_after": [round(x, 1) for x in os.getloadavg()]}


def line(result: dict) -> str:
    where = f"county {result['county']}" if result["county"] else "Sweden"
    return (f"national  {where} {result['resolution']:g} m, {result['cells']:,} cells × {result['indicators']} "
            f"indicators, {result['tiles']} tiles, {result['workers']} workers: {result['seconds']:.1f} s "
            f"[CPU {result['cpu_seconds']:.1f} s], peak memory {result['peak_gb']:.2f} GB, COG {result['file_mb']} MB "
            f"(load {result['load_before'][0]:.1f} → {result['load_after'][0]:.1f})")


if __name__ == "__main__":
    import json
    import sys

    args = dict(a.split("=", 1) for a in sys.argv[1:])
    r = bench_national(float(args.get("resolution", 250)), int(args["workers"]) if "workers" in args else None,
                       args.get("county"), args.get("processes") == "1")
    print(line(r))
    print(json.dumps(r))
