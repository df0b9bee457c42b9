"""Contrast windows: the values a picture's channel is shown from black to white. No Qt.

The automatic window of a channel is its 0.5 and 99.5 percentiles, robust to a few hot
pixels; NaN and infinities are no brightness and are left out. A picture of more than 8
bits with several channels gets one window per channel (as Fiji's auto contrast does):
one window over all of them showed a 16-bit RGB picture whose blue sat at 30000 and red
at 1000-1400 as solid blue (docs/adr/0027). The same windows carry the fill's
tolerance, given in 8-bit grey levels, to such a picture's channels
(:func:`annotator.core.labelmap.tolerance_scales`).

:func:`display_pixels` is the picture as the display shows it through its windows, the one
mapping the canvas and the smart tools share (``core.smart``: they see what the user
sees, docs/adr/0036).

A grey picture that looks like CT (:func:`looks_like_ct`) is offered the CT windows
radiology reads it through (:data:`CT_PRESETS`, docs/adr/0036).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from annotator.core.nodata import eight_bit

#: ``(low, high)``: the value shown black and the value shown white.
Window = tuple[float, float]

#: The automatic window's percentiles.
LOW_PERCENTILE, HIGH_PERCENTILE = 0.5, 99.5


def even_sample(image: np.ndarray, max_pixels: int | None) -> np.ndarray:
    """Every n-th row and column of ``image``: at most about ``max_pixels`` pixels (all
    of them with None). A view, never a copy."""
    h, w = image.shape[:2]
    if max_pixels is None or h * w <= max_pixels:
        return image
    step = int(np.ceil(np.sqrt(h * w / max_pixels)))
    return image[::step, ::step]


def finite_values(values: np.ndarray) -> np.ndarray:
    """``values`` as one row, without NaN and infinities (integers have none)."""
    flat = values.reshape(-1)
    return flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat


def percentile_window(values: np.ndarray) -> Window | None:
    """The 0.5 and 99.5 percentiles of the finite ``values``; None when none is finite."""
    finite = finite_values(values)
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, (LOW_PERCENTILE, HIGH_PERCENTILE))
    return float(low), float(high)


def channel_count(image: np.ndarray) -> int:
    """How many channels ``image`` has (1 for a 2-D picture)."""
    return 1 if image.ndim == 2 else int(image.shape[2])


def shown_channels(image: np.ndarray) -> int:
    """How many channels of ``image`` are shown: grey 1, two channels 2 (magenta and
    green), else the first three. ``image`` is the channels of the project's choice
    (``core.channels.pick``) where there is one."""
    return min(channel_count(image), 3)


def channel_windows(
    image: np.ndarray, channels: int | None = None, max_pixels: int | None = 1_000_000
) -> tuple[Window | None, ...]:
    """The percentile window of each of the first ``channels`` channels (all with None) of
    ``image``, on an even sample of at most about ``max_pixels`` pixels; None for a
    channel with no finite value."""
    sample = even_sample(image, max_pixels)
    count = channel_count(image) if channels is None else channels
    if sample.ndim == 2:
        return (percentile_window(sample),)
    return tuple(percentile_window(sample[..., c]) for c in range(count))


def per_channel(image: np.ndarray) -> bool:
    """Whether ``image`` is shown with a window per channel: several channels of more
    than 8 bits. 8-bit pictures (nodata pixels or not: ``core.nodata.eight_bit``) are
    shown as they are; grey ones have one window."""
    return not eight_bit(image) and shown_channels(image) > 1


def stretch(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """``image`` as ``uint8``, ``low`` black and ``high`` white (NaN, a pixel with no
    value, black; infinities clipped)."""
    scale = 255.0 / max(float(high) - float(low), 1e-12)
    out = (image.astype(np.float32) - float(low)) * scale
    if image.dtype.kind == "f":
        np.nan_to_num(out, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def windowed(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """:func:`stretch` of ``image``; 8- and 16-bit ones through a look-up table over every
    possible value: ~20x faster on an 8192x8192 16-bit image, and the same result."""
    if image.dtype in (np.uint8, np.uint16):
        levels = np.arange(np.iinfo(image.dtype).max + 1, dtype=image.dtype)
        return stretch(levels, low, high)[image]
    return stretch(image, low, high)


def display_pixels(
    image: np.ndarray,
    windows: Sequence[Window] | None,
    auto: Callable[[], Sequence[Window]],
) -> np.ndarray:
    """``image`` as ``uint8`` (grey or RGB) as the display shows it through the contrast
    ``windows`` (one per channel shown), any thread.

    8-bit images are shown as they are unless the user set windows; others (16-bit,
    float) use the automatic ones (``auto()``), one per channel (docs/adr/0027). Two
    channels (DAPI + GFP) are shown in magenta (the first) and green, as the model and
    the smart tools see them; of more, the first three. ``image`` is the channels
    shown (those of the channel choice, ``core.channels.pick``).
    """
    if image.ndim == 3 and image.shape[2] >= 4:  # RGBA, or more channels: the first three
        image = image[:, :, :3]
    if windows is None and image.dtype == np.uint8:
        shown = image
    else:
        chosen = auto() if windows is None else windows
        if len(set(chosen)) == 1:  # grey, or one window for every channel
            shown = windowed(image, *chosen[0])
        else:
            shown = np.empty(image.shape, dtype=np.uint8)
            for c, (lo, hi) in enumerate(chosen):
                shown[..., c] = windowed(image[..., c], lo, hi)
    if shown.ndim == 3 and shown.shape[2] == 2:  # magenta and green
        shown = shown[..., [0, 1, 0]]
    return np.ascontiguousarray(shown)


@dataclass(frozen=True)
class Preset:
    """A CT window as radiology names it: its ``width`` and ``level`` (its centre), in
    Hounsfield units."""

    name: str
    width: float
    level: float

    @property
    def window(self) -> Window:
        """Black at ``level - width / 2``, white at ``level + width / 2``."""
        return self.level - self.width / 2, self.level + self.width / 2


#: The CT windows offered for a picture that looks like CT (:func:`looks_like_ct`).
CT_PRESETS: tuple[Preset, ...] = (
    Preset("Soft tissue", 400, 40),  # the abdomen's window too
    Preset("Lung", 1500, -600),
    Preset("Bone", 1800, 400),
    Preset("Brain", 80, 40),
    Preset("Liver", 150, 30),
)

#: A grey picture whose lowest value is at or below this looks like CT: air is -1000
#: Hounsfield units, and scanners fill outside the scanned circle with -1024, -2048 or
#: -3024.
AIR_AT_MOST = -900.0


def looks_like_ct(image: np.ndarray, lowest: float) -> bool:
    """Whether ``image`` (its lowest finite value ``lowest``) looks like CT in Hounsfield
    units: one channel of signed integers (int16, as a CT NIfTI file holds them) or of
    floats (a NIfTI file whose header scales its values), its lowest value air or
    below (:data:`AIR_AT_MOST`). Its CT presets are offered; nothing else changes."""
    return channel_count(image) == 1 and image.dtype.kind in "if" and lowest <= AIR_AT_MOST
