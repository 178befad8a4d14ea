"""Reproduce the README's analyst walkthrough offscreen and save its screenshots into docs/.

An awkward file arrives: a zipped RT90 shapefile with Latin-1 names and no .cpg (care homes,
made up here from the real urban areas). It is dropped on the window, given a sector and an
indicator, styled by category, weighted up, and the top-ranked cell is explained in Info.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python docs/analyst_scenario.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog  # noqa: E402


def awkward_zip(folder: Path) -> Path:
    tat = gpd.read_file(ROOT / "sample_data" / "sweden_reference.gpkg", layer="tatorter")
    tat = tat[tat.lan_code == "01"].sort_values("pop", ascending=False).head(40)
    rng = np.random.default_rng(5)
    homes = gpd.GeoDataFrame({
        "namn": [f"Äldreboende {n}" for n in tat.name],
        "typ": rng.choice(["vård- och omsorgsboende", "trygghetsboende", "korttidsboende"], len(tat)),
        "platser": rng.integers(20, 120, len(tat)),
    }, geometry=gpd.points_from_xy(tat.geometry.x + rng.normal(0, 800, len(tat)),
                                   tat.geometry.y + rng.normal(0, 800, len(tat))), crs=3006).to_crs(3021)
    shp = folder / "aldreboenden.shp"
    homes.to_file(shp, encoding="cp1252")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    out = folder / "äldreboenden_rt90.zip"
    with zipfile.ZipFile(out, "w") as z:
        for f in folder.glob("aldreboenden.*"):
            z.write(f, f.name)
    return out


def main():
    from skikt.app.commands import SetStyle
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    app = QApplication.instance() or QApplication([])
    set_language(sys.argv[1] if len(sys.argv) > 1 else "sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    win.resize(1600, 1000)
    win.show()
    model.set_project_sync(ROOT / "sample_data" / "sample_project.toml")
    win.canvas.redraw()
    app.processEvents()
    win.grab().save(str(ROOT / "docs" / "main_window.png"))

    tmp = Path(tempfile.mkdtemp())
    zipped = awkward_zip(tmp)

    def accept(dialog):
        dialog.sector.setCurrentIndex(dialog.sector.findData("healthcare"))
        dialog.title.setText("Äldreboenden")
        dialog.method.setCurrentIndex(dialog.method.findData("distance"))
        dialog.weight.setValue(4)
        return QDialog.Accepted

    win.dialog_exec = accept
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(zipped))])
    done = []
    model.computed.connect(lambda: done.append(1))
    win.dropEvent(QDropEvent(QPointF(300, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    while not done:
        app.processEvents()
    spec = model.project.layers[0]
    model.undo.push(SetStyle(model, spec.id, {"mode": "categorized", "column": "typ", "size": 60}))
    for lid in ("kultur", "besoksmal", "skyddsrum", "vattenverk"):
        model.set_visible(lid, False)
    app.processEvents()
    ws = model.ws
    top = int(np.nanargmax(ws.composite.score))
    x, y = ws.units.centres[top]
    win.canvas.zoom_to_bounds((x - 45000, y - 30000, x + 25000, y + 12000))
    win.canvas.clicked.emit(x, y)
    app.processEvents()
    win.canvas.redraw()
    app.processEvents()
    win.grab().save(str(ROOT / "docs" / "analyst.png"))
    win.docks["charts"].raise_()
    app.processEvents()
    win.charts_panel.redraw()
    app.processEvents()
    win.grab().save(str(ROOT / "docs" / "charts.png"))
    print("names read:", list(model.ws.layers[spec.id].geo["namn"][:3]))
    print("report:", model.ws.layers[spec.id].report.summary(), model.ws.layers[spec.id].report.encoding)


if __name__ == "__main__":
    main()
