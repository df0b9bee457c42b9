"""Label Studio's JSON export (``annotator import --format labelstudio``).

The exports are built here, in the shape Label Studio writes them. Brushes are encoded by
:func:`encode`, an encoder written here from the format's description, and
``tests/data/labelstudio/brushes.json`` holds codes made by the real encoders (the one
Label Studio's editor calls, and label-studio-converter's), with what their own decoders
give back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fmthelpers import DATA, write_image
from pycocotools import mask as mask_utils

from annotator.cli import main
from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.base import UNLABELLED, ImportOptions, image_size
from annotator.formats.labelstudio import (
    brush_mask,
    decode_brush_alpha,
    ellipse_mask,
    parse_reference,
    read_labelstudio,
)
from annotator.formats.registry import get_format
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

W, H = 40, 30


# --- building exports ------------------------------------------------------------------


def encode(values: Any, word: int = 8, sizes=(3, 4, 8, 16), min_run: int = 2) -> list[int]:
    """Label Studio's brush code of ``values``: 32 bits count, 5 bits word size - 1, four
    4-bit run-length sizes - 1, then blocks (flag: 1 repeat, 0 literal; 2 bits: which
    size; the run length - 1 in that many bits; one word, or that many words)."""
    flat = [int(v) for v in np.asarray(values).ravel()]
    bits = [f"{len(flat):032b}", f"{word - 1:05b}", *(f"{s - 1:04b}" for s in sizes)]
    longest = 1 << max(sizes)

    def head(flag: int, n: int) -> None:
        t = next(k for k, s in enumerate(sizes) if n - 1 < (1 << s))
        bits.append(f"{flag}{t:02b}{n - 1:0{sizes[t]}b}")

    literal: list[int] = []

    def flush() -> None:
        while literal:
            part = literal[:longest]
            del literal[:longest]
            head(0, len(part))
            bits.extend(f"{v:0{word}b}" for v in part)

    i = 0
    while i < len(flat):
        j = i
        while j < len(flat) and flat[j] == flat[i]:
            j += 1
        if j - i >= min_run:
            flush()
            left = j - i
            while left:
                m = min(left, longest)
                head(1, m)
                bits.append(f"{flat[i]:0{word}b}")
                left -= m
        else:
            literal.extend(flat[i:j])
        i = j
    flush()
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return [int(text[k : k + 8], 2) for k in range(0, len(text), 8)]


def rgba(alpha: np.ndarray, colour: bool = False) -> np.ndarray:
    """The brush layer Label Studio encodes: grey (RGB = alpha, today's editor) or the
    brush colour where painted (the older editor)."""
    if not colour:
        return np.repeat(alpha[..., None], 4, axis=2)
    out = np.zeros((*alpha.shape, 4), np.uint8)
    out[alpha > 0, :3] = (230, 25, 75)
    out[..., 3] = alpha
    return out


def polygon(points, label, *, w=W, h=H, rid=None, kind="polygonlabels", **value) -> dict:
    """A polygon result; ``points`` in pixels, written as percentages."""
    pct = [[x * 100 / w, y * 100 / h] for x, y in points]
    key = kind if kind.endswith("labels") else "labels"
    return _result(kind, {"points": pct, key: [label], **value}, w, h, rid)


def brush(mask: np.ndarray, label, *, rid=None, colour=False, rle=None) -> dict:
    h, w = mask.shape
    alpha = mask.astype(np.uint8) * 255
    code = encode(rgba(alpha, colour)) if rle is None else rle
    return _result("brushlabels", {"format": "rle", "rle": code, "brushlabels": [label]}, w, h, rid)


def rectangle(x, y, bw, bh, label, *, w=W, h=H) -> dict:
    value = {"x": x * 100 / w, "y": y * 100 / h, "width": bw * 100 / w, "height": bh * 100 / h}
    return _result("rectanglelabels", {**value, "rotation": 0, "rectanglelabels": [label]}, w, h)


def _result(kind: str, value: dict, w: int, h: int, rid=None) -> dict:
    _result.n = getattr(_result, "n", 0) + 1  # type: ignore[attr-defined]
    return {
        "id": rid or f"r{_result.n}",  # type: ignore[attr-defined]
        "type": kind,
        "from_name": "tag",
        "to_name": "image",
        "original_width": w,
        "original_height": h,
        "image_rotation": 0,
        "value": value,
    }


def annotation(results, **extra) -> dict:
    return {
        "id": extra.pop("id", 1),
        "result": results,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": "2024-05-01T10:00:00.000000Z",
        "updated_at": "2024-05-01T10:00:00.000000Z",
        **extra,
    }


def task(tid, image, annotations=(), predictions=()) -> dict:
    return {
        "id": tid,
        "data": {"image": image},
        "annotations": list(annotations),
        "predictions": list(predictions),
        "meta": {},
        "project": 3,
        "file_upload": image.rsplit("/", 1)[-1],
    }


def write(path: Path, tasks: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks))
    return path


def read(path: Path, **options):
    return read_labelstudio(path, ImportOptions(**options))


def labels(item) -> np.ndarray:
    """The item's labels by class name (None where unlabelled)."""
    raw = item.labels()
    names = np.array([None, *item.names], dtype=object)
    return names[np.where(raw >= 0, raw + 1, 0)]


def square(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


# --- the brush code ---------------------------------------------------------------------


def _reference_cases():
    data = json.loads((DATA / "labelstudio" / "brushes.json").read_text())
    return data["cases"]


@pytest.mark.parametrize("case", _reference_cases(), ids=lambda c: c["name"])
def test_codes_of_the_real_encoders_decode_to_what_their_decoders_give(case):
    w, h = case["width"], case["height"]
    expected = np.concatenate([np.full(n, v) for v, n in case["alpha_runs"]]).reshape(h, w)
    alpha = decode_brush_alpha(case["rle"], w, h, "brushes.json")
    assert np.array_equal(alpha, expected)
    # the region is where alpha is not 0: anti-aliased edges too, as Label Studio shows it
    assert np.array_equal(brush_mask(case["rle"], w, h, "x"), expected > 0)


def test_the_reference_codes_cover_soft_edges_colour_and_long_runs():
    cases = {c["name"]: c for c in _reference_cases()}
    soft = {v for v, _ in cases["frontend-grey"]["alpha_runs"]}
    assert len(soft - {0, 255}) > 5
    longest = max(n for _, n in cases["frontend-long-runs"]["alpha_runs"])
    assert longest * 4 > 1 << 16  # runs past the longest run length the code holds


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (7, 1), (13, 17), (30, 40), (300, 256)])
@pytest.mark.parametrize(
    ("word", "sizes", "min_run"),
    [(8, (3, 4, 8, 16), 2), (8, (1, 2, 3, 4), 1), (8, (16, 16, 16, 16), 5), (9, (2, 5, 9, 13), 2)],
)
def test_decoding_gives_the_alpha_encoded_with_any_word_and_run_sizes(shape, word, sizes, min_run):
    rng = np.random.default_rng(sum(shape) + word)
    cases = {
        "empty": np.zeros(shape, np.uint8),
        "full": np.full(shape, 255, np.uint8),
        "noise": rng.integers(0, 256, shape).astype(np.uint8) * (rng.random(shape) > 0.5),
    }
    for name, alpha in cases.items():
        for colour in (False, True):
            code = encode(rgba(alpha, colour), word, sizes, min_run)
            got = decode_brush_alpha(code, shape[1], shape[0], name)
            assert np.array_equal(got, alpha), (name, colour)


