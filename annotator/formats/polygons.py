"""Label map <-> polygons, exact under each tool's own rasteriser.

Two polygon conventions are in use by the formats we write:

* **corner polygons** (COCO): vertices on the pixel *boundary* lattice, so pixel
  ``(r, c)`` is the square ``[c, c+1] x [r, r+1]``. pycocotools rasterises such a
  polygon back to exactly the traced pixels.
* **centre polygons** (labelme, YOLO): vertices on the *centres* of the region's
  boundary pixels, the convention of ``PIL.ImageDraw.polygon(outline=1, fill=1)``
  (labelme) and ``cv2.fillPoly`` (ultralytics), which both draw the outline pixels
  too. A region one pixel wide traces to a degenerate polygon that still draws exactly.

None of these formats has polygon *holes* (COCO and labelme union or overpaint their
polygons). So a region with holes is first cut into hole-free pieces: a vertical cut
at the left edge of a hole opens it, and the cut repeats until no piece has a hole.
Each piece traces to one simple outline, and the union of the re-rasterised pieces is
the region again, pixel for pixel. Tests check this exactness on generated masks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def _hole_cut_columns(piece: np.ndarray) -> list[int]:
    """The leftmost column of every hole of ``piece`` (one 8-connected component);
    empty when it has none."""
    padded = np.pad(piece.astype(np.uint8), 1)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None or not np.any(hierarchy[0, :, 3] >= 0):
        return []
    # The holes are the background pixels inside the filled outer outline.
    filled = np.zeros_like(padded)
    outer = [c for c, h in zip(contours, hierarchy[0]) if h[3] < 0]
    cv2.drawContours(filled, outer, -1, 1, thickness=-1)
    holes = ((filled > 0) & (padded == 0)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    return sorted({int(stats[k, 0]) - 1 for k in range(1, n)})  # back to unpadded columns


def hole_free_pieces(region: Region) -> list[tuple[np.ndarray, int, int]]:
    """Cut a region into 8-connected pieces without holes: ``(crop, x0, y0)`` each.

    Vertical cuts at the leftmost column of every hole: within each slab between cuts,
    every part of a hole touches a cut it continues across (a 4-connected path between
    slabs crosses their border), so it is open; a whole hole inside one slab starts at
    that slab's left cut. Cutting never closes a new hole, so one pass suffices; the
    loop re-checks anyway. A region without holes comes back whole.
    """
    todo = [(region.mask, region.x0, region.y0)]
    done: list[tuple[np.ndarray, int, int]] = []
    while todo:
        mask, x0, y0 = todo.pop()
        cuts = _hole_cut_columns(mask)
        if not cuts:
            done.append((mask, x0, y0))
            continue
        edges = [0, *[c for c in cuts if c > 0], mask.shape[1]]
        for a, b in zip(edges[:-1], edges[1:]):
            if b > a:
                todo.extend(_components(mask[:, a:b], x0 + a, y0))
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
