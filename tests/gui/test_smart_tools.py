"""The one-gesture correction tools through the real canvas (issue 14).

Protected painting leaves other classes alone; the proposal brush and accept region are
one undo step each; superpixel and GrabCut results land in the label map; clean-up fills
holes and removes specks.
"""

from __future__ import annotations

import numpy as np
from guihelpers import SIZE, at, click, drag, hold_background_jobs, press, release
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.proposal import Proposal
from annotator.gui.proposal_layers import TRANSPARENT

U = 255


def labels(window) -> np.ndarray:
    return window.document.label_map.array


def key(window, k) -> None:
    QTest.keyClick(window.canvas, k)


def show_proposal(window, mask: np.ndarray, version: int = 3) -> Proposal:
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.5, version)
    window.loop.layers.show(window.document, proposal, window.session.schema)
    return proposal


def set_protection(window, data) -> None:
    combo = window.protection
    combo.setCurrentIndex(combo.findData(data))


def test_protected_brush_paints_only_unlabelled_pixels_and_says_so(window):
    lab = labels(window)
    lab[:, 32:] = 2  # a membrane half the brush must not damage
    set_protection(window, U)
    assert "unlabelled" in window.protect_label.text()
    window.canvas.set_brush_radius(12)
    drag(window.canvas, [(20, 10), (40, 10), (40, 50)])
    lab = labels(window)
    assert (lab[:, 32:] == 2).all()
    assert (lab[5:16, 10:32] == 0).all()
    key(window, Qt.Key.Key_X)  # toggles protection off
    assert window.canvas.protected_value is None and window.protect_label.text() == ""
    drag(window.canvas, [(40, 30)])
    assert (labels(window)[28:33, 38:43] == 0).all()  # now it paints over the membrane
    key(window, Qt.Key.Key_X)  # and back to the last protection
    assert window.canvas.protected_value == U


def test_protection_over_one_class_changes_only_that_class(window):
    lab = labels(window)
    lab[:, :32] = 1
    lab[:, 32:] = 2
    key(window, Qt.Key.Key_F)
    set_protection(window, 1)  # only over "cell"
    key(window, Qt.Key.Key_1)  # background
    click(window.canvas, 50, 50)  # a membrane pixel: protected, nothing happens
    assert (labels(window)[:, 32:] == 2).all()
    click(window.canvas, 10, 10)
    assert (labels(window)[:, :32] == 0).all() and (labels(window)[:, 32:] == 2).all()


def test_the_proposal_follows_protection_and_the_labels_visibility(window):
    lab = labels(window)
    lab[:, :32] = 1
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, 16:] = 2
    show_proposal(window, mask)
    shown = window.loop.layers.proposal_item.labels
    set_protection(window, 1)  # accept would write over "cell": the proposal shows there
    assert (shown[:, :32] != TRANSPARENT).any() and (shown[:, 32:] == TRANSPARENT).all()
    set_protection(window, U)  # only unlabelled
    assert (shown[:, :32] == TRANSPARENT).all() and (shown[:, 32:] != TRANSPARENT).any()
    key(window, Qt.Key.Key_W)  # the proposal brush writes where protection lets it
    assert (shown[:, :32] == TRANSPARENT).all()  # still only unlabelled
    set_protection(window, None)  # off: it may paint over anything, so all of it shows
    assert (shown[:, :32] != TRANSPARENT).any()
    key(window, Qt.Key.Key_B)  # the brush: back to where accept writes
    assert (shown[:, :32] == TRANSPARENT).all()
    window.actions_["toggle_labels"].trigger()  # labels hidden: all of the proposal
    assert not window.canvas.labels_visible()
    assert (shown[:, :32] != TRANSPARENT).any()


def test_proposal_brush_copies_the_proposal_under_the_stroke_as_one_step(window):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, 32:] = 2
    show_proposal(window, mask)
    key(window, Qt.Key.Key_W)
    assert window.canvas.tool.name == "proposal_brush"
    window.canvas.set_brush_radius(3)
    drag(window.canvas, [(10, 20), (30, 20), (50, 20)])
    lab = labels(window)
    assert (lab[20, 10:32] == 0).all() and (lab[20, 32:51] == 2).all()
    assert lab[40, 40] == U
    doc = window.document
    assert doc.history.undo_count == 1 and doc.label_source == "proposal:v3+user"
    doc.undo()
    assert (labels(window) == U).all() and doc.label_source == "user"


