"""The summaries File > Export and File > Import labels show name the forms' fields,
never the CLI's flags (``--voc-images keep``, ``--images copy``, ``--geotiff``,
``--background none``...): a sweep over the formats, each with a case that provokes its
hint. The CLI's words for the same hints are pinned by the tests of the formats."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tifffile
from guihelpers import SIZE, drag, shown_window
from PySide6.QtWidgets import QDialog

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.formats.registry import export_formats, import_formats
from annotator.gui.export_dialog import ExportDialog
from annotator.gui.import_dialog import ImportDialog
from annotator.storage.project import Project

#: A CLI flag in a text: two dashes and a letter, not inside a word or a longer dash.
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _shown(window, boxes) -> list[str]:
    """Every text the GUI showed: the last summary and the message boxes (less nnU-Net's
    own command, which the user runs in a shell)."""
    texts = [window.file_menu.last_message, *(text for _, text in boxes)]
    return [re.sub(r"nnUNetv2_\S+ -d \w+ --verify_dataset_integrity", "", t) for t in texts]


def _export(window, monkeypatch, fmt, out, **choices):
    def exec_(dialog):
        dialog.set_format(fmt)
        dialog.out_edit.setText(str(out))
        for spin, share in zip(dialog.split_spins, (1.0, 0.0, 0.0)):
            spin.setValue(share)
        if dialog.images_combo.isEnabled():
            dialog.images_combo.setCurrentIndex(
                dialog.images_combo.findData(choices.get("images", "symlink"))
            )
        voc = dialog.voc_images_combo
        voc.setCurrentIndex(voc.findData(choices.get("voc_images", "jpg")))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", exec_)
    window.actions_["export"].trigger()
    return window.file_menu.last_message


@pytest.mark.parametrize("fmt", export_formats())
def test_no_export_summary_names_a_flag(window, monkeypatch, tmp_path, boxes, fmt):
    """Every format, its pictures linked (VOC: written as JPEG): the summary says how to
    export copies (and VOC's lossless pictures) with the form's fields."""
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    said = _export(window, monkeypatch, fmt, tmp_path / "out")
    assert said.startswith("Exported 1 image(s)"), said
    if fmt != "nnunet":  # (nnU-Net copies its pictures whatever Images as says)
        assert "so export with copies (Images as: Copies) to import this set again" in said
    if fmt == "voc":
        assert 'export with VOC pictures "As they are" for lossless copies' in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_the_voc_export_of_pictures_kept_as_they_are_names_the_field(
    window, monkeypatch, tmp_path, boxes
):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    said = _export(window, monkeypatch, "voc", tmp_path / "out", voc_images="keep")
    assert 'as VOC pictures "As they are" asks' in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def _geotiff_project(tmp_path):
    """A project of one 8-bit GeoTIFF picture (UTM 33N, 10 m pixels), labelled in part."""
    tags = [
        (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633), True),
        (33550, "d", 3, (10.0, 10.0, 0.0), True),
        (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 5000000.0, 0.0), True),
    ]
    picture = tmp_path / "scene.tif"
    pixels = np.random.default_rng(3).integers(0, 200, (24, 32)).astype(np.uint8)
    tifffile.imwrite(picture, pixels, photometric="minisblack", extratags=tags)
    root = tmp_path / "proj"
    labels = np.full((24, 32), 255, np.uint8)
    labels[4:12, 4:20] = 1
    with Project.create(root, LabelSchema.from_names(["water", "field"])) as p:
        p.add_images([picture])
        p.save_mask(p.images()[0].id, labels, status=ImageStatus.DONE)
    return root


def test_the_masks_export_of_a_geotiff_picture_names_the_georeferencing_box(
    qtbot, monkeypatch, tmp_path, boxes
):
    window = shown_window(qtbot, _geotiff_project(tmp_path))
    try:
        said = _export(window, monkeypatch, "masks", tmp_path / "out", images="copy")
        shown = _shown(window, boxes)
    finally:
        window.close()
    assert "or tick Georeferencing for GeoTIFF masks that carry it" in said, said
    assert not [t for t in shown if FLAG.search(t)]


def _coco_import(window, monkeypatch, tmp_path, categories, strict=False, background=""):
    """File > Import labels of a COCO file: one square of its last category on im0."""
    square = [[5, 5, 20, 5, 20, 20, 5, 20]]
    doc = {
        "images": [{"id": 1, "file_name": "im0.png", "width": SIZE, "height": SIZE}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": len(categories), "segmentation": square}
            | {"area": 225, "bbox": [5, 5, 15, 15], "iscrowd": 0}
        ],
        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(categories)],
    }
    source = tmp_path / "a.json"
    source.write_text(json.dumps(doc))

    def exec_(dialog):
        dialog.set_format("coco")
        dialog.src_edit.setText(str(source))
        dialog.strict_check.setChecked(strict)
        if background:
            dialog.background_combo.setCurrentText(background)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    return window.file_menu.last_message


def test_the_coco_import_of_a_background_category_names_the_uncovered_pixels_field(
    window, monkeypatch, tmp_path, boxes
):
    """A COCO file with labelme2coco's ``_background_`` category: its uncovered pixels
    become that class, and the summary says how to keep them unlabelled in the form."""
    said = _coco_import(window, monkeypatch, tmp_path, ["_background_", "cell"])
    assert "none in the import's Uncovered pixels keeps them unlabelled" in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_a_strict_import_refused_names_the_box_to_untick(window, monkeypatch, tmp_path, boxes):
    said = _coco_import(window, monkeypatch, tmp_path, ["nucleus"], strict=True)
    assert said.startswith("Import failed: "), said
    assert '(untick "Stop if the source has classes the project lacks" to add them)' in said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_an_uncovered_pixels_class_nobody_has_names_the_field(window, monkeypatch, tmp_path, boxes):
    said = _coco_import(window, monkeypatch, tmp_path, ["cell"], background="sky")
    assert said.startswith("Import failed: "), said
    assert "the import's Uncovered pixels 'sky': neither the project nor" in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


@pytest.mark.parametrize("fmt", sorted(set(export_formats()) & set(import_formats())))
def test_no_import_summary_names_a_flag(window, monkeypatch, tmp_path, boxes, fmt):
    """Every format the GUI both exports and imports: its own export imported back."""
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    out = tmp_path / "out"
    assert _export(window, monkeypatch, fmt, out, images="copy").startswith("Exported")

    def exec_(dialog):
        dialog.set_format(fmt)
        dialog.src_edit.setText(str(out))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    said = window.file_menu.last_message
    assert said.startswith("Imported"), said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_a_masks_import_whose_255_stays_unlabelled_names_the_class_names_field(
    window, monkeypatch, tmp_path, boxes
):
    """0/255 masks in a project of three classes: 255 is read as unlabelled, and the
    summary tells how to name it a class with the form's Class names file."""
    import cv2

    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[8:24, 8:24] = 255
    cv2.imwrite(str(masks / "im0.png"), mask)

    def exec_(dialog):
        dialog.set_format("masks")
        dialog.src_edit.setText(str(masks))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    said = window.file_menu.last_message
    assert "if it marks a class, choose a Class names file listing the masks' classes" in said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_the_nnunet_export_of_a_ct_scan_names_the_channel_names_field(
    qtbot, monkeypatch, tmp_path, boxes
):
    """A NIfTI scan of Hounsfield units: its channel is named CT, and the summary says how
    to name it otherwise with the form's field (the CLI: ``--channel-names NAME``)."""
    from niftihelpers import save_volume

    voxels = np.random.default_rng(5).integers(-1000, 400, (32, 24, 3)).astype(np.int16)
    save_volume(tmp_path / "scans" / "ct.nii.gz", voxels)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["air", "body"])) as p:
        p.add_images([tmp_path / "scans"])
        for record in p.images():
            labels = np.zeros(p.load_image(record).shape[:2], np.uint8)
            labels[2:8, 2:8] = 1
            p.save_mask(record.id, labels, status=ImageStatus.DONE)
    window = shown_window(qtbot, root)
    try:
        said = _export(window, monkeypatch, "nnunet", tmp_path / "Dataset001_CT")
        shown = _shown(window, boxes)
    finally:
        window.close()
    assert "name it otherwise with the nnU-Net channel names field" in said, said
    assert not [t for t in shown if FLAG.search(t)]
