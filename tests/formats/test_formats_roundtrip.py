"""Every format: project -> export -> import into a new project -> the same label maps.

Exact for masks and labelme. VOC has one ignore value, so void and unlabelled both come
back as void. COCO and YOLO have no void: void and unlabelled come back unlabelled.
Class pixels are exact everywhere (polygons included: see formats/polygons.py).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fmthelpers import CLASSES, U, V, make_project, write_image
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.formats.base import (
    UNLABELLED,
    VOID,
    ClassInfo,
    ExportDataset,
    ExportOptions,
    ExportSample,
    ImportOptions,
)
from annotator.formats.registry import FORMATS, export_formats, import_formats
from annotator.services.exchange import (
    ExportRequest,
    ImportRequest,
    export_project,
    import_into_project,
)
from annotator.storage.project import Project

CASES = [
    ("voc", "polygon"),
    ("masks", "polygon"),
    ("coco", "polygon"),
    ("coco", "rle"),
    ("labelme", "polygon"),
    ("yolo", "polygon"),
]


def expected_after(fmt: str, mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    if fmt == "voc":
        out[mask == U] = V
    elif fmt in ("coco", "yolo"):
        out[mask == V] = U
    return out


def test_every_format_can_be_exported_and_imported():
    # nnunet is export only (a training set for nnU-Net, tests/formats/test_nnunet_export.py)
    assert set(export_formats()) == {"voc", "masks", "coco", "labelme", "yolo", "nnunet"}
    assert set(import_formats()) == {"voc", "masks", "coco", "labelme", "yolo", "labelstudio"}
    assert all(FORMATS[n].description for n in FORMATS)


@pytest.mark.parametrize(("fmt", "mode"), CASES)
def test_project_round_trip_gives_back_the_label_maps(tmp_path, masks, fmt, mode):
    with make_project(tmp_path, masks) as project:
        report = export_project(
            project,
            ExportRequest(
                fmt,
                tmp_path / "out",
                split=(0.5, 0.25, 0.25),
                seed=3,
                coco_mode=mode,
                keep_background=True,
            ),
        )
    assert sum(report.counts.values()) == len(masks)
    src = tmp_path / "out"
    if fmt == "coco":
        sources = [src / f"{s}.json" for s in report.counts]
    elif fmt == "masks":
        sources = [src]
    else:
        sources = [src]
    # A map with nothing labelled after the trip (all unlabelled) is not imported: the
    # image is added to label instead of becoming "done" with nothing.
    nothing = {k for k, m in masks.items() if (expected_after(fmt, m) == U).all()}
    with Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))) as again:
        imported, unlabelled = [], []
        for s in sources:
            rep = import_into_project(again, ImportRequest(fmt, s))
            assert rep.skipped == []
            assert rep.classes_added == []
            imported += rep.imported
            unlabelled += rep.unlabelled
        assert len(imported) == len(masks) - len(nothing)
        assert {Path(n).stem for n in unlabelled} == nothing
        for rec in again.images():
            if rec.stem in nothing:
                assert rec.status.value == "new" and again.load_mask(rec) is None
                continue
            assert rec.status.value == "done"
            assert rec.label_source == f"import:{fmt}"
            got = again.load_mask(rec)
            assert np.array_equal(got, expected_after(fmt, masks[rec.stem])), rec.stem


# --- property: mask -> format -> mask, without a project -------------------------------

label_maps = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda hw: arrays(np.uint8, hw, elements=st.sampled_from([0, 1, 2, V, U]))
)


def _to_ids(item, names):
    mask = item.labels()
    out = np.full(mask.shape, U, np.uint8)
    out[mask == VOID] = V
    if item.names is None:
        cls = mask >= 0
        out[cls] = mask[cls]
    else:
        # A name the project lacks (labels.txt's _background_) must hold no pixel: 253
        # is in no expected map.
        lut = np.array([names.index(n) if n in names else 253 for n in item.names])
        cls = mask >= 0
        out[cls] = lut[mask[cls]]
    return out


@settings(max_examples=25, deadline=None)
@given(label_maps, st.sampled_from(CASES))
def test_mask_format_mask_property(mask, case):
    fmt, mode = case
    names = list(CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = write_image(tmp / "img.png", mask.shape)
        dataset = ExportDataset(
            classes=tuple(ClassInfo(i, n, "#000000") for i, n in enumerate(names)),
            void=V,
            unlabelled=U,
            dtype="uint8",
            splits={
                "train": (ExportSample("img", image, mask.shape[1], mask.shape[0], lambda: mask),)
            },
        )
        spec = FORMATS[fmt]
        spec.writer(tmp / "out", dataset, ExportOptions(coco_mode=mode), None)
        src = tmp / "out" / "train.json" if fmt == "coco" else tmp / "out"
        result = spec.reader(src, ImportOptions())
        assert result.errors == []
        (item,) = result.items
        assert (item.height, item.width) == mask.shape
        assert np.array_equal(_to_ids(item, names), expected_after(fmt, mask))


def test_masks_are_16_bit_past_254_classes(tmp_path):
    names = [f"c{i}" for i in range(300)]
    mask = np.array([[0, 299], [65534, 65535]], np.uint16)
    image = write_image(tmp_path / "img.png", mask.shape)
    dataset = ExportDataset(
        classes=tuple(ClassInfo(i, n, "#000000") for i, n in enumerate(names)),
        void=65534,
        unlabelled=65535,
        dtype="uint16",
        splits={"train": (ExportSample("img", image, 2, 2, lambda: mask),)},
    )
    FORMATS["masks"].writer(tmp_path / "out", dataset, ExportOptions(), None)
    from annotator.formats.masks import decode_mask_png

    assert decode_mask_png(tmp_path / "out/train/masks/img.png").dtype == np.uint16
    (item,) = FORMATS["masks"].reader(tmp_path / "out", ImportOptions()).items
    assert item.labels().tolist() == [[0, 299], [VOID, UNLABELLED]]


def test_coco_annotations_have_area_bbox_and_iscrowd_as_pycocotools_says(tmp_path, masks):
    """iscrowd is 0 in both modes: COCOeval ignores crowd annotations, and detectron2
    and mmdetection leave them out of training, so an RLE export with iscrowd 1 trained
    on nothing."""
    from pycocotools import mask as mask_utils

    with make_project(tmp_path, masks) as project:
        for mode, crowd in (("polygon", 0), ("rle", 0)):
            export_project(
                project,
                ExportRequest(
                    "coco", tmp_path / mode, split=(1, 0, 0), coco_mode=mode, keep_background=True
                ),
            )
            data = json.loads((tmp_path / mode / "train.json").read_text())
            assert [c["name"] for c in data["categories"]] == list(CLASSES)
            images = {im["id"]: im for im in data["images"]}
            assert data["annotations"]
            for ann in data["annotations"]:
                im = images[ann["image_id"]]
                seg = ann["segmentation"]
                if mode == "polygon":
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, im["height"], im["width"]))
                else:
                    rle = {"size": seg["size"], "counts": seg["counts"].encode()}
                assert ann["iscrowd"] == crowd
                assert ann["area"] == float(mask_utils.area(rle))
                assert ann["bbox"] == mask_utils.toBbox(rle).tolist()
                # one annotation per 8-connected region
                import cv2

                n, _ = cv2.connectedComponents(mask_utils.decode(rle), connectivity=8)
                assert n == 2


def test_voc_export_is_a_palette_png_with_255_for_void_and_unlabelled(tmp_path, masks):
    from PIL import Image

    with make_project(tmp_path, masks) as project:
        export_project(project, ExportRequest("voc", tmp_path / "voc"))
    out = tmp_path / "voc"
    assert (out / "class_names.txt").read_text().split() == list(CLASSES)
    lists = [
        (out / f"ImageSets/Segmentation/{s}.txt").read_text().split()
        for s in ("train", "val", "test")
    ]
    assert sorted(sum(lists, [])) == sorted(masks)
    with Image.open(out / "SegmentationClass/crafted.png") as im:
        assert im.mode == "P"
        values = np.asarray(im)
    assert np.array_equal(values, np.where(masks["crafted"] >= V, 255, masks["crafted"]))
    assert (out / "JPEGImages/crafted.jpg").is_file()  # what VOC loaders open


def test_yolo_writes_normalised_polygons_and_a_dataset_yaml(tmp_path, masks):
    import yaml

    with make_project(tmp_path, masks) as project:
        export_project(
            project, ExportRequest("yolo", tmp_path / "y", split=(1, 0, 0), keep_background=True)
        )
    doc = yaml.safe_load((tmp_path / "y/data.yaml").read_text())
    assert doc["names"] == dict(enumerate(CLASSES))
    assert doc["train"] == "images/train"
    lines = (tmp_path / "y/labels/train/crafted.txt").read_text().splitlines()
    assert lines
    for line in lines:
        parts = line.split()
        assert int(parts[0]) in (0, 1, 2)
        coords = np.array(parts[1:], float)
        assert coords.size >= 6 and coords.size % 2 == 0
        assert coords.min() > 0 and coords.max() < 1
    assert (tmp_path / "y/labels/train/empty.txt").read_text() == ""


def test_yolo_without_a_dataset_yaml_says_where_it_looked(tmp_path):
    from annotator.core.errors import FormatError
    from annotator.formats.yolo import read_yolo

    split = tmp_path / "data" / "train"
    (split / "labels").mkdir(parents=True)
    (split / "labels" / "a.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    with pytest.raises(FormatError) as err:
        read_yolo(split)
    message = str(err.value)
    assert message.startswith(f"{split}: no dataset YAML")
    assert "the one above it" in message


def test_yolo_names_only_the_splits_that_have_images(tmp_path, masks):
    """Except 'val', which ultralytics requires: it names the training images then."""
    import yaml

    with make_project(tmp_path, masks) as project:
        report = export_project(
            project, ExportRequest("yolo", tmp_path / "y", split=(1, 0, 0), keep_background=True)
        )
    text = (tmp_path / "y/data.yaml").read_text()
    doc = yaml.safe_load(text)
    assert report.counts.get("val", 0) == 0
    assert doc["train"] == doc["val"] == "images/train" and "test" not in doc
    assert text.startswith("# val: ")


def test_an_export_is_on_disk_before_its_rename_says_it_is_complete(tmp_path, masks, monkeypatch):
    import os

    import annotator.services.exchange as exchange

    order = []
    real_replace = os.replace
    monkeypatch.setattr(exchange.os, "sync", lambda: order.append("sync"))
    monkeypatch.setattr(
        exchange.os, "replace", lambda a, b: (order.append("rename"), real_replace(a, b))[1]
    )
    with make_project(tmp_path, masks) as project:
        export_project(project, ExportRequest("masks", tmp_path / "m"))
    assert order[order.index("sync") + 1 :] == ["rename"]  # the folder's rename, last


@pytest.mark.parametrize("fmt", ["yolo", "labelme", "coco", "voc", "masks"])
def test_tiffs_pillow_misreads_round_trip_in_every_format(tmp_path, fmt):
    """A 5-channel and a float64 TIFF: the project reads them (tifffile); a YOLO import
    took their size from Pillow's header, which refused one and turned the other."""
    import tifffile

    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    tifffile.imwrite(
        src / "c5.tif", rng.integers(0, 255, (48, 64, 5), np.uint8), photometric="minisblack"
    )
    tifffile.imwrite(src / "f64.tif", rng.random((40, 30)))
    masks = {"c5": np.zeros((48, 64), np.uint8), "f64": np.zeros((40, 30), np.uint8)}
    masks["c5"][10:30, 5:40] = 1
    masks["f64"][3:20, 4:25] = 2
    project = Project.create(tmp_path / "project", LabelSchema.from_names(list(CLASSES)))
    with project:
        project.add_images([src])
        for rec in project.images():
            project.save_mask(rec.id, masks[rec.stem], status=ImageStatus.DONE)
        export_project(
            project,
            ExportRequest(fmt, tmp_path / "out", split=(1.0, 0.0, 0.0), keep_background=True),
        )
    source = tmp_path / "out" / "train.json" if fmt == "coco" else tmp_path / "out"
    with Project.create(tmp_path / "again", LabelSchema.from_names(list(CLASSES))) as again:
        report = import_into_project(again, ImportRequest(fmt, source))
        assert report.skipped == [] and len(report.imported) == 2
        for rec in again.images():
            assert np.array_equal(again.load_mask(rec), masks[rec.stem])


def test_a_masks_source_is_read_one_mask_at_a_time(tmp_path, masks):
    """Every mask was decoded (as int32) before any was saved: 200 masks of 1024 x 1024
    peaked at 891 MB, now 77 MB. The reader keeps only what its checks found."""
    with make_project(tmp_path, masks) as project:
        export_project(project, ExportRequest("masks", tmp_path / "out", split=(1, 0, 0)))
    result = FORMATS["masks"].reader(tmp_path / "out", ImportOptions())
    assert result.items and all(item.mask is None for item in result.items)
    for item in result.items:
        labels = item.labels()
        assert labels.shape == (item.height, item.width) and labels.dtype == np.int32
        assert item.used == tuple(np.unique(labels[labels >= 0]).tolist())
