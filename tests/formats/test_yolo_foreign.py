"""YOLO datasets as other tools leave them: ultralytics' YAML beside its dataset's
folder (and another dataset's beside it), class names YAML reads as numbers or
booleans, polygons that overshoot the picture a little (ultralytics' convert_coco)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fmthelpers import write_image

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.formats.base import UNLABELLED
from annotator.formats.yolo import read_yolo

SQUARE = "0 0.1 0.1 0.6 0.1 0.6 0.6 0.1 0.6"
H, W = 20, 30


def _dataset(folder: Path, line: str = SQUARE) -> Path:
    """``folder`` as a YOLO dataset without a YAML of its own: one image, one line."""
    write_image(folder / "images/train/a.png", (H, W))
    (folder / "labels/train").mkdir(parents=True)
    (folder / "labels/train/a.txt").write_text(line + "\n")
    return folder


def _yaml(f: Path, names: str, path: str | None = None) -> None:
    f.write_text((f"path: {path}\n" if path else "") + f"train: images/train\nnames: {names}\n")


def test_the_yaml_beside_a_folder_of_another_dataset_is_not_read(tmp_path, capsys):
    """``work/apples.yaml`` sorts before ``work/birds.yaml``: importing ``work/birds``
    took the apples' names (exit 0, the YAML never named)."""
    work = tmp_path / "w"
    birds = _dataset(work / "birds")
    _dataset(work / "apples")
    _yaml(work / "apples.yaml", "[apple, leaf]", "apples")
    _yaml(work / "birds.yaml", "[sparrow, crow]", "birds")
    result = read_yolo(birds)
    assert result.declared == ["sparrow", "crow"]
    assert result.notes == [f"class names read from {work / 'birds.yaml'}"]
    (item,) = result.items
    expected = np.full((H, W), UNLABELLED, np.int32)
    expected[2:13, 3:19] = 0  # (0.1..0.6 of 20 x 30: rows 2..12, columns 3..18)
    assert np.array_equal(item.mask, expected)
    # by its `path:` alone, the YAML's name unlike the folder's
    (work / "birds.yaml").rename(work / "zz-config.yaml")
    assert read_yolo(birds).declared == ["sparrow", "crow"]
    # the CLI's summary names it
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "background"]) == 0
    assert main(["import", str(project), str(birds), "--format", "yolo"]) == 0
    out = capsys.readouterr().out
    assert "classes added: sparrow, crow" in out and "zz-config.yaml" in out


def test_only_other_datasets_yamls_above_a_folder_are_refused(tmp_path):
    work = tmp_path / "w"
    birds = _dataset(work / "birds")
    _yaml(work / "apples.yaml", "[apple, leaf]", "apples")
    with pytest.raises(FormatError) as err:
        read_yolo(birds)
    message = str(err.value)
    assert "no dataset YAML of this folder" in message and "apples.yaml" in message
    assert "import the dataset's YAML itself" in message and "\n" not in message


def test_several_yamls_of_one_folder_are_refused_naming_them(tmp_path):
    work = tmp_path / "w"
    birds = _dataset(work / "birds")
    _yaml(work / "birds.yaml", "[sparrow, crow]", "birds")
    _yaml(work / "copy.yaml", "[crow, sparrow]", "birds")
    with pytest.raises(
        FormatError,
        match=r"several dataset YAMLs may name its classes \("
        r"birds\.yaml, copy\.yaml in .*\); import the dataset's YAML itself",
    ):
        read_yolo(birds)


def test_a_split_folder_reads_its_datasets_yaml_not_another_beside_it(tmp_path):
    """Roboflow's ``ds/train`` with ``ds/data.yaml`` (no ``path``); an ultralytics YAML
    whose ``path`` was written on another machine but names the dataset's folder, beside
    another dataset's YAML that sorts first."""
    ds = tmp_path / "coco8-seg"
    write_image(ds / "train/images/a.png", (H, W))
    (ds / "train/labels").mkdir(parents=True)
    (ds / "train/labels/a.txt").write_text(SQUARE + "\n")
    (ds / "data.yaml").write_text("train: ../train/images\nnames: [cell]\n")
    assert read_yolo(ds / "train").declared == ["cell"]
    (ds / "data.yaml").rename(ds / "seg.yaml")
    (ds / "seg.yaml").write_text("path: ../datasets/coco8-seg\ntrain: x\nnames: [cell]\n")
    (ds / "apples").mkdir()
    _yaml(ds / "apples.yaml", "[apple, leaf]", "apples")
    result = read_yolo(ds / "train")
    assert result.declared == ["cell"] and result.notes == [
        f"class names read from {ds / 'seg.yaml'}"
    ]
    assert (result.items[0].mask == 0).sum() == 11 * 16


