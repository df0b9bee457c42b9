"""Undo and redo of label edits: one gesture is one step, the whole history capped in bytes.

A gesture (a brush stroke) produces many patches, one per mouse move. Between
:meth:`EditHistory.begin_stroke` and :meth:`EditHistory.commit_stroke` they are kept as
they are (so :meth:`EditHistory.abort_stroke` can restore the pixels); the commit merges
them into one :class:`Step` that stores only the pixels whose value changed:

* their positions, either as ``uint16``/``uint32`` row and column offsets inside the
  step's box or as a bit mask of the box (whichever is smaller), and
* their old and new values, each as a single number when they are all equal (the usual
  case: a stroke paints one class, a fill replaces one label) or as an array.

Undo and redo take the label map to write into and return the :class:`Patch` they
applied, whose box is what a view must repaint. A new edit clears the redo steps; past
``max_bytes`` the oldest steps are forgotten (the newest step is always kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotator.core.labelmap import Box, LabelMap, Patch

_STEP_OVERHEAD = 200  # bytes of Python objects per step, counted so the cap stays honest
#: A stroke's patches are folded into one (:meth:`EditHistory.add`) past this many bytes.
STROKE_FOLD_BYTES = 16 * 2**20


def _compact_values(values: np.ndarray) -> np.ndarray:
    """A 0-d array when all values are equal, else the values themselves."""
    if values.size and (values == values[0]).all():
        return np.array(values[0], dtype=values.dtype)
    return values


def _values_where(values: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """``values[changed]``, as a 0-d array when they are all equal (the usual case).

    Equal values are found without taking them out first: OpenCV's lowest and highest
    value under the mask, one pass that allocates nothing. A fill of a 48-megapixel
    region took them out twice (old and new, 18 ms each) only to find one value in each.
    """
    if values.dtype in (np.uint8, np.uint16) and values.ndim == 2:
        import cv2

        low, high, _, _ = cv2.minMaxLoc(values, changed.view(np.uint8))
        if low == high:
            return np.array(low, dtype=values.dtype)
    return _compact_values(values[changed])


def _index_dtype(box: Box, count: int) -> type[np.unsignedinteger] | None:
    """The type of row and column offsets when ``count`` changed pixels of ``box`` are
    smaller stored as offsets than as a bit mask of the box (None: a bit mask)."""
    index_dtype = np.uint16 if max(box.height, box.width) <= 0xFFFF else np.uint32
    area = box.height * box.width
    return index_dtype if count * 2 * index_dtype().itemsize < (area + 7) // 8 else None


@dataclass(frozen=True, eq=False)
class Step:
    """One undoable edit, holding only the changed pixels of its box."""

    box: Box
    count: int
    rows: np.ndarray | None  # offsets in the box (index encoding) ...
    cols: np.ndarray | None
    bits: np.ndarray | None  # ... or a packed bit mask of the box
    old: np.ndarray  # 0-d (all equal) or one value per changed pixel
    new: np.ndarray

    @classmethod
    def from_arrays(
        cls, box: Box, before: np.ndarray, after: np.ndarray, touched: np.ndarray | None = None
    ) -> Step | None:
        """The step turning ``before`` into ``after`` (both box-shaped); None if equal."""
        changed = before != after
        if touched is not None:
            changed &= touched
        count = int(np.count_nonzero(changed))
        if count == 0:
            return None
        index_dtype = _index_dtype(box, count)
        if index_dtype is not None:
            r, c = np.nonzero(changed)
            rows, cols = r.astype(index_dtype), c.astype(index_dtype)
            old, new = _compact_values(before[r, c]), _compact_values(after[r, c])
            return cls(box, count, rows, cols, None, old, new)
        bits = np.packbits(changed, axis=None)
        old, new = _values_where(before, changed), _values_where(after, changed)
        return cls(box, count, None, None, bits, old, new)

    @classmethod
    def from_mask(
        cls, box: Box, changed: np.ndarray, old: int, new: int, dtype: np.dtype
    ) -> Step | None:
        """The step of an edit that set every pixel of ``changed`` (box-shaped), all of
        value ``old``, to ``new``: a fill. Nothing to compare (no arrays of the values
        before and after: a fill of 48 megapixels copied the box twice to make them).
        None if it changes nothing."""
        count = int(np.count_nonzero(changed))
        if count == 0 or old == new:
            return None
        values = np.array(old, dtype=dtype), np.array(new, dtype=dtype)
        index_dtype = _index_dtype(box, count)
        if index_dtype is not None:
            r, c = np.nonzero(changed)
            return cls(box, count, r.astype(index_dtype), c.astype(index_dtype), None, *values)
        return cls(box, count, None, None, np.packbits(changed, axis=None), *values)

    @property
    def nbytes(self) -> int:
        """Memory held by this step (arrays plus a fixed overhead)."""
        total = _STEP_OVERHEAD + self.old.nbytes + self.new.nbytes
        for arr in (self.rows, self.cols, self.bits):
            if arr is not None:
                total += arr.nbytes
        return int(total)

    def _mask(self) -> np.ndarray:
        assert self.bits is not None
        area = self.box.height * self.box.width
        return (
            np.unpackbits(self.bits, count=area).view(bool).reshape(self.box.height, self.box.width)
        )

    def _write(self, label_map: LabelMap, values: np.ndarray) -> Patch:
        region = label_map.array[self.box.slices]
        before = region.copy()
        if self.rows is not None:
            region[self.rows, self.cols] = values
        else:
            region[self._mask()] = values
        return Patch(self.box, before, region.copy())

    def revert(self, label_map: LabelMap) -> Patch:
        """Write the old values; return the patch applied."""
        return self._write(label_map, self.old)

    def apply(self, label_map: LabelMap) -> Patch:
        """Write the new values; return the patch applied."""
        return self._write(label_map, self.new)


def merge_patches(patches: list[Patch]) -> Step | None:
    """One step equivalent to applying ``patches`` in order (None if nothing changed)."""
    patches = [p for p in patches if not p.empty]
    if not patches:
        return None
    if len(patches) == 1:
        p = patches[0]
        return Step.from_arrays(p.box, p.old, p.new)
    box = patches[0].box
    for p in patches[1:]:
        box = box.union(p.box)
    dtype = patches[0].old.dtype
    before = np.empty((box.height, box.width), dtype=dtype)
    after = np.empty_like(before)
    touched = np.zeros(before.shape, dtype=bool)

    def local(b: Box) -> tuple[slice, slice]:
        return slice(b.y0 - box.y0, b.y1 - box.y0), slice(b.x0 - box.x0, b.x1 - box.x0)

    for p in reversed(patches):  # the earliest patch's old value wins
        before[local(p.box)] = p.old
    for p in patches:  # the latest patch's new value wins
        s = local(p.box)
        after[s] = p.new
        touched[s] = True
    return Step.from_arrays(box, before, after, touched)


class EditHistory:
    """Undo/redo of label edits on one label map, capped at ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = int(max_bytes)
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._stroke: list[Patch] | None = None
        self._stroke_bytes = 0  # held by the stroke's patches (see add)
        self._folded_bytes = 0  # of the stroke's last fold
        self._bytes = 0

    # --- state ------------------------------------------------------------------------
    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) or bool(self._stroke)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self._stroke

    @property
    def undo_count(self) -> int:
        return len(self._undo)

    @property
    def redo_count(self) -> int:
        return len(self._redo)

    @property
    def nbytes(self) -> int:
        """Memory held by the stored undo and redo steps."""
        return self._bytes

    def forget_oldest(self) -> bool:
        """Forget the oldest undo step, unless it is the newest (as the cap does); True
        if one was forgotten (what the history is asked to make room for besides its
        steps: :class:`~annotator.services.document.Document`'s proposal masks)."""
        if len(self._undo) <= 1:
            return False
        self._bytes -= self._undo.pop(0).nbytes
        return True

    def clear(self) -> None:
        """Forget every step (the stroke in progress too, without touching pixels)."""
        self._undo.clear()
        self._redo.clear()
        self._stroke = None
        self._bytes = 0

    # --- recording --------------------------------------------------------------------------
    def begin_stroke(self) -> None:
        """Start a gesture: the patches added until :meth:`commit_stroke` make one step."""
        if self._stroke is not None:
            raise RuntimeError("a stroke is already in progress")
        self._stroke = []
        self._stroke_bytes = self._folded_bytes = 0

    def add(self, patch: Patch, label_map: LabelMap | None = None) -> None:
        """Record an edit already applied: part of the current stroke, or a step of its own.

        A stroke keeps one patch per mouse move until it ends (abort restores them). With
        the ``label_map`` they were applied to, they are folded into one patch of their
        box once they hold more than the last fold (and :data:`STROKE_FOLD_BYTES`): a
        long scrub with a big brush held a patch per move (767 MB for 400 moves of
        radius 500 on a 4096 x 4096 map) before its commit merged them."""
        if self._stroke is not None:
            if not patch.empty:
                self._stroke.append(patch)
                self._stroke_bytes += patch.old.nbytes + patch.new.nbytes
                if label_map is not None and self._stroke_bytes > max(
                    STROKE_FOLD_BYTES, 2 * self._folded_bytes
                ):
                    self._fold_stroke(label_map)
        else:
            self._push(merge_patches([patch]))

    def _fold_stroke(self, label_map: LabelMap) -> None:
        """Replace the stroke's patches by one over their box: its old values are the
        earliest, its new ones what the map holds now (only the stroke wrote there)."""
        assert self._stroke is not None
        box = self._stroke[0].box
        for p in self._stroke[1:]:
            box = box.union(p.box)
        after = label_map.array[box.slices].copy()
        before = after.copy()
        for p in reversed(self._stroke):  # the earliest patch's old value wins
            before[p.box.y0 - box.y0 : p.box.y1 - box.y0, p.box.x0 - box.x0 : p.box.x1 - box.x0] = (
                p.old
            )
        self._stroke = [Patch(box, before, after)]
        self._folded_bytes = self._stroke_bytes = before.nbytes + after.nbytes

    def push(self, patch: Patch) -> bool:
        """Record one edit as one step; True if it changed anything."""
        if self._stroke is not None:
            raise RuntimeError("push() during a stroke; use add()")
        return self._push(merge_patches([patch]))

    def push_step(self, step: Step | None) -> bool:
        """Record a step its edit made itself (:meth:`Step.from_mask`) as one undo step;
        True if it changes anything."""
        if self._stroke is not None:
            raise RuntimeError("push_step() during a stroke; use add()")
        return self._push(step)

    def commit_stroke(self) -> bool:
        """End the gesture as one step; True if it changed anything."""
        if self._stroke is None:
            return False
        patches, self._stroke = self._stroke, None
        return self._push(merge_patches(patches))

    def committed_array(self, label_map: LabelMap) -> np.ndarray:
        """A copy of ``label_map``'s labels without the stroke in progress (as its abort
        would leave them): what a save during a gesture writes."""
        out = label_map.array.copy()
        for p in reversed(self._stroke or []):
            if not p.empty:
                out[p.box.slices] = p.old
        return out

    def abort_stroke(self, label_map: LabelMap) -> Box | None:
        """End the gesture by restoring its pixels; return the box to repaint."""
        if self._stroke is None:
            return None
        patches, self._stroke = self._stroke, None
        box: Box | None = None
        for p in reversed(patches):
            label_map.revert(p)
            box = p.box if box is None else box.union(p.box)
        return box

    def _push(self, step: Step | None) -> bool:
        if step is None:
            return False
        for s in self._redo:
            self._bytes -= s.nbytes
        self._redo.clear()
        self._undo.append(step)
        self._bytes += step.nbytes
        while self._bytes > self.max_bytes and len(self._undo) > 1:
            self._bytes -= self._undo.pop(0).nbytes
        return True

    # --- undo / redo ----------------------------------------------------------------------------
    def undo(self, label_map: LabelMap) -> Patch | None:
        """Revert the newest step (a stroke in progress is committed first)."""
        if self._stroke is not None:
            self.commit_stroke()
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return step.revert(label_map)

    def redo(self, label_map: LabelMap) -> Patch | None:
        """Apply again the step undone last."""
        if self._stroke is not None or not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return step.apply(label_map)
