"""A dataset added as it ships often keeps its masks in a folder of their own beside the
pictures' (ISBI's ``images/`` and ``labels/``, VOC's ``JPEGImages/`` and
``SegmentationClass/``): adding the dataset's folder added the masks as images too, 60
images for ISBI's 30 pictures. The folder's name proposes, the pixels decide."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage.project import Project


def _picture(path, seed, size=(24, 32)):
    """A photograph: random grey levels, far more than a mask's few."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 256, (*size, 3), np.uint8))


def _membranes(path, seed, size=(24, 32)):
    """An ISBI label map: 0 (membrane) and 255 (cell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), np.where(rng.random(size) < 0.3, 0, 255).astype(np.uint8))


def _isbi(root, n=3):
    for i in range(n):
        _picture(root / f"images/{i}.png", i)
        _membranes(root / f"labels/{i}.png", 100 + i)
    return root


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "P", LabelSchema.from_names(["membrane", "cell"]))
    yield p
    p.close()


def test_an_isbi_folder_adds_its_pictures_and_leaves_its_labels_out(tmp_path, project):
    ds = _isbi(tmp_path / "isbi")
    report = project.add_images([ds])
    assert sorted(r.name for r in project.images()) == [f"images/{i}.png" for i in range(3)]
    assert sorted(report.masks_left_out) == [
        (str(ds / f"labels/{i}.png"), str(ds / f"images/{i}.png")) for i in range(3)
    ]
    assert report.errors == [] and report.skipped == []


@pytest.mark.parametrize("kind", ["palette", "class ids"])
def test_a_voc_folder_leaves_its_segmentation_pngs_out(tmp_path, project, kind):
    voc = tmp_path / "VOC2012"
    values = np.zeros((24, 32), np.uint8)
    values[4:20, 6:26] = 15  # a person
    values[4, 6:26] = 255  # VOC's void border
    for stem, seed in (("2007_000032", 0), ("2007_000039", 1)):
        _picture(voc / f"JPEGImages/{stem}.jpg", seed)
        for folder in ("SegmentationClass", "SegmentationObject"):
            (voc / folder).mkdir(parents=True, exist_ok=True)
            png = Image.fromarray(np.where(values < 255, values + seed, 255).astype(np.uint8))
            if kind == "palette":  # (an L image given a palette is a P image of those indices)
                png.putpalette([c for i in range(256) for c in (i, 128 - i // 2, 255 - i)])
            png.save(voc / f"{folder}/{stem}.png")
    report = project.add_images([voc])
    assert sorted(r.name for r in project.images()) == [
        "JPEGImages/2007_000032.jpg",
        "JPEGImages/2007_000039.jpg",
    ]
    assert len(report.masks_left_out) == 4
    assert {picture for _, picture in report.masks_left_out} == {
        str(voc / "JPEGImages/2007_000032.jpg"),
        str(voc / "JPEGImages/2007_000039.jpg"),
    }
    # SegmentationObject/ holds instances, not classes: both folders are named, to pick.
    assert report.masks_text("`annotator import P --format masks FOLDER`").endswith(
        "labels: `annotator import P --format masks FOLDER`; they are in 2 folders: "
        f"{voc / 'SegmentationClass'}, {voc / 'SegmentationObject'}"
    )


def test_a_mask_named_as_one_in_a_masks_folder_is_left_out_and_its_folder_named(tmp_path, project):
    ds = tmp_path / "ds"
    _picture(ds / "images/x.png", 0)
    _membranes(ds / "masks/x_mask.png", 1)
    report = project.add_images([ds])
    assert [r.name for r in project.images()] == ["images/x.png"]
    assert report.masks_left_out == [(str(ds / "masks/x_mask.png"), str(ds / "images/x.png"))]
    assert report.masks_text("`annotator import P --format masks FOLDER`") == (
        "found 1 mask file(s) beside the pictures and left them out of the images (first: "
        "masks/x_mask.png, the mask of images/x.png); to import them as labels: "
        f"`annotator import P --format masks {ds / 'masks'}`"
    )


def test_the_pixels_decide_a_photograph_in_a_labels_folder_is_added(tmp_path, project):
    ds = tmp_path / "ds"
    _picture(ds / "images/a.png", 0)
    _picture(ds / "images/b.png", 1)
    _membranes(ds / "labels/a.png", 2)
    _picture(ds / "labels/b.png", 3)  # a photograph, whatever its folder says
    _membranes(ds / "labels/lonely.png", 4)  # no picture of its stem: a picture itself
    report = project.add_images([ds])
    assert sorted(r.name for r in project.images()) == [
        "images/a.png",
        "images/b.png",
        "labels/b.png",
        "labels/lonely.png",
    ]
    assert report.masks_left_out == [(str(ds / "labels/a.png"), str(ds / "images/a.png"))]


def test_a_labels_folder_added_alone_is_added_and_beside_its_pictures_left_out(tmp_path):
    """Nothing to pair a folder's files with when it is all that is added: its name
    counts only against the pictures of the same add (given as a folder apart, too)."""
    ds = _isbi(tmp_path / "isbi")
    schema = LabelSchema.from_names(["membrane", "cell"])
    with Project.create(tmp_path / "alone", schema) as p:
        report = p.add_images([ds / "labels"])
        assert sorted(r.name for r in p.images()) == ["0.png", "1.png", "2.png"]
        assert report.masks_left_out == []
    with Project.create(tmp_path / "both", schema) as p:
        report = p.add_images([ds / "images", ds / "labels"])
        assert sorted(p.image_path(r).resolve() for r in p.images()) == [
            (ds / f"images/{i}.png").resolve() for i in range(3)
        ]
        assert len(report.masks_left_out) == 3


def test_labels_nested_by_split_are_paired_with_the_picture_of_their_split(tmp_path, project):
    """ADE20K's ``images/training/x.jpg`` and ``annotations/training/x.png``; the same
    stem in two splits is each split's own picture."""
    ds = tmp_path / "ade"
    for split, seed in (("training", 0), ("validation", 1)):
        _picture(ds / f"images/{split}/x.jpg", seed)
        _membranes(ds / f"annotations/{split}/x.png", 10 + seed)
    report = project.add_images([ds])
    assert sorted(r.name for r in project.images()) == [
        "images/training/x.jpg",
        "images/validation/x.jpg",
    ]
    assert sorted(report.masks_left_out) == [
        (str(ds / f"annotations/{s}/x.png"), str(ds / f"images/{s}/x.jpg"))
        for s in ("training", "validation")
    ]


