"""Installed into the main window by one call in MainWindow.__init__: the value-curve editor
(*Redigera ▸ Värdekurva…*, acting on the layer selected in Lager). Excluded units need no
installer: the map scene hatches them and the legend says why (layers/scene.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from skikt.layers.errors import SkiktError

from .i18n import T, language


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    from .facilitator_ui import _menu

    edit = _menu(window, T("edit"))
    if edit is None:
        return
    window.curve_editor = None
    action = edit.addAction(T("vc_menu"))
    action.setObjectName("value_curve")
    action.triggered.connect(lambda: open_curve_editor(window))


def open_curve_editor(window, layer_id: str | None = None):
    """The editor for ``layer_id`` (default: the layer selected in Lager), window-modal and
    without a nested event loop, so the map behind it keeps drawing the preview. Returns the
    dialog, or None with one line in the status bar saying why not."""
    from .curve_editor import CurveEditor

    model = window.model
    layer_id = layer_id or window.layers_panel.current_layer()
    spec = next((s for s in model.project.layers if s.id == layer_id), None)
    if spec is None or spec.indicator is None:
        window.status(T("vc_no_layer"))
        return None
    if model.ws.units is None or layer_id not in model.ws.layers:
        window.status(T("vc_not_ready").format(name=spec.title))
        return None
    try:
        dialog = CurveEditor(model, layer_id, window)
    except SkiktError as exc:
        window.show_error(exc.text(language()))
        return None
    dialog.setWindowModality(Qt.WindowModal)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.finished.connect(lambda *_: setattr(window, "curve_editor", None))
    window.curve_editor = dialog
    dialog.show()
    return dialog
