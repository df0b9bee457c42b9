"""The brush of the simulated annotator: the careful drag through one wrong region.

A stroke's radius is bounded by the distance to the border of the pixels it may
cover, so it never paints over another class; the path is the longest one through the
region that keeps the whole brush inside, or a back-and-forth "colouring in" drag, or a
single dab, whichever fixes most. :func:`plan_stroke` is the whole robot of the first
effort benchmark (``annotator bench --tools brush``); :func:`plan_region_stroke` is the
same planner for any region and any brush-like tool (protected, proposal brush).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from annotator.core.labelmap import LabelMap, Point

IGNORE = 255  # value of pixels in a ground-truth mask that count nowhere


@dataclass(frozen=True)
class Stroke:
    """One planned brush stroke: a polyline in pixel-centre ``(x, y)`` coordinates."""

    points: tuple[tuple[float, float], ...]
    radius: float
    value: int


def pixel_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of pixels (ignoring ``IGNORE`` in the truth) whose label equals the truth.

    Unlabelled pixels count as wrong.
    """
    valid = truth != IGNORE
    n = int(valid.sum())
    if n == 0:
        return 1.0
    return float(((labels == truth) & valid).sum()) / n


def _largest_error_region(labels: np.ndarray, truth: np.ndarray) -> tuple[int, np.ndarray] | None:
    import cv2

    error = (labels != truth) & (truth != IGNORE)
    if not error.any():
        return None
    best: tuple[int, int, np.ndarray] | None = None
    for c in np.unique(truth[error]):
        comp = (error & (truth == c)).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(comp, connectivity=8)
        if n <= 1:
            continue
        idx = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = int(stats[idx, cv2.CC_STAT_AREA])
        if best is None or area > best[0]:
            best = (area, int(c), lab == idx)
    if best is None:
        return None
    return best[1], best[2]