def test_accept_region_takes_the_clicked_object_only(window):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[5:15, 5:15] = 1
    mask[40:50, 40:50] = 1
    show_proposal(window, mask)
    key(window, Qt.Key.Key_Q)
    click(window.canvas, 8, 8)
    lab = labels(window)
    assert (lab[5:15, 5:15] == 1).all()
    assert (lab == U).sum() == SIZE * SIZE - 100
    assert window.document.history.undo_count == 1


def test_tools_needing_a_proposal_say_so_when_there_is_none(window):
    key(window, Qt.Key.Key_Q)
    click(window.canvas, 8, 8)
    assert (labels(window) == U).all()
    assert "No proposal" in window.statusBar().currentMessage()


def test_superpixel_brush_paints_whole_segments_computed_off_the_gui_thread(window, qtbot):
    key(window, Qt.Key.Key_S)
    key(window, Qt.Key.Key_2)
    smart = window.canvas.smart
    click(window.canvas, 30, 30)  # first press starts computing, paints nothing
    assert (labels(window) == U).all()
    assert smart.wait_idle(30)
    image_id = window.document.image_id
    qtbot.waitUntil(lambda: smart._segments[image_id].complete, timeout=5000)
    click(window.canvas, 30, 30)
    segments = smart._segments[window.document.image_id].labels
    touched = segments[30, 30]
    lab = labels(window)
    assert (lab[segments == touched] == 1).all()
    assert (lab[segments != touched] == U).all()
    # the bright square's edge (conftest image) bounds the segments
    inside = np.zeros((SIZE, SIZE), bool)
    inside[20:40, 20:40] = True
    assert (lab == 1).sum() > 0 and not (lab == 1)[~inside].any()
    assert window.document.history.undo_count == 1


def test_grabcut_box_labels_the_object_inside_it(window, qtbot):
    key(window, Qt.Key.Key_G)
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(12, 12), (30, 30), (47, 47)])
    smart = window.canvas.smart
    assert smart.wait_idle(30)
    qtbot.waitUntil(lambda: (labels(window) == 1).any(), timeout=5000)
    lab = labels(window)
    square = np.zeros((SIZE, SIZE), bool)
    square[20:40, 20:40] = True
    iou = ((lab == 1) & square).sum() / ((lab == 1) | square).sum()
    assert iou > 0.9
    assert window.document.history.undo_count == 1


def test_clean_up_fills_holes_and_removes_specks_in_one_step(window):
    lab = labels(window)
    lab[10:50, 10:50] = 1
    lab[20:22, 20:22] = U  # a hole
    lab[55:57, 55:57] = 1  # a speck outside the object
    lab[55:60, 0:10] = 0
    window.cleanup_spin.setValue(10)
    key(window, Qt.Key.Key_2)  # class "cell"
    window.actions_["cleanup_image"].trigger()
    lab = labels(window)
    assert (lab[20:22, 20:22] == 1).all()
    assert (lab[55:57, 55:57] == U).all()
    assert (lab[10:50, 10:50] == 1).all()
    assert window.document.history.undo_count == 1


def test_clean_up_tool_works_inside_its_outline_only(window):
    lab = labels(window)
    lab[:, :] = 1
    lab[10, 10] = U
    lab[50, 50] = U
    key(window, Qt.Key.Key_K)
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(2, 2), (25, 2), (25, 25), (2, 25)])
    lab = labels(window)
    assert lab[10, 10] == 1 and lab[50, 50] == U


