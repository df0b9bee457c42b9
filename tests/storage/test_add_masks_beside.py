"""A dataset added as it ships holds its masks beside the pictures (Roboflow's
``x_mask.png``, Cityscapes' ``gtFine/``): added as images, the masks took the labels an
import meant for the pictures, which stayed new (exit 0, "2 matched")."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.core.naming import masks_beside
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project


def _picture(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (12, 16, 3), np.uint8))


def _mask(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((12, 16), value, np.uint8))


def test_which_files_are_masks_beside_their_pictures():
    stems = [
        "x",
        "x_mask",
        "a_leftImg8bit",
        "a_gtFine_labelIds",
        "a_gtFine_color",
        "a_gtFine_instanceIds",
        "0001TP_006690",
        "0001TP_006690_L",
        "lonely_mask",  # no picture of that base: a picture of its own
        "frame_l",  # nor here
    ]
    found = masks_beside(stems)
    assert {stems[i]: stems[j] for i, j in found.items()} == {
        "x_mask": "x",
        "a_gtFine_labelIds": "a_leftImg8bit",
        "a_gtFine_color": "a_leftImg8bit",
        "a_gtFine_instanceIds": "a_leftImg8bit",
        "0001TP_006690_L": "0001TP_006690",
    }


def test_adding_a_dataset_as_it_ships_leaves_its_masks_out_and_says_so(tmp_path, capsys):
    ds = tmp_path / "ds"
    _picture(ds / "train/x.jpg", 0)
    _mask(ds / "train/x_mask.png", 1)
    _picture(ds / "leftImg8bit/train/aachen/a_leftImg8bit.png", 1)
    _mask(ds / "gtFine/train/aachen/a_gtFine_labelIds.png", 1)
    colours = np.zeros((12, 16, 3), np.uint8)
    colours[:, 8:] = (128, 64, 128)  # Cityscapes' road
    (ds / "gtFine/train/aachen/a_gtFine_color.png").parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(ds / "gtFine/train/aachen/a_gtFine_color.png"), colours)
    _picture(ds / "stereo/frame.png", 3)  # views of a stereo pair: photographs, not masks
    _picture(ds / "stereo/frame_l.png", 4)
    proj = str(tmp_path / "P")
    assert main(["new", proj, "--classes", "bg,cell"]) == 0
    assert main(["add", proj, str(ds)]) == 0
    err = capsys.readouterr().err
    assert "left out 3 mask file(s) added with their pictures" in err
    assert f"annotator import {proj} --format masks FOLDER" in err
    with Project.open(proj) as p:
        assert sorted(r.name for r in p.images()) == [
            "leftImg8bit/train/aachen/a_leftImg8bit.png",
            "stereo/frame.png",
            "stereo/frame_l.png",
            "train/x.jpg",
        ]


@pytest.mark.parametrize("source", ["ds", "again"])
def test_a_mask_added_as_an_image_never_takes_its_own_labels(tmp_path, source):
    """Added separately (or before this rule), the mask file is an image of the project:
    its labels must still go to its picture, imported from the file itself or from a
    copy of it (the dataset extracted again elsewhere)."""
    ds = tmp_path / "ds"
    _picture(ds / "x.jpg", 0)
    _mask(ds / "x_mask.png", 1)
    _mask(tmp_path / "again/x_mask.png", 1)
    with Project.create(tmp_path / "P", LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_images([ds / "x.jpg"])
        p.add_images([ds / "x_mask.png"])
        report = import_into_project(p, ImportRequest("masks", tmp_path / source))
        by_name = {r.name: r for r in p.images()}
        assert report.matched == ["x.jpg"]
        assert by_name["x.jpg"].status is ImageStatus.DONE
        assert (p.load_mask(by_name["x.jpg"]) == 1).all()
        assert p.load_mask(by_name["x_mask.png"]) is None


def test_a_cityscapes_tree_imports_from_its_gtfine_folder(tmp_path):
    """gtFine/ holds <split>/<city>/ folders of masks named x_gtFine_labelIds.png, with
    colour and instance sidecars: importing gtFine/ found "no masks"."""
    ds = tmp_path / "cityscapes"
    _picture(ds / "leftImg8bit/train/aachen/a_leftImg8bit.png", 0)
    city = ds / "gtFine/train/aachen"
    _mask(city / "a_gtFine_labelIds.png", 1)
    colours = np.zeros((12, 16, 3), np.uint8)
    colours[:] = (128, 64, 128)
    cv2.imwrite(str(city / "a_gtFine_color.png"), colours)
    cv2.imwrite(str(city / "a_gtFine_instanceIds.png"), np.full((12, 16), 26001, np.uint16))
    with Project.create(tmp_path / "P", LabelSchema.from_names(["bg", "road"])) as p:
        p.add_images([ds])
        assert [r.name for r in p.images()] == ["leftImg8bit/train/aachen/a_leftImg8bit.png"]
        report = import_into_project(p, ImportRequest("masks", ds / "gtFine"))
        assert report.matched == [p.images()[0].name] and report.skipped == []
        assert (p.load_mask(p.images()[0]) == 1).all()


def test_a_two_channel_picture_named_like_a_mask_is_judged_by_both_channels(tmp_path):
    """Two channels are no longer grey + alpha: the mask check must take (H, W, 2)."""
    import tifffile

    _picture(tmp_path / "ds" / "x.png", 0)
    two = np.zeros((2, 12, 16), np.uint8)
    two[1] = np.random.default_rng(1).integers(0, 255, (12, 16))  # a micrograph's GFP
    tifffile.imwrite(tmp_path / "ds" / "x_mask.tif", two, imagej=True, metadata={"axes": "CYX"})
    two[1] = 0
    tifffile.imwrite(tmp_path / "ds" / "y.tif", two, imagej=True, metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "ds" / "y_mask.tif", two, imagej=True, metadata={"axes": "CYX"})
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        report = project.add_images([tmp_path / "ds"])
        assert sorted(r.name for r in report.added) == ["x.png", "x_mask.tif", "y.tif"]
        assert [m for m, _ in report.masks_left_out] == [str(tmp_path / "ds" / "y_mask.tif")]
