"""LabelMap operations on plain arrays: what each edit paints and the patch it returns."""

import numpy as np
import pytest

from annotator.core.labelmap import Box, LabelMap
from annotator.core.schema import LabelSchema

SCHEMA = LabelSchema.from_names(["background", "cell", "membrane"])
U = SCHEMA.unlabelled


def blank(h=40, w=50) -> LabelMap:
    return LabelMap.blank(SCHEMA, h, w)


def test_blank_map_is_unlabelled_with_schema_reserved_values():
    lm = blank()
    assert lm.dtype == np.uint8
    assert (lm.array == 255).all()
    assert lm.unlabelled == 255 and lm.void == 254
    assert lm.labelled_count() == 0


def test_paint_disk_covers_pixel_centres_within_radius():
    lm = blank()
    patch = lm.paint_disk(10, 20, 3, 1)
    yy, xx = np.mgrid[0:40, 0:50]
    expected = (xx - 10) ** 2 + (yy - 20) ** 2 <= 9
    assert ((lm.array == 1) == expected).all()
    assert patch.box.y0 <= 17 and patch.box.y1 >= 24 and patch.box.x0 <= 7 and patch.box.x1 >= 14
    assert (patch.old == U).all()
    assert (patch.new == lm.array[patch.box.slices]).all()


def test_radius_zero_paints_exactly_the_nearest_pixel():
    lm = blank()
    lm.paint_disk(5.2, 7.4, 0, 2)
    assert lm.labelled_count() == 1
    assert lm.array[7, 5] == 2


def test_fast_drag_stroke_leaves_no_gap():
    lm = blank(20, 200)
    lm.paint_stroke([(2, 10), (190, 10)], 1, 1)
    assert (lm.array[10, 2:191] == 1).all()
    # the stroke is a capsule of radius 1: rows 9..11 painted, 8 and 12 not
    assert (lm.array[9, 5:185] == 1).all() and (lm.array[11, 5:185] == 1).all()
    assert (lm.array[8] == U).all() and (lm.array[12] == U).all()


def test_diagonal_stroke_is_connected():
    lm = blank(100, 100)
    import cv2

    lm.paint_stroke([(3, 3), (96, 90)], 0.5, 1)  # one pixel wide: 8-connected
    n, _ = cv2.connectedComponents((lm.array == 1).astype(np.uint8), connectivity=8)
    assert n == 2  # background + one stroke
    lm.paint_stroke([(3, 90), (96, 3)], 1, 2)  # radius 1: 4-connected
    n, _ = cv2.connectedComponents((lm.array == 2).astype(np.uint8), connectivity=4)
    assert n == 2


def test_stroke_clipped_at_image_border_and_fully_outside_is_empty():
    lm = blank()
    patch = lm.paint_stroke([(-5, -5), (2, 2)], 3, 1)
    assert patch.box.y0 == 0 and patch.box.x0 == 0
    assert lm.array[0, 0] == 1
    assert lm.paint_stroke([(-50, -50)], 3, 1).empty


def test_only_unlabelled_protects_existing_labels():
    lm = blank()
    lm.paint_disk(10, 10, 4, 1)
    lm.paint_disk(14, 10, 4, 2, only_unlabelled=True)
    assert lm.array[10, 10] == 1  # kept
    assert lm.array[10, 17] == 2  # newly painted


def test_erase_writes_unlabelled():
    lm = blank()
    lm.paint_disk(10, 10, 5, 1)
    lm.erase_stroke([(10, 10)], 2)
    assert lm.array[10, 10] == U
    assert lm.array[10, 14] == 1


def test_flood_fill_fills_the_connected_region_of_equal_label_only():
    lm = blank(30, 30)
    lm.array[:, 15] = 0  # a wall
    patch = lm.flood_fill(3, 3, 1)
    assert (lm.array[:, :15] == 1).all()
    assert (lm.array[:, 16:] == U).all()
    assert (lm.array[:, 15] == 0).all()
    assert patch.box == Box(0, 0, 30, 15)


def test_flood_fill_with_same_value_or_outside_changes_nothing():
    lm = blank()
    assert lm.flood_fill(3, 3, U).empty
    assert lm.flood_fill(-3, 3, 1).empty


