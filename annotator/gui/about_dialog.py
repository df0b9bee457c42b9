"""Help > About Annotator: the version, what it runs on, and where it keeps its files.

What a bug report needs, with a button that copies it as plain text. Library versions
come from the installed packages' metadata, so opening the dialog never imports torch
(a second or more on a laptop) only to print its version.
"""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotator import __version__
from annotator.gui.error_report import log_path
from annotator.gui.first_run import demo_folder
from annotator.gui.settings_store import FILE_NAME, config_folder

#: The libraries whose versions decide how the app behaves, by distribution name.
LIBRARIES = (
    "torch",
    "onnxruntime",
    "numpy",
    "opencv-python-headless",
    "scikit-image",
    "shapely",
    "pillow",
    "tifffile",
    "pycocotools",
)


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_lines() -> list[tuple[str, str]]:
    """(name, value) rows: versions, then the files' places."""
    rows = [
        ("Annotator", __version__),
        ("Python", f"{platform.python_version()} ({sys.platform}, {platform.machine()})"),
        ("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
    ]
    rows += [(name, _installed(name)) for name in LIBRARIES]
    rows += [
        ("Settings", str(config_folder() / FILE_NAME)),
        ("Log file", str(log_path())),
        ("Demo project", str(demo_folder())),
    ]
    return rows


def about_text() -> str:
    """The rows as plain text, for a bug report."""
    return "\n".join(f"{name}: {value}" for name, value in about_lines())


class AboutDialog(QDialog):
    """The version and environment, with a Copy button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Annotator")
        self.setObjectName("aboutDialog")
        intro = QLabel(
            "<b>Annotator</b> " + __version__ + "<br>"
            "Per-pixel ground truth for semantic segmentation, with a network that "
            "learns while you label.<br>Open source under the MIT licence."
        )
        intro.setWordWrap(True)
        rows = "".join(
            f"<tr><td>{name}&nbsp;&nbsp;</td><td>{html.escape(value)}</td></tr>"
            for name, value in about_lines()
        )
        self.details = QLabel(f"<table>{rows}</table>")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy for a bug report")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.details)
        layout.addWidget(buttons)

    def copy(self) -> None:
        """Put :func:`about_text` on the clipboard."""
        QGuiApplication.clipboard().setText(about_text())
        self.copy_button.setText("Copied")
