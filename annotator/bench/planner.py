"""The skilled annotator's choice: every tool's best gesture on the worst region, then
the one that fixes most pixels per unit of effort (rules in docs/simulated-annotator.md).

The truth is read here, and only here, to decide: which region is wrong, where a click
or a path goes, which candidate wins. Every candidate is an
:class:`~annotator.bench.actions.Action` (a person's inputs) and its gain is measured by
performing it with :func:`~annotator.bench.actions.apply` on a copy of the label map:
the same operation that then changes the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from annotator.bench.actions import CLICK, STROKE, Action, Cost, Scene, apply
from annotator.bench.brush import (
    IGNORE,
    Painter,
    Stroke,
    plan_chain_stroke,
    plan_region_stroke,
)
from annotator.core.labelmap import Box, LabelMap, Point, tolerance_scale

#: A pixel turned from unlabelled into a wrong class counts against an action by this
#: much: it is still wrong, and no longer protected by "paint only unlabelled".
SPOIL_PENALTY = 0.5

#: Image tolerances of the magic wand (flood fill bounded by the image), in grey levels
#: of an 8-bit image (scaled to the image's range otherwise).
WAND_TOLERANCES = (6.0, 12.0, 24.0, 48.0)

#: Douglas-Peucker tolerances (pixels) of the polygon traced along a region's outline.
#: 0.5: its vertices on nearly every corner of the outline. The app's polygon fills the
#: pixels whose centre is inside or on it, so a coarser outline leaves out the pixels
#: its chords cut off (on synthetic EM, a class's IoU 0.80-0.90 at 1 px, 0.94-0.95 at
#: 0.5 px for 60 % more vertices); the planner weighs the three.
POLYGON_EPSILONS = (0.5, 1.0, 2.5)

#: Regions smaller than this are not worth a GrabCut box (two clicks and a wait).
GRABCUT_MIN_AREA = 64

#: GrabCut is for compact objects: a region must cover this share of its box (a thin
#: network spanning the image is not something a person would box).
GRABCUT_MIN_FILL = 0.3

#: A superpixel joins a superpixel stroke when this share of its pixels is the class.
SUPERPIXEL_PURITY = 0.9


@dataclass(frozen=True)
class Choice:
    """The chosen action, its measured gain (see :func:`gain`) and its efficiency."""

    action: Action
    gain: float
    efficiency: float


def gain(before: np.ndarray, after: np.ndarray, truth: np.ndarray, unlabelled: int) -> float:
    """Pixels made right, minus pixels made wrong, minus :data:`SPOIL_PENALTY` per
    unlabelled pixel given a wrong class (all arrays of the same box)."""
    valid = truth != IGNORE
    right_before = (before == truth) & valid
    right_after = (after == truth) & valid
    fixed = int(np.count_nonzero(right_after & ~right_before))
    broken = int(np.count_nonzero(right_before & ~right_after))
    spoiled = int(
        np.count_nonzero(valid & (before == unlabelled) & (after != unlabelled) & ~right_after)
    )
    return fixed - broken - SPOIL_PENALTY * spoiled


def measure(action: Action, label_map: LabelMap, truth: np.ndarray, scene: Scene) -> float:
    """The gain of ``action``, measured by performing it on a copy of ``label_map``."""
    trial = LabelMap(label_map.array.copy(), label_map.unlabelled, label_map.void)
    patches = [p for p in apply(action, trial, scene) if not p.empty]
    if not patches:
        return 0.0
    box = patches[0].box
    for p in patches[1:]:
        box = box.union(p.box)
    s = box.slices
    return gain(label_map.array[s], trial.array[s], truth[s], label_map.unlabelled)


def choose(
    label_map: LabelMap,
    truth: np.ndarray,
    scene: Scene,
    tools: tuple[str, ...],
    *,
    max_radius: float = 25.0,
    accepted: bool = False,
) -> Choice | None:
    """The action with the most gain per unit of cost (ties: more gain, then tool order),
    among every enabled tool's candidates on the largest wrong region; ``None`` when
    nothing is wrong or nothing gains."""
    best: Choice | None = None
    for action in candidates(label_map, truth, scene, tools, max_radius, accepted):
        g = measure(action, label_map, truth, scene)
        if g <= 0:
            continue
        eff = g / action.cost.weighted
        if best is None or (eff, g) > (best.efficiency, best.gain):
            best = Choice(action, g, eff)
    return best


def largest_error_region(labels: np.ndarray, truth: np.ndarray) -> tuple[int, np.ndarray] | None:
    """The largest 8-connected region of one true class labelled wrong or not at all."""
    from annotator.bench.brush import _largest_error_region

    return _largest_error_region(labels, truth)


def candidates(
    label_map: LabelMap,
    truth: np.ndarray,
    scene: Scene,
    tools: tuple[str, ...],
    max_radius: float,
    accepted: bool,
) -> Iterator[Action]:
    """Each enabled tool's best gestures on the largest wrong region."""
    labels = label_map.array
    if "accept" in tools and scene.proposal is not None and not accepted:
        yield Action("accept", 0, CLICK)
    found = largest_error_region(labels, truth)
    if found is None:
        return
    cls, region = found
    unl = label_map.unlabelled
    values, counts = np.unique(labels[region], return_counts=True)
    wrong = int(values[int(np.argmax(counts))])  # the label most of the region has now
    seed = _deepest(region)
    area = int(region.sum())
    if "brush" in tools:
        stroke = plan_region_stroke(
            labels, truth, cls, region, max_radius=max_radius, fallback=True
        )
        if stroke is not None:
            yield _stroke_action("brush", stroke)
        chained = plan_chain_stroke(labels, truth, cls, region, max_radius=max_radius)
        if chained is not None:
            yield _stroke_action("brush", chained)
    if "protected-brush" in tools:
        yield from _protected_brush(labels, truth, cls, region, wrong, max_radius)
    if "fill" in tools:
        yield Action("fill", cls, CLICK, points=(seed,))
    if "wand" in tools and scene.image is not None:
        scale = tolerance_scale(scene.image)  # given for 8-bit data
        for tol in WAND_TOLERANCES:
            yield Action("wand", cls, CLICK, points=(seed,), tolerance=tol * scale)
    if "polygon" in tools:
        yield from _polygons(region, cls, wrong, unl)
    if "superpixel" in tools and scene.image is not None:
        yield from _superpixel_strokes(scene.segments, truth, cls, region, seed, wrong)
    if "grabcut" in tools and scene.image is not None and area >= GRABCUT_MIN_AREA:
        box = _box_around(region, 2)
        if area >= GRABCUT_MIN_FILL * box.height * box.width:
            yield Action("grabcut", cls, Cost(clicks=2), box=box)
    if scene.proposal is not None:
        proposal = scene.proposal
        if "accept" in tools and wrong != unl:
            # Protected "only over w": the proposal replaces every pixel labelled w (a
            # first fill that took too much before there was a proposal).
            yield Action("accept", 0, CLICK, only_over=wrong)
        if "accept-region" in tools:
            on = region & (proposal == cls)
            if on.any():
                click = _deepest(on)
                yield Action("accept-region", cls, CLICK, points=(click,))
                yield Action("accept-region", cls, CLICK, points=(click,), only_over=wrong)
        if "proposal-brush" in tools:
            yield from _proposal_brush(labels, truth, proposal, cls, region, max_radius, unl)
    if "fill-holes" in tools:
        yield Action("fill-holes", cls, CLICK, max_area=area)
    if "remove-specks" in tools and wrong != unl:
        yield Action("remove-specks", wrong, CLICK, max_area=area)