def test_flood_fill_bounded_by_image_intensity():
    lm = blank(30, 30)
    image = np.zeros((30, 30), np.uint8)
    image[10:20, 10:20] = 200  # a bright square in the image, nothing labelled
    lm.flood_fill(15, 15, 1, image=image, tolerance=20)
    assert (lm.array[10:20, 10:20] == 1).all()
    assert lm.labelled_count() == 100
    # without tolerance the same click fills everything unlabelled
    lm2 = blank(30, 30)
    lm2.flood_fill(15, 15, 1, image=image)
    assert lm2.labelled_count() == 900


def test_fill_polygon_uses_pixel_centres_inside_or_on_the_boundary():
    lm = blank(10, 10)
    lm.fill_polygon([(1, 1), (4, 1), (4, 4), (1, 4)], value=2)
    expected = np.zeros((10, 10), bool)
    expected[1:5, 1:5] = True
    assert ((lm.array == 2) == expected).all()


def test_fill_polygon_cuts_out_holes():
    lm = blank(30, 30)
    square = [(2, 2), (27, 2), (27, 27), (2, 27)]
    hole = [(10, 10), (19, 10), (19, 19), (10, 19)]
    lm.fill_polygon(square, [hole], value=1)
    assert lm.array[5, 5] == 1
    assert lm.array[15, 15] == U
    assert lm.array[27, 27] == 1


def test_self_intersecting_lasso_fills_both_lobes():
    lm = blank(30, 30)
    bowtie = [(2, 2), (27, 27), (27, 2), (2, 27)]  # crosses itself at (14.5, 14.5)
    lm.fill_lasso(bowtie, 1)
    assert lm.array[14, 4] == 1  # left lobe
    assert lm.array[14, 25] == 1  # right lobe
    assert lm.array[4, 14] == U  # top, outside both


def test_degenerate_polygon_changes_nothing():
    lm = blank()
    assert lm.fill_polygon([(1, 1), (5, 5)], value=1).empty
    assert lm.fill_polygon([(1, 1), (5, 5), (9, 9)], value=1).empty  # zero area
    assert lm.labelled_count() == 0


def test_assign_with_mask_is_one_patch_over_its_bounding_box():
    lm = blank(20, 20)
    lm.paint_disk(3, 3, 2, 2)
    proposal = np.ones((20, 20), np.uint8)
    where = lm.array == U
    where[:, 15:] = False
    patch = lm.assign(proposal, where)
    assert lm.array[3, 3] == 2  # kept: was labelled
    assert lm.array[10, 10] == 1
    assert (lm.array[:, 15:] == U).all()
    assert patch.box == Box(0, 0, 20, 15)


def test_apply_and_revert_round_trip():
    lm = blank()
    before = lm.copy_array()
    patch = lm.paint_stroke([(5, 5), (30, 20)], 4, 1)
    after = lm.copy_array()
    lm.revert(patch)
    assert (lm.array == before).all()
    lm.apply(patch)
    assert (lm.array == after).all()


def test_bad_values_and_shapes_are_rejected():
    lm = blank()
    with pytest.raises(ValueError):
        lm.paint_disk(1, 1, 1, 300)
    with pytest.raises(ValueError):
        lm.assign(1, np.ones((3, 3), bool))
    with pytest.raises(ValueError):
        LabelMap(np.zeros((3, 3, 3), np.uint8), 255, 254)


def test_uint16_maps_work_for_large_schemas():
    schema = LabelSchema.from_names([f"c{i}" for i in range(300)])
    lm = LabelMap.blank(schema, 20, 20)
    assert lm.dtype == np.uint16 and lm.unlabelled == 65535
    lm.paint_disk(5, 5, 2, 299)
    assert lm.array[5, 5] == 299


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((30, 20), np.uint8),
        ((30, 20, 3), np.uint8),
        ((30, 20, 2), np.uint8),
        ((30, 20), np.uint16),
        ((30, 20, 4), np.uint8),
        ((30, 20), np.float32),
        ((30, 20, 3), np.float64),
        ((30, 20, 5), np.uint8),
        ((30, 20), np.int32),
    ],
)
def test_the_wand_tolerance_matches_every_channel_within_it(shape, dtype):
    from annotator.core.labelmap import _near

    rng = np.random.default_rng(1)
    scale = 1.0 if np.dtype(dtype).kind == "f" else 255
    image = (rng.random(shape) * scale).astype(dtype)
    for tolerance in (0.0, 0.1, 3.0, 10.5):
        diff = np.abs(image.astype(np.float64) - image[7, 9].astype(np.float64))
        want = (diff if diff.ndim == 2 else diff.max(axis=2)) <= tolerance
        assert np.array_equal(_near(image, 7, 9, tolerance), want), (dtype, tolerance)


