"""An object of a COCO, labelme or YOLO source that cannot be drawn (a polygon of two
points, RLE whose counts do not add up, an unknown shape type, a YOLO line of odd
coordinates) is left out and named in one line of the summary, the rest of its image and
of the source imported; a source none of whose objects can be drawn is refused, and so
are the source's structural faults, as before. Where the pixels no object covers would
become the background class, an image with an object left out keeps them unlabelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmthelpers import CLASSES, U, write_image

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportReport, ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 20, 30
BG, CELL, NUCLEUS = 0, 1, 2
SQUARE = [3.0, 2.0, 15.0, 2.0, 15.0, 10.0, 3.0, 10.0]  # x 3..14, y 2..9 (corner convention)
INSIDE, OUTSIDE = (5, 8), (15, 25)  # (row, column) in and out of SQUARE


def _import(tmp_path: Path, fmt: str, src: Path, **kw) -> tuple[ImportReport, dict]:
    """Import ``src`` into a new project of CLASSES: the report, and each image's label
    map by name."""
    with Project.create(tmp_path / "project", LabelSchema.from_names(list(CLASSES))) as project:
        report = import_into_project(project, ImportRequest(fmt, src, **kw))
        maps = {rec.name: project.load_mask(rec) for rec in project.images()}
    return report, maps


def _refused(tmp_path: Path, fmt: str, src: Path, match: str) -> None:
    with Project.create(tmp_path / "project", LabelSchema.from_names(list(CLASSES))) as project:
        with pytest.raises(FormatError, match=match):
            import_into_project(project, ImportRequest(fmt, src))
        assert project.images() == []  # nothing added


def _left_out_line(report: ImportReport) -> str:
    (line,) = [n for n in report.notes if n.startswith("left out")]
    return line


# --- COCO -------------------------------------------------------------------------------


def _coco(folder: Path, annotations: list[dict], name: str = "train.json", cats=None) -> Path:
    for seed, stem in enumerate(("a", "b")):
        write_image(folder / "images" / f"{stem}.png", (H, W), seed=seed)
    doc = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": W, "height": H},
            {"id": 2, "file_name": "b.png", "width": W, "height": H},
        ],
        "categories": cats or [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}],
        "annotations": [{"iscrowd": 0, **a} for a in annotations],
    }
    (folder / name).write_text(json.dumps(doc))
    return folder


def _ann(aid: int, image: int, cat: int, seg) -> dict:
    return {"id": aid, "image_id": image, "category_id": cat, "segmentation": seg}


BAD_COCO = [
    ([[1, 1, 5, 5]], "polygon 0 must be a flat list of at least 3 x,y pairs"),
    ([], "empty polygon list"),
    ("not a segmentation", "segmentation must be polygons or RLE, got str"),
    ([[1, 1, 5e9, 5, 3, 3e9]], "polygon 0 has coordinates far outside the image"),
    ({"size": [H, W], "counts": [3, 4]}, f"RLE counts sum to 7, not {H * W}"),
    ({"size": [H, W], "counts": "!!"}, "RLE string has the character '!'"),
    ({"size": [10, 10], "counts": [100]}, "RLE size [10, 10] is not the image size"),
]


@pytest.mark.parametrize(("seg", "why"), BAD_COCO)
def test_a_coco_annotation_that_cannot_be_drawn_is_left_out_and_named(tmp_path, seg, why):
    src = _coco(
        tmp_path / "coco",
        [_ann(5, 1, 1, [SQUARE]), _ann(7, 1, 2, seg), _ann(8, 2, 2, [SQUARE])],
    )
    report, maps = _import(tmp_path, "coco", src)
    assert maps["a.png"][INSIDE] == CELL and maps["b.png"][INSIDE] == NUCLEUS
    assert maps["a.png"][OUTSIDE] == U
    line = _left_out_line(report)
    assert line.startswith("left out 1 object(s) that cannot be drawn, on 1 image(s)")
    assert f"annotation id 7 of a.png ({why}" in line
    assert "annotations[" not in line and str(src) not in line  # named once, briefly


def test_the_coco_summary_names_the_first_three_and_counts_the_rest(tmp_path, capsys):
    bad = [_ann(10 + k, 1 + k % 2, 1, seg) for k, (seg, _) in enumerate(BAD_COCO[:5])]
    src = _coco(tmp_path / "coco", [_ann(1, 1, 1, [SQUARE]), *bad])
    root = tmp_path / "p"
    assert main(["new", str(root), "--classes", ",".join(CLASSES)]) == 0
    capsys.readouterr()
    assert main(["import", str(root), "--format", "coco", str(src)]) == 0
    out = capsys.readouterr().out
    (line,) = [x.strip() for x in out.splitlines() if "cannot be drawn" in x]
    assert line.startswith("left out 5 object(s) that cannot be drawn, on 2 image(s)")
    # (image by image: a.png's 10, 12 and 14, then b.png's 11 and 13)
    assert all(f"annotation id {k} of a.png" in line for k in (10, 12, 14))
    assert "annotation id 11" not in line and line.endswith("; and 2 more")


def test_coco_background_stays_unlabelled_on_an_image_with_an_object_left_out(tmp_path):
    """The source's ``_background_`` category fills what no annotation covers, but not on
    an image whose annotation left out may lie there."""
    cats = [
        {"id": 1, "name": "cell"},
        {"id": 2, "name": "nucleus"},
        {"id": 3, "name": "_background_"},
    ]
    src = _coco(
        tmp_path / "coco",
        [_ann(1, 1, 1, [SQUARE]), _ann(2, 1, 2, [[0, 0, 4, 4]]), _ann(3, 2, 2, [SQUARE])],
        cats=cats,
    )
    report, maps = _import(tmp_path, "coco", src)
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    assert maps["b.png"][INSIDE] == NUCLEUS and maps["b.png"][OUTSIDE] == BG
    line = _left_out_line(report)
    assert "annotation id 2 of a.png" in line
    assert "whose pixels no object covers stay unlabelled, not 'background'" in line


def test_a_coco_file_none_of_whose_annotations_can_be_drawn_is_refused(tmp_path):
    src = _coco(tmp_path / "coco", [_ann(1, 1, 1, [[0, 0, 4, 4]]), _ann(2, 2, 1, "x")])
    _refused(tmp_path, "coco", src, r"none of its 2 object\(s\) can be drawn.*annotation id 1")
    # beside a good file, that file alone is skipped, with that reason
    _coco(src, [_ann(1, 1, 1, [SQUARE])], name="val.json")
    report, maps = _import(tmp_path / "second", "coco", src)
    assert maps["a.png"][INSIDE] == CELL
    ((path, why),) = report.skipped
    assert path.endswith("train.json") and "none of its 2 object(s) can be drawn" in why


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        (
            {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}] * 2},
            "appears twice",
        ),
        ({"categories": [{"id": 1, "name": "cell"}] * 2}, "category id 1 appears twice"),
        ({"annotations": [_ann(1, 9, 1, [SQUARE])]}, "image_id 9 is not in 'images'"),
        ({"annotations": [_ann(1, 1, 4, [SQUARE])]}, "category_id 4 is not in 'categories'"),
        ({"annotations": None}, "not a COCO file"),
    ],
)
def test_a_coco_file_with_a_structural_fault_is_still_refused_whole(tmp_path, broken, why):
    """Beside a file with an annotation left out (which imports), a file whose structure is
    wrong is skipped whole, for that reason."""
    src = _coco(tmp_path / "coco", [_ann(1, 1, 1, [SQUARE]), _ann(2, 1, 1, [[0, 0, 1, 1]])])
    _coco(src, [_ann(1, 1, 2, [SQUARE])], name="val.json")
    doc = json.loads((src / "val.json").read_text())
    (src / "val.json").write_text(json.dumps({**doc, **broken}))
    report, maps = _import(tmp_path, "coco", src)
    assert maps["a.png"][INSIDE] == CELL  # train.json's, not val.json's nucleus
    assert "annotation id 2 of a.png" in _left_out_line(report)
    ((path, reason),) = report.skipped
    assert path.endswith("val.json") and why in reason


# --- labelme ----------------------------------------------------------------------------


def _shape(label: str, points, kind: str = "polygon") -> dict:
    return {"label": label, "points": points, "shape_type": kind}


SQUARE_POINTS = [[3, 2], [14, 2], [14, 9], [3, 9]]


def _labelme(folder: Path, files: dict[str, list]) -> Path:
    for k, (stem, shapes) in enumerate(files.items()):
        write_image(folder / f"{stem}.png", (H, W), seed=k)
        doc = {"shapes": shapes, "imagePath": f"{stem}.png", "imageHeight": H, "imageWidth": W}
        (folder / f"{stem}.json").write_text(json.dumps(doc))
    return folder


BAD_LABELME = [
    (_shape("cell", [[1, 1], [5, 5]], "cuboid"), "unsupported shape_type 'cuboid'"),
    (_shape("cell", [[1, 1]], "rectangle"), "a rectangle needs 2 points"),
    (_shape("cell", [], "polygon"), "'points' must be a non-empty list of [x, y]"),
    (_shape("cell", [[1, "x"], [2, 2], [3, 1]]), "expected a finite number, got 'x'"),
    (_shape("cell", [[1, 1], [9e9, 2], [3, 1]]), "coordinates far outside the 30x20 image"),
    ({"points": [[1, 1], [2, 2], [3, 1]]}, "a shape needs a string 'label'"),
    # a label no class can be named by: the shape, not the whole import (it stopped there)
    (_shape("", SQUARE_POINTS), "a class name cannot be empty"),
    (_shape("   ", SQUARE_POINTS), "a class name cannot be empty"),
    (_shape("a\tb", SQUARE_POINTS), "class name 'a\\tb' contains a control character (U+0009)"),
]


@pytest.mark.parametrize(("bad", "why"), BAD_LABELME)
def test_a_labelme_shape_that_cannot_be_drawn_is_left_out_and_named(tmp_path, bad, why):
    """The pixels no shape covers become the project's background class (labelme's way),
    except on the image whose shape was left out: it may lie there."""
    src = _labelme(
        tmp_path / "lm",
        {
            "a": [_shape("cell", SQUARE_POINTS), bad],
            "b": [_shape("nucleus", SQUARE_POINTS)],
        },
    )
    report, maps = _import(tmp_path, "labelme", src)
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    assert maps["b.png"][INSIDE] == NUCLEUS and maps["b.png"][OUTSIDE] == BG
    line = _left_out_line(report)
    assert line.startswith("left out 1 object(s) that cannot be drawn, on 1 image(s)")
    assert f"shapes[1] of a.json ({why}" in line
    assert "and whose pixels no object covers stay unlabelled, not 'background'" in line


def test_a_labelme_source_none_of_whose_shapes_can_be_drawn_is_refused(tmp_path):
    src = _labelme(
        tmp_path / "lm", {"a": [BAD_LABELME[0][0]], "b": [BAD_LABELME[1][0], BAD_LABELME[2][0]]}
    )
    _refused(tmp_path, "labelme", src, r"none of its 3 object\(s\) can be drawn.*shapes\[0\] of a")


def test_a_labelme_file_with_a_structural_fault_is_still_skipped_whole(tmp_path):
    src = _labelme(
        tmp_path / "lm",
        {
            "a": [_shape("cell", SQUARE_POINTS), BAD_LABELME[0][0]],
            "b": [_shape("cell", SQUARE_POINTS)],
        },
    )
    doc = json.loads((src / "b.json").read_text())
    (src / "b.json").write_text(json.dumps({**doc, "imageHeight": -3}))
    report, maps = _import(tmp_path, "labelme", src)
    assert maps["a.png"][INSIDE] == CELL and "b.png" not in maps
    assert "shapes[1] of a.json" in _left_out_line(report)
    ((path, why),) = report.skipped
    assert path.endswith("b.json") and "'imageHeight' must be a positive integer" in why


# --- YOLO -------------------------------------------------------------------------------

GOOD_LINE = "1 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5"  # x 3..15, y 2..10 of 30 x 20


def _yolo(folder: Path, files: dict[str, list[str]]) -> Path:
    (folder / "data.yaml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "data.yaml").write_text(
        "train: images/train\nnames:\n" + "".join(f"  {k}: {n}\n" for k, n in enumerate(CLASSES))
    )
    for k, (stem, lines) in enumerate(files.items()):
        write_image(folder / "images/train" / f"{stem}.png", (H, W), seed=k)
        label = folder / "labels/train" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(x + "\n" for x in lines))
    return folder


BAD_YOLO = [
    ("2 0.1 0.1 0.5", "a polygon needs x y pairs"),
    ("2 0.1 0.1 0.5 0.5 0.3 0.3 0.2", "a polygon needs x y pairs"),
    ("2 0.1 0.1", "a polygon needs at least 3 points"),
    ("2 0.1 0.1 0.5 0.5", "a box line (detection format), not a polygon"),
    ("2 0.1 zero 0.5 0.1 0.5 0.5", "expected 'class x1 y1 x2 y2 ...' numbers"),
    ("7 0.1 0.1 0.5 0.1 0.5 0.5", "class 7 is not in 0..2"),
    ("2 0.1 0.1 3.5 0.1 0.5 0.5", "coordinates must be normalised to 0..1"),
    ("2 0.1 0.1 0.5 0.1 0.5 nan", "a coordinate is not a number (nan)"),
    ("1.5 0.1 0.1 0.5 0.1 0.5 0.5", "class 1.5 is not a whole number"),
]


def test_a_yolo_class_written_as_a_float_is_read_as_ultralytics_reads_it(tmp_path):
    src = _yolo(tmp_path / "yolo", {"a": ["1.0" + GOOD_LINE[1:]]})
    report, maps = _import(tmp_path, "yolo", src)
    assert maps["a.png"][INSIDE] == CELL and report.skipped == []


@pytest.mark.parametrize(("bad", "why"), BAD_YOLO)
def test_a_yolo_line_that_cannot_be_drawn_is_left_out_and_named(tmp_path, bad, why):
    src = _yolo(tmp_path / "yolo", {"a": [GOOD_LINE, bad], "b": [GOOD_LINE.replace("1", "2", 1)]})
    report, maps = _import(tmp_path, "yolo", src)
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    assert maps["b.png"][INSIDE] == NUCLEUS
    line = _left_out_line(report)
    assert line.startswith("left out 1 object(s) that cannot be drawn, on 1 image(s)")
    assert f"line 2 of labels/train/a.txt ({why}" in line


def test_yolo_background_stays_unlabelled_on_an_image_with_a_line_left_out(tmp_path):
    src = _yolo(tmp_path / "yolo", {"a": [GOOD_LINE, BAD_YOLO[0][0]], "b": [GOOD_LINE]})
    report, maps = _import(tmp_path, "yolo", src, background="background")
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    assert maps["b.png"][INSIDE] == CELL and maps["b.png"][OUTSIDE] == BG
    assert "stay unlabelled, not 'background' (an object" in _left_out_line(report)


def test_a_yolo_source_none_of_whose_lines_can_be_drawn_is_refused(tmp_path):
    """(A detection dataset imported as segmentation: every line a box.)"""
    src = _yolo(tmp_path / "yolo", {"a": ["0 0.5 0.5 0.2 0.2"], "b": ["1 0.5 0.5 0.2 0.2"]})
    _refused(tmp_path, "yolo", src, r"none of its 2 object\(s\) can be drawn.*a box line")


def test_a_yolo_label_file_with_a_structural_fault_is_still_skipped_whole(tmp_path):
    src = _yolo(tmp_path / "yolo", {"a": [GOOD_LINE, BAD_YOLO[0][0]]})
    (src / "labels/train/lost.txt").write_text(GOOD_LINE + "\n")  # no image of its stem
    report, maps = _import(tmp_path, "yolo", src)
    assert maps["a.png"][INSIDE] == CELL
    assert "line 2 of labels/train/a.txt" in _left_out_line(report)
    ((path, why),) = report.skipped
    assert path.endswith("lost.txt") and "no image with the same stem" in why


def test_the_gui_import_summary_says_the_objects_left_out_as_a_sentence(tmp_path):
    from annotator.gui.import_dialog import import_summary

    src = _yolo(tmp_path / "yolo", {"a": [GOOD_LINE, BAD_YOLO[5][0]], "b": [GOOD_LINE]})
    report, _ = _import(tmp_path, "yolo", src)
    (line,) = [x for x in import_summary(report).splitlines() if "cannot be drawn" in x]
    assert line.startswith("Left out 1 object(s) that cannot be drawn, on 1 image(s)")
    assert line.endswith("line 2 of labels/train/a.txt (class 7 is not in 0..2).")


def test_the_line_says_which_images_kept_their_uncovered_pixels_unlabelled():
    """(Two COCO files, one with a background category: its image alone keeps them.)"""
    from annotator.formats.left_out import ObjectsLeftOut

    left = ObjectsLeftOut(drawn=3)
    for image in ("a.png", "b.png"):
        left.leave_out(
            image, "annotation id 1", FormatError("f.json: x: empty polygon list"), "f.json: x"
        )
    left.keep_unlabelled("a.png", "background")
    line = left.note()
    assert line is not None and line.startswith(
        "left out 2 object(s) that cannot be drawn, on 2 image(s), whose other objects were "
        "imported (1 of them keep the pixels no object covers unlabelled, not 'background': "
    )
    assert line.endswith(
        ": annotation id 1 of a.png (empty polygon list); annotation id 1 of b.png (empty polygon list)"
    )


def test_a_coco_file_name_that_is_a_number_is_said_so_not_missing(tmp_path):
    src = _coco(tmp_path / "coco", [_ann(1, 1, 1, [SQUARE])])
    _coco(src, [_ann(1, 1, 2, [SQUARE])], name="val.json")
    doc = json.loads((src / "val.json").read_text())
    doc["images"][0]["file_name"] = 3
    (src / "val.json").write_text(json.dumps(doc))
    report, _ = _import(tmp_path, "coco", src)
    assert any("'file_name' is not a file name (3)" in why for _, why in report.skipped)


def test_with_a_labels_txt_a_label_no_class_can_have_is_an_unknown_label(tmp_path):
    """With a labels.txt the classes are listed: such a shape was left out as an object
    that cannot be drawn, which left the whole image's background unlabelled."""
    src = _labelme(
        tmp_path / "lm",
        {"a": [_shape("cell", SQUARE_POINTS), _shape("", [[20, 2], [25, 2], [25, 6]])]},
    )
    (src / "labels.txt").write_text("__ignore__\n_background_\ncell\n")
    report, maps = _import(tmp_path, "labelme", src)
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == BG
    assert not any(n.startswith("left out") for n in report.notes)


def test_unknown_labels_are_named_quoted_and_escaped(tmp_path, capsys):
    """An unknown label with a control character went to the terminal raw (an escape
    sequence turned the output red); an empty one printed as nothing before '(1)'."""
    from annotator.cli import main

    src = _labelme(
        tmp_path / "lm",
        {"a": [_shape("cell", SQUARE_POINTS), _shape("\x1b[31mred", [[20, 2], [25, 2], [25, 6]])]},
    )
    (src / "labels.txt").write_text("__ignore__\n_background_\ncell\n")
    root = str(tmp_path / "P")
    assert main(["new", root, "--classes", ",".join(CLASSES)]) == 0
    capsys.readouterr()
    assert main(["import", root, str(src), "--format", "labelme"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "their pixels left unlabelled): '\\x1b[31mred' (1)" in out
