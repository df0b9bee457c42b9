"""File > Import labels: the options of ``annotator import`` in a dialog, with progress.

Same request, same service call as the CLI (``import_into_project``). The import runs
on a worker thread behind a progress dialog; the summary says what was matched, added,
which classes were created and which labels were skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from annotator.core.errors import AnnotatorError
from annotator.formats.labelme import project_background
from annotator.formats.registry import FORMATS, format_title, import_formats
from annotator.gui.forms import add_formats, finish_form, path_row, path_text, refuse_unusable_path
from annotator.gui.progress_task import (
    Progress,
    TaskOutcome,
    box_sentence,
    capitalised,
    error_text,
    run_with_progress,
    sentence,
)
from annotator.services.exchange import (
    ImportReport,
    ImportRequest,
    import_headline,
    import_into_project,
    namesakes_summary,
    unlabelled_summary,
)

AUTOMATIC = "(automatic)"
#: How the summary tells to use another class table (the CLI says ``--labels FILE``).
LABELS_HOW = "choose a Class names file"
#: The dialog's field that chooses the class of pixels no shape covers, as the summary says it.
BACKGROUND_HOW = "the import's Uncovered pixels"
#: The strict box's words, for a refusal that tells to untick it (the CLI: ``--strict``).
STRICT_TEXT = "Stop if the source has classes the project lacks"
#: How a refusal tells to import anyway (the CLI: ``rerun without --strict``).
STRICT_HOW = f'untick "{STRICT_TEXT}"'
#: How the hint of a source that looks like another format chooses it (the CLI:
#: ``--format NAME``): the dialog's field, then the format's name.
FORMAT_HOW = "Format"
#: How the refusal of another project's folder says to import its labels (the CLI:
#: ``annotator export``).
OTHER_PROJECT_HOW = (
    "open that project, export it with File > Export, and import the export into this one"
)
#: How a note tells to remove an image (the CLI: ``annotator remove``).
REMOVE_HOW = "the image list's right-click menu (Remove … from the project)"
#: The formats whose shapes leave pixels uncovered (``--background`` applies to them).
BACKGROUND_FORMATS = frozenset({"labelme", "coco", "yolo", "labelstudio"})


def automatic_background(fmt: str, class_names: list[str]) -> str:
    """The "Uncovered pixels" choice that leaves the class to the format: what each
    reader does without ``--background`` (labelme: ``formats.labelme``'s docstring and
    ``project_background``; COCO, YOLO and Label Studio: ``formats.base.chosen_background``)."""
    if fmt == "labelme":
        own = project_background(class_names)
        if own is not None:
            return f"(automatic: {own}, the project's background class)"
        return "(automatic: _background_ if the source's labels.txt lists it, else unlabelled)"
    if fmt == "coco":
        return "(automatic: _background_ if the source has that category, else unlabelled)"
    if fmt in ("yolo", "labelstudio"):
        return "(automatic: unlabelled)"
    return AUTOMATIC  # the format labels every pixel itself (the field is disabled)


if TYPE_CHECKING:  # front ends reach projects through services only
    from annotator.storage.project import Project


def import_summary(report: ImportReport) -> str:
    """The done message, in the words of the CLI's summary."""
    lines = [sentence(import_headline(report, format_title(report.format)))]
    if report.background:  # (labelme: where the pixels no shape covers went)
        lines.append(sentence(report.background))
    if report.unlabelled:
        lines.append(unlabelled_summary(report) + ".")
    if report.namesakes:
        lines.append(namesakes_summary(report) + ".")
    if report.classes_added:
        lines.append("Classes added: " + ", ".join(report.classes_added) + ".")
    if report.unknown_labels:
        lines.append(
            "Unknown labels (shapes skipped, their pixels left unlabelled): "
            + ", ".join(f"{k!r} ({v})" for k, v in sorted(report.unknown_labels.items()))
        )
    if report.boxes_only:
        lines.append(f"Left out {report.boxes_only} annotation(s) that are a box without a mask.")
    lines.extend(sentence(note) for note in report.notes)  # (nnU-Net's... as written)
    if report.skipped:
        path, reason = report.skipped[0]
        if not reason.startswith(path):  # most reasons name their file already
            reason = f"{Path(path).name}: {reason}"
        lines.append(f"Skipped {skipped_count(report)}; first: {reason}")
    return "\n".join(lines)


def skipped_count(report: ImportReport) -> str:
    """The items an import skipped, counted in its source's words: COCO's are JSON files
    refused whole and image entries of the files read, Label Studio's export files or
    tasks (either may be refused), the other formats' files."""
    n = len(report.skipped)
    if report.format == "labelstudio":
        return f"{n} task(s) or file(s)"
    if report.format != "coco":
        return f"{n} file(s)"
    files, entries = report.refused_by_reader, n - report.refused_by_reader
    said = [f"{files} JSON file(s)"] if files else []
    if entries:
        said.append(f"{entries} image entr{'y' if entries == 1 else 'ies'}")
    return " and ".join(said)


def run_import(
    parent: QWidget | None, project: Project, request: ImportRequest
) -> TaskOutcome[ImportReport]:
    def work(progress: Progress) -> ImportReport:
        # (its phases: "reading annotations… NAME", then "writing masks… NAME")
        def said(done: int, total: int, message: str) -> None:
            progress(done, total, capitalised(message))

        return import_into_project(project, request, progress=said)

    title = format_title(request.format)
    return run_with_progress(parent, "Import", f"Importing {title} labels…", work)