def _geodesic(free: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """8-connected geodesic distance (in steps) from ``start`` inside ``free``; -1 elsewhere."""
    import cv2

    dist = np.full(free.shape, -1, np.int32)
    front = np.zeros(free.shape, np.uint8)
    front[start] = 1
    reached = front.copy()
    free_u8 = free.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    step = 0
    dist[start] = 0
    while True:
        step += 1
        grown = np.bitwise_and(cv2.dilate(reached, kernel), free_u8)
        new = grown & ~reached & 1
        if not new.any():
            return dist
        dist[new.astype(bool)] = step
        reached |= new


def _trace_back(dist: np.ndarray, end: tuple[int, int]) -> list[tuple[int, int]]:
    """Walk from ``end`` down the geodesic distance to its source (distance 0)."""
    h, w = dist.shape
    path = [end]
    y, x = end
    while dist[y, x] > 0:
        d = dist[y, x]
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < h and 0 <= nx < w and dist[ny, nx] == d - 1:
                y, x = ny, nx
                break
        else:  # cannot happen for a distance map made by _geodesic
            break
        path.append((y, x))
    return path


def _simplify(
    path: list[tuple[int, int]], border_dist: np.ndarray, radius: float, every: int
) -> tuple[tuple[float, float], ...]:
    """Keep every ``every``-th point of a pixel path, but only where the straight move
    between kept points keeps the brush inside the class."""
    pts = [(float(x), float(y)) for y, x in path]
    kept = [pts[0]]
    i = 0
    while i < len(pts) - 1:
        j = min(i + every, len(pts) - 1)
        while j > i + 1 and not _segment_safe(border_dist, kept[-1], pts[j], radius):
            j -= 1
        kept.append(pts[j])
        i = j
    return tuple(kept)


def _segment_safe(
    border_dist: np.ndarray, p: tuple[float, float], q: tuple[float, float], radius: float
) -> bool:
    """True when a brush of ``radius`` dragged from ``p`` to ``q`` stays inside the class.

    The border distance is 1-Lipschitz, so checking samples half a pixel apart with half
    a pixel of margin is enough.
    """
    (x0, y0), (x1, y1) = p, q
    n = max(2, int(np.hypot(x1 - x0, y1 - y0) * 2) + 1)
    xs = np.rint(np.linspace(x0, x1, n)).astype(int)
    ys = np.rint(np.linspace(y0, y1, n)).astype(int)
    return bool((border_dist[ys, xs] > radius + 0.5).all())


def _sweep_path(
    free: np.ndarray, border_dist: np.ndarray, radius: float, start: tuple[int, int]
) -> list[tuple[float, float]]:
    """A back-and-forth "colouring in" path over the safe centres, as one drag.

    Rows are ``~1.8 r`` apart so the brush covers the band between them; the path stops
    where the next move would take the brush outside the class.
    """
    step = max(1, int(1.8 * radius))
    rows = np.nonzero(free.any(axis=1))[0]
    if rows.size == 0:
        return [(float(start[1]), float(start[0]))]
    path: list[tuple[float, float]] = []
    forward = True
    for y in range(int(rows[0]), int(rows[-1]) + 1, step):
        xs = np.nonzero(free[y])[0]
        if xs.size == 0:
            continue
        # Keep run ends and every step-th pixel so each row is a few straight moves.
        keep = np.zeros(xs.size, bool)
        keep[::step] = True
        breaks = np.nonzero(np.diff(xs) > 1)[0]
        keep[breaks] = True
        keep[np.minimum(breaks + 1, xs.size - 1)] = True
        keep[-1] = True
        pts = [(float(x), float(y)) for x in xs[keep]]
        if not forward:
            pts.reverse()
        forward = not forward
        for pt in pts:
            if path and not _segment_safe(border_dist, path[-1], pt, radius):
                return path
            path.append(pt)
    return path


@dataclass(frozen=True)
class _Crop:
    """The part of the image a stroke is planned in: ``truth``, ``labels`` and the
    region cut to ``box`` (``y0, y1, x0, x1``), the pixels the brush may cover, their
    distance to the nearest pixel it may not, and the region's deepest such point."""

    box: tuple[int, int, int, int]
    truth: np.ndarray
    labels: np.ndarray
    region: np.ndarray
    allowed: np.ndarray
    border_dist: np.ndarray
    start: tuple[int, int]


def _crop(
    labels: np.ndarray,
    truth: np.ndarray,
    cls: int,
    region: np.ndarray,
    margin: int,
    harmless: np.ndarray | None = None,
) -> _Crop | None:
    """Cut the region's box grown by ``margin``; the brush may cover class ``cls``, void
    and ``harmless`` pixels. ``None`` for an empty region."""
    import cv2

    ys, xs = np.nonzero(region)
    if ys.size == 0:
        return None
    h, w = truth.shape
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    t = truth[y0:y1, x0:x1]
    # Painting over ignored pixels is harmless, so they do not bound the brush.
    allowed = (t == cls) | (t == IGNORE)
    if harmless is not None:
        allowed |= harmless[y0:y1, x0:x1]
    # Pad with "allowed" so the image edge does not shrink the brush (it clips instead).
    padded = cv2.copyMakeBorder(allowed.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    border_dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    reg = region[y0:y1, x0:x1]
    inside = np.where(reg, border_dist, 0)
    sy, sx = (int(v) for v in np.unravel_index(int(np.argmax(inside)), inside.shape))
    return _Crop(
        (int(y0), int(y1), int(x0), int(x1)),
        t,
        labels[y0:y1, x0:x1],
        reg,
        allowed,
        border_dist,
        (sy, sx),
    )


def plan_stroke(
    labels: np.ndarray, truth: np.ndarray, *, max_radius: float = 25.0
) -> Stroke | None:
    """The stroke a careful user would paint next, or ``None`` when nothing is wrong.

    Candidates: for a few brush radii (the largest that fits the region, and smaller),
    a stroke along the longest path through the region and a back-and-forth stroke that
    colours it in. The candidate that fixes the most pixels wins.
    """
    found = _largest_error_region(labels, truth)
    if found is None:
        return None
    cls, region = found
    return plan_region_stroke(labels, truth, cls, region, max_radius=max_radius, fallback=True)


Painter = Callable[[LabelMap, tuple[Point, ...], float], None]


def plan_region_stroke(
    labels: np.ndarray,
    truth: np.ndarray,
    cls: int,
    region: np.ndarray,
    *,
    max_radius: float = 25.0,
    harmless: np.ndarray | None = None,
    painter: Callable[[tuple[int, int, int, int]], Painter] | None = None,
    fallback: bool = False,
) -> Stroke | None:
    """The best drag of class ``cls`` through ``region`` (full-size bool).

    The brush may cover pixels of class ``cls``, void pixels and ``harmless`` ones
    (full-size bool: pixels the tool cannot damage, e.g. those a protected brush does
    not write); its radius is bounded by the distance to any other pixel. ``painter``
    makes, for a crop ``(y0, y1, x0, x1)``, the function that paints a candidate on a
    copy of that crop (default: the plain brush with ``cls``). With ``fallback`` a
    one-pixel dot is returned when no candidate gains.
    """
    import cv2

    c = _crop(labels, truth, cls, region, int(max_radius) + 2, harmless)
    if c is None:
        return None
    y0, _, x0, _ = c.box
    t, lab, reg, allowed_b, border_dist = c.truth, c.labels, c.region, c.allowed, c.border_dist
    paint = painter(c.box) if painter is not None else _plain_painter(cls)
    sy, sx = c.start
    d_max = float(border_dist[sy, sx])
    best: tuple[int, Stroke] | None = None
    for factor in (1.0, 0.6, 0.35, 0.2):
        radius = max(0.0, min(max_radius, d_max - 0.51) * factor)
        safe = border_dist > radius + 0.5
        size = 2 * int(np.ceil(radius)) + 1
        near = cv2.dilate(
            reg.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        ).astype(bool)
        free = safe & near
        free[sy, sx] = True
        first = _geodesic(free, (sy, sx))
        ay, ax = np.unravel_index(int(np.argmax(first)), first.shape)
        a = (int(ay), int(ax))
        line = _simplify(_trace_back(first, a)[::-1], border_dist, radius, max(1, int(radius)))
        sweep = tuple(_sweep_path(first >= 0, border_dist, radius, (sy, sx)))
        dot = ((float(sx), float(sy)),)
        for pts in (line, sweep, dot):
            if not pts:
                continue
            stroke = Stroke(pts, radius, int(cls))
            gain = _stroke_gain(lab, t, allowed_b, stroke, paint)
            if best is None or gain > best[0]:
                best = (gain, stroke)
        if radius < 0.5:
            break
    if best is None or best[0] <= 0:  # a one-pixel dot on the region always fits
        if not fallback:
            return None
        best = (1, Stroke(((float(sx), float(sy)),), 0.0, int(cls)))
    _, stroke = best
    shifted = tuple((x + x0, y + y0) for x, y in stroke.points)
    return Stroke(shifted, stroke.radius, stroke.value)


#: How far (pixels) beyond the worst region a chained drag may run on.
CHAIN_REACH = 128

#: Other wrong regions a chained drag may head for (the largest ones within reach).
CHAIN_ENDS = 12

#: Brush radii a chained drag tries besides the widest that fits at its start (those
#: narrower than that one).
CHAIN_RADII = (0.5, 1.0, 2.0, 4.0)


def plan_chain_stroke(
    labels: np.ndarray,
    truth: np.ndarray,
    cls: int,
    region: np.ndarray,
    *,
    max_radius: float = 25.0,
) -> Stroke | None:
    """One drag that starts in ``region`` and runs on along the class through the other
    wrong pixels of class ``cls`` nearby: how a person fixes a row of slivers along one
    border with a thin brush, instead of dabbing each sliver.

    The path is a least-cost route (scikit-image's ``MCP_Geometric``) over the pixels
    where the brush fits inside the class, cheaper where the brush would cover a wrong
    pixel, towards the far side of each of the :data:`CHAIN_ENDS` largest wrong regions
    within :data:`CHAIN_REACH` pixels; the one that fixes most wins. Like every stroke
    of the robot it never paints over another class. ``None`` when none gains.
    """
    import cv2
    from skimage.graph import MCP_Geometric

    c = _crop(labels, truth, cls, region, CHAIN_REACH + int(max_radius) + 2)
    if c is None:
        return None
    y0, _, x0, _ = c.box
    t, lab, reg, allowed_b, border_dist = c.truth, c.labels, c.region, c.allowed, c.border_dist
    wrong = (t == cls) & (lab != cls)
    n, comps, stats, _ = cv2.connectedComponentsWithStats(
        (wrong & ~reg).astype(np.uint8), connectivity=8
    )
    if n <= 1:
        return None  # nothing else to chain to
    others = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:CHAIN_ENDS]
    sy, sx = c.start
    paint = _plain_painter(cls)
    best: tuple[int, Stroke] | None = None
    fit = min(max_radius, float(border_dist[sy, sx]) - 0.51)  # the widest brush at the start
    if fit < 0:
        return None
    for radius in sorted({fit, *(r for r in CHAIN_RADII if r < fit)}):
        safe = border_dist > radius + 0.5
        safe[sy, sx] = True
        size = 2 * int(np.ceil(radius)) + 3
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        useful = cv2.dilate(wrong.astype(np.uint8), kernel).astype(bool)
        costs = np.where(safe, np.where(useful, 0.25, 1.0), np.inf)
        mcp = MCP_Geometric(costs)
        cumulative, _ = mcp.find_costs([(sy, sx)])
        for k in others:
            near = cv2.dilate((comps == k).astype(np.uint8), kernel).astype(bool)
            reach = np.where(near & np.isfinite(cumulative), cumulative, -1.0)
            if reach.max() < 0:
                continue
            end = np.unravel_index(int(np.argmax(reach)), reach.shape)
            path = [(int(y), int(x)) for y, x in mcp.traceback(end)]
            pts = _simplify(path, border_dist, radius, max(2, int(2 * radius) + 2))
            stroke = Stroke(pts, radius, int(cls))
            gain = _stroke_gain(lab, t, allowed_b, stroke, paint)
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, stroke)
    if best is None:
        return None
    stroke = best[1]
    return Stroke(tuple((x + x0, y + y0) for x, y in stroke.points), stroke.radius, stroke.value)


