"""The summaries File > Export and File > Import labels show name the forms' fields,
never the CLI's flags (``--voc-images keep``, ``--images copy``, ``--geotiff``,
``--background none``, ``--format voc``, ``--labels FILE``, ``--channel-names``...) nor
its commands (``annotator channels P --use``, ``annotator export``): a sweep over the
formats, each with a case that provokes its hint. The CLI's words for the same hints are
pinned by the tests of the formats."""

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
        dialog.channel_names_edit.setText(choices.get("channel_names", ""))
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


# --- the import's refusals and notes ----------------------------------------------------


def _import(window, monkeypatch, fmt, src):
    """File > Import labels of ``src`` read as ``fmt``; the summary (or refusal) said."""

    def exec_(dialog):
        dialog.set_format(fmt)
        dialog.src_edit.setText(str(src))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    return window.file_menu.last_message


#: The formats the GUI imports whose exports the hints are tried on.
HINTED = ("voc", "masks", "coco", "labelme", "yolo")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """An export of a small project (the window's classes) in each of :data:`HINTED`."""
    from annotator.services.exchange import ExportRequest, export_project

    tmp = tmp_path_factory.mktemp("exports")
    picture = np.random.default_rng(2).integers(0, 255, (SIZE, SIZE)).astype(np.uint8)
    (tmp / "src").mkdir()
    tifffile.imwrite(tmp / "src" / "a.tif", picture)
    labels = np.full((SIZE, SIZE), 255, np.uint8)
    labels[4:20, 4:20] = 1
    labels[30:40, 30:50] = 2
    with Project.create(tmp / "p", LabelSchema.from_names(["background", "cell", "membrane"])) as p:
        p.add_images([tmp / "src"])
        p.save_mask(p.images()[0].id, labels, status=ImageStatus.DONE)
        for fmt in HINTED:
            export_project(p, ExportRequest(format=fmt, out=tmp / fmt, split=(1.0, 0.0, 0.0)))
    return {fmt: tmp / fmt for fmt in HINTED}


#: (tried, right): each export read as another format the GUI imports (the masks import
#: reads a VOC folder's SegmentationClass/ as it is).
WRONG = [
    (tried, right)
    for tried in import_formats()
    for right in HINTED
    if tried != right and (tried, right) != ("masks", "voc")
]


@pytest.mark.parametrize(("tried", "right"), WRONG)
def test_a_wrong_format_names_the_format_field(window, monkeypatch, boxes, exports, tried, right):
    """The hint of a source that looks like another format (``formats.detect``: its
    folder, its JSON files) names the form's Format field, as the CLI names --format."""
    from annotator.formats.registry import format_title

    said = _import(window, monkeypatch, tried, exports[right])
    assert said.startswith("Import failed: "), said
    assert f" with Format: {format_title(right)}" in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_a_folder_of_datasets_names_the_format_field_for_each(
    window, monkeypatch, boxes, exports, tmp_path
):
    import shutil

    top = tmp_path / "top"
    shutil.copytree(exports["coco"], top / "coco")
    shutil.copytree(exports["yolo"], top / "yolo")
    said = _import(window, monkeypatch, "masks", top)
    assert f"coco/ holds COCO: import {top / 'coco'} with Format: COCO" in said, said
    assert f"yolo/ holds a YOLO dataset: import {top / 'yolo'} with Format: YOLO" in said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_masks_of_values_no_class_has_name_the_class_names_field(
    window, monkeypatch, boxes, tmp_path
):
    """A mask of value 7 in a project of three classes: skipped, saying how to name its
    values with the form's Class names file (the CLI: ``--labels FILE``)."""
    import cv2

    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[8:24, 8:24] = 7
    cv2.imwrite(str(masks / "im0.png"), mask)
    said = _import(window, monkeypatch, "masks", masks)
    assert "values [7] are not class ids of this project (0..2)" in said, said
    assert "choose a Class names file listing their classes (id lines: '7 <class>')" in said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def _label_stack_dataset(root, labels, **picture_options):
    """``images/vol.tif`` (a stack of ``labels``' pages, ImageJ Z unless told otherwise)
    and ``masks/vol.tif``, the label stack."""
    zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
    volume = np.random.default_rng(4).integers(0, 255, labels.shape).astype(np.uint8)
    volume[:, 0, 0] = np.arange(len(volume))  # no two slices alike
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    tifffile.imwrite(root / "images/vol.tif", volume, **(picture_options or zyx))
    tifffile.imwrite(root / "masks/vol.tif", labels, **zyx)
    return root


def test_a_label_stack_of_values_no_class_has_names_the_class_names_field(
    window, monkeypatch, boxes, tmp_path
):
    """The same refusal of a label stack's page, which skips the whole stack."""
    labels = np.random.default_rng(5).integers(0, 2, (3, 24, 32)).astype(np.uint8)
    labels[:, 0, 0] = 7
    ds = _label_stack_dataset(tmp_path / "ds", labels)
    said = _import(window, monkeypatch, "masks", ds / "masks")
    assert "label stack not imported: slice 0: values [7] are not class ids" in said, said
    assert "choose a Class names file listing their classes (id lines: '7 <class>')" in said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def test_a_stack_also_one_picture_names_the_image_lists_menu(qtbot, monkeypatch, boxes, tmp_path):
    """A TIFF of bare pages added as one picture of channels, then its label stack
    imported: its pages become slices, and the note says how to remove the picture with
    the image list's menu (the CLI: ``annotator remove``)."""
    labels = np.random.default_rng(6).integers(0, 2, (5, 24, 32)).astype(np.uint8)
    ds = _label_stack_dataset(tmp_path / "ds", labels, photometric="minisblack")
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_images([ds / "images/vol.tif"], pages_as_channels=True)
    window = shown_window(qtbot, root)
    try:
        said = _import(window, monkeypatch, "masks", ds / "masks")
        shown = _shown(window, boxes)
    finally:
        window.close()
    assert said.startswith("Imported"), said
    assert (
        "if its pages are slices, remove that image with the image list's right-click "
        "menu (Remove … from the project)"
    ) in said, said
    assert "annotator remove" not in said
    assert not [t for t in shown if FLAG.search(t)]


