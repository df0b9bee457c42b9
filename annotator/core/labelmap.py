"""A label map and the edits on it, each returning a :class:`Patch`.

Coordinates
-----------
Every point is ``(x, y)`` in *pixel-centre* coordinates: the centre of the pixel in
row ``r`` and column ``c`` is ``(x=c, y=r)``. Arrays are indexed ``array[y, x]``. A GUI
whose scene puts pixel ``c`` on ``[c, c + 1)`` converts a scene position with
``x - 0.5, y - 0.5``.

* A disk of radius ``r`` around ``(x, y)`` covers the pixels whose centre lies within
  distance ``r`` of it (at least the nearest pixel, so radius 0 paints one pixel).
* A stroke covers every pixel within ``r`` of the polyline through its points (the
  union of "capsules" along each segment), so a fast drag leaves no gaps whatever the
  distance between two mouse positions.
* A polygon covers the pixels whose centre is inside it or on its boundary, inside
  meaning that the outline winds round the centre (the non-zero rule: a figure eight
  fills both lobes, an outline drawn round twice fills what it circles); a hole takes
  out the pixels whose centre is inside it, not on it (:func:`polygon_pixels`).

Every edit writes into the array in place and returns the :class:`Patch` of what it
changed (bounding box, old values, new values). A patch can be reverted and applied
again; :class:`annotator.core.history.EditHistory` stores them compactly for undo.

Reserved values: ``unlabelled`` is never a class (erasing writes it); ``void`` is a
value like a class id that means "ignore this pixel". Both come from the schema.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from annotator.core.contrast import channel_count, channel_windows, even_sample, percentile_window
from annotator.core.nodata import eight_bit
from annotator.core.schema import LabelSchema

Point = tuple[float, float]
#: An image-bounded fill's tolerance in the image's units: one for every channel, or one
#: per channel (a picture of several channels of more than 8 bits, each of its own range).
Tolerance = float | tuple[float, ...]


class Box(NamedTuple):
    """A half-open pixel rectangle: rows ``y0 .. y1-1``, columns ``x0 .. x1-1``."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def empty(self) -> bool:
        return self.height == 0 or self.width == 0

    @property
    def slices(self) -> tuple[slice, slice]:
        """``array[box.slices]`` is the region of the box."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def union(self, other: Box) -> Box:
        """The smallest box holding both (an empty box is ignored)."""
        if self.empty:
            return other
        if other.empty:
            return self
        return Box(
            min(self.y0, other.y0),
            min(self.x0, other.x0),
            max(self.y1, other.y1),
            max(self.x1, other.x1),
        )


EMPTY_BOX = Box(0, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class Patch:
    """What one edit changed: a box and the values in it before and after.

    ``old`` and ``new`` have the shape of the box. Pixels inside the box the edit did
    not touch have ``old == new``.
    """

    box: Box
    old: np.ndarray
    new: np.ndarray

    @property
    def empty(self) -> bool:
        """True when the edit changed nothing."""
        return self.box.empty

    @property
    def nbytes(self) -> int:
        """Memory held by the value arrays."""
        return int(self.old.nbytes + self.new.nbytes)

    def changed(self) -> np.ndarray:
        """Boolean mask (box-shaped) of the pixels whose value changed."""
        return self.old != self.new

    @property
    def y0(self) -> int:
        return self.box.y0

    @property
    def x0(self) -> int:
        return self.box.x0

    @property
    def y1(self) -> int:
        return self.box.y1

    @property
    def x1(self) -> int:
        return self.box.x1


def _empty_patch(dtype: np.dtype) -> Patch:
    z = np.zeros((0, 0), dtype=dtype)
    return Patch(EMPTY_BOX, z, z)


class LabelMap:
    """A 2-D label array (one class id per pixel) and the edits on it.

    The array is edited in place (a GUI may wrap the same buffer for display), so it
    must be C-contiguous and is never replaced.
    """

    def __init__(self, array: np.ndarray, unlabelled: int, void: int) -> None:
        if array.ndim != 2:
            raise ValueError(f"a label map is 2-D, got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.unsignedinteger):
            raise ValueError(f"a label map holds unsigned integers, got {array.dtype}")
        self.array = np.ascontiguousarray(array)
        self.unlabelled = int(unlabelled)
        self.void = int(void)

    @classmethod
    def for_schema(cls, schema: LabelSchema, array: np.ndarray) -> LabelMap:
        """Wrap ``array`` (converted to the schema's dtype) with the schema's reserved values."""
        return cls(np.ascontiguousarray(array, dtype=schema.dtype), schema.unlabelled, schema.void)

    @classmethod
    def blank(cls, schema: LabelSchema, height: int, width: int) -> LabelMap:
        """An all-unlabelled map of this size."""
        array = np.full((height, width), schema.unlabelled, dtype=schema.dtype)
        return cls(array, schema.unlabelled, schema.void)

    # --- basics ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape  # type: ignore[return-value]

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def copy_array(self) -> np.ndarray:
        """A snapshot of the labels (e.g. for saving on another thread)."""
        return self.array.copy()

    def labelled_count(self) -> int:
        """Number of pixels that are not unlabelled (void counts as labelled)."""
        return int(np.count_nonzero(self.array != self.unlabelled))

    def has_labels(self) -> bool:
        """Whether any pixel is labelled (void counts): the lowest and highest value, two
        passes that allocate nothing (``labelled_count`` makes a mask of the map)."""
        a = self.array
        return bool(a.size) and not (int(a.min()) == int(a.max()) == self.unlabelled)

    def clip_box(self, y0: int, x0: int, y1: int, x1: int) -> Box:
        """The box clipped to the map; empty when nothing is left."""
        y0, x0 = max(0, int(y0)), max(0, int(x0))
        y1, x1 = min(self.height, int(y1)), min(self.width, int(x1))
        if y1 <= y0 or x1 <= x0:
            return EMPTY_BOX
        return Box(y0, x0, y1, x1)

    def _check_value(self, value: int) -> int:
        value = int(value)
        if not 0 <= value <= np.iinfo(self.dtype).max:
            raise ValueError(f"label value {value} does not fit {self.dtype}")
        return value

    def protected_value(self, only_unlabelled: bool, only_over: int | None) -> int | None:
        """The one label an edit may overwrite (``None``: any), from the two spellings."""
        if only_over is not None:
            return int(only_over)
        return self.unlabelled if only_unlabelled else None

    def _write(
        self,
        box: Box,
        mask: np.ndarray,
        value: int | np.ndarray,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """Set ``value`` (a scalar or box-shaped values) where ``mask`` (box-shaped) is true.

        Protected painting: with ``only_over`` only pixels currently labelled
        ``only_over`` change (``only_unlabelled`` is ``only_over=unlabelled``), so a big
        brush can sweep along a border without touching the neighbouring class.
        """
        if box.empty:
            return _empty_patch(self.dtype)
        region = self.array[box.slices]
        keep = self.protected_value(only_unlabelled, only_over)
        if keep is not None:
            mask = mask & (region == keep)
        old = region.copy()
        if isinstance(value, np.ndarray):
            region[mask] = value[mask].astype(self.dtype, copy=False)
        else:  # (a fifth faster than ``region[mask] = value`` on a big box)
            np.copyto(region, self.dtype.type(value), where=mask)
        return Patch(box, old, region.copy())

    # --- painting -----------------------------------------------------------------------
    def paint_disk(
        self,
        x: float,
        y: float,
        radius: float,
        value: int,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """Paint the pixels within ``radius`` of ``(x, y)`` with ``value``."""
        return self.paint_stroke(
            [(x, y)], radius, value, only_unlabelled=only_unlabelled, only_over=only_over
        )

    def paint_stroke(
        self,
        points: Sequence[Point],
        radius: float,
        value: int,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """Paint every pixel within ``radius`` of the polyline through ``points``.

        One call returns one patch covering the whole polyline. A GUI calls it for each
        mouse move with ``[previous, current]`` so consecutive segments join with no gap.
        With ``only_unlabelled`` pixels that already carry a label are left alone; with
        ``only_over=k`` only pixels of label ``k`` are painted.
        """
        value = self._check_value(value)
        mask, box = self.stroke_mask(points, radius)
        return self._write(box, mask, value, only_unlabelled, only_over)

    def stroke_mask(self, points: Sequence[Point], radius: float) -> tuple[np.ndarray, Box]:
        """The pixels within ``radius`` of the polyline: (box-shaped mask, clipped box)."""
        if len(points) == 0:
            return np.zeros((0, 0), dtype=bool), EMPTY_BOX
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        # Half a pixel of slack so that radius 0 still covers the nearest pixel (a dab
        # exactly on a pixel corner is within it of none: see below).
        r = max(float(radius), 0.5)
        r2 = r * r + 1e-9
        xs, ys = pts[:, 0], pts[:, 1]
        box = self.clip_box(
            int(np.floor(ys.min() - r)),
            int(np.floor(xs.min() - r)),
            int(np.ceil(ys.max() + r)) + 1,
            int(np.ceil(xs.max() + r)) + 1,
        )
        if box.empty:
            return np.zeros((0, 0), dtype=bool), EMPTY_BOX
        yy = np.arange(box.y0, box.y1, dtype=np.float64)[:, None]
        xx = np.arange(box.x0, box.x1, dtype=np.float64)[None, :]
        mask = np.zeros((box.height, box.width), dtype=bool)
        if len(pts) == 1:
            mask |= (yy - ys[0]) ** 2 + (xx - xs[0]) ** 2 <= r2
            if not mask.any():  # on a corner: one of the four pixels there, in the image
                row = min(max(int(np.floor(ys[0] + 0.5)) - box.y0, 0), box.height - 1)
                col = min(max(int(np.floor(xs[0] + 0.5)) - box.x0, 0), box.width - 1)
                dy, dx = ys[0] - (row + box.y0), xs[0] - (col + box.x0)
                mask[row, col] = dy * dy + dx * dx <= 0.5 + 1e-9
        for i in range(len(pts) - 1):
            _capsule(mask, box, yy, xx, pts[i], pts[i + 1], r, r2)
        return mask, box

    def paint_stroke_from(
        self,
        points: Sequence[Point],
        radius: float,
        source: np.ndarray,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """The proposal brush: copy ``source``'s labels where the stroke passes.

        ``source`` is a full-size label array (a proposal's class ids); its unlabelled
        pixels are skipped, so the brush never erases.
        """
        source = self._check_source(source)
        mask, box = self.stroke_mask(points, radius)
        if box.empty:
            return _empty_patch(self.dtype)
        values = source[box.slices]
        mask &= values != self.unlabelled
        return self._write(box, mask, values, only_unlabelled, only_over)

    def paint_segments(
        self,
        segments: np.ndarray,
        points: Sequence[Point],
        radius: float,
        value: int,
        *,
        boxes: Sequence[tuple[slice, slice] | None] | None = None,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """The superpixel brush: paint every segment the stroke touches, whole.

        ``segments`` is a full-size array of segment ids ``0 .. n-1`` (superpixels), -1
        where there is no segment yet (a tile still being computed: never painted);
        ``boxes[i]``, if given, is segment ``i``'s bounding box (``scipy.ndimage.
        find_objects`` order), so the work follows the touched segments, not the image.
        """
        value = self._check_value(value)
        if segments.shape != self.shape:
            raise ValueError(f"segments shape {segments.shape} differs from label map {self.shape}")
        touched_mask, touched_box = self.stroke_mask(points, radius)
        if touched_box.empty:
            return _empty_patch(self.dtype)
        ids = np.unique(segments[touched_box.slices][touched_mask])
        ids = ids[ids >= 0]
        if ids.size == 0:
            return _empty_patch(self.dtype)
        if boxes is None:
            box = _bounding_box(np.isin(segments, ids))
        else:
            box = touched_box
            for i in ids:
                b = boxes[int(i)] if 0 <= int(i) < len(boxes) else None
                if b is not None:
                    box = box.union(Box(b[0].start, b[1].start, b[0].stop, b[1].stop))
        if box.empty:
            return _empty_patch(self.dtype)
        where = np.isin(segments[box.slices], ids)
        return self._write(box, where, value, only_unlabelled, only_over)

    def _check_source(self, source: np.ndarray) -> np.ndarray:
        if source.shape != self.shape:
            raise ValueError(f"source shape {source.shape} differs from label map {self.shape}")
        if source.size and int(source.max()) > np.iinfo(self.dtype).max:
            raise ValueError(f"source values do not fit {self.dtype}")
        return source

    def erase_stroke(self, points: Sequence[Point], radius: float) -> Patch:
        """Set the pixels within ``radius`` of the polyline back to unlabelled."""
        return self.paint_stroke(points, radius, self.unlabelled)

    # --- filling ------------------------------------------------------------------------
    def flood_fill(
        self,
        x: float,
        y: float,
        value: int,
        *,
        image: np.ndarray | None = None,
        tolerance: Tolerance | None = None,
        only_over: int | None = None,
        sample: int = 1,
    ) -> Patch:
        """Fill the 4-connected region of equal label around ``(x, y)`` with ``value``.

        With an ``image`` and a ``tolerance`` the region is also bounded by the image:
        a pixel joins only when every channel of its intensity is within ``tolerance``
        (or the channel's own, given one per channel) of the reference (a "magic wand"
        on the picture), so a fill of an unlabelled area stops at the edges of the
        object the user clicked. The reference is the mean of the finite pixels in the
        ``sample`` x ``sample`` square around the click (odd; 1: the clicked pixel
        itself), so one noisy pixel does not decide the fill. The clicked pixel always
        joins (it was clicked), even when it is farther than the tolerance from the
        mean; the fill spreads from it through the pixels near the reference. A pixel
        with no value (NaN in a channel) never joins, and a fill clicked on a pixel that
        is not finite (NaN, an infinity) fills nothing. A float tolerance is used as
        given (0.004 on a float picture of values 0..1). With ``only_over=k`` a region
        whose label is not ``k`` is left alone.
        """
        found = self.flood_region(
            x, y, value, image=image, tolerance=tolerance, only_over=only_over, sample=sample
        )
        if found is None:
            return _empty_patch(self.dtype)
        region, box, _ = found
        return self._write(box, region, value, only_unlabelled=False)

    def flood_region(
        self,
        x: float,
        y: float,
        value: int,
        *,
        image: np.ndarray | None = None,
        tolerance: Tolerance | None = None,
        only_over: int | None = None,
        sample: int = 1,
    ) -> tuple[np.ndarray, Box, int] | None:
        """What :meth:`flood_fill` would change, changing nothing: (box-shaped mask of
        the pixels, box, the label they hold), or None when it changes no pixel.

        The mask is a view into a buffer of the map's size: use it at once."""
        value = self._check_value(value)
        if sample < 1 or sample % 2 == 0:
            raise ValueError(f"sample must be an odd number of pixels >= 1, not {sample}")
        c, r = pixel_of(x), pixel_of(y)
        if not (0 <= r < self.height and 0 <= c < self.width):
            return None
        seed_label = int(self.array[r, c])
        if seed_label == value or (only_over is not None and seed_label != only_over):
            return None
        if image is not None and tolerance is not None:
            if image.shape[:2] != self.shape:
                raise ValueError(
                    f"image shape {image.shape[:2]} differs from label map {self.shape}"
                )
            found = _near_region(image, self.array, r, c, tolerance, sample)
            if found is None:  # a seed with no value (NaN) is near nothing, itself too
                return None
            region, box = found
        else:  # the region of equal label: flooded on the map itself, no full-size compare
            region, box = _connected_region(self.array, r, c)
        return region, box, seed_label

    def fill_polygon(
        self,
        exterior: Sequence[Point],
        holes: Sequence[Sequence[Point]] = (),
        value: int = 0,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """Fill a polygon (with optional holes) with ``value``: the pixels whose centre
        it winds round or passes through, less those inside a hole
        (:func:`polygon_pixels`). A self-intersecting outline (a figure eight) fills both
        lobes, one that circles its area twice fills it once, and a polygon with no area
        changes nothing.
        """
        value = self._check_value(value)
        mask, box = self.polygon_mask(exterior, holes)
        if mask is None:
            return _empty_patch(self.dtype)
        return self._write(box, mask, value, only_unlabelled, only_over)

    def fill_lasso(
        self,
        points: Sequence[Point],
        value: int,
        *,
        only_unlabelled: bool = False,
        only_over: int | None = None,
    ) -> Patch:
        """Fill the area enclosed by a freehand outline (closed back to its start)."""
        return self.fill_polygon(
            points, (), value, only_unlabelled=only_unlabelled, only_over=only_over
        )

    def polygon_mask(
        self, exterior: Sequence[Point], holes: Sequence[Sequence[Point]]
    ) -> tuple[np.ndarray | None, Box]:
        """The pixels of a polygon (:func:`polygon_pixels`): (box-shaped mask, box), or
        ``(None, empty)`` for one with no area or outside the map."""
        outline = _ring(exterior)
        if outline is None or not _has_area(outline):
            return None, EMPTY_BOX
        cut = [r for r in map(_ring, holes) if r is not None and _has_area(r)]
        xmin, ymin = outline.min(axis=0)
        xmax, ymax = outline.max(axis=0)
        box = self.clip_box(
            int(np.floor(ymin)), int(np.floor(xmin)), int(np.ceil(ymax)) + 1, int(np.ceil(xmax)) + 1
        )
        if box.empty:
            return None, EMPTY_BOX
        offset = np.array([box.x0, box.y0], dtype=np.float64)
        mask = polygon_pixels(outline - offset, (box.height, box.width))
        for hole in cut:
            mask &= ~polygon_pixels(hole - offset, (box.height, box.width), edges=False)
        return mask, box

    # --- whole-array edits -----------------------------------------------------------------
    def assign(
        self,
        values: np.ndarray | int,
        where: np.ndarray | None = None,
        *,
        only_over: int | None = None,
    ) -> Patch:
        """Set ``values`` (a scalar or a full-size array) where ``where`` is true.

        This is how a model proposal is accepted as one undoable edit:
        ``label_map.assign(proposal, where=label_map.array == label_map.unlabelled)``.
        Without ``where`` every pixel is assigned. The patch covers the bounding box of
        ``where``.
        """
        if where is None:
            where = np.ones(self.shape, dtype=bool)
        if where.shape != self.shape:
            raise ValueError(f"mask shape {where.shape} differs from label map {self.shape}")
        values_arr = np.asarray(values)
        if values_arr.ndim not in (0, 2) or (
            values_arr.ndim == 2 and values_arr.shape != self.shape
        ):
            raise ValueError(f"values must be a scalar or of shape {self.shape}")
        if values_arr.ndim == 0:
            self._check_value(int(values_arr))
        elif values_arr.size and int(values_arr.max()) > np.iinfo(self.dtype).max:
            raise ValueError(f"values do not fit {self.dtype}")
        rows = np.flatnonzero(where.any(axis=1))
        if rows.size == 0:
            return _empty_patch(self.dtype)
        cols = np.flatnonzero(where.any(axis=0))
        box = Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        region = self.array[box.slices]
        old = region.copy()
        local = where[box.slices]
        if only_over is not None:
            local = local & (region == only_over)
        if values_arr.ndim == 0:
            region[local] = int(values_arr)
        else:  # (one pass: taking the values out and putting them in took 2.5 times as long)
            np.copyto(region, values_arr[box.slices], casting="unsafe", where=local)
        return Patch(box, old, region.copy())

    def accept(
        self, source: np.ndarray, class_id: int | None = None, *, only_over: int | None = None
    ) -> Patch:
        """Accept a proposal: copy ``source`` into the unlabelled pixels, or with
        protected painting "only over class k" (``only_over``) into the pixels labelled
        k instead. ``class_id`` limits it to the pixels the proposal gives that class.
        Accepting never overwrites other labels: they are the user's work, and never
        writes where ``source`` is unlabelled (a proposal's pixels with no value)."""
        source = self._check_source(source)
        where = self.array == (self.unlabelled if only_over is None else only_over)
        where &= source != self.unlabelled
        if class_id is not None:
            where &= source == class_id
        return self.assign(source, where)

    def assign_region(
        self, source: np.ndarray, x: float, y: float, *, only_over: int | None = None
    ) -> Patch:
        """Accept region: copy the 4-connected region of equal ``source`` label around
        ``(x, y)`` (a click on one object of a proposal) into the label map."""
        source = self._check_source(source)
        found = region_at(source, x, y, self.unlabelled)
        if found is None:
            return _empty_patch(self.dtype)
        region, box = found
        seed = int(source[pixel_of(y), pixel_of(x)])
        return self._write(box, region, seed, only_over=only_over)

    def fill_holes(
        self,
        value: int,
        max_area: int,
        *,
        within: np.ndarray | None = None,
        only_over: int | None = None,
    ) -> Patch:
        """Give ``value`` to every region enclosed by ``value`` of at most ``max_area``
        pixels (holes left inside an object), inside ``within`` (default: everywhere).

        A region is enclosed when it touches neither the image border nor the edge of
        ``within``; regions of any other label, unlabelled included, count as holes.
        Protected painting: with ``only_over`` only a hole's pixels of that label change.
        """
        import cv2

        value = self._check_value(value)
        area, box = self._area(within)
        if box.empty:
            return _empty_patch(self.dtype)
        labels = self.array[box.slices]
        other = (labels != value) & area
        n, comp, stats, _ = cv2.connectedComponentsWithStats(other.view(np.uint8), connectivity=4)
        # Components touching the box edge, or leaving ``within``, are not enclosed.
        outside = np.zeros(n, dtype=bool)
        outside[np.unique(comp[0, :])] = True
        outside[np.unique(comp[-1, :])] = True
        outside[np.unique(comp[:, 0])] = True
        outside[np.unique(comp[:, -1])] = True
        if within is not None:
            ring = cv2.dilate((~area).view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            outside[np.unique(comp[ring & other])] = True
        keep = (~outside) & (stats[:, cv2.CC_STAT_AREA] <= max_area)
        keep[0] = False  # component 0 is the non-candidate pixels
        return self._write_tight(box, keep[comp], value, only_over)

    def remove_specks(
        self,
        value: int,
        max_area: int,
        *,
        within: np.ndarray | None = None,
        only_over: int | None = None,
    ) -> Patch:
        """Relabel every connected piece of ``value`` of at most ``max_area`` pixels
        (inside ``within``) with the label that surrounds it most, or unlabelled when it
        is surrounded by nothing else. Protected painting: with ``only_over`` other than
        ``value`` nothing changes (specks are pixels of ``value``)."""
        import cv2

        value = self._check_value(value)
        inner, box = self._area(within)
        if box.empty:
            return _empty_patch(self.dtype)
        # One pixel round the area is looked at too: a piece of ``value`` that goes on
        # outside it is part of something bigger, not a speck (an outline across an
        # object took the part it cut off).
        outer = self.clip_box(box.y0 - 1, box.x0 - 1, box.y1 + 1, box.x1 + 1)
        labels = self.array[outer.slices]
        area = np.zeros(labels.shape, dtype=bool)
        area[box.y0 - outer.y0 : box.y1 - outer.y0, box.x0 - outer.x0 : box.x1 - outer.x0] = inner
        piece = (labels == value) & area
        n, comp, stats, _ = cv2.connectedComponentsWithStats(piece.view(np.uint8), connectivity=8)
        new = labels.copy()
        changed = np.zeros(labels.shape, dtype=bool)
        kernel = np.ones((3, 3), np.uint8)
        for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= max_area):
            if i == 0:
                continue
            x, y, w, h = (int(v) for v in stats[i, :4])
            y0, x0 = max(0, y - 1), max(0, x - 1)
            y1, x1 = min(labels.shape[0], y + h + 1), min(labels.shape[1], x + w + 1)
            here = comp[y0:y1, x0:x1] == i
            border = cv2.dilate(here.view(np.uint8), kernel).astype(bool) & ~here
            around = labels[y0:y1, x0:x1][border]
            if (around == value).any():  # goes on outside the area
                continue
            around = around[around != value]
            if around.size:
                fill = int(np.bincount(around).argmax())
            else:
                fill = self.unlabelled
            new[y0:y1, x0:x1][here] = fill
            changed[y0:y1, x0:x1] |= here
        return self._write_tight(outer, changed, new, only_over)

    def _write_tight(
        self, box: Box, mask: np.ndarray, value: int | np.ndarray, only_over: int | None = None
    ) -> Patch:
        """:meth:`_write` with the box shrunk to the pixels that change (a small patch)."""
        inner = _bounding_box(mask)
        if inner.empty:
            return _empty_patch(self.dtype)
        values = value[inner.slices] if isinstance(value, np.ndarray) else value
        shifted = Box(box.y0 + inner.y0, box.x0 + inner.x0, box.y0 + inner.y1, box.x0 + inner.x1)
        return self._write(shifted, mask[inner.slices], values, only_over=only_over)

    def _area(self, within: np.ndarray | None) -> tuple[np.ndarray, Box]:
        """``within`` (full-size bool, default everything) cut to its bounding box."""
        if within is None:
            return np.ones(self.shape, dtype=bool), Box(0, 0, self.height, self.width)
        if within.shape != self.shape:
            raise ValueError(f"area shape {within.shape} differs from label map {self.shape}")
        box = _bounding_box(within)
        return within[box.slices], box

    # --- patches ---------------------------------------------------------------------------
    def land(self, patch: Patch) -> Patch:
        """Write a patch computed on an earlier copy of this map (off the GUI thread) where
        the pixels still hold its old values: what was edited meanwhile is newer and stays.
        Returns what changed."""
        if patch.empty:
            return _empty_patch(self.dtype)
        if patch.box.y1 > self.height or patch.box.x1 > self.width:
            raise ValueError(f"patch box {patch.box} lies outside the label map {self.shape}")
        region = self.array[patch.box.slices]
        return self._write_tight(patch.box, patch.changed() & (region == patch.old), patch.new)

    def apply(self, patch: Patch) -> None:
        """Write the patch's new values (redo)."""
        if not patch.empty:
            self.array[patch.box.slices] = patch.new

    def revert(self, patch: Patch) -> None:
        """Write the patch's old values back (undo)."""
        if not patch.empty:
            self.array[patch.box.slices] = patch.old


def clean_up_edits(
    value: int, max_area: int, within: np.ndarray | None = None, only_over: int | None = None
) -> list[Callable[[LabelMap], Patch]]:
    """The edits of a clean-up, in order: fill the holes of ``value``, then remove its
    specks (:meth:`LabelMap.fill_holes`, :meth:`LabelMap.remove_specks`). Run on the
    label map as one undo step, or on a copy off the GUI thread."""
    return [
        functools.partial(
            LabelMap.fill_holes, value=value, max_area=max_area, within=within, only_over=only_over
        ),
        functools.partial(
            LabelMap.remove_specks,
            value=value,
            max_area=max_area,
            within=within,
            only_over=only_over,
        ),
    ]


def _capsule(
    mask: np.ndarray,
    box: Box,
    yy: np.ndarray,
    xx: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    r: float,
    r2: float,
) -> None:
    """OR into ``mask`` the pixels within ``r`` of segment ``a``-``b`` (points are x, y)."""
    ax, ay = float(a[0]), float(a[1])
    bx, by = float(b[0]), float(b[1])
    # Only the segment's own bounding box (plus r) can be touched.
    y0 = max(box.y0, int(np.floor(min(ay, by) - r)))
    y1 = min(box.y1, int(np.ceil(max(ay, by) + r)) + 1)
    x0 = max(box.x0, int(np.floor(min(ax, bx) - r)))
    x1 = min(box.x1, int(np.ceil(max(ax, bx) + r)) + 1)
    if y1 <= y0 or x1 <= x0:
        return
    sy = yy[y0 - box.y0 : y1 - box.y0] - ay
    sx = xx[:, x0 - box.x0 : x1 - box.x0] - ax
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        inside = sy * sy + sx * sx <= r2
    else:
        t = np.clip((sx * dx + sy * dy) / length2, 0.0, 1.0)
        ex = sx - t * dx
        ey = sy - t * dy
        inside = ex * ex + ey * ey <= r2
    mask[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0] |= inside


def tolerance_scale(image: np.ndarray, max_pixels: int | None = None) -> float:
    """What an image-bounded fill's tolerance given for 8-bit data is multiplied by for
    ``image``: 1 for 8-bit data (an 8-bit picture with nodata pixels, read as float,
    too: ``core.nodata.eight_bit``), else its range (0.5 to 99.5 percentile of its
    finite values, every channel together) over 255, so 30 grey levels of an 8-bit
    picture are as many tenths of a 16-bit one's contrast (1 when the range is empty).
    ``max_pixels``: read an even sample of at most about that many pixels (a big image)."""
    if eight_bit(image):
        return 1.0
    return _scale_of(percentile_window(even_sample(image, max_pixels)))


def tolerance_scales(image: np.ndarray, max_pixels: int | None = None) -> tuple[float, ...]:
    """:func:`tolerance_scale` of each channel of ``image`` on its own (one for a grey
    picture): the factors that carry a tolerance in 8-bit grey levels to each channel's
    automatic contrast window (``core.contrast``). All 1 for 8-bit data (nodata or not)."""
    if eight_bit(image):
        return (1.0,) * channel_count(image)
    return tuple(_scale_of(w) for w in channel_windows(image, max_pixels=max_pixels))


def _scale_of(window: tuple[float, float] | None) -> float:
    if window is None or not window[1] > window[0]:
        return 1.0
    return (window[1] - window[0]) / 255.0


def _reference(image: np.ndarray, r: int, c: int, sample: int = 1) -> np.ndarray | None:
    """What a fill to edges clicked at pixel ``(r, c)`` measures from: one value per
    channel, the mean of the pixels finite in every channel in the ``sample`` x
    ``sample`` square around it (cut by the image's border; 1: the pixel itself). None
    when the clicked pixel is not finite (NaN or an infinity): no fill starts there."""
    seed = np.atleast_1d(image[r, c]).astype(np.float64)
    if not np.isfinite(seed).all():
        return None
    if sample == 1:
        return seed
    half = sample // 2
    window = image[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
    values = window.reshape(-1, seed.size).astype(np.float64)
    mean: np.ndarray = values[np.isfinite(values).all(axis=1)].mean(axis=0)  # (the seed's in)
    return mean


def _near(image: np.ndarray, r: int, c: int, tolerance: Tolerance, sample: int = 1) -> np.ndarray:
    """Pixels every channel of which is within ``tolerance`` (or its channel's, given one
    per channel) of the reference measured around pixel ``(r, c)`` (:func:`_reference`:
    its own value with ``sample`` 1). NaN is near nothing, and a seed that is not finite
    (NaN or an infinity: no value to measure from) is near nothing, itself included.

    OpenCV's ``inRange`` compares in place, where numpy would make float copies of the
    whole image (seconds and gigabytes for a 48-megapixel RGB picture)."""
    import cv2

    ref = _reference(image, r, c, sample)
    if ref is None:
        return np.zeros(image.shape[:2], dtype=bool)
    channels = channel_count(image)
    tol = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), ref.shape)
    if image.dtype in (np.uint8, np.uint16, np.int16, np.float32) and channels <= 4:
        low, high = ref - tol, ref + tol
        if image.dtype.kind in "ui":  # integers p with |p - ref| <= tolerance
            low, high = np.ceil(low), np.floor(high)
        bounds = [tuple(float(v) for v in b) + (0.0,) * (4 - channels) for b in (low, high)]
        return cv2.inRange(image, bounds[0], bounds[1]).view(bool)
    diff = np.abs(image.astype(np.float64) - (ref if channels > 1 else ref[0]))
    near: np.ndarray = diff <= (tol if channels > 1 else tol[0])  # NaN compares false
    return near if near.ndim == 2 else np.logical_and.reduce(near, axis=2)


def region_at(
    values: np.ndarray, x: float, y: float, unlabelled: int | None = None
) -> tuple[np.ndarray, Box] | None:
    """The 4-connected region of equal value in ``values`` (a proposal's classes, a label
    map) around the pixel at ``(x, y)``: (box-shaped mask, box). None where there is
    none: outside the array, or on a pixel of the ``unlabelled`` value.

    The mask is a view into a buffer of the array's size: use it at once."""
    c, r = pixel_of(x), pixel_of(y)
    h, w = values.shape
    if not (0 <= r < h and 0 <= c < w):
        return None
    if unlabelled is not None and int(values[r, c]) == unlabelled:
        return None
    return _connected_region(values, r, c)


def _near_region(
    image: np.ndarray,
    labels: np.ndarray,
    r: int,
    c: int,
    tolerance: Tolerance,
    sample: int = 1,
) -> tuple[np.ndarray, Box] | None:
    """The 4-connected region around ``(r, c)`` of the pixels labelled as it is whose
    every channel is within ``tolerance`` of the reference (:func:`_reference`, the
    mean of the ``sample`` x ``sample`` square around the seed): (box-shaped mask, box),
    or None when the seed has no value (NaN) or the tolerance is negative. The seed
    always joins, near the reference or not: the region spreads from it.

    An 8-bit grey or RGB picture is flooded by OpenCV itself, the other labels masked
    off: only the region's pixels are compared. Comparing every pixel of an 8000 x 6000
    RGB picture first took 30-40 ms, most of a fill's time."""
    import cv2

    channels = 1 if image.ndim == 2 else image.shape[2]
    tol = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (channels,))
    if not (tol >= 0).all():  # nothing is near anything
        return None
    if image.dtype != np.uint8 or channels not in (1, 3):
        eligible = labels == labels[r, c]
        eligible &= _near(image, r, c, tolerance, sample)
        if not eligible[r, c]:
            if _reference(image, r, c) is None:  # a seed with no value
                return None
            eligible[r, c] = True  # clicked: joins, however far from the reference
        return _connected_region(eligible, r, c)
    ref = _reference(image, r, c, sample)
    assert ref is not None  # (8-bit values are finite)
    # 8-bit values p with |p - ref| <= tol: whole numbers from ceil(ref - tol) to
    # floor(ref + tol). OpenCV's fixed range is measured from the pixel it starts at.
    low = np.clip(np.ceil(ref - tol), 0, 255)
    high = np.clip(np.floor(ref + tol), 0, 255)
    h, w = labels.shape
    flood = np.empty((h + 2, w + 2), dtype=np.uint8)
    flood[[0, -1], :] = 1
    flood[:, [0, -1]] = 1
    np.not_equal(labels, labels[r, c], out=flood[1:-1, 1:-1].view(bool))  # 1: another label
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (2 << 8)
    picture = np.ascontiguousarray(image)
    if not picture.flags.writeable:  # (OpenCV refuses a read-only argument it may write)
        picture = picture.copy()

    def near(y: int, x: int) -> bool:
        v = np.atleast_1d(picture[y, x])
        return bool(((low <= v) & (v <= high)).all())

    # A seed outside the range (a noisy pixel clicked) joins, and the region spreads
    # from its neighbours that are near the reference, each flooded from its own value.
    starts = [(r, c)]
    if not near(r, c):
        flood[1 + r, 1 + c] = 2
        starts = [
            (y, x)
            for y, x in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
            if 0 <= y < h and 0 <= x < w and flood[1 + y, 1 + x] == 0 and near(y, x)
        ]
    y0, x0, y1, x1 = r, c, r + 1, c + 1
    for y, x in starts:
        if flood[1 + y, 1 + x] != 0:  # taken by a flood from another neighbour
            continue
        v = np.atleast_1d(picture[y, x]).astype(np.float64)
        lo = tuple(float(d) for d in v - low) + (0.0,) * (4 - channels)
        up = tuple(float(d) for d in high - v) + (0.0,) * (4 - channels)
        _, _, _, (rx, ry, rw, rh) = cv2.floodFill(picture, flood, (x, y), 0, lo, up, flags)
        y0, x0, y1, x1 = min(y0, ry), min(x0, rx), max(y1, ry + rh), max(x1, rx + rw)
    return flood[1 + y0 : 1 + y1, 1 + x0 : 1 + x1] == 2, Box(y0, x0, y1, x1)