def test_a_code_of_another_size_is_refused_naming_both_sizes():
    code = encode(rgba(np.zeros((5, 6), np.uint8)))
    with pytest.raises(FormatError, match=r"holds 120 values.* 7 x 5 x 4 = 140"):
        decode_brush_alpha(code, 7, 5, "task 9")


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ([], "non-empty list"),
        ([0, 0, 1, 256], "outside 0-255"),
        ([0, 0, 1.5], "integers 0-255"),
        ("abc", "non-empty list"),
    ],
)
def test_a_malformed_code_is_refused(rle, message):
    with pytest.raises(FormatError, match=message):
        decode_brush_alpha(rle, 2, 2, "x")


def test_a_truncated_code_is_refused():
    alpha = (np.random.default_rng(1).random((8, 8)) > 0.5).astype(np.uint8) * 255
    code = encode(rgba(alpha, colour=True))
    for keep in (2, 5, len(code) // 2, len(code) - 2):
        with pytest.raises(FormatError, match="ends early"):
            decode_brush_alpha(code[:keep], 8, 8, "x")


# --- shapes -----------------------------------------------------------------------------


def test_polygons_are_the_pixels_pycocotools_gives_their_coordinates(tmp_path):
    rng = np.random.default_rng(5)
    shapes = [
        [(2, 3), (10, 3), (10, 9), (2, 9)],
        [(float(x), float(y)) for x, y in rng.uniform(-2, 42, (7, 2))],
        [(5.5, 1.25), (33.7, 20.2), (12.1, 28.9)],
    ]
    results = [polygon(p, f"c{k}", rid=f"p{k}") for k, p in enumerate(shapes)]
    src = write(
        tmp_path / "export.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation(results)])]
    )
    (item,) = read(src).items
    got = item.labels()
    expected = np.full((H, W), UNLABELLED)
    for k, p in enumerate(shapes):
        flat = [c for xy in p for c in xy]
        expected[mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([flat], H, W))) > 0] = k
    assert np.array_equal(got, expected)


def test_a_square_covers_exactly_its_pixels(tmp_path):
    src = write(
        tmp_path / "e.json",
        [
            task(
                1,
                "/data/upload/3/0a1b2c3d-x.png",
                [annotation([polygon(square(2, 3, 10, 9), "a")])],
            )
        ],
    )
    (item,) = read(src).items
    expected = np.zeros((H, W), bool)
    expected[3:9, 2:10] = True
    assert np.array_equal(item.labels() == 0, expected)


