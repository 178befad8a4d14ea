"""The one open workshop GeoPackage of a model (layers/captures.py), shared by the parts of the
app that write to it: pins and dot votes (capture_ui), the decision log (workshop_ui).

The store lives beside the project (``<stem>.workshop.gpkg``). The bundled sample is a template
in the program's folder, so its workshop file goes to the user's data folder instead: a meeting
run on the sample must not write into the installation. A project that was never saved has no
place for the file yet; ``store_for`` then returns None and says why in ``last_problem``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal

from skikt.layers.captures import SUFFIX, WorkshopStore
from skikt.layers.errors import SkiktError

from .main import is_bundled_sample


def _sample_store_path(project_path: Path) -> Path:
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".skikt")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (project_path.stem + SUFFIX)


def store_path(model) -> Path | None:
    """Where the model's workshop file is or would be; None for a project never saved."""
    path = getattr(model.project, "path", None)
    if path is None:
        return None
    if is_bundled_sample(path):
        return _sample_store_path(Path(path))
    return Path(path).with_name(Path(path).stem + SUFFIX)


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


def existing_store(model, lang: str = "sv") -> WorkshopStore | None:
    """The store if the project already has a workshop file (or one is open): showing the
    captures must not create a file beside every project that is merely opened."""
    path = store_path(model)
    project_path = getattr(model.project, "path", None)
    key = None if project_path is None else str(Path(project_path).resolve())
    open_one = getattr(model, "_workshop_store", None)
    if open_one is not None and getattr(model, "_workshop_store_key", None) == key:
        return open_one
    if path is not None and path.exists() and path.stat().st_size > 0:
        return store_for(model, lang)
    return None


class CaptureHub(QObject):
    """Tells every map that shows the captures (the desk map, presentation mode) that one was
    added or removed, whichever of them took it."""

    changed = Signal()


def capture_hub(model) -> CaptureHub:
    """The model's one hub (kept on the model: a window rebuilt for another language shares it)."""
    hub = getattr(model, "_capture_hub", None)
    if hub is None:
        hub = model._capture_hub = CaptureHub(model)
    return hub


def close_store(model) -> None:
    current = getattr(model, "_workshop_store", None)
    if current is not None:
        current.close()
    model._workshop_store = None
    model._workshop_store_key = None