#: The Class names field, empty: short enough for the dialog's default width.
LABELS_PLACEHOLDER = "optional: labels.txt, dataset.json (nnU-Net), …"
LABELS_TIP = (
    "Optional: the file that names the classes of the source's values, when it is not "
    "found in the source folder: labels.txt, class_names.txt, classes.txt, "
    "labelmap.txt (CVAT), label_colors.txt (CamVid), class_dict.csv, _classes.csv, "
    "or dataset.json (nnU-Net, Decathlon)"
)


class ImportDialog(QDialog):
    """Format, source (file or folder), strict, labels file, background class."""

    def __init__(self, parent: QWidget | None = None, class_names: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        self.format_combo = QComboBox()
        add_formats(
            self.format_combo, import_formats(), {n: f.description for n, f in FORMATS.items()}
        )
        self.src_edit = QLineEdit()
        self.src_edit.setPlaceholderText("an annotation file or folder")
        self.labels_edit = QLineEdit()
        # (The whole list was cut at the dialog's size: the field says the gist, its
        # tooltip the rest.)
        self.labels_edit.setPlaceholderText(LABELS_PLACEHOLDER)
        self.labels_edit.setToolTip(LABELS_TIP)
        self.strict_check = QCheckBox(STRICT_TEXT)
        self.class_names = list(class_names or [])
        self.background_combo = QComboBox()
        self.background_combo.setEditable(True)
        self.background_combo.addItem(AUTOMATIC)  # its words follow the format
        for name in self.class_names:
            self.background_combo.addItem(name)
        self.background_combo.setToolTip(
            "The class of the pixels no shape or polygon of the source covers (labelme, "
            "COCO, YOLO and Label Studio; masks and VOC label every pixel themselves)"
        )
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._build()
        self._format_changed()

    def _build(self) -> None:
        src_row = path_row(
            self.src_edit, ("File…", self._browse_file), ("Folder…", self._browse_folder)
        )
        labels_row = path_row(self.labels_edit, ("File…", self._browse_labels))
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Source", src_row)
        form.addRow("Class names", labels_row)
        form.addRow("Uncovered pixels", self.background_combo)
        form.addRow("", self.strict_check)
        finish_form(self, form, "Import", self._accept_if_valid)
        self.resize(640, 240)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Annotation file")
        if path:
            self.src_edit.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Annotation folder")
        if path:
            self.src_edit.setText(path)

    def _browse_labels(self) -> None:
        # (class tables: lists, CSV tables, nnU-Net's and the Decathlon's dataset.json)
        kinds = "Class tables (*.txt *.csv *.json);;All files (*)"
        path, _ = QFileDialog.getOpenFileName(self, "Class names file", "", kinds)
        if path:
            self.labels_edit.setText(path)

    def _format_changed(self) -> None:
        """Uncovered pixels exist only in formats of shapes (labelme, COCO, YOLO, Label Studio)."""
        fmt = str(self.format_combo.currentData())
        self.background_combo.setEnabled(fmt in BACKGROUND_FORMATS)
        automatic = automatic_background(fmt, self.class_names)
        typed = self.background_combo.currentText()
        chosen_automatic = self._automatic_chosen()
        self.background_combo.setItemText(0, automatic)
        self.background_combo.setEditText(automatic if chosen_automatic else typed)

    def _automatic_chosen(self) -> bool:
        """Whether "Uncovered pixels" leaves the class to the format (as typed too)."""
        text = self.background_combo.currentText().strip()
        return text in ("", AUTOMATIC, self.background_combo.itemText(0))

    def set_format(self, name: str) -> None:
        index = self.format_combo.findData(name)
        if index < 0:
            raise AnnotatorError(f"unknown import format {name!r}")
        self.format_combo.setCurrentIndex(index)

    def request(self) -> ImportRequest:
        src = path_text(self.src_edit)
        if not src:
            raise AnnotatorError("choose a file or folder to import")
        labels = path_text(self.labels_edit)
        background = self.background_combo.currentText().strip()
        if not self.background_combo.isEnabled() or self._automatic_chosen():
            background = ""  # the format labels every pixel itself, or chooses
        return ImportRequest(
            format=str(self.format_combo.currentData()),
            src=Path(src).expanduser(),
            strict=self.strict_check.isChecked(),
            labels_file=Path(labels).expanduser() if labels else None,
            background=background or None,
            labels_how=LABELS_HOW,
            background_how=BACKGROUND_HOW,
            strict_how=STRICT_HOW,
            format_how=FORMAT_HOW,
            other_project_how=OTHER_PROJECT_HOW,
            remove_how=REMOVE_HOW,
        )

    def _accept_if_valid(self) -> None:
        """Accept a form whose source and class names file exist; otherwise say why
        while the form is still open (the import refused it only after the form closed,
        and the choices made were lost)."""
        try:
            request = self.request()
            for path in (request.src, request.labels_file):
                if path is not None:
                    refuse_unusable_path(path)
            missing = [
                (what, path)
                for what, path in (
                    ("source", request.src),
                    ("class names file", request.labels_file),
                )
                if path is not None and not path.exists()
            ]
            if missing:
                what, path = missing[0]
                raise AnnotatorError(
                    f"{path}: no such file or folder; choose the {what} with its File… or "
                    "Folder… button"
                    if what == "source"
                    else f"{path}: no such file; choose the {what} with its File… button"
                )
        except AnnotatorError as exc:
            QMessageBox.warning(self, "Import", box_sentence(error_text(exc)))
            return
        self.accept()
