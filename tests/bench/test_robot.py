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


def test_a_chained_drag_fixes_a_row_of_slivers_in_one_stroke_inside_the_class():
    from annotator.bench.brush import _paint, plan_chain_stroke, plan_region_stroke

    truth = np.ones((120, 60), np.uint8)
    truth[:, 28:33] = 0  # a membrane 5 px wide between two cells
    labels = truth.copy()
    for y in range(10, 110, 12):  # its left edge wrong in 1 px slivers, 8 px long
        labels[y : y + 8, 28] = 1
    region = np.zeros(truth.shape, bool)
    region[10:18, 28] = True  # the first sliver: the robot's "largest wrong region"
    single = plan_region_stroke(labels, truth, 0, region)
    chained = plan_chain_stroke(labels, truth, 0, region)
    assert single is not None and chained is not None
    fixed = {}
    for name, stroke in (("single", single), ("chained", chained)):
        lm = LabelMap(labels.copy(), IGNORE, IGNORE - 1)
        _paint(lm, stroke)
        assert not ((lm.array != labels) & (truth != 0)).any()  # never over another class
        fixed[name] = int(((lm.array == truth) & (labels != truth)).sum())
    assert fixed["single"] <= 8 < fixed["chained"]
    assert fixed["chained"] >= 5 * 8  # most of the row of slivers in one drag
    # Nothing else wrong of the class: there is nothing to chain to.
    alone = truth.copy()
    alone[10:18, 28] = 1
    assert plan_chain_stroke(alone, truth, 0, region) is None
