"""The window's keys work while the Contrast dialog (View > Contrast, non-modal) has the
focus: B, E, F, the class digits did nothing there, the dialog being a window of its
own. Its number boxes keep what one types into a number (digits, the point, minus)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

CTRL = Qt.KeyboardModifier.ControlModifier


def _dialog(window, qtbot):
    window.show_contrast()
    dialog = window.contrast_dialog
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return dialog


def test_tool_and_class_keys_reach_the_window_from_the_contrast_dialog(window, qtbot):
    dialog = _dialog(window, qtbot)
    canvas = window.canvas
    dialog.low.setFocus()
    for key, tool in ((Qt.Key.Key_E, "eraser"), (Qt.Key.Key_F, "fill"), (Qt.Key.Key_B, "brush")):
        QTest.keyClick(dialog.low, key)
        assert canvas.tool.name == tool
    dialog.shared_check.setFocus()
    QTest.keyClick(dialog.shared_check, Qt.Key.Key_E)
    assert canvas.tool.name == "eraser"
    QTest.keyClick(dialog.shared_check, Qt.Key.Key_3)  # membrane (id 2)
    assert canvas.current_value == 2
    QTest.keyClick(dialog.shared_check, Qt.Key.Key_2)
    assert canvas.current_value == 1
    assert dialog.isVisible() and QApplication.activeWindow() is dialog


def test_the_contrast_boxes_keep_the_digits_typed_into_them(window, qtbot):
    dialog = _dialog(window, qtbot)
    canvas = window.canvas
    value = canvas.current_value
    box = dialog.high
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_A, CTRL)  # the box's select all
    QTest.keyClicks(box, "-3.5")
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == -3.5
    assert canvas.current_value == value  # 3 chose no class
    assert dialog.isVisible()
    QTest.keyClick(box, Qt.Key.Key_E)  # a letter is the window's
    assert canvas.tool.name == "eraser"
    QTest.keyClick(box, Qt.Key.Key_Escape)  # still closes the dialog
    assert not dialog.isVisible()
