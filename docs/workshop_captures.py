"""Screenshots of the workshop's captures (offscreen): the desk map with pins, a sketched area and
dot votes (docs/workshop_captures.png), and presentation mode during dot voting at 1920×1080 and
1280×720 (docs/presentation_1920.png, docs/presentation_1280.png).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/workshop_captures.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/workshop_captures.py --bench   # dot timings, no files

Works on a copy of the sample in a temporary folder: the captures are placed through the same
code paths as mouse clicks (the capture controller and the presentation's keys and clicks).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _copy_sample() -> Path:
    dst = Path(tempfile.mkdtemp(prefix="skikt-captures-")) / "sample"
    shutil.copytree(ROOT / "sample_data", dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst / "sample_project.toml"


def _settle(app, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def _near(units, x: float, y: float, skip: int = 0) -> int:
    import numpy as np

    return int(np.argsort(np.hypot(units.centres[:, 0] - x, units.centres[:, 1] - y))[skip])


def desk(app, project_path: Path):
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    window = MainWindow(model)
    window.confirm_close = False
    window.resize(1400, 900)
    window.show()
    model.set_project_sync(project_path)
    _settle(app)
    from skikt.app.workshop_store import store_path

    # The captures go into the temporary copy's own workshop file, never the user's data folder
    # (where the bundled sample keeps its file): a user's own captures must not appear here.
    assert store_path(model).resolve().is_relative_to(project_path.parent.resolve()), store_path(model)
    c = window.capture_controller
    units = model.ws.units
    # Dots: Kommunerna on Södertälje and Norrtälje, Regionen on Norrtälje and Arlanda, Länsstyrelsen on the coast.
    plan = {"kommunerna": [(640500, 6562500)] * 3 + [(697000, 6626000)] * 2,
            "regionen": [(697000, 6626000)] * 2 + [(668000, 6612000)],
            "lansstyrelsen": [(704000, 6581000)] * 4}
    for gid, places in plan.items():
        c.set_group(gid)
        for x, y in places:
            cx, cy = units.centres[_near(units, x, y)]
            c.writer.dot(cx, cy, gid, c.group_name(gid))
    c.set_group("regionen")
    c.writer.pin(660500, 6590000, "Ny vårdcentral i Järfälla?", "regionen", "Regionen")
    c.set_group("kommunerna")
    c.writer.pin(676000, 6548000, "Pendeltåg till Nynäshamn oftare", "kommunerna", "Kommunerna")
    c.set_group("lansstyrelsen")
    c.writer.area([(688000, 6586000), (712000, 6590000), (716000, 6570000), (694000, 6566000)],
                  "Vattenskydd före bebyggelse", "lansstyrelsen", "Länsstyrelsen")
    c.set_group("regionen")
    c.set_mode("dot")
    c.refresh()
    _settle(app)
    window.canvas.redraw()
    _settle(app)
    window.grab().save(str(DOCS / "workshop_captures.png"))
    print("wrote docs/workshop_captures.png")
    return window


def projected(app, window, size, out: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtCore import QEvent

    from skikt.app.presentation import start_presentation

    pres = start_presentation(window)
    pres.showNormal()
    pres.resize(*size)
    _settle(app)
    names = [v.name for v in pres.views]
    pres.go(next((i for i, n in enumerate(names) if "Vård" in n), 0))
    for key in (Qt.Key_V, Qt.Key_2):  # dot voting, the second group
        pres.keyPressEvent(QKeyEvent(QEvent.KeyPress, key, Qt.NoModifier))
    pres.render_now()
    _settle(app)
    pres.render_now()
    pres.grab().save(str(out))
    print(f"wrote {out.relative_to(ROOT)}")
    pres.close()


def bench(app) -> None:
    """Fifteen dots through the capture writer, the desk map redrawn after each (what a click in
    Prick does), and 200 bare committed votes; medians in milliseconds."""
    import time

    import numpy as np

    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel
    from skikt.layers.captures import WorkshopStore

    set_language("sv", remember=False)
    model = AppModel()
    window = MainWindow(model)
    window.confirm_close = False
    window.resize(1400, 900)
    window.show()
    model.set_project_sync(_copy_sample())
    _settle(app)
    writer, units, took = window.capture_controller.writer, model.ws.units, []
    for i, gid in enumerate(["kommunerna", "regionen", "lansstyrelsen"] * 5):
        x, y = units.centres[1000 + 37 * i]
        t = time.perf_counter()
        ok, line = writer.dot(x, y, gid, gid)
        window.canvas.draw()
        took.append(time.perf_counter() - t)
        assert ok, line
    print(f"dot, write + redraw: median {1000 * np.median(took):.0f} ms, max {1000 * max(took):.0f} ms")
    store = WorkshopStore(Path(tempfile.mkdtemp()) / "bench.workshop.gpkg", "EPSG:3006", dots=10**6)
    t = time.perf_counter()
    for i in range(200):
        store.add_vote(f"u{i}", "g", 1)
    print(f"add_vote alone: {1000 * (time.perf_counter() - t) / 200:.1f} ms")
    store.close()
    window.close()


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if "--bench" in sys.argv[1:]:
        bench(app)
        return 0
    window = desk(app, _copy_sample())
    projected(app, window, (1920, 1080), DOCS / "presentation_1920.png")
    projected(app, window, (1280, 720), DOCS / "presentation_1280.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
