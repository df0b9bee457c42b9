"""Start the Qt application."""

from __future__ import annotations

import sys
from pathlib import Path


def run_gui(project: Path | None) -> int:
    """Open the main window (on ``project`` if given) and run the event loop.

    Without a project the window opens empty with File > Open project.
    """
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    window = MainWindow()
    if project is not None:
        window.open_project(Path(project))
    window.show()
    return int(app.exec())
