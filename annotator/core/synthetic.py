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


#: Classes of :func:`synthetic_em`, in id order.
SYNTHETIC_EM_CLASSES = (
    "cytoplasm",
    "membrane",
    "mitochondrion",
    "vesicle",
    "synapse",
    "reticulum",
)


def synthetic_em(
    seed: int,
    size: int = 512,
    noise: float = 14.0,
    clutter: int = 0,
    label_jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(size, size) uint8`` grey picture like a slice of brain tissue in an electron
    microscope, and its ``uint8`` mask over :data:`SYNTHETIC_EM_CLASSES`.

    The kind of data where painting by hand is slowest: wavy cell membranes 2-4 px wide
    between cells, elongated mitochondria with cristae, clusters of small vesicles
    (radius 3-6 px) next to a dark synaptic density on the membrane, and thin tubes of
    reticulum, on a textured cytoplasm under noise and blur.

    Two knobs make it more like a real micrograph and its hand-drawn truth; at 0 a seed
    gives the same pixels as without them (they draw from a generator of their own):
    ``clutter`` dark structures nobody labels (short strokes, rings and specks, labelled
    cytoplasm: the mask is unchanged), and ``label_jitter``, the amplitude in pixels of a
    smooth random shift of the mask's borders against the picture, as a person's borders
    wander by a pixel or two from the edges they trace (the picture is unchanged).
    """
    import cv2

    rng = np.random.default_rng(seed)
    scale = size / 512
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)

    def smooth_field(sigma: float, amp: float) -> np.ndarray:
        noise = rng.normal(0, 1, (size, size)).astype(np.float32)
        f = np.asarray(cv2.GaussianBlur(noise, (0, 0), sigma), np.float32)
        return f * np.float32(amp / max(float(np.abs(f).max()), 1e-6))

    # Cells: nearest seed after a smooth warp of the plane, so borders wave.
    n_cells = max(4, int(round(rng.uniform(50, 80) * scale * scale)))
    seeds = rng.uniform(0, size, (n_cells, 2)).astype(np.float32)
    wy = yy + smooth_field(24 * scale, 14 * scale)
    wx = xx + smooth_field(24 * scale, 14 * scale)
    best = np.full((size, size), np.inf, np.float32)
    cell = np.zeros((size, size), np.int32)
    for i, (sy, sx) in enumerate(seeds):
        d = (wy - sy) ** 2 + (wx - sx) ** 2
        closer = d < best
        best[closer] = d[closer]
        cell[closer] = i
    edge = np.zeros((size, size), bool)
    edge[:, 1:] |= cell[:, 1:] != cell[:, :-1]
    edge[1:, :] |= cell[1:, :] != cell[:-1, :]
    width = rng.integers(1, 3, n_cells)  # dilation steps per cell: 2-4 px membranes
    membrane = np.zeros((size, size), np.uint8)
    for steps in (1, 2):
        grown = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=steps)
        membrane |= grown & (width[cell] == steps).astype(np.uint8)
    membrane |= edge.astype(np.uint8)

    mask = np.zeros((size, size), np.uint8)  # cytoplasm
    image = 165 + smooth_field(6 * scale, 14) + smooth_field(60 * scale, 18)

    # Reticulum: thin curved tubes.
    reticulum = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(5, 11)):
        p = rng.uniform(0, size, 2)
        heading = rng.uniform(0, 2 * np.pi)
        pts = []
        for _ in range(rng.integers(8, 16)):
            pts.append(p.copy())
            heading += rng.normal(0, 0.35)
            p = p + 9 * scale * np.array([np.cos(heading), np.sin(heading)])
        cv2.polylines(
            reticulum, [np.round(np.array(pts)).astype(np.int32)], False, 1, int(rng.integers(2, 4))
        )
    mask[reticulum > 0] = 5
    image[reticulum > 0] = 95

    # Mitochondria: dark ellipses with lighter cristae.
    for _ in range(rng.integers(8, 16)):
        c = (int(rng.uniform(0, size)), int(rng.uniform(0, size)))
        axes = (int(rng.uniform(14, 34) * scale), int(rng.uniform(6, 12) * scale))
        angle = float(rng.uniform(0, 180))
        m = np.zeros((size, size), np.uint8)
        cv2.ellipse(m, c, axes, angle, 0, 360, 1, -1)
        inside = m > 0
        mask[inside] = 2
        cristae = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / (2.2 * scale)) > 0.6
        image[inside] = np.where(cristae[inside], 140, 100)

    # Synapses: a dark density on a stretch of membrane, vesicles clustered beside it.
    on_membrane = np.argwhere(membrane > 0)
    synapse = np.zeros((size, size), np.uint8)
    vesicles = np.zeros((size, size), np.uint8)
    rims = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(4, 9)):
        cy, cx = on_membrane[rng.integers(len(on_membrane))]
        near = np.zeros((size, size), np.uint8)
        cv2.circle(near, (int(cx), int(cy)), int(16 * scale), 1, -1)
        density = cv2.dilate((near & membrane), np.ones((3, 3), np.uint8), iterations=2)
        synapse |= np.asarray(density, np.uint8)
        side = rng.uniform(0, 2 * np.pi)
        hub = np.array([cy, cx]) + 22 * scale * np.array([np.sin(side), np.cos(side)])
        for _ in range(rng.integers(10, 26)):
            r = int(rng.integers(3, 7))
            vy, vx = hub + rng.normal(0, 11 * scale, 2)
            cv2.circle(vesicles, (int(vx), int(vy)), r, 1, -1)
            cv2.circle(rims, (int(vx), int(vy)), r, 1, 1)
    ves = (vesicles > 0) & (membrane == 0) & (synapse == 0)
    mask[ves] = 3
    image[ves] = 175
    image[ves & (rims > 0)] = 70

    mask[membrane > 0] = 1
    image[membrane > 0] = 65
    mask[synapse > 0] = 4
    image[synapse > 0] = 35

    extra = np.random.default_rng([seed, 1])
    if clutter > 0:
        _draw_clutter(image, mask, extra, clutter, scale)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)
    image += rng.normal(0, noise, image.shape).astype(np.float32)
    if label_jitter > 0:
        mask = _jitter(mask, extra, label_jitter, scale)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _draw_clutter(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, count: int, scale: float
) -> None:
    """Dark strokes, rings and specks drawn into the cytoplasm only, and left unlabelled
    there, as a real micrograph is full of structures nobody labels."""
    import cv2

    size = image.shape[0]
    for _ in range(count):
        marks = np.zeros(image.shape, np.uint8)
        p = rng.uniform(0, size, 2)
        kind = rng.random()
        if kind < 0.4:  # a short bent stroke, like a fold or a fibre
            q = p + rng.uniform(-18, 18, 2) * scale
            r = (p + q) / 2 + rng.uniform(-5, 5, 2) * scale
            pts = np.round(np.array([p, r, q])).astype(np.int32)
            cv2.polylines(marks, [pts], False, 1, int(rng.integers(1, 3)))
        elif kind < 0.7:  # a ring, like an unlabelled vesicle
            cv2.circle(marks, (int(p[0]), int(p[1])), int(rng.integers(3, 8) * scale + 0.5), 1, 1)
        else:  # a speck, like a ribosome or a glycogen granule
            cv2.circle(marks, (int(p[0]), int(p[1])), int(rng.integers(1, 4)), 1, -1)
        image[(marks > 0) & (mask == 0)] = rng.uniform(50, 95)


def _jitter(mask: np.ndarray, rng: np.random.Generator, amp: float, scale: float) -> np.ndarray:
    """``mask`` warped by a smooth random field of up to ``amp`` px (nearest class)."""
    import cv2

    size = mask.shape[0]
    fields = []
    for _ in range(2):
        f = cv2.GaussianBlur(rng.normal(0, 1, mask.shape).astype(np.float32), (0, 0), 12 * scale)
        fields.append(f * np.float32(amp / max(float(np.abs(f).max()), 1e-6)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out = cv2.remap(
        mask, xx + fields[0], yy + fields[1], cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT
    )
    return np.asarray(out, np.uint8)
