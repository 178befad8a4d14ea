"""Installed into the main window by one call in MainWindow.__init__: *Arkiv ▸ Öppna nationellt
resultat…* opens a national result (the dask engine's COG) in a window of its own, drawn from its
overviews and re-weighted live (app/national_window.py; helper NV)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from skikt.layers.errors import SkiktError

from .i18n import T, language


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    from .facilitator_ui import _menu

    menu = _menu(window, T("file"))
    if menu is None:
        return
    window.national_windows = []
    action = menu.addAction(T("nv_open"))
    action.setObjectName("open_national")
    # after "Lägg till lager…" rather than below Avsluta: opening things stays together
    actions = menu.actions()
    anchor = next((a for a in actions if a.text() == T("add_layer")), None)
    if anchor is not None and actions.index(anchor) + 1 < len(actions):
        menu.removeAction(action)
        menu.insertAction(actions[actions.index(anchor) + 1], action)
    action.triggered.connect(lambda: open_national_dialog(window))


def open_national_dialog(window):
    path, _ = QFileDialog.getOpenFileName(window, T("nv_open"), "", "GeoTIFF (*.tif *.tiff)")
    if not path:
        return None
    return open_national(window, Path(path))


def _project_path(window) -> Path | None:
    try:
        path = window.model.project.path
    except AttributeError:
        return None
    return Path(path) if path else None


def open_national(window, path: Path):
    """The national window on ``path``, or None with one line naming the file (no window)."""
    from .national_window import open_national_window

    try:
        win = open_national_window(path, window, project_hint=_project_path(window))
    except SkiktError as exc:
        window.show_error(exc.text(language()))
        return None
    window.national_windows = [w for w in window.national_windows if w.isVisible()] + [win]
    win.show()
    return win