@pytest.mark.parametrize("splits", [("train", "val"), ("default",)])
def test_segnets_annot_folders_are_paired_with_the_folder_they_are_named_after(
    tmp_path, project, splits
):
    """SegNet's CamVid (``valannot/x.png`` is ``val/x.png``'s, not ``train/x.png``'s) and
    datumaro's (CVAT's "CamVid 1.0") ``defaultannot/`` beside ``default/``."""
    ds = tmp_path / "CamVid"
    for seed, split in enumerate(splits):
        _picture(ds / f"{split}/x.png", seed)
        _membranes(ds / f"{split}annot/x.png", 10 + seed)
    report = project.add_images([ds])
    assert sorted(r.name for r in project.images()) == [f"{s}/x.png" for s in splits]
    assert sorted(report.masks_left_out) == [
        (str(ds / f"{s}annot/x.png"), str(ds / f"{s}/x.png")) for s in splits
    ]


def test_a_label_stack_in_a_masks_folder_is_not_split(tmp_path, project):
    zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
    rng = np.random.default_rng(0)
    (tmp_path / "ds/images").mkdir(parents=True)
    (tmp_path / "ds/masks").mkdir()
    tifffile.imwrite(
        tmp_path / "ds/images/vol.tif", rng.integers(0, 255, (4, 16, 24), np.uint8), **zyx
    )
    tifffile.imwrite(tmp_path / "ds/masks/vol.tif", np.ones((4, 16, 24), np.uint8), **zyx)
    report = project.add_images([tmp_path / "ds"])
    assert len(report.added) == 4 and len(report.stacks) == 1
    assert report.masks_left_out == [
        (str(tmp_path / "ds/masks/vol.tif"), str(tmp_path / "ds/images/vol.tif"))
    ]


