"""``export --leave-out`` / ``--keep-background``: the object formats (COCO, YOLO,
labelme) write the project's background class as no objects by default (an object
covering the whole image trains detectors on nothing), and any class given."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from fmthelpers import U, make_project

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ExportRequest, export_project
from annotator.storage.project import Project

BG_NOTE = "class 'background' written as no objects (--keep-background to write it)"


def _masks() -> dict[str, np.ndarray]:
    a = np.zeros((20, 24), np.uint8)  # background all over, a cell and a nucleus
    a[3:9, 4:12] = 1
    a[12:17, 14:20] = 2
    b = np.zeros((10, 12), np.uint8)  # only background
    return {"a": a, "b": b}


def _coco(out) -> dict:
    return json.loads((out / "train.json").read_text())


def test_coco_leaves_the_background_out_by_default_and_keeps_the_category_ids(tmp_path):
    project = make_project(tmp_path, _masks())
    report = export_project(project, ExportRequest("coco", tmp_path / "out", split=(1, 0, 0)))
    doc = _coco(tmp_path / "out")
    assert [(c["id"], c["name"]) for c in doc["categories"]] == [(2, "cell"), (3, "nucleus")]
    assert sorted(a["category_id"] for a in doc["annotations"]) == [2, 3]
    assert any(n.startswith(BG_NOTE) and "class id + 1" in n for n in report.notes)
    kept = ExportRequest("coco", tmp_path / "kept", split=(1, 0, 0), keep_background=True)
    report = export_project(project, kept)
    doc = _coco(tmp_path / "kept")
    assert [c["id"] for c in doc["categories"]] == [1, 2, 3]
    assert sorted(a["category_id"] for a in doc["annotations"]) == [1, 1, 2, 3]
    assert not any("no objects" in n for n in report.notes)
    # a class 0 not named like a background is written
    project = make_project(tmp_path / "r", _masks(), classes=("road", "car", "person"))
    report = export_project(project, ExportRequest("coco", tmp_path / "road", split=(1, 0, 0)))
    assert [c["name"] for c in _coco(tmp_path / "road")["categories"]] == ["road", "car", "person"]
    assert not any("no objects" in n for n in report.notes)


def test_yolo_writes_no_line_of_the_background_and_keeps_the_project_ids(tmp_path):
    project = make_project(tmp_path, _masks())
    report = export_project(project, ExportRequest("yolo", tmp_path / "out", split=(1, 0, 0)))
    lines = (tmp_path / "out/labels/train/a.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == ["1", "2"]
    assert (tmp_path / "out/labels/train/b.txt").read_text() == ""
    assert "0: background" in (tmp_path / "out/data.yaml").read_text()
    assert any(n.startswith(BG_NOTE) for n in report.notes)


def test_labelme_writes_no_background_shape_and_its_import_gives_it_back(tmp_path):
    masks = _masks()
    project = make_project(tmp_path, masks)
    report = export_project(project, ExportRequest("labelme", tmp_path / "out", split=(1, 0, 0)))
    doc = json.loads((tmp_path / "out/train/a.json").read_text())
    assert {s["label"] for s in doc["shapes"]} == {"cell", "nucleus"}
    assert any(n.startswith(BG_NOTE) for n in report.notes)
    schema = LabelSchema.from_names(["background", "cell", "nucleus"])
    Project.create(tmp_path / "again", schema).close()
    assert (
        main(["import", str(tmp_path / "again"), str(tmp_path / "out"), "--format", "labelme"]) == 0
    )
    with Project.open(tmp_path / "again") as again:
        for rec in again.images():
            assert np.array_equal(again.load_mask(rec), masks[rec.stem])


def test_labelme_says_when_unlabelled_pixels_lie_beside_the_background(tmp_path):
    a = _masks()["a"]
    a[0:2, 0:2] = U
    project = make_project(tmp_path, {"a": a})
    report = export_project(project, ExportRequest("labelme", tmp_path / "out", split=(1, 0, 0)))
    assert any(
        n.startswith("1 image(s) hold unlabelled pixels beside pixels of 'background'")
        for n in report.notes
    )


@pytest.mark.parametrize("name", ["BG", "_background_", "Background"])
def test_background_names_in_any_case_are_left_out(tmp_path, name):
    project = make_project(tmp_path, _masks(), classes=(name, "cell", "nucleus"))
    export_project(project, ExportRequest("coco", tmp_path / "out", split=(1, 0, 0)))
    assert [c["id"] for c in _coco(tmp_path / "out")["categories"]] == [2, 3]


def test_cli_leave_out_adds_to_the_background_left_out_by_default(tmp_path, capsys):
    make_project(tmp_path, _masks()).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "out"), "--format", "coco"]
    assert main([*args, "--split", "1,0,0", "--leave-out", "2"]) == 0
    text = capsys.readouterr().out
    assert BG_NOTE in text
    assert "class(es) 'nucleus' written as no objects (--leave-out)" in text
    doc = _coco(tmp_path / "out")
    assert [c["id"] for c in doc["categories"]] == [2]
    assert {a["category_id"] for a in doc["annotations"]} == {2}


def test_cli_leave_out_with_keep_background_writes_the_background(tmp_path, capsys):
    make_project(tmp_path, _masks()).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "out"), "--format", "coco"]
    assert main([*args, "--split", "1,0,0", "--leave-out", "cell,2", "--keep-background"]) == 0
    text = capsys.readouterr().out
    assert "class(es) 'cell', 'nucleus' written as no objects (--leave-out)" in text
    assert "'background' written as no objects" not in text
    doc = _coco(tmp_path / "out")
    assert [c["id"] for c in doc["categories"]] == [1]
    assert {a["category_id"] for a in doc["annotations"]} == {1}


def test_leaving_out_every_class_is_refused_in_one_line(tmp_path, capsys):
    make_project(tmp_path, _masks()).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "out"), "--format", "yolo"]
    assert main([*args, "--leave-out", "cell,nucleus"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("every class is left out: nothing would be written")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["voc", "masks", "nnunet"])
def test_cli_refuses_leave_out_where_every_pixel_is_written(tmp_path, capsys, fmt):
    make_project(tmp_path, _masks()).close()
    args = ["export", str(tmp_path / "project"), str(tmp_path / "out"), "--format", fmt]
    assert main([*args, "--leave-out", "background"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"a {fmt} export writes every pixel's class" in err
    assert not (tmp_path / "out").exists()
    assert main([*args, "--keep-background"]) != 0
    assert "--keep-background is for coco, yolo, labelme" in capsys.readouterr().err


def test_an_unknown_class_to_leave_out_is_refused_naming_the_classes(tmp_path):
    project = make_project(tmp_path, _masks())
    request = ExportRequest("yolo", tmp_path / "out", leave_out=("dog",))
    with pytest.raises(
        FormatError, match="no such class; its classes are 0 'background', 1 'cell'"
    ):
        export_project(project, request)
    assert not (tmp_path / "out").exists()


def test_a_word_that_is_one_class_s_name_and_another_s_id_is_refused(tmp_path):
    """``--leave-out 1`` left out the class named '1' and wrote class 1 ('cell'), where
    the classes command refuses the same word as ambiguous; ``id:N`` names an id."""
    masks = _masks()
    masks["a"][0, 0] = 3  # a pixel of the class named "1"
    schema = LabelSchema.from_names(["background", "cell", "nucleus", "1"])
    with Project.create(tmp_path / "P", schema) as project:
        images = tmp_path / "pics"
        images.mkdir()
        for stem, mask in masks.items():
            cv2.imwrite(str(images / f"{stem}.png"), np.zeros(mask.shape, np.uint8))
        project.add_images([images])
        for rec in project.images():
            project.save_mask(rec.id, masks[rec.stem])
        request = ExportRequest("yolo", tmp_path / "out", leave_out=("1",), include="all")
        with pytest.raises(FormatError, match="'1' is both the name of class 3 and the id of"):
            export_project(project, request)
        for word, gone in (("id:1", 1), ("id:3", 3), ("CELL", 1)):
            out = tmp_path / f"out-{word.replace(':', '')}"
            one = ExportRequest("yolo", out, leave_out=(word,), include="all", split=(1, 0, 0))
            export_project(project, one)
            lines = (out / "labels" / "train" / "a.txt").read_text().splitlines()
            assert gone not in {int(x.split()[0]) for x in lines}


def test_a_class_whose_name_holds_a_comma_is_told_to_be_named_by_its_id(tmp_path, capsys):
    """--leave-out 'x,y' split the class 'x,y' into two unknown names, and the refusal
    listed the classes unquoted: 'x,y' read as two of them."""
    proj = str(tmp_path / "P")
    assert main(["new", proj, "--classes", "bg"]) == 0
    assert main(["classes", proj, "--add", "x,y"]) == 0
    capsys.readouterr()
    out = str(tmp_path / "out")
    assert main(["export", proj, out, "--format", "coco", "--leave-out", "x,y"]) != 0
    err = capsys.readouterr().err
    assert "its classes are 0 'bg', 1 'x,y'" in err
    assert (
        "the class 'x,y' holds a comma, which separates the classes listed: name it by its id, id:1"
        in err
    )
