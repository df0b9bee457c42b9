"""The simulated annotator of the effort benchmark (rules in docs/simulated-annotator.md).

It behaves like a skilled user: look at the current label map, find the largest
connected region of one true class that is labelled wrong (or not at all), consider
each tool's best gesture on it (brush, protected brush, fill, magic wand, polygon,
superpixel brush, GrabCut box, accept / accept region / proposal brush, fill holes,
remove specks: :mod:`annotator.bench.planner`) and perform the one that fixes most
pixels per unit of effort, through the same
:class:`~annotator.core.labelmap.LabelMap` operation as the GUI's tool
(:mod:`annotator.bench.actions`). Repeat until the pixel accuracy reaches the target
or the action budget is spent.

``tools=("brush",)`` is the first benchmark's robot, unchanged: accept the proposal
when it helps, then brush strokes that never cross a class border
(:mod:`annotator.bench.brush`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from annotator.bench.actions import TOOLS, WEIGHTS, Scene, apply
from annotator.bench.brush import IGNORE, Stroke, _paint, pixel_accuracy, plan_stroke
from annotator.core.labelmap import LabelMap

__all__ = [
    "IGNORE",
    "TOOLS",
    "RobotResult",
    "Stroke",
    "annotate",
    "pixel_accuracy",
    "plan_stroke",
]

#: The first robot's only tool (``--tools brush``).
BRUSH_ONLY = ("brush",)

#: Told after every action: the actions so far (combined count) and the accuracy.
Progress = Callable[[float, float], None]


def _no_progress(actions: float, accuracy: float) -> None:
    return None


@dataclass(frozen=True)
class RobotResult:
    """What labelling one image cost the robot.

    ``strokes`` are drags (any brush), ``clicks`` are clicks (fills, accepts, GrabCut
    corners, fill holes / remove specks), ``vertices`` polygon corners; ``tools`` counts
    the actions of each tool.
    """

    strokes: int
    accepted: bool
    pixels_painted: int
    accuracy_before: float
    accuracy_after: float
    clicks: int = 0
    vertices: int = 0
    tools: dict[str, int] = field(default_factory=dict)
    reached: bool = False

    def then(self, later: RobotResult, step: str | None) -> RobotResult:
        """This part of an image followed by ``later`` (its other part), with one click
        of ``step`` (e.g. ``train-now``) between them (None: no click between)."""
        between = 0 if step is None else 1
        tools = Counter(self.tools) + Counter(later.tools) + Counter({step: 1} if step else {})
        return RobotResult(
            self.strokes + later.strokes,
            self.accepted or later.accepted,
            self.pixels_painted + later.pixels_painted,
            self.accuracy_before,
            later.accuracy_after,
            clicks=self.clicks + later.clicks + between,
            vertices=self.vertices + later.vertices,
            tools=dict(tools),
            reached=later.reached,
        )

    @property
    def actions(self) -> float:
        """The combined action count (weights in :data:`annotator.bench.actions.WEIGHTS`)."""
        return (
            WEIGHTS["strokes"] * self.strokes
            + WEIGHTS["clicks"] * self.clicks
            + WEIGHTS["vertices"] * self.vertices
        )


def annotate(
    label_map: LabelMap,
    truth: np.ndarray,
    *,
    proposal: np.ndarray | None = None,
    image: np.ndarray | None = None,
    target: float = 0.95,
    max_strokes: int = 300,
    max_radius: float = 25.0,
    tools: tuple[str, ...] = BRUSH_ONLY,
    progress: Progress | None = None,
) -> RobotResult:
    """Label one image until ``target`` pixel accuracy or ``max_strokes`` actions.

    ``tools`` are names from :data:`annotator.bench.actions.TOOLS`; the brush alone is
    the first robot (accept the proposal if it helps, then strokes; the budget counts
    strokes). With more tools the budget counts combined actions. ``progress`` is told
    the actions so far and the accuracy after every action (it throttles itself).
    """
    tell = progress or _no_progress
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tool {unknown[0]!r}; choose from {', '.join(TOOLS)}")
    if tuple(tools) == BRUSH_ONLY:
        return _annotate_brush(label_map, truth, proposal, target, max_strokes, max_radius, tell)
    return _annotate_tools(
        label_map,
        truth,
        Scene(image, proposal),
        tuple(tools),
        target,
        max_strokes,
        max_radius,
        tell,
    )


def _annotate_brush(
    label_map: LabelMap,
    truth: np.ndarray,
    proposal: np.ndarray | None,
    target: float,
    max_strokes: int,
    max_radius: float,
    tell: Progress = _no_progress,
) -> RobotResult:
    """The first robot: accept the proposal if given and useful (one action), then
    correct with strokes until ``target`` or ``max_strokes``."""
    accepted = False
    painted = 0
    before = pixel_accuracy(label_map.array, truth)
    if proposal is not None:
        where = label_map.array == label_map.unlabelled
        if pixel_accuracy(np.where(where, proposal, label_map.array), truth) > before:
            label_map.assign(proposal.astype(label_map.dtype), where)
            accepted = True
            before = pixel_accuracy(label_map.array, truth)
    strokes = 0
    accuracy = before
    while accuracy < target and strokes < max_strokes:
        stroke = plan_stroke(label_map.array, truth, max_radius=max_radius)
        if stroke is None:
            break
        painted += _paint(label_map, stroke)
        strokes += 1
        accuracy = pixel_accuracy(label_map.array, truth)
        tell(WEIGHTS["strokes"] * strokes + WEIGHTS["clicks"] * int(accepted), accuracy)
    counts = {"brush": strokes} | ({"accept": 1} if accepted else {})
    return RobotResult(
        strokes,
        accepted,
        painted,
        before,
        accuracy,
        clicks=int(accepted),
        tools=counts,
        reached=accuracy >= target,
    )


def _annotate_tools(
    label_map: LabelMap,
    truth: np.ndarray,
    scene: Scene,
    tools: tuple[str, ...],
    target: float,
    max_actions: int,
    max_radius: float,
    tell: Progress = _no_progress,
) -> RobotResult:
    """The skilled robot: the most efficient gesture of any tool, step after step."""
    from annotator.bench.planner import choose

    before = pixel_accuracy(label_map.array, truth)
    accuracy = before
    strokes = clicks = vertices = painted = 0
    used: Counter[str] = Counter()
    accepted = False  # the plain accept (into the unlabelled pixels) is offered once
    while accuracy < target and strokes + clicks + 0.5 * vertices < max_actions:
        choice = choose(label_map, truth, scene, tools, max_radius=max_radius, accepted=accepted)
        if choice is None:
            break
        action = choice.action
        accepted |= action.tool == "accept" and action.only_over is None
        for patch in apply(action, label_map, scene):  # the truth is not passed: it is not read
            if not patch.empty:
                painted += int(patch.changed().sum())
        strokes += action.cost.strokes
        clicks += action.cost.clicks
        vertices += action.cost.vertices
        used[action.tool] += 1
        accuracy = pixel_accuracy(label_map.array, truth)
        tell(
            WEIGHTS["strokes"] * strokes
            + WEIGHTS["clicks"] * clicks
            + WEIGHTS["vertices"] * vertices,
            accuracy,
        )
    return RobotResult(
        strokes,
        used["accept"] > 0,
        painted,
        before,
        accuracy,
        clicks=clicks,
        vertices=vertices,
        tools=dict(used),
        reached=accuracy >= target,
    )
