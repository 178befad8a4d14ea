"""Shared fixtures: small awkward files made on the spot, and the sample project."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app remembers its language in QSettings; tests must not touch the user's real settings.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="skikt-test-config-")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="session")
def sample_project_path() -> Path:
    return SAMPLE / "sample_project.toml"


@pytest.fixture(scope="session")
def sample_ws(sample_project_path):
    from skikt.layers.project import read_project
    from skikt.layers.workspace import Workspace

    ws = Workspace(read_project(sample_project_path))
    ws.update()
    return ws


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    """The sample folder copied, so a test may add or break files without touching the repo."""
    dst = tmp_path / "sample"
    shutil.copytree(SAMPLE, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst / "sample_project.toml"


def points_gdf(xy, crs=3006, **cols) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, float)
    return gpd.GeoDataFrame(cols, geometry=shapely.points(xy), crs=crs)


def write_shapefile(gdf: gpd.GeoDataFrame, path: Path, encoding: str, cpg: bool = True, prj: bool = True) -> Path:
    gdf.to_file(path, driver="ESRI Shapefile", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def open_sample_window(qtbot, project, *, accept_dialogs: bool = True):
    """The real main window on ``project``, computed synchronously, in Swedish, 1400×900."""
    from PySide6.QtWidgets import QDialog

    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    model.set_project_sync(project)
    if accept_dialogs:
        win.dialog_exec = lambda dialog: QDialog.Accepted
    win.confirm_close = False
    return win


@pytest.fixture
def window(qtbot, sample_copy):
    """The app's window on a copy of the sample; dialogs opened with dialog_exec are accepted."""
    return open_sample_window(qtbot, sample_copy)
