"""Label map <-> polygons, exact under each tool's own rasteriser.

Two polygon conventions are in use by the formats we write:

* **corner polygons** (COCO): vertices on the pixel *boundary* lattice, so pixel
  ``(r, c)`` is the square ``[c, c+1] x [r, r+1]``. pycocotools rasterises such a
  polygon back to exactly the traced pixels.
* **centre polygons** (labelme, YOLO): vertices on the *centres* of the region's
  boundary pixels, the convention of ``PIL.ImageDraw.polygon(outline=1, fill=1)``
  (labelme) and ``cv2.fillPoly`` (ultralytics), which both draw the outline pixels
  too. A region one pixel wide traces to a degenerate polygon that still draws exactly.

None of these formats has polygon *holes*. Two ways round that:

* **painted** (labelme, YOLO: :func:`painted_polygons`): their readers paint the
  polygons one after another, a later one winning where they overlap (labelme keeps the
  list order; ultralytics' overlap masks draw the largest first). A hole filled with
  pixels that other polygons paint is left in the outline, and those smaller polygons,
  drawn later, paint over it. Only a hole holding pixels nothing paints (unlabelled, or
  void where the format does not write it) is cut open.
* **cut** (COCO, whose annotations each decode alone): a region with holes is cut
  along the fewest columns (or rows) that meet every hole into hole-free pieces.

Each piece traces to one simple outline, and the re-rasterised pieces give back the
region, pixel for pixel. Tests check this exactness on generated masks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Region:
    """One 8-connected region of one class: a boolean crop and where it sits."""

    class_id: int
    mask: np.ndarray  # bool (h, w) crop
    x0: int
    y0: int

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` of the pixels (COCO's bbox convention)."""
        h, w = self.mask.shape
        return (self.x0, self.y0, w, h)

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        """The region as a full-size ``uint8`` 0/1 mask."""
        out = np.zeros(shape, np.uint8)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out


def class_regions(label_map: np.ndarray, class_ids: Sequence[int]) -> Iterator[Region]:
    """The 8-connected regions of each class in ``class_ids``, class by class."""
    present = set(np.unique(label_map).tolist())
    for cid in class_ids:
        if cid not in present:
            continue
        binary = (label_map == cid).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        for k in range(1, n):
            x, y, w, h = (int(v) for v in stats[k, :4])
            crop = labels[y : y + h, x : x + w] == k
            yield Region(int(cid), crop, x, y)


def _components(mask: np.ndarray, x0: int, y0: int) -> list[tuple[np.ndarray, int, int]]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h = (int(v) for v in stats[k, :4])
        out.append((labels[y : y + h, x : x + w] == k, x0 + x, y0 + y))
    return out


