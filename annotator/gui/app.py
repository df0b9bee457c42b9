"""Start the Qt application."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


def run_gui(project: Path | None) -> int:
    """Open the main window (on ``project`` if given) and run the event loop.

    Without a project the window reopens the project open when the app last quit; if
    there is none (a first run, or the user closed it), the first-run dialog offers to
    open a project, create one from a folder of images, or open the demo.
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    window = start_window(project)
    code = int(app.exec())
    del window
    return code


def start_window(project: Path | None) -> MainWindow:
    """The shown main window: on ``project``, else on the last project, else empty with
    the first-run dialog queued (it opens once the event loop runs)."""
    from PySide6.QtCore import QTimer

    from annotator.gui.main_window import MainWindow

    window = MainWindow()
    start = Path(project) if project is not None else window.settings.last_project()
    if start is not None:
        window.open_project(start)
    window.show()
    if window.session is None:
        QTimer.singleShot(0, window.file_menu.welcome)
    return window
