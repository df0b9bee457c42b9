"""Label Studio's JSON export (and its JSON-MIN export), read only.

The "JSON" export is a list of tasks. A task names its picture in ``data`` (its
``image`` key, else the one value that names a picture) and holds ``annotations``; each
has a ``result``, a list of regions, and may be ``was_cancelled``. ``predictions`` are a
model's suggestions, never read as labels. Region coordinates are percentages of the
image's ``original_width`` and ``original_height``, which every region carries.

What is read, per task, from one annotation (the one marked ``ground_truth``, else the
latest by ``updated_at``, then ``created_at``, else the last one; cancelled ones never
count; the others are counted and left out):

* ``polygonlabels``: the points scaled to pixels are rasterised as pycocotools
  rasterises a COCO polygon of those coordinates (corner convention: pixel ``(r, c)``
  is the square ``[c, c+1] x [r, r+1]``): the pixels of label-studio-converter's COCO
  export of the polygon, read by pycocotools. An open polygon (``closed: false``) has
  no area.
* ``brushlabels``: ``value.rle``, Label Studio's run-length code (the bit format of
  thi.ng's rle-pack, :func:`decode_brush_alpha`) of the brush's RGBA picture; the
  region is where alpha > 0, as Label Studio draws it and as its converter traces it.
  A code whose length is not ``original_width x original_height x 4`` is refused.
* ``ellipselabels``: centre ``x, y``, radii ``radiusX`` (% of the width), ``radiusY``
  (% of the height), ``rotation`` in degrees (clockwise on screen); a pixel is in
  when its centre is.
* Regions of a generic ``labels`` result (the ``Labels`` tag with a ``Polygon``,
  ``Brush`` or ``Ellipse`` tool) are read by the keys of their value.

Regions are painted in order, a later one over an earlier one where they overlap (as
the COCO and labelme readers do). Results without an area (rectangles, keypoints,
choices, text, relations; open polygons) are left out and counted by type in
``left_out``, rectangles also in ``boxes_only`` (the summary's "box without a mask");
their pixels stay unlabelled. With ``--background``, the background class is given
last, to the pixels no region covers outside every rectangle's box (a box says no pixel
is or is not its object, as COCO's box-only annotations do), so a region named as the
background class keeps its pixels wherever it lies. A region without a label is left
out and counted. A region of several labels takes the first.

A region that cannot be drawn (points that are no numbers, a brush code of another size
or cut short, an ellipse or, under a background class, a rectangle of bad values, a
``value`` that is no object) is left out and named in the summary's one line, the rest
of its task imported (``formats.left_out``, as the COCO, labelme and YOLO readers do);
that task keeps the pixels no region covers unlabelled, not background. An export file
none of whose regions can be drawn is refused, and so is a task whose structure is wrong
(no picture named, regions of different image sizes, no size and no picture beside).

Images: the task's reference is ``/data/upload/<project>/<8 hex digits>-<name>`` (a file
uploaded to Label Studio, which prefixes the name), ``/data/local-files/?d=<path>``
(relative to Label Studio's document root), or an ``s3://``, ``gs://``, ``http(s)://``
URL. Nothing is downloaded: the picture is looked for beside the export, at the
reference's path or any tail of it, then by file name in the folder and in its
``images/`` folder; the upload prefix is dropped when the picture is found without it.
A task whose picture is not there matches a project image by file name: the uploaded
file's own name (without the prefix), with the prefixed name in ``other_names``.
A task with nothing to import (no annotation, or no region with an area) and no picture
beside the export is counted, not an error; with a picture, the picture is added to label.

JSON-MIN (a list of flat records, one per annotation, with ``annotation_id``; older
ones without it hold lists of regions with their ``*labels``) is read the same way: the
picture is the ``image`` key (else the one value naming a picture), the regions are the
lists of value dicts; a single choice or text is a plain string there, and an object
of no known result type may be task data: neither is counted. Regions without
``original_width`` and ``original_height`` (older exports) take the size of the picture
beside the export (:func:`~annotator.formats.base.image_size`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from annotator.core.errors import FormatError
from annotator.core.limits import IMAGE_SUFFIXES, OTHER_PICTURE_SUFFIXES
from annotator.formats.base import (
    DEFAULT_IMPORT,
    UNLABELLED,
    ImportItem,
    ImportOptions,
    ReadResult,
    as_project_names,
    check_number,
    check_pixels,
    chosen_background,
    image_size,
    json_files,
    load_json,
    names_lut,
)
from annotator.formats.coco import decode_segmentation
from annotator.formats.detect import json_hint
from annotator.formats.left_out import ObjectsLeftOut
from annotator.formats.paths import safe_join

DESCRIPTION = "Label Studio JSON export: polygons, brushes, ellipses (read only)"

#: What Label Studio puts before the name of an uploaded file: 8 hex digits and a dash.
UPLOAD_PREFIX = re.compile(r"[0-9a-f]{8}-(.+)", re.DOTALL)
#: Keys of a JSON-MIN record that are not task data nor regions.
_MIN_META = frozenset(
    {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement"}
)
_PICTURES = IMAGE_SUFFIXES | OTHER_PICTURE_SUFFIXES
#: Region types by their geometry (``*labels`` and the plain tool name alike).
_KINDS = {
    "polygonlabels": "polygon",
    "polygon": "polygon",
    "brushlabels": "brush",
    "brush": "brush",
    "ellipselabels": "ellipse",
    "ellipse": "ellipse",
    "rectanglelabels": "rectangle",
    "rectangle": "rectangle",
    "keypointlabels": "keypoint",
    "keypoint": "keypoint",
}
_AREAS = ("polygon", "brush", "ellipse")
_DEEPEST = 8  # folders of a reference's path tried as tails


@dataclass
class LabelStudioResult(ReadResult):
    """A :class:`ReadResult` with what an import summary says of a Label Studio export
    (:meth:`summary`, once every file is read, gives its ``notes``)."""

    tasks: int = 0
    #: Annotations of a task other than the one read (older, or not ground truth).
    annotations_ignored: int = 0
    cancelled: int = 0
    predictions: int = 0
    #: Tasks with nothing to import (no annotation, or no region with an area) whose
    #: picture is not beside the export.
    nothing_to_import: int = 0
    #: Results without an area, by type (``rectangle``, ``keypoint``, ``choices``...).
    left_out: dict[str, int] = field(default_factory=dict)
    no_label: int = 0  # regions with an area and no label: left out
    several_labels: int = 0  # regions of several labels: the first was used

    def summary(self) -> list[str]:
        """Lines for an import summary, beyond what :class:`ReadResult` says."""
        lines = []
        if self.annotations_ignored:
            lines.append(
                "read the ground-truth annotation of each task, else the latest; "
                f"{self.annotations_ignored} other annotation(s) left out"
            )
        if self.cancelled:
            lines.append(f"left out {self.cancelled} cancelled (skipped) annotation(s)")
        if self.predictions:
            lines.append(
                f"left out {self.predictions} prediction(s): a model's suggestions, not labels"
            )
        others = {k: n for k, n in self.left_out.items() if k != "rectangle"}
        if others:  # rectangles: boxes_only says them ("a box without a mask")
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(others.items()))
            lines.append(
                f"left out {sum(others.values())} result(s) without an area: {kinds} "
                "(their pixels stay unlabelled)"
            )
        if self.no_label:
            lines.append(f"left out {self.no_label} region(s) without a label")
        if self.several_labels:
            lines.append(f"{self.several_labels} region(s) have several labels: took the first")
        if self.nothing_to_import:
            lines.append(
                f"{self.nothing_to_import} task(s) have nothing to import (no annotation, or "
                "no region with an area) and no picture beside the export"
            )
        return lines


# --- the brush code ---------------------------------------------------------------------


class _Bits:
    """Reads unsigned big-endian bit fields of up to 32 bits from a byte string."""

    def __init__(self, data: bytes) -> None:
        self.data = data + bytes(5)
        self.size = len(data) * 8
        self.pos = 0

    def read(self, k: int) -> int:
        p, end = self.pos, self.pos + k
        if end > self.size:
            raise EOFError
        chunk = int.from_bytes(self.data[p >> 3 : (p >> 3) + 5], "big")
        self.pos = end
        return (chunk >> (40 - (p & 7) - k)) & ((1 << k) - 1)

    def words(self, n: int, size: int) -> np.ndarray:
        """``n`` fields of ``size`` bits, as an array."""
        if n <= 8:
            return np.array([self.read(size) for _ in range(n)], np.int64)
        p, end = self.pos, self.pos + n * size
        if end > self.size:
            raise EOFError
        self.pos = end
        # only this block's bytes are unpacked: 8 bytes a byte for the whole code would be
        # 250 MB for the 31 MB code of a 12-megapixel brush in colour
        raw = np.frombuffer(self.data, np.uint8, ((end + 7) >> 3) - (p >> 3), p >> 3)
        bits = np.unpackbits(raw)[p & 7 : (p & 7) + n * size]
        if size == 8:
            return np.packbits(bits).astype(np.int64)
        weights = np.left_shift(np.int64(1), np.arange(size - 1, -1, -1, dtype=np.int64))
        return bits.reshape(n, size).astype(np.int64) @ weights


def _rle_bytes(rle: Any, where: str) -> bytes:
    if isinstance(rle, bytes):
        return rle
    if not isinstance(rle, list) or not rle:
        raise FormatError(f"{where}: 'rle' must be a non-empty list of byte values")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in rle):
        raise FormatError(f"{where}: 'rle' must hold integers 0-255 only")
    try:
        return bytes(rle)
    except ValueError:
        raise FormatError(f"{where}: 'rle' holds a value outside 0-255") from None


def decode_brush_alpha(rle: Any, width: int, height: int, where: str) -> np.ndarray:
    """The alpha channel (``height x width``) of a Label Studio brush ``rle``.

    The code (thi.ng rle-pack's bit stream): 32 bits, the number of values; 5 bits, the
    word size - 1; four 4-bit fields, the bit sizes - 1 of run lengths; then blocks to
    the end: a repeat flag bit, 2 bits choosing one of the four sizes, a field of that
    size (the run length - 1), then one word, repeated (flag 1), or that many words
    (flag 0). The values are the RGBA bytes of the picture, row by row. A run past the
    end is cut there, as rle-pack's decoder does."""
    data = _rle_bytes(rle, where)
    check_pixels(width, height, where)
    expected = width * height * 4
    bits = _Bits(data)
    try:
        num = bits.read(32)
        if num != expected:
            raise FormatError(
                f"{where}: the brush code holds {num} values, but original_width x "
                f"original_height x 4 is {width} x {height} x 4 = {expected}"
            )
        word = bits.read(5) + 1
        sizes = [bits.read(4) + 1 for _ in range(4)]
        alpha = np.zeros(height * width, np.uint8 if word <= 8 else np.uint32)
        i = 0
        while i < num:
            head = bits.read(3)
            n = bits.read(sizes[head & 3]) + 1
            j = min(i + n, num)
            if head >> 2:  # a run of one word
                value = bits.read(word)
                if value:
                    alpha[i // 4 : j // 4] = value
            else:  # n words as they are; every fourth is an alpha
                values = bits.words(n, word)
                alpha[i // 4 : j // 4] = values[(3 - i) % 4 : j - i : 4]
            i = j
    except EOFError:
        raise FormatError(f"{where}: the brush code ends early (truncated 'rle')") from None
    return alpha.reshape(height, width)


def brush_mask(rle: Any, width: int, height: int, where: str) -> np.ndarray:
    """The pixels of a brush region: where its alpha is not 0."""
    return decode_brush_alpha(rle, width, height, where) > 0


# --- shapes -----------------------------------------------------------------------------


def ellipse_mask(
    shape: tuple[int, int], cx: float, cy: float, rx: float, ry: float, degrees: float
) -> np.ndarray:
    """Pixels whose centre lies in the ellipse (pixel units; ``degrees`` clockwise on
    screen, y pointing down), as a bool mask of ``shape``."""
    h, w = shape
    out = np.zeros(shape, bool)
    if rx <= 0 or ry <= 0:
        return out
    reach = max(rx, ry)
    x0, x1 = max(0, math.floor(cx - reach)), min(w, math.ceil(cx + reach) + 1)
    y0, y1 = max(0, math.floor(cy - reach)), min(h, math.ceil(cy + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return out
    t = math.radians(degrees)
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5 - cx
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    out[y0:y1, x0:x1] = (u / rx) ** 2 + (v / ry) ** 2 <= 1.0
    return out


@dataclass(frozen=True)
class _Region:
    """One region to paint: ``kind`` polygon | brush | ellipse | box (a rectangle's box,
    which the background fill leaves unlabelled); ``label`` indexes the names; ``index``
    is its result's in the annotation's ``result``."""

    kind: str
    label: int
    data: Any
    where: str
    index: int


def _pixels(r: _Region, h: int, w: int) -> np.ndarray:
    if r.kind == "polygon":
        try:
            return decode_segmentation([r.data], h, w, r.where)
        except FormatError as exc:  # (COCO's words: "polygon 0" of an annotation's list)
            said = str(exc).replace(f"{r.where}: polygon 0 ", f"{r.where}: the polygon ", 1)
            raise FormatError(said) from None
    if r.kind == "brush":
        return brush_mask(r.data, w, h, r.where)
    return ellipse_mask((h, w), *r.data)


def _paint(
    regions: Sequence[_Region],
    h: int,
    w: int,
    fill: int,
    failed: list[tuple[_Region, FormatError]] | None = None,
) -> np.ndarray:
    """The regions painted in order; then ``fill`` (the background class, or
    UNLABELLED) is given to the pixels no region covers outside every box. Filling last
    keeps the pixels a region named as the background class, whatever the order.
    With ``failed``, a region that cannot be drawn is added to it, not raised, and the
    fill is not given (the region may lie where no other is)."""
    mask = np.full((h, w), UNLABELLED, np.int32)
    boxed: np.ndarray | None = None
    for r in regions:
        if r.kind == "box":
            if boxed is None:
                boxed = np.zeros((h, w), bool)
            x0, y0, x1, y1 = r.data
            boxed[y0:y1, x0:x1] = True
            continue
        try:
            pixels = _pixels(r, h, w)
        except FormatError as exc:
            if failed is None:
                raise
            failed.append((r, exc))
            continue
        mask[pixels] = r.label
    if fill != UNLABELLED and not failed:
        uncovered = mask == UNLABELLED
        if boxed is not None:
            uncovered &= ~boxed
        mask[uncovered] = fill
    return mask


# --- reading ----------------------------------------------------------------------------


def _size(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FormatError(f"{where}: '{key}' must be a positive integer, got {value!r}")
    return value


def _check_finite(values: Sequence[float], where: str) -> None:
    """Pixel coordinates a percentage gave: refused when too large for a float."""
    if not all(math.isfinite(v) for v in values):
        raise FormatError(f"{where}: its coordinates are too large (past a float's range)")


def _kind(kind: Any, value: Any) -> str:
    """The geometry of a result: polygon | brush | ellipse | rectangle | keypoint, or what
    it is when it has none (its type: choices, textarea, relation...)."""
    t = kind.lower() if isinstance(kind, str) else ""
    if t in _KINDS:
        return _KINDS[t]
    if t in ("labels", "") and isinstance(value, dict):
        if "rle" in value:
            return "brush"
        if "points" in value:
            return "polygon"
        if "radiusX" in value:
            return "ellipse"
        if {"x", "y", "width", "height"} <= value.keys():
            return "rectangle"
        if {"x", "y"} <= value.keys():
            return "keypoint"
        if not t:
            return next(
                (k for k in ("choices", "text", "rating", "taxonomy") if k in value), "unknown"
            )
    return t or "unknown"


def _labels(kind: Any, value: dict[str, Any]) -> list[str] | None:
    """The label names a result's value gives (``<type>``, ``labels``, any ``*labels``)."""
    keys = [k for k in (kind, "labels") if isinstance(k, str)] + sorted(
        k for k in value if isinstance(k, str) and k.endswith("labels")
    )
    for k in keys:
        names = value.get(k)
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return [n.strip() for n in names if n.strip()]
    return None


class _TaskFault(FormatError):
    """A fault of a task, not of one region: the task is refused."""


@dataclass
class _Raw:
    """One result of an annotation, before it is checked."""

    kind: Any
    value: Any
    width: Any
    height: Any


class _Reader:
    """State shared by the tasks of one import: names, the result, the folder."""

    def __init__(self, root: Path, options: ImportOptions, result: LabelStudioResult) -> None:
        self.root = root
        self.options = options
        self.result = result
        self.names: list[str] = []
        self.background = chosen_background(options, [], automatic=False)
        self.background_named = False  # a region has the background's name
        self.fill = UNLABELLED
        if self.background is not None:
            self.names.append(self.background)
            self.fill = 0
        self.items: list[ImportItem] = []
        self.used: set[int] = set()
        #: The regions of the file being read that cannot be drawn (left out, named).
        self.undrawable = ObjectsLeftOut()
        #: The task being read: its picture's name and how the summary names it.
        self.reading = ("", "")

    def label_index(self, name: str) -> int:
        lut = names_lut(self.names)
        if name not in lut:
            self.names.append(name)
            return len(self.names) - 1
        if self.background is not None and lut[name] == 0:
            self.background_named = True
        return int(lut[name])

    # --- one task ---

    def task(
        self,
        path: Path,
        where: str,
        ref: str,
        chosen: list[_Raw] | None,
        ids: list[Any] | None = None,
    ) -> None:
        """Read one task: ``chosen`` is its annotation's results (None: no annotation);
        ``ids``: the region id of each result (results of one id are one region). A task
        refused names none of its regions as left out."""
        lost = len(self.undrawable.objects)
        try:
            self._task(path, where, ref, chosen, ids)
        except FormatError:
            del self.undrawable.objects[lost:]
            raise

    def _task(
        self, path: Path, where: str, ref: str, chosen: list[_Raw] | None, ids: list[Any] | None
    ) -> None:
        names, file = self.picture(ref, where)
        self.reading = (names[0], where.removeprefix(f"{path}: "))
        raws = chosen or []
        if file is not None and any(r.width is None and r.height is None for r in raws):
            # older exports give no original size: the percentages are of the picture's
            h, w = image_size(file, self.options, where)
            raws = [_Raw(r.kind, r.value, w, h) if r.width is r.height is None else r for r in raws]
        lost = len(self.undrawable.objects)
        regions, size = self.regions(raws, ids, where)
        if size is None and file is not None:
            size = image_size(file, self.options, where)
        if size is None:
            self.result.nothing_to_import += 1
            return
        h, w = size
        check_pixels(w, h, where)
        fill = self.fill if chosen is not None else UNLABELLED  # unannotated: not background
        if len(self.undrawable.objects) > lost and fill != UNLABELLED:
            # a region left out may lie where no other is
            self.undrawable.keep_unlabelled(names[0], str(self.background))
            fill = UNLABELLED
        failed: list[tuple[_Region, FormatError]] = []
        mask = _paint(regions, h, w, fill, failed)  # checks every region now
        for region, exc in failed:
            self.leave_out(region.index, exc, region.where)
        regions = [r for r in regions if all(r is not f for f, _ in failed)]
        self.undrawable.drawn += sum(r.kind != "box" for r in regions)
        if len(self.undrawable.objects) > lost:
            if fill != UNLABELLED:  # (_paint did not fill: a region it could not draw)
                self.undrawable.keep_unlabelled(names[0], str(self.background))
            fill = UNLABELLED
        used = tuple(np.unique(mask[mask >= 0]).tolist())
        del mask
        if not used and file is None:
            self.result.nothing_to_import += 1
            return
        self.used.update(used)
        self.items.append(
            ImportItem(
                source=path,
                image_name=names[0],
                width=w,
                height=h,
                mask=None,
                names=None,
                image_file=file,
                load=lambda: _paint(regions, h, w, fill),
                used=used,
                other_names=tuple(names[1:]),
            )
        )

    def unannotated(self, path: Path, where: str, data: dict[str, Any]) -> None:
        """A task without an annotation: its picture is added to label when it is beside
        the export; otherwise it is counted (a reference that names nothing readable too,
        since there is nothing to import)."""
        try:
            self.task(path, where, _reference(data, where), None)
        except FormatError:
            self.result.nothing_to_import += 1

    def regions(
        self, raws: list[_Raw], ids: list[Any] | None, where: str
    ) -> tuple[list[_Region], tuple[int, int] | None]:
        """The regions to paint, in order, and the image size ``(height, width)`` they
        give (None when no result gives one). A region that cannot be drawn is left out
        and named in ``undrawable``."""
        groups: dict[Any, list[int]] = {}
        for k in range(len(raws)):
            rid = ids[k] if ids is not None else None
            key = ("id", rid) if isinstance(rid, str | int) and not isinstance(rid, bool) else k
            groups.setdefault(key, []).append(k)
        sizes: set[tuple[int, int]] = set()
        out: list[_Region] = []
        for members in groups.values():
            try:
                region = self.region(raws, members, where, sizes)
            except _TaskFault:
                raise
            except FormatError as exc:
                said = [k for k in members if str(exc).startswith(f"{where}: result {k}:")]
                k = (said or members)[0]
                self.leave_out(k, exc, f"{where}: result {k}")
                continue
            if region is not None:
                out.append(region)
        if len(sizes) > 1:
            shown = ", ".join(f"{w}x{h}" for h, w in sorted(sizes))
            raise FormatError(f"{where}: its regions give different image sizes ({shown})")
        return out, (next(iter(sizes)) if sizes else None)

    def region(
        self, raws: list[_Raw], members: list[int], where: str, sizes: set[tuple[int, int]]
    ) -> _Region | None:
        """The region of the results ``members`` (results of one region id), checked;
        None when it has no area or no label (counted). The image size it gives is added
        to ``sizes`` once it is checked."""
        kinds, given = [], set()
        for k in members:
            raw, at = raws[k], f"{where}: result {k}"
            kind = _kind(raw.kind, raw.value)
            kinds.append(kind)
            if kind in _AREAS and not isinstance(raw.value, dict):
                raise FormatError(f"{at}: 'value' must be an object")
            if raw.width is not None or raw.height is not None:
                h = _size(raw.height, "original_height", at)
                given.add((h, _size(raw.width, "original_width", at)))
        area = [k for k, kind in zip(members, kinds, strict=True) if kind in _AREAS]
        if not area:
            region = None
            if kinds[0] == "rectangle" and self.fill != UNLABELLED:
                region = self.box(raws[members[0]], f"{where}: result {members[0]}", members[0])
            self.left_out(kinds[0])
            sizes |= given
            return region
        raw, at = raws[area[0]], f"{where}: result {area[0]}"
        kind = _kind(raw.kind, raw.value)
        if raw.width is None or raw.height is None:
            raise _TaskFault(
                f"{at}: a {kind} needs 'original_width' and 'original_height', or its "
                "picture beside the export"
            )
        shape = self.shape(kind, raw.value, int(raw.height), int(raw.width), at)
        sizes |= given
        if shape is None:  # no area after all (an open polygon): counted
            return None
        labels = None
        for k in [area[0], *members]:
            value = raws[k].value
            labels = _labels(raws[k].kind, value) if isinstance(value, dict) else None
            if labels:
                break
        if not labels:
            self.result.no_label += 1
            return None
        if len(labels) > 1:
            self.result.several_labels += 1
        return _Region(kind, self.label_index(labels[0]), shape, at, area[0])

    def leave_out(self, index: int, exc: FormatError, at: str) -> None:
        """Leave out the region of result ``index`` of the task being read, which cannot
        be drawn for ``exc`` (whose message begins with ``at``)."""
        image, task = self.reading
        self.undrawable.leave_out(image, f"{task}, result {index}", exc, at)

    def left_out(self, kind: str) -> None:
        self.result.left_out[kind] = self.result.left_out.get(kind, 0) + 1
        if kind == "rectangle":  # the summary's "box without a mask"
            self.result.boxes_only += 1

    def shape(self, kind: str, value: dict[str, Any], h: int, w: int, at: str) -> Any:
        """What :func:`_paint` needs to draw a region, checked; None when it has no area
        (counted)."""
        check_pixels(w, h, at)
        if kind == "brush":
            fmt = value.get("format", "rle")
            if fmt != "rle":
                raise FormatError(f"{at}: brush format {fmt!r} is not read (only 'rle')")
            return _rle_bytes(value.get("rle"), at)
        if kind == "ellipse":
            nums = [check_number(value.get(k), f"{at}: {k}") for k in ("x", "y", "radiusX")]
            ry = check_number(value.get("radiusY"), f"{at}: radiusY")
            rot = check_number(value.get("rotation", 0), f"{at}: rotation")
            x, y, rx = nums
            scaled = (x * w / 100, y * h / 100, rx * w / 100, ry * h / 100)
            _check_finite(scaled, at)
            return (*scaled, rot)
        points = value.get("points")
        if not isinstance(points, list):
            raise FormatError(f"{at}: a polygon needs 'points', a list of [x, y] percentages")
        flat: list[float] = []
        for p in points:
            if not isinstance(p, list | tuple) or len(p) != 2:
                raise FormatError(f"{at}: a point must be [x, y], got {p!r}")
            flat += [check_number(p[0], at) * w / 100, check_number(p[1], at) * h / 100]
        if value.get("closed") is False or len(flat) < 6:
            self.left_out("open polygon" if value.get("closed") is False else "polygon < 3 points")
            return None
        return flat

    def box(self, raw: _Raw, at: str, index: int) -> _Region:
        """A rectangle's pixel box (its rotation about the top-left corner included)."""
        v = raw.value
        if not isinstance(v, dict):
            raise FormatError(f"{at}: 'value' must be an object")
        h = _size(raw.height, "original_height", at)
        w = _size(raw.width, "original_width", at)
        x, y, bw, bh = (check_number(v.get(k), f"{at}: {k}") for k in ("x", "y", "width", "height"))
        t = math.radians(check_number(v.get("rotation", 0), f"{at}: rotation"))
        corners = [
            (0.0, 0.0),
            (bw * w / 100, 0.0),
            (0.0, bh * h / 100),
            (bw * w / 100, bh * h / 100),
        ]
        xs = [x * w / 100 + cx * math.cos(t) - cy * math.sin(t) for cx, cy in corners]
        ys = [y * h / 100 + cx * math.sin(t) + cy * math.cos(t) for cx, cy in corners]
        _check_finite([*xs, *ys], at)
        x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
        x1, y1 = min(w, math.ceil(max(xs))), min(h, math.ceil(max(ys)))
        return _Region("box", -1, (x0, y0, max(x0, x1), max(y0, y1)), at, index)

    # --- pictures ---

    def picture(self, ref: str, where: str) -> tuple[list[str], Path | None]:
        """The names the task's picture may have (the one to match first), and its file
        beside the export, if there."""
        folders, name, stripped = parse_reference(ref, where)
        tails = [folders[k:] for k in range(max(0, len(folders) - _DEEPEST), len(folders) + 1)]
        for candidate in [name] if stripped is None else [name, stripped]:
            for rel in [*("/".join([*t, candidate]) for t in tails), "images/" + candidate]:
                try:
                    path = safe_join(self.root, rel, what=f"{where}: image")
                except FormatError:
                    continue
                if path.is_file():
                    others = [n for n in (stripped, name) if n is not None and n != candidate]
                    return [candidate, *others], path
        return ([name] if stripped is None else [stripped, name]), None


def parse_reference(ref: str, where: str) -> tuple[list[str], str, str | None]:
    """A task's picture reference: its folders, its file name, and the name without
    Label Studio's upload prefix (None when it has none)."""
    text = ref.strip()
    if text.lower().startswith("data:"):
        raise FormatError(
            f"{where}: the picture is embedded in the task (a data: URI); only tasks that "
            "name a picture file are read"
        )
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # "http://[abc/x.png": Invalid IPv6 URL
        raise FormatError(
            f"{where}: the picture reference {ref!r} cannot be read as a URL ({exc})"
        ) from None
    query = parse_qs(parts.query)
    if "d" in query:  # /data/local-files/?d=folder/x.jpg
        path = query["d"][0]
    elif "filepath" in query:  # /storage-data/uploaded/?filepath=upload/3/x.jpg
        path = query["filepath"][0]
    elif parts.scheme.lower() in ("s3", "gs", "gcs", "azure-blob"):
        path = unquote(parts.netloc + "/" + parts.path)
    else:
        path = unquote(parts.path)
    pieces = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not pieces:
        raise FormatError(f"{where}: the picture reference {ref!r} names no file")
    *folders, name = pieces
    stripped = None
    if "upload" in folders:
        found = UPLOAD_PREFIX.fullmatch(name)
        if found is not None:
            stripped = found.group(1)
    return folders, name, stripped


def _names_picture(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    if text.lower().startswith(("data:image/", "/data/")):
        return True
    try:
        parts = urlsplit(text)
    except ValueError:  # not a URL it can read: its suffix says (parse_reference refuses it)
        return PurePosixPath(text.split("?", 1)[0]).suffix.lower() in _PICTURES
    query = parse_qs(parts.query)
    path = (query.get("d") or query.get("filepath") or [parts.path])[0]
    return PurePosixPath(unquote(path)).suffix.lower() in _PICTURES


def _reference(data: dict[str, Any], where: str) -> str:
    """The picture a task's data names: ``image``, else its one value naming a picture."""
    if _names_picture(data.get("image")):
        return str(data["image"])
    found = [k for k, v in data.items() if _names_picture(v)]
    if len(found) == 1:
        return str(data[found[0]])
    if not found:
        raise FormatError(f"{where}: its data names no picture ({', '.join(map(str, data))})")
    raise FormatError(
        f"{where}: its data names several pictures ({', '.join(found)}); one picture per task "
        "is read"
    )


def _when(annotation: dict[str, Any]) -> datetime | None:
    for key in ("updated_at", "created_at"):
        text = annotation.get(key)
        if isinstance(text, str):
            try:
                when = datetime.fromisoformat(text.strip())
            except ValueError:
                continue
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def _latest(annotations: list[dict[str, Any]]) -> int:
    """The index of the annotation to read: ground truth first, then the latest, then the
    last in the list."""
    oldest = datetime.min.replace(tzinfo=UTC)

    def rank(k: int) -> tuple[bool, datetime, int]:
        a = annotations[k]
        return (a.get("ground_truth") is True, _when(a) or oldest, k)

    return max(range(len(annotations)), key=rank)


def _not_an_export(path: Path, data: Any, how: str) -> FormatError:
    return FormatError(
        f"{path}: not a Label Studio export: expected its JSON export (a list of tasks, each "
        f"with 'data' and 'annotations') or JSON-MIN (a list of records with 'annotation_id')"
        + json_hint(path, data, "labelstudio", how)
    )


def is_task(t: Any) -> bool:
    return (
        isinstance(t, dict)
        and isinstance(t.get("data"), dict)
        and any(k in t for k in ("annotations", "completions", "predictions"))
    )


def _read_tasks(path: Path, tasks: list[Any], reader: _Reader) -> None:
    result = reader.result
    for k, task in enumerate(tasks):
        where = f"{path}: task {task.get('id', f'#{k + 1}') if isinstance(task, dict) else k + 1}"
        try:
            if not is_task(task):
                raise FormatError(f"{where}: not a task (an object with 'data' and 'annotations')")
            result.tasks += 1
            predictions = task.get("predictions")
            if isinstance(predictions, list):
                result.predictions += len(predictions)
            annotations = task.get("annotations", task.get("completions")) or []
            if not isinstance(annotations, list) or not all(
                isinstance(a, dict) for a in annotations
            ):
                raise FormatError(f"{where}: 'annotations' must be a list of objects")
            live = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
            result.cancelled += len(annotations) - len(live)
            if not live:
                reader.unannotated(path, where, task["data"])
                continue
            ref = _reference(task["data"], where)
            result.annotations_ignored += len(live) - 1
            annotation = live[_latest(live)]
            if "id" in annotation:
                where = f"{where}, annotation {annotation['id']}"
            results = annotation.get("result", [])
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise FormatError(f"{where}: 'result' must be a list of objects")
            raws = [
                _Raw(
                    r.get("type"), r.get("value"), r.get("original_width"), r.get("original_height")
                )
                for r in results
            ]
            reader.task(path, where, ref, raws, [r.get("id") for r in results])
        except FormatError as exc:
            result.errors.append((str(path), str(exc)))


def is_min_record(rec: Any) -> bool:
    """A JSON-MIN record: ``annotation_id`` (label-studio-converter writes it), or, in
    older ones, a list of regions with their ``*labels``."""
    if not isinstance(rec, dict) or "data" in rec:
        return False
    if "annotation_id" in rec:
        return True
    return any(
        isinstance(v, list)
        and v
        and all(isinstance(x, dict) for x in v)
        and any(isinstance(k, str) and k.endswith("labels") for x in v for k in x)
        for v in rec.values()
    )


def _is_min_result(value: dict[str, Any]) -> bool:
    """Whether an object in a JSON-MIN record is a result: of a known type (by its keys),
    or with labels; any other may be task data (``tags: [{"name": ...}]``)."""
    return _kind(None, value) != "unknown" or any(
        isinstance(k, str) and k.endswith("labels") for k in value
    )


def _read_min(path: Path, records: list[Any], reader: _Reader) -> None:
    """JSON-MIN: one record per annotation; a task's ground-truth one, else its latest, is read."""
    result = reader.result
    by_task: dict[Any, list[int]] = {}
    for k, rec in enumerate(records):
        if not is_min_record(rec):
            where = f"{path}: record {k + 1}"
            result.errors.append((str(path), f"{where}: not a JSON-MIN record"))
            continue
        key = rec.get("id")
        if isinstance(key, bool) or not isinstance(key, int | str):
            key = ("record", k)
        by_task.setdefault(key, []).append(k)
    for members in by_task.values():
        annotated = [
            k
            for k in members
            if records[k].get("annotation_id") is not None or "annotation_id" not in records[k]
        ]
        if annotated:
            result.annotations_ignored += len(annotated) - 1
            k = annotated[_latest([records[m] for m in annotated])]
        else:
            k = members[-1]
        rec = records[k]
        where = f"{path}: task {rec.get('id', f'#{k + 1}')}"
        try:
            result.tasks += 1
            data = {n: v for n, v in rec.items() if n not in _MIN_META}
            if not annotated:
                reader.unannotated(path, where, data)
                continue
            ref = _reference(data, where)
            raws = [
                _Raw(None, v, v.get("original_width"), v.get("original_height"))
                for n, values in data.items()
                if isinstance(values, list) and all(isinstance(v, dict) for v in values)
                for v in values
                if _is_min_result(v)
            ]
            reader.task(path, where, ref, raws)
        except FormatError as exc:
            result.errors.append((str(path), str(exc)))


def read_labelstudio(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> LabelStudioResult:
    src = Path(src)
    root = src if src.is_dir() else src.parent
    result = LabelStudioResult()
    reader = _Reader(root, options, result)
    what = "Label Studio export (a .json file)"
    left_out = ObjectsLeftOut()
    for path in json_files(src, what, "labelstudio", how=options.format_how):
        before = len(reader.items)
        reader.undrawable = ObjectsLeftOut()
        try:
            data = load_json(path)
            if isinstance(data, dict) and is_task(data):
                data = [data]  # one task
            if not isinstance(data, list):
                raise _not_an_export(path, data, options.format_how)
            if not data:
                raise FormatError(f"{path}: a Label Studio export with no tasks")
            if any(is_task(t) for t in data):
                _read_tasks(path, data, reader)
            elif any(is_min_record(t) for t in data):
                _read_min(path, data, reader)
            else:
                raise _not_an_export(path, data, options.format_how)
            # A file none of whose regions can be drawn is refused, not imported as
            # pictures with no labels (left_out.py says why).
            reader.undrawable.check_some_drawn(path)
        except FormatError as exc:
            del reader.items[before:]
            result.errors.append((str(path), str(exc)))
        else:
            left_out.extend(reader.undrawable)
    names = as_project_names(reader.names, options.project_classes)
    if reader.background is not None:
        result.background = names[0]
        result.background_added = not reader.background_named
    final = tuple(names)
    result.declared = [n for i, n in enumerate(names) if i in reader.used]
    result.items = [replace(item, names=final) for item in reader.items]
    result.notes = result.summary()
    if note := left_out.note():
        result.notes.append(note)
    return result
