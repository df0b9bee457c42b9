"""From project images and partial label maps to training crops.

* Normalisation: 8-bit images are scaled by their dtype (so every 8-bit image means the
  same thing); 16-bit and float images by robust per-image percentiles (microscopes
  often fill only 12 of 16 bits, and a fixed scale would leave them black). A model
  version records how (``NetworkConfig.normalisation``): ``per-channel`` (new models)
  gives each channel of a colour or two-channel picture its own window, as the display
  does (ADR 0027); ``pooled`` (versions made before) one window over the first three.
* Channels: the model takes 1 channel when every image of the project is grey, else 3,
  or every channel of a wide Channel Choice (more than three: each its own input channel
  and its own window; a picture that has fewer channels is refused, never padded);
  grey images are repeated into 3 channels, colour images turned grey with the usual
  luminance weights, alpha is dropped; two channels (DAPI + GFP) are the magenta and
  green picture shown (the first in red and blue: never a constant channel, which the
  network's per-channel standardisation would blow up), and channels past the third are
  not used. The same rule runs at training and prediction, on the channels a version
  takes (``NetworkConfig.channel_choice``, ``core.channels.pick``: ADR 0030), picked
  before any of this.
* Memory: a round holds each picture as it was read (its own dtype and channels) and
  normalises each crop when a batch is drawn; its targets are held only for the
  rectangle around its labels (:class:`Targets`: the labelled pixels' bounding box and
  a margin that holds every crop around them). A picture labelled in one corner costs
  no more than its corner, and no float copy of a whole picture is ever made.
* Targets: class ids ``0..n-1`` train; every other value (unlabelled, void, anything out
  of range) becomes :data:`IGNORE` and never touches the loss; so, on request, do labels
  accepted from a proposal next to a label border (:func:`void_accepted_border`).
* Sampling: for a share ``balanced`` of the crops a class is drawn uniformly among the
  classes that have labelled pixels (class balance: a few strokes of a rare class weigh
  as much as a whole background), then an image containing it (weighted by recency),
  then a labelled pixel of it; the rest are centred on a labelled pixel drawn uniformly
  (the true class mix, so the model's priors are not skewed towards rare classes).
  Augmentation: flips, 90-degree rotations, elastic deformation, contrast, brightness,
  per-channel colour and saturation (three channels only: a model of more channels gets
  none, as a grey one), noise; zoom only on request (ADR 0023).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from annotator.core.contrast import even_sample, percentile_window
from annotator.core.errors import ModelError
from annotator.core.nodata import eight_bit, no_value_pixels
from annotator.ml.networks import NORMALISATIONS, NORMALISE_PER_CHANNEL, NORMALISE_POOLED

IGNORE = -1
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_MAX_COORDS_PER_CLASS = 200_000
#: The most crop centres a round indexes over all its pictures and classes (int32: 4
#: bytes each). Each picture's class keeps :data:`_MAX_COORDS_PER_CLASS` of them while
#: that fits; thousands of labelled pictures keep fewer each (:func:`coords_cap`), drawn
#: at random, where indexing every labelled pixel took 8 bytes a pixel.
COORDS_BUDGET = 50_000_000
#: The fewest centres a picture's class keeps whatever the pictures' number.
_MIN_COORDS_PER_CLASS = 256


def choose_in_channels(channel_counts: Sequence[int], choice: Sequence[int] = ()) -> int:
    """1 when every image is grey, else 3 (two channels are two, never grey + alpha:
    the reader drops a grey picture's alpha); a wide Channel Choice (more than three
    channels, ``core.channels.wide``): one for each channel it names."""
    if len(choice) > 3:
        return len(choice)
    return 1 if all(c == 1 for c in channel_counts) else 3


@dataclass(frozen=True)
class Normalizer:
    """Maps raw pixel values of one image to the network's input range.

    ``(low, high)`` is the window of every channel, unless ``windows`` holds one per
    channel of the picture (its first three, or two: magenta and green; every one a
    model of more than three input channels takes), which the ``per-channel`` rule gives
    a picture of several channels of more than 8 bits; then ``(low, high)`` only spans
    them."""

    low: float
    high: float
    in_channels: int
    windows: tuple[tuple[float, float], ...] = ()

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """``(H, W)`` or ``(H, W, C)`` raw pixels -> ``(in_channels, H, W)`` float32."""
        raw = np.asarray(pixels)
        # A grey picture is scaled in its one channel, then repeated: a third of the
        # work (the sampler normalises every crop it cuts).
        # (Never for a model of more than three channels: ``to_channels`` refuses it.)
        grey = self.in_channels <= 3 and (raw.ndim == 2 or (raw.ndim == 3 and raw.shape[2] == 1))
        if self.windows and not grey:
            return self._apply_per_channel(raw)
        x = to_channels(raw, 1 if grey else self.in_channels)
        scale = 1.0 / max(self.high - self.low, 1e-6)
        # (v - low) / (high - low) in [0, 1], then centred to roughly zero mean, unit range
        # (in place, in a new C-ordered array: the operations and the values of before).
        out = np.empty(x.shape, np.float32)
        np.subtract(x, np.float32(self.low), out=out)
        out *= np.float32(scale * 4.0)
        out -= np.float32(2.0)
        if raw.dtype.kind == "f":
            # NaN is "no data" in float TIFFs: it enters as the low end of the image's
            # range rather than poisoning every output it reaches (a NaN loss, a
            # proposal of noise); infinities as the ends.
            np.nan_to_num(out, copy=False, nan=-2.0, posinf=2.0, neginf=-2.0)
        if grey and self.in_channels == 3:
            return np.repeat(out, 3, axis=0)
        return out

    def _apply_per_channel(self, raw: np.ndarray) -> np.ndarray:
        """Each channel in its own window, then (a grey model) the luminance of those:
        the grey of the picture as shown, in the range a grey picture enters with."""
        x = to_channels(raw, max(3, self.in_channels))  # two: [0, 1, 0], magenta and green
        windows = self.windows if len(self.windows) >= 3 else self.windows[:2] + self.windows[:1]
        windows = windows[: x.shape[0]]
        out = np.empty(x.shape, np.float32)
        for c, (low, high) in enumerate(windows):
            np.subtract(x[c], np.float32(low), out=out[c])
            out[c] *= np.float32(1.0 / max(high - low, 1e-6) * 4.0)
            out[c] -= np.float32(2.0)
        if raw.dtype.kind == "f":
            np.nan_to_num(out, copy=False, nan=-2.0, posinf=2.0, neginf=-2.0)
        if self.in_channels == 1:
            return (out[0] * _LUMA[0] + out[1] * _LUMA[1] + out[2] * _LUMA[2])[None]
        return out


def fit_normalizer(
    image: np.ndarray, in_channels: int, rule: str = NORMALISE_PER_CHANNEL
) -> Normalizer:
    """The normaliser of one image under ``rule``, the model version's
    ``NetworkConfig.normalisation`` (see the module docstring)."""
    if rule not in NORMALISATIONS:
        raise ModelError(f"unknown input normalisation {rule!r}")
    if eight_bit(image):  # (an 8-bit picture with nodata pixels too: NaN enters as -2)
        return Normalizer(0.0, 255.0, in_channels)
    # Percentiles of a regular sample (about a million values) are accurate enough, and
    # sampling before any reshaping never copies a huge image: the display's own rule
    # (``core.contrast``), so the model sees each channel as the window shows it.
    sample = even_sample(image, 1_000_000)
    if sample.ndim == 3 and sample.shape[2] == 1:
        sample = sample[..., 0]
    if sample.ndim == 3:
        sample = sample[..., : min(max(3, in_channels), sample.shape[2])]
        if rule == NORMALISE_POOLED:
            return _fitted(sample.reshape(-1), in_channels)
        windows = tuple(_window(sample[..., c].reshape(-1)) for c in range(sample.shape[2]))
        low, high = min(w[0] for w in windows), max(w[1] for w in windows)
        return Normalizer(low, high, in_channels, windows)
    return _fitted(sample.reshape(-1), in_channels)


def _window(flat: np.ndarray) -> tuple[float, float]:
    """The 0.5-99.5 percentile window of the finite values (``(0, 1)`` without any)."""
    window = percentile_window(flat)
    if window is None:
        return 0.0, 1.0
    low, high = window
    if high <= low:
        high = low + 1.0
    return float(low), float(high)


def _fitted(flat: np.ndarray, in_channels: int) -> Normalizer:
    low, high = _window(flat)
    return Normalizer(low, high, in_channels)


def to_channels(pixels: np.ndarray, in_channels: int) -> np.ndarray:
    """Raw ``(H, W)`` / ``(H, W, C)`` pixels -> ``(in_channels, H, W)`` float32 (not scaled).

    More than three ``in_channels`` (a wide Channel Choice) are the picture's first
    ``in_channels``, as they are: a picture with fewer is a ModelError."""
    x = np.asarray(pixels)
    if in_channels > 3:
        have = 1 if x.ndim == 2 else x.shape[2]
        if have < in_channels:
            raise ModelError(
                f"the model takes {in_channels} channels and the picture has {have}: "
                "choose pictures with every channel of the model's Channel Choice"
            )
        return np.moveaxis(x[..., :in_channels].astype(np.float32, copy=False), 2, 0)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]
    if x.ndim == 3 and x.shape[2] == 2:  # two channels: magenta and green, as shown
        x = x[..., [0, 1, 0]]
    if x.ndim == 2:
        g = x.astype(np.float32, copy=False)[None]
        return np.repeat(g, 3, axis=0) if in_channels == 3 else g
    rgb = x[..., :3].astype(np.float32, copy=False)
    if in_channels == 3:
        return np.moveaxis(rgb, 2, 0)
    # Element by element (not a matrix product, whose rounding may follow the array's
    # size and layout): a crop, a tile and the whole picture give the same values.
    return (rgb[..., 0] * _LUMA[0] + rgb[..., 1] * _LUMA[1] + rgb[..., 2] * _LUMA[2])[None]


def to_target(mask: np.ndarray, n_classes: int) -> np.ndarray:
    """Label map -> int16 target with :data:`IGNORE` for everything that is not a class."""
    m = np.asarray(mask)
    target = m.astype(np.int16)  # (values that do not fit are no class: IGNORE below)
    other = m < n_classes
    np.logical_not(other, out=other)
    target[other] = IGNORE  # in place: no more picture-sized arrays than these two
    return target


def void_accepted_border(
    target: np.ndarray, mask: np.ndarray, accepted: np.ndarray | None, radius: int
) -> np.ndarray:
    """``target`` with :data:`IGNORE` where the label is the accepted proposal's class
    and among the ``radius`` pixels nearest a label border on either side (1: the pixels
    whose 4-neighbour holds another value, unlabelled included; 2: those and their
    8-neighbours; ...). The pixels a person corrected, and every label away from
    borders, still train."""
    if accepted is None or radius <= 0:
        return target
    import cv2

    m = np.asarray(mask)
    radius = min(radius, max(m.shape))  # wider reaches no more pixels (a kernel that big
    # would only exhaust the memory)
    edge = np.zeros(m.shape, bool)
    across = m[:, 1:] != m[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = m[1:, :] != m[:-1, :]
    edge[1:, :] |= down
    edge[:-1, :] |= down
    near = edge
    if radius > 1:
        size = 2 * radius - 1
        near = cv2.dilate(edge.view(np.uint8), np.ones((size, size), np.uint8)).view(bool)
    drop = near & (m == accepted)
    if not drop.any():
        return target
    out = target.copy()
    out[drop] = IGNORE
    return out


#: Side of the square blocks :func:`block_holdout` holds out; a :class:`Targets`
#: rectangle starts on this grid, so the blocks are those of the whole picture.
HOLDOUT_BLOCK = 32


@dataclass(frozen=True)
class Targets:
    """One picture's targets where it has labels: ``values`` (int16, :data:`IGNORE`
    where nothing trains) of the rectangle whose top-left pixel is ``(y, x)``; every
    pixel outside it is :data:`IGNORE`. ``shape`` is the picture's ``(H, W)``."""

    values: np.ndarray
    y: int
    x: int
    shape: tuple[int, int]

    @classmethod
    def whole(cls, target: np.ndarray) -> Targets:
        """The targets of a whole picture (no margin to trust: the rectangle is all of it)."""
        t = np.asarray(target)
        return cls(t, 0, 0, (int(t.shape[0]), int(t.shape[1])))

    def with_values(self, values: np.ndarray) -> Targets:
        """The same rectangle holding other values (a split of these)."""
        return Targets(values, self.y, self.x, self.shape)

    def full(self) -> np.ndarray:
        """The picture-sized target (small pictures and tests only)."""
        out = np.full(self.shape, IGNORE, np.int16)
        h, w = self.values.shape
        out[self.y : self.y + h, self.x : self.x + w] = self.values
        return out


