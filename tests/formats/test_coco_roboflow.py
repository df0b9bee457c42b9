"""Roboflow's COCO export: a category 0 named after the dataset (``supercategory``
"none"), the supercategory of every other category and used by no annotation. It became
a project class no pixel holds, and ``--strict`` refused a project holding exactly the
dataset's classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fmthelpers import U, write_image

from annotator.core.schema import LabelSchema
from annotator.formats.coco import read_coco
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

PARENT = {"id": 0, "name": "cells-X4f", "supercategory": "none"}
CATEGORIES = [
    PARENT,
    {"id": 1, "name": "nucleus", "supercategory": "cells-X4f"},
    {"id": 2, "name": "mito", "supercategory": "cells-X4f"},
]


def _split(folder: Path, categories: list[dict], used: tuple[int, ...] = (1, 2)) -> None:
    """A Roboflow split: a picture and ``_annotations.coco.json``, one square a category."""
    write_image(folder / "a.jpg", (20, 30, 3))
    squares = {1: [2, 2, 10, 2, 10, 10, 2, 10], 2: [14, 4, 24, 4, 24, 16, 14, 16]}
    squares[0] = [26, 16, 29, 16, 29, 19, 26, 19]
    annotations = [
        {"id": k + 1, "image_id": 0, "category_id": c, "segmentation": [squares[c]], "iscrowd": 0}
        for k, c in enumerate(used)
    ]
    doc = {
        "images": [{"id": 0, "file_name": "a.jpg", "width": 30, "height": 20}],
        "categories": categories,
        "annotations": annotations,
    }
    (folder / "_annotations.coco.json").write_text(json.dumps(doc))


def _expected(classes: dict[int, int]) -> np.ndarray:
    """pycocotools' pixels of the squares of categories ``classes`` (category: class)."""
    from pycocotools import mask as mask_utils

    squares = {1: [2, 2, 10, 2, 10, 10, 2, 10], 2: [14, 4, 24, 4, 24, 16, 14, 16]}
    out = np.full((20, 30), U, np.uint8)
    for cat, cls in classes.items():
        rle = mask_utils.frPyObjects([squares[cat]], 20, 30)
        out[mask_utils.decode(rle)[..., 0].astype(bool)] = cls
    return out


def test_the_unused_parent_category_is_no_class_and_strict_imports(tmp_path):
    ds = tmp_path / "ds"
    _split(ds / "train", CATEGORIES)
    _split(ds / "valid", CATEGORIES)
    result = read_coco(ds / "train")
    assert result.declared == ["nucleus", "mito"]
    assert result.notes == [
        "left out the category 'cells-X4f': no annotation uses it and it is the "
        "supercategory of all the others (Roboflow's dataset category), not a class"
    ]
    project = Project.create(
        tmp_path / "p", LabelSchema.from_names(["background", "nucleus", "mito"])
    )
    with project:
        report = import_into_project(
            project, ImportRequest(format="coco", src=ds / "train", strict=True)
        )
        assert report.classes_added == [] and project.schema.names == [
            "background",
            "nucleus",
            "mito",
        ]
        assert report.notes.count(result.notes[0]) == 1
        (record,) = project.images()
        assert np.array_equal(project.load_mask(record), _expected({1: 1, 2: 2}))

    # a parent category some annotation uses stays a class
    _split(tmp_path / "a", CATEGORIES, used=(0, 1, 2))
    assert read_coco(tmp_path / "a").declared == ["cells-X4f", "nucleus", "mito"]
    # not every other category under it: no parent, every category a class
    cats = [PARENT, CATEGORIES[1], {"id": 2, "name": "mito", "supercategory": "organelle"}]
    _split(tmp_path / "b", cats)
    result = read_coco(tmp_path / "b")
    assert result.declared == ["cells-X4f", "nucleus", "mito"] and result.notes == []
