"""Next-image strategies: one interface, three orders."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from annotator.core.errors import AnnotatorError
from annotator.ml.strategies import (
    STRATEGIES,
    InOrder,
    RandomOrder,
    Strategy,
    UncertaintyFirst,
    get_strategy,
)


@dataclass(frozen=True)
class Rec:
    id: int


RECORDS = [Rec(i) for i in (3, 1, 4, 2, 5)]
SCORES = {1: 0.2, 2: 0.9, 3: None, 4: 0.5, 5: 0.9}


def test_uncertainty_first_puts_the_least_sure_first_and_unscored_last():
    order = [r.id for r in UncertaintyFirst().rank(RECORDS, SCORES)]
    assert order == [2, 5, 4, 1, 3]  # ties broken by id, never-predicted at the end


def test_in_order_follows_the_order_images_were_added():
    assert [r.id for r in InOrder().rank(RECORDS, SCORES)] == [1, 2, 3, 4, 5]


def test_random_order_is_a_reproducible_permutation():
    a = [r.id for r in RandomOrder(seed=7).rank(RECORDS, SCORES)]
    b = [r.id for r in RandomOrder(seed=7).rank(RECORDS, SCORES)]
    c = {tuple(r.id for r in RandomOrder(seed=s).rank(RECORDS, SCORES)) for s in range(10)}
    assert a == b and sorted(a) == [1, 2, 3, 4, 5]
    assert len(c) > 1


def test_the_registry_lists_every_strategy_under_the_interface():
    assert set(STRATEGIES) == {"uncertainty", "random", "in-order"}
    for name in STRATEGIES:
        s = get_strategy(name)
        assert isinstance(s, Strategy) and s.name == name
    with pytest.raises(AnnotatorError, match="unknown strategy"):
        get_strategy("margin-of-error")