def test_ellipses_take_the_pixels_whose_centre_is_inside():
    circle = ellipse_mask((11, 11), 5.5, 5.5, 3, 3, 0)
    yy, xx = np.mgrid[0:11, 0:11]
    assert np.array_equal(circle, (xx + 0.5 - 5.5) ** 2 + (yy + 0.5 - 5.5) ** 2 <= 9)
    wide = ellipse_mask((21, 21), 10.5, 10.5, 8, 2, 0)
    tall = ellipse_mask((21, 21), 10.5, 10.5, 8, 2, 90)
    assert np.array_equal(tall, wide.T)
    # clockwise on screen (y down): at 45 degrees the long axis runs to the lower right
    turned = ellipse_mask((21, 21), 10.5, 10.5, 8, 2, 45)
    assert turned[14, 14] and not turned[6, 14]


def test_ellipse_results_are_read_in_percent_of_each_axis(tmp_path):
    value = {"x": 50, "y": 50, "radiusX": 25, "radiusY": 10, "rotation": 0, "ellipselabels": ["e"]}
    result = _result("ellipselabels", value, W, H)
    src = write(
        tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation([result])])]
    )
    (item,) = read(src).items
    assert np.array_equal(item.labels() == 0, ellipse_mask((H, W), 20, 15, 10, 3, 0))


# --- reading tasks ------------------------------------------------------------------------


def test_later_regions_paint_over_earlier_ones_and_brushes_count_soft_edges(tmp_path):
    painted = np.zeros((H, W), bool)
    painted[5:20, 5:25] = True
    results = [
        polygon(square(0, 0, 40, 30), "sky"),
        brush(painted, "tree"),
        polygon(square(10, 10, 15, 15), "bird"),
    ]
    src = write(
        tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation(results)])]
    )
    result = read(src)
    (item,) = result.items
    got = labels(item)
    assert set(item.names) == {"sky", "tree", "bird"}
    assert (got[10:15, 10:15] == "bird").all()
    assert (got[5:10, 5:25] == "tree").all() and (got[0:5, :] == "sky").all()
    assert result.errors == [] and result.boxes_only == 0


def test_a_soft_edged_reference_brush_is_read_through_an_export(tmp_path):
    case = next(c for c in _reference_cases() if c["name"] == "frontend-grey")
    w, h = case["width"], case["height"]
    result = brush(np.zeros((h, w), bool), "leaf", rle=case["rle"])
    src = write(
        tmp_path / "e.json", [task(4, "/data/upload/3/0a1b2c3d-x.png", [annotation([result])])]
    )
    (item,) = read(src).items
    alpha = np.concatenate([np.full(n, v) for v, n in case["alpha_runs"]]).reshape(h, w)
    assert np.array_equal(item.labels() == 0, alpha > 0)
    assert ((alpha > 0) & (alpha < 128)).any()  # soft edges are the region's


def test_rectangles_keypoints_and_choices_are_left_out_and_counted(tmp_path):
    keypoint = _result(
        "keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["k"]}, W, H
    )
    choice = {"id": "c1", "type": "choices", "from_name": "q", "to_name": "image",
              "value": {"choices": ["sunny"]}}  # fmt: skip
    relation = {"from_id": "r1", "to_id": "r2", "type": "relation", "direction": "right"}
    results = [
        polygon(square(0, 0, 10, 10), "a"),
        rectangle(20, 5, 10, 10, "car"),
        keypoint,
        choice,
        relation,
    ]
    src = write(
        tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation(results)])]
    )
    result = read(src)
    (item,) = result.items
    assert item.names == ("a",)  # "car" names only a box: no class for it
    assert result.boxes_only == 1  # the rectangle: the only box
    assert result.left_out == {"rectangle": 1, "keypoint": 1, "choices": 1, "relation": 1}
    assert (item.labels()[5:15, 20:30] == UNLABELLED).all()
    # the others are named in the reader's note; the rectangle has the box line
    assert (
        "left out 3 result(s) without an area: choices 1, keypoint 1, relation 1 (their "
        "pixels stay unlabelled)" in result.notes
    )
    assert not any("rectangle" in n for n in result.notes)


def test_a_choice_and_a_keypoint_are_not_called_boxes(tmp_path):
    """The import summary says "a box without a mask" of ``boxes_only``: rectangles only."""
    write_image(tmp_path / "x.png", (H, W))
    keypoint = _result(
        "keypointlabels", {"x": 50, "y": 50, "width": 1, "keypointlabels": ["k"]}, W, H
    )
    choice = {"id": "c1", "type": "choices", "value": {"choices": ["sunny"]}}
    src = write(
        tmp_path / "e.json",
        [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation([choice, keypoint])])],
    )
    result = read(src)
    assert result.boxes_only == 0 and result.errors == []
    assert result.left_out == {"choices": 1, "keypoint": 1}
    assert (
        "left out 2 result(s) without an area: choices 1, keypoint 1 (their pixels stay "
        "unlabelled)" in result.notes
    )


