"""Smart regions: image-driven helpers that turn one gesture into a whole object.

* :func:`superpixels`: SLIC superpixels (scikit-image), the segments the superpixel
  brush paints whole (:meth:`LabelMap.paint_segments`). Images with a side over
  ``2 * SUPERPIXEL_TILE`` are cut into tiles (:func:`superpixel_tiles`), computed one at a
  time nearest the brush first, so the brush works a fraction of a second after the
  first press instead of after SLIC of the whole image (20 s at 4096 x 4096).
* :func:`grabcut`: OpenCV's GrabCut inside a box or lasso, seeded by what the user has
  already labelled there; the foreground it returns is assigned to the current class.

Both see the picture as 8-bit RGB (:func:`to_uint8_rgb`): through the contrast windows it
is shown with when the GUI passes them (``windows``: the user's, or the window for every
image, so a CT slice is cut as its soft-tissue preset shows it, docs/adr/0036), else
stretched by its own percentiles, as the automatic window shows it.

Both are pure functions of arrays (no Qt, no project): the GUI runs them off its thread
for large images, the simulated annotator calls them directly (without windows).
Well-kept library code does the work; this module only prepares inputs (any bit depth
and channel count) and crops to the region of interest so cost follows the region, not
the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotator.core.contrast import Window, channel_windows, display_pixels, shown_channels
from annotator.core.labelmap import Box
from annotator.core.nodata import eight_bit

#: The contrast windows a picture is shown with, one ``(low, high)`` per channel shown
#: (``Document.windows``); None: the automatic ones.
Windows = Sequence[Window] | None


def to_uint8_rgb(image: np.ndarray, windows: Windows = None) -> np.ndarray:
    """Any image (grey/RGB/RGBA/multi-channel, 8/16-bit/float) as 8-bit, 3 channels.

    With ``windows`` (one per channel shown), the picture as the display shows it through
    them (``core.contrast.display_pixels``, the canvas's own mapping). Without: non-8-bit
    data is stretched between its 0.5 and 99.5 percentiles, each channel's own when it
    has several (what the user sees with the automatic contrast, ``core.contrast``); an
    8-bit picture with nodata pixels (read as float) keeps its values, NaN black.
    """
    if windows is not None:
        chosen = tuple(windows)
        if len(chosen) != shown_channels(image):
            raise ValueError(
                f"{len(chosen)} contrast windows for {shown_channels(image)} channels shown"
            )
        shown = display_pixels(np.asarray(image), chosen, lambda: chosen)
        if shown.ndim == 2:
            shown = np.repeat(shown[:, :, None], 3, axis=2)
        return np.ascontiguousarray(shown)
    eight = eight_bit(image)
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] >= 3:
        img = img[:, :, :3]
    if img.dtype != np.uint8 and eight:  # as the display shows it: 0..255, no value black
        img = np.nan_to_num(img, nan=0.0).astype(np.uint8)
    elif img.dtype != np.uint8:
        data = img.astype(np.float32)
        # NaN and infinities are no brightness (one NaN made every percentile NaN, the
        # whole picture black, and superpixels a plain grid); as the display does.
        own = channel_windows(img, max_pixels=None)
        lo, hi = np.array([w if w is not None else (0.0, 1.0) for w in own]).T
        scale = np.where(hi > lo, 255.0 / np.where(hi > lo, hi - lo, 1.0), 0.0)
        out = (data - lo) * scale
        if img.dtype.kind == "f":
            np.nan_to_num(out, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        img = np.clip(out, 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 2:
        img = np.concatenate([img, img[:, :, :1]], axis=2)
    return np.ascontiguousarray(img)


@dataclass(frozen=True)
class SuperpixelSettings:
    """SLIC parameters: ``size`` is the typical segment side in pixels."""

    size: int = 16
    compactness: float = 10.0

    def n_segments(self, height: int, width: int) -> int:
        return max(1, (height * width) // max(1, self.size * self.size))


#: Images with a side over twice this are cut into tiles of this side for SLIC.
SUPERPIXEL_TILE = 512

#: A tile of the image: ``(y0, x0, y1, x1)``.
Tile = tuple[int, int, int, int]


def superpixel_tiles(height: int, width: int, tile: int = SUPERPIXEL_TILE) -> list[Tile]:
    """The tiles SLIC runs in: the whole image up to ``2 * tile`` on both sides, else a
    grid of ``tile``-sided squares (segments never cross a tile's edge)."""
    if height <= 2 * tile and width <= 2 * tile:
        return [(0, 0, height, width)]
    return [
        (y, x, min(y + tile, height), min(x + tile, width))
        for y in range(0, height, tile)
        for x in range(0, width, tile)
    ]


def nearest_tile(tiles: list[Tile], y: float, x: float) -> int:
    """Index of the tile nearest the point (0 inside it; ties go to the nearer centre)."""

    def distance(t: Tile) -> tuple[float, float]:
        y0, x0, y1, x1 = t
        dy = max(y0 - y, 0.0, y - (y1 - 1))
        dx = max(x0 - x, 0.0, x - (x1 - 1))
        cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
        return (dy * dy + dx * dx, (cy - y) ** 2 + (cx - x) ** 2)

    return min(range(len(tiles)), key=lambda i: distance(tiles[i]))


class Superpixels:
    """Segment ids of an image and each segment's bounding box.

    Ids are ``0 .. n-1`` where computed and -1 in tiles not computed yet: a partial
    index grows tile by tile through :meth:`add_tile` (on one thread; the GUI adds on
    its own), and the brush paints the segments that exist.
    """

    def __init__(
        self, labels: np.ndarray, boxes: list[tuple[slice, slice] | None], missing: int = 0
    ) -> None:
        self.labels = labels
        self.boxes = boxes
        self.missing = missing  # tiles still to add

    @classmethod
    def of(cls, labels: np.ndarray) -> Superpixels:
        """The complete index of a segment-id array (ids ``0 .. n-1``)."""
        out = cls(np.full(labels.shape, -1, np.int32), [], 1)
        out.add_tile((0, 0, *labels.shape), labels)
        return out

    @classmethod
    def blank(cls, height: int, width: int, tiles: int) -> Superpixels:
        """An index with no segment yet, waiting for ``tiles`` tiles."""
        return cls(np.full((height, width), -1, np.int32), [], tiles)

    @property
    def complete(self) -> bool:
        return self.missing == 0

    def ready_at(self, x: float, y: float) -> bool:
        """Whether the pixel under ``(x, y)`` has its segment (False outside the image)."""
        h, w = self.labels.shape
        r, c = int(y), int(x)
        return 0 <= r < h and 0 <= c < w and bool(self.labels[r, c] >= 0)

    def add_tile(self, tile: Tile, local: np.ndarray) -> None:
        """Add one tile's segments (ids ``0 .. k-1`` of the tile), renumbered after the
        segments already there."""
        from scipy.ndimage import find_objects

        y0, x0, y1, x1 = tile
        local = np.asarray(local, dtype=np.int32)
        if local.shape != (y1 - y0, x1 - x0):
            raise ValueError(f"tile {tile} does not match segments of shape {local.shape}")
        offset = len(self.boxes)
        self.labels[y0:y1, x0:x1] = local + offset
        for b in find_objects(local + 1):
            self.boxes.append(
                None
                if b is None
                else (
                    slice(b[0].start + y0, b[0].stop + y0),
                    slice(b[1].start + x0, b[1].stop + x0),
                )
            )
        self.missing = max(0, self.missing - 1)


def tile_superpixels(
    image: np.ndarray,
    tile: Tile,
    settings: SuperpixelSettings | None = None,
    windows: Windows = None,
) -> np.ndarray:
    """SLIC of one tile of ``image`` (segment size as for the whole image), seen through
    ``windows`` (:func:`to_uint8_rgb`)."""
    y0, x0, y1, x1 = tile
    return superpixels(np.asanyarray(image)[y0:y1, x0:x1], settings, windows)


def superpixel_index(
    image: np.ndarray, settings: SuperpixelSettings | None = None, windows: Windows = None
) -> Superpixels:
    """The complete superpixel index of ``image``, tile by tile as the GUI builds it."""
    h, w = int(image.shape[0]), int(image.shape[1])
    tiles = superpixel_tiles(h, w)
    index = Superpixels.blank(h, w, len(tiles))
    for t in tiles:
        index.add_tile(t, tile_superpixels(image, t, settings, windows))
    return index


def superpixels(
    image: np.ndarray, settings: SuperpixelSettings | None = None, windows: Windows = None
) -> np.ndarray:
    """SLIC superpixels of ``image``: an int32 array of segment ids, same height/width.

    ``windows``: the contrast windows it is shown with (one per channel shown), so the
    segments follow the edges the user sees; None: its own percentiles
    (:func:`to_uint8_rgb`)."""
    from skimage.segmentation import slic

    settings = settings or SuperpixelSettings()
    rgb = to_uint8_rgb(image, windows)
    h, w = rgb.shape[:2]
    segments = slic(
        rgb,
        n_segments=settings.n_segments(h, w),
        compactness=settings.compactness,
        start_label=0,
        enforce_connectivity=True,
        channel_axis=-1,
    )
    return np.ascontiguousarray(segments, dtype=np.int32)


#: Noise (robust sigma of the high-pass) above this share of the contrast counts as noisy.
NOISY = 0.05


def noise_ratio(rgb: np.ndarray) -> float:
    """Pixel noise relative to contrast: the robust sigma of ``image - median3(image)``
    divided by the 1-99 percentile range (0 for a flat image)."""
    import cv2

    grey = rgb.mean(axis=2).astype(np.float32)
    residual = grey - cv2.medianBlur(grey, 3)
    sigma = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    lo, hi = np.percentile(grey, (1, 99))
    return sigma / float(hi - lo) if hi > lo else 0.0


#: Pixels of margin GrabCut sees around the user's region, for its background model.
GRABCUT_MARGIN = 16
#: Larger crops are cut at a lower resolution (see :func:`grabcut`): about 2 s here.
GRABCUT_MAX_PIXELS = 512 * 512


def grabcut(
    image: np.ndarray,
    region: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    value: int | None = None,
    unlabelled: int = 255,
    open_label: int | None = None,
    iterations: int = 3,
    smooth: int | None = None,
    max_pixels: int = GRABCUT_MAX_PIXELS,
    windows: Windows = None,
    seed: int = 0,
) -> np.ndarray:
    """The object inside ``region`` (a full-size bool mask: a box or a lasso), by GrabCut.

    Outside the region is background. With ``labels`` and ``value``, pixels already
    labelled ``value`` inside the region are sure foreground and pixels of any other
    class are sure background, so a correction refines what is there; pixels of
    ``open_label`` (protected painting "only over" that class: the pixels it may take)
    are left to GrabCut, as unlabelled ones are. Returns a full-size bool mask, true
    only inside ``region``.

    ``smooth`` (odd, pixels; 0 = off; default: 3 when the crop is noisy) blurs the crop
    first: on noisy microscopy the per-pixel noise otherwise dominates GrabCut's colour
    models and it returns nothing (the demo's cells: IoU 0 without, 0.92 with a 3x3
    Gaussian), while on clean images the blur only softens the borders.

    A crop of more than ``max_pixels`` is cut at a lower resolution (area-averaged, which
    also averages the noise) and the answer scaled back up, with the sure pixels (outside
    the region, the class, other classes) applied again at full resolution: GrabCut's
    time grows faster than the pixel count (a 2048 px box: 150 s at full resolution), and
    a user who draws a big box wants the object, not its last pixel of border.

    ``windows`` (one per channel shown): GrabCut sees the crop as the display shows it
    through them, the edges the user sees (a CT slice's soft-tissue preset); None: the
    crop stretched by its own percentiles (:func:`to_uint8_rgb`).

    ``seed``: GrabCut starts its colour models by k-means from OpenCV's random number
    generator, which is seeded with it here, on the thread that runs the cut (OpenCV's
    generator is per thread): the same region on the same picture gives the same
    answer, in the app (a worker thread whose generator had moved on) as in the bench.
    """
    import cv2

    if region.shape != image.shape[:2]:
        raise ValueError(f"region shape {region.shape} differs from image {image.shape[:2]}")
    out = np.zeros(region.shape, dtype=bool)
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return out
    cols = np.flatnonzero(region.any(axis=0))
    h, w = region.shape
    box = Box(
        max(0, int(rows[0]) - GRABCUT_MARGIN),
        max(0, int(cols[0]) - GRABCUT_MARGIN),
        min(h, int(rows[-1]) + 1 + GRABCUT_MARGIN),
        min(w, int(cols[-1]) + 1 + GRABCUT_MARGIN),
    )
    crop = to_uint8_rgb(np.asanyarray(image)[box.slices], windows)  # (a nodata picture kept)
    ch, cw = crop.shape[:2]
    scale = min(1.0, (max_pixels / float(ch * cw)) ** 0.5)
    if scale < 1.0:
        small = (max(1, round(cw * scale)), max(1, round(ch * scale)))
        crop = cv2.resize(crop, small, interpolation=cv2.INTER_AREA)
    if smooth is None:  # judged on what GrabCut sees: area averaging also lowers noise
        smooth = 3 if noise_ratio(crop) > NOISY else 0
    if smooth > 1:
        crop = cv2.GaussianBlur(crop, (smooth | 1, smooth | 1), 0)
    inside = region[box.slices]
    mask = np.where(inside, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    if labels is not None and value is not None:
        lab = labels[box.slices]
        mask[inside & (lab == value)] = cv2.GC_FGD
        others = (lab != value) & (lab != unlabelled)
        if open_label is not None:
            others &= lab != open_label
        mask[inside & others] = cv2.GC_BGD
    full = mask
    if scale < 1.0:
        mask = np.asarray(
            cv2.resize(full, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST), np.uint8
        )
    if not (mask == cv2.GC_BGD).any():
        # GrabCut needs background samples: the region fills the crop (or a thin frame of
        # background fell between the samples of the smaller crop); use its frame.
        mask[[0, -1], :] = cv2.GC_BGD
        mask[:, [0, -1]] = cv2.GC_BGD
    if not np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        return out
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(int(seed))  # (this thread's generator: the k-means start)
    cv2.grabCut(crop, mask, (0, 0, 0, 0), bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if scale < 1.0:
        up = cv2.resize(fg.astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
        fg = ((up > 0.5) | (full == cv2.GC_FGD)) & (full != cv2.GC_BGD)
    out[box.slices] = fg & inside
    return out