def _connected_region(values: np.ndarray, r: int, c: int) -> tuple[np.ndarray, Box]:
    """The 4-connected component of the pixels equal to ``values[r, c]`` around
    ``(r, c)``: (box-shaped mask, box). ``values`` is a bool mask (the component of true
    pixels when ``(r, c)`` is one) or an integer map (a label map, a proposal's classes).

    OpenCV floods an 8-bit map itself; another one is compared to the seed's value first.
    The mask returned is a view into the flood's buffer (no copy of a big box): use it at
    once, do not keep it."""
    import cv2

    h, w = values.shape
    if values.dtype == bool:
        img = values.view(np.uint8)
    elif values.dtype == np.uint8:
        img = values
    else:
        img = (values == values[r, c]).view(np.uint8)
    flood = np.zeros((h + 2, w + 2), dtype=np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, rect = cv2.floodFill(np.ascontiguousarray(img), flood, (c, r), 1, 0, 0, flags)
    x, y, bw, bh = rect
    box = Box(y, x, y + bh, x + bw)
    return flood[1 + y : 1 + y + bh, 1 + x : 1 + x + bw].view(bool), box


def _bounding_box(mask: np.ndarray) -> Box:
    """The smallest box holding every true pixel of ``mask`` (empty if none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return EMPTY_BOX
    cols = np.flatnonzero(mask.any(axis=0))
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def values_present(labels: np.ndarray) -> np.ndarray:
    """The values a label map of uint8 or uint16 holds, in order: ``np.unique`` by a
    histogram (one pass, no sort: 0.04-0.11 s on 8192 x 8192 against 0.5-0.6 s), for
    the checks a round makes on the GUI thread."""
    if labels.dtype in (np.uint8, np.uint16) and labels.size:
        import cv2

        bins = 256 if labels.dtype == np.uint8 else 65536
        hist = cv2.calcHist([np.ascontiguousarray(labels)], [0], None, [bins], [0, bins])
        return np.flatnonzero(hist.ravel()).astype(labels.dtype)
    return np.unique(labels)


def pixel_of(v: float) -> int:
    """The pixel (column or row) a coordinate falls in: the one whose centre is nearest,
    and at a point halfway between two centres the lower one, as Qt draws a picture
    scaled by a whole or a half zoom (its pixel edges fall on a screen pixel's centre
    there). Python's ``round`` takes the even one; ``floor(v + 0.5)`` the upper one.
    A point within a millionth of a pixel of halfway is halfway (a screen position
    mapped back through the zoom carries that much rounding error)."""
    return math.ceil(v - 0.5 - 1e-6)


def _ring(points: Sequence[Point]) -> np.ndarray | None:
    """An outline's ``(n, 2)`` float ``(x, y)`` vertices (a last one repeating the
    first dropped), or ``None`` for fewer than 3 or a coordinate that is not finite."""
    if len(points) < 3:
        return None
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] < 2 or not np.isfinite(arr[:, :2]).all():
        return None
    arr = arr[:, :2]
    if len(arr) > 3 and (arr[0] == arr[-1]).all():
        arr = arr[:-1]
    return arr


def _has_area(ring: np.ndarray) -> bool:
    """Whether an outline's vertices span a plane (not all on one line or point)."""
    d = ring - ring[0]
    cross = d[:-1, 0] * d[1:, 1] - d[:-1, 1] * d[1:, 0]
    scale = float(np.abs(d).max()) if d.size else 0.0
    return scale > 0 and bool((np.abs(cross) > 1e-12 * scale * scale).any())


