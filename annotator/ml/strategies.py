"""Next-image strategies: which unlabelled image to show the user next.

One small interface, ``rank(records, scores) -> records in the order to label``, and a
registry so the CLI, the GUI and the benchmark list them the same way. No torch here:
strategies only look at image-level scores that proposals already produced.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable


class HasId(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=HasId)


@runtime_checkable
class Strategy(Protocol):
    """Orders candidate images; ``scores`` maps image id -> score (higher = less sure)."""

    name: str

    def rank(self, records: Sequence[R], scores: Mapping[int, float | None]) -> list[R]: ...


class UncertaintyFirst:
    """Most uncertain first; images without a score (never predicted) come last, in order."""

    name = "uncertainty"

    def rank(self, records: Sequence[R], scores: Mapping[int, float | None]) -> list[R]:
        scored = [r for r in records if scores.get(r.id) is not None]
        unscored = [r for r in records if scores.get(r.id) is None]
        scored.sort(key=lambda r: (-float(scores[r.id]), r.id))  # type: ignore[arg-type]
        return scored + unscored


class RandomOrder:
    """A random order, reproducible for a given seed (the baseline of active learning)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def rank(self, records: Sequence[R], scores: Mapping[int, float | None]) -> list[R]:
        out = list(records)
        random.Random(self.seed).shuffle(out)
        return out


class InOrder:
    """The order images were added to the project."""

    name = "in-order"

    def rank(self, records: Sequence[R], scores: Mapping[int, float | None]) -> list[R]:
        return sorted(records, key=lambda r: r.id)


STRATEGIES: dict[str, type] = {
    UncertaintyFirst.name: UncertaintyFirst,
    RandomOrder.name: RandomOrder,
    InOrder.name: InOrder,
}


def get_strategy(name: str, **kwargs: object) -> Strategy:
    """A strategy by its registry name (``uncertainty``, ``random``, ``in-order``)."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        from annotator.core.errors import AnnotatorError

        raise AnnotatorError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
    return cls(**kwargs)  # type: ignore[no-any-return]
