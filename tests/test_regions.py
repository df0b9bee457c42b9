"""Protected painting, the proposal brush, accept region, smart regions, holes/specks."""

import numpy as np
import pytest

from annotator.core.labelmap import LabelMap
from annotator.core.smart import (
    Superpixels,
    SuperpixelSettings,
    grabcut,
    nearest_tile,
    superpixel_index,
    superpixel_tiles,
    superpixels,
    to_uint8_rgb,
)

U, V = 255, 254


def bright_disk(size, radius):
    """A noisy 16-bit square image with a bright disk in its centre, and the disk."""
    rng = np.random.default_rng(0)
    img = rng.normal(10000, 300, (size, size)).astype(np.uint16)
    yy, xx = np.mgrid[:size, :size]
    disk = (yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2
    img[disk] = rng.normal(40000, 300, disk.sum()).astype(np.uint16)
    return img, disk


def blank(h=40, w=40):
    return LabelMap(np.full((h, w), U, np.uint8), U, V)


def test_only_over_a_class_paints_that_class_and_nothing_else():
    lm = blank()
    lm.array[:, :20] = 1
    lm.array[:, 20:] = 2
    lm.array[:5, :] = U
    before = lm.array.copy()
    patch = lm.paint_stroke([(0, 20), (39, 20)], 8, 3, only_over=1)
    changed = lm.array != before
    assert changed.any() and not patch.empty
    assert (before[changed] == 1).all()  # class 2 and unlabelled untouched
    assert (lm.array[before == 2] == 2).all()
    lm.revert(patch)
    assert (lm.array == before).all()


@pytest.mark.parametrize("tool", ["stroke", "polygon", "lasso", "fill"])
def test_every_paint_tool_respects_protection(tool):
    lm = blank()
    lm.array[10:30, 10:30] = 1  # a neighbour object that must survive
    before = lm.array.copy()
    square = [(0, 0), (39, 0), (39, 39), (0, 39)]
    if tool == "stroke":
        lm.paint_stroke([(0, 20), (39, 20)], 15, 2, only_unlabelled=True)
    elif tool == "polygon":
        lm.fill_polygon(square, (), 2, only_over=U)
    elif tool == "lasso":
        lm.fill_lasso(square, 2, only_unlabelled=True)
    else:
        lm.flood_fill(20, 20, 2, only_over=U)  # seed is class 1: protected, no change
        assert (lm.array == before).all()
        lm.flood_fill(0, 0, 2, only_over=U)
    assert (lm.array[before == 1] == 1).all()
    assert (lm.array[before == U] == 2).any()


def test_proposal_brush_copies_the_proposal_under_the_stroke_only():
    lm = blank()
    proposal = np.full((40, 40), U, np.uint8)
    proposal[:, :20] = 1
    proposal[:, 20:30] = 2  # columns 30.. stay unlabelled in the proposal
    patch = lm.paint_stroke_from([(0, 10), (39, 10)], 3, proposal)
    rows = lm.array[7:14]
    assert (rows[:, :20] == 1).all() and (rows[:, 20:30] == 2).all()
    assert (rows[:, 30:] == U).all()  # the brush never erases
    assert (lm.array[20:] == U).all()
    assert patch.box.y0 >= 6 and patch.box.y1 <= 15


def test_accept_region_takes_one_connected_object():
    lm = blank()
    proposal = np.full((40, 40), 0, np.uint8)
    proposal[5:10, 5:10] = 1
    proposal[20:30, 20:30] = 1  # a second object of the same class, not connected
    patch = lm.assign_region(proposal, 7, 7)
    assert (lm.array[5:10, 5:10] == 1).all()
    assert (lm.array[20:30, 20:30] == U).all()
    assert patch.box == (5, 5, 10, 10)
    assert lm.assign_region(proposal, 100, 100).empty


def test_superpixel_brush_paints_whole_segments():
    img = np.zeros((40, 40), np.uint8)
    img[:, 20:] = 200
    segments = superpixels(img, SuperpixelSettings(size=10))
    assert segments.shape == (40, 40) and segments.dtype == np.int32
    touched = segments[5, 5]
    index = Superpixels.of(segments)
    for boxes in (None, index.boxes):  # with and without the bounding-box index
        lm = blank()
        lm.paint_segments(segments, [(5, 5)], 0, 1, boxes=boxes)
        assert (lm.array[segments == touched] == 1).all()
        assert (lm.array[segments != touched] == U).all()
    # SLIC follows the edge: no segment crosses the intensity step
    for s in np.unique(segments):
        cols = np.nonzero(segments == s)[1]
        assert cols.max() < 20 or cols.min() >= 20


def test_grabcut_finds_the_object_in_a_box_on_16_bit_data():
    img, disk = bright_disk(80, 15)
    box = np.zeros((80, 80), bool)
    box[15:66, 15:66] = True
    fg = grabcut(img, box)
    iou = (fg & disk).sum() / (fg | disk).sum()
    assert iou > 0.9
    assert not fg[~box].any()


def test_grabcut_keeps_other_classes_as_background():
    img = np.zeros((60, 60, 3), np.uint8)
    img[10:50, 10:50] = (200, 50, 50)
    img[10:50, 10:30] = (200, 60, 60)  # a neighbour of almost the same colour...
    labels = np.full((60, 60), U, np.uint8)
    labels[10:50, 10:30] = 2  # ...that the user already labelled as another class
    box = np.zeros((60, 60), bool)
    box[5:55, 5:55] = True
    fg = grabcut(img, box, labels=labels, value=1, unlabelled=U)
    assert not fg[labels == 2].any()
    assert fg[20:40, 35:45].mean() > 0.9


def test_fill_holes_fills_only_small_enclosed_regions():
    lm = blank()
    lm.array[5:35, 5:35] = 1
    lm.array[10:12, 10:12] = U  # a 4-pixel hole
    lm.array[15:30, 15:30] = 2  # a large enclosed region of another class
    lm.array[0:3, 0:3] = U  # touches the border: not enclosed
    patch = lm.fill_holes(1, max_area=10)
    assert (lm.array[10:12, 10:12] == 1).all()
    assert (lm.array[15:30, 15:30] == 2).all()
    assert patch.box == (10, 10, 12, 12)


def test_fill_holes_within_an_area_ignores_holes_outside_it():
    lm = blank()
    lm.array[:, :] = 1
    lm.array[5, 5] = U
    lm.array[30, 30] = U
    area = np.zeros((40, 40), bool)
    area[0:15, 0:15] = True
    lm.fill_holes(1, max_area=5, within=area)
    assert lm.array[5, 5] == 1 and lm.array[30, 30] == U


def test_remove_specks_relabels_small_pieces_with_their_surroundings():
    lm = blank()
    lm.array[:, :] = 2
    lm.array[5:7, 5:7] = 1  # a speck of class 1 inside class 2
    lm.array[20:35, 20:35] = 1  # a real object
    lm.remove_specks(1, max_area=10)
    assert (lm.array[5:7, 5:7] == 2).all()
    assert (lm.array[20:35, 20:35] == 1).all()


def test_to_uint8_rgb_handles_grey_multichannel_and_16_bit():
    assert to_uint8_rgb(np.zeros((4, 4), np.uint16)).shape == (4, 4, 3)
    assert to_uint8_rgb(np.zeros((4, 4, 5), np.uint8)).shape == (4, 4, 3)
    two = to_uint8_rgb(np.arange(32, dtype=np.float32).reshape(4, 4, 2))
    assert two.dtype == np.uint8 and two.shape == (4, 4, 3)


def test_grabcut_smooths_a_noisy_image_first_and_still_finds_the_object():
    from annotator.core.smart import NOISY, noise_ratio

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:80, :80]
    disk = (yy - 40) ** 2 + (xx - 40) ** 2 <= 14**2
    img = np.where(disk, 135.0, 70.0) + rng.normal(0, 30, (80, 80))
    img = np.clip(img, 0, 255).astype(np.uint8)
    assert noise_ratio(to_uint8_rgb(img)) > NOISY
    box = np.zeros((80, 80), bool)
    box[18:63, 18:63] = True
    fg = grabcut(img, box)
    assert (fg & disk).sum() / (fg | disk).sum() > 0.8
    unsmoothed = grabcut(img, box, smooth=0)
    assert (unsmoothed & disk).sum() / max(1, (unsmoothed | disk).sum()) < (fg & disk).sum() / (
        fg | disk
    ).sum()