def test_superpixels_of_a_big_image_come_tile_by_tile_nearest_the_brush_first():
    """A 1100 px image is 3 x 3 tiles: the tile under the press lands first, the next
    one follows the brush, and the brush paints in a landed tile before the rest exist."""
    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema
    from annotator.gui.smart_tools import SmartSupport

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (1100, 1100), dtype=np.uint8)
    pending: list = []
    messages: list[str] = []
    smart = SmartSupport(pending.append, lambda _i: None, messages.append, lambda: 1)
    try:
        assert smart.superpixels(1, image, near=(1050.0, 1050.0)) is None  # starts the work
        assert messages[-1].startswith("Computing superpixels")
        assert smart.superpixels(1, image) is None  # asked again: still none, not restarted
        assert smart.wait_idle(60) and len(pending) == 1
        smart.superpixels(1, image, near=(20.0, 20.0))  # the brush moved meanwhile
        pending.pop()()  # the first tile lands on the "GUI thread"
        segments = smart.superpixels(1, image)
        assert segments is not None and not segments.complete
        assert segments.ready_at(1050, 1050) and not segments.ready_at(20, 20)
        assert (segments.labels[1024:, 1024:] >= 0).all() and segments.missing == 8
        lm = LabelMap.blank(LabelSchema.from_names(["a", "b"]), 1100, 1100)
        lm.paint_segments(segments.labels, [(1050, 1050), (1090, 1090)], 5, 1, boxes=segments.boxes)
        assert (lm.array[1024:, 1024:] == 1).any() and (lm.array[:1024] == 255).all()
        lm.paint_segments(segments.labels, [(20, 20)], 5, 0, boxes=segments.boxes)
        assert not (lm.array == 0).any()  # no segment there yet: nothing painted
        assert smart.wait_idle(60) and len(pending) == 1
        pending.pop()()
        assert segments.ready_at(20, 20)  # the tile the brush moved to came next
        while not segments.complete:
            assert smart.wait_idle(60) and len(pending) == 1
            pending.pop()()
        assert (segments.labels >= 0).all()
        assert len(np.unique(segments.labels)) == len(segments.boxes)
        assert messages[-1].startswith("Superpixels ready")
        smart.forget(1)
        assert smart.superpixels(1, image) is None  # forgotten: computed again
        assert smart.wait_idle(60) and len(pending) == 1
    finally:
        smart.shutdown()
    pending.pop()()  # a tile that lands after the window closed starts no other
    assert not pending and smart.superpixels(2, image) is None


def test_a_grabcut_result_landing_during_a_stroke_is_a_step_of_its_own(window, qtbot):
    """GrabCut runs in the background while the user keeps painting: its result waits
    for the stroke to end, so Esc on the stroke keeps it and undo takes it alone."""
    key(window, Qt.Key.Key_2)
    key(window, Qt.Key.Key_G)
    drag(window.canvas, [(10, 10), (50, 50)])
    key(window, Qt.Key.Key_B)
    window.canvas.set_brush_radius(1)
    view = window.canvas.viewport()
    press(window.canvas, 2, 60)
    QTest.mouseMove(view, at(window.canvas, 10, 60))
    assert window.canvas.smart.wait_idle(30)
    qtbot.waitUntil(lambda: "GrabCut" in window.statusBar().currentMessage(), timeout=5000)
    for _ in range(5):
        qtbot.wait(10)
    assert window.document.in_stroke and not (labels(window)[20:40, 20:40] == 1).any()
    key(window, Qt.Key.Key_Escape)  # aborts the brush stroke only
    release(window.canvas, 10, 60)
    assert (labels(window)[25:35, 25:35] == 1).all() and (labels(window)[60, 2:11] == U).all()
    assert window.document.history.undo_count == 1
    window.actions_["undo"].trigger()
    assert not (labels(window) == 1).any()


def test_clean_up_honours_protected_painting(window):
    lab = labels(window)
    lab[:, :] = 2  # membrane everywhere ...
    lab[10:40, 10:40] = 1  # ... a cell ...
    lab[20:23, 20:23] = 2  # ... with a membrane hole, which "only unlabelled" protects
    lab[50:52, 50:52] = U
    set_protection(window, U)
    key(window, Qt.Key.Key_2)
    window.cleanup_spin.setValue(20)
    window.actions_["cleanup_image"].trigger()
    assert (labels(window)[20:23, 20:23] == 2).all()
    key(window, Qt.Key.Key_K)  # the outline tool too
    drag(window.canvas, [(5, 5), (45, 5), (45, 45), (5, 45)])
    assert (labels(window)[20:23, 20:23] == 2).all()
    set_protection(window, 2)  # "only over membrane": now the hole may change
    window.actions_["cleanup_image"].trigger()
    assert (labels(window)[20:23, 20:23] == 1).all()