def _hole_labels(piece: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The holes of ``piece`` (one 8-connected component): an int label map of its crop
    (0 outside holes, ``k`` on hole ``k``, holes 4-connected) and each hole's
    ``(x, y, w, h)`` box (row ``k - 1``)."""
    padded = np.pad(piece.astype(np.uint8), 1)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or not np.any(hierarchy[0, :, 3] >= 0):
        return np.zeros(piece.shape, np.int32), np.zeros((0, 4), np.int64)
    # The holes are the background pixels inside the filled outer outline.
    filled = np.zeros_like(padded)
    outer = [c for c, h in zip(contours, hierarchy[0]) if h[3] < 0]
    cv2.drawContours(filled, outer, -1, 1, thickness=-1)
    holes = ((filled > 0) & (padded == 0)).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    boxes = stats[1:, :4].astype(np.int64)
    boxes[:, :2] -= 1  # back to unpadded coordinates
    return labels[1:-1, 1:-1].astype(np.int32), boxes


def _stabbing(intervals: list[tuple[int, int]]) -> list[int]:
    """The fewest positions that hit every closed interval ``[a, b]`` (greedy by the
    right ends)."""
    cuts: list[int] = []
    for a, b in sorted(intervals, key=lambda ab: ab[1]):
        if not cuts or cuts[-1] < a:
            cuts.append(b)
    return cuts


def _hole_cuts(piece: np.ndarray) -> tuple[int, list[int]]:
    """Where to cut ``piece`` so that every hole opens: ``(axis, positions)``, axis 1 for
    columns, 0 for rows; no positions when it has no hole.

    A cut at column ``c`` (columns ``< c`` and ``>= c`` go to different slabs) opens
    every hole that has pixels in column ``c``: each part of such a hole either touches
    column ``c`` (its left neighbour then lies outside its slab) or reaches it through a
    4-connected path that crosses the slabs' border. So the cuts are the fewest columns
    (or rows, when fewer) that meet every hole, not one per hole.
    """
    _, boxes = _hole_labels(piece)
    if not len(boxes):
        return 1, []
    columns = _stabbing([(int(x), int(x + w - 1)) for x, _, w, _ in boxes])
    rows = _stabbing([(int(y), int(y + h - 1)) for _, y, _, h in boxes])
    return (0, rows) if len(rows) < len(columns) else (1, columns)


def hole_free_pieces(region: Region) -> list[tuple[np.ndarray, int, int]]:
    """Cut a region into 8-connected pieces without holes: ``(crop, x0, y0)`` each.

    Straight cuts through the region's box, along the fewest columns (or rows) that
    meet every hole (:func:`_hole_cuts`): every hole then touches a cut and is open.
    Cutting never closes a new hole, so one pass suffices; the loop re-checks anyway.
    A region without holes comes back whole.
    """
    todo = [(region.mask, region.x0, region.y0)]
    done: list[tuple[np.ndarray, int, int]] = []
    while todo:
        mask, x0, y0 = todo.pop()
        axis, cuts = _hole_cuts(mask)
        if not cuts:
            done.append((mask, x0, y0))
            continue
        edges = [0, *[c for c in cuts if c > 0], mask.shape[axis]]
        for a, b in zip(edges[:-1], edges[1:]):
            if b <= a:
                continue
            if axis == 1:
                todo.extend(_components(mask[:, a:b], x0 + a, y0))
            else:
                todo.extend(_components(mask[a:b, :], x0, y0 + a))
    done.sort(key=lambda t: (t[2], t[1]))
    return done


def _dedupe(points: np.ndarray) -> np.ndarray:
    if len(points) <= 1:
        return points
    keep = np.ones(len(points), bool)
    keep[1:] = np.any(points[1:] != points[:-1], axis=1)
    points = points[keep]
    if len(points) > 1 and np.array_equal(points[0], points[-1]):
        points = points[:-1]
    return points


def _collinear_pruned(points: np.ndarray) -> np.ndarray:
    """Drop vertices in the middle of straight axis-aligned runs."""
    if len(points) < 3:
        return points
    prev = np.roll(points, 1, axis=0)
    nxt = np.roll(points, -1, axis=0)
    d1 = points - prev
    d2 = nxt - points
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    dot = d1[:, 0] * d2[:, 0] + d1[:, 1] * d2[:, 1]
    keep = ~((cross == 0) & (dot > 0))
    return points[keep] if keep.any() else points[:1]


def corner_outline(piece: np.ndarray, x0: int = 0, y0: int = 0) -> np.ndarray:
    """The pixel-boundary outline of a hole-free 8-connected piece: ``(N, 2)`` int
    lattice vertices ``(x, y)``, for pycocotools-style rasterisers.

    Traced on the piece upsampled 2x: a sub-pixel outline coordinate ``s`` maps to the
    lattice coordinate ``ceil(s / 2)`` on every side of the region (left and top edges
    land on even ``s``, right and bottom edges on odd ``s``).
    """
    up = cv2.resize(
        np.pad(piece.astype(np.uint8), 1), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST
    )
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=len).reshape(-1, 2)
    points = (contour + 1) // 2 - 1  # undo the 1-pixel padding
    points = _collinear_pruned(_dedupe(points))
    return points + np.array([x0, y0])


def centre_outline(piece: np.ndarray, x0: int = 0, y0: int = 0) -> np.ndarray:
    """The outline through the centres of the boundary pixels of a hole-free piece:
    ``(N, 2)`` int ``(x, y)`` pixel indices, for PIL / cv2.fillPoly-style rasterisers.
    """
    padded = np.pad(piece.astype(np.uint8), 1)
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=len).reshape(-1, 2) - 1
    return contour + np.array([x0, y0])


def region_corner_polygons(region: Region) -> list[np.ndarray]:
    """Corner outlines of the hole-free pieces of a region (their union is the region)."""
    return [corner_outline(m, x, y) for m, x, y in hole_free_pieces(region)]


def region_centre_polygons(region: Region) -> list[np.ndarray]:
    """Centre outlines of the hole-free pieces of a region (their union is the region)."""
    return [centre_outline(m, x, y) for m, x, y in hole_free_pieces(region)]


def region_polygons(
    label_map: np.ndarray, class_ids: Sequence[int], convention: str
) -> Iterator[tuple[Region, list[np.ndarray]]]:
    """Each 8-connected region of each class with its hole-free outlines, in the
    ``"corner"`` or ``"centre"`` convention; the same result as
    :func:`region_corner_polygons` / :func:`region_centre_polygons` per region, but one
    contour pass per class traces every region without holes (the common case) at once.
    """
    if convention not in ("corner", "centre"):
        raise ValueError(f"unknown polygon convention {convention!r}")
    corner = convention == "corner"
    present = set(np.unique(label_map).tolist())
    for cid in class_ids:
        if cid not in present:
            continue
        binary = (label_map == cid).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        padded = np.pad(binary, 1)
        if corner:
            padded = cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        outline: dict[int, np.ndarray] = {}
        has_hole: set[int] = set()
        if hierarchy is not None:
            for contour, (_nx, _pv, child, parent) in zip(contours, hierarchy[0]):
                if parent >= 0:
                    continue
                pts = contour.reshape(-1, 2)
                if corner:
                    x, y = (pts[0] - 2) // 2
                    pts = _collinear_pruned(_dedupe((pts + 1) // 2 - 1))
                else:
                    pts = pts - 1
                    x, y = pts[0]
                k = int(labels[y, x])
                outline[k] = pts
                if child >= 0:
                    has_hole.add(k)
        for k in range(1, n):
            x, y, w, h = (int(v) for v in stats[k, :4])
            region = Region(int(cid), labels[y : y + h, x : x + w] == k, x, y)
            if k in outline and k not in has_hole:
                yield region, [outline[k]]
            elif corner:
                yield region, region_corner_polygons(region)
            else:
                yield region, region_centre_polygons(region)


@dataclass
class _Overpainted:
    """A region of a painted export and the holes it leaves to be painted over."""

    region: Region
    holes: np.ndarray  # int hole labels of the region's crop (0: not a hole)
    filled: set[int]  # holes covered by the region's outline, painted over later

    def pieces(self) -> list[tuple[np.ndarray, int, int]]:
        r = self.region
        if not self.filled:
            return hole_free_pieces(r)
        grown = r.mask | np.isin(self.holes, sorted(self.filled))
        return hole_free_pieces(Region(r.class_id, grown, r.x0, r.y0))


def painted_polygons(
    label_map: np.ndarray, class_ids: Sequence[int], tick: Callable[[], None] | None = None
) -> list[tuple[int, np.ndarray]]:
    """Centre outlines ``(class_id, points)`` of every region of ``class_ids`` for a
    reader that paints polygons one after another, a later one winning where they
    overlap, in the order returned: largest filled area first (labelme keeps the list
    order; ultralytics' ``polygons2masks_overlap`` sorts by area, largest first).

    A hole whose pixels all belong to ``class_ids`` is painted over by the regions that
    fill it, which are smaller and so come later: the region's outline need not open it,
    and stays whole instead of being cut into slabs (a one-pixel diagonal line of
    another class inside a region would otherwise cut it at every column). A hole with
    any other pixel (unlabelled, or void where void is not written) is cut open as in
    :func:`hole_free_pieces`. Painting the result in order gives back exactly the
    pixels of ``class_ids``, and nothing elsewhere: this is checked on the masks (the
    outline of a hole-free piece draws exactly the piece), and a hole whose pixels
    would come out wrong (e.g. a region that fills it is not smaller) is cut open.

    ``tick`` is called at every region and piece (a big map takes tens of seconds): an
    exception it raises (a cancel) stops the work there.
    """
    tick = tick or _no_tick
    paintable = np.isin(label_map, list(class_ids))
    # (int16 class ids and int32 piece numbers: the int64 arrays of the whole map took
    # 44 bytes a pixel, 3.5 GB for a 10000 x 8000 map)
    nothing = -1
    ids = np.int16 if max(class_ids, default=0) < np.iinfo(np.int16).max else np.int32
    target = label_map.astype(ids)
    target[~paintable] = nothing
    regions: list[_Overpainted] = []
    for region in class_regions(label_map, class_ids):
        tick()
        holes, _ = _hole_labels(region.mask)
        h, w = region.mask.shape
        crop = paintable[region.y0 : region.y0 + h, region.x0 : region.x0 + w]
        unpaintable = set(np.unique(holes[(holes > 0) & ~crop]).tolist())
        filled = set(np.unique(holes[holes > 0]).tolist()) - unpaintable
        regions.append(_Overpainted(region, holes, filled))
    while regions:
        pieces = [(i, piece) for i, r in enumerate(regions) for piece in r.pieces()]
        areas = [int(np.count_nonzero(m)) for _, (m, _, _) in pieces]
        order = sorted(range(len(pieces)), key=lambda k: -areas[k])
        # Equal areas may be drawn in either order (numpy's argsort is not stable).
        ties_reversed = sorted(range(len(pieces)), key=lambda k: (-areas[k], -k))
        wrong: dict[int, set[int]] = {}
        piece_class = np.array([regions[i].region.class_id for i, _ in pieces], ids)
        for painting in (order, ties_reversed):
            owner = np.full(label_map.shape, -1, np.int32)
            for k in painting:
                tick()
                m, x0, y0 = pieces[k][1]
                h, w = m.shape
                owner[y0 : y0 + h, x0 : x0 + w][m] = k
            got = piece_class.take(owner, mode="clip")  # (-1 clipped to 0: set below)
            got[owner < 0] = nothing
            differ = got != target
            del got
            for y, x in zip(*np.nonzero(differ)):
                # Only an overpainted hole can come out wrong: every other pixel a piece
                # covers is its own, and every pixel of class_ids is some piece's own.
                i = pieces[int(owner[y, x])][0]
                r = regions[i].region
                wrong.setdefault(i, set()).add(int(regions[i].holes[y - r.y0, x - r.x0]))
        if not wrong:
            break
        progress = False
        for i, holes_wrong in wrong.items():
            progress |= bool(regions[i].filled & holes_wrong)
            regions[i].filled -= holes_wrong
        if not progress:  # cannot happen (see above); cut every hole open, as exact
            if not any(o.filled for o in regions):
                break
            for o in regions:
                o.filled.clear()
    if not regions:
        return []
    outlines = []
    for k in order:
        tick()
        outlines.append((regions[pieces[k][0]].region.class_id, centre_outline(*pieces[k][1])))
    return outlines


def _no_tick() -> None:
    pass


def pad_to_three(points: np.ndarray) -> np.ndarray:
    """At least three vertices (repeat the last), since polygon formats require three;
    a repeated vertex draws the same pixels."""
    while len(points) < 3:
        points = np.vstack([points, points[-1:]])
    return points


# --- rasterisers ---------------------------------------------------------------------


def draw_pil_polygon(canvas, points: Sequence[Sequence[float]]) -> None:  # type: ignore[no-untyped-def]
    """Draw like labelme: ``ImageDraw.polygon(xy, outline=1, fill=1)`` on an ``"L"``
    image ``canvas`` (pixels become 1)."""
    from PIL import ImageDraw

    xy = [(float(p[0]), float(p[1])) for p in points]
    if len(xy) == 1:
        xy = xy * 3
    ImageDraw.Draw(canvas).polygon(xy, outline=1, fill=1)


def fill_centre_polygons(shape: tuple[int, int], polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Rasterise centre-convention integer polygons with ``cv2.fillPoly`` (outline
    included): a ``bool`` mask."""
    out = np.zeros(shape, np.uint8)
    pts = [np.asarray(p, np.int32).reshape(-1, 1, 2) for p in polygons if len(p)]
    for p in pts:  # one by one: fillPoly on a list uses even-odd across polygons
        cv2.fillPoly(out, [p], 1)
        cv2.polylines(out, [p], True, 1)
    return out.astype(bool)
