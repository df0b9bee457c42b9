"""The first-run dialog: what a user sees when the app starts with no project.

Three ways in (open a project, create one from a folder of images, open the demo) and
the recent projects. The dialog only decides which project folder to open; the window
opens it. It appears when ``annotator gui`` starts without a project and there is no
last project to restore, and again from File > Welcome.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from annotator.core.folders import printable
from annotator.gui.new_project_dialog import AddOutcome, NewProjectDialog
from annotator.gui.progress_task import error_text, plain, run_with_progress
from annotator.gui.settings_store import SettingsStore, data_folder, read_path, stored_path

PATH_ROLE = Qt.ItemDataRole.UserRole


def _icon(dialog: QWidget, action: str, fallback: QStyle.StandardPixmap) -> QIcon:
    """The app's icon of ``action`` (``annotator.gui.icons``, drawn from resources/icons)
    where there is one, else the style's standard icon."""
    try:
        from annotator.gui.icons import action_icon  # type: ignore[import-not-found,unused-ignore]

        found = action_icon(action)
        if found is not None and not found.isNull():
            return found
    except (ImportError, RuntimeError):  # no icon module yet, or its files are missing
        pass
    return dialog.style().standardIcon(fallback)


def demo_folder() -> Path:
    """Where "Open the demo" creates (once) and finds the demo project."""
    return data_folder() / "demo"


def is_project(folder: Path) -> bool:
    from annotator.services.projects import is_project as holds_project

    return holds_project(folder)


def ask_project_folder(parent: QWidget | None) -> Path | None:
    """Ask for an existing project folder; say so (and return None) if it is not one."""
    folder = QFileDialog.getExistingDirectory(parent, "Open project folder")
    if not folder:
        return None
    if not is_project(Path(folder)):
        QMessageBox.warning(
            parent,
            "Not a project",
            plain(
                f"{folder}: not an Annotator project (no annotator.sqlite); "
                "use New project to create one from a folder of images."
            ),
        )
        return None
    return Path(folder)


class FirstRunDialog(QDialog):
    """Open a project, create one from images, or open the demo; ``chosen`` is the result."""

    def __init__(self, settings: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Annotator")
        self.setObjectName("firstRunDialog")
        self.settings = settings
        self.chosen: Path | None = None
        #: What adding the new project's images did (None: no project was made here),
        #: said by the window as File > New project's is.
        self.add_outcome: AddOutcome | None = None
        self.created = False  # the project chosen was made here
        pixmaps = QStyle.StandardPixmap
        self.open_button = QPushButton(
            _icon(self, "open", pixmaps.SP_DirOpenIcon), "Open a project…"
        )
        self.new_button = QPushButton(
            _icon(self, "new_project", pixmaps.SP_FileDialogNewFolder),
            "New project from a folder of images…",
        )
        self.demo_button = QPushButton(
            _icon(self, "demo", pixmaps.SP_MediaPlay), "Open the demo project"
        )
        self.open_button.setToolTip("Open a folder that holds an annotator.sqlite")
        self.new_button.setToolTip("Choose images and class names; the project is created for you")
        self.demo_button.setToolTip(f"Eight generated cell images, created in {demo_folder()}")
        self.recent = QListWidget()
        self.recent.setObjectName("recentProjects")
        self._build()
        self.open_button.clicked.connect(self.choose_open)
        self.new_button.clicked.connect(self.choose_new)
        self.demo_button.clicked.connect(self.choose_demo)
        self.recent.itemActivated.connect(self._recent_activated)
        self.fill_recent()

    def _build(self) -> None:
        title = QLabel("<h2>Annotator</h2>Label images pixel by pixel; a model learns as you go.")
        title.setWordWrap(True)
        left = QVBoxLayout()
        for button in (self.open_button, self.new_button, self.demo_button):
            button.setMinimumHeight(40)
            button.setStyleSheet("text-align: left; padding-left: 10px;")
            left.addWidget(button)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(QLabel("Recent projects (double-click to open)"))
        right.addWidget(self.recent)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addLayout(right, 1)
        close = QPushButton("Start without a project")
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(row)
        layout.addLayout(bottom)
        self.resize(680, 340)

    def fill_recent(self) -> None:
        self.recent.clear()
        for path in self.settings.recent_projects():
            item = QListWidgetItem(f"{printable(path.name)}    {printable(path.parent)}")
            # (as the settings keep it: a name that is not UTF-8 does not survive Qt's text)
            item.setData(PATH_ROLE, stored_path(path))
            item.setToolTip(printable(path))
            self.recent.addItem(item)
        if not self.recent.count():
            placeholder = QListWidgetItem("No recent projects yet")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(placeholder)

    # --- the choices ------------------------------------------------------------------------
    def _choose(self, path: Path) -> None:
        self.chosen = path
        self.accept()

    def choose_open(self) -> None:
        folder = ask_project_folder(self)
        if folder is not None:
            self._choose(folder)

    def choose_new(self) -> None:
        dialog = NewProjectDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.created is not None:
            self.add_outcome, self.created = dialog.add_outcome, True
            self._choose(dialog.created)

    def choose_demo(self) -> None:
        from annotator.services.demo import create_demo_project

        folder = demo_folder()
        if is_project(folder):  # made before: the window opens it, and says in its own
            self._choose(folder)  # words why it cannot (open in another window...)
            return
        outcome = run_with_progress(
            self,
            "Demo project",
            f"Creating the demo project in {folder}…",
            lambda _progress: create_demo_project(folder),
            cancellable=False,
        )
        if outcome.error is not None or outcome.result is None:
            message = error_text(outcome.error) if outcome.error else "the demo was not created"
            QMessageBox.warning(self, "Cannot create the demo", plain(message))
            return
        self._choose(Path(outcome.result))

    def choose_recent(self, path: Path) -> None:
        if not is_project(path):
            QMessageBox.warning(self, "Cannot open project", plain(f"{path}: no longer a project"))
            self.settings.remove_recent(path)
            self.fill_recent()
            return
        self._choose(path)

    def _recent_activated(self, item: QListWidgetItem) -> None:
        value = item.data(PATH_ROLE)
        if value:
            self.choose_recent(read_path(str(value)))
