"""Presentation mode before anything was captured, and the constraint layer in its legend (the
lead's own look under Xvfb + openbox: the banner said "– kvar" and the hatch was an empty box)."""

import pytest
from PySide6.QtCore import Qt

from skikt.layers.captures import DEFAULT_DOTS
from skikt.layers.groups import read_groups

from test_presentation import _window, sample_ws  # noqa: F401  (the module's fixture)


def test_voting_before_the_first_capture_shows_every_groups_whole_budget(qtbot, sample_ws, tmp_path):  # noqa: F811
    win = _window(qtbot, sample_ws, size=(1280, 720))
    win.attach_captures(lambda: None, lambda: None)  # no workshop file yet: the first capture makes it
    qtbot.keyClick(win, Qt.Key_V)
    groups = read_groups(win.base_project)
    # What is on screen: the title band's texts, laid out when V was pressed.
    assert any(f"({DEFAULT_DOTS} kvar)" in t.get_text() for t in win.texts())
    assert f"({DEFAULT_DOTS} kvar)" in win.capture_banner() and "(– kvar)" not in win.capture_banner()
    legend = win.captures.legend
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert len(texts) == len(groups)
    for g, text in zip(groups, texts):
        assert g.name in text and str(DEFAULT_DOTS) in text


def test_the_projected_legend_hatches_the_excluded_units_entry(qtbot, sample_ws):  # noqa: F811
    win = _window(qtbot, sample_ws)
    legend = win._legend
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    at = next(i for i, label in enumerate(labels) if label.startswith("Undantaget"))
    handle = legend.legend_handles[at]
    assert handle.get_hatch() == "////"
