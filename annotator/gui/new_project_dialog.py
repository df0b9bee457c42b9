"""New project: a folder of images, a project folder, and the classes with their colours.

Creating the project and adding the images go through the same calls as ``annotator
new`` and ``annotator add`` (:meth:`Project.create`, :meth:`Project.add_images`); the
images are added on a worker thread behind a progress dialog. The project is created
before the images are added, so cancelling the adding leaves a valid project with the
images added so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.core.errors import AnnotatorError
from annotator.core.limits import convert_advice
from annotator.core.schema import LabelClass, LabelSchema, default_color
from annotator.gui.class_panel import swatch
from annotator.gui.forms import path_text, refuse_unusable_path
from annotator.gui.progress_task import (
    Progress,
    box_sentence,
    capitalised,
    error_text,
    run_with_progress,
)
from annotator.services.projects import (
    IMAGE_FILE_SUFFIXES,
    OWN_FILES_SKIPPED,
    ROUTINE_SKIPS,
    masks_left_out_folder,
    masks_left_out_text,
)

DEFAULT_CLASSES = ("background", "object")

if TYPE_CHECKING:
    from annotator.storage.project import AddReport, Project


@dataclass
class AddOutcome:
    """What adding images did, in words for the done message."""

    added: int = 0
    skipped: int = 0  # files already in the project, or of a picture already in it
    #: Files skipped for a reason that needs the user's look ("path: reason"): a picture
    #: file replaced by another, a stack changed since it was split.
    left_out: list[str] = field(default_factory=list)
    own_files: bool = False  # the project's own folder was among those given
    errors: list[str] = field(default_factory=list)
    cancelled: bool = False
    failed: bool = False  # stopped by an error (the first entry of ``errors``)
    other_pictures: str = ""  # pictures of types not read, ".webp (2)" (AddReport)
    convert: str = ""  # what to do with them (core.limits.convert_advice)
    relinked: int = 0  # images whose file had gone, found again at a new place
    masks: str = ""  # mask files left out beside their pictures (AddReport.masks_text)
    #: The folder a masks import of which reads them (the summary offers that import).
    masks_folder: Path | None = None
    stacks: str = ""  # TIFF stacks split into slices (AddReport.stacks_text)
    channels: str = ""  # bare TIFF pages read as channels (AddReport.pages_as_channels_text)

    @property
    def nothing_found(self) -> bool:
        """No image file was there to add (an empty folder, or one of other files)."""
        return not (
            self.added
            or self.skipped
            or self.left_out
            or self.relinked
            or self.masks
            or self.errors
            or self.cancelled
            or self.failed
        )

    @property
    def worth_a_warning(self) -> bool:
        return (
            self.failed
            or bool(self.errors)
            or bool(self.left_out)
            or self.nothing_found
            or bool(self.other_pictures)
            or bool(self.masks)
            or bool(self.channels)
        )

    def summary(self) -> str:
        if self.cancelled:
            return f"Adding was cancelled; {self.added} image(s) were added before."
        if self.failed:
            return f"Adding stopped: {self.errors[0]} ({self.added} image(s) added before)."
        others = (
            f" Left out pictures of types not read: {self.other_pictures}; {self.convert}."
            if self.other_pictures
            else ""
        )
        if self.nothing_found:
            return (
                f"Added no images: no image files found ({', '.join(IMAGE_FILE_SUFFIXES)})."
                + others
            )
        text = f"Added {self.added} image(s)"
        if self.relinked:
            text += f", found {self.relinked} whose file had gone at a new place"
        if self.skipped:
            text += f", skipped {self.skipped} already in the project (or repeating a picture)"
        if self.left_out:
            text += f", left out {len(self.left_out)} (first: {self.left_out[0]})"
        if self.own_files:
            text += ", left out the project's own files (masks, proposals...)"
        if self.errors:
            text += f", {len(self.errors)} unreadable (first: {self.errors[0]})"
        masks = f" {capitalised(self.masks)}." if self.masks else ""
        stacks = f" {capitalised(self.stacks)}." if self.stacks else ""
        channels = f" {capitalised(self.channels)}." if self.channels else ""
        listed = _listed("Left out", self.left_out) + _listed("Unreadable", self.errors)
        return text + "." + stacks + channels + masks + others + listed


#: How many files' reasons an add's summary lists (the box would grow past a screen).
LISTED = 5


def _listed(title: str, reasons: list[str]) -> str:
    """Lines naming each of several files with its reason ("path: reason"), the first
    :data:`LISTED` and how many more, after the summary: its line named the first file
    alone, and the others were often left out for another reason (a truncated JPEG, a
    TIFF whose codec is missing). Nothing for one file (the line names it)."""
    if len(reasons) < 2:
        return ""
    lines = [f"- {r}" for r in reasons[:LISTED]]
    if len(reasons) > LISTED:
        lines.append(f"- and {len(reasons) - LISTED} more")
    return f"\n{title}:\n" + "\n".join(lines)


def add_images_with_progress(
    parent: QWidget | None, project: Project, paths: list[Path], unnamed_slices: bool = False
) -> AddOutcome:
    """Add ``paths`` (files or folders) to ``project`` on a worker thread
    (``unnamed_slices``: see :meth:`~annotator.storage.project.Project.add_images`).

    The project's database serialises its calls under a lock, so the window may keep
    using the same project meanwhile. Errors end up in the outcome, never raised.
    """
    before = len(project.images())

    def work(progress: Progress) -> AddReport:
        try:
            return project.add_images(paths, progress=progress, unnamed_slices=unnamed_slices)
        finally:
            count[0] = len(project.images()) - before

    count = [0]
    outcome = run_with_progress(parent, "Adding images", "Adding images…", work)
    if outcome.cancelled:
        return AddOutcome(added=count[0], cancelled=True)
    if outcome.error is not None:
        return AddOutcome(added=count[0], errors=[error_text(outcome.error)], failed=True)
    report = outcome.result
    assert report is not None
    own = [s for s in report.skipped if s[1] == OWN_FILES_SKIPPED]
    return AddOutcome(
        added=len(report.added),
        skipped=report.routine_skips(),
        left_out=[
            f"{path}: {why}"
            for path, why in report.skipped
            if why not in ROUTINE_SKIPS and why != OWN_FILES_SKIPPED
        ],
        own_files=bool(own),
        errors=[str(e) for e in report.errors],
        other_pictures=report.other_pictures_text(),
        convert=convert_advice(report.other_pictures),
        relinked=len(report.relinked),
        masks=masks_left_out_text(report, "File > Import labels (format: masks)"),
        masks_folder=masks_left_out_folder(report),
        stacks=report.stacks_text(),
        channels=". ".join(
            capitalised(text)
            for text in (
                report.pages_as_channels_text("File > Add TIFF pages as slices"),
                report.channels_unused_text(),
                report.nodata_text(),
                report.pages_split_text(
                    "the image list's right-click menu (Remove … from the project)"
                ),
                report.labels_split_text("File > Import labels (format: masks) of FOLDER"),
                report.joined_pictures_text(),
                report.named_apart_text(),
                report.further_channels_text(),
            )
            if text
        ),
    )


def schema_from_rows(rows: list[tuple[str, str]]) -> LabelSchema:
    """Names and ``#rrggbb`` colours -> a schema (SchemaError names the problem)."""
    base = LabelSchema.from_names([name for name, _ in rows])  # checks names
    return LabelSchema(
        tuple(
            LabelClass(c.id, c.name, color or c.color) for c, (_, color) in zip(base.classes, rows)
        )
    )