def test_a_split_reads_the_data_yaml_above_it_whatever_its_path_says(tmp_path):
    """A Roboflow download's ``Proj-1/data.yaml`` keeps the ``path`` of its maker's
    machine (``/content/datasets/proj``): importing ``Proj-1/train`` was refused as
    having no YAML of its own, where it was read before."""
    ds = tmp_path / "Proj-1"
    write_image(ds / "train/images/a.png", (H, W))
    (ds / "train/labels").mkdir(parents=True)
    (ds / "train/labels/a.txt").write_text(SQUARE + "\n")
    _yaml(ds / "data.yaml", "[fg]", "/content/datasets/proj")
    assert read_yolo(ds / "train").declared == ["fg"]
    # beside a dataset folder not a split (work/birds/), such a data.yaml is no one's
    work = tmp_path / "work"
    _dataset(work / "birds")
    _yaml(work / "data.yaml", "[apple, leaf]", "/content/datasets/apples")
    with pytest.raises(FormatError, match="no dataset YAML of this folder"):
        read_yolo(work / "birds")


def test_a_folder_named_like_a_yaml_is_not_opened(tmp_path):
    work = tmp_path / "w"
    birds = _dataset(work / "birds")
    (work / "a.yaml").mkdir()
    _yaml(work / "birds.yaml", "[sparrow, crow]")
    assert read_yolo(birds).declared == ["sparrow", "crow"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("[0, 1]", ["0", "1"]),
        ("[yes, no]", ["True", "False"]),  # (as ultralytics' check_class_names says them)
        ("{0: 10, 1: 2.5}", ["10", "2.5"]),
    ],
)
def test_class_names_yaml_reads_as_numbers_are_names(tmp_path, names, expected):
    ds = _dataset(tmp_path / "ds", "1 0.1 0.1 0.6 0.1 0.6 0.6 0.1 0.6")
    (ds / "data.yaml").write_text(f"train: images/train\nnames: {names}\n")
    result = read_yolo(ds)
    assert result.declared == expected
    (item,) = result.items
    assert item.names[:2] == tuple(expected)
    assert (item.mask[2:13, 3:19] == 1).all() and (item.mask == 1).sum() == 11 * 16


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("[]", r"'names' lists no class"),
        ("[cell, null]", r"'names' has an empty class name \(class 1\)"),
        ("", r"'names' lists no class"),
        ("[cell, '']", r"'names' has an empty class name \(class 1\)"),
        ("[1, '1']", r"'names' repeats the class name '1' \(classes 0 and 1\)$"),
        # (YAML's words for booleans and none: the file's 'no' and 'off' are both False)
        ("[yes, no, off]", r"name 'False' \(classes 1 and 2\); YAML reads yes, no, on and off"),
        ("[cell, ~]", r"\(class 1\); YAML reads null and ~ as no name"),
    ],
)
def test_empty_or_missing_class_names_are_refused_saying_which(tmp_path, names, message):
    ds = _dataset(tmp_path / "ds")
    (ds / "data.yaml").write_text(f"train: images/train\nnames: {names}\n")
    with pytest.raises(FormatError, match=message):
        read_yolo(ds)


def _polygon2mask(points: list[tuple[float, float]]) -> np.ndarray:
    """The polygon (normalised ``points``) as ultralytics' ``polygon2mask`` fills it on
    the picture: float32 pixels truncated to int32, ``cv2.fillPoly`` drawing only the
    part inside the picture."""
    pix = (np.array(points, np.float32) * np.array([W, H], np.float32)).astype(np.int32)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask, [pix.reshape(-1, 1, 2)], 1)
    return mask.astype(bool)


