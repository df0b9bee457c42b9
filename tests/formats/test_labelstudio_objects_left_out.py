"""A region of a Label Studio export that cannot be drawn (a polygon whose points are no
numbers, a brush code of another size, an ellipse or a rectangle of bad values) is left
out and named in the summary's one line (formats.left_out, as COCO, labelme and YOLO
do), the rest of its task and of the export imported; an export file none of whose
regions can be drawn is refused, and so are a task's structural faults, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmthelpers import CLASSES, U, write_image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportReport, ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 20, 30
BG, CELL, NUCLEUS = 0, 1, 2
INSIDE, OUTSIDE = (5, 8), (15, 25)  # (row, column) in and out of SQUARE
SQUARE = [[3, 2], [15, 2], [15, 10], [3, 10]]  # pixels x 3..14, y 2..9
BRUSH_VALUES = W * H * 4  # a brush code's count: the RGBA bytes of the picture


def _pct(points) -> list[list[float]]:
    return [[x * 100 / W, y * 100 / H] for x, y in points]


def _result(kind: str, value, rid: str, **extra) -> dict:
    return {
        "id": rid,
        "type": kind,
        "from_name": "tag",
        "to_name": "image",
        "original_width": W,
        "original_height": H,
        "value": value,
        **extra,
    }


def _square(label: str, rid: str = "good") -> dict:
    return _result("polygonlabels", {"points": _pct(SQUARE), "polygonlabels": [label]}, rid)


def _task(tid: int, stem: str, results: list[dict]) -> dict:
    return {
        "id": tid,
        "data": {"image": f"/data/upload/3/0a1b2c3d-{stem}.png"},
        "annotations": [{"id": 1, "result": results, "was_cancelled": False}],
        "predictions": [],
    }


def _export(folder: Path, tasks: list, name: str = "export.json") -> Path:
    for seed, stem in enumerate(("a", "b", "c")):
        write_image(folder / f"{stem}.png", (H, W), seed=seed)
    (folder / name).write_text(json.dumps(tasks))
    return folder


def _import(tmp_path: Path, src: Path, **kw) -> tuple[ImportReport, dict]:
    schema = LabelSchema.from_names(list(CLASSES))
    with Project.create(tmp_path / "project", schema) as project:
        report = import_into_project(project, ImportRequest("labelstudio", src, **kw))
        maps = {rec.name: project.load_mask(rec) for rec in project.images()}
    return report, maps


def _left_out_line(report: ImportReport) -> str:
    (line,) = [n for n in report.notes if "cannot be drawn" in n]
    return line


def _poly(points, **value) -> tuple[str, dict]:
    return "polygonlabels", {"points": points, "polygonlabels": ["nucleus"], **value}


def _brush(rle, fmt: str = "rle") -> tuple[str, dict]:
    return "brushlabels", {"format": fmt, "rle": rle, "brushlabels": ["nucleus"]}


def _ellipse(**value) -> tuple[str, dict]:
    base = {"x": 50, "y": 50, "radiusX": 10, "radiusY": 10, "ellipselabels": ["nucleus"]}
    return "ellipselabels", base | value


def _rectangle(**value) -> tuple[str, dict]:
    base = {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["nucleus"]}
    return "rectanglelabels", base | value


BAD = [  # (type, value, extra keys of the result), the reason the summary gives
    (
        (*_poly("x"), {}),
        "a polygon needs 'points', a list of [x, y] percentages",
    ),
    ((*_poly([[1, 2, 3], [5, 5], [9, 1]]), {}), "a point must be [x, y], got [1, 2, 3]"),
    ((*_poly([["a", 5], [5, 5], [9, 1]]), {}), "expected a finite number, got 'a'"),
    (
        (*_poly([[1, 1], [1e9, 1], [1, 1e9]]), {}),
        "the polygon has coordinates far outside the image",
    ),
    (("polygonlabels", [1, 2], {}), "'value' must be an object"),
    (
        (*_poly(_pct(SQUARE)), {"original_width": -5}),
        "'original_width' must be a positive integer, got -5",
    ),
    (
        (*_brush([0, 0, 0, 5, 0, 0]), {}),
        f"the brush code holds 5 values, but original_width x original_height x 4 is "
        f"{W} x {H} x 4 = {BRUSH_VALUES}",
    ),
    (
        (*_brush(list(BRUSH_VALUES.to_bytes(4, "big"))), {}),
        "the brush code ends early (truncated 'rle')",
    ),
    ((*_brush("abc"), {}), "'rle' must be a non-empty list of byte values"),
    ((*_brush([0, 300]), {}), "'rle' holds a value outside 0-255"),
    ((*_brush([1], fmt="png"), {}), "brush format 'png' is not read (only 'rle')"),
    ((*_ellipse(radiusX="wide"), {}), "radiusX: expected a finite number"),
    ((*_ellipse(x=1e308, radiusX=1e308), {}), "its coordinates are too large"),
    ((*_rectangle(x="left"), {}), "x: expected a finite number"),
    (("rectanglelabels", None, {}), "'value' must be an object"),
]


@pytest.mark.parametrize(("bad", "why"), BAD)
def test_a_region_that_cannot_be_drawn_is_left_out_and_named(tmp_path, bad, why):
    """Under a background class (the rectangle's box is read only then), the task whose
    region was left out keeps the pixels no region covers unlabelled: it may lie there."""
    kind, value, extra = bad
    tasks = [
        _task(7, "a", [_square("cell"), _result(kind, value, "bad", **extra)]),
        _task(8, "b", [_square("nucleus")]),
    ]
    report, maps = _import(tmp_path, _export(tmp_path / "ls", tasks), background="background")
    assert report.skipped == []
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    assert maps["b.png"][INSIDE] == NUCLEUS and maps["b.png"][OUTSIDE] == BG
    line = _left_out_line(report)
    assert line.startswith("left out 1 object(s) that cannot be drawn, on 1 image(s)")
    assert f"task 7, annotation 1, result 1 of a.png ({why}" in line
    assert "stay unlabelled, not 'background' (an object left out may lie there)" in line
    assert "export.json" not in line  # named once, briefly


def test_the_summary_names_the_first_three_and_counts_the_rest(tmp_path):
    bad = [_result(kind, value, f"bad{k}", **extra) for k, ((kind, value, extra), _) in
           enumerate(BAD[:5])]  # fmt: skip
    tasks = [_task(1, "a", [_square("cell"), *bad[:3]]), _task(2, "b", bad[3:])]
    report, maps = _import(tmp_path, _export(tmp_path / "ls", tasks))
    assert maps["a.png"][INSIDE] == CELL and maps["a.png"][OUTSIDE] == U
    line = _left_out_line(report)
    assert line.startswith("left out 5 object(s) that cannot be drawn, on 2 image(s)")
    assert all(f"task 1, annotation 1, result {k} of a.png" in line for k in (1, 2, 3))
    assert "task 2" not in line and line.endswith("; and 2 more")


def test_a_json_min_region_that_cannot_be_drawn_is_left_out_too(tmp_path):
    good = {"points": _pct(SQUARE), "polygonlabels": ["cell"], "original_width": W,
            "original_height": H}  # fmt: skip
    bad = good | {"points": "x"}
    record = {"image": "/data/upload/3/0a1b2c3d-a.png", "id": 4, "annotation_id": 9,
              "label": [good, bad]}  # fmt: skip
    report, maps = _import(tmp_path, _export(tmp_path / "ls", [record]))
    assert maps["a.png"][INSIDE] == CELL
    assert "task 4, result 1 of a.png (a polygon needs 'points'" in _left_out_line(report)


def test_an_export_none_of_whose_regions_can_be_drawn_is_refused(tmp_path):
    tasks = [
        _task(1, "a", [_result(*BAD[0][0][:2], "x")]),
        _task(2, "b", [_result(*BAD[6][0][:2], "y")]),
    ]
    src = _export(tmp_path / "ls", tasks)
    schema = LabelSchema.from_names(list(CLASSES))
    with Project.create(tmp_path / "project", schema) as project:
        with pytest.raises(
            FormatError, match=r"none of its 2 object\(s\) can be drawn.*task 1, annotation 1"
        ):
            import_into_project(project, ImportRequest("labelstudio", src))
        assert project.images() == []  # nothing added, not even the pictures
    # beside a good export, that file alone is skipped, with that reason
    (src / "good.json").write_text(json.dumps([_task(3, "c", [_square("cell")])]))
    report, maps = _import(tmp_path / "second", src)
    assert list(maps) == ["c.png"] and maps["c.png"][INSIDE] == CELL
    ((path, why),) = report.skipped
    assert path.endswith("export.json") and "none of its 2 object(s) can be drawn" in why


@pytest.mark.parametrize(
    ("results", "why"),
    [
        (
            [_square("cell"), _result("polygonlabels", _poly(_pct(SQUARE))[1], "w",
                                      original_width=W + 5)],
            f"its regions give different image sizes ({W}x{H}, {W + 5}x{H})",
        ),
        ("not a list", "'result' must be a list of objects"),
        (
            [_square("cell"), _result("polygonlabels", _poly(_pct(SQUARE))[1], "w",
                                      original_width=None, original_height=None)],
            "needs 'original_width' and 'original_height', or its picture beside the export",
        ),
    ],
)  # fmt: skip
def test_a_task_with_a_structural_fault_is_still_refused_whole(tmp_path, results, why):
    """Beside a task with a region left out (which imports), a task whose structure is
    wrong is skipped whole, for that reason, naming none of its regions as left out."""
    bad = _task(2, "gone", results)  # (its picture is not beside the export)
    tasks = [_task(1, "a", [_square("cell"), _result(*BAD[0][0][:2], "x")]), bad]
    report, maps = _import(tmp_path, _export(tmp_path / "ls", tasks))
    assert list(maps) == ["a.png"] and maps["a.png"][INSIDE] == CELL
    line = _left_out_line(report)
    assert "task 1, annotation 1, result 1 of a.png" in line and "task 2" not in line
    ((path, reason),) = report.skipped
    assert path.endswith("export.json") and "task 2" in reason and why in reason


def test_a_task_whose_data_names_no_picture_is_still_refused(tmp_path):
    bad = _task(2, "b", [_square("cell")]) | {"data": {"text": "no picture here"}}
    tasks = [_task(1, "a", [_square("cell"), _result(*BAD[0][0][:2], "x")]), bad]
    report, maps = _import(tmp_path, _export(tmp_path / "ls", tasks))
    assert list(maps) == ["a.png"]
    ((_, reason),) = report.skipped
    assert "task 2" in reason and "its data names no picture" in reason