class ClassTable(QTableWidget):
    """Class names (editable) and colours (a swatch; double-click to choose)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        # Tab leaves the table (for the buttons below it); arrows move between cells.
        self.setTabKeyNavigation(False)
        self.setHorizontalHeaderLabels(["Class name", "Colour"])
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.cellDoubleClicked.connect(self._cell_double_clicked)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Enter belongs to the table, never to the dialog's Create: it ends the name
        being typed (the editor commits it and passes the key on, which would otherwise
        reach the dialog), or begins typing the current name or choosing its colour."""
        if event.key() not in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            super().keyPressEvent(event)
            return
        event.accept()
        index = self.currentIndex()
        if self.state() == self.State.EditingState or not index.isValid():
            return
        if index.column() == 0:
            self.edit(index)
        else:
            self._cell_double_clicked(index.row(), index.column())

    def add_row(self, name: str = "", color: str | None = None) -> None:
        row = self.rowCount()
        self.insertRow(row)
        self.setItem(row, 0, QTableWidgetItem(name))
        self._set_colour(row, color or default_color(row))

    def set_rows(self, rows: list[tuple[str, str | None]]) -> None:
        self.setRowCount(0)
        for name, color in rows:
            self.add_row(name, color)

    def rows(self) -> list[tuple[str, str]]:
        """(name, colour) of every row with a name."""
        out = []
        for row in range(self.rowCount()):
            name_item, colour_item = self.item(row, 0), self.item(row, 1)
            name = name_item.text().strip() if name_item else ""
            if name:
                out.append((name, colour_item.text() if colour_item else ""))
        return out

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.selectedIndexes()}, reverse=True)
        for row in rows or [self.rowCount() - 1]:
            if row >= 0:
                self.removeRow(row)

    def _set_colour(self, row: int, color: str) -> None:
        item = QTableWidgetItem(swatch(QColor(color)), color)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        item.setToolTip("Double-click to choose the colour")
        self.setItem(row, 1, item)

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column != 1:
            return
        current = self.item(row, 1)
        color = QColorDialog.getColor(
            QColor(current.text() if current else "#ffffff"), self, "Class colour"
        )
        if color.isValid():
            self._set_colour(row, color.name())