def test_the_cli_names_the_labels_left_out_and_the_import_that_brings_them(tmp_path, capsys):
    ds = _isbi(tmp_path / "isbi")
    proj = str(tmp_path / "P")
    assert main(["new", proj, "--classes", "membrane,cell"]) == 0
    capsys.readouterr()
    assert main(["add", proj, str(ds)]) == 0
    out, err = capsys.readouterr()
    assert "added 3 image(s), skipped 0, 0 unreadable; project has 3 image(s)" in out
    command = f"annotator import {proj} --format masks {ds / 'labels'}"
    assert (
        "found 3 mask file(s) beside the pictures and left them out of the images (first: "
        f"labels/0.png, the mask of images/0.png); to import them as labels: `{command}`"
    ) in err
    # The command said is the one that brings the labels onto the pictures.
    assert main(command.split()[1:]) == 0
    with Project.open(proj) as p:
        assert {r.status for r in p.images()} == {ImageStatus.DONE}


def test_which_files_are_masks_in_mask_folders():
    from pathlib import PurePosixPath

    from annotator.core.naming import masks_in_mask_folders

    files = [
        "/d/JPEGImages/x.jpg",
        "/d/SegmentationClass/x.png",
        "/d/SegmentationObject/X.png",
        "/d/Labels/y_mask.png",  # any case; the stem without its ending names y
        "/d/pictures/y.png",
        "/d/gt/train/z.png",  # nested below the mask folder
        "/d/pictures/train/z.png",
        "/d/pictures/val/z.png",
        "/d/masks/alone.png",  # no picture of that stem
        "/d/masks/labels.png",  # the folder's name is no stem
    ]
    found = masks_in_mask_folders([PurePosixPath(f) for f in files])
    assert {files[i]: files[j] for i, j in found.items()} == {
        "/d/SegmentationClass/x.png": "/d/JPEGImages/x.jpg",
        "/d/SegmentationObject/X.png": "/d/JPEGImages/x.jpg",
        "/d/Labels/y_mask.png": "/d/pictures/y.png",
        "/d/gt/train/z.png": "/d/pictures/train/z.png",
    }
    # The folder that holds them all is no mask folder: a labels/ folder added alone.
    alone = [PurePosixPath(f"/d/labels/{s}.png") for s in ("a", "b")]
    assert masks_in_mask_folders(alone) == {}
    mixed = [PurePosixPath("/d/labels/images/a.png"), PurePosixPath("/d/labels/gt/a.png")]
    assert masks_in_mask_folders(mixed) == {1: 0}


def test_a_mask_folder_name_above_the_dataset_does_not_hide_its_pictures(tmp_path):
    """Found by an audit: the slices of a stack split in the same add lie in the
    project, so the folder shared by every file moved up to one named segmentation/."""
    import tifffile

    ds = tmp_path / "segmentation" / "em"
    (ds / "images").mkdir(parents=True)
    (ds / "labels").mkdir()
    rng = np.random.default_rng(4)
    cv2.imwrite(str(ds / "images/a.png"), rng.integers(0, 255, (32, 32), dtype=np.uint8))
    cv2.imwrite(str(ds / "labels/a.png"), (rng.random((32, 32)) > 0.5).astype(np.uint8))
    tifffile.imwrite(
        ds / "images/vol.tif",
        rng.integers(0, 255, (12, 32, 32), dtype=np.uint8),
        imagej=True,
        metadata={"axes": "ZYX"},
    )
    with Project.create(tmp_path / "P", LabelSchema.from_names(["bg", "fg"])) as project:
        report = project.add_images([ds])
        names = [r.name for r in report.added]
        assert "images/a.png" in names and "labels/a.png" not in names
        assert len(names) == 13
        assert [m for m, _ in report.masks_left_out] == [str(ds / "labels/a.png")]


