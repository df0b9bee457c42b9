"""The simulated annotator with every tool: it chooses honestly, counts each cost, and
``--tools brush`` is the first robot, unchanged."""

import dataclasses

import numpy as np
import pytest

import annotator.bench.planner as planner_mod
import annotator.bench.robot as robot_mod
from annotator.bench.actions import CLICK, TOOLS, Action, Cost, Scene, apply
from annotator.bench.effort import BenchConfig, ratio_bound, select_images
from annotator.bench.planner import choose, gain, measure
from annotator.bench.robot import annotate, pixel_accuracy
from annotator.core.errors import AnnotatorError
from annotator.core.labelmap import LabelMap
from annotator.core.synthetic import SYNTHETIC_EM_CLASSES, synthetic_cells, synthetic_em


def _blank(shape):
    return LabelMap(np.full(shape, 255, np.uint8), unlabelled=255, void=254)


def _cells(seed, size=96, n_cells=4):
    image, truth = synthetic_cells(seed=seed, size=size, n_cells=n_cells, noise=5)
    return image, truth


# Counts measured with main's robot (before this branch) on the same inputs: the brush-only
# robot must reproduce them exactly.
@pytest.mark.parametrize(
    "seed, strokes, painted, checksum, p_strokes, p_painted, p_checksum",
    [(3, 34, 8948, 69023, 16, 401, 860), (4, 27, 8949, 69031, 6, 225, 1119)],
)
def test_brush_only_is_the_first_robot_unchanged(
    seed, strokes, painted, checksum, p_strokes, p_painted, p_checksum
):
    _, truth = synthetic_cells(seed=seed, size=96, n_cells=4)
    lm = _blank(truth.shape)
    r = annotate(lm, truth, target=0.97, max_strokes=500, tools=("brush",))
    assert (r.strokes, r.pixels_painted, int(lm.array.astype(np.int64).sum())) == (
        strokes,
        painted,
        checksum,
    )
    assert r.actions == strokes and r.clicks == 0 and r.tools == {"brush": strokes}
    proposal = truth.copy()
    proposal[:, :40] = 0
    lm = _blank(truth.shape)
    r = annotate(lm, truth, proposal=proposal, target=0.995, max_strokes=500, tools=("brush",))
    assert r.accepted and (r.strokes, r.pixels_painted) == (p_strokes, p_painted)
    assert int(lm.array.astype(np.int64).sum()) == p_checksum
    assert r.actions == p_strokes + 1 and r.tools == {"brush": p_strokes, "accept": 1}


def test_every_tool_reaches_the_target_with_fewer_actions_than_the_brush():
    image, truth = _cells(3)
    brush = annotate(_blank(truth.shape), truth, image=image, target=0.97, tools=("brush",))
    lm = _blank(truth.shape)
    tools = annotate(lm, truth, image=image, target=0.97, max_strokes=500, tools=TOOLS)
    assert tools.reached and tools.accuracy_after >= 0.97
    assert pixel_accuracy(lm.array, truth) == pytest.approx(tools.accuracy_after)
    assert tools.actions < brush.actions
    assert sum(tools.tools.values()) >= 1 and set(tools.tools) <= set(TOOLS)
    assert tools.actions == tools.strokes + tools.clicks + 0.5 * tools.vertices


def test_synthetic_em_is_seeded_and_has_every_class_thin_membranes_and_small_vesicles():
    image, truth = synthetic_em(seed=5, size=256)
    again_image, again_truth = synthetic_em(seed=5, size=256)
    assert np.array_equal(image, again_image) and np.array_equal(truth, again_truth)
    assert not np.array_equal(truth, synthetic_em(seed=6, size=256)[1])
    assert image.dtype == truth.dtype == np.uint8 and image.shape == truth.shape == (256, 256)
    assert set(np.unique(truth).tolist()) == set(range(len(SYNTHETIC_EM_CLASSES)))
    import cv2

    membrane = (truth == SYNTHETIC_EM_CLASSES.index("membrane")).astype(np.uint8)
    # Thin: eroding by a 5 x 5 square (2 px on each side) leaves only junctions.
    assert cv2.erode(membrane, np.ones((5, 5), np.uint8)).sum() < 0.1 * membrane.sum()
    vesicle = (truth == SYNTHETIC_EM_CLASSES.index("vesicle")).astype(np.uint8)
    n = cv2.connectedComponents(vesicle, connectivity=8)[0] - 1
    # Small: many separate regions (clusters of touching vesicles of radius 3-6 px),
    # none holding a disc wider than 20 px.
    assert n > 5 and cv2.distanceTransform(vesicle, cv2.DIST_L2, 5).max() <= 10