class NewProjectDialog(QDialog):
    """Asks for the images, the project folder and the classes; creates the project."""

    def __init__(self, parent: QWidget | None = None, images: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.created: Path | None = None
        self.add_outcome: AddOutcome | None = None
        self.images_edit = QLineEdit()
        self.images_edit.setPlaceholderText("a folder of images (may be left empty)")
        self.project_edit = QLineEdit()
        self.project_edit.setPlaceholderText("a new, empty folder for the project")
        self.classes = ClassTable()
        self.classes.set_rows([(n, None) for n in DEFAULT_CLASSES])
        self._project_edited = False
        self._build()
        self.images_edit.textChanged.connect(self._suggest_project_folder)
        self.project_edit.textEdited.connect(lambda _t: setattr(self, "_project_edited", True))
        if images is not None:
            self.images_edit.setText(str(images))

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("Images", self._with_browse(self.images_edit, self._browse_images))
        form.addRow("Project folder", self._with_browse(self.project_edit, self._browse_project))
        add, remove = QPushButton("Add class"), QPushButton("Remove class")
        add.clicked.connect(lambda: self.classes.add_row())
        remove.clicked.connect(self.classes.remove_selected)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        note = QLabel(
            "Class ids follow this order. You can add, rename, recolour, move, merge and "
            "remove classes later (moving, merging or removing one changes the ids after "
            "it). Double-click a colour to change it."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.create_project)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Classes"))
        layout.addWidget(self.classes)
        layout.addLayout(row)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 460)

    def _with_browse(self, edit: QLineEdit, slot: object) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        button = QPushButton("Browse…")
        button.clicked.connect(slot)
        row.addWidget(button)
        return box

    def _browse_images(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images")
        if folder:
            self.images_edit.setText(folder)

    def _browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the new project")
        if folder:
            self.project_edit.setText(folder)
            self._project_edited = True

    def _suggest_project_folder(self, text: str) -> None:
        """Next to the images: ``<images>-project`` (until the user types their own)."""
        if self._project_edited or not text.strip():
            return
        images = Path(text.strip())
        self.project_edit.setText(str(images.parent / f"{images.name}-project"))

    # --- creating --------------------------------------------------------------------------
    def create_project(self) -> None:
        """Check the form, create the project, add the images; accept on success."""
        try:
            path = self._create()
        except AnnotatorError as exc:
            QMessageBox.warning(self, "Cannot create the project", box_sentence(error_text(exc)))
            return
        if path is not None:
            self.accept()

    def _create(self) -> Path | None:
        from annotator.services.projects import create_project

        project_text = path_text(self.project_edit)
        if not project_text:
            raise AnnotatorError("choose a folder for the project")
        images_text = path_text(self.images_edit)
        images = Path(images_text).expanduser() if images_text else None
        if images is not None:
            refuse_unusable_path(images)
            if not images.exists():
                raise AnnotatorError(f"{images}: no such folder")
        schema = schema_from_rows(self.classes.rows())
        root = Path(project_text).expanduser().absolute()
        refuse_unusable_path(root)
        with create_project(root, schema) as project:
            self.created = root
            if images is not None:
                self.add_outcome = add_images_with_progress(self, project, [images])
        return root
