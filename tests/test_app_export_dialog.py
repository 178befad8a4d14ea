"""File ▸ Export map opens a page dialog with a live preview (issue 10, item 4): the real dialog
driven by key presses and clicks; the written files checked against ISO 216 arithmetic, the
sample's TOML read with tomllib, PIL's reading of the PNG and poppler's page count of the PDF."""

import shutil
import subprocess
import tomllib

import pytest

from conftest import open_sample_window
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

pytest.importorskip("pytestqt")

MM_PER_INCH = 25.4


@pytest.fixture
def window(qtbot, sample_copy):
    win = open_sample_window(qtbot, sample_copy, accept_dialogs=False)
    qtbot.waitExposed(win)
    return win


def open_dialog(win, qtbot):
    """Through the File menu's action, as a user would; the dialog opens window-modal without a
    nested event loop, so the test can drive it."""
    from skikt.app.export_dialog import ExportDialog

    action = next(a for a in win.findChildren(type(win.menuBar().actions()[0])) if a.shortcut() == QKeySequence("Ctrl+E"))
    action.trigger()
    dialog = win.findChild(ExportDialog)
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    wait_preview(dialog, qtbot)
    return dialog


def wait_preview(dialog, qtbot, old_key=None):
    """Until the debounce timer has fired and the preview thread has delivered a new pixmap."""
    qtbot.waitUntil(lambda: not dialog._timer.isActive() and not dialog.preview_worker.busy
                    and not dialog.preview_pixmap().isNull() and dialog.preview_pixmap().cacheKey() != old_key,
                    timeout=60000)


def pick(qtbot, combo, text):
    """Home, then down-arrow presses on the focused combo until it shows ``text``."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key_Down)
    assert combo.currentText() == text


def save_as(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), "")))


def sample_toml(win) -> dict:
    with open(win.model.ws.project.path, "rb") as fh:
        return tomllib.load(fh)


def pdf_pages(path) -> int:
    try:
        from pypdf import PdfReader

        return len(PdfReader(path).pages)
    except ImportError:
        pass
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    data = path.read_bytes()
    return data.count(b"/Type /Page") - data.count(b"/Type /Pages")


def test_a3_view_page_from_the_dialog(window, qtbot, monkeypatch, tmp_path):
    dialog = open_dialog(window, qtbot)
    views = {v["name"]: v for v in sample_toml(window)["views"]}
    assert [dialog.view_combo.itemText(i) for i in range(1, 1 + len(views))] == list(views)

    pick(qtbot, dialog.view_combo, "Vård")
    assert dialog.title_edit.text() == views["Vård"]["title"]  # pre-filled from the view
    assert dialog.subtitle_edit.text() == views["Vård"].get("subtitle", dialog.subtitle_edit.text())
    pick(qtbot, dialog.paper_combo, "A3")
    dialog.dpi_spin.setFocus()
    dialog.dpi_spin.selectAll()
    qtbot.keyClicks(dialog.dpi_spin, "100")
    assert dialog.dpi_spin.value() == 100
    key = dialog.preview_pixmap().cacheKey()
    wait_preview(dialog, qtbot, key)

    # The preview is the A3 landscape sheet, shrunk: its sides keep 420:297 (to a pixel's rounding).
    pix = dialog.preview_pixmap()
    assert pix.width() > 200 and abs(pix.width() / pix.height() - 420 / 297) < 2 / pix.height() * 420 / 297 + 0.01

    dialog.grab().save(str(tmp_path / "dialog.png"))
    out = tmp_path / "vard_a3.png"
    save_as(monkeypatch, out)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.export_worker.busy, timeout=120000)
    assert window.last_error is None
    with Image.open(out) as img:
        assert img.size == (round(420 / MM_PER_INCH * 100), round(297 / MM_PER_INCH * 100)) == (1654, 1169)


def test_portrait_and_screen_size_change_the_preview_shape(window, qtbot):
    dialog = open_dialog(window, qtbot)
    pick(qtbot, dialog.orientation_combo, "Stående")
    wait_preview(dialog, qtbot, dialog.preview_pixmap().cacheKey())
    pix = dialog.preview_pixmap()
    assert abs(pix.height() / pix.width() - 297 / 210) < 0.02  # A4 portrait
    pick(qtbot, dialog.orientation_combo, "Liggande")
    pick(qtbot, dialog.paper_combo, dialog.paper_combo.itemText(2))  # screen size
    wait_preview(dialog, qtbot, dialog.preview_pixmap().cacheKey())
    w, h = dialog.screen_size
    pix = dialog.preview_pixmap()
    assert abs(pix.width() / pix.height() - max(w, h) / min(w, h)) < 0.02


def test_handout_of_all_views_has_one_page_per_view(window, qtbot, monkeypatch, tmp_path):
    dialog = open_dialog(window, qtbot)
    pick(qtbot, dialog.view_combo, "Alla vyer (PDF, en sida per vy)")
    assert not dialog.title_edit.isEnabled()  # every page keeps its own view's title
    out = tmp_path / "handout.pdf"
    save_as(monkeypatch, out)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.export_worker.busy, timeout=180000)
    assert window.last_error is None
    assert pdf_pages(out) == len(sample_toml(window)["views"]) == 5


def test_handout_as_png_is_one_line_and_writes_nothing(window, qtbot, monkeypatch, tmp_path):
    dialog = open_dialog(window, qtbot)
    pick(qtbot, dialog.view_combo, "Alla vyer (PDF, en sida per vy)")
    out = tmp_path / "handout.png"
    save_as(monkeypatch, out)
    qtbot.mouseClick(dialog.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not window.export_worker.busy, timeout=60000)
    assert window.last_error and "\n" not in window.last_error and "pdf" in window.last_error.lower()
    assert not out.exists()


def test_english_labels(window, qtbot, monkeypatch):
    from skikt.app.i18n import set_language

    set_language("en", remember=False)
    try:
        dialog = open_dialog(window, qtbot)
        assert dialog.windowTitle() == "Export map"
        assert dialog.view_combo.itemText(0) == "The map as it looks now"
        assert dialog.export_button.text() == "Export …"
        asked = []
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (asked.append(a[2]), ("", ""))[1]))
        qtbot.mouseClick(dialog.export_button, Qt.LeftButton)  # the suggested name is English too
        assert asked == ["map.png"] and dialog.isVisible()  # cancelled: the dialog stays
    finally:
        set_language("sv", remember=False)


def test_a_burst_of_changes_draws_one_preview(window, qtbot):
    """Typing a title letter by letter and spinning the dpi restart the 200 ms timer; the preview
    thread is started once, for the final state."""
    dialog = open_dialog(window, qtbot)
    dialog._timer.setInterval(2000)  # the same debounce, with room for a slow, shared test machine
    starts = []
    start = dialog.preview_worker.start
    dialog.preview_worker.start = lambda job: (starts.append(dialog.title_edit.text()), start(job))[-1]
    dialog.title_edit.setFocus()
    dialog.title_edit.selectAll()
    qtbot.keyClicks(dialog.title_edit, "Styrelsen")
    pick(qtbot, dialog.paper_combo, "A3")
    assert starts == []  # nothing drawn while the user is still changing things
    wait_preview(dialog, qtbot, dialog.preview_pixmap().cacheKey())
    assert starts == ["Styrelsen"]