def test_a_fill_to_edges_clicked_on_a_nan_pixel_changes_nothing():
    """A NaN seed is near nothing, itself included; the flood then filled the region of
    pixels that were not eligible: the whole image, other classes too."""
    lm = LabelMap.blank(LabelSchema.from_names(["a", "b"]), 6, 6)
    lm.array[:, 3:] = 1
    image = np.linspace(0, 1, 36, dtype=np.float32).reshape(6, 6)
    image[2, 1] = np.nan
    patch = lm.flood_fill(1, 2, 0, image=image, tolerance=0.5)
    assert patch.empty and (lm.array[:, 3:] == 1).all() and (lm.array[:, :3] == 255).all()
    lm.flood_fill(0, 0, 0, image=image, tolerance=0.5)  # a finite seed still fills
    assert lm.array[0, 0] == 0 and lm.array[2, 1] == 255  # the NaN pixel is near nothing


def test_a_radius_0_dab_on_a_pixel_corner_still_paints_one_pixel():
    """Half a pixel from all four pixels around it, it painted none."""
    lm = blank(4, 4)
    lm.paint_disk(1.5, 1.5, 0, 1)
    assert list(zip(*np.nonzero(lm.array == 1))) == [(2, 2)]
    lm = blank(4, 4)
    lm.paint_disk(3.5, 3.5, 0, 1)  # the image's own corner: its last pixel
    assert list(zip(*np.nonzero(lm.array == 1))) == [(3, 3)]
    lm = blank(4, 4)
    lm.paint_disk(-0.9, 2, 0, 1)  # outside, nearer no pixel than a corner is: nothing
    assert lm.labelled_count() == 0


def _reference_fill(labels, image, r, c, tolerance):
    """What a fill covers, computed the plain way: the 4-connected component around
    (r, c) of the pixels labelled as it is (and, with a picture, near it in every
    channel)."""
    import cv2

    eligible = labels == labels[r, c]
    if image is not None:
        seed = image[r, c].astype(np.float64)
        diff = np.abs(image.astype(np.float64) - seed)
        eligible &= (diff if diff.ndim == 2 else diff.max(axis=2)) <= tolerance
    _, components = cv2.connectedComponents(eligible.astype(np.uint8), connectivity=4)
    return components == components[r, c]


@pytest.mark.parametrize("shape", [(40, 50), (40, 50, 3)])
@pytest.mark.parametrize("tolerance", [None, 0.0, 0.5, 7.0, 10.5, 300.0])
def test_a_fill_covers_the_region_a_plain_comparison_finds(shape, tolerance):
    """The fill floods the 8-bit label map, or the 8-bit picture with the other labels
    masked off, without comparing every pixel first: the same pixels as the plain way
    (blobs of labels, a noisy picture), 4-connected (a diagonal does not join)."""
    rng = np.random.default_rng(3)
    for trial in range(12):
        labels = rng.choice(np.array([0, 1, U], np.uint8), size=shape[:2], p=[0.2, 0.2, 0.6])
        bright = np.kron(rng.random((8, 10)) < 0.5, np.ones((5, 5))) * 60  # 5 px blocks
        noise = rng.random(shape) * 12
        image = (noise + (bright if len(shape) == 2 else bright[..., None])).astype(np.uint8)
        r, c = (int(v) for v in rng.integers(0, 40, 2))
        lm = LabelMap(labels.copy(), U, 254)
        want = _reference_fill(labels, None if tolerance is None else image, r, c, tolerance)
        patch = lm.flood_fill(
            c, r, 2, image=None if tolerance is None else image, tolerance=tolerance
        )
        changed = lm.array != labels
        assert np.array_equal(changed, want if labels[r, c] != 2 else np.zeros_like(want)), trial
        assert patch.box == Box(*_box_of(want)), trial


