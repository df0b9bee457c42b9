"""Tools that change nothing say so in the status bar, and push no undo step; the
image list shows an edited image "in progress" at once, whatever tool made the edit."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import SIZE, click, drag
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.proposal import Proposal

U = 255


def show_proposal(window, mask: np.ndarray, version: int = 3) -> Proposal:
    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.5, version)
    window.loop.layers.show(window.document, proposal, window.session.schema)
    window.loop.update_enabled()
    return proposal


def key(window, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.canvas, k, modifier)


def said(window) -> str:
    return window.statusBar().currentMessage()


def set_protection(window, data) -> None:
    combo = window.protection
    combo.setCurrentIndex(combo.findData(data))


def nothing_pushed(window) -> bool:
    return window.document.history.undo_count == 0 and not window.actions_["undo"].isEnabled()


def test_accept_with_nothing_left_to_accept_says_so(window):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, 32:] = 2
    show_proposal(window, mask)
    window.document.label_map.array[:] = 0  # every pixel labelled already
    key(window, Qt.Key.Key_A)
    assert said(window) == (
        "Nothing left to accept: every pixel the proposal covers is already labelled"
    )
    assert nothing_pushed(window)
    key(window, Qt.Key.Key_3)  # membrane, which the proposal gives the right half
    key(window, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert said(window).startswith("Nothing left to accept for “membrane”: every pixel")
    key(window, Qt.Key.Key_2)  # cell: the proposal gives it nothing
    key(window, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert said(window) == ("Nothing to accept for “cell”: the proposal gives that class no pixel")
    set_protection(window, 1)  # only over cell: no pixel is labelled cell
    key(window, Qt.Key.Key_A)
    assert said(window) == "Nothing to accept over “cell”: no pixel is labelled “cell”"
    window.document.label_map.array[:] = U
    window.document.label_map.array[:, :32] = 0  # background, as the proposal says there
    set_protection(window, 0)
    key(window, Qt.Key.Key_A)
    assert said(window) == (
        "Nothing to accept over “background”: the proposal says “background” too "
        "wherever the pixels are labelled “background”"
    )
    assert nothing_pushed(window)
    window.document.label_map.array[:] = 255
    set_protection(window, None)
    key(window, Qt.Key.Key_A)  # and when there is something, it is accepted as before
    assert said(window).startswith("Accepted the proposal of model v3")
    assert window.document.history.undo_count == 1


def test_a_proposal_brush_stroke_that_changes_nothing_says_so(window):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, 32:] = 2
    show_proposal(window, mask)
    window.document.label_map.array[:] = mask  # the labels are the proposal already
    key(window, Qt.Key.Key_W)
    window.canvas.set_brush_radius(3)
    drag(window.canvas, [(10, 20), (50, 20)])
    assert said(window) == (
        "The proposal brush changed nothing: where it passed the labels already match the proposal"
    )
    assert nothing_pushed(window)
    window.document.label_map.array[:, :32] = 1  # another class, but protected
    set_protection(window, U)
    drag(window.canvas, [(10, 20), (20, 20)])
    assert said(window).endswith(", or protected painting kept them")
    assert nothing_pushed(window)


def test_accept_region_outside_the_proposal_or_on_an_accepted_region_says_so(window):
    mask = np.full((SIZE, SIZE), 0, np.uint8)
    mask[5:15, 5:15] = 1
    show_proposal(window, mask)
    key(window, Qt.Key.Key_Q)
    click(window.canvas, 8, 8)
    assert (window.document.label_map.array[5:15, 5:15] == 1).all()
    assert window.document.history.undo_count == 1
    click(window.canvas, 9, 9)  # the same region again: accepted already
    assert said(window) == (
        "Nothing to accept there: this region is already labelled as the proposal says"
    )
    assert window.document.history.undo_count == 1
    click(window.canvas, SIZE + 6, 8)  # beside the image
    assert said(window).startswith("Nothing to accept there: click inside the image")
    set_protection(window, 1)  # only over cell: the background region holds none
    click(window.canvas, 40, 40)
    assert said(window) == (
        "Nothing to accept there: protected painting keeps the labels of this region "
        "(X switches it off)"
    )
    assert window.document.history.undo_count == 1


# --- a gesture that changed no pixel says why -----------------------------------------------
UNLABELLED_ONLY = "Nothing changed: Paint over is set to only unlabelled pixels (X switches it off)"
SAME_CLASS = "Nothing changed: these pixels already have that class"


def labelled_everywhere(window, value: int = 0):
    window.document.label_map.array[:] = value
    window.statusBar().clearMessage()


def test_a_brush_stroke_that_changes_nothing_says_why(window):
    """It recorded no undo step and said nothing: the user could not tell why."""
    labelled_everywhere(window, 0)  # background everywhere
    key(window, Qt.Key.Key_B)
    key(window, Qt.Key.Key_2)  # cell
    set_protection(window, U)  # only unlabelled pixels: there are none
    drag(window.canvas, [(10, 10), (20, 12), (30, 14)])
    assert said(window) == UNLABELLED_ONLY
    assert nothing_pushed(window)
    set_protection(window, 1)  # only over cell: no pixel is cell either
    drag(window.canvas, [(10, 10), (20, 10)])
    assert said(window) == (
        "Nothing changed: Paint over is set to only over “cell”, the class painted "
        "(X switches it off)"
    )
    set_protection(window, None)
    key(window, Qt.Key.Key_1)  # background over background
    drag(window.canvas, [(10, 10), (20, 10)])
    assert said(window) == SAME_CLASS
    assert nothing_pushed(window)
    drag(window.canvas, [(SIZE + 12, 10), (SIZE + 20, 30)])  # beside the image
    assert said(window) == "Nothing changed: the gesture was outside the image"
    assert nothing_pushed(window)


def test_the_eraser_over_unlabelled_pixels_says_so(window):
    labelled_everywhere(window, U)
    key(window, Qt.Key.Key_E)
    drag(window.canvas, [(10, 10), (20, 10)])
    assert said(window) == "Nothing changed: these pixels are unlabelled already"
    assert nothing_pushed(window)


def test_a_stroke_that_changes_pixels_says_nothing_of_the_kind(window):
    labelled_everywhere(window, 0)
    key(window, Qt.Key.Key_B)
    key(window, Qt.Key.Key_2)
    set_protection(window, 0)  # only over background: every pixel
    drag(window.canvas, [(10, 10), (20, 10)])
    assert window.document.history.undo_count == 1
    assert not said(window).startswith("Nothing changed")
    # the first part changed nothing, the rest did: one step, and not said
    window.document.label_map.array[:, :30] = 2
    drag(window.canvas, [(10, 40), (50, 40)])
    assert window.document.history.undo_count == 2
    assert not said(window).startswith("Nothing changed")


def test_a_gesture_that_changes_pixels_takes_the_last_nothing_changed_away(window):
    """The line stayed 10 s: over the next gesture, which did change pixels, and over a
    fill that filled 3,853 pixels after the protection was switched."""
    labelled_everywhere(window, 0)
    key(window, Qt.Key.Key_B)
    key(window, Qt.Key.Key_1)  # background over background
    drag(window.canvas, [(10, 10), (20, 10)])
    assert said(window) == SAME_CLASS
    key(window, Qt.Key.Key_2)
    drag(window.canvas, [(10, 40), (40, 40)])
    assert window.document.history.undo_count == 1
    assert said(window) == ""
    set_protection(window, U)
    key(window, Qt.Key.Key_F)
    click(window.canvas, 50, 50)
    assert said(window) == UNLABELLED_ONLY
    set_protection(window, 0)  # only over background: the fill now fills
    click(window.canvas, 50, 50)
    assert window.document.history.undo_count == 2
    assert said(window) == ""


def test_fill_polygon_and_lasso_that_change_nothing_say_why(window):
    labelled_everywhere(window, 0)
    key(window, Qt.Key.Key_2)  # cell
    set_protection(window, U)
    key(window, Qt.Key.Key_F)
    click(window.canvas, 30, 30)
    assert said(window) == UNLABELLED_ONLY
    set_protection(window, None)
    key(window, Qt.Key.Key_1)  # background over the background region
    click(window.canvas, 30, 30)
    assert said(window) == "Nothing changed: the region clicked already has that class"
    click(window.canvas, SIZE + 12, 30)
    assert said(window) == "Nothing changed: the click was outside the image"
    key(window, Qt.Key.Key_2)
    set_protection(window, U)
    key(window, Qt.Key.Key_P)
    for p in ((5, 5), (25, 5), (25, 25)):
        click(window.canvas, *p)
    key(window, Qt.Key.Key_Return)
    assert said(window) == UNLABELLED_ONLY
    window.statusBar().clearMessage()
    key(window, Qt.Key.Key_L)
    drag(window.canvas, [(5, 5), (25, 5), (25, 25), (5, 25)])
    assert said(window) == UNLABELLED_ONLY
    assert nothing_pushed(window)


def _superpixels_ready(window, qtbot) -> None:
    """The superpixel brush chosen and the open image's superpixels computed."""
    key(window, Qt.Key.Key_S)
    smart = window.canvas.smart
    click(window.canvas, 30, 30)  # starts computing them
    assert smart.wait_idle(30)
    image_id = window.document.image_id
    qtbot.waitUntil(lambda: smart._segments[image_id].complete, timeout=5000)


