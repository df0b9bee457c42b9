"""What File > Export and File > Add say when they are done: the export's warnings as
the CLI prints them (one source: ``ExportReport.notes``), and an add's masks left out
beside the pictures, with the import that brings them offered."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from guihelpers import SIZE, drag
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from annotator.cli import main
from annotator.gui import export_dialog
from annotator.gui.export_dialog import ExportDialog
from annotator.gui.file_menu import IMPORT_MASKS_BUTTON
from annotator.gui.import_dialog import ImportDialog
from annotator.gui.progress_task import sentence
from annotator.services import exchange

#: The CLI's words and the GUI's for the same hint: the flag, the form's field.
CLI_TO_GUI = [
    (exchange.KEEP_BACKGROUND_HOW, export_dialog.KEEP_BACKGROUND_HOW),
    (exchange.COPIES_HOW, export_dialog.COPIES_HOW),
    (f"{exchange.VOC_KEEP_HOW} (VOC pictures: as they are)", export_dialog.VOC_KEEP_HOW),
    (exchange.VOC_KEEP_HOW, export_dialog.VOC_KEEP_HOW),
]


def _in_gui_words(line: str) -> str:
    for cli, gui in CLI_TO_GUI:
        line = line.replace(cli, gui)
    return line


def _fill_export(out, fmt, **choices):
    def exec_(self):
        self.set_format(fmt)
        self.out_edit.setText(str(out))
        for spin, share in zip(self.split_spins, (1.0, 0.0, 0.0)):
            spin.setValue(share)
        for name, value in choices.items():
            combo = getattr(self, name)
            combo.setCurrentIndex(combo.findData(value))
        return QDialog.DialogCode.Accepted

    return exec_


@pytest.mark.parametrize(
    ("fmt", "choices", "expected"),
    [
        ("yolo", {}, "No validation images: data.yaml's 'val' names the training images"),
        ("voc", {}, "1 picture(s) written as JPEG (quality 95) for VOC loaders"),
        ("voc", {"voc_images_combo": "keep"}, "1 picture(s) kept in their own format"),
        ("masks", {"images_combo": "symlink"}, "The images are symbolic links to the originals"),
    ],
)
def test_the_export_summary_says_what_the_cli_says(
    window, tmp_path, monkeypatch, boxes, capsys, fmt, choices, expected
):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    out = tmp_path / "gui-out"
    monkeypatch.setattr(
        ExportDialog, "exec", _fill_export(out, fmt, include_combo="all", **choices)
    )
    window.actions_["export"].trigger()
    text = window.file_menu.last_message
    assert text.startswith("Exported 1 image(s)"), text  # the one labelled
    assert "\nLeft out 2 image(s) without a label map.\n" in text
    assert expected in text
    # the CLI's lines after its counts, from the same report, in the same order
    args = ["export", str(window.session.project.root), str(tmp_path / "cli-out")]
    args += ["--format", fmt, "--split", "1,0,0", "--include", "all"]
    if "voc_images_combo" in choices:
        args += ["--voc-images", choices["voc_images_combo"]]
    if "images_combo" in choices:
        args += ["--images", choices["images_combo"]]
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()[2:]
    assert printed, "the CLI said nothing after its counts"
    # (the same words, but the GUI names its form's field where the CLI names its flag)
    said = [sentence(_in_gui_words(line)) for line in printed]
    assert text.splitlines()[2:] == said


def test_the_export_dialog_asks_what_voc_pictures_are_only_of_a_voc_export(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("voc")
    assert dialog.voc_images_combo.isEnabled()
    assert dialog.request().voc_images == "jpg"  # the default: what VOC loaders read
    dialog.voc_images_combo.setCurrentIndex(dialog.voc_images_combo.findData("keep"))
    assert dialog.request().voc_images == "keep"
    dialog.set_format("coco")
    assert not dialog.voc_images_combo.isEnabled()


def test_the_export_dialog_offers_nnunet_which_writes_its_pictures_itself(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/Dataset501_Cells")
    dialog.images_combo.setCurrentIndex(dialog.images_combo.findData("symlink"))
    dialog.set_format("nnunet")
    assert dialog.format_combo.currentText() == "nnU-Net v2 (imagesTr, labelsTr, dataset.json)"
    assert not dialog.images_combo.isEnabled()  # PNG or NIfTI files: never linked
    assert not dialog.stacks_check.isEnabled() and not dialog.coco_combo.isEnabled()
    assert dialog.request().format == "nnunet"
    assert dialog.request().image_mode == "copy"
    dialog.set_format("masks")
    assert dialog.request().image_mode == "symlink"


def test_the_nnunet_export_summary_says_where_the_folder_goes(window, tmp_path, monkeypatch, boxes):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    out = tmp_path / "Dataset501_Gui"
    monkeypatch.setattr(ExportDialog, "exec", _fill_export(out, "nnunet", include_combo="all"))
    window.actions_["export"].trigger()
    text = window.file_menu.last_message
    assert text.startswith("Exported 1 image(s) as nnU-Net"), text
    assert "For nnU-Net: move Dataset501_Gui into $nnUNet_raw" in text
    assert (out / "dataset.json").is_file()


def _dataset_with_masks(root):
    """ISBI's layout: images/ and labels/ beside it."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(3):
        cv2.imwrite(str(root / f"images/n{i}.png"), np.full((SIZE, SIZE), 40 + 50 * i, np.uint8))
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[:10] = 1
        cv2.imwrite(str(root / f"labels/n{i}.png"), mask)
    return root