@pytest.mark.parametrize(
    "points",
    [
        [(-0.02, 0.5), (0.5, 0.0), (0.98, 0.5), (0.5, 1.0)],  # (convert_coco's overshoot)
        [(-0.3, 0.5), (0.6, 0.1), (0.6, 0.9)],  # (its box within ultralytics' bounds)
    ],
)
def test_a_polygon_overshooting_the_picture_is_drawn_clipped_to_it(tmp_path, points):
    """ultralytics trains on a line whose box lies within -0.01..1.01, the polygon
    clipped to the picture; a vertex past -0.01 or 1.01 left the whole object out."""
    line = "0 " + " ".join(f"{v}" for xy in points for v in xy)
    ds = _dataset(tmp_path / "ds", line)
    (ds / "data.yaml").write_text("train: images/train\nnames: [cell]\n")
    result = read_yolo(ds)
    assert result.notes == [] and result.errors == []
    (item,) = result.items
    expected = np.where(_polygon2mask(points), 0, UNLABELLED)
    assert np.array_equal(item.mask, expected)
    assert expected[H // 2, 0] == 0  # (the object reaches the picture's edge)


def _square() -> np.ndarray:
    expected = np.full((H, W), UNLABELLED, np.int32)
    expected[2:13, 3:19] = 1  # (class 1: 0.1..0.6 of 20 x 30)
    return expected


def test_label_studios_yolo_export_reads_its_classes_txt(tmp_path, capsys):
    """Label Studio's YOLO export has no YAML: images/, labels/, classes.txt and
    notes.json (the import was refused, and --labels is not for YOLO)."""
    ls = tmp_path / "ls"
    write_image(ls / "images/a.png", (H, W))
    (ls / "labels").mkdir()
    (ls / "labels/a.txt").write_text("1" + SQUARE[1:] + "\n")
    (ls / "classes.txt").write_text("cat\ndog\n")
    (ls / "notes.json").write_text(
        '{"categories": [{"id": 1, "name": "dog"}, {"id": 0, "name": "cat"}], "info": {}}'
    )
    result = read_yolo(ls)
    assert result.declared == ["cat", "dog"]
    assert result.notes == [f"class names read from {ls / 'classes.txt'}"]
    assert np.array_equal(result.items[0].mask, _square())
    (ls / "classes.txt").unlink()  # notes.json alone, by its ids
    assert read_yolo(ls).declared == ["cat", "dog"]
    project = tmp_path / "P"
    assert main(["new", str(project), "--classes", "cat,dog"]) == 0
    assert main(["import", str(project), str(ls), "--format", "yolo"]) == 0
    assert "imported 1 mask(s)" in capsys.readouterr().out


def test_labelimgs_classes_txt_among_the_label_files_is_no_label_file(tmp_path):
    flat = tmp_path / "flat"
    write_image(flat / "a.png", (H, W))
    (flat / "a.txt").write_text("1" + SQUARE[1:] + "\n")
    (flat / "classes.txt").write_text("cat\ndog\n")
    result = read_yolo(flat)
    assert result.declared == ["cat", "dog"] and result.errors == []
    assert [i.image_file.name for i in result.items] == ["a.png"]


def test_cvats_yolo_1_1_export_reads_obj_names_and_skips_its_image_lists(tmp_path):
    cvat = tmp_path / "cvat"
    write_image(cvat / "obj_train_data/a.png", (H, W))
    (cvat / "obj_train_data/a.txt").write_text("1" + SQUARE[1:] + "\n")
    (cvat / "obj.names").write_text("cat\ndog\n")
    (cvat / "obj.data").write_text(
        "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n"
    )
    (cvat / "train.txt").write_text("data/obj_train_data/a.png\n")
    result = read_yolo(cvat)
    assert result.declared == ["cat", "dog"] and result.errors == []
    (item,) = result.items
    assert np.array_equal(item.mask, _square())


def test_a_class_list_with_a_blank_line_inside_is_refused(tmp_path):
    ls = _dataset(tmp_path / "ls")
    (ls / "classes.txt").write_text("cat\n\ndog\n")
    with pytest.raises(FormatError, match="line 2 is blank"):
        read_yolo(ls)
    (ls / "classes.txt").unlink()
    with pytest.raises(FormatError, match="no classes.txt or obj.names or notes.json"):
        read_yolo(ls)