def class_counts(target: np.ndarray, n_classes: int) -> np.ndarray:
    """Pixels of each class ``0..n-1`` in ``target`` (int64), with no copy of its labels."""
    t = np.asarray(target)
    return np.array([np.count_nonzero(t == c) for c in range(n_classes)], np.int64)


def crop_margin(crop: int, zoom: float = 0.0) -> int:
    """Pixels around the labels that every crop centred on one of them stays within:
    the widest crop (``crop`` zoomed out by ``e**zoom``) and its centre's jitter."""
    widest = max(8, int(round(crop * float(np.exp(zoom))))) + 1
    return widest + widest // 4 + 1


def labelled_box(mask: np.ndarray, n_classes: int) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the pixels of ``mask`` that hold a class, or ``None``.
    Read in bands of rows, so no picture-sized array is made."""
    m = np.asarray(mask)
    h, w = m.shape[:2]
    rows = np.zeros(h, bool)
    cols = np.zeros(w, bool)
    band = max(1, 4_000_000 // max(w, 1))
    for y in range(0, h, band):
        inside = m[y : y + band] < n_classes
        rows[y : y + band] = inside.any(axis=1)
        cols |= inside.any(axis=0)
    if not rows.any():
        return None
    ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def labelled_targets(
    mask: np.ndarray,
    n_classes: int,
    margin: int,
    accepted: np.ndarray | None = None,
    border: int = 0,
    pixels: np.ndarray | None = None,
) -> Targets | None:
    """The :class:`Targets` of a label map around its labels (``None`` when it has
    none): ``margin`` pixels around them (see :func:`crop_margin`), and the rectangle's
    corner moved back onto the :data:`HOLDOUT_BLOCK` grid. The values are
    :func:`to_target`'s, with :func:`void_accepted_border`'s ``border`` applied: the
    same as cutting the whole picture's target. With the picture's ``pixels``, a label
    on a pixel with no value (nodata, ``core.nodata``) is :data:`IGNORE` too: the
    network sees only a constant there."""
    m = np.asarray(mask)
    box = labelled_box(m, n_classes)
    if box is None:
        return None
    h, w = m.shape[:2]
    pad = margin + (border + 1 if accepted is not None and border > 0 else 0)
    y0, y1, x0, x1 = box
    y0 = max(0, y0 - pad) // HOLDOUT_BLOCK * HOLDOUT_BLOCK
    x0 = max(0, x0 - pad) // HOLDOUT_BLOCK * HOLDOUT_BLOCK
    y1, x1 = min(h, y1 + pad), min(w, x1 + pad)
    part = m[y0:y1, x0:x1]
    values = to_target(part, n_classes)
    if accepted is not None:
        values = void_accepted_border(values, part, np.asarray(accepted)[y0:y1, x0:x1], border)
    if pixels is not None and (nodata := no_value_pixels(pixels[y0:y1, x0:x1])) is not None:
        values[nodata] = IGNORE
    return Targets(values, y0, x0, (h, w))


@dataclass
class PreparedImage:
    """One labelled image ready for sampling: its pixels and its targets.

    ``pixels`` is the picture as read, ``(H, W)`` or ``(H, W, C)`` in its own dtype,
    which ``normalizer`` turns into the network's input crop by crop; without a
    normalizer it is already the network's input, ``(C, H, W)`` float32. ``target``
    holds the targets of the rectangle at ``(y, x)`` (everything outside is
    :data:`IGNORE`); ``coords`` index its labelled pixels."""

    image_id: int
    pixels: np.ndarray
    target: np.ndarray  # (h, w) int16, IGNORE where not used for training
    weight: float
    coords: list[np.ndarray]  # per class: flat indices into ``target`` (a random draw)
    normalizer: Normalizer | None = None
    y: int = 0
    x: int = 0
    #: Per class: how many labelled pixels the picture weighs with in pixel-uniform
    #: draws (at most :data:`_MAX_COORDS_PER_CLASS`): ``coords`` may hold fewer.
    counts: list[int] | None = None

    def class_counts(self) -> list[int]:
        """:attr:`counts`, or the sizes of ``coords`` when every centre was kept."""
        return [c.size for c in self.coords] if self.counts is None else self.counts

    @property
    def size(self) -> tuple[int, int]:
        """The picture's ``(H, W)``."""
        if self.normalizer is None:
            return int(self.pixels.shape[1]), int(self.pixels.shape[2])
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The network's input ``(C, h, w)`` float32 of rows ``y0:y1``, columns ``x0:x1``."""
        if self.normalizer is None:
            return self.pixels[:, y0:y1, x0:x1]
        return self.normalizer.apply(self.pixels[y0:y1, x0:x1])

    def target_crop(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The targets of rows ``y0:y1``, columns ``x0:x1`` of the picture (which hold them)."""
        h, w = self.target.shape
        ty0, ty1, tx0, tx1 = y0 - self.y, y1 - self.y, x0 - self.x, x1 - self.x
        if ty0 >= 0 and tx0 >= 0 and ty1 <= h and tx1 <= w:
            return self.target[ty0:ty1, tx0:tx1]
        out = np.full((y1 - y0, x1 - x0), IGNORE, np.int16)  # past the labelled rectangle
        cy0, cy1, cx0, cx1 = max(ty0, 0), min(ty1, h), max(tx0, 0), min(tx1, w)
        if cy0 < cy1 and cx0 < cx1:
            out[cy0 - ty0 : cy1 - ty0, cx0 - tx0 : cx1 - tx0] = self.target[cy0:cy1, cx0:cx1]
        return out

    def statistics_sample(self) -> np.ndarray:
        """The regular sample of the whole picture's network input that
        :func:`channel_statistics` takes (about 65,536 pixels)."""
        h, w = self.size
        step = _statistics_step(h, w)
        if self.normalizer is None:
            return self.pixels[:, ::step, ::step]
        return self.normalizer.apply(self.pixels[::step, ::step])


def prepare(
    image_id: int,
    pixels: np.ndarray,
    target: np.ndarray | Targets,
    weight: float,
    n_classes: int,
    rng: np.random.Generator,
    normalizer: Normalizer | None = None,
    cap: int | None = None,
) -> PreparedImage:
    """Index the labelled pixels of each class (subsampled on huge images, and to
    ``cap`` of each class: :func:`coords_cap`).

    ``pixels``: the picture as read with its ``normalizer``, or without one the
    network's input ``(C, H, W)``; ``target``: the whole picture's, or its
    :class:`Targets`."""
    t = target if isinstance(target, Targets) else Targets.whole(target)
    drawn = [_class_coords(t.values, c, rng, cap) for c in range(n_classes)]
    coords = [c for c, _ in drawn]
    counts = [min(n, _MAX_COORDS_PER_CLASS) for _, n in drawn]
    return PreparedImage(
        image_id,
        pixels,
        t.values,
        float(weight),
        coords,
        normalizer,
        t.y,
        t.x,
        None if counts == [c.size for c in coords] else counts,
    )


def coords_cap(pictures: int, n_classes: int) -> int:
    """How many crop centres each class of each of ``pictures`` pictures keeps: their
    share of :data:`COORDS_BUDGET`, from :data:`_MIN_COORDS_PER_CLASS` to
    :data:`_MAX_COORDS_PER_CLASS`."""
    share = COORDS_BUDGET // max(1, pictures * n_classes)
    return int(min(_MAX_COORDS_PER_CLASS, max(_MIN_COORDS_PER_CLASS, share)))


def _class_coords(
    target: np.ndarray, c: int, rng: np.random.Generator, cap: int | None = None
) -> tuple[np.ndarray, int]:
    """Flat indices of the pixels of class ``c`` in ``target``, at most ``cap``
    (:data:`_MAX_COORDS_PER_CLASS`) of them drawn at random (as
    ``rng.choice(all of them, cap, replace=False)`` would draw them), found band by
    band: a class covering a big picture never has its every index made; and how many
    pixels the class has. int32 indices (int64 only for a target of 2**31 pixels)."""
    cap = _MAX_COORDS_PER_CLASS if cap is None else min(cap, _MAX_COORDS_PER_CLASS)
    h, w = target.shape
    index = np.int32 if h * w < 2**31 else np.int64
    band = max(1, 4_000_000 // max(w, 1))
    starts = range(0, h, band)
    counts = np.array([np.count_nonzero(target[y : y + band] == c) for y in starts], np.int64)
    total = int(counts.sum())
    if total <= cap:
        parts = [(np.flatnonzero(target[y : y + band] == c) + y * w).astype(index) for y in starts]
        return (np.concatenate(parts) if parts else np.zeros(0, index)), total
    # Which of the class's pixels (their rank in reading order), then where each one is.
    picks = rng.choice(total, cap, replace=False)
    order = np.argsort(picks, kind="stable")
    ranks = picks[order]
    out = np.empty(picks.size, index)
    first = np.concatenate([[0], np.cumsum(counts)])
    for k, y in enumerate(starts):
        a, b = np.searchsorted(ranks, first[k : k + 2])
        if a < b:
            where = np.flatnonzero(target[y : y + band] == c)
            out[order[a:b]] = where[ranks[a:b] - first[k]] + y * w
    return out, total


def block_holdout(
    target: np.ndarray, fraction: float, rng: np.random.Generator, block: int = HOLDOUT_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Split one image's labels into train and validation targets by square blocks.

    Blocks rather than single pixels, so validation pixels are not the direct
    neighbours of training pixels. Used while few images are labelled. The blocks of
    a :class:`Targets` rectangle are those of the whole picture (it starts on their
    grid), and so is the split: the labelled blocks are drawn in the same order.
    """
    h, w = target.shape
    bh, bw = -(-h // block), -(-w // block)
    # Which blocks hold a label: OR over each block's rows, then its columns (the
    # coordinates of every labelled pixel would cost 16 bytes each).
    rows = np.logical_or.reduceat(target != IGNORE, np.arange(0, h, block), axis=0)
    labelled_blocks = np.logical_or.reduceat(rows, np.arange(0, w, block), axis=1)
    candidates = np.flatnonzero(labelled_blocks)
    n_val = int(round(candidates.size * fraction))
    if candidates.size < 2 or n_val == 0:
        return target, np.full_like(target, IGNORE)
    chosen = np.zeros(bh * bw, bool)
    chosen[rng.choice(candidates, n_val, replace=False)] = True
    val_blocks = chosen.reshape(bh, bw)
    val_pixels = np.kron(val_blocks, np.ones((block, block), bool))[:h, :w]
    train = np.where(val_pixels, IGNORE, target).astype(np.int16, copy=False)
    val = np.where(val_pixels, target, IGNORE).astype(np.int16, copy=False)
    return train, val


@dataclass(frozen=True)
class AugmentConfig:
    """What augmentation does; stored in the card."""

    flips: bool = True
    rot90: bool = True
    elastic_p: float = 0.3
    elastic_alpha: float = 0.04  # displacement, as a fraction of the crop size
    intensity: float = 0.2  # +- contrast and brightness jitter
    noise: float = 0.05
    #: Zoom range: the crop covers ``crop / s`` source pixels, ``log s`` uniform in +-scale.
    #: 0 (the default): off. A project's pictures share one pixel size, and zooming cost
    #: held-out accuracy on every data set measured (ADR 0023).
    scale: float = 0.0
    #: Colour images: +- per-channel gain (a hue-like shift) and saturation jitter
    #: (not of a grey picture in a colour model: it stays grey).
    colour: float = 0.1
    saturation: float = 0.3


#: The widest zoom asked for (``--zoom``): crops at e^-1 to e^1 (0.37x to 2.7x).
MAX_ZOOM = 1.0


def check_zoom(zoom: float) -> None:
    """Refuse a zoom range outside ``[0, MAX_ZOOM]`` (nan included) in one line."""
    if not 0 <= zoom <= MAX_ZOOM:
        raise ModelError(f"--zoom must be between 0 and {MAX_ZOOM:g}")


#: The textbook baseline's augmentation: flips and 90-degree rotations only.
PLAIN_AUGMENT = AugmentConfig(
    elastic_p=0.0, intensity=0.0, noise=0.0, scale=0.0, colour=0.0, saturation=0.0
)


class CropSampler:
    """Class-balanced, recency-weighted random crops around labelled pixels."""

    def __init__(
        self,
        images: list[PreparedImage],
        n_classes: int,
        crop: int,
        rng: np.random.Generator,
        augment: AugmentConfig | None = None,
        balanced: float = 1.0,
    ) -> None:
        self.images = images
        self.crop = crop
        self.rng = rng
        self.augment = augment
        self.balanced = balanced
        # For pixel-uniform crops: images weighted by (recency weight x labelled pixels).
        counts = np.array([sum(im.class_counts()) for im in images], np.float64)
        w_all = counts * np.array([im.weight for im in images], np.float64)
        self.image_p = w_all / w_all.sum() if w_all.sum() > 0 else None
        # For each class: the images that have labelled pixels of it, and their weights.
        self.classes: list[int] = []
        self.class_images: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for c in range(n_classes):
            which = [i for i, im in enumerate(images) if im.coords[c].size]
            if which:
                w = np.array([images[i].weight for i in which], np.float64)
                self.classes.append(c)
                self.class_images[c] = (np.array(which), w / w.sum())
        if not self.classes:
            raise ValueError("no labelled pixels to train on")

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One ``(C, crop, crop)`` float32 input and ``(crop, crop)`` int16 target."""
        rng = self.rng
        im, idx = self._centre()
        h, w = im.size
        ty, tx = divmod(int(idx), im.target.shape[1])
        cy, cx = ty + im.y, tx + im.x
        # Scale augmentation: cut ``s`` source pixels and resize them to the crop size.
        zoom = 1.0
        if self.augment is not None and self.augment.scale > 0:
            zoom = float(np.exp(rng.uniform(-self.augment.scale, self.augment.scale)))
        s = max(8, int(round(self.crop / zoom)))
        jitter = s // 4
        cy += int(rng.integers(-jitter, jitter + 1))
        cx += int(rng.integers(-jitter, jitter + 1))
        y0 = int(np.clip(cy - s // 2, 0, max(0, h - s)))
        x0 = int(np.clip(cx - s // 2, 0, max(0, w - s)))
        y1, x1 = min(y0 + s, h), min(x0 + s, w)
        x = im.crop(y0, y1, x0, x1)  # normalised here, crop by crop
        t = im.target_crop(y0, y1, x0, x1)
        if x.shape[1] < s or x.shape[2] < s:  # image smaller than the crop
            py, px = s - x.shape[1], s - x.shape[2]
            if py < x.shape[1] and px < x.shape[2]:
                x = np.pad(x, ((0, 0), (0, py), (0, px)), mode="reflect")
            else:
                x = np.pad(x, ((0, 0), (0, py), (0, px)), mode="edge")
            t = np.pad(t, ((0, py), (0, px)), constant_values=IGNORE)
        if s != self.crop:
            x, t = _resize(x, t, self.crop)
        if self.augment is not None:
            x, t = augment(x, t, self.augment, rng)
        return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(t)

    def _centre(self) -> tuple[PreparedImage, int]:
        """The image and flat pixel index a crop is centred on (see the module docstring)."""
        rng = self.rng
        if self.image_p is not None and rng.random() >= self.balanced:
            im = self.images[rng.choice(len(self.images), p=self.image_p)]
            sizes = np.array(im.class_counts())
            k = int(rng.integers(sizes.sum()))
            c = int(np.searchsorted(np.cumsum(sizes), k, side="right"))
            j, drawn = k - (int(sizes[:c].sum()) if c else 0), im.coords[c]
            if drawn.size < sizes[c]:  # fewer centres kept than the class weighs with
                j = j * drawn.size // int(sizes[c])
            return im, int(drawn[j])
        c = self.classes[rng.integers(len(self.classes))]
        which, weights = self.class_images[c]
        im = self.images[which[rng.choice(len(which), p=weights)]]
        return im, int(im.coords[c][rng.integers(im.coords[c].size)])

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(n, C, crop, crop)`` inputs and ``(n, crop, crop)`` targets."""
        xs, ts = zip(*(self.sample() for _ in range(n)))
        return np.stack(xs), np.stack(ts)


class BatchPrefetcher:
    """Draws a sampler's next batches on a thread of its own while the caller trains on
    the current one (on a GPU the training loop otherwise waits for each batch's crops
    and augmentation on the CPU). The batches are the sampler's, in its order: only
    this thread draws from it, so a round is the same with or without prefetching.
    Use as a context manager; leaving it stops the thread (batches drawn ahead are
    dropped: the sampler's generator serves nothing after the round)."""

    def __init__(self, sampler: CropSampler, batch_size: int, depth: int = 2) -> None:
        self._sampler = sampler
        self._batch_size = batch_size
        self._queue: queue.Queue[tuple[np.ndarray, np.ndarray] | BaseException] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="annotator-batches", daemon=True)

    def __enter__(self) -> BatchPrefetcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # a put waiting on a full queue sees it within 50 ms
        self._thread.join()

    def _run(self) -> None:
        item: tuple[np.ndarray, np.ndarray] | BaseException
        while not self._stop.is_set():
            try:
                item = self._sampler.batch(self._batch_size)
            except BaseException as exc:  # handed to the loop, which raises it
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The next batch, as :meth:`CropSampler.batch` would have drawn it."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item


def _resize(x: np.ndarray, t: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize a ``(C, s, s)`` crop (linear) and its target (nearest) to ``size``. Both
    map pixel centres alike (OpenCV's ``INTER_NEAREST`` floors the source coordinate
    instead: the labels lay up to half a pixel off their picture)."""
    import cv2

    xs = np.stack(
        [
            cv2.resize(np.ascontiguousarray(ch), (size, size), interpolation=cv2.INTER_LINEAR)
            for ch in x
        ]
    )
    ts = cv2.resize(
        np.ascontiguousarray(t), (size, size), interpolation=cv2.INTER_NEAREST_EXACT
    ).astype(np.int16)
    return xs, ts


def _statistics_step(h: int, w: int) -> int:
    """The sampling step of :func:`channel_statistics`: about 65,536 pixels a picture."""
    return max(1, int(np.sqrt(h * w / 65_536)))


def channel_statistics(images: Sequence[np.ndarray]) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of normalised ``(C, H, W)`` images.

    Subsampled (every image contributes about the same number of pixels), so a few huge
    images cost no more than small ones.
    """
    return sampled_statistics(
        [x[:, :: _statistics_step(*x.shape[1:]), :: _statistics_step(*x.shape[1:])] for x in images]
    )


def sampled_statistics(samples: Iterable[np.ndarray]) -> tuple[list[float], list[float]]:
    """:func:`channel_statistics` of samples already taken (``PreparedImage.statistics_sample``).

    One sample at a time (each one's count, mean and sum of squared deviations, joined
    as Chan et al. join them): the memory is one sample's, whatever their number; a
    list of them all joined in one array cost 48 bytes per sampled value at its peak
    (3 GB for 4,000 small RGB pictures)."""
    count, mean, squares = 0, np.zeros(0), np.zeros(0)
    for sample in samples:
        x = sample.reshape(sample.shape[0], -1).astype(np.float64)
        n = x.shape[1]
        if n == 0:
            continue
        m = x.mean(axis=1)
        q = ((x - m[:, None]) ** 2).sum(axis=1)
        if count == 0:
            count, mean, squares = n, m, q
            continue
        total = count + n
        delta = m - mean
        mean = mean + delta * (n / total)
        squares = squares + q + delta**2 * (count * n / total)
        count = total
    if count == 0:
        raise ValueError("no pixel to take the channel statistics of")
    std = np.sqrt(squares / count)
    return mean.tolist(), np.maximum(std, 1e-3).tolist()


def augment(
    x: np.ndarray, t: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random geometric and intensity augmentation of one ``(C, H, W)`` crop and target."""
    if cfg.flips:
        if rng.random() < 0.5:
            x, t = x[:, :, ::-1], t[:, ::-1]
        if rng.random() < 0.5:
            x, t = x[:, ::-1], t[::-1]
    if cfg.rot90 and x.shape[1] == x.shape[2]:
        k = int(rng.integers(4))
        if k:
            x, t = np.rot90(x, k, axes=(1, 2)), np.rot90(t, k)
    if cfg.elastic_p > 0 and rng.random() < cfg.elastic_p:
        x, t = _elastic(x, t, cfg.elastic_alpha, rng)
    if cfg.intensity > 0:
        a = 1.0 + rng.uniform(-cfg.intensity, cfg.intensity)
        b = rng.uniform(-cfg.intensity, cfg.intensity)
        x = x * np.float32(a) + np.float32(b)
    # A grey picture in a colour model enters as three equal channels, and stays grey:
    # no colour jitter, the same noise in every channel. Its random numbers are drawn
    # all the same, so the crops after it are those a colour picture would get.
    colourless = x.shape[0] == 3 and _all_channels_equal(x)
    if x.shape[0] == 3 and (cfg.colour > 0 or cfg.saturation > 0):
        gain = 1.0 + rng.uniform(-cfg.colour, cfg.colour, (3, 1, 1))
        grey = x.mean(axis=0, keepdims=True)
        sat = 1.0 + rng.uniform(-cfg.saturation, cfg.saturation)
        if not colourless:
            x = (grey + (x - grey) * np.float32(sat)) * gain.astype(np.float32)
    if cfg.noise > 0:
        noise = rng.normal(0, cfg.noise, x.shape).astype(np.float32)
        x = x + (noise[:1] if colourless else noise)
    return x, t


def _all_channels_equal(x: np.ndarray) -> bool:
    """Whether every channel of a ``(C, H, W)`` crop holds the same values (grey)."""
    return all(np.array_equal(x[0], x[c]) for c in range(1, x.shape[0]))


def _elastic(
    x: np.ndarray, t: np.ndarray, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random displacement (a coarse random grid upsampled), as in the U-Net paper."""
    import cv2

    _, h, w = x.shape
    grid = 4
    mag = alpha * max(h, w)
    dx = cv2.resize(
        rng.normal(0, mag, (grid, grid)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    dy = cv2.resize(
        rng.normal(0, mag, (grid, grid)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = xx + dx, yy + dy
    xo = np.stack(
        [
            cv2.remap(
                np.ascontiguousarray(ch), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            for ch in x
        ]
    )
    to = cv2.remap(
        np.ascontiguousarray(t),
        mx,
        my,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=IGNORE,
    )
    return xo, to.astype(np.int16)
