"""The simulated annotator: it reaches its target, never paints across a class border,
and a good proposal saves it strokes."""

import numpy as np
import pytest

from annotator.bench.robot import IGNORE, annotate, pixel_accuracy, plan_stroke
from annotator.core.labelmap import LabelMap
from annotator.core.synthetic import synthetic_cells


def _blank(shape):
    return LabelMap(np.full(shape, 255, np.uint8), unlabelled=255, void=254)


def test_pixel_accuracy_ignores_void_and_counts_unlabelled_as_wrong():
    truth = np.array([[0, 1, IGNORE, 1]], np.uint8)
    labels = np.array([[0, 255, 0, 1]], np.uint8)
    assert pixel_accuracy(labels, truth) == pytest.approx(2 / 3)


def test_robot_reaches_target_on_synthetic_cells_from_nothing():
    _, truth = synthetic_cells(seed=3, size=96, n_cells=4)
    lm = _blank(truth.shape)
    result = annotate(lm, truth, target=0.97, max_strokes=500)
    assert result.accuracy_before == 0.0
    assert result.accuracy_after >= 0.97
    assert pixel_accuracy(lm.array, truth) == pytest.approx(result.accuracy_after)
    assert 0 < result.strokes < 500 and not result.accepted


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_every_stroke_stays_inside_the_true_class(seed):
    _, truth = synthetic_cells(seed=seed, size=80, n_cells=5)
    lm = _blank(truth.shape)
    for _ in range(40):
        stroke = plan_stroke(lm.array, truth)
        if stroke is None:
            break
        probe = _blank(truth.shape)
        probe.paint_stroke(stroke.points, stroke.radius, stroke.value)
        painted = probe.array != 255
        assert painted.any()
        assert (truth[painted] == stroke.value).all()
        lm.paint_stroke(stroke.points, stroke.radius, stroke.value)


def test_good_proposal_is_accepted_and_costs_fewer_strokes_than_manual():
    _, truth = synthetic_cells(seed=8, size=96, n_cells=5)
    manual = annotate(_blank(truth.shape), truth, target=0.97, max_strokes=800)
    proposal = truth.copy()
    proposal[40:48, 40:48] = 0  # one wrong blob
    assisted = annotate(_blank(truth.shape), truth, proposal=proposal, target=0.97, max_strokes=800)
    assert assisted.accepted and assisted.accuracy_after >= 0.97
    assert assisted.actions < manual.actions


def test_nothing_to_do_when_labels_are_already_right():
    _, truth = synthetic_cells(seed=1, size=48, n_cells=2)
    lm = LabelMap(truth.copy(), unlabelled=255, void=254)
    assert plan_stroke(lm.array, truth) is None
    result = annotate(lm, truth)
    assert result.strokes == 0 and result.accuracy_after == 1.0