def _answer(monkeypatch, button_text, seen):
    """The summary box, answered with the button of that text."""

    def exec_(box):
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == button_text).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)


def test_add_offers_to_import_the_masks_it_left_out_with_the_form_filled(
    window, tmp_path, monkeypatch, boxes
):
    ds = _dataset_with_masks(tmp_path / "ds")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(ds))
    said: list[str] = []
    _answer(monkeypatch, IMPORT_MASKS_BUTTON, said)
    filled = {}

    def import_exec(dialog):
        filled.update(
            format=dialog.format_combo.currentData(),
            src=dialog.src_edit.text(),
            labels=dialog.labels_edit.text(),
            strict=dialog.strict_check.isChecked(),
            automatic=dialog._automatic_chosen(),
        )
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", import_exec)
    window.actions_["add_folder"].trigger()
    assert len(said) == 1
    assert "Found 3 mask file(s) beside the pictures and left them out of the images" in said[0]
    assert (
        f"to import them as labels: File > Import labels (format: masks) from {ds / 'labels'}."
        in said[0]
    )
    assert filled == {
        "format": "masks",
        "src": str(ds / "labels"),
        "labels": "",  # the rest of the form as File > Import labels opens it
        "strict": False,
        "automatic": True,
    }
    # the import ran: the three new images have the masks' labels
    assert window.file_menu.last_message.startswith(
        "Imported 3 mask(s) from masks: 3 matched to project images"
    )
    project = window.session.project
    for name in ("images/n0.png", "images/n1.png", "images/n2.png"):
        labels = project.load_mask(project.image(name))
        assert labels is not None and (labels[:10] == 1).all() and (labels[10:] == 0).all()


def test_closing_the_add_summary_imports_nothing(window, tmp_path, monkeypatch, boxes):
    ds = _dataset_with_masks(tmp_path / "ds")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(ds))
    said: list[str] = []
    _answer(monkeypatch, "Close", said)
    opened = []
    monkeypatch.setattr(ImportDialog, "exec", lambda d: opened.append(d) or 0)
    window.actions_["add_folder"].trigger()
    assert len(said) == 1 and not opened
    project = window.session.project
    assert project.load_mask(project.image("images/n0.png")) is None


def test_the_import_menu_opens_its_form_empty(window, monkeypatch):
    seen = {}

    def import_exec(dialog):
        seen.update(src=dialog.src_edit.text(), format=dialog.format_combo.currentIndex())
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(ImportDialog, "exec", import_exec)
    window.actions_["import"].trigger()  # triggered(bool) is no preset
    assert seen == {"src": "", "format": 0}


def test_a_project_made_from_the_welcome_offers_the_masks_import_as_file_new_does(
    qtbot, tmp_path, monkeypatch, boxes
):
    """The Welcome's New project said only "Added 3 image(s)…" in a plain box: no
    Import these masks… button, and no word when the classes could not train."""
    from annotator.gui.first_run import FirstRunDialog
    from annotator.gui.main_window import MainWindow
    from annotator.gui.new_project_dialog import NewProjectDialog

    ds = _dataset_with_masks(tmp_path / "ds")
    target = tmp_path / "made"

    def fill(self):
        self.images_edit.setText(str(ds))
        self.project_edit.setText(str(target))
        self.classes.set_rows([("bg", None), ("cell", None)])
        self.create_project()
        return self.result()

    def welcome(self):
        self.choose_new()
        return self.result()

    monkeypatch.setattr(NewProjectDialog, "exec", fill)
    monkeypatch.setattr(FirstRunDialog, "exec", welcome)
    said: list[str] = []
    _answer(monkeypatch, "Close", said)
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.file_menu.welcome()
    assert w.session is not None and w.session.project.root == target
    assert len(said) == 1 and "Found 3 mask file(s) beside the pictures" in said[0]
    w.close()
