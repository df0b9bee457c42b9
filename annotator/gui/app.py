"""Start the Qt application."""

from __future__ import annotations

import sys
from pathlib import Path


def run_gui(
    project: Path | None, screenshot: Path | None = None, quit_after_paint: bool = False
) -> int:
    """Open the main window (on ``project`` if given) and run the event loop.

    Without a project the window opens empty with File > Open project. ``screenshot`` /
    ``quit_after_paint``: save a picture after the first paint / quit then (for scripts).
    """
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    app.setDesktopFileName("annotator")  # matches resources/annotator.desktop

    from annotator.gui.icons import app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow()
    if project is not None:
        window.open_project(Path(project))
    if screenshot is not None or quit_after_paint:
        from annotator.gui.first_paint import watch_first_paint

        watch_first_paint(window, screenshot, quit_after_paint)
    window.show()
    return int(app.exec())
