"""Installed into the main window by one call in MainWindow.__init__: open a national result and re-weight it from its overviews (helper E)."""

from __future__ import annotations


def install(window) -> None:
    """Add this part's docks, menu entries and signal connections to a new main window (also a
    window rebuilt for another language: keep state that must survive on the model, not here)."""
