"""The hint of an import that found nothing of its format, on datasets as other tools
download them: the VOC tarball's ``VOCdevkit/`` (its masks lie in ``VOC2012/``), CVAT's
``images/`` of photos beside ``annotations/``, a Roboflow COCO download's three splits, a
Label Studio export given as COCO; and DeepLab's ``SegmentationClassAug/``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmthelpers import CLASSES, write_image
from PIL import Image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.base import VOID, ImportOptions
from annotator.formats.voc import read_voc
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project


def _import_error(tmp_path: Path, src: Path, fmt: str) -> str:
    project = Project.create(tmp_path / "p", LabelSchema.from_names(list(CLASSES)))
    with project, pytest.raises(FormatError) as err:
        import_into_project(project, ImportRequest(format=fmt, src=src))
    return str(err.value)


def _voc_mask(path: Path) -> np.ndarray:
    """A VOC palette mask: class 1 in a square, VOC's 255 border around it."""
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:10] = 1
    m[4, 4:11] = 255
    img = Image.fromarray(m, "P")
    img.putpalette([0, 0, 0, 128, 0, 0] + [0] * (3 * 253) + [224, 224, 192])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return m


def _vocdevkit(tmp_path: Path) -> Path:
    """``VOCdevkit/VOC2012/{JPEGImages,SegmentationClass}`` as VOC's tarball extracts."""
    root = tmp_path / "VOCdevkit"
    write_image(root / "VOC2012/JPEGImages/2007_000032.jpg", (20, 30, 3))
    _voc_mask(root / "VOC2012/SegmentationClass/2007_000032.png")
    return root


@pytest.mark.parametrize("fmt", ["voc", "coco", "masks"])
def test_the_voc_download_root_names_its_voc_folder(tmp_path, fmt):
    """``VOCdevkit --format voc`` said "it looks like a masks dataset: import it with
    --format masks", which then found none of the pictures."""
    from annotator.formats.detect import format_hint

    root = _vocdevkit(tmp_path)
    hint = f"; VOC2012/ holds a VOC dataset: import {root / 'VOC2012'} with --format voc"
    assert format_hint(root, fmt) == hint
    if fmt != "masks":  # (the masks import reads VOC2012's masks, without pictures)
        message = _import_error(tmp_path, root, fmt)
        assert message.endswith(hint) and "masks" not in message, message


def test_a_folder_of_photos_is_not_called_a_masks_dataset(tmp_path):
    """CVAT's COCO download: ``annotations/`` of COCO beside ``images/`` of PNG photos;
    the hint said "images/ holds a masks dataset"."""
    ds = tmp_path / "ds"
    (ds / "annotations").mkdir(parents=True)
    rng = np.random.default_rng(0)
    (ds / "images").mkdir()
    cv2.imwrite(str(ds / "images/b.png"), rng.integers(0, 255, (40, 50, 3), np.uint8))
    doc = {
        "images": [{"id": 1, "file_name": "b.png", "width": 50, "height": 40}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [],
    }
    (ds / "annotations/instances_default.json").write_text(json.dumps(doc))
    # (a COCO import of ds reads its annotations/ itself: tests/formats/test_pictures_of_annotations.py)
    message = _import_error(tmp_path, ds, "yolo")
    assert message.endswith(
        f"; annotations/ holds COCO: import {ds / 'annotations'} with --format coco"
    ), message
    assert "masks" not in message
    # a folder of masks is still one
    mask = np.zeros((40, 50), np.uint8)
    mask[5:20, 5:20] = 1
    cv2.imwrite(str(ds / "images/b.png"), mask)
    from annotator.formats.detect import format_hint

    assert f"; images/ holds a masks dataset: import {ds / 'images'}" in format_hint(ds, "coco")


def test_every_split_of_a_roboflow_coco_download_is_named(tmp_path):
    """train/ valid/ test/, each with its _annotations.coco.json: valid/ was not named."""
    root = tmp_path / "rf"
    doc = {"images": [], "categories": [{"id": 0, "name": "x"}], "annotations": []}
    for split in ("train", "valid", "test"):
        (root / split).mkdir(parents=True)
        (root / split / "_annotations.coco.json").write_text(json.dumps(doc))
    message = _import_error(tmp_path, root, "coco")
    for split in ("test", "train", "valid"):
        assert f"{split}/ holds COCO: import {root / split} with --format coco" in message
    assert "\n" not in message


def test_many_dataset_folders_are_named_up_to_a_few(tmp_path):
    from annotator.formats.detect import format_hint

    doc = {"images": [], "categories": [], "annotations": []}
    for k in range(7):
        (tmp_path / f"s{k}").mkdir()
        (tmp_path / f"s{k}/a.json").write_text(json.dumps(doc))
    hint = format_hint(tmp_path, "masks")
    assert hint.count("holds COCO") == 5 and hint.endswith(
        "; and more of its folders hold datasets"
    )


def test_a_label_studio_export_given_as_coco_names_label_studio(tmp_path):
    """The other formats said "it looks like a Label Studio export"; COCO only said the
    top level is not an object."""
    export = tmp_path / "ls" / "project-1-at-2024.json"
    export.parent.mkdir()
    tasks = [{"id": 1, "data": {"image": "/data/upload/a.png"}, "annotations": []}]
    export.write_text(json.dumps(tasks))
    for src in (export, export.parent):
        message = _import_error(tmp_path / src.name, src, "coco")
        assert "not a COCO file (the top level is not an object)" in message
        assert message.endswith(
            "; it looks like a Label Studio export: import it with --format labelstudio"
        ), message


def test_deeplabs_segmentation_class_aug_is_read_as_voc(tmp_path):
    """The augmented VOC set (SBD's masks as DeepLab ships them) keeps its masks in
    ``SegmentationClassAug/``: not a VOC folder, said the import."""
    root = tmp_path / "VOC2012"
    write_image(root / "JPEGImages/a.jpg", (20, 30, 3))
    m = _voc_mask(root / "SegmentationClassAug/a.png")
    expected = np.where(m == 255, VOID, m.astype(np.int32))
    for src in (root, root / "SegmentationClassAug"):
        result = read_voc(src, ImportOptions())
        (item,) = result.items
        assert item.image_file == root / "JPEGImages/a.jpg"
        assert np.array_equal(item.labels(), expected)
    # beside VOC's own folder, VOC's is read and the summary names the other
    other = np.zeros((20, 30), np.uint8)
    Image.fromarray(other, "L").save(root / "a.png")
    (root / "SegmentationClass").mkdir()
    (root / "a.png").rename(root / "SegmentationClass/a.png")
    result = read_voc(root, ImportOptions())
    assert (result.items[0].labels() == 0).all()
    assert result.notes[0] == (
        "read the masks of SegmentationClass/, not those of SegmentationClassAug/ beside it: "
        f"import {root / 'SegmentationClassAug'} to read those"
    )
