"""Nodata: the value a GeoTIFF names (its ``GDAL_NODATA`` tag, 42113) for pixels that
hold no measurement (outside the swath, a cloud mask, the collar of a reprojection).

A picture read with such pixels is a float array with NaN there (ADR 0029), because
NaN is already what the display windows, the model's input normalisation and the fill
leave out: -9999 or 0 taken as a brightness stretched every window over nothing. A
pixel whose channels are all NaN is a **no-value pixel**: proposals give it no class,
the uncertainty score passes over it and training never learns from it. No Qt, no
files.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

#: The TIFF tag GDAL writes a raster's nodata value in, as ASCII text ("-9999", "0", "nan").
GDAL_NODATA_TAG = 42113


def parse_nodata(text: object) -> float | None:
    """The number a ``GDAL_NODATA`` tag's text names (NaN for "nan"); None when the
    text is no number (the tag is then ignored, as GDAL does)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1", "replace")
    if not isinstance(text, str):
        return None
    try:
        value = float(text.strip().strip("\x00").strip())
    except ValueError:
        return None
    return value


def nodata_label(value: float) -> str:
    """How a nodata value is written for people: ``-9999``, ``0``, ``nan``, ``-3.4e+38``."""
    if math.isnan(value):
        return "nan"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


class NodataPicture(np.ndarray[Any, np.dtype[Any]]):
    """A picture read with NaN at its nodata pixels (float), knowing the type its file
    holds (``source_dtype``: uint8 for an 8-bit orthophoto with nodata 0). What is
    chosen by the picture's type is chosen by that one (:func:`source_dtype`): an 8-bit
    picture keeps the 8-bit contrast window (0..255) and fill tolerance scale whether or
    not some of its pixels have no value, while those pixels stay NaN for everything
    that reads values (model input, proposals, fills, scores).

    Views, slices, channels picked and ``astype`` copies keep it (they hold the file's
    values); arithmetic (a ufunc) gives a plain array, whose values are no longer the
    file's. ``np.asarray`` and ``np.ascontiguousarray`` also give a plain array: read
    :func:`source_dtype` before, or :func:`keep_source` after."""

    source_dtype: np.dtype[Any]

    def __array_finalize__(self, obj: object) -> None:
        found = getattr(obj, "source_dtype", None)
        self.source_dtype = found if found is not None else self.dtype

    def __array_wrap__(self, arr: Any, context: Any = None, return_scalar: bool = False) -> Any:
        out = super().__array_wrap__(arr, context, return_scalar)
        return out.view(np.ndarray) if isinstance(out, np.ndarray) else out

    def __reduce__(self) -> Any:  # (pickled to a worker process: the type goes along)
        rebuild, args, state = cast(tuple[Any, Any, Any], super().__reduce__())
        return rebuild, args, (state, self.source_dtype.str)

    def __setstate__(self, state: Any) -> None:
        inner, dtype = state
        super().__setstate__(inner)
        self.source_dtype = np.dtype(dtype)


def source_dtype(image: np.ndarray) -> np.dtype[Any]:
    """The type the file of ``image`` holds its values in: its own dtype, but for a
    picture whose nodata pixels were read as NaN (:class:`NodataPicture`)."""
    found = getattr(image, "source_dtype", None)
    return found if isinstance(found, np.dtype) else image.dtype


def eight_bit(image: np.ndarray) -> bool:
    """Whether ``image`` is an 8-bit picture (``uint8`` in its file, nodata or not):
    shown as it is (window 0..255), its fill tolerance in its own levels."""
    return source_dtype(image) == np.uint8


def keep_source(source: np.ndarray, array: np.ndarray) -> np.ndarray:
    """``array`` (made from ``source``'s values: a contiguous copy, channels picked) as
    a :class:`NodataPicture` of ``source``'s source type when ``source`` is one."""
    if not isinstance(source, NodataPicture) or isinstance(array, NodataPicture):
        return array
    kept = array.view(NodataPicture)
    kept.source_dtype = source.source_dtype
    return kept


def with_nodata(
    array: np.ndarray, value: float | None, seen: np.ndarray | None = None
) -> np.ndarray:
    """``array`` with NaN at each value equal to the nodata ``value``: float32 (float64
    for 32- and 64-bit integers and float64 pictures, which float32 cannot hold
    exactly), a :class:`NodataPicture` that knows its type. ``array`` (``seen``) itself when
    no value equals it (or ``value`` is None or NaN, which a float picture already holds
    as NaN): a picture with no nodata pixel reads exactly as before. Compared in the
    picture's own type, so -9999 finds the float32 -9999.0 and 0 the uint16 0; a value
    an integer picture cannot hold finds nothing.

    ``seen``: the picture as it is shown, made from the stored ``array`` (a palette's
    colours, a ``MINISWHITE`` grey turned): the value is found among the stored values
    (GDAL's tag names one of them), and ``seen``'s pixels there (every channel) are NaN."""
    shown = array if seen is None else seen
    if value is None or math.isnan(value):
        return shown
    kind = array.dtype.kind
    if kind in "ui":
        info = np.iinfo(array.dtype)
        if not value.is_integer() or not info.min <= value <= info.max:
            return shown
        target = array.dtype.type(int(value))
    elif kind == "f":
        target = array.dtype.type(value)
        if not np.isfinite(target) and np.isfinite(value):
            return shown  # (a value past the type's range, which no pixel holds)
    else:
        return shown
    hit = array == target
    if seen is not None and hit.ndim == 3 and hit.shape != seen.shape:
        hit = hit.all(axis=2)  # (four inks, three colours: a pixel no ink of which holds data)
    if not hit.any():
        return shown
    kind = shown.dtype.kind
    wide = shown.dtype.itemsize >= 4 and kind in "ui" or shown.dtype == np.float64
    out = shown.astype(np.float64 if wide else np.float32).view(NodataPicture)
    out.source_dtype = shown.dtype
    out[hit] = np.nan
    return out


def no_value_pixels(image: np.ndarray) -> np.ndarray | None:
    """The ``(H, W)`` pixels of ``image`` with no value: all their channels used (the
    first three) NaN. None when there is none (an integer picture never has one), so
    callers skip every step for the pictures most people have."""
    if image.dtype.kind != "f":
        return None
    used = image if image.ndim == 2 else image[..., : min(3, image.shape[2])]
    nan = np.isnan(used)
    if used.ndim == 3:
        nan = nan.all(axis=2)
    return nan if nan.any() else None
