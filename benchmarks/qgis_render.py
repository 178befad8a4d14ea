"""QGIS side by side with `skikt bench --only render`: the same 399,424 grid-cell polygons at 1920×1080.

Needs Debian's qgis and python3-qgis (not part of the project's install):
    apt-get install qgis python3-qgis
    .venv/bin/python benchmarks/qgis_render.py --write /tmp/boxes.gpkg   # the layer, from Skikt's venv
    /usr/bin/python3 benchmarks/qgis_render.py /tmp/boxes.gpkg            # the timing, with QGIS's Python
"""
import sys

if len(sys.argv) == 3 and sys.argv[1] == "--write":
    import geopandas as gpd
    import numpy as np
    import shapely

    side, cell = 632, 250.0
    xs, ys = np.meshgrid(np.arange(side) * cell + 300_000, np.arange(side) * cell + 6_400_000)
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + cell, ys.ravel() + cell)
    gpd.GeoDataFrame({"v": np.random.default_rng(0).random(len(boxes))}, geometry=boxes, crs=3006).to_file(
        sys.argv[2], layer="boxes")
    sys.exit(0)
PATH = sys.argv[1] if len(sys.argv) > 1 else "/tmp/boxes.gpkg"
import os, time, statistics
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import (QgsApplication, QgsVectorLayer, QgsMapSettings, QgsMapRendererSequentialJob,
                       QgsMapRendererParallelJob, QgsFillSymbol, QgsSingleSymbolRenderer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False); app.initQgis()
layer = QgsVectorLayer(PATH + "|layername=boxes", "boxes", "ogr")
print("features", layer.featureCount())
settings = QgsMapSettings(); settings.setLayers([layer]); settings.setOutputSize(QSize(1920, 1080))
settings.setDestinationCrs(layer.crs()); settings.setExtent(layer.extent()); settings.setBackgroundColor(QColor("white"))
for name, cls in (("sequential", QgsMapRendererSequentialJob), ("parallel", QgsMapRendererParallelJob)):
    times = []
    for i in range(4):
        job = cls(settings); t = time.perf_counter(); job.start(); job.waitForFinished(); times.append(time.perf_counter() - t)
    print(name, [round(x, 3) for x in times], "median of last 3:", round(statistics.median(times[1:]), 3))
    if name == "sequential": job.renderedImage().save("/tmp/qgis_outline.png")
sym = QgsFillSymbol.createSimple({"color": "0,158,115,140", "outline_style": "no"})
layer.setRenderer(QgsSingleSymbolRenderer(sym))
times = []
for i in range(4):
    job = QgsMapRendererSequentialJob(settings); t = time.perf_counter(); job.start(); job.waitForFinished(); times.append(time.perf_counter() - t)
print("sequential, no outline", [round(x, 3) for x in times], "median of last 3:", round(statistics.median(times[1:]), 3))
job.renderedImage().save("/tmp/qgis_nooutline.png")