def test_a_superpixel_stroke_that_changes_nothing_says_why(window, qtbot):
    _superpixels_ready(window, qtbot)
    labelled_everywhere(window, 0)
    key(window, Qt.Key.Key_2)
    set_protection(window, U)
    click(window.canvas, 30, 30)
    assert said(window) == UNLABELLED_ONLY
    assert nothing_pushed(window)


# --- the image list follows the edit at once --------------------------------------------------
def listed(window) -> str:
    return window.image_list.current_text() or ""


def no_autosave(window) -> None:
    """No save lands during the test: the list must follow the edit, not the save."""
    window.autosave_delay_ms = window.autosave_max_delay_ms = 600_000


def landed(window, qtbot, timeout=10_000) -> None:
    assert window.canvas.smart.wait_idle(30)
    qtbot.waitUntil(lambda: window.document.history.undo_count == 1, timeout=timeout)


def _brush(window, qtbot):
    key(window, Qt.Key.Key_B)
    drag(window.canvas, [(10, 10), (20, 10)])


def _fill(window, qtbot):
    key(window, Qt.Key.Key_F)
    click(window.canvas, 30, 30)


def _polygon(window, qtbot):
    key(window, Qt.Key.Key_P)
    for p in ((5, 5), (25, 5), (25, 25)):
        click(window.canvas, *p)
    key(window, Qt.Key.Key_Return)


