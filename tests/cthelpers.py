"""A CT slice whose liver and muscle only a narrow window tells apart, for the tests of
the smart tools seeing the window the picture is shown with (docs/adr/0036)."""

from __future__ import annotations

import numpy as np

SOFT_TISSUE = ((-160.0, 240.0),)  # W400 L40
LIVER = ((-45.0, 105.0),)  # W150 L30


def ct_slice(seed: int = 0, size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An int16 slice in Hounsfield units: air (-1000) round a body whose wall is bone
    (1000), inside it muscle (40) and a disc of liver (60) near the wall, noise of 5 HU;
    and the liver's and the body's inside masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = size / 2
    r = np.hypot(yy - c, xx - c)
    hu = np.full((size, size), -1000.0)
    hu[r < size * 0.45] = 1000
    inside = r < size * 0.40
    hu[inside] = 40
    liver = np.hypot(yy - c, xx - c - 55) < 35
    hu[liver] = 60
    hu += rng.normal(0, 5, hu.shape)
    return hu.astype(np.int16), liver, inside


def straddle(segments: np.ndarray, liver: np.ndarray, inside: np.ndarray) -> tuple[int, int]:
    """Pixels of the soft tissue on the wrong side of the liver's border: the most in one
    superpixel, and in all of them (each superpixel counted on its smaller side)."""
    worst = total = 0
    for s in np.unique(segments[inside]):
        seg = (segments == s) & inside
        wrong = min(int((seg & liver).sum()), int((seg & ~liver).sum()))
        worst, total = max(worst, wrong), total + wrong
    return worst, total
