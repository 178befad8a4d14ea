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


def font_points() -> float:
    """The window's font size in points: chart text follows it (and so the user's settings)."""
    from PySide6.QtWidgets import QApplication

    font = QApplication.font()
    if font.pointSizeF() > 0:
        return font.pointSizeF()
    return font.pixelSize() * 72.0 / screen_dpi()


def screen_dpi() -> float:
    """The primary screen's logical DPI: a chart's points become as many pixels as Qt's do.
    (High-DPI device pixel ratios are applied on top by matplotlib's Qt canvas.)"""
    from PySide6.QtWidgets import QApplication

    screen = QApplication.primaryScreen()
    return float(screen.logicalDotsPerInch()) if screen is not None else 96.0


def wrapped(text: str, width: int = 18) -> str:
    """A long label on two or three lines instead of cut off ("Vårdcentrale")."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text