def _box_of(mask):
    rows, cols = np.nonzero(mask)
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def test_a_fill_to_edges_of_an_8_bit_picture_compares_only_the_region(monkeypatch):
    """On an 8000 x 6000 RGB picture comparing every pixel with the seed first took
    30-40 ms of a fill's 50-60 (fill to edges): an 8-bit grey or RGB picture is now
    flooded by OpenCV itself, never compared whole."""
    import annotator.core.labelmap as labelmap

    def whole(*_args, **_kw):
        raise AssertionError("the whole picture was compared with the seed")

    monkeypatch.setattr(labelmap, "_near", whole)
    for image in (np.zeros((30, 30), np.uint8), np.zeros((30, 30, 3), np.uint8)):
        image[10:20, 10:20] = 200
        lm = blank(30, 30)
        lm.flood_fill(15, 15, 1, image=image, tolerance=20)
        assert (lm.array[10:20, 10:20] == 1).all() and lm.labelled_count() == 100
    with pytest.raises(AssertionError, match="whole picture"):  # (16-bit: compared whole)
        blank(30, 30).flood_fill(15, 15, 1, image=image.astype(np.uint16), tolerance=20)


def test_a_fill_on_a_16_bit_map_covers_the_same_region():
    schema = LabelSchema.from_names([f"k{i}" for i in range(300)])
    labels = np.full((20, 30), schema.unlabelled, np.uint16)
    labels[:, 10] = 299  # a wall
    labels[5, :] = 299
    lm = LabelMap(labels.copy(), schema.unlabelled, schema.void)
    patch = lm.flood_fill(2, 2, 280)
    assert (lm.array[:5, :10] == 280).all() and (lm.array != labels).sum() == 50
    assert patch.box == Box(0, 0, 5, 10)


def test_has_labels_says_whether_any_pixel_is_labelled():
    from annotator.core.status import ImageStatus, status_after_save

    lm = blank()
    assert not lm.has_labels()
    lm.array[39, 49] = 254  # void counts as labelled, as in labelled_count
    assert lm.has_labels()
    lm.array[39, 49] = 0
    assert lm.has_labels()
    wide = LabelMap(np.full((4, 5), 65535, np.uint16), 65535, 65534)
    assert not wide.has_labels()
    wide.array[0, 0] = 300
    assert wide.has_labels()
    assert not LabelMap(np.zeros((0, 5), np.uint8), U, 254).has_labels()
    assert status_after_save(ImageStatus.NEW, True) is ImageStatus.IN_PROGRESS
    assert status_after_save(ImageStatus.NEW, False) is ImageStatus.NEW
    assert status_after_save(ImageStatus.IN_PROGRESS, False) is ImageStatus.IN_PROGRESS
    assert status_after_save(ImageStatus.DONE, True) is ImageStatus.DONE
    # a done image whose labels were all erased (undone) is no longer done: done with
    # nothing labelled trained nothing and N skipped it (found by an audit)
    assert status_after_save(ImageStatus.DONE, False) is ImageStatus.IN_PROGRESS


def _sampled_fill(labels, image, r, c, tolerance, sample):
    """What a fill to edges measured from the mean of the sample x sample square around
    (r, c) covers, the plain way: the pixels near that mean (and the seed, clicked)."""
    import cv2

    half = sample // 2
    window = image[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
    values = window.reshape(window.shape[0] * window.shape[1], -1).astype(np.float64)
    ref = values[np.isfinite(values).all(axis=1)].mean(axis=0)
    diff = np.abs(image.astype(np.float64).reshape(*image.shape[:2], -1) - ref)
    eligible = (labels == labels[r, c]) & (diff <= tolerance).all(axis=2)
    eligible[r, c] = True
    _, components = cv2.connectedComponents(eligible.astype(np.uint8), connectivity=4)
    return components == components[r, c]


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((40, 50), np.uint8),
        ((40, 50, 3), np.uint8),
        ((40, 50), np.uint16),
        ((40, 50, 3), np.uint16),
        ((40, 50), np.float32),
        ((40, 50, 2), np.uint8),
    ],
)
@pytest.mark.parametrize("sample", [3, 5])
def test_a_fill_to_edges_measures_from_the_mean_around_the_click(shape, dtype, sample):
    """The tolerance is measured from the mean of the sample x sample pixels around the
    click (cut by the border, NaN left out), not from the clicked pixel: the same pixels
    as the plain way, on the 8-bit flood and the compared path alike, clicked pixels
    outside the range included (they join; the region spreads from them)."""
    rng = np.random.default_rng(5)
    scale = 1.0 if np.dtype(dtype).kind == "f" else 255
    for trial in range(30):
        labels = rng.choice(np.array([0, 1, U], np.uint8), size=shape[:2], p=[0.1, 0.1, 0.8])
        bright = np.kron(rng.random((8, 10)) < 0.5, np.ones((5, 5))) * 0.4 * scale
        noise = rng.normal(0, 0.08 * scale, shape)
        image = np.clip(
            noise + 0.3 * scale + (bright if len(shape) == 2 else bright[..., None]), 0, scale
        )
        image = image.astype(dtype)
        if dtype == np.float32:
            image[rng.random(shape[:2]) < 0.05] = np.nan
        r, c = int(rng.integers(0, 40)), int(rng.integers(0, 50))
        if r < 3:
            r = 0  # a square cut by the border
        if not np.isfinite(image[r, c]).all():
            continue
        tolerance = 0.0799 * scale  # (no ties with a mean of whole numbers)
        want = _sampled_fill(labels, image, r, c, tolerance, sample)
        lm = LabelMap(labels.copy(), U, 254)
        patch = lm.flood_fill(c, r, 2, image=image, tolerance=tolerance, sample=sample)
        changed = lm.array != labels
        assert np.array_equal(changed, want if labels[r, c] != 2 else np.zeros_like(want)), trial
        if labels[r, c] != 2:
            assert patch.box == Box(*_box_of(want)), trial


