"""Small widget helpers the docks share."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLayout, QScrollArea, QWidget


def scrolling(body: QWidget) -> QScrollArea:
    """``body`` in a frameless scroll area that resizes it to the dock's width."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(body)
    scroll.setFrameShape(QFrame.NoFrame)
    return scroll


def on_screen(widget: QWidget) -> bool:
    """Visible and not covered, e.g. not a dock behind another in a tab group (which Qt still
    reports as visible)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def clear_layout(layout: QLayout) -> None:
    """Remove every item; widgets leave the screen now, not at the next deferred delete."""
    while layout.count():
        widget = layout.takeAt(0).widget()
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()
