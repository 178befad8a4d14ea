"""Installed into the main window by one call in MainWindow.__init__: group weights table, consensus and disagreement maps, memo from the app, decision log (helper A)."""

from __future__ import annotations


def workshop_menu(window):
    """The menu *Möte* (Workshop), shared by the workshop parts: created by the first that asks."""
    menu = getattr(window, "workshop_menu", None)
    if menu is None:
        from .i18n import T

        menu = window.workshop_menu = window.menuBar().addMenu(T("ws_menu"))
        # Before Hjälp, which stays last.
        actions = window.menuBar().actions()
        window.menuBar().insertMenu(actions[-2], menu) if len(actions) > 1 else None
    return menu


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
    workshop_menu(window)
