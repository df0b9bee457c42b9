"""Generated images with exact ground truth: the demo project, tests and benchmarks.

Cells are ellipses with a darker nucleus on a noisy, unevenly lit background, blurred
like a microscope would. Everything is drawn from a seeded generator, so the same seed
always gives the same pixels.
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_CLASSES = ("background", "cell", "nucleus")


def synthetic_cells(
    seed: int, size: int = 256, n_cells: int = 7, noise: float = 12.0
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(size, size) uint8`` grey image and its ``uint8`` mask (0 bg, 1 cell, 2 nucleus)."""
    import cv2

    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(n_cells):
        cx, cy = rng.uniform(0.1, 0.9, 2) * size
        ax = rng.uniform(0.06, 0.14) * size
        ay = ax * rng.uniform(0.6, 1.0)
        angle = rng.uniform(0, 180)
        cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), angle, 0, 360, 1, -1)
        nx = cx + rng.uniform(-0.2, 0.2) * ax
        ny = cy + rng.uniform(-0.2, 0.2) * ay
        cv2.ellipse(mask, (int(nx), int(ny)), (int(ax * 0.4), int(ay * 0.4)), angle, 0, 360, 2, -1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = 60 + 30 * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))
    image = light.copy()
    image[mask == 1] = 150 + 10 * np.sin(xx[mask == 1] * 60)
    image[mask == 2] = 95
    image = cv2.GaussianBlur(image, (0, 0), 1.2)
    image += rng.normal(0, noise, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), mask