def _stroke_action(tool: str, stroke: Stroke, only_over: int | None = None) -> Action:
    return Action(
        tool, stroke.value, STROKE, points=stroke.points, radius=stroke.radius, only_over=only_over
    )


def _protected_brush(
    labels: np.ndarray,
    truth: np.ndarray,
    cls: int,
    region: np.ndarray,
    wrong: int,
    max_radius: float,
) -> Iterator[Action]:
    """A brush that writes only over ``wrong``: every other pixel is safe from it, so the
    brush may be as wide as the ``wrong`` pixels of other classes allow."""
    target = region & (labels == wrong)
    if not target.any():
        return
    harmless = labels != wrong

    def painter(crop: tuple[int, int, int, int]) -> Painter:
        def paint(lm: LabelMap, pts: tuple[Point, ...], radius: float) -> None:
            moves = [pts[:1]] if len(pts) == 1 else [[p, q] for p, q in zip(pts[:-1], pts[1:])]
            for move in moves:
                lm.paint_stroke(move, radius, cls, only_over=wrong)

        return paint

    stroke = plan_region_stroke(
        labels, truth, cls, target, max_radius=max_radius, harmless=harmless, painter=painter
    )
    if stroke is not None:
        yield _stroke_action("protected-brush", stroke, only_over=wrong)