def polygon_pixels(ring: np.ndarray, shape: tuple[int, int], edges: bool = True) -> np.ndarray:
    """``(h, w)`` bool: the pixels whose centre (``x = column``, ``y = row``) the closed
    outline ``ring`` (``(n, 2)`` ``(x, y)``) winds round (the non-zero rule), and with
    ``edges`` those whose centre lies on one of its edges (without: those are left out,
    as a hole leaves its own border to the polygon around it).

    Scan conversion row by row at the pixel centres: each edge crosses the rows from
    its lower end up to, not including, its upper end (a vertex on a row is crossed
    once), the crossings of a row sorted by x, and the pixels between two crossings
    where the winding number is not zero filled. Exact to the centre, where OpenCV's
    ``fillPoly`` adds the pixels its 8-connected edges pass through (a pixel's width
    outside the outline the user saw)."""
    h, w = shape
    out = np.zeros((h, w), bool)
    if h <= 0 or w <= 0:
        return out
    x0, y0 = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    slanted = y0 != y1
    ex0, ey0, ex1, ey1 = x0[slanted], y0[slanted], x1[slanted], y1[slanted]
    first = np.clip(np.ceil(np.minimum(ey0, ey1)), 0, h).astype(np.int64)
    stop = np.clip(np.ceil(np.maximum(ey0, ey1)), 0, h).astype(np.int64)
    edge, rows, xs = _crossings(ex0, ey0, ex1, ey1, first, stop)
    if rows.size:
        up = np.where(ey1[edge] > ey0[edge], 1, -1)
        order = np.lexsort((xs, rows))
        rows, xs, up = rows[order], xs[order], up[order]
        winding = np.cumsum(up)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        before = np.repeat(np.r_[0, winding[starts[1:] - 1]], np.diff(np.r_[starts, rows.size]))
        inside = (winding - before)[:-1] != 0
        span = np.flatnonzero(inside & (rows[1:] == rows[:-1]))
        a = np.ceil(xs[span]).astype(np.int64)
        b = np.floor(xs[span + 1]).astype(np.int64)
        a, b = np.maximum(a, 0), np.minimum(b, w - 1)
        keep = a <= b
        # (the spans of a row meet at most at an end: a count of 2 at most, int8)
        diff = np.zeros((h, w + 1), np.int8)
        np.add.at(diff, (rows[span][keep], a[keep]), 1)
        np.add.at(diff, (rows[span][keep], b[keep] + 1), -1)
        out = np.cumsum(diff[:, :w], axis=1, dtype=np.int8) > 0
    on = _centres_on_edges(x0, y0, x1, y1, shape)
    if edges:
        out[on] = True
    else:
        out[on] = False
    return out


