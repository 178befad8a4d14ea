"""Never lose work (issue 10, item 6 in the app): autosave to a side file, recovery, recent projects.

* While there are unsaved changes, the project is written every minute to a side file beside it,
  ``.<name>.autosave.toml`` (hidden, same folder, so the layer paths stay relative and valid).
  The bundled sample is a template that is never written into: its side file goes to the app's
  data folder. The side file is written through the same atomic writer as a save, from a copy of
  the project, so the real file and the live project are never touched.
* Saving (the undo stack becomes clean) and a normal quit remove the side file. After a crash it
  stays; when that project is opened next and the side file is newer than the project, the app
  offers to recover it. Recovering loads the side file's content under the project's own name and
  marks it unsaved; declining removes the side file.
* The last eight projects opened are kept in the settings and listed under Arkiv ▸ Senaste projekt.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer

from skikt.layers.errors import SkiktError
from skikt.layers.project import write_project

from .i18n import T, language, settings

INTERVAL_MS = 60_000
RECENT_KEY = "recent_projects"
RECENT_MAX = 8


def autosave_path(project_path) -> Path:
    """``.<name>.autosave.toml`` beside the project; for the bundled sample, in the app's data folder."""
    from .main import is_bundled_sample

    path = Path(project_path)
    name = f".{path.stem}.autosave.toml"
    if is_bundled_sample(path):
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home()) / "autosave"
        return folder / name
    return path.with_name(name)


def has_newer_autosave(project_path) -> bool:
    side = autosave_path(project_path)
    try:
        return side.stat().st_mtime > Path(project_path).stat().st_mtime
    except OSError:
        return False


def read_autosave(project_path):
    """The side file's project under the project's own path (layer paths re-anchored to it)."""
    from .model import read_leniently

    side = autosave_path(project_path)
    project, problems = read_leniently(side)
    for spec in project.layers:
        spec.path = str(project.resolve(spec.path))
    project.path = Path(project_path).resolve()
    for spec in project.layers:  # relative again, as the project file had them
        try:
            spec.path = str(Path(spec.path).relative_to(project.path.parent))
        except ValueError:
            pass
    return project, problems


# ------------------------------------------------------------------------------------------------
# Recent projects


def recent_projects() -> list[str]:
    value = settings().value(RECENT_KEY, [])
    if isinstance(value, str):  # QSettings gives one string for a one-element list on some backends
        value = [value]
    return [str(v) for v in value or []]


def remember_project(path) -> list[str]:
    text = str(Path(path).resolve())
    items = [text] + [p for p in recent_projects() if p != text]
    settings().setValue(RECENT_KEY, items[:RECENT_MAX])
    return items[:RECENT_MAX]


# ------------------------------------------------------------------------------------------------


class Autosaver(QObject):
    """One per model: writes the side file while the project has unsaved changes."""

    def __init__(self, model, parent=None):
        # No Qt parent: the model keeps it (``model.autosaver``). As the model's child it could be
        # deleted before the model's undo stack, whose last signals would then find no slot.
        super().__init__(parent)
        self.model = model
        # Replaced by the window (a question box) and by tests: (side file path) -> bool
        self.ask_recover = lambda side: False
        self.report = lambda text: None  # the window's status line
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self._recovering = False
        self.last_written: Path | None = None
        model.undo.cleanChanged.connect(self._clean_changed)
        model.project_replaced.connect(self._project_replaced)

    def side_file(self) -> Path | None:
        path = self.model.project.path
        return autosave_path(path) if path is not None else None

    def tick(self) -> Path | None:
        """Write the side file if there is something unsaved; returns where, or None."""
        side = self.side_file()
        if side is None or self.model.undo.isClean():
            return None
        try:
            side.parent.mkdir(parents=True, exist_ok=True)
            write_project(self.model.project.copy(), side)
        except (OSError, SkiktError) as exc:
            text = exc.text(language()) if isinstance(exc, SkiktError) else str(exc)
            self.report(T("autosave_failed").format(error=text))
            return None
        self.last_written = side
        self.report(T("autosaved").format(path=side.name))
        return side

    def remove(self) -> None:
        side = self.side_file()
        if side is not None:
            side.unlink(missing_ok=True)

    def _clean_changed(self, clean: bool) -> None:
        if clean and not self._recovering:
            self.remove()  # saved: the side file is no longer newer than anything

    def _project_replaced(self) -> None:
        path = self.model.project.path
        if path is None or self._recovering:
            return
        from .main import is_bundled_sample

        if Path(path).name.endswith(".autosave.toml"):
            return
        if not is_bundled_sample(path):
            remember_project(path)
        if has_newer_autosave(path):
            # After the window is up: at start-up this runs before it exists.
            QTimer.singleShot(0, lambda p=path: self.offer_recovery(p))

    def offer_recovery(self, path) -> bool:
        """Ask once; recover the side file's content (marked unsaved) or remove it."""
        if self.model.project.path is None or Path(self.model.project.path) != Path(path):
            return False  # another project was opened meanwhile
        if not has_newer_autosave(path):
            return False
        side = autosave_path(path)
        if not self.ask_recover(side):
            side.unlink(missing_ok=True)
            return False
        return self.recover(path)

    def recover(self, path) -> bool:
        try:
            project, problems = read_autosave(path)
        except SkiktError as exc:
            self.model.error.emit(exc.text(language()))
            return False
        self._recovering = True
        try:
            self.model.set_project(project)
            self.model.undo.resetClean()  # recovered work is unsaved until the user saves it
        finally:
            self._recovering = False
        for exc in problems:
            self.model.error.emit(exc.text(language()))
        self.report(T("recovered").format(path=Path(path).name))
        return True


def autosaver(model) -> Autosaver:
    got = getattr(model, "autosaver", None)
    if got is None:
        got = model.autosaver = Autosaver(model)
    return got