def test_clean_up_while_the_brush_is_held_ends_the_stroke_first(window):
    key(window, Qt.Key.Key_3)
    window.canvas.set_brush_radius(4)
    view = window.canvas.viewport()
    press(window.canvas, 5, 5)
    QTest.mouseMove(view, at(window.canvas, 30, 5))
    window.cleanup_spin.setValue(4)
    window.actions_["cleanup_image"].trigger()
    for x in range(35, 60, 5):  # the button is still held, but the gesture is over
        QTest.mouseMove(view, at(window.canvas, x, 5))
    key(window, Qt.Key.Key_Escape)
    release(window.canvas, 55, 5)
    assert window.document.history.undo_count == 1  # the stroke; clean-up found nothing
    assert (labels(window)[3:8, 5:31] == 2).all() and (labels(window)[:, 40:] == U).all()


def test_the_protection_label_follows_a_renamed_class(window):
    set_protection(window, 1)
    assert "cell" in window.protect_label.text()
    window.class_panel.rename_requested.emit(1, "nucleus")
    assert "nucleus" in window.protect_label.text() and "cell" not in window.protect_label.text()


# --- found by an audit of the smart tools on odd images (2026-11-30) ----------------------
def test_a_grabcut_result_leaves_what_was_painted_while_it_ran(window, qtbot):
    """GrabCut saw the labels of its release; a membrane stroke painted inside the box
    meanwhile was turned into the GrabCut's class when the result landed."""
    key(window, Qt.Key.Key_2)  # cell
    key(window, Qt.Key.Key_G)
    smart = window.canvas.smart
    gate = __import__("threading").Event()
    real = smart.submit

    def held(image_id, what, run, done):  # GrabCut waits until the stroke is painted
        def waiting():
            gate.wait(10)
            return run()

        return real(image_id, what, waiting, done)

    smart.submit = held
    drag(window.canvas, [(12, 12), (30, 30), (47, 47)])
    key(window, Qt.Key.Key_3)  # membrane
    key(window, Qt.Key.Key_B)
    window.canvas.set_brush_radius(1)
    drag(window.canvas, [(25, 30), (35, 30)])
    stroke = labels(window) == 2
    assert stroke.sum() > 10
    gate.set()
    assert smart.wait_idle(30)
    qtbot.waitUntil(lambda: (labels(window) == 1).any(), timeout=5000)
    assert (labels(window)[stroke] == 2).all()


def test_undo_while_dragging_a_smart_tool_takes_back_that_gesture_alone(window, qtbot):
    """A GrabCut box, a superpixel or a proposal-brush drag had no gesture of its own to
    Undo: it was dropped and the step before undone too (or the redo history lost)."""
    window.canvas.set_brush_radius(1)
    drag(window.canvas, [(2, 60), (6, 60)])  # a step before
    before = labels(window).copy()
    doc, smart = window.document, window.canvas.smart
    # superpixels ready, so that a press starts a drag at once
    qtbot.waitUntil(lambda: smart.superpixels(doc.image_id, doc.image) is not None, timeout=30000)
    for tool in (Qt.Key.Key_G, Qt.Key.Key_S):
        key(window, tool)
        press(window.canvas, 12, 12)
        QTest.mouseMove(window.canvas.viewport(), at(window.canvas, 40, 40))
        QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        release(window.canvas, 40, 40)
        window.canvas.smart.wait_idle(30)
        assert (labels(window) == before).all(), tool
        assert window.document.history.undo_count == 1


def test_clean_up_inside_an_outline_keeps_an_object_the_outline_cuts():
    """The part of a big object inside the outline was taken for a speck and erased."""
    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema

    lm = LabelMap.blank(LabelSchema.from_names(["background", "cell"]), 64, 64)
    lm.array[5:60, 0:40] = 1  # one object of 2,200 px
    lm.array[50, 55] = 1  # and one speck
    within = np.zeros((64, 64), bool)
    within[20:56, 37:60] = True
    lm.remove_specks(1, 64, within=within)
    assert (lm.array[5:60, 0:40] == 1).all()
    assert lm.array[50, 55] == U