def _plain_painter(value: int) -> Painter:
    def paint(lm: LabelMap, pts: tuple[Point, ...], radius: float) -> None:
        _paint(lm, Stroke(pts, radius, value))

    return paint


def _stroke_gain(
    labels: np.ndarray, truth: np.ndarray, allowed: np.ndarray, stroke: Stroke, paint: Painter
) -> int:
    """Pixels a stroke would make right, or -1 when it would paint outside ``allowed``."""
    lm = LabelMap(labels.copy(), unlabelled=IGNORE, void=IGNORE - 1)
    valid = truth != IGNORE
    before = int(((lm.array == truth) & valid).sum())
    paint(lm, stroke.points, stroke.radius)
    if ((lm.array != labels) & ~allowed).any():
        return -1
    return int(((lm.array == truth) & valid).sum()) - before


def _paint(label_map: LabelMap, stroke: Stroke) -> int:
    """Paint segment by segment (as the GUI does per mouse move); return pixels changed."""
    pts = stroke.points
    if len(pts) == 1:
        return int(label_map.paint_disk(*pts[0], stroke.radius, stroke.value).changed().sum())
    changed = 0
    for p, q in zip(pts[:-1], pts[1:]):
        patch = label_map.paint_stroke([p, q], stroke.radius, stroke.value)
        changed += int(patch.changed().sum()) if not patch.empty else 0
    return changed
