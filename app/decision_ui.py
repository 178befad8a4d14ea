"""Installed into the main window by one call in MainWindow.__init__: the pairwise (AHP) dialog,
the OWA slider and the p_top map (helper DM1).

* Redigera ▸ *Parvisa jämförelser…* and the button of the same name in the weights dock open
  app/ahp_dialog.py;
* the weights dock's *Sammanvägning* box (method, OWA slider) and *Säkerhet (Monte Carlo)* live in
  app/panels/weights_panel.py; the p_top map they make is shown here, on this window's canvas;
* what must outlive a window rebuilt for another language (the p_top result, its settings, the
  [ahp] applied at opening) is on the model: app/commands_decision.DecisionState.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from .commands_decision import decision_state
from .facilitator_ui import _menu
from .i18n import T


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    model = window.model
    state = decision_state(model)
    state.apply_project_ahp()  # a project opened before the window existed (skikt open)
    panel = window.weights_panel
    panel.ahp_requested.connect(lambda: open_ahp_dialog(window))
    panel.decision.unit_map_changed.connect(lambda um: _show_p_top(window, um))
    edit = _menu(window, T("edit"))
    if edit is not None:
        edit.addSeparator()
        action = edit.addAction(T("ahp_menu"))
        action.setObjectName("ahp_menu")
        action.triggered.connect(lambda _=False: open_ahp_dialog(window))
    if state.ptop_on:
        panel.decision.show_again()


def _show_p_top(window, unit_map) -> None:
    scene = window.canvas.scene
    if unit_map is None:
        # Off: only our own map goes; another part's map (the groups' disagreement) stays.
        current = getattr(scene, "unit_map", None)
        if current is not None and current.kind == "p_top":
            window.canvas.set_unit_map(None)
        return
    window.canvas.set_unit_map(unit_map)


def open_ahp_dialog(window):
    """The pairwise dialog over the window, not modal: the map follows when its result is used."""
    from .ahp_dialog import AhpDialog

    old = getattr(window, "ahp_dialog", None)
    if old is not None:
        try:
            old.close()
        except RuntimeError:  # already deleted
            pass
    dialog = AhpDialog(window.model, window)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.show()
    window.ahp_dialog = dialog
    return dialog
