"""The one open workshop GeoPackage of a model (layers/captures.py), shared by the parts of the
app that write to it: pins and dot votes (capture_ui), the decision log (workshop_ui).

The store lives beside the project (``<stem>.workshop.gpkg``). The bundled sample is a template
in the program's folder, so its workshop file goes to the user's data folder instead: a meeting
run on the sample must not write into the installation. A project that was never saved has no
place for the file yet; ``store_for`` then returns None and says why in ``last_problem``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

from skikt.layers.captures import SUFFIX, WorkshopStore
from skikt.layers.errors import SkiktError

from .main import is_bundled_sample


def _sample_store_path(project_path: Path) -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".skikt")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (project_path.stem + SUFFIX)


def store_for(model, lang: str = "sv") -> WorkshopStore | None:
    """The model's open store for its current project, opened on first use and reopened after
    the project was replaced or saved elsewhere. None if it cannot be opened (the reason, one
    line, is in ``model.workshop_problem``)."""
    project = model.project
    path = getattr(project, "path", None)
    key = None if path is None else str(Path(path).resolve())
    current = getattr(model, "_workshop_store", None)
    if current is not None and getattr(model, "_workshop_store_key", None) == key:
        return current
    if current is not None:
        current.close()
    model._workshop_store, model._workshop_store_key, model.workshop_problem = None, key, ""
    try:
        if path is not None and is_bundled_sample(path):
            from skikt.layers.groups import read_groups

            store = WorkshopStore(_sample_store_path(Path(path)), project.crs,
                                  groups=[g.id for g in read_groups(project)] or None)
        else:
            store = WorkshopStore.for_project(project)
    except SkiktError as exc:
        model.workshop_problem = exc.text(lang)
        return None
    model._workshop_store = store
    return store


def close_store(model) -> None:
    current = getattr(model, "_workshop_store", None)
    if current is not None:
        current.close()
    model._workshop_store = None
    model._workshop_store_key = None
