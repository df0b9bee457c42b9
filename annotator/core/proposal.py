"""A Proposal: what a model suggests for one image. Never ground truth until accepted.

Plain numpy data (no Qt, no torch), so the GUI can show it as layers and a benchmark
robot can read its mask without knowing where it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_SOURCE = re.compile(r"proposal:v(\d+)(\+|$)")

#: The mask's value where a proposal gives no class: a pixel with no value (nodata,
#: ``core.nodata``); the unlabelled value of 8-bit label maps, so accepting it and the
#: proposal brush write nothing there.
NO_CLASS = 255


@dataclass(frozen=True, eq=False)
class Proposal:
    """A model's output for one image.

    * ``probabilities``: ``(C, H, W)`` float16/float32 class probabilities, or ``None``
      when they were not kept (large images, or proposals read back from disk).
    * ``mask``: ``(H, W)`` uint8 argmax class ids; :data:`NO_CLASS` at pixels with no
      value.
    * ``uncertainty``: ``(H, W)`` float32 in ``[0, 1]`` (normalised entropy: 0 = sure,
      1 = all classes equally likely); 0 at pixels with no value.
    * ``score``: one number per image; higher means "label this one sooner".
    * ``model_version``: the model version that produced it (0 for an unsaved model).
    """

    probabilities: np.ndarray | None
    mask: np.ndarray
    uncertainty: np.ndarray
    score: float
    model_version: int

    def __post_init__(self) -> None:
        if self.mask.ndim != 2 or self.mask.dtype != np.uint8:
            raise ValueError(f"mask must be (H, W) uint8, got {self.mask.shape} {self.mask.dtype}")
        if self.uncertainty.shape != self.mask.shape or self.uncertainty.dtype != np.float32:
            raise ValueError("uncertainty must be float32 of the mask's shape")
        if self.probabilities is not None:
            p = self.probabilities
            if p.ndim != 3 or p.shape[1:] != self.mask.shape:
                raise ValueError(f"probabilities must be (C, H, W), got {p.shape}")
            if p.dtype not in (np.float16, np.float32):
                raise ValueError(f"probabilities must be float16 or float32, not {p.dtype}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the image."""
        return (int(self.mask.shape[0]), int(self.mask.shape[1]))


def normalised_entropy(probabilities: np.ndarray, axis: int = 0) -> np.ndarray:
    """Entropy of class probabilities along ``axis``, divided by ``log(C)``: in ``[0, 1]``."""
    p = np.asarray(probabilities, dtype=np.float32)
    n = p.shape[axis]
    if n < 2:
        return np.zeros(np.delete(p.shape, axis), np.float32)
    ent = -(p * np.log(np.clip(p, 1e-8, 1.0))).sum(axis=axis)
    return np.clip(ent / np.log(n), 0.0, 1.0).astype(np.float32)


def image_score(uncertainty: np.ndarray, where: np.ndarray | None = None) -> float:
    """Image-level score: the mean of the most uncertain 10% of pixels (of those
    ``where`` is true, when given).

    The plain mean is dominated by the easy majority (and by thin borders that are
    always a little uncertain); the top decile reacts to regions the model has not
    learned yet, which is what should be labelled next.

    ``where``: the pixels that count, a boolean map: those with a value
    (``core.nodata``), and where the image is partly labelled those nobody has labelled
    yet (the model's doubt where the user has labelled, or painted void, is no reason to
    label the image). None of them: 0. Without it, every pixel counts.
    """
    values = np.asarray(uncertainty, dtype=np.float32)
    flat = values.ravel() if where is None else values[where]
    if flat.size == 0:
        return 0.0
    if flat.size > 1_000_000:  # a sample is enough to rank images
        flat = flat[:: flat.size // 1_000_000]
    k = max(1, flat.size // 10)
    top = np.partition(flat, flat.size - k)[flat.size - k :]
    return float(top.mean())


def proposal_source(version: int) -> str:
    """The label source of labels that came (in part) from proposal ``version``."""
    return f"proposal:v{version}+user"


def source_version(label_source: str) -> int | None:
    """The model version a label source names (``proposal:v3+user`` -> 3), else ``None``."""
    match = _SOURCE.match(label_source)
    return int(match.group(1)) if match else None
