"""Screenshots of the value-curve editor and of excluded units, offscreen, on the sample project.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python docs/decision_screenshots.py [PROJECT]``
(default: sample_data/sample_project.toml). Writes docs/value_curve_editor.png and
docs/exclusions_map.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SAMPLE = DOCS.parent / "sample_data" / "sample_project.toml"


def main(project: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from skikt.app.curves_ui import open_curve_editor
    from skikt.app.i18n import set_language
    from skikt.app.main_window import MainWindow
    from skikt.app.model import AppModel

    app = QApplication.instance() or QApplication([])
    set_language("sv", remember=False)
    model = AppModel()
    win = MainWindow(model)
    win.confirm_close = False
    win.resize(1400, 900)
    win.show()
    model.set_project_sync(project)
    app.processEvents()

    # Upplands-Bro: the Kungsängen training area hatched among the priority classes.
    win.canvas.set_view((636000, 668000, 6588000, 6612000))
    app.processEvents()
    win.grab().save(str(DOCS / "exclusions_map.png"))

    win.layers_panel.tree.setCurrentItem(win.layers_panel.item_for("vard"))
    editor = open_curve_editor(win, "vard")
    editor.resize(820, 660)
    app.processEvents()
    editor.canvas.draw()
    app.processEvents()
    editor.grab().save(str(DOCS / "value_curve_editor.png"))
    editor.reject()
    win.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE)
