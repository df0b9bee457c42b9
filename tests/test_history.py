"""EditHistory: one gesture = one step, abort restores, redo cleared, memory cap."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.core.history import EditHistory, merge_patches
from annotator.core.labelmap import LabelMap
from annotator.core.schema import LabelSchema

SCHEMA = LabelSchema.from_names(["a", "b", "c"])


def blank(h=40, w=40) -> LabelMap:
    return LabelMap.blank(SCHEMA, h, w)


def stroke(lm: LabelMap, hist: EditHistory, points, radius=3, value=1) -> None:
    hist.begin_stroke()
    for a, b in zip(points, points[1:], strict=False):
        hist.add(lm.paint_stroke([a, b], radius, value))
    hist.commit_stroke()


def test_one_gesture_is_one_undo_step():
    lm, hist = blank(), EditHistory()
    stroke(lm, hist, [(5, 5), (10, 8), (20, 20), (30, 25)])
    assert hist.undo_count == 1
    hist.undo(lm)
    assert (lm.array == SCHEMA.unlabelled).all()
    assert not hist.can_undo and hist.can_redo


def test_abort_stroke_restores_pixels_and_history():
    lm, hist = blank(), EditHistory()
    stroke(lm, hist, [(5, 5), (10, 5)])
    before = lm.copy_array()
    hist.begin_stroke()
    hist.add(lm.paint_stroke([(5, 5), (30, 30)], 4, 2))
    hist.add(lm.paint_stroke([(30, 30), (35, 5)], 4, 2))
    box = hist.abort_stroke(lm)
    assert box is not None and not box.empty
    assert (lm.array == before).all()
    assert hist.undo_count == 1 and not hist.in_stroke


def test_overlapping_segments_merge_to_first_old_and_last_new():
    lm, hist = blank(), EditHistory()
    lm.paint_disk(10, 10, 5, 0)
    original = lm.copy_array()
    hist.begin_stroke()
    hist.add(lm.paint_disk(10, 10, 4, 1))
    hist.add(lm.paint_disk(12, 10, 4, 2))
    hist.add(lm.paint_disk(11, 11, 2, 1))
    final = lm.copy_array()
    hist.commit_stroke()
    hist.undo(lm)
    assert (lm.array == original).all()
    hist.redo(lm)
    assert (lm.array == final).all()


def test_new_edit_clears_redo():
    lm, hist = blank(), EditHistory()
    stroke(lm, hist, [(5, 5), (10, 5)])
    stroke(lm, hist, [(5, 15), (10, 15)])
    hist.undo(lm)
    assert hist.can_redo
    hist.push(lm.paint_disk(30, 30, 3, 2))
    assert not hist.can_redo and hist.undo_count == 2


def test_unchanged_edit_records_no_step():
    lm, hist = blank(), EditHistory()
    lm.paint_disk(10, 10, 3, 1)
    assert not hist.push(lm.paint_disk(10, 10, 3, 1))
    assert hist.undo_count == 0


def test_memory_cap_drops_the_oldest_steps_but_keeps_the_newest():
    lm, hist = blank(200, 200), EditHistory(max_bytes=3000)
    for i in range(20):
        hist.push(lm.paint_disk(10 * i, 100, 6, 1 + i % 2))
    assert hist.nbytes <= 3000
    assert 1 <= hist.undo_count < 20
    one = EditHistory(max_bytes=10)
    one.push(lm.paint_disk(50, 50, 20, 2))
    assert one.undo_count == 1  # never drops the only (newest) step


def test_steps_store_only_changed_pixels_compactly():
    lm = blank(1000, 1000)
    patch = lm.flood_fill(1, 1, 1)  # whole map, one old and one new value
    step = merge_patches([patch])
    assert step.count == 1_000_000
    assert step.nbytes < 1_000_000 // 8 + 1000  # a bit mask, scalar values
    small = merge_patches([lm.paint_disk(500, 500, 3, 2)])
    assert small.nbytes < 400


def test_undo_during_stroke_commits_it_first():
    lm, hist = blank(), EditHistory()
    hist.begin_stroke()
    hist.add(lm.paint_disk(10, 10, 3, 1))
    hist.undo(lm)
    assert (lm.array == SCHEMA.unlabelled).all()
    assert hist.redo_count == 1


edit = st.tuples(
    st.sampled_from(["stroke", "fill", "poly", "erase"]),
    st.integers(0, 39),
    st.integers(0, 39),
    st.integers(0, 39),
    st.integers(0, 39),
    st.integers(0, 2),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(edit, min_size=1, max_size=12), st.integers(0, 5))
def test_undo_all_returns_original_and_redo_all_returns_final(edits, radius):
    lm, hist = blank(), EditHistory()
    lm.paint_stroke([(0, 20), (39, 20)], 2, 0)  # some pre-existing labels
    original = lm.copy_array()
    for kind, x0, y0, x1, y1, value in edits:
        if kind == "stroke":
            stroke(lm, hist, [(x0, y0), (x1, y1), (x0, y1)], radius, value)
        elif kind == "erase":
            hist.begin_stroke()
            hist.add(lm.erase_stroke([(x0, y0), (x1, y1)], radius))
            hist.commit_stroke()
        elif kind == "fill":
            hist.push(lm.flood_fill(x0, y0, value))
        else:
            hist.push(lm.fill_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1 + 3)], value=value))
    final = lm.copy_array()
    while hist.can_undo:
        hist.undo(lm)
    assert (lm.array == original).all()
    while hist.can_redo:
        hist.redo(lm)
    assert (lm.array == final).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), min_size=2, max_size=8))
def test_undo_then_redo_returns_patch_boxes_covering_the_change(points):
    lm, hist = blank(), EditHistory()
    stroke(lm, hist, points, 2, 1)
    after = lm.copy_array()
    patch = hist.undo(lm)
    assert patch is not None
    outside = np.ones(lm.shape, bool)
    outside[patch.box.slices] = False
    assert (after[outside] == lm.array[outside]).all()


def test_a_long_stroke_is_folded_into_bounded_memory_and_still_aborts_and_undoes_exactly(
    monkeypatch,
):
    """One patch per mouse move was kept until the stroke ended: 767 MB for 400 moves of a
    radius-500 brush on 4096 x 4096. Folded, they hold about twice their box."""
    from annotator.core import history as history_module

    monkeypatch.setattr(history_module, "STROKE_FOLD_BYTES", 20_000)  # fold often here
    lm = blank(300, 300)
    lm.array[100:200, :] = 0
    start = lm.array.copy()
    moves = [(10 + 2 * i, 150 + (i % 7)) for i in range(120)]
    bound = 2 * (2 * lm.array.nbytes) + history_module.STROKE_FOLD_BYTES

    def scrub(h):
        h.begin_stroke()
        for a, b in zip(moves, moves[1:]):
            h.add(lm.paint_stroke([a, b], 40, 1), lm)
            assert h._stroke_bytes <= bound

    h = EditHistory()
    scrub(h)
    assert len(h._stroke) < 20  # folded, not one patch per move
    painted = lm.array.copy()
    h.abort_stroke(lm)
    assert np.array_equal(lm.array, start)
    scrub(h)
    assert h.commit_stroke()
    assert np.array_equal(lm.array, painted)
    h.undo(lm)
    assert np.array_equal(lm.array, start)
    h.redo(lm)
    assert np.array_equal(lm.array, painted)


def test_a_step_keeps_one_value_for_a_big_uniform_change_and_every_value_otherwise():
    """The bit-mask encoding finds equal values without taking them out (OpenCV's lowest
    and highest under the mask): a 48-megapixel fill took them out twice for one value."""
    from annotator.core.history import Step
    from annotator.core.labelmap import Box

    rng = np.random.default_rng(0)
    for dtype in (np.uint8, np.uint16, np.uint32):
        before = rng.integers(0, 5, (60, 70)).astype(dtype)
        after = before.copy()
        after[before == 2] = 4  # uniform: 2 -> 4, about a fifth of the box (bit mask)
        step = Step.from_arrays(Box(0, 0, 60, 70), before, after)
        assert step.bits is not None and step.old.ndim == 0 and step.new.ndim == 0
        assert int(step.old) == 2 and int(step.new) == 4 and step.old.dtype == dtype
        after[10:20, 10:20] = 3  # and a block of another value: per-pixel values
        step = Step.from_arrays(Box(0, 0, 60, 70), before, after)
        changed = before != after
        assert step.bits is not None and step.count == changed.sum()
        assert np.array_equal(step.old, before[changed])
        assert np.array_equal(step.new, after[changed])
        lm = LabelMap(after.copy(), int(np.iinfo(dtype).max), int(np.iinfo(dtype).max) - 1)
        step.revert(lm)
        assert np.array_equal(lm.array, before)


def _doc(labels, image=None):
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.services.document import Document

    h, w = labels.shape
    record = ImageRecord(1, "a", "a.png", "", w, h, 1, 8, ImageStatus.NEW, "user", 0, None, "", "")
    image = np.zeros((h, w), np.uint8) if image is None else image
    lm = LabelMap(labels, int(np.iinfo(labels.dtype).max), int(np.iinfo(labels.dtype).max) - 1)
    return Document(record, image, lm)


def test_a_fill_makes_its_undo_step_from_the_region_as_the_patch_would():
    """Document.fill makes the step from the flooded region (one label to the new one)
    without arrays of the box's values before and after: undo and redo give back the
    same pixels as the step of the fill's patch, in both encodings (few pixels of a big
    box: offsets; most of it: a bit mask), on 8- and 16-bit maps, with a tolerance."""
    rng = np.random.default_rng(4)
    for dtype in (np.uint8, np.uint16):
        u = int(np.iinfo(dtype).max)
        for trial in range(10):
            labels = rng.choice(np.array([0, 1, u], dtype), size=(50, 60), p=[0.1, 0.1, 0.8])
            if trial % 2:  # a thin path across a big box: offsets, not a bit mask
                labels[:] = 0
                labels[25, :] = u
                labels[:, 30] = u
            image = (rng.random((50, 60)) * 50).astype(np.uint8)
            x, y = 30, 25
            tolerance = None if trial % 3 else 30.0
            doc = _doc(labels.copy(), image)
            box = doc.fill(x, y, 2, tolerance=tolerance)
            after = doc.label_map.array.copy()
            reference = LabelMap(labels.copy(), u, u - 1)
            patch = reference.flood_fill(x, y, 2, image=image, tolerance=tolerance)
            assert np.array_equal(after, reference.array) and box == patch.box
            step, want = doc.history._undo[-1], merge_patches([patch])
            assert step.count == want.count and (step.bits is None) == (want.bits is None)
            assert step.old.ndim == step.new.ndim == 0 and step.old.dtype == dtype
            assert doc.history.undo_count == 1
            doc.undo()
            assert np.array_equal(doc.label_map.array, labels)
            doc.redo()
            assert np.array_equal(doc.label_map.array, after)


def test_a_fill_during_a_gesture_is_part_of_it_and_esc_takes_it_back():
    labels = np.full((20, 20), 255, np.uint8)
    labels[:, 10] = 0
    doc = _doc(labels.copy())
    doc.begin_stroke()
    doc.paint_stroke([(15, 5)], 1, 1)
    assert doc.fill(2, 2, 2) is not None and (doc.label_map.array[:, :10] == 2).all()
    doc.abort_stroke()
    assert np.array_equal(doc.label_map.array, labels) and doc.history.undo_count == 0
    assert doc.fill(2, 2, 255) is None and doc.fill(10, 5, 0) is None  # nothing changes
    assert doc.history.undo_count == 0


def test_a_fill_compares_no_values_before_and_after(monkeypatch):
    """A fill of a whole 8000 x 6000 map spent 25 ms of its 70 copying the box's values
    before and after and comparing them: its step comes from the region now."""
    from annotator.core.history import Step

    def compared(*_args, **_kw):
        raise AssertionError("the fill's values before and after were compared")

    monkeypatch.setattr(Step, "from_arrays", compared)
    labels = np.full((30, 40), 255, np.uint8)
    labels[10:20, 10:20] = 1
    doc = _doc(labels.copy())
    assert doc.fill(0, 0, 2) is not None and doc.fill(15, 15, 0) is not None
    assert doc.history.undo_count == 2
    doc.undo()
    doc.undo()
    assert np.array_equal(doc.label_map.array, labels)