def _proposal_brush(
    labels: np.ndarray,
    truth: np.ndarray,
    proposal: np.ndarray,
    cls: int,
    region: np.ndarray,
    max_radius: float,
    unlabelled: int,
) -> Iterator[Action]:
    """A drag of the proposal brush over the part of the region the proposal has right;
    it may pass wherever copying the proposal changes nothing or makes it right."""
    target = region & (proposal == cls)
    if not target.any():
        return
    harmless = (proposal == labels) | (proposal == unlabelled) | (proposal == truth)

    def painter(crop: tuple[int, int, int, int]) -> Painter:
        y0, y1, x0, x1 = crop
        src = np.ascontiguousarray(proposal[y0:y1, x0:x1])

        def paint(lm: LabelMap, pts: tuple[Point, ...], radius: float) -> None:
            moves = [pts[:1]] if len(pts) == 1 else [[p, q] for p, q in zip(pts[:-1], pts[1:])]
            for move in moves:
                lm.paint_stroke_from(move, radius, src)

        return paint

    stroke = plan_region_stroke(
        labels, truth, cls, target, max_radius=max_radius, harmless=harmless, painter=painter
    )
    if stroke is not None:
        yield _stroke_action("proposal-brush", stroke)


def _deepest(region: np.ndarray) -> Point:
    """The region's pixel farthest from its border (where a person clicks), as (x, y)."""
    import cv2

    ys, xs = np.nonzero(region)
    y0, x0 = int(ys.min()), int(xs.min())
    crop = region[y0 : int(ys.max()) + 1, x0 : int(xs.max()) + 1].astype(np.uint8)
    padded = cv2.copyMakeBorder(crop, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    iy, ix = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(ix + x0), float(iy + y0)


def _box_around(region: np.ndarray, margin: int) -> Box:
    ys, xs = np.nonzero(region)
    h, w = region.shape
    return Box(
        max(0, int(ys.min()) - margin),
        max(0, int(xs.min()) - margin),
        min(h, int(ys.max()) + 1 + margin),
        min(w, int(xs.max()) + 1 + margin),
    )


def _polygons(region: np.ndarray, cls: int, wrong: int, unlabelled: int) -> Iterator[Action]:
    """Polygons clicked along the region's outline (and around its holes)."""
    import cv2

    box = _box_around(region, 1)
    crop = np.ascontiguousarray(region[box.slices].astype(np.uint8))
    contours, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if not contours or hierarchy is None:
        return
    outer = max(
        (i for i in range(len(contours)) if hierarchy[0][i][3] < 0),
        key=lambda i: cv2.contourArea(contours[i]),
    )
    for eps in POLYGON_EPSILONS:
        ring = _ring(cv2.approxPolyDP(contours[outer], eps, True), box)
        if len(ring) < 3:
            continue
        holes = []
        child = hierarchy[0][outer][2]
        while child >= 0:
            hole = _ring(cv2.approxPolyDP(contours[child], eps, True), box)
            if len(hole) >= 3:
                holes.append(hole)
            child = hierarchy[0][child][0]
        n = len(ring) + sum(len(h) for h in holes)
        cost = Cost(vertices=n)
        yield Action("polygon", cls, cost, points=ring, holes=tuple(holes))
        yield Action("polygon", cls, cost, points=ring, holes=tuple(holes), only_over=wrong)


def _ring(approx: np.ndarray, box: Box) -> tuple[Point, ...]:
    return tuple((float(x + box.x0), float(y + box.y0)) for x, y in approx.reshape(-1, 2))


def _superpixel_strokes(
    segments: np.ndarray,
    truth: np.ndarray,
    cls: int,
    region: np.ndarray,
    seed: Point,
    wrong: int,
) -> Iterator[Action]:
    """One drag of the superpixel brush from superpixel to neighbouring superpixel over
    those that are (almost) all the class and touch the region; plus its protected
    twin."""
    box = _box_around(region, 24)
    seg = segments[box.slices]
    ids = np.unique(seg[region[box.slices]])
    if ids.size == 0:
        return
    # Purity is judged on whole segments (a person sees the whole outline).
    valid = truth != IGNORE
    size = int(segments.max()) + 1
    n_valid = np.bincount(segments[valid], minlength=size)
    n_cls = np.bincount(segments[valid & (truth == cls)], minlength=size)
    pure_all = (n_valid > 0) & (n_cls >= SUPERPIXEL_PURITY * n_valid)
    lut = np.full(size, -1, np.int64)
    lut[ids] = np.arange(ids.size)
    idx = lut[seg]
    pure = pure_all[ids]
    if not pure.any():
        return
    anchors = _segment_anchors(idx, pure)
    path = _chain(anchors, idx, pure, seed, box)
    if not path:
        return
    yield Action("superpixel", cls, STROKE, points=path, radius=0.0)
    yield Action("superpixel", cls, STROKE, points=path, radius=0.0, only_over=wrong)


def _segment_anchors(idx: np.ndarray, pure: np.ndarray) -> dict[int, tuple[int, int]]:
    """For each pure segment, its pixel nearest to its centroid (inside the segment)."""
    ys, xs = np.nonzero(idx >= 0)
    ks = idx[ys, xs]
    sel = pure[ks]
    ys, xs, ks = ys[sel], xs[sel], ks[sel]
    n = np.bincount(ks, minlength=pure.size).astype(float)
    cy = np.bincount(ks, ys, minlength=pure.size) / np.maximum(n, 1)
    cx = np.bincount(ks, xs, minlength=pure.size) / np.maximum(n, 1)
    d = (ys - cy[ks]) ** 2 + (xs - cx[ks]) ** 2
    order = np.lexsort((d, ks))
    first = np.ones(order.size, bool)
    first[1:] = ks[order][1:] != ks[order][:-1]
    pick = order[first]
    return {int(ks[i]): (int(ys[i]), int(xs[i])) for i in pick}


def _chain(
    anchors: dict[int, tuple[int, int]],
    idx: np.ndarray,
    pure: np.ndarray,
    seed: Point,
    box: Box,
) -> tuple[Point, ...]:
    """A drag through the anchors, nearest first, moving only over pure segments."""
    if not anchors:
        return ()
    keys = list(anchors)
    pts = np.array([anchors[k] for k in keys], float)
    sy, sx = seed[1] - box.y0, seed[0] - box.x0
    cur = int(np.argmin((pts[:, 0] - sy) ** 2 + (pts[:, 1] - sx) ** 2))
    visited = np.zeros(len(keys), bool)
    visited[cur] = True
    path = [pts[cur]]
    h, w = idx.shape
    while not visited.all():
        d = (pts[:, 0] - path[-1][0]) ** 2 + (pts[:, 1] - path[-1][1]) ** 2
        d[visited] = np.inf
        moved = False
        for j in np.argsort(d)[:6]:
            if not np.isfinite(d[j]):
                break
            if _line_on_pure(path[-1], pts[j], idx, pure, h, w):
                visited[j] = True
                path.append(pts[j])
                moved = True
                break
        if not moved:
            break
    return tuple((float(x + box.x0), float(y + box.y0)) for y, x in path)


def _line_on_pure(
    a: np.ndarray, b: np.ndarray, idx: np.ndarray, pure: np.ndarray, h: int, w: int
) -> bool:
    """True when the straight move a -> b (and its one-pixel brush) stays on pure segments."""
    n = max(2, int(np.hypot(*(b - a)) * 2) + 1)
    ys = np.linspace(a[0], b[0], n)
    xs = np.linspace(a[1], b[1], n)
    for dy, dx in ((0, 0), (0.5, 0), (-0.5, 0), (0, 0.5), (0, -0.5)):
        yy = np.clip(np.rint(ys + dy).astype(int), 0, h - 1)
        xx = np.clip(np.rint(xs + dx).astype(int), 0, w - 1)
        k = idx[yy, xx]
        if (k < 0).any() or not pure[k].all():
            return False
    return True
