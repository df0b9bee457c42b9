"""Tools that change nothing say so in the status bar, and push no undo step; the
image list shows an edited image "in progress" at once, whatever tool made the edit."""

from __future__ import annotations

import numpy as np
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