def test_smart_tools_see_a_float_picture_with_nan_pixels():
    """One NaN made every percentile NaN: the picture turned black for GrabCut and the
    superpixels (a plain grid)."""
    from annotator.core.smart import grabcut, to_uint8_rgb

    image = np.full((64, 64), 0.1, np.float32)
    image[20:40, 20:40] = 0.9
    image[0, 0] = np.nan
    image[0, 1] = np.inf
    shown = to_uint8_rgb(image)
    assert shown[30, 30, 0] == 255 and shown[5, 5, 0] == 0 and shown[0, 0, 0] == 0
    region = np.zeros((64, 64), bool)
    region[10:50, 10:50] = True
    found = grabcut(image, region)
    square = np.zeros((64, 64), bool)
    square[20:40, 20:40] = True
    assert (found & square).sum() / (found | square).sum() > 0.9


def test_grabcut_under_only_over_a_class_may_take_that_class_s_pixels():
    """Pixels of every other class were sure background, those of the protected class
    included: under "only over membrane" GrabCut could never change anything."""
    from annotator.core.smart import grabcut

    image = np.full((64, 64), 30, np.uint8)
    image[20:40, 20:40] = 200
    labels_ = np.full((64, 64), 2, np.uint8)  # all membrane
    region = np.zeros((64, 64), bool)
    region[10:50, 10:50] = True
    assert not grabcut(image, region, labels=labels_, value=1).any()
    found = grabcut(image, region, labels=labels_, value=1, open_label=2)
    assert found[25:35, 25:35].all() and not found[12:15, 12:15].any()


def test_a_project_past_256_classes_shows_a_proposal_of_an_older_model(window):
    from annotator.core.schema import LabelSchema
    from annotator.gui.proposal_layers import proposal_table

    table = proposal_table(LabelSchema.from_names([f"k{i}" for i in range(300)]))
    assert table.shape == (256,) and table[TRANSPARENT] == 0


def test_a_big_clean_up_runs_off_the_gui_thread_and_leaves_what_was_painted_meanwhile(
    window, qtbot, monkeypatch
):
    """Clean-up of a 16384 x 16384 map froze the window 17 s. Past a size it now runs
    on the worker, says so, and lands as one undo step; a stroke painted while it ran
    keeps its pixels, the rest of the clean-up lands around it."""
    monkeypatch.setattr("annotator.gui.smart_tools.BACKGROUND_CLEANUP_PIXELS", 100)
    lab = labels(window)
    lab[10:50, 10:50] = 1
    lab[20:22, 20:22] = U  # a hole
    lab[30:32, 30:32] = U  # another
    lab[55:57, 55:57] = 1  # a speck
    gate = hold_background_jobs(window)
    window.cleanup_spin.setValue(10)
    key(window, Qt.Key.Key_2)  # class "cell"
    window.actions_["cleanup_image"].trigger()
    assert "Cleaning up" in window.statusBar().currentMessage()
    assert (labels(window)[20:22, 20:22] == U).all()  # nothing yet: the GUI went on
    key(window, Qt.Key.Key_3)  # membrane, painted over the second hole meanwhile
    key(window, Qt.Key.Key_B)
    window.canvas.set_brush_radius(0)
    drag(window.canvas, [(30, 30), (31, 30)])
    assert (labels(window)[30, 30:32] == 2).all()
    gate.set()
    assert window.canvas.smart.wait_idle(30)
    qtbot.waitUntil(lambda: (labels(window)[20:22, 20:22] == 1).all(), timeout=5000)
    lab = labels(window)
    assert (lab[55:57, 55:57] == U).all()
    assert (lab[30, 30:32] == 2).all() and (lab[31, 30:32] == 1).all()
    assert window.document.history.undo_count == 2  # the stroke, then the clean-up
    assert "Cleaned up" in window.statusBar().currentMessage()
    window.actions_["undo"].trigger()
    assert (labels(window)[20:22, 20:22] == U).all() and (labels(window)[30, 30:32] == 2).all()


