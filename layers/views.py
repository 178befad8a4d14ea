"""Saved views: named map states kept in the project file as ``[[views]]`` tables.

```toml
[[views]]
name = "Vård"
title = "Närhet till vård"
subtitle = "Avstånd till vårdcentral, läkare och sjukhus"
extent = [640000, 6550000, 720000, 6620000]   # xmin, ymin, xmax, ymax in the project CRS
layers = ["kommuner", "vard"]                  # visible layers; left out: the layers' own visibility
scenario = "Vård först"                        # left out: the project's own weights
notes = "Talarstöd …"
```

The project file's schema (:mod:`.schema`, :func:`.project.entry_problems`) checks the entries
when the project is read (the extent is finite and not empty, the layers and the scenario exist)
and keeps them as plain tables in ``Project.extra["views"]``, which saving writes back in place
with their comments. This module turns them into :class:`View` objects, makes one from the map on
screen, and edits the list. Every edit is checked by the same schema before it is stored, so a
refused edit changes nothing; each returns what an undo command needs to put things back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ProjectError
from .project import PROJECT_WEIGHTS, Project, entry_problems
from .schema import ViewModel, known_keys

VIEWS_KEY = "views"
Extent = tuple[float, float, float, float]


@dataclass
class View:
    name: str
    title: str = ""
    subtitle: str = ""
    extent: Extent | None = None  # None: the whole study area
    layers: list[str] | None = None  # visible layer ids; None: each layer's own visibility
    scenario: str | None = None  # None: the project's own weights
    notes: str = ""  # speaker notes
    extra: dict = field(default_factory=dict)  # keys we do not know, written back unchanged

    def to_dict(self) -> dict:
        d = dict(self.extra)
        d["name"] = self.name
        for key in ("title", "subtitle"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.extent is not None:
            d["extent"] = [_num(v) for v in self.extent]
        if self.layers is not None:
            d["layers"] = list(self.layers)
        if self.scenario is not None:
            d["scenario"] = self.scenario
        if self.notes:
            d["notes"] = self.notes
        return d


def _num(value):
    """Whole metres as integers (``6550000``, not ``6550000.0``); anything else as it is, for the
    schema to judge."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _view(entry: dict) -> View:
    extent = entry.get("extent")
    layers = entry.get("layers")
    return View(name=entry["name"].strip(), title=entry.get("title", ""), subtitle=entry.get("subtitle", ""),
                extent=tuple(float(v) for v in extent) if extent is not None else None,
                layers=list(layers) if layers is not None else None, scenario=entry.get("scenario"),
                notes=entry.get("notes", ""),
                extra={k: v for k, v in entry.items() if k not in known_keys(ViewModel)})


# ------------------------------------------------------------------------------------------------
# Reading


def _raw(project: Project) -> list:
    return project.extra.get(VIEWS_KEY) or []


def _checked(project: Project, entries: list) -> None:
    """Raise the first problem of ``entries`` (one line with its key path)."""
    for problems in entry_problems(project, VIEWS_KEY, entries):
        if problems:
            raise problems[0]


def read_views(project: Project) -> list[View]:
    """The project's views in file order, checked."""
    entries = _raw(project)
    _checked(project, entries)
    return [_view(e) for e in entries]


def view_names(project: Project) -> list[str]:
    return [v.name for v in read_views(project)]


def find_view(project: Project, name: str) -> View:
    views = read_views(project)
    for v in views:
        if v.name == str(name).strip():
            return v
    known = ", ".join(f'"{v.name}"' for v in views) or "–"
    raise ProjectError.of("verr_unknown", project.path, name=name, known=known)


def _index(views: list[View], name: str) -> int:
    return next(i for i, v in enumerate(views) if v.name == name)


# ------------------------------------------------------------------------------------------------
# Editing (plain data; the app wraps each in an undo command)


def views_to_extra(project: Project, views: list[View]) -> None:
    """Store views in ``project.extra`` so that saving writes them as ``[[views]]``; checked first."""
    entries = [v.to_dict() for v in views]
    _checked(project, entries)
    if entries:
        project.extra[VIEWS_KEY] = entries
    else:
        project.extra.pop(VIEWS_KEY, None)