def test_another_projects_folder_names_file_export(window, monkeypatch, boxes, tmp_path):
    other = tmp_path / "other"
    Project.create(other, LabelSchema.from_names(["cell"])).close()
    said = _import(window, monkeypatch, "masks", other)
    assert said.startswith("Import failed: "), said
    assert (
        "(open that project, export it with File > Export, and import the export into this one)"
    ) in said, said
    assert "annotator export" not in said


# --- nnU-Net's channels ----------------------------------------------------------------


def test_an_empty_nnunet_channel_name_names_the_field(qtbot, boxes):
    """The form refuses "T2," while it is open, naming its field (the CLI: the flag)."""
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("nnunet")
    dialog.channel_names_edit.setText("T2,")
    dialog._accept_if_valid()
    assert [kind for kind, _ in boxes] == ["warning"]
    said = boxes[0][1]
    assert said.startswith("nnU-Net channel names 'T2,': a name is empty; give one name"), said
    assert not FLAG.search(said)


def test_nnunet_channel_names_of_another_count_name_the_field(window, monkeypatch, boxes, tmp_path):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()
    out = tmp_path / "Dataset001_Grey"
    said = _export(window, monkeypatch, "nnunet", out, channel_names="T2, ADC")
    assert said.startswith("Export failed: "), said
    assert (
        "the nnU-Net channel names field gives 2 name(s) and every case has 1 channel(s) "
        "written: give 1, in channel order"
    ) in said, said
    assert not [t for t in _shown(window, boxes) if FLAG.search(t)]


def _bands_project(tmp_path, pictures, choice=()):
    """A project of these pictures (TIFF or PNG by the name), each labelled and done,
    with the Channel Choice ``choice``."""
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    for name, array in pictures.items():
        if name.endswith(".png"):
            cv2.imwrite(str(src / name), array)
        else:
            tifffile.imwrite(src / name, array)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["background", "fg"])) as p:
        p.add_images([src])
        for record in p.images():
            labels = np.zeros(p.load_image(record).shape[:2], np.uint8)
            labels[2:8, 2:8] = 1
            p.save_mask(record.id, labels, status=ImageStatus.DONE)
        if choice:
            p.set_channel_choice(choice)
    return root


def _nnunet_export_said(qtbot, monkeypatch, boxes, root, out):
    window = shown_window(qtbot, root)
    try:
        said = _export(window, monkeypatch, "nnunet", out)
        shown = _shown(window, boxes)
    finally:
        window.close()
    assert not [t for t in shown if FLAG.search(t)]
    assert "annotator channels" not in said
    return said


RNG = np.random.default_rng(8)


def test_pictures_lacking_a_chosen_channel_name_view_channels(qtbot, monkeypatch, boxes, tmp_path):
    """Every picture lacks channel 4 of the choice 4,3,2: the refusal says to choose
    channels they have with View > Channels… (the CLI: ``annotator channels P --use``)."""
    rgb = RNG.integers(0, 256, (14, 16, 3), np.uint8)
    root = _bands_project(tmp_path, {"a.png": rgb, "b.png": rgb[::-1].copy()})
    with Project.open(root) as p:  # (a picture of four channels, not exported, allows it)
        tifffile.imwrite(tmp_path / "t.tif", RNG.integers(0, 256, (14, 16, 4), np.uint8))
        p.add_images([tmp_path / "t.tif"])
        p.set_channel_choice((3, 2, 1))
    said = _nnunet_export_said(qtbot, monkeypatch, boxes, root, tmp_path / "o")
    assert said.startswith("Export failed: "), said
    assert "so nothing is left to export for nnU-Net: choose channels they have (View > " in said
    assert "Channels…)" in said


def test_more_channels_than_written_name_view_channels(qtbot, monkeypatch, boxes, tmp_path):
    bands = RNG.integers(0, 256, (14, 16, 4), np.uint8)
    grey = RNG.integers(0, 256, (14, 16), np.uint8)
    root = _bands_project(tmp_path, {"t.tif": bands, "g.png": grey})
    said = _nnunet_export_said(qtbot, monkeypatch, boxes, root, tmp_path / "Dataset012_Bands")
    assert said.startswith("Exported"), said
    assert (
        "1 case(s) have more channels than the 3 written (the first three, as models take "
        "them); choose others with View > Channels…"
    ) in said, said


def test_every_channel_written_names_view_channels(qtbot, monkeypatch, boxes, tmp_path):
    bands = {f"t{i}.tif": RNG.integers(0, 256, (14, 16, 4), np.uint8) for i in range(2)}
    root = _bands_project(tmp_path, bands)
    said = _nnunet_export_said(qtbot, monkeypatch, boxes, root, tmp_path / "Dataset013_Bands")
    assert said.startswith("Exported"), said
    assert (
        "case's 4 channels written (_0000 to _0003); the project's models take the "
        "first three, or those View > Channels… chooses (all of them: three shown and the "
        'others ticked under "Models also take")'
    ) in said, said
