"""labelme and YOLO polygons rely on paint order instead of cutting holes open; cuts
that remain are few. Checked with the consumers' own rasterisers (PIL for labelme,
ultralytics' truncation + cv2.fillPoly, largest first, for YOLO)."""

from __future__ import annotations

import cv2
import numpy as np
from fmthelpers import U, V
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from annotator.formats.coco import region_annotation
from annotator.formats.labelme import mask_to_shapes, shape_to_mask
from annotator.formats.polygons import class_regions, hole_free_pieces
from annotator.formats.yolo import mask_to_lines

NAMES = ["background", "cell", "membrane"]


def labelme_paint(shapes, shape):
    """labelme's shapes_to_label: shapes in list order, a later one wins; uncovered U."""
    out = np.full(shape, U, np.int64)
    lut = {n: i for i, n in enumerate(NAMES)} | {"__ignore__": V}
    for k, s in enumerate(shapes):
        out[shape_to_mask(shape, s, f"shape {k}")] = lut[s["label"]]
    return out


def yolo_paint(lines, shape, reverse_ties=False):
    """ultralytics' polygon2mask (float32 xy * size truncated, fillPoly) and
    polygons2masks_overlap (largest area first, a later one wins); ties either way."""
    h, w = shape
    masks, classes = [], []
    for line in lines:
        v = line.split()
        xy = np.array(v[1:], np.float32).reshape(-1, 2) * np.array([w, h], np.float32)
        m = np.zeros(shape, np.uint8)
        cv2.fillPoly(m, [xy.astype(np.int32).reshape(-1, 1, 2)], 1)
        masks.append(m.astype(bool))
        classes.append(int(v[0]))
    key = (lambda k: (-masks[k].sum(), -k)) if reverse_ties else (lambda k: -masks[k].sum())
    out = np.full(shape, U, np.int64)
    for k in sorted(range(len(masks)), key=key):
        out[masks[k]] = classes[k]
    return out


def widths(points_list):
    return [int(np.ptp(p[:, 0])) for p in points_list], [int(np.ptp(p[:, 1])) for p in points_list]


def yolo_points(lines, shape):
    h, w = shape
    return [
        (np.array(ln.split()[1:], np.float32).reshape(-1, 2) * [w, h]).astype(int) for ln in lines
    ]


def membrane_with_diagonals() -> np.ndarray:
    """ISBI-like: a membrane net (class 2) around cells (class 1), crossed by 1 px
    diagonal lines of class 0: every diagonal pixel is a hole of its own."""
    m = np.full((40, 48), 2, np.uint8)
    m[3:18, 3:20] = 1
    m[22:37, 5:22] = 1
    m[4:36, 26:45] = 1
    for i in range(30):
        m[5 + i, 8 + i] = 0  # crosses cells and membrane
        m[2 + i, 45 - i] = 0
    return m


def test_a_diagonal_line_inside_a_region_cuts_no_polygon_into_slivers():
    mask = membrane_with_diagonals()
    shapes = mask_to_shapes(mask, NAMES, V)
    lines = mask_to_lines(mask, len(NAMES))
    assert np.array_equal(labelme_paint(shapes, mask.shape), mask)
    assert np.array_equal(yolo_paint(lines, mask.shape), mask)
    assert np.array_equal(yolo_paint(lines, mask.shape, reverse_ties=True), mask)
    n_regions = len(list(class_regions(mask, range(3))))
    assert len(shapes) == len(lines) == n_regions  # one polygon per region, none cut
    # ultralytics drops instances whose box is 2 px wide or less (box_candidates)
    membrane = [p for ln, p in zip(lines, yolo_points(lines, mask.shape)) if ln[0] == "2"]
    w, h = widths(membrane)
    assert min(w) > 2 and min(h) > 2


def test_a_hole_holding_unlabelled_or_unwritten_pixels_is_still_cut_open():
    mask = np.full((12, 12), 1, np.uint8)
    mask[4:8, 4:8] = U  # unlabelled: nothing paints it
    mask[5, 5] = 2
    mask[1, 1:4] = V  # void: labelme writes it, YOLO does not
    shapes = mask_to_shapes(mask, NAMES, V)
    lines = mask_to_lines(mask, len(NAMES))
    assert np.array_equal(labelme_paint(shapes, mask.shape), mask)
    assert np.array_equal(yolo_paint(lines, mask.shape), np.where(mask == V, U, mask))
    cells_yolo = sum(ln.startswith("1 ") for ln in lines)
    cells_labelme = sum(s["label"] == "cell" for s in shapes)
    assert cells_labelme >= 2  # the unlabelled hole is cut open
    assert cells_yolo > cells_labelme  # and the void one too, for YOLO only


maps = st.tuples(st.integers(1, 16), st.integers(1, 16)).flatmap(
    lambda hw: arrays(np.uint8, hw, elements=st.sampled_from([0, 1, 2, V, U]))
)


@settings(max_examples=150, deadline=None)
@given(maps)
def test_painted_polygons_give_back_exactly_the_written_pixels(mask):
    shapes = mask_to_shapes(mask, NAMES, V)
    assert np.array_equal(labelme_paint(shapes, mask.shape), mask)
    lines = mask_to_lines(mask, len(NAMES))
    want = np.where(mask == V, U, mask)
    assert np.array_equal(yolo_paint(lines, mask.shape), want)
    assert np.array_equal(yolo_paint(lines, mask.shape, reverse_ties=True), want)


def test_holes_that_share_columns_are_opened_by_one_cut():
    """COCO keeps cutting holes open (each annotation decodes alone): with the fewest
    columns that meet every hole, two overlapping holes take one cut, not two."""
    mask = np.ones((9, 10), np.uint8)
    mask[2, 2:6] = 0  # hole spanning columns 2..5
    mask[6, 4:8] = 0  # hole spanning columns 4..7, other rows
    ((region),) = list(class_regions(mask, [1]))
    assert len(hole_free_pieces(region)) == 2
    ann = region_annotation(region, mask.shape, "polygon")
    assert len(ann["segmentation"]) == 2