def _checked_new_name(project: Project, name, views: list[View], ignore: str | None = None) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean:
        raise ProjectError.of("verr_name", project.path, value=repr(name))
    if any(v.name == clean and v.name != ignore for v in views):
        raise ProjectError.of("verr_exists", project.path, name=clean)
    return clean


def _free_name(views: list[View]) -> str:
    taken = {v.name for v in views}
    n = len(views) + 1
    while f"Vy {n}" in taken:
        n += 1
    return f"Vy {n}"


def view_from_state(project: Project, extent, visible_ids, scenario: str | None = None, name: str | None = None,
                    title: str = "", subtitle: str = "", notes: str = "") -> View:
    """A view of the map as it is on screen: its extent (project CRS), the visible layers (kept
    in the project's layer order) and the current scenario (None or "-": the project's weights).
    Checked, not yet stored: pass it to :func:`add_view`. Without a name it gets "Vy N"."""
    views = read_views(project)
    name = _free_name(views) if name is None else _checked_new_name(project, name, views)
    visible = list(visible_ids)
    order = [s.id for s in project.layers if s.id in set(visible)]
    order += [lid for lid in visible if lid not in order]  # unknown ids: left for the check to name
    if scenario is not None and scenario.strip() == PROJECT_WEIGHTS:
        scenario = None
    view = View(name=name, title=title, subtitle=subtitle,
                extent=tuple(float(v) for v in extent) if extent is not None else None,
                layers=order, scenario=scenario, notes=notes)
    _checked(project, [v.to_dict() for v in views] + [view.to_dict()])
    return view


def add_view(project: Project, view: View, index: int | None = None) -> int:
    """Add a view (at the end, or at ``index``); returns its position. Undo: :func:`delete_view`."""
    views = read_views(project)
    view.name = _checked_new_name(project, view.name, views)
    index = len(views) if index is None else max(0, min(index, len(views)))
    views.insert(index, view)
    views_to_extra(project, views)
    return index


def insert_view(project: Project, index: int, view: View) -> None:
    """Put back a view removed by :func:`delete_view` (undo), unknown keys included."""
    add_view(project, view, index)


def delete_view(project: Project, name: str) -> tuple[int, View]:
    """Remove a view; returns (its position, the view) for :func:`insert_view`."""
    views = read_views(project)
    index = _index(views, find_view(project, name).name)
    removed = views.pop(index)
    views_to_extra(project, views)
    return index, removed


def rename_view(project: Project, old: str, new: str) -> str:
    """Rename; returns the new (trimmed) name. Undo is a rename back."""
    views = read_views(project)
    target = find_view(project, old)
    clean = _checked_new_name(project, new, views, ignore=target.name)
    views[_index(views, target.name)].name = clean
    views_to_extra(project, views)
    return clean


def move_view(project: Project, name: str, index: int) -> int:
    """Move a view to position ``index`` (clamped); returns where it was, for the undo move."""
    views = read_views(project)
    old = _index(views, find_view(project, name).name)
    view = views.pop(old)
    views.insert(max(0, min(index, len(views))), view)
    views_to_extra(project, views)
    return old


def replace_view(project: Project, view: View) -> View:
    """Replace the view of the same name (its title, extent, layers … edited, or updated to the
    current map); returns the view as it was, which undoes it when replaced back."""
    views = read_views(project)
    index = _index(views, find_view(project, view.name).name)
    before = views[index]
    views[index] = view
    views_to_extra(project, views)
    return before


# ------------------------------------------------------------------------------------------------
# Opening a view


def apply_view(project: Project, view: View | str) -> tuple[Project, Extent | None]:
    """(a copy of the project with the view's layers visible and the others hidden, and its
    scenario's weights, the view's extent). The extent is None when the view has none: show the
    whole study area. A view without ``layers`` keeps each layer's own visibility."""
    from .scenarios import apply_scenario

    if isinstance(view, str):
        view = find_view(project, view)
    out = apply_scenario(project, view.scenario) if view.scenario is not None else project.copy()
    if view.layers is not None:
        shown = set(view.layers)
        for spec in out.layers:
            spec.visible = spec.id in shown
    return out, view.extent