def test_a_large_crop_is_cut_at_a_lower_resolution_with_the_same_answer():
    img, disk = bright_disk(120, 30)
    box = np.zeros((120, 120), bool)
    box[20:101, 20:101] = True
    full = grabcut(img, box)
    small = grabcut(img, box, max_pixels=60 * 60)  # about half the resolution
    assert (small & full).sum() / (small | full).sum() > 0.9
    assert (small & disk).sum() / (small | disk).sum() > 0.9
    assert not small[~box].any()


def test_a_lower_resolution_cut_still_keeps_the_sure_pixels():
    img = np.zeros((90, 90, 3), np.uint8)
    img[15:75, 15:75] = (200, 50, 50)
    img[15:75, 15:45] = (200, 60, 60)
    labels = np.full((90, 90), U, np.uint8)
    labels[15:75, 15:45] = 2  # another class, already labelled
    labels[40:42, 60:62] = 1  # two pixels of the class itself
    box = np.zeros((90, 90), bool)
    box[8:83, 8:83] = True
    fg = grabcut(img, box, labels=labels, value=1, unlabelled=U, max_pixels=30 * 30)
    assert not fg[labels == 2].any()
    assert fg[labels == 1].all()
    assert fg[25:65, 50:70].mean() > 0.9


def test_superpixel_tiles_cover_big_images_and_number_segments_uniquely():
    assert superpixel_tiles(1024, 700) == [(0, 0, 1024, 700)]  # up to 2 tiles: one piece
    tiles = superpixel_tiles(1100, 600, tile=512)
    assert tiles[0] == (0, 0, 512, 512) and tiles[-1] == (1024, 512, 1100, 600)
    covered = np.zeros((1100, 600), int)
    for y0, x0, y1, x1 in tiles:
        covered[y0:y1, x0:x1] += 1
    assert (covered == 1).all()
    assert tiles[nearest_tile(tiles, 1090, 10)] == (1024, 0, 1100, 512)
    assert tiles[nearest_tile(tiles, 5000, 5000)] == (1024, 512, 1100, 600)  # outside: nearest

    img = np.zeros((1100, 600), np.uint8)
    img[:, 300:] = 200
    index = superpixel_index(img, SuperpixelSettings(size=32))
    assert index.complete and (index.labels >= 0).all()
    ids = np.unique(index.labels)
    assert ids.tolist() == list(range(len(index.boxes)))
    for i in (0, len(ids) // 2, len(ids) - 1):  # each box is its segment's bounding box
        rows, cols = np.nonzero(index.labels == i)
        r, c = index.boxes[i]
        assert (r.start, r.stop, c.start, c.stop) == (
            rows.min(),
            rows.max() + 1,
            cols.min(),
            cols.max() + 1,
        )
    for y0, x0, y1, x1 in superpixel_tiles(1100, 600):  # no segment crosses a tile edge
        inside = np.unique(index.labels[y0:y1, x0:x1])
        outside = np.unique(
            np.concatenate(
                [
                    index.labels[:y0].ravel(),
                    index.labels[y1:].ravel(),
                    index.labels[:, :x0].ravel(),
                    index.labels[:, x1:].ravel(),
                ]
            )
        )
        assert not np.intersect1d(inside, outside).size
    # Small images stay one piece: the same segments as SLIC of the whole image.
    small = img[:200, :200]
    assert (superpixel_index(small).labels == superpixels(small)).all()
    with pytest.raises(ValueError, match="does not match"):
        Superpixels.blank(10, 10, 1).add_tile((0, 0, 10, 10), np.zeros((5, 5), np.int32))


def test_superpixel_brush_leaves_pixels_without_a_segment_alone():
    segments = np.full((40, 40), -1, np.int32)
    segments[:, :20] = 0
    lm = blank()
    lm.paint_segments(segments, [(25, 5)], 3, 1)  # only unsegmented pixels under the brush
    assert (lm.array == U).all()
    lm.paint_segments(segments, [(19, 5), (25, 5)], 3, 1, boxes=[(slice(0, 40), slice(0, 20))])
    assert (lm.array[:, :20] == 1).all() and (lm.array[:, 20:] == U).all()


def test_a_patch_computed_on_a_copy_lands_only_where_the_pixels_are_unchanged():
    lm = blank()
    lm.array[5:15, 5:15] = 1
    lm.array[8:10, 8:10] = U
    work = LabelMap(lm.array.copy(), U, V)
    patch = work.fill_holes(1, 10)
    assert (work.array[8:10, 8:10] == 1).all()
    lm.array[8, 8] = 2  # painted while the patch was computed
    landed = lm.land(patch)
    assert lm.array[8, 8] == 2 and (lm.array[9, 8:10] == 1).all() and lm.array[8, 9] == 1
    assert int(landed.changed().sum()) == 3
    with pytest.raises(ValueError, match="outside"):
        blank(8, 8).land(patch)
