"""How GUI-launched training rounds and proposals run, stored in the project."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from annotator.core.errors import ProjectError
from annotator.services.training import DEFAULT_DEPTH, DEFAULT_WIDTH
from annotator.storage.project import Project

log = logging.getLogger(__name__)

SETTINGS_KEY = "model.settings"


@dataclass(frozen=True)
class ModelSettings:
    """How GUI-launched rounds and proposals run; stored as the project setting ``model.settings``."""

    #: Budget of one round (either or both; the first reached ends the round).
    seconds: float | None = 30.0
    steps: int | None = None
    device: str = "auto"
    #: Architecture of a model trained from scratch (later rounds keep the parent's).
    depth: int = DEFAULT_DEPTH
    width: int = DEFAULT_WIDTH
    crop: int = 128
    batch_size: int = 8
    #: CPU threads for training and inference; 0 = every core but one (the GUI's).
    threads: int = 0
    #: Start a round when an image is marked done.
    train_on_done: bool = True
    #: Start a round after this many seconds without edits when labels changed; 0 = off.
    idle_retrain_s: int = 0
    #: Keep training while the user labels: a round that ends is followed by one on
    #: the images marked done (``services.training_rounds``).
    keep_training: bool = True
    strategy: str = "uncertainty"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSettings:
        """Settings from a stored dict; unknown keys (a newer version) are ignored, and
        a value of the wrong kind or out of range (a damaged or hand-edited project)
        gives way to the default, logged: the window's fields and timers took it."""
        known = {f.name for f in fields(cls)}
        kept = {}
        for k, v in data.items():
            if k not in known:
                continue
            if _VALID[k](v):
                kept[k] = v
            else:
                log.warning("ignoring the damaged model setting %s=%r (the default is used)", k, v)
        return cls(**kept)

    def cpu_threads(self) -> int:
        """Threads for torch/onnxruntime: leave one core to the GUI on small machines."""
        if self.threads > 0:
            return self.threads
        return max(1, (os.cpu_count() or 1) - 1)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _whole(low: int, high: int | None = None) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        whole = isinstance(v, int) and not isinstance(v, bool)
        return whole and low <= v and (high is None or v <= high)

    return check


#: A day: more than any round or idle wait asks for, and within the timers' range.
LONGEST_S = 86_400

#: What each stored setting may be.
_VALID: dict[str, Callable[[Any], bool]] = {
    "seconds": lambda v: v is None or (_number(v) and 0 < v <= LONGEST_S),
    "steps": lambda v: v is None or _whole(1)(v),
    "device": lambda v: isinstance(v, str),
    "depth": _whole(1, 16),
    "width": _whole(1, 4096),
    "crop": _whole(8, 65_536),
    "batch_size": _whole(1, 4096),
    "threads": _whole(0, 4096),
    "train_on_done": lambda v: isinstance(v, bool),
    "idle_retrain_s": _whole(0, LONGEST_S),
    "keep_training": lambda v: isinstance(v, bool),
    "strategy": lambda v: isinstance(v, str),
}


def load_settings(project: Project) -> ModelSettings:
    """The project's model settings (defaults when none are stored)."""
    try:
        stored = project.get_setting(SETTINGS_KEY)
    except ProjectError as exc:  # the defaults are a fine answer; the next save repairs it
        log.warning("ignoring damaged model settings: %s", exc)
        return ModelSettings()
    if not isinstance(stored, dict):
        return ModelSettings()
    try:
        return ModelSettings.from_dict(stored)
    except TypeError as exc:
        log.warning("ignoring damaged model settings: %s", exc)
        return ModelSettings()


def save_settings(project: Project, settings: ModelSettings) -> None:
    """Store the model settings in the project."""
    project.set_setting(SETTINGS_KEY, settings.to_dict())
