"""The polygon and lasso fill: exactly the pixels whose centre the outline winds round or
passes through (issue: ``cv2.fillPoly`` filled a pixel's width outside the outline, and
``make_valid`` left out what an outline circled twice)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.core.labelmap import LabelMap, polygon_pixels

U = 255


def _blank(h: int, w: int) -> LabelMap:
    return LabelMap(np.full((h, w), U, np.uint8), U, 254)


def _winding(ring: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: each centre's winding number, and whether it lies on an edge."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    px, py = xx.ravel()[:, None], yy.ravel()[:, None]
    x0, y0 = ring[:, 0][None], ring[:, 1][None]
    x1, y1 = np.roll(ring[:, 0], -1)[None], np.roll(ring[:, 1], -1)[None]
    cross = (x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)
    up = (y0 <= py) & (y1 > py) & (cross > 0)
    down = (y0 > py) & (y1 <= py) & (cross < 0)
    winding = (up.sum(axis=1) - down.sum(axis=1)).reshape(h, w)
    within = (
        (np.minimum(x0, x1) - 1e-9 <= px)
        & (px <= np.maximum(x0, x1) + 1e-9)
        & (np.minimum(y0, y1) - 1e-9 <= py)
        & (py <= np.maximum(y0, y1) + 1e-9)
    )
    length = np.hypot(x1 - x0, y1 - y0)
    on = ((np.abs(cross) <= 1e-9 * np.maximum(length, 1e-12)) & within).any(axis=1)
    return winding, on.reshape(h, w)


@pytest.mark.parametrize("seed", range(40))
def test_random_outlines_fill_exactly_the_centres_they_wind_round_or_touch(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    if seed % 3 == 0:  # vertices on pixel centres and half pixels: every tie there is
        ring = rng.integers(0, 40, (n, 2)) / 2.0
    else:
        ring = rng.uniform(-3, 23, (n, 2))
    shape = (20, 20)
    winding, on = _winding(ring, shape)
    want = (winding != 0) | on
    assert np.array_equal(polygon_pixels(ring, shape), want)
    assert np.array_equal(polygon_pixels(ring, shape, edges=False), (winding != 0) & ~on)


def test_the_triangle_of_the_report_fills_no_pixel_outside_it():
    """(10.2, 10.2), (20.7, 10.2), (10.2, 20.7): 45 centres inside, 78 filled before."""
    lm = _blank(32, 32)
    lm.fill_polygon([(10.2, 10.2), (20.7, 10.2), (10.2, 20.7)], (), 1)
    yy, xx = np.nonzero(lm.array == 1)
    assert yy.size == 45
    assert ((xx >= 10.2) & (yy >= 10.2) & (xx + yy <= 30.9)).all()


def test_an_outline_drawn_round_twice_fills_all_it_circles():
    """A lasso that overshoots its start (a second turn, drifting inwards) filled only
    the ring between the turns: what is circled an odd number of times."""
    t = np.linspace(0, 4 * np.pi, 400, endpoint=False)
    r = 20 - t / np.pi  # 20 px, then 18 px on the second turn
    points = list(zip(32 + r * np.cos(t), 32 + r * np.sin(t)))
    lm = _blank(64, 64)
    lm.fill_lasso(points, 1)
    yy, xx = np.mgrid[0:64, 0:64]
    assert (lm.array[np.hypot(xx - 32, yy - 32) < 17] == 1).all()


def test_a_figure_eight_fills_both_lobes_and_a_hole_keeps_its_border():
    lm = _blank(20, 30)
    lm.fill_polygon([(2, 2), (12, 12), (22, 2), (22, 12), (12, 2), (2, 12)], (), 1)
    assert lm.array[7, 3] == 1 and lm.array[7, 21] == 1  # the two lobes
    lm2 = _blank(20, 20)
    lm2.fill_polygon(
        [(2, 2), (17, 2), (17, 17), (2, 17)], [[(6, 6), (12, 6), (12, 12), (6, 12)]], 1
    )
    assert lm2.array[9, 9] == U  # inside the hole
    assert lm2.array[6, 6] == 1 and lm2.array[12, 9] == 1  # on the hole's border
    assert int((lm2.array == 1).sum()) == 16 * 16 - 5 * 5


def test_outlines_with_no_area_or_bad_points_change_nothing():
    lm = _blank(20, 20)
    for ring in (
        [(2, 5), (8, 5), (14, 5)],  # on a row of centres: a line, no area
        [(3, 3), (3, 3), (3, 3)],
        [(1, 1), (5, float("nan")), (9, 2)],
        [(1, 1), (5, 5)],
    ):
        assert lm.fill_polygon(ring, (), 1).empty
    assert (lm.array == U).all()