def test_jpeg_masks_the_import_cannot_read_are_not_left_out(tmp_path):
    ds = tmp_path / "kvasir"
    (ds / "images").mkdir(parents=True)
    (ds / "masks").mkdir()
    rng = np.random.default_rng(5)
    cv2.imwrite(str(ds / "images/a.jpg"), rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    cv2.imwrite(str(ds / "masks/a.jpg"), np.zeros((32, 32), np.uint8))
    with Project.create(tmp_path / "P", LabelSchema.from_names(["bg", "fg"])) as project:
        report = project.add_images([ds])
        assert report.masks_left_out == []  # no import would read it: not promised
        assert len(report.added) == 2


@pytest.mark.parametrize("layout", ["split", "sites"])
def test_labels_left_out_import_onto_their_own_pictures_when_stems_repeat(tmp_path, layout, capsys):
    """Found by an audit: images/train/0.png and images/val/0.png; the add left out
    labels/train/0.png and labels/val/0.png and named their folders, but importing
    them skipped every file ("matches several project images")."""
    ds = tmp_path / "ds"
    rng = np.random.default_rng(6)
    folders = (
        [("images/train", "labels/train"), ("images/val", "labels/val")]
        if layout == "split"
        else [("s1/images", "s1/labels"), ("s2/images", "s2/labels")]
    )
    truth = {}
    for pictures, labels in folders:
        (ds / pictures).mkdir(parents=True)
        (ds / labels).mkdir(parents=True)
        for stem in ("0", "1"):
            cv2.imwrite(str(ds / pictures / f"{stem}.png"), rng.integers(0, 255, (24, 24)))
            mask = (rng.random((24, 24)) > 0.5).astype(np.uint8)
            cv2.imwrite(str(ds / labels / f"{stem}.png"), mask)
            truth[f"{pictures}/{stem}.png"] = mask
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,fg"]) == 0
    assert main(["add", str(proj), str(ds)]) == 0
    assert "found 4 mask file(s) beside the pictures and left them out" in capsys.readouterr().err
    for _, labels in folders:
        assert main(["import", str(proj), "--format", "masks", str(ds / labels)]) == 0
    with Project.open(proj) as project:
        records = project.images()
        assert sorted(r.name for r in records) == sorted(truth)
        for rec in records:
            assert np.array_equal(project.load_mask(rec), truth[rec.name]), rec.name


def test_which_picture_a_mask_mirrors():
    from pathlib import PurePosixPath as P

    from annotator.core.naming import mirrored

    pictures = [P("/d/images/train/0.png"), P("/d/images/val/0.png")]
    assert mirrored(P("/d/labels/val/0.png"), pictures) == 1
    assert mirrored(P("/d/labels/train/0.png"), pictures) == 0
    assert mirrored(P("/elsewhere/0.png"), pictures) is None  # nothing says which
    assert mirrored(P("/d/labels/0.png"), pictures) is None  # both as near
    assert mirrored(P("/d/s1/masks/x.png"), [P("/d/s2/images/x.png"), P("/d/s1/x.png")]) == 1
    # Found by an audit, each once put on the wrong image: an export's split folder is
    # no dataset's, a folder named alike in another dataset is not this one's, and a
    # folder named val outside the dataset is not its val/.
    project = [P("/w/data/test/images/0.png"), P("/w/data/train/images/0.png")]
    assert mirrored(P("/w/out/train/masks/0.png"), project) is None
    other = [P("/w/A/images/train/0.png"), P("/w/B/images/val/0.png")]
    assert mirrored(P("/w/A/labels/val/0.png"), other) is None
    assert mirrored(P("/x/ext/val/0.png"), pictures) is None
    segnet = [P("/c/train/0001.png"), P("/c/test/0001.png")]
    assert mirrored(P("/c/testannot/0001.png"), segnet) == 1