def test_a_clicked_pixel_far_from_the_mean_around_it_joins_and_the_fill_spreads():
    """A noisy pixel clicked: it joins, and its neighbours near the mean fill, on the
    8-bit flood (which measures its range from the pixel it starts at) and elsewhere."""
    for dtype in (np.uint8, np.uint16):
        for channels in ((), (3,)):
            image = np.full((9, 9, *channels), 100, dtype)
            image[:, 6:] = 30  # another object
            image[4, 2] = 200  # the clicked pixel: 100 from the mean's 104
            lm = blank(9, 9)
            lm.flood_fill(2, 4, 1, image=image, tolerance=10, sample=5)
            want = np.zeros((9, 9), bool)
            want[:, :6] = True
            assert np.array_equal(lm.array == 1, want), (dtype, channels)
            lm = blank(9, 9)
            lm.flood_fill(2, 4, 1, image=image, tolerance=10)  # the pixel alone: itself
            assert lm.labelled_count() == 1, (dtype, channels)


def test_a_sampled_fill_to_edges_leaves_nan_out_and_starts_on_no_nan():
    lm = blank(6, 6)
    image = np.full((6, 6), 0.5, np.float32)
    image[1, 1] = np.nan  # in the window: left out of the mean, never joins
    image[4, 4] = np.nan
    lm.flood_fill(2, 2, 1, image=image, tolerance=0.01, sample=5)
    assert lm.labelled_count() == 34 and lm.array[1, 1] == U
    assert lm.flood_fill(4, 4, 0, image=image, tolerance=0.5, sample=5).empty
    with pytest.raises(ValueError, match="odd"):
        lm.flood_fill(0, 0, 0, image=image, tolerance=0.5, sample=4)


def test_a_sampled_fill_to_edges_covers_a_noisy_object_at_every_click():
    """A bright disc on a darker background, noise of about the tolerance: measured from
    the clicked pixel the fill was a speck or most of the disc depending on that pixel's
    noise; from the 5 x 5 mean it covers most of the disc at every click."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:160, :160]
    disc = (yy - 80) ** 2 + (xx - 80) ** 2 <= 50**2
    image = np.clip(np.where(disc, 160.0, 60.0) + rng.normal(0, 15, disc.shape), 0, 255)
    image = image.astype(np.uint8)
    inner = np.argwhere((yy - 80) ** 2 + (xx - 80) ** 2 <= 40**2)
    clicks = inner[rng.choice(len(inner), 40, replace=False)]
    areas = {}
    for sample in (1, 5):
        filled = []
        for r, c in clicks:
            lm = blank(160, 160)
            lm.flood_fill(int(c), int(r), 1, image=image, tolerance=20, sample=sample)
            assert not (lm.array[~disc] == 1).any()  # never through the edge
            filled.append((lm.array == 1).sum() / disc.sum())
        areas[sample] = np.array(filled)
    assert areas[5].min() > 0.7 and areas[5].std() < 0.03
    assert areas[1].min() < 0.1 and areas[1].std() > 5 * areas[5].std()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_values_present_are_np_unique_of_the_map(dtype):
    from annotator.core.labelmap import values_present

    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max
    labels = rng.choice(np.array([0, 2, 7, top - 1, top], dtype), size=(40, 30))
    for view in (labels, labels[::2, 1::3], labels[:0], np.full((3, 3), top, dtype)):
        got = values_present(view)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.unique(view))
