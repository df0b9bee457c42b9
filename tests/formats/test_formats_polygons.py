"""mask -> polygons -> mask is exact under each tool's rasteriser."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pycocotools import mask as mask_utils

from annotator.formats.polygons import (
    class_regions,
    draw_pil_polygon,
    fill_centre_polygons,
    hole_free_pieces,
    pad_to_three,
    region_polygons,
)

label_maps = st.tuples(st.integers(1, 14), st.integers(1, 14)).flatmap(
    lambda hw: arrays(np.uint8, hw, elements=st.integers(0, 3))
)


def coco_decode(polys, shape):
    segs = [pad_to_three(p).astype(float).ravel().tolist() for p in polys]
    rle = mask_utils.merge(mask_utils.frPyObjects(segs, shape[0], shape[1]))
    return mask_utils.decode(rle).astype(bool)


def pil_draw(polys, shape):
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    for p in polys:
        draw_pil_polygon(canvas, pad_to_three(p))
    return np.asarray(canvas).astype(bool)


def check_exact(label_map):
    shape = label_map.shape
    seen = np.zeros(shape, bool)
    for (region, corner), (region2, centre) in zip(
        region_polygons(label_map, range(4), "corner"),
        region_polygons(label_map, range(4), "centre"),
        strict=True,
    ):
        truth = region.full(shape).astype(bool)
        assert np.array_equal(region2.full(shape).astype(bool), truth)
        assert np.array_equal(coco_decode(corner, shape), truth)
        assert np.array_equal(pil_draw(centre, shape), truth)
        assert np.array_equal(fill_centre_polygons(shape, centre), truth)
        assert not np.any(seen & truth)
        seen |= truth
    assert seen.all()


@settings(max_examples=150, deadline=None)
@given(label_maps)
def test_polygons_give_back_exactly_the_pixels_of_every_region(label_map):
    check_exact(label_map)


def test_ring_hole_island_and_single_pixels_survive(masks):
    check_exact(np.where(masks["crafted"] > 3, 3, masks["crafted"]))


def test_a_region_with_a_hole_is_cut_into_hole_free_pieces():
    ring = np.zeros((7, 7), np.uint8)
    ring[1:6, 1:6] = 1
    ring[3, 3] = 0
    (region,) = list(class_regions(ring, [1]))
    pieces = hole_free_pieces(region)
    assert len(pieces) >= 2
    total = sum(int(m.sum()) for m, _, _ in pieces)
    assert total == region.area == 24


def test_one_pixel_region_traces_to_its_four_corners():
    one = np.zeros((3, 3), np.uint8)
    one[1, 1] = 1
    ((region, polys),) = list(region_polygons(one, [1], "corner"))
    assert sorted(map(tuple, polys[0].tolist())) == [(1, 1), (1, 2), (2, 1), (2, 2)]