def test_synthetic_em_clutter_and_label_jitter_make_it_harder_and_leave_the_seed_alone():
    image, truth = synthetic_em(seed=5, size=256)
    cluttered, same_truth = synthetic_em(seed=5, size=256, clutter=200)
    # Clutter changes the picture, never the labels: it is unlabelled cytoplasm.
    assert np.array_equal(truth, same_truth) and not np.array_equal(image, cluttered)
    changed = np.abs(image.astype(int) - cluttered.astype(int)) > 25
    assert changed.sum() > 200 and (truth[changed] == 0).mean() > 0.9
    # Jitter moves borders against the picture by at most about its amplitude, so the
    # truth differs from the drawn classes along borders only; the picture is the same.
    same_image, jittered = synthetic_em(seed=5, size=256, label_jitter=2.0)
    assert np.array_equal(image, same_image)
    moved = jittered != truth
    assert 0.01 < moved.mean() < 0.2
    import cv2

    border = np.zeros(truth.shape, bool)
    border[:, 1:] |= truth[:, 1:] != truth[:, :-1]
    border[1:, :] |= truth[1:, :] != truth[:-1, :]
    near = cv2.dilate(border.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert moved[~near].sum() == 0
    assert set(np.unique(jittered).tolist()) == set(np.unique(truth).tolist())


def test_six_class_em_is_labelled_by_hand_within_the_cap_far_cheaper_than_with_the_brush():
    """Issue 14's failure: by hand, a six-class EM image with thin membranes and small
    vesicles cost hundreds of brush strokes. With every tool it reaches the target in a
    fraction of them."""
    image, truth = synthetic_em(seed=2, size=128)
    brush = annotate(_blank(truth.shape), truth, image=image, target=0.95, tools=("brush",))
    lm = _blank(truth.shape)
    tools = annotate(lm, truth, image=image, target=0.95, max_strokes=3000, tools=TOOLS)
    assert tools.reached and pixel_accuracy(lm.array, truth) >= 0.95
    assert brush.reached and tools.actions * 3 < brush.actions


def test_the_robot_never_reads_the_truth_while_it_paints(monkeypatch):
    """Every gesture is performed while the truth array holds garbage: if painting read
    it, the labels would differ from an ordinary run."""
    image, truth = _cells(5, n_cells=5)
    proposal = truth.copy()
    proposal[:30] = 0
    kwargs = dict(image=image, proposal=proposal, target=0.98, max_strokes=200, tools=TOOLS)
    reference = _blank(truth.shape)
    expected = annotate(reference, truth, **kwargs)

    seen = truth.copy()
    real_apply = robot_mod.apply
    calls = {"n": 0}

    def blindfolded(action, label_map, scene):
        for f in dataclasses.fields(action):  # a gesture holds no array at all
            assert not isinstance(getattr(action, f.name), np.ndarray)
        for arr in (scene.image, scene.proposal):
            assert arr is None or not np.shares_memory(arr, truth)
        calls["n"] += 1
        truth[:] = (seen + 7) % 251  # garbage, while the tool runs
        try:
            return real_apply(action, label_map, scene)
        finally:
            truth[:] = seen

    monkeypatch.setattr(robot_mod, "apply", blindfolded)
    monkeypatch.setattr(planner_mod, "apply", blindfolded)
    lm = _blank(truth.shape)
    result = annotate(lm, truth, **kwargs)
    assert calls["n"] > result.strokes + result.clicks  # candidates and the chosen ones
    np.testing.assert_array_equal(lm.array, reference.array)
    assert result == expected


def test_gain_counts_fixed_broken_and_spoiled_pixels():
    truth = np.array([[0, 0, 1, 1]], np.uint8)
    before = np.array([[255, 1, 1, 255]], np.uint8)
    after = np.array([[0, 0, 0, 0]], np.uint8)
    # fixed 2 (pixels 0, 1), broken 1 (pixel 2), spoiled 1 (pixel 3: unlabelled -> wrong)
    assert gain(before, after, truth, 255) == 2 - 1 - 0.5


def test_fill_is_chosen_for_a_comb_and_costs_one_click():
    truth = np.zeros((60, 60), np.uint8)
    truth[:50, 2::4] = 1  # thin teeth of class 1, already labelled
    lm = _blank(truth.shape)
    lm.array[truth == 1] = 1
    choice = choose(lm, truth, Scene(), ("brush", "fill"))
    assert choice is not None and choice.action.tool == "fill" and choice.action.cost == CLICK
    assert measure(choice.action, lm, truth, Scene()) == choice.gain == (truth == 0).sum()


def test_polygon_costs_its_vertices_and_lands_in_the_label_map():
    truth = np.zeros((40, 40), np.uint8)
    truth[5:30, 8:35] = 1
    lm = LabelMap(np.zeros((40, 40), np.uint8), 255, 254)
    choice = choose(lm, truth, Scene(), ("polygon",))
    assert choice is not None and choice.action.tool == "polygon"
    n = len(choice.action.points) + sum(len(h) for h in choice.action.holes)
    assert choice.action.cost == Cost(vertices=n) and n == 4
    apply(choice.action, lm, Scene())
    np.testing.assert_array_equal(lm.array, truth)


def test_protected_brush_writes_only_over_the_wrong_label():
    truth = np.zeros((50, 50), np.uint8)
    truth[:, 20:22] = 1  # a thin cross of class 1
    truth[30:32, :] = 1
    lm = LabelMap(np.zeros((50, 50), np.uint8), 255, 254)
    lm.array[truth == 1] = 255  # the cross is left unlabelled, everything else is right
    choice = choose(lm, truth, Scene(), ("brush", "protected-brush"))
    assert choice is not None and choice.action.tool == "protected-brush"
    assert choice.action.only_over == 255 and choice.action.radius > 2
    apply(choice.action, lm, Scene())
    assert (lm.array[truth == 0] == 0).all()  # the neighbours are untouched
    assert (lm.array[truth == 1] == 1).all()  # one sweep did the whole cross


def test_grabcut_and_superpixel_results_land_in_the_label_map():
    import cv2

    truth = np.zeros((80, 80), np.uint8)
    cv2.circle(truth, (40, 38), 16, 1, -1)
    noise = np.random.default_rng(0).normal(0, 8, truth.shape)
    image = np.clip(np.where(truth == 1, 180, 60) + noise, 0, 255).astype(np.uint8)
    scene = Scene(image=image)

    def background_done():
        lm = LabelMap(truth.copy(), 255, 254)
        lm.array[20:60, 20:60] = 255  # the disk and its surroundings are left to do
        return lm

    for tool in ("grabcut", "superpixel"):
        lm = background_done()
        choice = choose(lm, truth, scene, (tool,))
        assert choice is not None and choice.action.tool == tool and choice.gain > 0
        before = lm.array.copy()
        apply(choice.action, lm, scene)
        assert (lm.array != before).any()
        assert (lm.array[lm.array != before] == choice.action.value).all()
    assert choose(background_done(), truth, scene, ("grabcut",)).action.cost == Cost(clicks=2)


def test_accept_region_and_proposal_brush_copy_the_proposal():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    proposal = truth.copy()
    proposal[0:5, 0:5] = 1  # a wrong blob elsewhere
    for tool in ("accept-region", "proposal-brush"):
        lm = LabelMap(np.zeros((40, 40), np.uint8), 255, 254)
        scene = Scene(proposal=proposal)
        choice = choose(lm, truth, scene, (tool,))
        assert choice is not None and choice.action.tool == tool
        apply(choice.action, lm, scene)
        assert (lm.array[10:30, 10:30] == 1).all() and (lm.array[0:5, 0:5] == 0).all()


def test_accept_over_the_wrong_label_replaces_a_fill_that_took_too_much():
    truth = np.zeros((40, 40), np.uint8)
    truth[10:30, 10:30] = 1
    truth[2:6, 2:6] = 1
    lm = LabelMap(np.zeros((40, 40), np.uint8), 255, 254)  # one fill labelled it all 0
    lm.array[2:6, 2:6] = 1  # the person painted this square already
    proposal = truth.copy()
    proposal[2:6, 2:6] = 0  # the proposal misses it
    scene = Scene(proposal=proposal)
    choice = choose(lm, truth, scene, ("accept",))
    assert choice is not None and choice.action == Action("accept", 0, CLICK, only_over=0)
    r = annotate(lm, truth, proposal=proposal, tools=("accept",), target=1.0)
    assert (r.clicks, r.tools, r.reached) == (1, {"accept": 1}, True)
    np.testing.assert_array_equal(lm.array, truth)  # the painted square was kept
    # the plain accept (into unlabelled pixels) is still offered once after it
    lm = _blank(truth.shape)
    lm.array[:, :20] = 0
    r = annotate(lm, truth, proposal=truth, tools=("accept",), target=1.0)
    assert r.reached and r.clicks == 2


def test_a_part_of_an_image_then_the_rest_adds_up_with_the_steps_between():
    image, truth = _cells(3)
    lm = _blank(truth.shape)
    first = annotate(lm, truth, image=image, tools=TOOLS, max_strokes=1, target=1.0)
    rest = annotate(lm, truth, image=image, proposal=truth, tools=TOOLS, target=1.0)
    both = first.then(rest, "train-now")
    assert both.actions == first.actions + rest.actions + 1
    assert both.tools["train-now"] == 1 and both.tools["accept"] == 1
    assert (both.accuracy_before, both.accuracy_after) == (
        first.accuracy_before,
        rest.accuracy_after,
    )
    assert both.reached and both.accepted and not first.reached


def test_unknown_tool_is_refused():
    with pytest.raises(ValueError, match="unknown tool 'laser'"):
        annotate(_blank((4, 4)), np.zeros((4, 4), np.uint8), tools=("laser",))
    with pytest.raises(AnnotatorError, match="--tools: unknown tool 'laser'"):
        BenchConfig(tools=("laser",))
    with pytest.raises(ValueError, match="unknown tool"):
        apply(Action("laser", 0, CLICK), _blank((4, 4)), Scene())


def test_selection_puts_the_last_glob_at_the_end_and_strides(tmp_path):
    from pathlib import Path

    names = [Path(f"train_{i}.png") for i in range(6)] + [Path(f"val_{i}.png") for i in range(3)]
    names = [names[6], *names[:6], names[7], names[8]]  # a val image first: it still goes last
    config = BenchConfig(last="val_*", stride=2)
    chosen = [p.name for p in select_images(names, config)]
    assert chosen == ["train_1.png", "train_3.png", "train_5.png", "val_0.png", "val_2.png"]
    limited = select_images(names, dataclasses.replace(config, limit=3))
    assert [p.name for p in limited] == ["train_1.png", "train_3.png", "val_0.png"]
    skipped = select_images(names, dataclasses.replace(config, skip=2))
    assert [p.name for p in skipped] == ["train_5.png", "val_0.png", "val_2.png"]
    with pytest.raises(AnnotatorError, match="--skip"):
        BenchConfig(skip=-1)


def test_ratio_bounds_follow_the_capped_side():
    assert ratio_bound(False, False) == "exact"
    assert ratio_bound(True, False) == "at least"
    assert ratio_bound(False, True) == "at most"
    assert ratio_bound(True, True) == "unknown"
