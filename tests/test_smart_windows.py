"""The smart tools see the picture through the window it is shown with (ADR 0036).

A CT slice's automatic window runs from air to bone: liver (60 HU) beside muscle (40 HU)
is 2.5 grey levels apart, and SLIC and GrabCut follow other edges. Through the soft
tissue preset (W400 L40) the border is 13 levels, as the user sees it.
"""

from __future__ import annotations

import numpy as np
import pytest
from cthelpers import LIVER, SOFT_TISSUE, ct_slice, straddle

from annotator.core.contrast import display_pixels
from annotator.core.smart import grabcut, superpixels, tile_superpixels, to_uint8_rgb


@pytest.mark.parametrize("seed", [0, 1])
def test_superpixels_follow_the_border_the_window_shows(seed):
    image, liver, inside = ct_slice(seed)
    auto = straddle(superpixels(image), liver, inside)
    soft = straddle(superpixels(image, windows=SOFT_TISSUE), liver, inside)
    narrow = straddle(superpixels(image, windows=LIVER), liver, inside)
    # Measured (seeds 0, 1): automatic (82, 723) and (83, 714) of 256-pixel segments;
    # soft tissue (13, 72) and (18, 92); liver (3, 16) and (3, 12).
    assert auto[0] >= 60 and auto[1] >= 500
    assert soft[0] <= 25 and soft[1] <= 150
    assert narrow[0] <= 5 and narrow[1] <= 30


def test_a_tile_of_a_big_picture_sees_the_window_too():
    """A tile (ADR 0011) holding the liver, muscle, the wall and air: without a window it
    is stretched by its own percentiles, air to bone."""
    image, liver, inside = ct_slice(0)
    tile = (64, 128, 192, 256)
    crop = (slice(64, 192), slice(128, 256))
    soft = tile_superpixels(image, tile, windows=SOFT_TISSUE)
    assert np.array_equal(soft, superpixels(image[crop], windows=SOFT_TISSUE))
    auto = tile_superpixels(image, tile)
    assert (
        straddle(soft, liver[crop], inside[crop])[1] * 4
        < straddle(auto, liver[crop], inside[crop])[1]
    )


def test_grabcut_in_a_box_takes_the_liver_the_window_shows():
    """A box round the liver whose margin holds the body's wall (bone) and air: cut by
    the crop's own percentiles (-1000 to 1000) GrabCut also takes the muscle between the
    liver and the wall (IoU 0.76 here; OpenCV's k-means draws at random, so it varies
    from run to run: 0.62 to 1.0 over scenes and draws); through the soft tissue window
    it takes the liver (1.00 in every draw tried)."""
    image, liver, _inside = ct_slice(0)
    ys, xs = np.nonzero(liver)
    box = np.zeros(image.shape, bool)
    box[ys.min() - 12 : ys.max() + 13, xs.min() - 12 : xs.max() + 13] = True

    def iou(windows, draw: int) -> float:
        found = grabcut(image, box, windows=windows, seed=draw)
        return float((found & liver).sum() / (found | liver).sum())

    for draw in (0, 1, 7):
        assert iou(None, draw) < 0.85
        assert iou(SOFT_TISSUE, draw) > 0.95


def test_the_smart_tools_see_the_pixels_the_display_shows():
    rng = np.random.default_rng(0)
    grey = rng.integers(-1024, 2000, (40, 50)).astype(np.int16)
    seen = to_uint8_rgb(grey, SOFT_TISSUE)
    shown = display_pixels(grey, SOFT_TISSUE, lambda: SOFT_TISSUE)
    assert seen.shape == (40, 50, 3) and all((seen[..., c] == shown).all() for c in range(3))
    rgb = rng.integers(0, 60000, (40, 50, 4)).astype(np.uint16)  # RGBA: the first three
    windows = ((0.0, 1000.0), (500.0, 60000.0), (100.0, 200.0))
    assert np.array_equal(to_uint8_rgb(rgb, windows), display_pixels(rgb, windows, list))
    two = rng.random((40, 50, 2)).astype(np.float32)  # magenta and green, as shown
    two[3, 4] = np.nan  # no value: black
    windows = ((0.0, 0.5), (0.25, 1.0))
    seen = to_uint8_rgb(two, windows)
    assert np.array_equal(seen, display_pixels(two, windows, list))
    assert (seen[3, 4] == 0).all() and np.array_equal(seen[..., 0], seen[..., 2])
    eight = rng.integers(0, 255, (40, 50)).astype(np.uint8)  # a window on an 8-bit picture
    assert (
        to_uint8_rgb(eight, ((100.0, 150.0),))[..., 0] == display_pixels(eight, ((100, 150),), list)
    ).all()
    with pytest.raises(ValueError, match="2 contrast windows for 1 channels"):
        to_uint8_rgb(grey, ((0.0, 1.0), (0.0, 1.0)))


def test_without_a_window_the_smart_tools_are_as_before():
    """The simulated annotator and ``annotator bench`` pass no window: each tile still
    stretched by its own percentiles (the 8-bit view before windows)."""
    image, _liver, _inside = ct_slice(0)
    lo, hi = np.percentile(image, (0.5, 99.5))
    stretched = np.clip((image.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
    expected = np.repeat(stretched.astype(np.uint8)[..., None], 3, axis=2)
    assert np.array_equal(to_uint8_rgb(image), expected)
    assert np.array_equal(to_uint8_rgb(image, None), expected)
    assert np.array_equal(superpixels(image, windows=None), superpixels(image))


def test_grabcut_gives_one_answer_on_any_thread_whatever_its_generator_drew_before():
    """OpenCV's k-means start draws from a generator per thread: the app's worker thread
    (its generator moved on by earlier cuts) gave other answers than the bench for the
    same box (on this slice 5048, 3845 and 6150 pixels, three calls in a row)."""
    import threading

    import cv2

    image, liver, _inside = ct_slice(0)
    ys, xs = np.nonzero(liver)
    box = np.zeros(image.shape, bool)
    box[ys.min() - 12 : ys.max() + 13, xs.min() - 12 : xs.max() + 13] = True
    found: dict[str, np.ndarray] = {}

    def cut(name: str, draw: int) -> None:
        cv2.setRNGSeed(draw)  # what earlier work on this thread left the generator at
        found[name + "a"] = grabcut(image, box)
        found[name + "b"] = grabcut(image, box)  # the generator has moved on

    threads = [threading.Thread(target=cut, args=(str(d), d)) for d in (3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cut("main", 5)
    first = found["3a"]
    assert first.any() and len(found) == 6
    assert all(np.array_equal(first, mask) for mask in found.values())
