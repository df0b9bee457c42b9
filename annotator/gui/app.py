"""Start the Qt application."""

from __future__ import annotations

import sys
from pathlib import Path


def run_gui(project: Path | None) -> int:
    """Open the main window (on ``project`` if given) and run the event loop."""
    from PySide6.QtWidgets import QApplication, QListWidget, QMainWindow

    from annotator.storage.project import Project

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("Annotator")
    listing = QListWidget()
    if project is not None:
        with Project.open(project) as p:
            for rec in p.images():
                listing.addItem(f"{rec.name}  [{rec.status.value}]")
    window.setCentralWidget(listing)
    window.resize(1200, 800)
    window.show()
    return app.exec()
