"""How a TIFF's series become one image or a stack of slices, by the axes tifffile names.

Pure rules on shapes and axis letters (tifffile's series are passed in, never opened
here), shared by the reading of pictures (``storage/images.py``, ``storage/stacks.py``)
and of label stacks (``formats/masks.py``), so a volume and its labels are always cut
into the same slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import ImageReadError

#: A TIFF whose planes nobody named (tifffile's Q and I axes) is read as channels up to
#: this many (a 5-channel array saved from numpy), and as a stack of slices beyond it.
MAX_UNNAMED_CHANNELS = 8


def stack_problem(planes: int, yx: Sequence[int], how: str) -> str:
    """Why a stack is not one picture, and what to do (for a reader of one image)."""
    size = f"{yx[1]}x{yx[0]}" if len(yx) == 2 else "?"
    return (
        f"the TIFF is a stack of {planes} images of {size} ({how}), not one 2-D image; "
        "add the stack to a project to have each slice added as an image, or save each "
        "slice as a file of its own (Fiji: Image > Stacks > Stack to Images)"
    )


def _squeezed(shape: tuple[int, ...], axes: str) -> tuple[str, tuple[int, ...]]:
    """The axes and lengths left when axes of length 1 go (Y and X always stay)."""
    keep = [i for i, a in enumerate(axes) if a in "YX" or shape[i] > 1]
    return "".join(axes[i] for i in keep), tuple(shape[i] for i in keep)


def layout(path: Path, shape: tuple[int, ...], axes: str) -> tuple[tuple[int, ...], list[int]]:
    """How a TIFF series of ``shape`` along tifffile's ``axes`` becomes ``(H, W)`` or
    ``(H, W, channels)``: the shape to reshape it to (lengths of 1 dropped), then the
    order of those axes.

    Y, X, S (samples) and C (channels) are taken as they say, so a 1-row or 1-pixel
    image stays one and planar channels are moved last; Z or T of more than one plane is
    a stack, refused in words. Q and I (planes nobody named: tifffile's own shape
    record of a numpy array, or bare pages) follow numpy's image convention, as before:
    ``(H, W, C)`` when the last length is at most :data:`MAX_UNNAMED_CHANNELS` or smaller
    than both others (a 13-band satellite picture), else ``(C, H, W)`` when the first is
    at most that, else a stack."""
    if len(axes) != len(shape) or "Y" not in axes or "X" not in axes:
        raise ImageReadError(path, f"unsupported TIFF layout (axes {axes}, shape {shape})")
    kept, reshaped = _squeezed(shape, axes)
    sizes = dict(zip(kept, reshaped, strict=True))
    if "S" in kept and "C" in kept:  # samples and channels both: no image this app can show
        raise ImageReadError(path, f"unsupported TIFF layout (axes {axes}, shape {shape})")
    if any(a in "ZT" for a in kept):
        planes = int(np.prod([n for a, n in sizes.items() if a not in "YXSC"]))
        raise ImageReadError(path, stack_problem(planes, (sizes["Y"], sizes["X"]), f"axes {axes}"))
    if any(a in "QI" for a in kept):  # planes nobody named
        if len(reshaped) == 2:
            return reshaped, [0, 1]
        if len(reshaped) == 3:
            first, second, last = reshaped
            if last <= MAX_UNNAMED_CHANNELS or last < min(first, second):
                return reshaped, [0, 1, 2]  # (H, W, C): fewer bands than rows and columns
            if first <= MAX_UNNAMED_CHANNELS:
                return reshaped, [1, 2, 0]  # (C, H, W)
        planes = int(np.prod([n for a, n in zip(kept, reshaped, strict=True) if a in "QI"]))
        raise ImageReadError(path, stack_problem(planes, (sizes["Y"], sizes["X"]), f"axes {axes}"))
    rest = [a for a in kept if a not in "YX"]
    if len(rest) > 1:  # samples and channels both: no image this app can show
        raise ImageReadError(path, f"unsupported TIFF layout (axes {axes}, shape {shape})")
    return reshaped, [kept.index("Y"), kept.index("X")] + [kept.index(a) for a in rest]


@dataclass(frozen=True)
class StackPlan:
    """How to read the slices of a TIFF stack: each of ``series`` (tifffile's) is
    reshaped to ``shape`` and transposed by ``order`` to ``(planes..., H, W[, C])``:
    with one series its plane axes come first (``planes`` in all, in the file's order);
    with several (pages written one by one) each is one slice."""

    planes: int
    series: tuple[Any, ...]
    shape: tuple[int, ...]
    order: tuple[int, ...]
    #: 2 for grey slices, 3 with channels.
    image_ndim: int
    height: int
    width: int

    def slices(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The slices, from the arrays of :attr:`series` (views where they can be)."""
        if len(self.series) > 1:
            return [np.transpose(a.reshape(self.shape), self.order) for a in arrays]
        whole = np.transpose(arrays[0].reshape(self.shape), self.order)
        return list(whole.reshape((self.planes, *whole.shape[whole.ndim - self.image_ndim :])))


def _shape(series: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in series.shape)


def unnamed_channels(shape: tuple[int, ...], axes: str) -> int:
    """How many planes nobody named (Q or I) :func:`layout` reads as the channels of one
    picture, ``(C, H, W)``: 2 to :data:`MAX_UNNAMED_CHANNELS` bare pages of one size, or
    a numpy array saved channels first. 0 for any other layout. Whether they are
    channels or the slices of a short stack no file says; the user tells
    (``annotator add --pages slices``)."""
    if len(axes) != len(shape) or "Y" not in axes or "X" not in axes:
        return 0
    kept, reshaped = _squeezed(shape, axes)
    if len(kept) != 3 or kept[0] not in "QI" or kept[1:] != "YX":
        return 0
    try:
        order = layout(Path(), shape, axes)[1]
    except ImageReadError:
        return 0
    return reshaped[0] if order == [1, 2, 0] else 0


def is_picture(series: Any) -> bool:
    """Whether a tifffile series holds the file's pictures, not a page about them: a
    reduced-resolution copy (NewSubfileType bit 0: a thumbnail, an overview) or a
    transparency mask (bit 2: GDAL's internal nodata mask, of the picture's size)."""
    key = getattr(series, "keyframe", None)
    return not (getattr(key, "is_reduced", False) or getattr(key, "is_mask", False))


def pictures_of(all_series: Sequence[Any]) -> list[Any]:
    """The series of ``all_series`` that hold pictures (:func:`is_picture`); all of them
    when none is flagged so (a file of flags alone is read as it is)."""
    kept = [s for s in all_series if is_picture(s)]
    return kept or list(all_series)


def stack_plan(
    path: Path, all_series: Sequence[Any], unnamed_slices: bool = False
) -> StackPlan | None:
    """The :class:`StackPlan` of a TIFF whose series (tifffile's, each with ``shape``
    and ``axes``) are ``all_series``; ``None`` when it holds one image (or nothing this
    rule reads: :func:`layout` then says what). A stack that cannot be cut into
    pictures is refused in words (:class:`ImageReadError`): several stacks in one file,
    or samples and channels both. ``unnamed_slices``: the planes :func:`layout` reads as
    channels for want of a name (:func:`unnamed_channels`) are slices instead (a label
    stack; a short stack the user says is one)."""
    all_series = pictures_of(all_series)
    if not all_series:
        return None
    first = all_series[0]
    shape, axes = _shape(first), str(first.axes)
    if unnamed_slices and (planes := unnamed_channels(shape, axes)):
        _, (_, height, width) = _squeezed(shape, axes)
        return StackPlan(planes, (first,), (planes, height, width), (0, 1, 2), 2, height, width)
    try:
        one: tuple[tuple[int, ...], list[int]] | None = layout(path, shape, axes)
    except ImageReadError:
        one = None
    if one is not None:
        same = [s for s in all_series[1:] if _shape(s) == shape]
        if not same:
            return None  # one image (and maybe its thumbnails)
        height, width = (one[0][i] for i in one[1][:2])
        series = (first, *same)
        return StackPlan(len(series), series, one[0], tuple(one[1]), len(one[1]), height, width)
    if len(axes) != len(shape) or "Y" not in axes or "X" not in axes:
        return None
    kept, reshaped = _squeezed(shape, axes)
    channels = [i for i, a in enumerate(kept) if a in "SC"]
    plane_axes = [i for i, a in enumerate(kept) if a not in "YXSC"]
    if not plane_axes:
        return None
    y, x = kept.index("Y"), kept.index("X")
    planes = int(np.prod([reshaped[i] for i in plane_axes]))
    if len(channels) > 1:
        raise ImageReadError(
            path,
            f"a stack of {planes} images with both samples and channels (axes {axes}): no "
            "picture this app can show; save the slices as grey or RGB files (Fiji) and "
            "add those",
        )
    others = [s for s in all_series[1:] if (reshaped[y], reshaped[x]) == _shape(s)[-2:]]
    if others:  # another stack of the same picture size (an OME file of positions...)
        raise ImageReadError(
            path,
            f"holds {len(others) + 1} stacks of {reshaped[x]}x{reshaped[y]} images (series "
            "of their own), not one; save each as a file of its own (Fiji) and add those",
        )
    order = (*plane_axes, y, x, *channels)
    return StackPlan(planes, (first,), reshaped, order, 2 + len(channels), reshaped[y], reshaped[x])
