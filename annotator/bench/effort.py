"""The effort benchmark: how many brush strokes does labelling a dataset cost?

A simulated annotator (:mod:`annotator.bench.robot`, rules in
``docs/simulated-annotator.md``) labels the images of a dataset one after another, in
one of three modes:

* ``manual``: from nothing, no model.
* ``assisted``: starts from the current model's proposal (accepting it is one action);
  after every image a training round runs on everything labelled so far, as the app does.
* ``frozen``: like assisted, but the model is trained only after the first
  ``frozen_after`` images and never updated again.

Between images the strategy picks the next one (uncertainty needs a model; without one
it falls back to in-order). Everything goes through the same project store, engine and
label-map operations as the GUI.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.bench.actions import PROPOSAL_TOOLS, SECONDS_PER_ACTION, TOOLS
from annotator.bench.dataset import Dataset
from annotator.bench.robot import IGNORE, RobotResult, annotate, pixel_accuracy
from annotator.core.errors import AnnotatorError
from annotator.core.labelmap import LabelMap
from annotator.core.proposal import Proposal, proposal_source
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.ml.data import check_zoom
from annotator.ml.networks import DEFAULT_ARCH, architecture
from annotator.storage.atomic import atomic_write_json
from annotator.storage.images import read_image
from annotator.storage.project import Project

if TYPE_CHECKING:  # torch-dependent types, for annotations only
    from annotator.ml.predict import Predictor
    from annotator.services.training import TrainOutcome

log = logging.getLogger(__name__)

MODES = ("assisted", "manual", "frozen")
STRATEGIES = ("uncertainty", "random", "in-order")
#: Seconds a round takes beyond its training budget (reading the labels, validation,
#: the ONNX export, publishing): 1.0-4.4 s measured on the 2-core machine for 8 done
#: pictures of 512 x 512 (the first round of a process the most).
ROUND_OVERHEAD_S = 5.0
#: Seconds per image still to label for the app's ranking by a new version, which a
#: round kept going waits for (0.1-0.3 s per 512 x 512 proposal on the 2-core machine).
RANK_S_PER_IMAGE = 0.3
#: Seconds between the progress lines within one image (none on an image done sooner).
PROGRESS_EVERY_S = 30.0


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run's settings."""

    mode: str = "assisted"
    strategy: str = "uncertainty"
    train_steps: int | None = None
    train_seconds: float | None = 30.0
    target: float = 0.95
    max_strokes: int = 3000
    max_radius: float = 25.0
    tools: tuple[str, ...] = TOOLS
    last: str | None = None
    stride: int = 1
    limit: int | None = None
    skip: int = 0
    seed: int = 0
    frozen_after: int = 2
    #: assisted: on an image begun with no model yet (the first), press "Train now"
    #: after every this many actions and go on from the new proposal (0: never; not
    #: with ``--tools brush``).
    train_now_every: int = 40
    #: assisted and frozen: start from this model file (imported as version 1, as
    #: Model > Import model does) instead of from no model; ``None``: from scratch.
    init_model: str | None = None
    #: Where rounds train and proposals run, as the app chooses (``auto``: a CUDA GPU,
    #: then Apple MPS, then the CPU); ``cpu`` for runs that must repeat exactly.
    device: str = "auto"
    depth: int = 4
    width: int = 16
    crop: int = 128
    batch_size: int = 8
    arch: str = DEFAULT_ARCH
    #: Accepted proposal pixels this close to a label border do not train
    #: (``TrainConfig.accepted_border``; 0, the default: every label trains).
    accepted_border: int = 0
    #: Zoom of the training crops (``ml.train.with_zoom``; 0, the default: none).
    zoom: float = 0.0
    #: assisted: the seconds a person takes per action, for the rounds the app trains
    #: on the done images while an image is labelled ("Keep training while I label",
    #: on by default): ``floor(actions x this / a round's length)`` of them run before
    #: the image is marked done (0: the app's keep-training off).
    seconds_per_action: float = SECONDS_PER_ACTION

    def __post_init__(self) -> None:
        architecture(self.arch)  # one line listing the choices when unknown
        if self.mode not in MODES:
            raise AnnotatorError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.strategy not in STRATEGIES:
            raise AnnotatorError(
                f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}"
            )
        if not 0 < self.target <= 1:
            raise AnnotatorError("--target must be in (0, 1]")
        unknown = [t for t in self.tools if t not in TOOLS]
        if unknown or not self.tools:
            raise AnnotatorError(
                f"--tools: unknown tool {unknown[0]!r}; choose from {', '.join(TOOLS)}"
                if unknown
                else "--tools: give at least one tool"
            )
        if self.stride < 1:
            raise AnnotatorError("--stride must be at least 1")
        if not (math.isfinite(self.seconds_per_action) and self.seconds_per_action >= 0):
            raise AnnotatorError("--seconds-per-action must be 0 or more")
        if self.skip < 0:
            raise AnnotatorError("--skip must be 0 or more")
        from annotator.ml.device import DEVICE_CHOICES

        if self.device.split(":")[0] not in DEVICE_CHOICES:
            raise AnnotatorError(
                f"unknown device {self.device!r}; choose one of {', '.join(DEVICE_CHOICES)}"
            )
        if self.train_now_every < 0:
            raise AnnotatorError("--train-now-every must be 0 or more")
        if self.accepted_border < 0:
            raise AnnotatorError("--accepted-border must be 0 or more")
        check_zoom(self.zoom)
        # Refused here, before any labelling, instead of giving runs of 0 actions, a
        # robot that ignores its brush size, or a budget read as "the default".
        if self.max_strokes < 1:
            raise AnnotatorError("--max-strokes must be at least 1")
        if self.train_steps is not None and self.train_steps < 1:
            raise AnnotatorError("--train-steps must be at least 1")
        if self.train_seconds is not None and not 0 < self.train_seconds < math.inf:
            raise AnnotatorError("--train-seconds must be a positive number")
        if not 0 <= self.max_radius < math.inf:
            raise AnnotatorError("--max-radius must be a number, 0 or more")
        if self.frozen_after < 0 or (self.frozen_after == 0 and self.init_model is None):
            raise AnnotatorError(
                "--frozen-after must be at least 1 (0 only with --init-model: that model, "
                "never updated)"
            )


