"""What a training round reports while it runs (no torch here: the round's first news,
before torch is loaded, and the GUI thread read it).

A round goes through its phases in this order: ``load`` (the project's labelled images
are read), ``prepare`` (the network is
built or loaded, the labels split and indexed, the optimiser made), ``train`` (one
report per step), ``validate`` (the held-out labels are predicted and scored), ``write``
(the new version's checkpoint, ONNX export and record). Every report but a step's says
in ``detail`` what is going on, in words for the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Phase = Literal["load", "prepare", "train", "validate", "write"]


@dataclass(frozen=True)
class TrainProgress:
    """Reported after every step, and once as each other phase starts."""

    step: int
    max_steps: int | None
    elapsed_s: float
    max_seconds: float | None
    loss: float
    phase: Phase = "train"
    #: Seconds the round's steps will still take (:func:`eta`); ``None`` while unknown.
    eta_s: float | None = None
    #: What the round is doing, in words (``loading 12 labelled images``); empty for a step.
    detail: str = ""

    @property
    def fraction(self) -> float:
        """How much of the budget is used, in ``[0, 1]``."""
        parts = []
        if self.max_steps:
            parts.append(self.step / self.max_steps)
        if self.max_seconds:
            parts.append(self.elapsed_s / self.max_seconds)
        return float(min(1.0, max(parts))) if parts else 0.0

    @classmethod
    def starting(
        cls,
        phase: Phase,
        detail: str,
        max_steps: int | None = None,
        max_seconds: float | None = None,
    ) -> TrainProgress:
        """The report of a phase before the first step (nothing of the budget used)."""
        return cls(0, max_steps, 0.0, max_seconds, float("nan"), phase, detail=detail)


def eta(
    step: int,
    elapsed_s: float,
    first_step_s: float,
    max_steps: int | None,
    max_seconds: float | None,
) -> float | None:
    """Seconds until the budget ends the round's steps: what is left of its time budget,
    or the steps left at the pace of the steps after the first, whichever comes first.
    The first step pays one-off costs (memory, kernels chosen, caches: 0.4 s against
    0.17 s for the next on the 2-core machine), so it is no pace. ``None`` with a step
    budget alone before the second step."""
    left = []
    if max_seconds is not None:
        left.append(max(0.0, max_seconds - elapsed_s))
    if max_steps is not None and step >= 2:
        pace = (elapsed_s - first_step_s) / (step - 1)
        left.append(max(0.0, pace * (max_steps - step)))
    return min(left) if left else None


def counting(
    progress: Callable[[TrainProgress], None] | None,
    phase: Phase,
    what: str,
    total: int,
    max_steps: int | None,
    max_seconds: float | None,
    every_s: float = 1.0,
) -> Callable[..., None]:
    """A report of a phase that goes through ``total`` images, to call with how many are
    done after each: ``what done/total images``, at most once every ``every_s`` seconds (4,000
    images took 9 s to load and 17 s to prepare, with one line said before them).
    ``of``: a total known only once the phase began (the training share of a split)."""
    last = time.monotonic()

    def tell(done: int, of: int | None = None) -> None:
        nonlocal last
        now = time.monotonic()
        if progress is None or now - last < every_s:
            return
        last = now
        count = f"{done}/{total if of is None else of}"
        said = f"{what} {count} images"  # (short: one line of the model panel)
        progress(TrainProgress.starting(phase, said, max_steps, max_seconds))

    return tell