def test_task_data_of_a_json_min_record_is_not_a_result_left_out(tmp_path):
    """A list of objects in JSON-MIN's task data (not regions) is neither a box nor a
    result left out."""
    region = polygon(square(0, 0, 10, 10), "a")["value"] | {
        "original_width": W,
        "original_height": H,
    }
    record = {"image": "/data/upload/3/0a1b2c3d-a.png", "id": 1, "annotation_id": 3,
              "label": [region], "tags": [{"name": "t"}]}  # fmt: skip
    result = read(write(tmp_path / "min.json", [record]))
    (item,) = result.items
    assert item.names == ("a",) and result.errors == []
    assert result.boxes_only == 0 and result.left_out == {} and result.notes == []


def test_under_a_background_a_rectangle_gives_its_box_back_to_unlabelled(tmp_path):
    results = [rectangle(20, 5, 10, 10, "car"), polygon(square(22, 7, 26, 11), "wheel")]
    src = write(
        tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation(results)])]
    )
    result = read(src, background="ground")
    (item,) = result.items
    got = labels(item)
    assert got[0, 0] == "ground" and result.background == "ground"
    assert got[6, 21] is None  # in the box, not painted
    assert (got[7:11, 22:26] == "wheel").all()
    assert result.background_added  # no region is named "ground"


@pytest.mark.parametrize("box_first", [True, False])
def test_a_rectangle_never_takes_back_pixels_a_region_labelled_background(tmp_path, box_first):
    """Under ``--background``, a region named as the background class keeps its pixels
    whatever the order of the regions; only pixels no region covers stay unlabelled in a
    box."""
    ground = polygon(square(0, 0, 40, 15), "ground")  # the top half, drawn explicitly
    box = rectangle(20, 6, 10, 18, "car")  # across both halves: rows 6-23
    results = [box, ground] if box_first else [ground, box]
    src = write(
        tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-x.png", [annotation(results)])]
    )
    result = read(src, background="ground")
    (item,) = result.items
    got = labels(item)
    assert (got[0:15, :] == "ground").all()  # drawn: kept, in the box too
    assert (got[15:24, 20:30] == None).all()  # noqa: E711 - the box, below: unlabelled
    assert (got[24:, :] == "ground").all() and (got[15:24, :20] == "ground").all()
    assert not result.background_added  # a region is named "ground"


def test_predictions_are_never_labels(tmp_path):
    prediction = {"id": 7, "model_version": "v1", "score": 0.9,
                  "result": [polygon(square(0, 0, 40, 30), "predicted")]}  # fmt: skip
    tasks = [
        task(
            1,
            "/data/upload/3/0a1b2c3d-a.png",
            [annotation([polygon(square(0, 0, 5, 5), "a")])],
            [prediction],
        ),
        task(2, "/data/upload/3/0a1b2c3d-b.png", [], [prediction]),
    ]
    result = read(write(tmp_path / "e.json", tasks))
    (item,) = result.items
    assert item.image_name == "a.png" and item.names == ("a",)
    assert result.predictions == 2 and result.nothing_to_import == 1
    assert any("2 prediction(s)" in n for n in result.notes)


def test_the_latest_annotation_not_cancelled_is_read(tmp_path):
    older = annotation(
        [polygon(square(0, 0, 5, 5), "old")], id=1, updated_at="2024-05-01T10:00:00Z"
    )
    newer = annotation(
        [polygon(square(0, 0, 5, 5), "new")], id=2, updated_at="2024-06-01T10:00:00Z"
    )
    cancelled = annotation(
        [polygon(square(0, 0, 5, 5), "skip")],
        id=3,
        was_cancelled=True,
        updated_at="2025-01-01T00:00:00Z",
    )
    result = read(
        write(
            tmp_path / "e.json",
            [task(1, "/data/upload/3/0a1b2c3d-a.png", [newer, cancelled, older])],
        )
    )
    (item,) = result.items
    assert item.names == ("new",)
    assert result.annotations_ignored == 1 and result.cancelled == 1
    # ground truth, where a reviewer marked one, comes first
    older["ground_truth"] = True
    chosen = read(
        write(tmp_path / "g.json", [task(1, "/data/upload/3/0a1b2c3d-a.png", [newer, older])])
    )
    (item,) = chosen.items
    assert item.names == ("old",)
    # the summary says so: not "the latest"
    assert chosen.notes == [
        "read the ground-truth annotation of each task, else the latest; 1 other "
        "annotation(s) left out"
    ]
    # without times, the last one
    for a in (older, newer):
        del a["updated_at"], a["created_at"]
        a["ground_truth"] = False
    (item,) = read(
        write(tmp_path / "t.json", [task(1, "/data/upload/3/0a1b2c3d-a.png", [newer, older])])
    ).items
    assert item.names == ("old",)


