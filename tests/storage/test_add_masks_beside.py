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
    assert "found 3 mask file(s) beside the pictures and left them out of the images" in err
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


def _cityscapes(ds, cities=(("train", "aachen"), ("train", "bochum"), ("val", "frankfurt"))):
    for k, (split, city) in enumerate(cities):
        stem = f"{city}_000000_0000{k}9"
        _picture(ds / f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png", k)
        folder = ds / f"gtFine/{split}/{city}"
        _mask(folder / f"{stem}_gtFine_labelIds.png", 1)
        colours = np.zeros((12, 16, 3), np.uint8)
        colours[:] = (128, 64, 128)
        cv2.imwrite(str(folder / f"{stem}_gtFine_color.png"), colours)
        cv2.imwrite(
            str(folder / f"{stem}_gtFine_instanceIds.png"), np.full((12, 16), 26001, np.uint16)
        )


def test_a_cityscapes_tree_added_says_to_import_its_gtfine_folder(tmp_path, capsys):
    """Adding a Cityscapes tree said 'they are in 3 folders: .../gtFine/train/aachen,
    .../gtFine/train/bochum, ...', one import per city, and counted the colour and
    instance files as masks to import (each import of a city then skipped them)."""
    ds = tmp_path / "cityscapes"
    _cityscapes(ds)
    proj = str(tmp_path / "P")
    assert main(["new", proj, "--classes", "bg,road"]) == 0
    capsys.readouterr()
    assert main(["add", proj, str(ds)]) == 0
    err = capsys.readouterr().err
    assert (
        "found 9 mask file(s) beside the pictures and left them out of the images: 3 mask(s) "
        "(first: "
        "gtFine/train/aachen/aachen_000000_000009_gtFine_labelIds.png, the mask of "
        "leftImg8bit/train/aachen/aachen_000000_000009_leftImg8bit.png) and 6 colour and "
        "instance file(s) beside them, which are not labels; to import the masks as labels: "
        f"`annotator import {proj} --format masks {ds / 'gtFine'}`"
    ) in err
    assert "folders:" not in err
    command = err.split("`annotator import ")[1].split("`")[0].split()
    assert main(["import", command[0], *command[1:]]) == 0  # every mask, nothing skipped
    with Project.open(proj) as p:
        assert len(p.images()) == 3
        assert all((p.load_mask(r) == 1).all() for r in p.images())


def test_one_city_of_cityscapes_imports_without_its_colour_and_instance_files(tmp_path, capsys):
    """The folder the add names for one city held the colour and instance files beside
    the masks: its import skipped them all, exit 2."""
    ds = tmp_path / "cityscapes"
    _cityscapes(ds, cities=(("val", "lindau"),))
    proj = str(tmp_path / "P")
    assert main(["new", proj, "--classes", "bg,road"]) == 0
    capsys.readouterr()
    assert main(["add", proj, str(ds)]) == 0
    err = capsys.readouterr().err
    assert f"`annotator import {proj} --format masks {ds / 'gtFine/val/lindau'}`" in err
    assert main(["import", proj, "--format", "masks", str(ds / "gtFine/val/lindau")]) == 0
    assert main(["import", proj, "--format", "masks", str(ds)]) == 0  # the root too
    assert "skipped" not in capsys.readouterr().err


def test_the_folder_named_for_masks_in_split_folders_is_one_that_reads_them_all(tmp_path):
    from annotator.services.projects import masks_left_out_folder, masks_left_out_text

    ade = tmp_path / "ade"  # annotations/<split>/x.png: the dataset's folder reads them
    for split, seed in (("training", 0), ("validation", 1)):
        _picture(ade / f"images/{split}/x.jpg", seed)
        _mask(ade / f"annotations/{split}/x.png", 1)
    with Project.create(tmp_path / "P", LabelSchema.from_names(["bg", "cell"])) as p:
        report = p.add_images([ade])
        assert len(report.masks_left_out) == 2
        # the mask folder itself reads the masks of every split below it (each onto the
        # picture of its mirrored split folder)
        assert masks_left_out_text(report, "import FOLDER").endswith(
            f"as labels: import {ade / 'annotations'}"
        )
        offered = masks_left_out_folder(report)  # what the app's summary offers to import
        assert offered == ade / "annotations"
        report = import_into_project(p, ImportRequest("masks", offered))
        assert sorted(report.matched) == ["images/training/x.jpg", "images/validation/x.jpg"]
    voc = tmp_path / "voc"  # two masks a picture (classes, instances): the user picks
    _picture(voc / "JPEGImages/a.jpg", 2)
    for folder in ("SegmentationClass", "SegmentationObject"):
        _mask(voc / f"{folder}/a.png", 1)
    with Project.create(tmp_path / "Q", LabelSchema.from_names(["bg", "cell"])) as p:
        report = p.add_images([voc])
        assert masks_left_out_text(report, "import FOLDER").endswith(
            f"they are in 2 folders: {voc / 'SegmentationClass'}, {voc / 'SegmentationObject'}"
        )
        assert masks_left_out_folder(report) is None  # no one import: nothing offered


def test_the_suggested_import_runs_as_it_is_written_when_the_folder_holds_a_space(
    tmp_path, capsys, monkeypatch
):
    """The project was quoted for the shell and the masks folder was not: pasted, the
    command failed with "unrecognized arguments"."""
    import shlex

    monkeypatch.chdir(tmp_path)
    _picture(tmp_path / "my data/images/0.png", 1)
    _mask(tmp_path / "my data/labels/0.png", 1)
    assert main(["new", "P", "--classes", "bg,cell"]) == 0
    assert main(["add", "P", "my data"]) == 0
    err = capsys.readouterr().err
    suggested = err.split("`annotator import")[1].split("`")[0]
    assert suggested == " P --format masks 'my data/labels'"
    assert main(["import", *shlex.split(suggested)]) == 0
    assert "1 matched to project images" in capsys.readouterr().out
