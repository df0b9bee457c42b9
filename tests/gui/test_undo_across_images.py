"""Paint, Page Down, Page Up, Ctrl+Z: the undo history of the image left comes back with
it (it was lost: nothing to undo, Edit > Undo greyed out)."""

from __future__ import annotations

import numpy as np
from guihelpers import drag
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.core.status import ImageStatus

CTRL = Qt.KeyboardModifier.ControlModifier


def _on_disk(window, image_id):
    project = window.session.project
    mask = project.load_mask(project.image(image_id))
    return (
        np.full(window.document.label_map.shape, project.schema.unlabelled)
        if mask is None
        else mask
    )


def test_undo_and_redo_after_page_down_and_page_up(window, qtbot):
    window.autosave_delay_ms = 10
    c = window.canvas
    first = window.document.image_id
    blank = window.document.label_map.copy_array()
    QTest.keyClick(c, Qt.Key.Key_2)  # class "cell"
    drag(c, [(10, 10), (40, 20)])
    painted = window.document.label_map.copy_array()
    assert painted[10, 10] == 1
    QTest.keyClick(c, Qt.Key.Key_Z, CTRL)  # undone before leaving: a redo step
    assert window.image_list.record(first).status is ImageStatus.NEW
    drag(c, [(10, 30), (40, 30)])  # and another stroke: one undo step, no redo
    second = window.document.label_map.copy_array()
    QTest.keyClick(c, Qt.Key.Key_PageDown)
    assert window.document.image_id != first
    QTest.keyClick(c, Qt.Key.Key_PageUp)
    assert window.document.image_id == first
    assert window.actions_["undo"].isEnabled() and not window.actions_["redo"].isEnabled()
    QTest.keyClick(c, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(window.document.label_map.array, blank)
    assert window.actions_["redo"].isEnabled()
    qtbot.waitUntil(lambda: np.array_equal(_on_disk(window, first), blank), timeout=5000)
    # leave again with a redo step: it comes back too
    QTest.keyClick(c, Qt.Key.Key_PageDown)
    QTest.keyClick(c, Qt.Key.Key_PageUp)
    assert window.actions_["redo"].isEnabled() and not window.actions_["undo"].isEnabled()
    QTest.keyClick(c, Qt.Key.Key_Y, CTRL)
    np.testing.assert_array_equal(window.document.label_map.array, second)
    assert window.image_list.record(first).status is ImageStatus.IN_PROGRESS
    qtbot.waitUntil(lambda: np.array_equal(_on_disk(window, first), second), timeout=5000)


def test_undo_comes_back_after_a_rename_or_a_new_colour_but_not_after_a_move(window):
    """Renaming or recolouring a class moves no label value: the image left keeps its
    undo. Moving a class in the list rewrites every map: its undo is dropped."""
    c, panel = window.canvas, window.class_panel
    first = window.document.image_id
    QTest.keyClick(c, Qt.Key.Key_2)  # class "cell"
    drag(c, [(10, 10), (40, 20)])
    QTest.keyClick(c, Qt.Key.Key_PageDown)
    panel.rename_requested.emit(1, "cells")
    panel.recolour_requested.emit(0, "#123456")
    assert window.session.schema.names[1] == "cells"
    QTest.keyClick(c, Qt.Key.Key_PageUp)
    assert window.document.image_id == first
    assert window.actions_["undo"].isEnabled()
    QTest.keyClick(c, Qt.Key.Key_PageDown)
    panel.list.setCurrentRow(1)  # cells, moved up to id 0: every map rewritten
    panel.up_action.trigger()
    assert window.session.schema.names[0] == "cells"
    QTest.keyClick(c, Qt.Key.Key_PageUp)
    assert window.document.image_id == first
    assert not window.actions_["undo"].isEnabled()