def _superpixels(window, qtbot):
    _superpixels_ready(window, qtbot)
    assert "[new]" in listed(window)
    click(window.canvas, 30, 30)


def _grabcut(window, qtbot):
    key(window, Qt.Key.Key_G)
    drag(window.canvas, [(12, 12), (30, 30), (47, 47)])
    landed(window, qtbot)


def _clean_up(window, qtbot):
    window.document.label_map.array[55:57, 55:57] = 1  # a speck (not saved: "new")
    window.cleanup_spin.setValue(10)
    window.actions_["cleanup_image"].trigger()  # removes it: nothing labelled is left
    assert window.document.history.undo_count == 1 and "[new]" in listed(window)
    window.document.label_map.array[10:40, 10:40] = 1
    window.document.label_map.array[20:22, 20:22] = U  # a hole, filled: labels remain
    window.document.history.clear()
    window.actions_["cleanup_image"].trigger()


def _big_clean_up(window, qtbot, monkeypatch):
    monkeypatch.setattr("annotator.gui.smart_tools.BACKGROUND_CLEANUP_PIXELS", 100)
    window.document.label_map.array[10:40, 10:40] = 1
    window.document.label_map.array[20:22, 20:22] = U
    window.actions_["cleanup_image"].trigger()  # on the smart tools' worker
    landed(window, qtbot)


def _proposal_tools(window, qtbot):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[5:15, 5:15] = 1
    show_proposal(window, mask)
    key(window, Qt.Key.Key_Q)
    click(window.canvas, 8, 8)


def _accept(window, qtbot):
    show_proposal(window, np.ones((SIZE, SIZE), np.uint8))
    key(window, Qt.Key.Key_A)


@pytest.mark.parametrize(
    "edit",
    [
        _brush,
        _fill,
        _polygon,
        _superpixels,
        _grabcut,
        _clean_up,
        _big_clean_up,
        _proposal_tools,
        _accept,
    ],
)
def test_the_image_list_says_in_progress_as_soon_as_an_edit_labels_pixels(
    window, qtbot, monkeypatch, edit
):
    """The list showed the status the save wrote: about a second after any edit (the
    autosave's delay), and only once a smart tool's result had landed and been saved."""
    no_autosave(window)
    key(window, Qt.Key.Key_2)
    assert "[new]" in listed(window)
    if edit is _big_clean_up:
        edit(window, qtbot, monkeypatch)
    else:
        edit(window, qtbot)
    assert window.document.label_map.labelled_count() > 0
    assert "[in progress]" in listed(window)  # at once: nothing was saved
    assert not window.session.project.mask_path(window.document.image_id).exists()


def test_undoing_every_label_of_a_new_image_lists_it_new_again(window, qtbot):
    no_autosave(window)
    drag(window.canvas, [(10, 10), (20, 10)])
    assert "[in progress]" in listed(window)
    window.actions_["undo"].trigger()  # nothing labelled, nothing ever saved: new
    assert "[new]" in listed(window)
    window.actions_["redo"].trigger()
    window.save_and_wait()  # saved with labels: in progress from now on (as stored)
    qtbot.waitUntil(lambda: window.document.record.status.value == "in_progress")
    window.actions_["undo"].trigger()
    assert "[in progress]" in listed(window)


def test_a_save_of_older_labels_landing_keeps_the_newer_status(window, qtbot):
    """The save of a generation with nothing labelled lands after a newer edit labelled
    pixels: the list keeps "in progress" (the record stored says "new")."""
    no_autosave(window)
    drag(window.canvas, [(10, 10), (20, 10)])
    window.actions_["undo"].trigger()
    saved = []
    window.session.add_saved_listener(saved.append)
    window.save_now()  # nothing labelled: stored as new
    window.actions_["redo"].trigger()
    qtbot.waitUntil(lambda: bool(saved), timeout=5000)
    assert window.session.project.image(window.document.image_id).status.value == "new"
    assert "[in progress]" in listed(window)
