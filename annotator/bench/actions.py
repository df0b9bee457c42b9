"""The gestures of the simulated annotator: what a person gives a tool, and what it costs.

An :class:`Action` holds only what a person would give the GUI's tool (points, a radius,
a class, a tolerance, a box, a size) and :func:`apply` performs it through the one
:class:`~annotator.core.labelmap.LabelMap` operation that tool calls, with the
:class:`Scene` a person sees (the image, the model's proposal, the superpixels). No
action holds, and :func:`apply` never receives, the true mask: the planner in
:mod:`annotator.bench.robot` uses the truth only to choose which action to take.

Costs (docs/simulated-annotator.md): a brush drag is one *stroke*, a click is one
*click* (a GrabCut box is two: its two corners), a polygon costs one *vertex* per
corner. The combined action count weighs them with :data:`WEIGHTS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotator.core.labelmap import Box, LabelMap, Patch, Point
from annotator.core.smart import Superpixels

#: Weight of each cost unit in the combined action count. A polygon vertex is a single
#: click placed along an edge the eye is already following, so it counts half.
WEIGHTS = {"strokes": 1.0, "clicks": 1.0, "vertices": 0.5}

#: Every tool the robot knows, in the order candidates are listed (ties go to the first).
TOOLS = (
    "brush",
    "protected-brush",
    "fill",
    "wand",
    "polygon",
    "superpixel",
    "grabcut",
    "accept",
    "accept-region",
    "proposal-brush",
    "fill-holes",
    "remove-specks",
)
#: The tools that copy from the proposal: labels they wrote are the proposal's (the
#: image's label source names it, as an accept in the app does).
PROPOSAL_TOOLS = ("accept", "accept-region", "proposal-brush")
#: A person's seconds per action (a brush stroke, a click, two polygon corners), for
#: the rounds the app keeps training while an image is labelled (``annotator.bench.
#: effort``): a low estimate, so the bench counts fewer such rounds than a person's
#: pace would give them.
SECONDS_PER_ACTION = 2.0


@dataclass(frozen=True)
class Cost:
    """What one action costs a person, in the three units of the report."""

    strokes: int = 0
    clicks: int = 0
    vertices: int = 0

    @property
    def weighted(self) -> float:
        """The combined action count of this cost (see :data:`WEIGHTS`)."""
        return (
            WEIGHTS["strokes"] * self.strokes
            + WEIGHTS["clicks"] * self.clicks
            + WEIGHTS["vertices"] * self.vertices
        )


STROKE = Cost(strokes=1)
CLICK = Cost(clicks=1)


@dataclass
class Scene:
    """What the person sees besides the labels: the image, the proposal, superpixels.

    Superpixels are computed on first use (the GUI computes them when the superpixel
    brush is first picked), once per image.
    """

    image: np.ndarray | None = None
    proposal: np.ndarray | None = None
    superpixel_size: int = 12
    _superpixels: Superpixels | None = field(default=None, repr=False)

    @property
    def superpixels(self) -> Superpixels:
        """The image's superpixels with their boxes (computed on first use, as the GUI)."""
        if self._superpixels is None:
            from annotator.core.smart import SuperpixelSettings, superpixel_index

            if self.image is None:
                raise ValueError("the superpixel brush needs the image")
            settings = SuperpixelSettings(self.superpixel_size)
            self._superpixels = superpixel_index(self.image, settings)
        return self._superpixels

    @property
    def segments(self) -> np.ndarray:
        """The superpixel id of every pixel."""
        return self.superpixels.labels


@dataclass(frozen=True)
class Action:
    """One gesture: the tool, the person's inputs, and its cost.

    ``points`` are pixel-centre ``(x, y)``; for a brush they are the mouse positions
    of one drag (painted move by move, as the GUI does); for fill tools the first point
    is the click. ``only_over`` is the protected-painting setting (write only over that
    label). ``box`` is GrabCut's rectangle; ``holes`` a polygon's inner rings.
    """

    tool: str
    value: int
    cost: Cost
    points: tuple[Point, ...] = ()
    radius: float = 0.0
    only_over: int | None = None
    tolerance: float | None = None
    holes: tuple[tuple[Point, ...], ...] = ()
    box: Box | None = None
    max_area: int = 0

    def shifted(self, dx: float, dy: float) -> Action:
        """The same gesture with its points moved (planning works on crops)."""
        from dataclasses import replace

        pts = tuple((x + dx, y + dy) for x, y in self.points)
        holes = tuple(tuple((x + dx, y + dy) for x, y in h) for h in self.holes)
        box = self.box
        if box is not None:
            box = Box(box.y0 + int(dy), box.x0 + int(dx), box.y1 + int(dy), box.x1 + int(dx))
        return replace(self, points=pts, holes=holes, box=box)


def apply(action: Action, label_map: LabelMap, scene: Scene) -> list[Patch]:
    """Perform ``action`` on ``label_map`` with the GUI's operation; return its patches.

    A brush drag gives one patch per mouse move; every other tool gives one patch.
    """
    tool, v, over = action.tool, action.value, action.only_over
    pts = action.points
    if tool in ("brush", "protected-brush", "proposal-brush", "superpixel"):
        moves = [pts[:1]] if len(pts) == 1 else [[p, q] for p, q in zip(pts[:-1], pts[1:])]
        out = []
        for move in moves:
            if tool == "proposal-brush":
                if scene.proposal is None:
                    raise ValueError("the proposal brush needs a proposal")
                out.append(
                    label_map.paint_stroke_from(move, action.radius, scene.proposal, only_over=over)
                )
            elif tool == "superpixel":
                out.append(
                    label_map.paint_segments(
                        scene.segments,
                        move,
                        action.radius,
                        v,
                        boxes=scene.superpixels.boxes,
                        only_over=over,
                    )
                )
            else:
                out.append(label_map.paint_stroke(move, action.radius, v, only_over=over))
        return out
    if tool in ("fill", "wand"):
        x, y = pts[0]
        image = scene.image if action.tolerance is not None else None
        return [
            label_map.flood_fill(x, y, v, image=image, tolerance=action.tolerance, only_over=over)
        ]
    if tool == "polygon":
        return [label_map.fill_polygon(pts, action.holes, v, only_over=over)]
    if tool == "grabcut":
        return [_grabcut(action, label_map, scene)]
    if tool == "accept":
        if scene.proposal is None:
            raise ValueError("accept needs a proposal")
        return [label_map.accept(scene.proposal.astype(label_map.dtype), only_over=over)]
    if tool == "accept-region":
        if scene.proposal is None:
            raise ValueError("accept region needs a proposal")
        x, y = pts[0]
        return [label_map.assign_region(scene.proposal, x, y, only_over=over)]
    if tool == "fill-holes":
        return [label_map.fill_holes(v, action.max_area)]
    if tool == "remove-specks":
        return [label_map.remove_specks(v, action.max_area)]
    raise ValueError(f"unknown tool {tool!r}")


def _grabcut(action: Action, label_map: LabelMap, scene: Scene) -> Patch:
    """GrabCut in the box, seeded by the current labels; the object gets the class."""
    from annotator.core.smart import grabcut

    if scene.image is None or action.box is None:
        raise ValueError("GrabCut needs the image and a box")
    region = np.zeros(label_map.shape, dtype=bool)
    region[action.box.slices] = True
    fg = grabcut(
        scene.image,
        region,
        labels=label_map.array,
        value=action.value,
        unlabelled=label_map.unlabelled,
    )
    return label_map.assign(action.value, fg, only_over=action.only_over)