def _crossings(
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    first: np.ndarray,
    stop: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the slanted edges ``(x0, y0)`` to ``(x1, y1)`` cross the pixel rows
    ``first .. stop - 1`` of each: (the edge's index, the row, the x there) per crossing."""
    n = np.maximum(stop - first, 0)
    edge = np.repeat(np.arange(n.size), n)
    rows = np.repeat(first, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    xs = x0[edge] + (rows - y0[edge]) * ((x1 - x0) / (y1 - y0))[edge]
    return edge, rows, xs


def _centres_on_edges(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, columns)`` of the pixel centres that lie on the edges ``(x0, y0)`` to
    ``(x1, y1)`` (within 1e-9 of a pixel), within ``shape``."""
    h, w = shape
    rows_out, cols_out = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    flat = y0 == y1
    on_row = flat & (np.abs(y0 - np.round(y0)) < 1e-9)
    for y, xa, xb in zip(y0[on_row], np.minimum(x0, x1)[on_row], np.maximum(x0, x1)[on_row]):
        r = int(round(float(y)))
        c0, c1 = max(int(np.ceil(xa - 1e-9)), 0), min(int(np.floor(xb + 1e-9)), w - 1)
        if 0 <= r < h and c0 <= c1:
            rows_out.append(np.full(c1 - c0 + 1, r, np.int64))
            cols_out.append(np.arange(c0, c1 + 1, dtype=np.int64))
    s = ~flat
    ex0, ey0, ex1, ey1 = x0[s], y0[s], x1[s], y1[s]
    first = np.clip(np.ceil(np.minimum(ey0, ey1) - 1e-9), 0, h).astype(np.int64)
    stop = np.clip(np.floor(np.maximum(ey0, ey1) + 1e-9) + 1, 0, h).astype(np.int64)
    _, rows, xs = _crossings(ex0, ey0, ex1, ey1, first, stop)
    if rows.size:
        cols = np.round(xs)
        hit = (np.abs(xs - cols) < 1e-9) & (cols >= 0) & (cols < w)
        rows_out.append(rows[hit])
        cols_out.append(cols[hit].astype(np.int64))
    return np.concatenate(rows_out), np.concatenate(cols_out)