def test_a_task_whose_annotations_are_all_cancelled_has_nothing_to_import(tmp_path):
    cancelled = annotation([polygon(square(0, 0, 5, 5), "x")], was_cancelled=True)
    result = read(
        write(tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-a.png", [cancelled])])
    )
    assert result.items == [] and result.errors == [] and result.cancelled == 1
    assert result.nothing_to_import == 1


def test_a_labels_tag_with_a_polygon_tool_is_one_region(tmp_path):
    """<Polygon> with <Labels>: the geometry and the label come in results of one id."""
    shape = polygon(square(0, 0, 10, 10), "x", rid="same", kind="polygon")
    del shape["value"]["labels"]
    named = polygon(square(0, 0, 10, 10), "roof", rid="same", kind="labels")
    text = {"id": "same", "type": "textarea", "value": {"text": ["red"]},
            "original_width": W, "original_height": H}  # fmt: skip
    src = write(
        tmp_path / "e.json",
        [task(1, "/data/upload/3/0a1b2c3d-a.png", [annotation([shape, named, text])])],
    )
    result = read(src)
    (item,) = result.items
    assert item.names == ("roof",) and (item.labels()[0:10, 0:10] == 0).all()
    assert result.boxes_only == 0 and result.no_label == 0


def test_open_polygons_and_regions_without_a_label_are_left_out(tmp_path):
    results = [
        polygon(square(0, 0, 10, 10), "open", closed=False),
        polygon([(0, 0), (5, 5)], "line"),
        polygon(square(10, 10, 20, 20), "x"),
    ]
    results[2]["value"]["polygonlabels"] = []
    result = read(
        write(
            tmp_path / "e.json", [task(1, "/data/upload/3/0a1b2c3d-a.png", [annotation(results)])]
        )
    )
    assert result.items == [] and result.nothing_to_import == 1
    assert result.left_out == {"open polygon": 1, "polygon < 3 points": 1} and result.no_label == 1
    assert result.boxes_only == 0  # no box among them


def test_a_brush_of_the_wrong_size_is_left_out_naming_its_task(tmp_path):
    """(Other regions that cannot be drawn: test_labelstudio_objects_left_out.)"""
    good = task(
        1, "/data/upload/3/0a1b2c3d-a.png", [annotation([polygon(square(0, 0, 5, 5), "a")])]
    )
    region = brush(np.ones((H, W), bool), "b")
    region["original_width"] = W + 1
    bad = task(42, "/data/upload/3/0a1b2c3d-b.png", [annotation([region])])
    result = read(write(tmp_path / "e.json", [good, bad]))
    assert [i.image_name for i in result.items] == ["a.png"] and result.errors == []
    (line,) = [n for n in result.notes if "cannot be drawn" in n]
    assert "task 42, annotation 1, result 0 of b.png" in line
    assert f"{W + 1} x {H} x 4" in line and "brush code holds" in line


@pytest.mark.parametrize(
    ("region", "ref", "message"),
    [  # (regions that cannot be drawn are left out: test_labelstudio_objects_left_out)
        (None, "http://[abc/x.png", "cannot be read as a URL"),
        (None, "http://a\uff03b/x.png", "cannot be read as a URL"),
    ],
)  # fmt: skip
def test_malformed_regions_and_references_are_one_line_naming_their_task(
    tmp_path, region, ref, message
):
    results = [polygon(square(0, 0, 5, 5), "a")] + ([region] if region else [])
    tasks = [
        task(7, ref or "/data/upload/3/0a1b2c3d-a.png", [annotation(results)]),
        _one_polygon_task(8, "/data/upload/3/0a1b2c3d-b.png"),
    ]
    result = read(write(tmp_path / "e.json", tasks), background="ground")
    assert [i.image_name for i in result.items] == ["b.png"]
    ((_, reason),) = result.errors
    assert "task 7" in reason and message in reason and "\n" not in reason


@pytest.mark.parametrize(
    ("ref", "region", "message"),
    [
        ("http://[abc/x.png", None, "cannot be read as a URL (Invalid IPv6 URL)"),
        ("/data/upload/1/1a2b3c4d-cells_00.png", polygon(square(0, 0, 5, 5), "cell", w=9, h=9),
         "its regions give different image sizes (9x9, 256x256)"),
    ],
)  # fmt: skip
def test_a_malformed_task_stops_a_cli_import_in_one_line(tmp_path, capsys, ref, region, message):
    demo = tmp_path / "demo"
    assert main(["demo", str(demo)]) == 0
    results = [polygon(square(0, 0, 5, 5), "cell", w=256, h=256)] + ([region] if region else [])
    export = write(tmp_path / "ls" / "e.json", [task(3, ref, [annotation(results)])])
    capsys.readouterr()
    code = main(["import", str(demo), str(export), "--format", "labelstudio",
                 "--background", "background"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "internal error" not in err, err
    assert err.count("\n") == 1 and "task 3, annotation 1" in err and message in err


def test_regions_of_different_sizes_in_one_task_are_refused(tmp_path):
    results = [polygon(square(0, 0, 5, 5), "a"), polygon(square(0, 0, 5, 5), "b", w=50)]
    result = read(
        write(
            tmp_path / "e.json", [task(5, "/data/upload/3/0a1b2c3d-a.png", [annotation(results)])]
        )
    )
    assert result.items == [] and "task 5" in result.errors[0][1]
    assert "different image sizes (40x30, 50x30)" in result.errors[0][1]


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        ({"images": [], "annotations": [], "categories": []}, "looks like COCO"),
        ({"shapes": [], "imagePath": "x.jpg"}, "looks like labelme"),
        ([{"image": "x.jpg"}, {"image": "y.jpg"}], ""),
        ("just text", ""),
    ],
)
def test_a_file_that_is_not_an_export_is_one_clear_line(tmp_path, content, hint):
    result = read(write(tmp_path / "other.json", content))
    ((source, reason),) = result.errors
    assert reason.startswith(f"{tmp_path / 'other.json'}: not a Label Studio export: expected")
    assert "\n" not in reason and hint in reason


def test_an_export_without_tasks_says_so(tmp_path):
    result = read(write(tmp_path / "e.json", []))
    assert "no tasks" in result.errors[0][1]


def test_json_min_is_read_too(tmp_path):
    """JSON-MIN: one flat record per annotation, the regions under their tag's name."""
    region = polygon(square(0, 0, 10, 10), "a")["value"] | {
        "original_width": W,
        "original_height": H,
    }
    newer = {"image": "/data/upload/3/0a1b2c3d-a.png", "id": 1, "label": [region],
             "annotator": 1, "annotation_id": 2, "created_at": "2024-06-01T10:00:00Z",
             "updated_at": "2024-06-01T10:00:00Z", "lead_time": 3.2}  # fmt: skip
    older = newer | {"annotation_id": 1, "label": [], "updated_at": "2024-01-01T10:00:00Z"}
    bare = {"image": "/data/upload/3/0a1b2c3d-b.png", "id": 2, "annotator": None, "annotation_id": None,
            "created_at": None, "updated_at": None, "lead_time": None}  # fmt: skip
    result = read(write(tmp_path / "min.json", [newer, older, bare]))
    (item,) = result.items
    assert item.image_name == "a.png" and item.names == ("a",)
    assert (item.labels()[0:10, 0:10] == 0).all()
    assert result.annotations_ignored == 1 and result.nothing_to_import == 1


def test_older_json_min_without_sizes_takes_the_size_of_the_picture_beside(tmp_path):
    """As Label Studio's documentation shows JSON-MIN: no annotation_id, no sizes."""
    write_image(tmp_path / "a.png", (H, W))
    region = polygon(square(0, 0, 10, 10), "a")["value"]
    records = [
        {"image": "/data/upload/3/5a1b2c3d-a.png", "tag": [region]},
        {"image": "/data/upload/3/5a1b2c3d-b.png", "tag": [region]},
    ]
    result = read(write(tmp_path / "min.json", records))
    (item,) = result.items
    assert (item.width, item.height) == (W, H) and (item.labels()[0:10, 0:10] == 0).all()
    ((_, reason),) = result.errors
    assert "needs 'original_width' and 'original_height', or its picture beside" in reason


def test_a_picture_turned_by_its_exif_orientation_gives_its_size_as_shown(tmp_path):
    """Sizes of pictures beside the export come from formats.base.image_size (YOLO's
    reader uses it too): the project's reader, else Pillow's header, turned by 5-8."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned by 90 degrees
    Image.new("RGB", (H, W)).save(tmp_path / "a.jpg", exif=exif)  # stored H wide, W tall
    assert image_size(tmp_path / "a.jpg", ImportOptions(), "x") == (H, W)  # shown W x H
    asked = ImportOptions(image_size=lambda path: (7, 9))
    assert image_size(tmp_path / "a.jpg", asked, "x") == (7, 9)
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    with pytest.raises(FormatError, match=r"^task 2: cannot read the size of .*bad\.png \("):
        image_size(tmp_path / "bad.png", ImportOptions(), "task 2")
    region = polygon(square(0, 0, 10, 10), "a")["value"]  # percentages of the shown size
    (item,) = read(write(tmp_path / "min.json", [{"image": "a.jpg", "tag": [region]}])).items
    assert (item.height, item.width) == (H, W) and (item.labels()[0:10, 0:10] == 0).all()


# --- pictures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "folders", "name", "stripped"),
    [
        ("/data/upload/3/5a1b2c3d-photo.jpg", ["data", "upload", "3"], "5a1b2c3d-photo.jpg", "photo.jpg"),
        ("/data/local-files/?d=shots/day%201/photo.jpg", ["shots", "day 1"], "photo.jpg", None),
        ("s3://bucket/raw/5a1b2c3d-photo.jpg", ["bucket", "raw"], "5a1b2c3d-photo.jpg", None),
        ("https://host/img/a%20b.png?sig=1", ["img"], "a b.png", None),
        ("http://localhost:8080/data/upload/12/0f0f0f0f-x-y.png", ["data", "upload", "12"], "0f0f0f0f-x-y.png", "x-y.png"),
        ("/storage-data/uploaded/?filepath=upload/1/aaaaaaaa-z.tif", ["upload", "1"], "aaaaaaaa-z.tif", "z.tif"),
        ("/data/upload/3/photo.jpg", ["data", "upload", "3"], "photo.jpg", None),
        ("/data/upload/3/5A1B2C3D-photo.jpg", ["data", "upload", "3"], "5A1B2C3D-photo.jpg", None),
    ],
)  # fmt: skip
def test_picture_references(ref, folders, name, stripped):
    assert parse_reference(ref, "t") == (folders, name, stripped)


def test_an_embedded_picture_is_refused_in_one_line():
    with pytest.raises(FormatError, match="embedded in the task"):
        parse_reference("data:image/png;base64,AAAA", "task 1")


def _one_polygon_task(tid, ref):
    return task(tid, ref, [annotation([polygon(square(0, 0, 5, 5), "a")])])


def test_uploaded_names_lose_their_prefix_unless_the_picture_beside_keeps_it(tmp_path):
    write_image(tmp_path / "photo.png", (H, W))
    write_image(tmp_path / "upload" / "3" / "0123abcd-kept.png", (H, W))
    write_image(tmp_path / "images" / "inside.png", (H, W))
    write_image(tmp_path / "shots" / "day" / "local.png", (H, W))
    tasks = [
        _one_polygon_task(1, "/data/upload/3/5a1b2c3d-photo.png"),
        _one_polygon_task(2, "/data/upload/3/0123abcd-kept.png"),
        _one_polygon_task(3, "/data/upload/3/99999999-inside.png"),
        _one_polygon_task(4, "/data/local-files/?d=home/me/shots/day/local.png"),
        _one_polygon_task(5, "/data/upload/3/5a1b2c3d-elsewhere.png"),
        _one_polygon_task(6, "s3://bucket/a/b/elsewhere2.png"),
    ]
    result = read(write(tmp_path / "export.json", tasks))
    got = {i.image_name: (i.image_file, i.other_names) for i in result.items}
    assert got == {
        "photo.png": (tmp_path / "photo.png", ("5a1b2c3d-photo.png",)),
        "0123abcd-kept.png": (tmp_path / "upload/3/0123abcd-kept.png", ("kept.png",)),
        "inside.png": (tmp_path / "images/inside.png", ("99999999-inside.png",)),
        "local.png": (tmp_path / "shots/day/local.png", ()),
        "elsewhere.png": (None, ("5a1b2c3d-elsewhere.png",)),
        "elsewhere2.png": (None, ()),
    }


def test_a_task_without_an_annotation_brings_its_picture_to_label(tmp_path):
    write_image(tmp_path / "todo.png", (H, W))
    tasks = [
        task(1, "/data/upload/3/5a1b2c3d-todo.png"),
        task(2, "/data/upload/3/5a1b2c3d-gone.png"),
    ]
    result = read(write(tmp_path / "export.json", tasks), background="ground")
    (item,) = result.items
    assert item.image_name == "todo.png" and (item.labels() == UNLABELLED).all()  # not background
    assert result.nothing_to_import == 1


def test_a_folder_is_read_with_every_export_in_it(tmp_path):
    write(tmp_path / "a.json", [_one_polygon_task(1, "/data/upload/3/5a1b2c3d-a.png")])
    write(tmp_path / "b.json", [_one_polygon_task(2, "/data/upload/3/5a1b2c3d-b.png")])
    result = read(tmp_path)
    assert sorted(i.image_name for i in result.items) == ["a.png", "b.png"]
    with pytest.raises(FormatError, match="no Label Studio export"):
        read(tmp_path / "a.json" / "nothing")


# --- into a project ------------------------------------------------------------------------


def _project(tmp_path: Path, names: list[str], classes=("background", "a")) -> Project:
    project = Project.create(tmp_path / "project", LabelSchema.from_names(list(classes)))
    for k, name in enumerate(names):
        write_image(tmp_path / "originals" / name, (H, W), seed=k)
    project.add_images([tmp_path / "originals"])
    return project


def test_an_import_matches_uploaded_names_to_the_project_images(tmp_path):
    tasks = [
        task(1, "/data/upload/3/5a1b2c3d-one.png",
             [annotation([polygon(square(0, 0, 10, 10), "a"), polygon(square(20, 0, 30, 10), "new")])]),
        task(2, "/data/upload/3/0a0b0c0d-two.png", [annotation([brush(np.eye(H, W, dtype=bool), "a")])]),
    ]  # fmt: skip
    src = write(tmp_path / "ls" / "export.json", tasks)
    with _project(tmp_path, ["one.png", "two.png"]) as project:
        report = import_into_project(project, ImportRequest("labelstudio", src))
        assert report.skipped == [] and sorted(report.matched) == ["one.png", "two.png"]
        assert report.classes_added == ["new"] and report.added == []
        by_name = {r.name: r for r in project.images()}
        one = project.load_mask(by_name["one.png"])
        schema = project.schema
        assert (one[0:10, 0:10] == schema.by_name("a").id).all()
        assert (one[0:10, 20:30] == schema.by_name("new").id).all()
        assert one[20, 35] == schema.unlabelled
        two = project.load_mask(by_name["two.png"])
        assert np.array_equal(two == schema.by_name("a").id, np.eye(H, W, dtype=bool))
        assert by_name["two.png"].status.value == "done"


def test_strict_refuses_a_class_the_project_lacks(tmp_path):
    src = write(tmp_path / "ls" / "e.json", [task(1, "/data/upload/3/5a1b2c3d-one.png",
                [annotation([polygon(square(0, 0, 5, 5), "zebra")])])])  # fmt: skip
    with _project(tmp_path, ["one.png"]) as project:
        with pytest.raises(FormatError, match="zebra"):
            import_into_project(project, ImportRequest("labelstudio", src, strict=True))
        assert project.load_mask(project.images()[0]) is None


def test_a_file_that_is_not_an_export_stops_the_import_in_one_line(tmp_path):
    src = write(tmp_path / "ls" / "coco.json", {"images": [], "annotations": [], "categories": []})
    message = "not a Label Studio export.*--format coco"
    with _project(tmp_path, ["one.png"]) as project, pytest.raises(FormatError, match=message):
        import_into_project(project, ImportRequest("labelstudio", src))


def test_labelstudio_is_an_import_format_only():
    spec = get_format("labelstudio", for_import=True)
    assert spec.can_import and not spec.can_export
    with pytest.raises(FormatError, match="unknown export format"):
        get_format("labelstudio")


def test_cli_import_of_an_export_into_the_demo_project(tmp_path, capsys):
    """End to end: ``annotator demo``, then ``annotator import --format labelstudio`` of an
    export naming the demo's pictures as Label Studio stores uploads."""
    demo = tmp_path / "demo"
    assert main(["demo", str(demo)]) == 0
    side = 256
    cell = np.zeros((side, side), bool)
    cell[40:120, 60:200] = True
    tasks = [
        task(11, "/data/upload/1/1a2b3c4d-cells_00.png", [annotation([
            polygon(square(0, 0, 256, 256), "background", w=side, h=side),
            brush(cell, "cell"),
            polygon(square(100, 60, 140, 100), "nucleus", w=side, h=side),
            rectangle(10, 10, 30, 30, "debris", w=side, h=side),
        ])], [{"id": 1, "result": [polygon(square(0, 0, 9, 9), "predicted", w=side, h=side)]}]),
        task(12, "/data/upload/1/2b3c4d5e-cells_01.png", [
            annotation([polygon(square(0, 0, 50, 50), "debris", w=side, h=side)], id=5),
            annotation([], id=6, was_cancelled=True),
        ]),
        task(13, "/data/upload/1/3c4d5e6f-cells_02.png"),
    ]  # fmt: skip
    export = write(tmp_path / "ls" / "project-1-at-2024-06-01-10-00-1a2b3c4d.json", tasks)
    capsys.readouterr()
    code = main(["import", str(demo), str(export), "--format", "labelstudio"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (
        "imported 2 mask(s) from labelstudio: 2 matched to project images, 0 image(s) added"
        in out.out
    )
    assert "classes added: debris" in out.out
    assert "left out 1 annotation(s) that are a box without a mask" in out.out
    with Project.open(demo) as project:
        schema = project.schema
        assert schema.names[-1] == "debris" and "predicted" not in schema.names
        by_name = {r.name: r for r in project.images()}
        first = project.load_mask(by_name["cells_00.png"])
        assert (first[60:100, 100:140] == schema.by_name("nucleus").id).all()
        assert first[45, 65] == schema.by_name("cell").id
        assert first[200, 20] == schema.by_name("background").id
        second = project.load_mask(by_name["cells_01.png"])
        assert (second[:50, :50] == schema.by_name("debris").id).all()
        assert (second[60:, 60:] == schema.unlabelled).all()
        assert project.load_mask(by_name["cells_02.png"]) is None


def test_a_project_image_added_from_label_studios_upload_folder_is_matched_too(tmp_path):
    """A project made from Label Studio's media/upload folder has the prefixed names."""
    src = write(
        tmp_path / "ls" / "e.json", [_one_polygon_task(1, "/data/upload/3/5a1b2c3d-one.png")]
    )
    with _project(tmp_path, ["5a1b2c3d-one.png"]) as project:
        report = import_into_project(project, ImportRequest("labelstudio", src))
        assert report.skipped == [] and report.matched == ["5a1b2c3d-one.png"]
