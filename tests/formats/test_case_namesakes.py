"""A picture found in other letters' case (``X.JPG`` for ``x``) is never another label
file's own: with ``labels/A.png`` and ``labels/a.png`` beside one picture ``a.png``,
``A``'s labels landed on it and its own were refused (masks, YOLO and labelme alike);
and a source's own two images ``Case.png`` and ``case.png`` are not said to be
namesakes of each other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

H = W = 16


def _picture(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (H, W), np.uint8)).save(path)


def _rows(project: Project) -> dict[str, int]:
    """Per image, how many rows hold class 1 (each label file labels its own count)."""
    out = {}
    for r in project.images():
        mask = project.load_mask(r)
        out[r.name] = -1 if mask is None else int((mask == 1).any(axis=1).sum())
    return out


def _masks(ds: Path) -> Path:
    _picture(ds / "images" / "a.png", 1)
    for name, rows in (("A", 1), ("a", 2)):
        m = np.zeros((H, W), np.uint8)
        m[:rows] = 1
        (ds / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(ds / "labels" / f"{name}.png")
    return ds / "labels"


def _yolo(ds: Path) -> Path:
    _picture(ds / "images" / "a.png", 1)
    (ds / "labels").mkdir(parents=True)
    for name, rows in (("A", 1), ("a", 2)):  # a box of `rows` rows from the top
        y = rows / H
        (ds / "labels" / f"{name}.txt").write_text(f"0 0 0 1 0 1 {y} 0 {y}\n")
    (ds / "data.yaml").write_text("names: [fg]\n")
    return ds


def _labelme(ds: Path) -> Path:
    _picture(ds / "a.png", 1)
    for name, rows in (("A", 1), ("a", 2)):
        shape = {
            "label": "fg",
            "points": [[0, 0], [W - 1, 0], [W - 1, rows - 1], [0, rows - 1]],
            "shape_type": "polygon",
        }
        doc = {
            "shapes": [shape],
            "imagePath": f"{name}.png",
            "imageData": None,
            "imageHeight": H,
            "imageWidth": W,
        }
        (ds / f"{name}.json").write_text(json.dumps(doc))
    return ds


@pytest.mark.parametrize(
    ("fmt", "make", "own"),
    # (a's rows: YOLO's polygon to y = 2/16 fills row 2 too, as ultralytics draws it)
    [("masks", _masks, 2), ("yolo", _yolo, 3), ("labelme", _labelme, 2)],
)
def test_a_picture_in_other_case_is_not_taken_from_its_own_label_file(tmp_path, fmt, make, own):
    src = make(tmp_path / "ds")
    schema = LabelSchema.from_names(["bg", "fg"] if fmt != "yolo" else ["fg"])
    with Project.create(tmp_path / "p", schema) as project:
        report = import_into_project(project, ImportRequest(fmt, src))
        fg = project.schema.by_name("fg").id
        rows = {}
        for r in project.images():
            mask = project.load_mask(r)
            rows[r.name] = int((mask == fg).any(axis=1).sum())
        assert rows == {"a.png": own}  # its own labels, never A's
        assert len(report.skipped) == 1 and "A" in Path(report.skipped[0][0]).stem


def test_a_sources_images_differing_in_case_are_not_called_namesakes(tmp_path):
    ds = tmp_path / "ds"
    for name, seed in (("Case", 1), ("case", 2)):
        _picture(ds / "images" / f"{name}.png", seed)
        m = np.zeros((H, W), np.uint8)
        m[:seed] = 1
        (ds / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(m).save(ds / "masks" / f"{name}.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "fg"])) as project:
        report = import_into_project(project, ImportRequest("masks", ds))
        assert sorted(report.added) == ["Case.png", "case.png"] and not report.namesakes
        assert _rows(project) == {"Case.png": 1, "case.png": 2}
