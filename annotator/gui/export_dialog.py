"""File > Export: the options of ``annotator export`` in a dialog, run with progress.

The dialog builds the same :class:`~annotator.services.exchange.ExportRequest` the CLI
builds and :func:`run_export` calls the same ``export_project``, on a worker thread
behind a progress dialog with Cancel. A cancelled or failed export leaves nothing at
the output folder (the service writes into a staging folder and renames it at the end).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from annotator.core.errors import AnnotatorError
from annotator.core.schema import LabelClass, LabelSchema, default_color
from annotator.formats.base import is_background_name
from annotator.formats.registry import FORMATS, export_formats, format_title
from annotator.gui.forms import add_formats, finish_form, path_row, path_text, refuse_unusable_path
from annotator.gui.number_boxes import DecimalBox, WholeBox
from annotator.gui.progress_task import (
    Progress,
    TaskOutcome,
    box_sentence,
    error_text,
    plain,
    run_with_progress,
    sentence,
)
from annotator.services.exchange import (
    OBJECT_FORMATS,
    ExportReport,
    ExportRequest,
    export_project,
    left_out_classes,
)

#: How the export's summary tells to write the background class (the CLI names its flag).
KEEP_BACKGROUND_HOW = "the Background box writes it"
#: Where the export's summary says the classes left out were named.
LEAVE_OUT_HOW = "named in Leave out classes"
#: How the export's summary names copies of the images (the CLI: ``--images copy``).
COPIES_HOW = "Images as: Copies"
#: How the export's summary tells to ask for GeoTIFF masks (the CLI: ``give --geotiff``).
GEOTIFF_HOW = "tick Georeferencing"
#: How the export's summary names VOC pictures kept as they are (the CLI's flag).
VOC_KEEP_HOW = 'VOC pictures "As they are"'
#: How the export's summary tells to name nnU-Net's channels (the CLI: its flag).
CHANNEL_NAMES_HOW = "the nnU-Net channel names field"
#: The field of nnU-Net's channel names, as a refusal of what it holds names it.
CHANNEL_NAMES_FIELD = "nnU-Net channel names"
#: How the export's summary and refusals tell to choose the project's channels (the CLI
#: gives its ``annotator channels`` command).
CHANNEL_CHOICE_HOW = "View > Channels…"

if TYPE_CHECKING:  # front ends reach projects through services only
    from annotator.storage.project import Project


def export_summary(report: ExportReport) -> str:
    """The done message: what was written where, and the export's notes (the lines the
    CLI prints after its counts, from the same report), in sentences."""
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    text = (
        f"Exported {sum(report.counts.values())} image(s) as {format_title(report.format)} "
        f"to {report.out}.\n"
        f"Splits: {counts}; {len(report.files)} file(s) written."
    )
    for line in report.notes:
        text += "\n" + sentence(line)
    return text


def run_export(
    parent: QWidget | None, project: Project, request: ExportRequest
) -> TaskOutcome[ExportReport]:
    """Export on a worker thread with a cancellable progress dialog."""

    def work(progress: Progress) -> ExportReport:
        return export_project(project, request, progress=progress)

    title = format_title(request.format)
    return run_with_progress(parent, "Export", f"Exporting as {title}…", work)


class ExportDialog(QDialog):
    """Format, output folder, split, seed, which images, image mode, COCO mode, VOC
    pictures, label stacks, GeoTIFF masks, nnU-Net channel names, classes left out."""

    def __init__(
        self,
        parent: QWidget | None = None,
        default_out: Path | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        #: The project's classes: the names "Leave out classes" may give (None: unchecked).
        self.class_names = class_names
        #: Replace a folder that holds files (the user said so when asked on OK).
        self.overwrite = False
        self.format_combo = QComboBox()
        add_formats(
            self.format_combo, export_formats(), {n: f.description for n, f in FORMATS.items()}
        )
        self.out_edit = QLineEdit(str(default_out) if default_out else "")
        self.out_edit.setPlaceholderText("a new or empty folder (one with files is replaced)")
        self.split_spins = [self._fraction(v) for v in (0.8, 0.1, 0.1)]
        self.seed_spin = WholeBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.include_combo = QComboBox()
        self.include_combo.addItem("Done images only", "done")
        self.include_combo.addItem("Every image with labels", "all")
        self.images_combo = QComboBox()
        for mode, text in (
            ("copy", "Copies"),
            ("hardlink", "Hard links (same disk, no extra space)"),
            ("symlink", "Symbolic links to the originals"),
        ):
            self.images_combo.addItem(text, mode)
        self.coco_combo = QComboBox()
        self.coco_combo.addItem("Polygons", "polygon")
        self.coco_combo.addItem("RLE (compressed masks)", "rle")
        self.coco_combo.setToolTip(
            "How COCO stores each region (COCO export only): polygons, which every COCO "
            "tool reads, or RLE, the pixel masks compressed; trainers learn from both"
        )
        self.voc_images_combo = QComboBox()
        self.voc_images_combo.addItem("JPEG, as VOC loaders expect (<name>.jpg)", "jpg")
        self.voc_images_combo.addItem("As they are (lossless copies)", "keep")
        self.voc_images_combo.setToolTip(
            "VOC export only: what JPEGImages/ holds. JPEG: JPEG files copied as they are, "
            "other 8-bit grey or colour pictures written as JPEG (quality 95), which "
            "torchvision and mmsegmentation look for; pictures JPEG cannot hold (16-bit, "
            "4 channels...) stay as they are. As they are: every picture copied, in its "
            "own format"
        )
        self.stacks_check = QCheckBox("Also one label stack per TIFF stack (page i: slice i)")
        self.stacks_check.setToolTip(
            "Masks export only: for images split from a TIFF stack, a multi-page TIFF of "
            "their labels in <split>/stacks/, as Fiji opens it; for those of a NIfTI "
            "volume, a NIfTI label volume in its voxel order and affine; slices not "
            "exported are unlabelled"
        )
        self.geotiff_check = QCheckBox("Masks of GeoTIFF pictures as GeoTIFF (<name>.tif)")
        self.geotiff_check.setToolTip(
            "Masks export only: the mask of a GeoTIFF picture written as a lossless GeoTIFF "
            "with the picture's geo tags (its coordinate reference system too) and unlabelled "
            "pixels as its nodata (see-through in QGIS), instead of a PNG with a world file "
            "(<name>.pgw, which has none)"
        )
        self.channel_names_edit = QLineEdit()
        self.channel_names_edit.setPlaceholderText(
            "automatic: CT for CT scans, else grey or R,G,B (e.g. CT, or T2,ADC)"
        )
        self.channel_names_edit.setToolTip(
            "nnU-Net export only: dataset.json's channel_names, one per channel written, "
            "separated by commas. nnU-Net normalises a channel named CT by the dataset's "
            "intensities and z-scores every other per case. Empty: CT when every case is a "
            "NIfTI scan in Hounsfield units, else grey, R,G,B or the chosen channels"
        )
        self.leave_out_edit = QLineEdit()
        self.leave_out_edit.setPlaceholderText("none besides the background (e.g. membrane)")
        self.leave_out_edit.setToolTip(
            "COCO, YOLO and labelme only: classes (names or ids, separated by commas) "
            "written as no objects, their pixels left uncovered. They are left out besides "
            "the background class (class 0 named background, bg or _background_: an object "
            "covering every image trains detectors on nothing), which Background writes. "
            "COCO category ids stay class id + 1, YOLO class indices the project's ids"
        )
        self.keep_background_check = QCheckBox("Write the background class as objects too")
        self.keep_background_check.setToolTip(
            "COCO, YOLO and labelme only: one object per region of the background class "
            "(class 0 named background, bg or _background_) as of every other class; "
            "unticked, it is left out, as are the classes named in Leave out classes"
        )
        self._build()
        self.leave_out_edit.textChanged.connect(self._format_changed)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

    @staticmethod
    def _fraction(value: float) -> QDoubleSpinBox:
        spin = DecimalBox()
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(value)
        return spin

    def _build(self) -> None:
        out_row = path_row(self.out_edit, ("Browse…", self._browse))
        split_row = QHBoxLayout()
        for name, spin in zip(("train", "val", "test"), self.split_spins):
            spin.setPrefix(f"{name} ")
            split_row.addWidget(spin)
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Output folder", out_row)
        form.addRow("Split (shares)", split_row)
        form.addRow("Split seed", self.seed_spin)
        form.addRow("Which images", self.include_combo)
        form.addRow("Images as", self.images_combo)
        form.addRow("COCO regions", self.coco_combo)
        form.addRow("VOC pictures", self.voc_images_combo)
        form.addRow("Label stacks", self.stacks_check)
        form.addRow("Georeferencing", self.geotiff_check)
        form.addRow("nnU-Net channel names", self.channel_names_edit)
        form.addRow("Leave out classes", self.leave_out_edit)
        form.addRow("Background", self.keep_background_check)
        for spin in self.split_spins:
            spin.setToolTip(
                "Shares of the images; they are scaled to add up to 1. The slices of a "
                "stack are kept in one split"
            )
        finish_form(self, form, "Export", self._accept_if_valid)
        self.resize(620, 300)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder")
        if folder:
            self.out_edit.setText(folder)

    def _format_changed(self) -> None:
        # nnU-Net's files are written (PNG, NIfTI), never copies or links of the pictures
        self.images_combo.setEnabled(self.format_combo.currentData() != "nnunet")
        self.coco_combo.setEnabled(self.format_combo.currentData() == "coco")
        self.voc_images_combo.setEnabled(self.format_combo.currentData() == "voc")
        self.channel_names_edit.setEnabled(self.format_combo.currentData() == "nnunet")
        objects = self.format_combo.currentData() in OBJECT_FORMATS
        self.leave_out_edit.setEnabled(objects)
        # (the classes named are left out besides the background, which the box writes)
        names = self.class_names
        background = names is None or (bool(names) and is_background_name(names[0]))
        keep = objects and background
        self.keep_background_check.setEnabled(keep)
        if not keep:
            self.keep_background_check.setChecked(False)
        masks = self.format_combo.currentData() == "masks"
        for check in (self.stacks_check, self.geotiff_check):
            check.setEnabled(masks)
            if not masks:
                check.setChecked(False)

    def set_format(self, name: str) -> None:
        index = self.format_combo.findData(name)
        if index < 0:
            raise AnnotatorError(f"unknown export format {name!r}")
        self.format_combo.setCurrentIndex(index)

    def request(self) -> ExportRequest:
        """The request the form describes (AnnotatorError names what is missing)."""
        from annotator.formats.nnunet import parse_channel_names
        from annotator.services.exchange import parse_split

        out = path_text(self.out_edit)
        if not out:
            raise AnnotatorError("choose an output folder")
        if not any(s.value() > 0 for s in self.split_spins):
            raise AnnotatorError("give train, val or test a share above 0")
        split = parse_split(",".join(f"{s.value():g}" for s in self.split_spins))
        return ExportRequest(
            format=str(self.format_combo.currentData()),
            out=Path(out).expanduser(),
            split=split,
            seed=self.seed_spin.value(),
            include=str(self.include_combo.currentData()),
            image_mode=(
                str(self.images_combo.currentData()) if self.images_combo.isEnabled() else "copy"
            ),
            coco_mode=str(self.coco_combo.currentData()),
            stacks=self.stacks_check.isChecked(),
            voc_images=str(self.voc_images_combo.currentData()),
            overwrite=self.overwrite,
            geotiff=self.geotiff_check.isChecked(),
            channel_names=(
                parse_channel_names(self.channel_names_edit.text(), CHANNEL_NAMES_FIELD)
                if self.channel_names_edit.isEnabled()
                else ()
            ),
            leave_out=self._leave_out(),
            keep_background=self.keep_background_check.isChecked(),
            keep_background_how=KEEP_BACKGROUND_HOW,
            leave_out_how=LEAVE_OUT_HOW,
            copies_how=COPIES_HOW,
            geotiff_how=GEOTIFF_HOW,
            voc_keep_how=VOC_KEEP_HOW,
            channel_names_how=CHANNEL_NAMES_HOW,
            channel_choice_how=CHANNEL_CHOICE_HOW,
        )

    def fill(self, request: ExportRequest) -> None:
        """Show the choices of an earlier request (the dialog's last settings)."""
        self.set_format(request.format)
        self.out_edit.setText(str(request.out))
        for spin, share in zip(self.split_spins, request.split):
            spin.setValue(share)
        self.seed_spin.setValue(request.seed)
        for combo, value in (
            (self.include_combo, request.include),
            (self.images_combo, request.image_mode),
            (self.coco_combo, request.coco_mode),
            (self.voc_images_combo, request.voc_images),
        ):
            if (index := combo.findData(value)) >= 0:
                combo.setCurrentIndex(index)
        self.stacks_check.setChecked(request.stacks)
        self.geotiff_check.setChecked(request.geotiff)
        self.channel_names_edit.setText(", ".join(request.channel_names))
        self.leave_out_edit.setText(", ".join(request.leave_out or ()))
        self.keep_background_check.setChecked(request.keep_background)
        self._format_changed()

    def _leave_out(self) -> tuple[str, ...] | None:
        """The classes the line names (None: the default, the background class)."""
        if not self.leave_out_edit.isEnabled():
            return None
        words = tuple(w.strip() for w in self.leave_out_edit.text().split(",") if w.strip())
        return words or None

    def _check_classes(self, request: ExportRequest) -> None:
        """Refuse, while the form is open, a class to leave out that the project lacks,
        and every class left out (the export would refuse both after it closed)."""
        if self.class_names is None:
            return
        # (the project's names as they are: from_names checks names as they are typed,
        # which refused names a project made before a rule was added holds)
        schema = LabelSchema(
            tuple(LabelClass(i, n, default_color(i)) for i, n in enumerate(self.class_names))
        )
        left_out_classes(schema, request)

    def _accept_if_valid(self) -> None:
        try:
            request = self.request()
            self._check_classes(request)
            out = Path(request.out)
            refuse_unusable_path(out)
            try:
                full = out.is_dir() and any(out.iterdir())
            except OSError as exc:  # (a folder it may not read)
                raise AnnotatorError(f"{out}: {exc.strerror or exc}") from None
        except AnnotatorError as exc:
            QMessageBox.warning(self, "Export", box_sentence(error_text(exc)))
            return
        self.overwrite = False
        if out.is_file():
            # said here, while the choices are still on screen (the export refuses it too)
            QMessageBox.warning(
                self,
                "Export",
                plain(f"{out}: is a file; choose a new folder (it is created) or an empty one"),
            )
            return
        if full:
            # as `export --overwrite`: the old folder goes only once the new one is whole
            answer = QMessageBox.question(
                self,
                "Export",
                plain(
                    f"{out} already holds files. Replace the folder with this export? It is "
                    "replaced only once the export is complete; until then it stays as it is."
                ),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.overwrite = True
        self.accept()
