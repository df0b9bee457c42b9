"""Paths the system cannot look up (a name over 255 bytes) typed in the Export, New
project and Import labels forms are refused by the form in one line, the form kept open;
an OSError escaped the OK button. Export's own default folder name fits, for a project
folder of a long name too."""

from __future__ import annotations

import cv2
import numpy as np
from guihelpers import shown_window
from PySide6.QtWidgets import QDialog

from annotator.core.naming import NAME_MAX
from annotator.core.schema import LabelSchema
from annotator.gui.export_dialog import ExportDialog
from annotator.gui.import_dialog import ImportDialog
from annotator.gui.new_project_dialog import NewProjectDialog
from annotator.services.exchange import ExportRequest, export_project
from annotator.storage.project import Project

TOO_LONG = "Q" * 257


def _refused(dialog, boxes, path) -> None:
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert len(boxes) == 1 and boxes[0][0] == "warning", boxes
    text = boxes[0][1]
    assert "\n" not in text and f"{path}: File name too long" in text, text


def test_the_export_form_refuses_a_folder_name_too_long(window, boxes, tmp_path):
    dialog = ExportDialog(window)
    out = tmp_path / TOO_LONG
    dialog.out_edit.setText(str(out))
    dialog._accept_if_valid()
    _refused(dialog, boxes, out)
    assert dialog.out_edit.text() == str(out)  # the choices are kept


def test_the_new_project_form_refuses_a_name_too_long_in_either_field(qtbot, tmp_path, boxes):
    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    dialog.project_edit.setText(str(tmp_path / TOO_LONG))
    dialog.create_project()
    _refused(dialog, boxes, tmp_path / TOO_LONG)
    boxes.clear()
    dialog.project_edit.setText(str(tmp_path / "proj"))
    dialog.images_edit.setText(str(tmp_path / TOO_LONG))
    dialog.create_project()
    _refused(dialog, boxes, tmp_path / TOO_LONG)
    assert not (tmp_path / "proj").exists()


def test_the_import_form_refuses_a_source_name_too_long(qtbot, tmp_path, boxes):
    dialog = ImportDialog(None, ["background", "cell"])
    qtbot.addWidget(dialog)
    dialog.set_format("masks")
    dialog.src_edit.setText(str(tmp_path / TOO_LONG))
    dialog._accept_if_valid()
    _refused(dialog, boxes, tmp_path / TOO_LONG)


def test_the_default_export_folder_of_a_project_with_a_long_name_fits(qtbot, tmp_path, boxes):
    """Its default was ``<project>-export``: 257 bytes beside a project of 250."""
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.full((16, 16), 40, np.uint8))
    root = tmp_path / ("P" * 250)
    with Project.create(root, LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_images([tmp_path / "imgs"])
        p.save_mask(p.images()[0].id, np.ones((16, 16), np.uint8))
    window = shown_window(qtbot, root)
    dialog = window.file_menu.make_export_dialog()
    out = dialog.out_edit.text()
    name = out.rsplit("/", 1)[-1]
    assert name.startswith("P" * 100) and name.endswith("-export")
    assert len(name.encode()) <= NAME_MAX
    dialog.include_combo.setCurrentIndex(dialog.include_combo.findData("all"))
    dialog._accept_if_valid()
    assert boxes == [] and dialog.result() == QDialog.DialogCode.Accepted
    report = export_project(
        window.session.project, ExportRequest("masks", out=tmp_path / name, include="all")
    )
    assert report is not None and any((tmp_path / name).rglob("*.png"))
    window.close()
