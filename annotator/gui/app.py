"""Start the Qt application."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow


def run_gui(
    project: Path | None, screenshot: Path | None = None, quit_after_paint: bool = False
) -> int:
    """Open the main window (on ``project`` if given) and run the event loop.

    Without a project the window reopens the project open when the app last quit; if
    there is none (a first run, or the user closed it), the first-run dialog offers to
    open a project, create one from a folder of images, or open the demo.
    ``screenshot`` / ``quit_after_paint``: save a picture after the first paint / quit
    then (for scripts; no first-run dialog then).
    """
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Annotator")
    app.setDesktopFileName("annotator")  # matches resources/annotator.desktop

    from annotator.gui.icons import app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow()
    from annotator.gui.error_report import install

    def save_open_image() -> bool:
        window.save_now()
        return window.document is not None

    reporter = install(window, save_open_image)
    from annotator.gui import quit_signals

    ends = quit_signals.install(app, window)  # SIGTERM, a logout: save, then quit
    watcher = None
    if screenshot is not None or quit_after_paint:
        from annotator.gui.first_paint import watch_first_paint

        if quit_after_paint:  # a script's run: the user's next start is as it was (a
            window.settings.detach()  # screenshot alone leaves the window to work in)
        watcher = watch_first_paint(window, screenshot, quit_after_paint)
    try:
        # Shown first, then the project: a status bar not yet shown draws its first
        # message over the activity label (both stayed visible for seconds).
        window.show()
        refused = open_start_project(window, project)
        if quit_after_paint and refused is not None:
            # Its box ran before the event loop: the quit asked once the window was
            # painted ended the box's loop, and the event loop would have run on with no
            # window. A script asked for the project: it fails, in one line.
            print(f"annotator: error: {refused}", file=sys.stderr)  # noqa: T201
            window.close()
            return 1
        if watcher is not None and watcher.quit_code is not None:
            return watcher.quit_code  # asked while another dialog's loop ran: spent there
        if not quit_after_paint:
            offer_first_run(window)
            warm_up_torch_later()
        return int(app.exec())
    finally:
        ends.uninstall()
        reporter.uninstall()


#: How long after the window appears torch starts loading on a thread: long enough for
#: the window and its project to be drawn first.
TORCH_WARM_UP_DELAY_MS = 1000


def warm_up_torch_later(delay_ms: int = TORCH_WARM_UP_DELAY_MS) -> None:
    """Import torch on a thread once the window is up (``annotator.ml.preload``), so that
    the first training round does not freeze the window while torch loads."""
    from PySide6.QtCore import QTimer

    from annotator.ml.preload import warm_up_torch

    QTimer.singleShot(delay_ms, warm_up_torch)


def open_start_project(window: MainWindow, project: Path | None) -> str | None:
    """Open ``project``, else the project open when the app last quit (if any). Returns
    why it could not be opened (said in a box), or None."""
    start = Path(project) if project is not None else window.settings.last_project()
    if start is None:
        return None
    return window.open_project(start)


def offer_first_run(window: MainWindow) -> None:
    """With no project open, queue the first-run dialog (it opens once the event loop
    runs, over the shown window)."""
    from PySide6.QtCore import QTimer

    if window.session is None:
        QTimer.singleShot(0, window.file_menu.welcome)