@dataclass
class ImageRecordOut:
    """One labelled image: its costs (``actions`` is the combined count, see
    docs/simulated-annotator.md) and whether it reached the target."""

    name: str
    actions: float
    strokes: int
    clicks: int
    vertices: int
    tools: dict[str, int]
    reached_target: bool
    accepted: bool
    pixels_painted: int
    accuracy_before: float
    accuracy_after: float
    train_seconds: float
    model_version: int | None
    robot_seconds: float
    #: Pixel accuracy of the model's proposal on its own (measured, never shown to the
    #: robot's tools); ``None`` without a proposal.
    proposal_accuracy: float | None = None
    #: Training rounds run while the image was being labelled ("Train now" on the first
    #: image, before there was a model); ``train_seconds`` includes them.
    rounds_during: int = 0
    #: Rounds the app trained on the done images meanwhile (keep training while the
    #: user labels: ``BenchConfig.seconds_per_action``); ``train_seconds`` includes them.
    rounds_kept: int = 0
    #: Per class, the IoU of the image's final labels with its truth (unlabelled pixels
    #: count as wrong; ``None``: a class in neither). The target is pixel accuracy over
    #: all classes, so a small class can end mostly unlabelled: this says so.
    final_iou: list[float | None] | None = None


@dataclass
class RunResult:
    mode: str
    strategy: str
    config: dict[str, Any]
    images: list[ImageRecordOut] = field(default_factory=list)
    train_rounds_s: list[float] = field(default_factory=list)
    final_miou: float | None = None
    final_iou: list[float | None] | None = None
    eval_images: int = 0
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: The images the run set out to label (``None``: unknown, a file of an older version).
    planned: int | None = None
    #: Whether the run finished (``False`` while it runs and when it was stopped).
    complete: bool | None = None
    #: The ``annotator bench`` invocation that made the run, and when it started.
    invocation: str = ""
    started: str = ""
    #: The dataset folder and its class names.
    dataset: str = ""
    class_names: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """Whether the run is known to have stopped before its last planned image."""
        return self.complete is False

    def final_labels_iou(self) -> list[float | None]:
        """Per class, the mean over the images of their final labels' IoU (images where
        the class is in neither the truth nor the labels left out; ``None``: none)."""
        per_image = [r.final_iou for r in self.images if r.final_iou is not None]
        n = max((len(v) for v in per_image), default=0)
        out: list[float | None] = []
        for c in range(n):
            values = [x for v in per_image if c < len(v) and (x := v[c]) is not None]
            out.append(round(float(np.mean(values)), 4) if values else None)
        return out

    @property
    def total_actions(self) -> float:
        return float(sum(r.actions for r in self.images))

    @property
    def total_strokes(self) -> int:
        return sum(r.strokes for r in self.images)

    @property
    def total_pixels(self) -> int:
        return sum(r.pixels_painted for r in self.images)

    def second_half(self) -> list[ImageRecordOut]:
        """The images labelled in the second half of the run (the larger half when odd)."""
        return self.images[len(self.images) // 2 :]

    def actions_last_half(self) -> float:
        return mean_actions(self.second_half())

    def proposal_accuracy_last_half(self) -> tuple[float, float, float] | None:
        """Mean, lowest and highest accuracy of the model's proposals over the second
        half's images that had one (``None``: none had). What the assisted cost follows:
        a proposal at the target costs about one accept."""
        values = [
            r.proposal_accuracy for r in self.second_half() if r.proposal_accuracy is not None
        ]
        if not values:
            return None
        return float(np.mean(values)), float(min(values)), float(max(values))

    def capped(self, images: list[ImageRecordOut] | None = None) -> list[str]:
        """Names of the images that stopped short of the target: at the budget, or with
        no gesture left that gains (:meth:`stuck`). Either way their counts are lower
        bounds of what reaching the target costs."""
        return [r.name for r in (self.images if images is None else images) if not r.reached_target]

    def stuck(self) -> list[str]:
        """The images below the target that stopped before the budget: no gesture of the
        tools allowed gained anything."""
        budget = self.config.get("max_strokes")
        if not isinstance(budget, int | float):
            return []
        return [r.name for r in self.images if not r.reached_target and r.actions < budget]

    def to_dict(self) -> dict[str, Any]:
        tools: dict[str, int] = {}
        for r in self.images:
            for k, v in r.tools.items():
                tools[k] = tools.get(k, 0) + v
        return {
            "mode": self.mode,
            "strategy": self.strategy,
            "total_actions": round(self.total_actions, 1),
            "total_strokes": self.total_strokes,
            "total_clicks": sum(r.clicks for r in self.images),
            "total_vertices": sum(r.vertices for r in self.images),
            "tool_counts": tools,
            "total_pixels_painted": self.total_pixels,
            "actions_per_image": round(self.total_actions / max(1, len(self.images)), 2),
            "actions_per_image_last_half": round(self.actions_last_half(), 2),
            "proposal_accuracy_last_half": _rounded(self.proposal_accuracy_last_half()),
            "images_at_target": len(self.images) - len(self.capped()),
            "images_capped": self.capped(),
            "images_stuck": self.stuck(),
            "images": [asdict(r) for r in self.images],
            "train_rounds_s": [round(s, 2) for s in self.train_rounds_s],
            "final_miou_unlabelled": self.final_miou,
            "final_iou_unlabelled": self.final_iou,
            "eval_images": self.eval_images,
            "wall_seconds": round(self.wall_seconds, 1),
            "complete": self.complete,
            "images_planned": self.planned,
            "final_labels_iou_per_class": self.final_labels_iou(),
            "class_names": self.class_names,
            "invocation": self.invocation,
            "started": self.started,
            "dataset": self.dataset,
            "config": self.config,
            "notes": self.notes,
        }


def _rounded(values: tuple[float, ...] | None) -> list[float] | None:
    return None if values is None else [round(v, 5) for v in values]


def mean_actions(images: list[ImageRecordOut]) -> float:
    """Actions per image over ``images`` (0 for none)."""
    return float(np.mean([r.actions for r in images])) if images else 0.0


def run_from_dict(d: dict[str, Any]) -> RunResult:
    """A run read back from its JSON (``bench-MODE-STRATEGY.json`` or an entry of
    ``runs``), to combine runs made by separate processes. Every value is checked, so a
    damaged or edited file is refused in one line instead of breaking the summary."""
    try:
        if not isinstance(d, dict):
            raise TypeError("expected a JSON object")
        if d["mode"] not in MODES or d["strategy"] not in STRATEGIES:
            raise ValueError(f"unknown mode or strategy {d['mode']!r}, {d['strategy']!r}")
        if not isinstance(d["config"], dict):
            raise TypeError("'config' is not an object")
        if not isinstance(d["images"], list):
            raise TypeError("'images' is not a list")
        images = [_image_record(k, rec) for k, rec in enumerate(d["images"])]
        rounds = d.get("train_rounds_s", [])
        if not isinstance(rounds, list) or not all(_is_number(x) for x in rounds):
            raise TypeError("'train_rounds_s' is not a list of numbers")
        notes = d.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise TypeError("'notes' is not a list of strings")
        miou, iou = d.get("final_miou_unlabelled"), d.get("final_iou_unlabelled")
        if not (miou is None or _is_number(miou)) or not (
            iou is None or (isinstance(iou, list) and all(v is None or _is_number(v) for v in iou))
        ):
            raise TypeError("'final_miou_unlabelled' or 'final_iou_unlabelled' is not a number")
        eval_images, wall = d.get("eval_images", 0), d.get("wall_seconds", 0.0)
        if not _is_int(eval_images) or not _is_number(wall):
            raise TypeError("'eval_images' or 'wall_seconds' is not a number")
        complete, planned = d.get("complete"), d.get("images_planned")
        if not (complete is None or isinstance(complete, bool)) or not (
            planned is None or _is_int(planned)
        ):
            raise TypeError("'complete' or 'images_planned' is not a flag and a count")
        texts = {k: d.get(k, "") for k in ("invocation", "started", "dataset")}
        class_names = d.get("class_names", [])
        if not all(isinstance(v, str) for v in texts.values()) or not (
            isinstance(class_names, list) and all(isinstance(n, str) for n in class_names)
        ):
            raise TypeError("'invocation', 'started', 'dataset' or 'class_names' is not text")
        return RunResult(
            mode=d["mode"],
            strategy=d["strategy"],
            config=d["config"],
            images=images,
            train_rounds_s=[float(x) for x in rounds],
            final_miou=miou,
            final_iou=iou,
            eval_images=int(eval_images),
            wall_seconds=float(wall),
            notes=list(notes),
            planned=planned,
            complete=complete,
            class_names=list(class_names),
            **texts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AnnotatorError(f"not a run of this version of annotator bench ({exc})") from exc


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# The value checks of ImageRecordOut's fields, by their annotation.
_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": _is_int,
    "float": _is_number,
    "bool": lambda v: isinstance(v, bool),
    "int | None": lambda v: v is None or _is_int(v),
    "float | None": lambda v: v is None or _is_number(v),
    "list[float | None] | None": lambda v: (
        v is None or (isinstance(v, list) and all(x is None or _is_number(x) for x in v))
    ),
    "dict[str, int]": lambda v: (
        isinstance(v, dict) and all(isinstance(k, str) and _is_int(n) for k, n in v.items())
    ),
}


def _image_record(k: int, rec: Any) -> ImageRecordOut:
    if not isinstance(rec, dict):
        raise TypeError(f"images[{k}] is not an object")
    out = ImageRecordOut(**rec)  # a TypeError names missing or unknown keys
    for f in fields(ImageRecordOut):
        check = _FIELD_CHECKS.get(str(f.type))
        if check is not None and not check(getattr(out, f.name)):
            raise TypeError(f"images[{k}].{f.name} is {getattr(out, f.name)!r}, not a {f.type}")
    return out


#: What a manual image's cost depends on: parts made with other values are not one run.
_PART_SETTINGS = ("target", "max_strokes", "max_radius", "tools", "last", "stride", "seed")


def join_parts(runs: list[RunResult]) -> list[RunResult]:
    """Join the runs that share a mode and strategy into one, in the order given.

    Only manual runs can be joined: their images do not depend on each other, so a long
    run split between processes with ``--skip`` is the same run. An assisted or frozen
    run's costs depend on every image labelled before, so parts of one would not add up
    to the whole, and asking for that is an error rather than a silently wrong report.
    """
    joined: dict[tuple[str, str], RunResult] = {}
    for run in runs:
        key = (run.mode, run.strategy)
        first = joined.get(key)
        if first is None:
            joined[key] = run
            continue
        if run.mode != "manual":
            raise AnnotatorError(
                f"two {run.mode} runs: only manual runs can be joined (an {run.mode} run's "
                "costs depend on the images labelled before, so its parts do not add up)"
            )
        differ = [k for k in _PART_SETTINGS if first.config.get(k) != run.config.get(k)]
        if differ:
            k = differ[0]
            raise AnnotatorError(
                f"the manual parts were made with different settings ({k} "
                f"{first.config.get(k)!r} and {run.config.get(k)!r}): their costs do not add up"
            )
        seen = {r.name for r in first.images}
        again = [r.name for r in run.images if r.name in seen]
        if again:
            raise AnnotatorError(f"the manual parts overlap: {again[0]} is in two of them")
        first.images.extend(run.images)
        first.wall_seconds += run.wall_seconds
        if first.planned is not None and run.planned is not None:
            first.planned += run.planned
        else:
            first.planned = None
        if first.complete is not None and run.complete is not None:
            first.complete = first.complete and run.complete
        else:
            first.complete = None
        first.notes.extend(n for n in run.notes if n not in first.notes)
        part = "joined from parts made with --skip"
        if part not in first.notes:
            first.notes.append(part)
    return list(joined.values())


def _iou(pred: np.ndarray, truth: np.ndarray, n: int, acc: np.ndarray) -> None:
    valid = truth != IGNORE
    idx = truth[valid].astype(np.int64) * n + pred[valid].astype(np.int64)
    acc += np.bincount(idx, minlength=n * n).reshape(n, n)


def _miou(confusion: np.ndarray) -> tuple[float | None, list[float | None]]:
    inter = np.diag(confusion).astype(float)
    union = confusion.sum(0) + confusion.sum(1) - inter
    ious = [float(i / u) if u > 0 else None for i, u in zip(inter, union)]
    present = [v for v in ious if v is not None]
    return (float(np.mean(present)) if present else None), ious


Report = Callable[[str], None]


def _is_last(name: str, pattern: str | None) -> bool:
    return pattern is not None and fnmatch.fnmatchcase(name, pattern)


def select_images(images: list[Path], config: BenchConfig) -> list[Path]:
    """The images a run labels, in natural order: every ``stride``-th, the first
    ``limit`` of those, then those matching ``last`` (a file-name glob) moved to the end;
    the first ``skip`` of that sequence left out (to split a manual run, whose images
    do not depend on each other, between processes)."""
    chosen = images[:: config.stride]
    if config.limit:
        chosen = chosen[: config.limit]
    first = [p for p in chosen if not _is_last(p.name, config.last)]
    return (first + [p for p in chosen if _is_last(p.name, config.last)])[config.skip :]


def run_benchmark(
    dataset: Dataset,
    config: BenchConfig,
    workdir: Path,
    report: Report | None = None,
    checkpoint: Callable[[RunResult], None] | None = None,
    *,
    invocation: str | None = None,
    progress_every: float = PROGRESS_EVERY_S,
) -> RunResult:
    """Label the dataset with the simulated annotator in one mode; return the costs.

    ``checkpoint`` gets the partial result before the first image and after every
    image (to save it; its ``complete`` is ``False`` until the run ends). ``report``
    gets a line per image, and within an image a progress line at most every
    ``progress_every`` seconds (a large image takes minutes). ``invocation``: the id of the ``annotator bench``
    command the run is part of (its runs share it; a new one by default).
    """
    import uuid
    from datetime import datetime

    from annotator.ml.device import choose_device

    say = report or (lambda s: None)
    started = time.monotonic()
    images = list(dataset.images)
    chosen = select_images(images, config)
    if not chosen:  # only --skip can empty it: --limit and --stride keep the first image
        raise AnnotatorError(
            f"--skip {config.skip} leaves no image to label: the run's sequence has "
            f"{len(select_images(images, replace(config, skip=0)))} image(s)"
        )
    eval_paths = [p for p in images if p not in chosen]
    device = "cpu" if config.mode == "manual" else str(choose_device(config.device))
    project = Project.create(workdir, LabelSchema.from_names(list(dataset.class_names)))
    result = RunResult(config.mode, config.strategy, asdict(config))
    result.planned, result.complete = len(chosen), False
    result.invocation = invocation or uuid.uuid4().hex[:12]
    result.started = datetime.now().astimezone().isoformat(timespec="seconds")
    result.dataset, result.class_names = dataset.root, list(dataset.class_names)
    if dataset.note:
        result.notes.append(dataset.note)
    result.notes.extend(dataset.warnings)
    if config.mode != "manual":
        result.notes.append(f"rounds trained and proposals ran on {device}")
    try:
        run = _BenchRun(dataset, config, project, device, result, chosen)
        run.say, run.progress_every = say, progress_every
        if checkpoint is not None:  # a run stopped in its first image says so too
            checkpoint(result)
        run.rank_remaining()
        for k in range(len(chosen)):
            # 1. What to label next (images matching --last only when no other is left).
            rec = run.pick_next()
            run.where = f"[{config.mode}/{config.strategy}] {k + 1}/{len(chosen)} {rec.name}"
            # 2. The robot labels it, from the proposal when the mode uses one.
            work = run.label_image(k, rec)
            train_s = 0.0
            if run.trains_after(k):
                # 3. A training round, as the app does after "mark done".
                train_s = run.train_after(k)
                # 4. The proposals of the images still to label, with the new model.
                run.rank_remaining()
            out = run.add_record(work, train_s)
            if checkpoint is not None:
                result.wall_seconds = time.monotonic() - started
                checkpoint(result)
            proposal = (
                "" if out.proposal_accuracy is None else f" (proposal {out.proposal_accuracy:.3f})"
            )
            say(
                f"[{config.mode}/{config.strategy}] {k + 1}/{len(chosen)} {rec.name}: "
                f"{out.actions:g} actions, accuracy {out.accuracy_before:.3f} -> "
                f"{out.accuracy_after:.3f}{proposal}, train {train_s:.1f}s"
            )
        # 5. Final proposal quality on the dataset images that were not labelled.
        run.evaluate(eval_paths)
    finally:
        project.close()
    result.wall_seconds = time.monotonic() - started
    result.complete = True
    return result


@dataclass
class _ImageWork:
    """One image as the robot labels it (step 2), and what its record reports."""

    rec: ImageRecord
    image: np.ndarray
    truth: np.ndarray
    label_map: LabelMap
    robot: RobotResult
    #: The proposal the robot works from (``None``: by hand, or no model yet).
    shown: Proposal | None
    #: The newest proposal the robot copied from (its saved labels name it).
    accepted_from: Proposal | None
    #: The proposal_accuracy reported is the first proposal's.
    first_proposal: np.ndarray | None
    #: Seconds of the rounds trained while labelling ("Train now", and those kept going
    #: on the done images), and their numbers.
    mid_s: float = 0.0
    rounds_during: int = 0
    rounds_kept: int = 0
    #: Seconds the robot itself took (the rounds during the image left out).
    robot_s: float = 0.0


def _mask(proposal: Proposal | None) -> np.ndarray | None:
    """A proposal's label mask, or ``None`` for none (what the robot is given)."""
    return None if proposal is None else proposal.mask


class _BenchRun:
    """The state of one run of :func:`run_benchmark` between its steps: the project, the
    current model's predictor, the proposals of the images still to label and the
    result so far. Goes through the same project store, engine and services as the app."""

    def __init__(
        self,
        dataset: Dataset,
        config: BenchConfig,
        project: Project,
        device: str,
        result: RunResult,
        chosen: list[Path],
    ) -> None:
        from annotator.ml.networks import NetworkConfig
        from annotator.ml.strategies import RandomOrder
        from annotator.services import versions
        from annotator.services.proposals import load_predictor

        self.dataset = dataset
        self.config = config
        self.project = project
        self.device = device
        self.result = result
        #: The picture file of each dataset image (a slice's: its file in the project).
        self.pictures = {p: p for p in dataset.images if p not in dataset.slices}
        self.remaining = self._add_images(chosen)
        #: The dataset stem of each image's truth, by record id.
        self.stems = {r.id: p.stem for r, p in zip(self.remaining, chosen, strict=True)}
        self.schema = project.schema
        in_ch = 1 if all(r.channels == 1 for r in self.remaining) else 3
        self.network = NetworkConfig(
            in_ch, len(self.schema), config.depth, config.width, arch=config.arch
        )
        self.rng_order = RandomOrder(seed=config.seed)
        #: Progress within an image: where to say it, how often, the image's name.
        self.say: Report = lambda s: None
        self.progress_every = PROGRESS_EVERY_S
        self.where = ""
        self._said_at = 0.0
        self.predictor: Predictor | None = None
        self.proposals: dict[int, Proposal] = {}
        self.fell_back = False
        if config.init_model is not None and config.mode != "manual":
            imported = versions.import_model(project, Path(config.init_model))
            self.predictor = load_predictor(project, device=device)
            result.notes.append(f"started from the model {imported.card.imported_from}")

    def _add_images(self, chosen: list[Path]) -> list[ImageRecord]:
        """Add the images to label to the run's project, as the app adds them: files
        as they are, a stack's slices as the files its split writes into the project
        (``storage/stacks.py``: ``slices/vol/vol_z000.tif``...; every slice of a
        stack is written, those not labelled only to evaluate on). Their records, in
        the order of ``chosen``."""
        from annotator.storage.cases import join_case
        from annotator.storage.stacks import split_stack

        dataset, project = self.dataset, self.project
        for p in dataset.images:  # an nnU-Net case of a file per channel: one picture
            if p in dataset.channels and p not in dataset.slices:
                self.pictures[p] = join_case(project.root, p, dataset.channels[p])[0]
        # (a case's files added together: the add finds their picture joined above)
        project.add_images(
            [
                f
                for p in chosen
                if p not in dataset.slices
                for f in (p, *dataset.channels.get(p, ()))
            ]
        )
        by_stem = {r.stem: r for r in project.images()}
        split: dict[Path, list[Path]] = {}
        for p, where in dataset.slices.items():
            if where.stack not in split:
                channels = dataset.channels.get(where.stack, ())
                split[where.stack] = split_stack(
                    project.root, where.stack, where.unnamed_slices, channels=channels
                )[1]
            self.pictures[p] = split[where.stack][where.index]
        records = []
        for p in chosen:
            if p in dataset.slices:
                file = self.pictures[p]
                records.append(project.add_image_array_file(file, name=file.name))
            else:
                records.append(by_stem[p.stem])
        return records

    def _load_predictor(self) -> Predictor:
        """The predictor of the newest model, now the current one."""
        from annotator.services.proposals import load_predictor

        self.predictor = load_predictor(self.project, device=self.device)
        return self.predictor

    def rank_remaining(self) -> None:
        """Proposals of the images still to label (for the strategy and step 2), by the
        current model; none without one, or when the strategy does not need them."""
        self.proposals = {}
        if self.predictor is not None and self.remaining and self.config.strategy == "uncertainty":
            for r in self.remaining:
                self.proposals[r.id] = self.predictor.predict(self.project.load_image(r))

    def pick_next(self) -> ImageRecord:
        """Step 1: the next image by the strategy, images matching ``--last`` only when no
        other is left; taken off the remaining ones."""
        config, remaining = self.config, self.remaining
        pool = [r for r in remaining if not _is_last(r.name, config.last)] or remaining
        if config.strategy == "in-order" or (
            config.strategy == "uncertainty" and not self.proposals
        ):
            if config.strategy == "uncertainty" and not self.fell_back:
                self.result.notes.append("uncertainty ranks in order until there is a model")
                self.fell_back = True
            rec = pool[0]
        elif config.strategy == "random":
            rec = self.rng_order.rank(pool, {})[0]
        else:
            proposals = self.proposals
            rec = max(pool, key=lambda r: (proposals[r.id].score, -r.id))
        remaining.remove(rec)
        return rec

    def label_image(self, k: int, rec: ImageRecord) -> _ImageWork:
        """Step 2: the robot labels the ``k``-th image, from the proposal when the mode
        uses one (and on an image begun without a model, pressing "Train now" as it
        goes, see :meth:`_train_now_rounds`); saved as done."""
        config = self.config
        truth = self.dataset.truths[self.stems[rec.id]]
        image = self.project.load_image(rec)
        shown: Proposal | None = None  # the proposal the robot works from
        if config.mode != "manual" and self.predictor is not None:
            shown = self.proposals.get(rec.id) or self.predictor.predict(image)
        t0 = self._said_at = time.monotonic()
        label_map = LabelMap.blank(self.schema, rec.height, rec.width)
        early = (  # Train now mid-image only pays with a tool that takes the proposal
            config.mode == "assisted"
            and self.predictor is None
            and config.train_now_every > 0
            and any(t in PROPOSAL_TOOLS for t in config.tools)
        )
        budget = config.max_strokes
        robot = self._annotate(
            label_map,
            truth,
            image,
            proposal=_mask(shown),
            max_strokes=min(config.train_now_every, budget) if early else budget,
        )
        work = _ImageWork(
            rec,
            image,
            truth,
            label_map,
            robot,
            shown=shown,
            accepted_from=shown if _copied_proposal(robot) else None,
            first_proposal=_mask(shown),
        )
        if early:
            self._train_now_rounds(k, work)
        work.robot_s = time.monotonic() - t0 - work.mid_s
        self._keep_training_rounds(k, work)
        self._save(work, ImageStatus.DONE)
        return work

    def _keep_training_rounds(self, k: int, work: _ImageWork) -> None:
        """The rounds the app trains on the done images while the ``k``-th image is
        labelled (keep training while the user labels, on by default): as many whole
        rounds as fit in the time a person takes for the image's actions
        (``seconds_per_action``), each as long as a round's budget plus its overhead and
        the ranking of the images still to label that follows it in the app.
        They run before the image is saved done, so they train on the images before
        it; they do not change the proposal the robot worked from (in the app a round
        that publishes mid-image gives the current image a new proposal too: not
        counted, so the bench errs on the side of fewer savings)."""
        config = self.config
        if config.mode != "assisted" or self.predictor is None or config.seconds_per_action <= 0:
            return
        from annotator.services import training

        if not training.has_labelled(self.project, done_only=True):
            return  # the first image: nothing is done yet
        # Each round: its budget, its overhead, and the ranking of the images still to
        # label by the version it publishes (the app's next round waits for it).
        round_s = (
            (config.train_seconds or 30.0)
            + ROUND_OVERHEAD_S
            + RANK_S_PER_IMAGE * len(self.remaining)
        )
        rounds = math.floor(work.robot.actions * config.seconds_per_action / round_s)
        for _ in range(rounds):
            t1 = time.monotonic()
            outcome = self._train_round(k, done_only=True)
            kept_s = time.monotonic() - t1
            work.mid_s += kept_s
            self.result.train_rounds_s.append(kept_s)
            work.rounds_kept += 1
            if outcome is not None and outcome.model is not None:
                self._load_predictor()

    def _train_now_rounds(self, k: int, work: _ImageWork) -> None:
        """The rounds trained while labelling an image begun without a model, after every
        ``train_now_every`` actions until the robot reaches the target, runs out of budget
        or gains nothing more."""
        config = self.config
        budget = config.max_strokes
        while not work.robot.reached:
            if work.robot.actions + 1 >= budget:
                # No room for Train now and a gesture after it: what is left of the
                # budget goes on gestures (the image was reported stuck one short).
                left = math.ceil(budget - work.robot.actions)  # a last gesture may end past it
                if left > 0:
                    part = self._annotate(
                        work.label_map,
                        work.truth,
                        work.image,
                        proposal=_mask(work.shown),
                        max_strokes=left,
                        before=work.robot.actions,
                    )
                    work.robot = work.robot.then(part, None)
                break
            if not (work.label_map.array != work.label_map.unlabelled).any():
                break  # nothing labelled: Train now would train nothing (and costs a click)
            # "Train now" on the labels so far (unlabelled pixels do not train), then
            # go on from the new model's proposal of this very image.
            self._save(work, ImageStatus.IN_PROGRESS)
            t1 = time.monotonic()
            outcome = self._train_round(k)
            if outcome is not None and outcome.model is not None:
                work.shown = self._load_predictor().predict(work.image)
                if work.rounds_during == 0:
                    work.first_proposal = work.shown.mask
            round_s = time.monotonic() - t1
            work.mid_s += round_s
            self.result.train_rounds_s.append(round_s)
            work.rounds_during += 1
            left = int(budget - work.robot.actions - 1)
            part = self._annotate(
                work.label_map,
                work.truth,
                work.image,
                proposal=_mask(work.shown),
                max_strokes=min(config.train_now_every, left),
                before=work.robot.actions + 1,
            )
            if _copied_proposal(part):
                work.accepted_from = work.shown
            work.robot = work.robot.then(part, "train-now")
            if part.actions == 0:
                break  # no gesture gains anything: the robot stops, as it does anyway

    def _annotate(
        self,
        label_map: LabelMap,
        truth: np.ndarray,
        image: np.ndarray,
        *,
        proposal: np.ndarray | None,
        max_strokes: int,
        before: float = 0.0,
    ) -> RobotResult:
        """The robot's work on an image (or a part of it, after ``before`` actions),
        with its progress said at most every ``progress_every`` seconds."""
        config = self.config

        def progress(actions: float, accuracy: float) -> None:
            now = time.monotonic()
            if now - self._said_at >= self.progress_every:
                self._said_at = now
                self.say(
                    f"{self.where}: {before + actions:g} actions so far, accuracy "
                    f"{accuracy:.3f} (target {config.target}), still labelling"
                )

        return annotate(
            label_map,
            truth,
            image=None if config.tools == ("brush",) else image,
            tools=config.tools,
            target=config.target,
            max_radius=config.max_radius,
            proposal=proposal,
            max_strokes=max_strokes,
            progress=progress,
        )

    def _save(self, work: _ImageWork, status: ImageStatus) -> None:
        # As the app saves: labels the robot copied from a proposal name the newest
        # such proposal, which is kept beside them (for --accepted-border).
        accepted_from = work.accepted_from
        if accepted_from is not None:
            source, accepted = proposal_source(accepted_from.model_version), accepted_from.mask
        else:
            source, accepted = "robot", None
        self.project.save_mask(
            work.rec.id, work.label_map.array, source=source, status=status, accepted=accepted
        )

    def trains_after(self, k: int) -> bool:
        """Whether a round runs after the ``k``-th image: after every one when assisted,
        after the first ``frozen_after`` when frozen, never by hand."""
        config = self.config
        return config.mode != "manual" and (config.mode == "assisted" or k < config.frozen_after)

    def train_after(self, k: int) -> float:
        """Step 3: a training round after the ``k``-th image; its seconds."""
        t0 = time.monotonic()
        outcome = self._train_round(k)
        if outcome is None:
            return 0.0
        train_s = time.monotonic() - t0
        self.result.train_rounds_s.append(train_s)
        if outcome.model is not None:
            self._load_predictor()
        return train_s

    def _train_round(self, k: int, done_only: bool = False) -> TrainOutcome | None:
        """One round on everything labelled so far (``done_only``: on the images marked
        done), seeded by the image's index; None while nothing is labelled (an image
        whose truth is all void), as the app's Train now would have nothing to train on."""
        from annotator.ml.train import TrainConfig, with_zoom
        from annotator.services import training

        if not training.has_labelled(self.project, done_only):
            return None
        config = self.config
        return training.train_project(
            self.project,
            steps=config.train_steps,
            seconds=None if config.train_steps else config.train_seconds,
            device=self.device,
            network=self.network,
            config=with_zoom(
                TrainConfig(
                    crop=config.crop,
                    batch_size=config.batch_size,
                    seed=config.seed + k,
                    accepted_border=config.accepted_border,
                ),
                config.zoom,
            ),
            done_only=done_only,
        )

    def add_record(self, work: _ImageWork, train_s: float) -> ImageRecordOut:
        """The image's record (with the model version after the round that followed it),
        added to the result."""
        active = self.project.active_model()
        robot = work.robot
        out = ImageRecordOut(
            name=work.rec.name,
            actions=robot.actions,
            strokes=robot.strokes,
            clicks=robot.clicks,
            vertices=robot.vertices,
            tools=robot.tools,
            reached_target=robot.reached,
            accepted=robot.accepted,
            pixels_painted=robot.pixels_painted,
            accuracy_before=round(robot.accuracy_before, 5),
            accuracy_after=round(robot.accuracy_after, 5),
            train_seconds=round(train_s + work.mid_s, 2),
            model_version=active.version if active else None,
            robot_seconds=round(work.robot_s, 2),
            proposal_accuracy=(
                None  # no proposal, or no pixel to judge it by (a void-only truth)
                if work.first_proposal is None or not (work.truth != IGNORE).any()
                else round(pixel_accuracy(work.first_proposal, work.truth), 5)
            ),
            rounds_during=work.rounds_during,
            rounds_kept=work.rounds_kept,
            final_iou=class_iou(work.label_map.array, work.truth, len(self.schema)),
        )
        self.result.images.append(out)
        return out

    def evaluate(self, eval_paths: list[Path]) -> None:
        """Step 5: the final model's proposal quality (mIoU) on ``eval_paths``, the
        dataset images that were not labelled; nothing without a model or such images."""
        if self.predictor is None or not eval_paths:
            return
        n = len(self.schema)
        confusion = np.zeros((n, n), np.int64)
        for p in eval_paths:
            pred = self.predictor.predict(read_image(self.pictures[p])).mask
            _iou(pred, self.dataset.truths[p.stem], n, confusion)
        self.result.final_miou, self.result.final_iou = _miou(confusion)
        self.result.eval_images = len(eval_paths)


def class_iou(labels: np.ndarray, truth: np.ndarray, n: int) -> list[float | None]:
    """Per class ``0..n-1``, the IoU of ``labels`` with ``truth`` over the pixels the
    truth does not void (an unlabelled pixel is in no class: it counts against the
    class of its truth); ``None`` for a class in neither."""
    valid = truth != IGNORE
    t = truth[valid].astype(np.int64)
    lab = labels[valid].astype(np.int64)
    inter = np.bincount(t[t == lab], minlength=n)[:n]
    in_truth = np.bincount(t, minlength=n)[:n]
    in_labels = np.bincount(lab[lab < n], minlength=n)[:n]
    union = in_truth + in_labels - inter
    return [round(float(i / u), 4) if u > 0 else None for i, u in zip(inter, union)]


def _copied_proposal(robot: RobotResult) -> bool:
    """Whether the robot used a tool that copies from the proposal."""
    return any(robot.tools.get(t) for t in PROPOSAL_TOOLS)


def ratio_bound(numerator_capped: bool, denominator_capped: bool) -> str:
    """How far a ratio of action counts can be trusted when some images hit the budget.

    A capped image's count is a lower bound of its true cost: capped images on the
    numerator side make the ratio a lower bound ("at least"), on the denominator side
    an upper bound ("at most"), on both sides nothing ("unknown").
    """
    if numerator_capped and denominator_capped:
        return "unknown"
    if numerator_capped:
        return "at least"
    if denominator_capped:
        return "at most"
    return "exact"


def saving_factors(runs: list[RunResult]) -> dict[str, Any]:
    """Manual actions / assisted (and frozen) actions, over the whole set and over the
    second half, each with its bound (:func:`ratio_bound`)."""
    by_mode = {r.mode: r for r in runs}
    manual = by_mode.get("manual")
    if manual is None:
        return {}

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b > 0 else None

    out: dict[str, Any] = {}
    for mode, key in (("assisted", "saving_factor"), ("frozen", "saving_factor_frozen")):
        other = by_mode.get(mode)
        if other is None:
            continue
        # Totals compare only over the images both runs labelled: a run stopped part-way
        # (or a part of one) would otherwise divide the costs of different image counts.
        theirs = {r.name for r in other.images}
        mine = [r for r in manual.images if r.name in theirs]
        common = {r.name for r in mine}
        others = [r for r in other.images if r.name in common]
        out[key] = ratio(sum(r.actions for r in mine), sum(r.actions for r in others))
        out[key + "_bound"] = ratio_bound(bool(manual.capped(mine)), bool(other.capped(others)))
        if len(common) != len(manual.images) or len(common) != len(other.images):
            out[key + "_images"] = len(common)
        planned = max((r.planned or 0) for r in (manual, other))
        if planned and len(common) < planned:  # a run stopped: fewer images than meant
            out[key + "_images"] = len(common)
            out[key + "_images_planned"] = planned
        if not common:  # runs of different images (other data sets): nothing compares
            out[key + "_last_half"] = None
            out[key + "_last_half_bound"] = "exact"
            continue
        manual_half = _same_images(manual, other.second_half())
        out[key + "_last_half"] = ratio(mean_actions(manual_half), other.actions_last_half())
        # The two figures divided (the manual one is over the other run's second-half
        # images, not the manual run's own second half: the table's column can differ).
        out[key + "_last_half_actions"] = [
            round(mean_actions(manual_half), 2),
            round(other.actions_last_half(), 2),
        ]
        out[key + "_last_half_bound"] = ratio_bound(
            bool(manual.capped(manual_half)), bool(other.capped(other.second_half()))
        )
    return out


def _same_images(manual: RunResult, images: list[ImageRecordOut]) -> list[ImageRecordOut]:
    """The manual run's records of ``images`` (the second half of another run).

    A manual run labels in its own order (without a model, ``uncertainty`` is the file
    order), while an assisted run by uncertainty labels the doubtful images first: its
    second half is another set of images, and its ratio must divide the manual costs of
    those same images. When the manual run lacks one of them, its own second half."""
    by_name = {r.name: r for r in manual.images}
    if images and all(r.name in by_name for r in images):
        return [by_name[r.name] for r in images]
    return manual.second_half()


def write_outputs(
    runs: list[RunResult], out_dir: Path, *, plot: bool = True
) -> tuple[Path, Path | None]:
    """``bench.json`` (the first run's keys at the top, every run under ``runs``), one
    JSON per run, and ``bench.png`` (actions per image, one line per run). Called after
    every image with ``plot=False`` so a long run that is stopped keeps what it did."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dicts = [r.to_dict() for r in runs]
    for r, d in zip(runs, dicts):
        atomic_write_json(out_dir / f"bench-{r.mode}-{r.strategy}.json", d)
    top = dict(dicts[0])
    top["runs"] = dicts
    top["comparison"] = saving_factors(runs)
    path = out_dir / "bench.json"
    atomic_write_json(path, top)
    return path, (_plot(runs, out_dir / "bench.png") if plot else None)


def _plot(runs: list[RunResult], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for r in runs:
        ys = [i.actions for i in r.images]
        tools = r.config.get("tools") or ()
        label = f"{r.mode} / {r.strategy}" + (" / brush only" if list(tools) == ["brush"] else "")
        ax.plot(range(1, len(ys) + 1), ys, marker="o", ms=3, label=label)
        capped = [i for i, rec in enumerate(r.images) if not rec.reached_target]
        if capped:
            xs = [i + 1 for i in capped]
            ax.scatter(xs, [ys[i] for i in capped], marker="x", s=40, color="black", zorder=3)
    ax.set_xlabel("images labelled (x: stopped at the budget, below target)")
    ax.set_ylabel("actions for this image")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("Labelling effort per image (simulated annotator)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _factor_text(factors: dict[str, Any], key: str) -> str:
    value, bound = factors.get(key), factors.get(key + "_bound")
    if value is None:
        return "-"
    if bound == "exact":
        return f"{value}"
    if bound == "unknown":
        return f"{value} (not a bound: both sides left images below the target)"
    return f"{bound} {value}"


def summary_lines(runs: list[RunResult]) -> list[str]:
    """The printed summary table."""
    lines = [
        f"{'mode':9} {'strategy':12} {'images':>6} {'at target':>9} {'actions':>9} "
        f"{'strokes':>8} {'clicks':>7} {'vertices':>8} {'2nd half/img':>12} {'pixels':>9} "
        f"{'final mIoU':>10} {'train s/round':>13} {'wall s':>7}"
    ]
    for r in runs:
        rounds = f"{np.mean(r.train_rounds_s):.1f}" if r.train_rounds_s else "-"
        miou = f"{r.final_miou:.3f}" if r.final_miou is not None else "-"
        d = r.to_dict()
        lines.append(
            f"{r.mode:9} {r.strategy:12} {len(r.images):6d} {d['images_at_target']:9d} "
            f"{r.total_actions:9.1f} {d['total_strokes']:8d} {d['total_clicks']:7d} "
            f"{d['total_vertices']:8d} {r.actions_last_half():12.1f} {r.total_pixels:9d} "
            f"{miou:>10} {rounds:>13} {r.wall_seconds:7.0f}"
        )
    for r in runs:
        if r.stopped:
            lines.append(
                f"{r.mode}: INCOMPLETE: {len(r.images)} of {r.planned} planned image(s) "
                "labelled (the run was stopped); its figures cover those only"
            )
    for r in runs:
        stuck = set(r.stuck())
        at_budget = [n for n in r.capped() if n not in stuck]
        if at_budget:
            lines.append(
                f"{r.mode}: {len(at_budget)} image(s) stopped at the budget below the target "
                "(their counts are lower bounds): " + ", ".join(at_budget)
            )
        if stuck:
            lines.append(
                f"{r.mode}: {len(stuck)} image(s) stopped below the target with no gesture "
                "left that helps, with these tools (their counts are lower bounds): "
                + ", ".join(n for n in r.capped() if n in stuck)
            )
    factors = saving_factors(runs)
    for key, mode in (("saving_factor", "assisted"), ("saving_factor_frozen", "frozen")):
        if key in factors:
            common = factors.get(key + "_images")
            over = "whole set" if common is None else f"the {common} image(s) both labelled"
            if factors.get(key + "_images_planned"):
                over += f" (of {factors[key + '_images_planned']} planned: a run was stopped)"
            half = factors.get(key + "_last_half_actions")
            of_half = (
                f" ({half[0]} / {half[1]} actions per image, over the {mode} run's second-half "
                "images)"
                if half and factors.get(key + "_last_half") is not None
                else ""
            )
            lines.append(
                f"saving factor (manual / {mode} actions): {over} "
                f"{_factor_text(factors, key)}, second half "
                f"{_factor_text(factors, key + '_last_half')}{of_half}"
            )
    for r in runs:
        proposals = r.proposal_accuracy_last_half()
        if proposals is not None:
            mean, low, high = proposals
            lines.append(
                f"proposals ({r.mode}), second half: accuracy {mean:.3f} on average "
                f"({low:.3f}-{high:.3f}) against the target {r.config.get('target', '?')}"
            )
    for r in runs:
        ious = r.final_labels_iou()
        if ious:
            names = r.class_names if len(r.class_names) == len(ious) else []
            parts = [
                f"{names[c] if names else c} {'-' if v is None else f'{v:.2f}'}"
                for c, v in enumerate(ious)
            ]
            lines.append(
                f"final labels ({r.mode}), per class IoU (mean over images): " + ", ".join(parts)
            )
    for r in runs:
        if r.train_rounds_s:
            lines.append(
                f"training rounds ({r.mode}): " + ", ".join(f"{s:.1f}s" for s in r.train_rounds_s)
            )
    return lines


def dump(runs: list[RunResult]) -> str:
    return json.dumps([r.to_dict() for r in runs], indent=2)