def test_clean_ups_queued_in_the_background_each_land(window, qtbot, monkeypatch):
    """A second clean-up asked while the first waits is a command of its own: it must
    not replace the first, as a newer GrabCut box replaces an older one."""
    monkeypatch.setattr("annotator.gui.smart_tools.BACKGROUND_CLEANUP_PIXELS", 100)
    lab = labels(window)
    lab[0:20, 0:20] = 0
    lab[5:7, 5:7] = U
    lab[10:30, 40:60] = 1
    lab[15:17, 45:47] = U
    lab[40:60, 40:60] = 2
    lab[45:47, 45:47] = U
    gate = hold_background_jobs(window)
    window.cleanup_spin.setValue(10)
    for k in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):  # the first runs, two wait
        key(window, k)
        window.actions_["cleanup_image"].trigger()
    gate.set()
    assert window.canvas.smart.wait_idle(30)
    qtbot.waitUntil(lambda: window.document.history.undo_count == 3, timeout=5000)
    lab = labels(window)
    assert (lab[5:7, 5:7] == 0).all() and (lab[15:17, 45:47] == 1).all()
    assert (lab[45:47, 45:47] == 2).all()


def test_a_background_clean_up_of_an_image_closed_meanwhile_is_dropped(window, qtbot, monkeypatch):
    monkeypatch.setattr("annotator.gui.smart_tools.BACKGROUND_CLEANUP_PIXELS", 100)
    lab = labels(window)
    lab[10:30, 10:30] = 1
    lab[15:17, 15:17] = U
    first = window.document
    gate = hold_background_jobs(window)
    key(window, Qt.Key.Key_2)
    window.actions_["cleanup_image"].trigger()
    window.actions_["next"].trigger()
    qtbot.waitUntil(lambda: window.document is not None and window.document is not first)
    gate.set()
    assert window.canvas.smart.wait_idle(30)
    for _ in range(5):
        qtbot.wait(10)
    assert window.document.history.undo_count == 0
    assert (first.label_map.array[15:17, 15:17] == U).all()


def test_a_superpixel_stroke_before_they_are_computed_says_it_painted_nothing(window):
    """The first stroke of the superpixel brush on an image painted nothing, and only
    "Computing superpixels…" and then "Superpixels ready" were said."""
    smart = window.canvas.smart
    smart.superpixels = lambda *_args, **_kw: None  # still being computed
    key(window, Qt.Key.Key_S)
    before = labels(window).copy()
    drag(window.canvas, [(5, 5), (30, 30)])
    assert np.array_equal(labels(window), before)
    assert window.statusBar().currentMessage().startswith("This stroke painted nothing")


def test_superpixel_progress_does_not_replace_a_tools_result(window):
    """On a big image the tiles' progress overwrote "GrabCut found nothing to change" or
    a clean-up's result within a second: a result was never seen. Progress goes to the
    activity field beside the status bar's message."""
    smart = window.canvas.smart
    smart.notify("GrabCut found nothing to change")
    smart.progress("Computing superpixels… 3 of 192 tiles ready")
    assert window.statusBar().currentMessage() == "GrabCut found nothing to change"
    assert window.activity.text == "Computing superpixels… 3 of 192 tiles ready"


def test_a_grabcut_whose_image_was_left_says_it_was_dropped(window, qtbot):
    """A GrabCut still running when the user paged away (and back) landed nowhere, and
    the last word about it stayed "GrabCut…"."""
    gate = hold_background_jobs(window)
    key(window, Qt.Key.Key_2)
    key(window, Qt.Key.Key_G)
    drag(window.canvas, [(12, 12), (47, 47)])
    first = window.document.image_id
    window.go(1)
    qtbot.waitUntil(lambda: window.document is not None and window.document.image_id != first)
    window.go(-1)
    qtbot.waitUntil(lambda: window.document is not None and window.document.image_id == first)
    gate.set()
    assert window.canvas.smart.wait_idle(30)
    qtbot.waitUntil(
        lambda: (
            window.statusBar().currentMessage().startswith("GrabCut dropped: its image was left")
        ),
        timeout=5000,
    )
    assert not (labels(window) == 1).any()
