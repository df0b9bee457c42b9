"""PgUp/PgDown, the arrows and digits in a number box change its value, not the image.

The window's Next/Previous image shortcuts are on PgDown/PgUp; a spin box does not claim
those keys (its ShortcutOverride was let through unaccepted), so PgDown in the Contrast
dialog's Low box or the toolbar's Radius box moved to the next image instead.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def _dialog(window, qtbot):
    window.show_contrast()
    dialog = window.contrast_dialog
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return dialog


def test_page_keys_in_the_contrast_boxes_change_the_value(window, qtbot):
    dialog = _dialog(window, qtbot)
    image = window.document.image_id
    for box in (dialog.low, dialog.high):
        box.setFocus()
        before = box.value()
        QTest.keyClick(box, Qt.Key.Key_PageUp)
        assert box.value() > before
        QTest.keyClick(box, Qt.Key.Key_PageDown)
        QTest.keyClick(box, Qt.Key.Key_PageDown)
        low = box.value()
        assert low < before
        QTest.keyClick(box, Qt.Key.Key_Up)
        assert box.value() > low
        assert window.document.image_id == image


def test_page_keys_arrows_and_digits_in_the_radius_box(window, qtbot):
    spin = window.radius_spin
    spin.setFocus()
    image = window.document.image_id
    spin.setValue(spin.minimum())
    QTest.keyClick(spin, Qt.Key.Key_PageDown)  # at the minimum: nothing moves
    assert spin.value() == spin.minimum() and window.document.image_id == image
    QTest.keyClick(spin, Qt.Key.Key_PageUp)
    assert spin.value() > spin.minimum() and window.document.image_id == image
    QTest.keyClick(spin, Qt.Key.Key_Down)
    QTest.keyClick(spin, Qt.Key.Key_Up)
    assert window.document.image_id == image
    value = window.canvas.current_value
    spin.selectAll()
    QTest.keyClicks(spin, "9")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == 9 and window.canvas.current_value == value
    spin.setFocus()
    QTest.keyClick(spin, Qt.Key.Key_E)  # a letter is still the window's
    assert window.canvas.tool.name == "eraser"


def test_a_point_in_a_box_of_whole_numbers_is_the_windows_opacity_key(window, qtbot):
    """A box of whole numbers refuses '.' and ',': the key was lost in it, where it is
    the window's label opacity; a box of decimals keeps it for its number."""
    spin = window.cleanup_spin
    spin.setFocus()
    before = window.opacity_slider.value()
    QTest.keyClick(spin, Qt.Key.Key_Comma, Qt.KeyboardModifier.NoModifier)
    assert window.opacity_slider.value() < before
    tolerance = window.tolerance_spin
    tolerance.setEnabled(True)
    tolerance.setFocus()
    now = window.opacity_slider.value()
    QTest.keyClick(tolerance, Qt.Key.Key_Comma)
    assert window.opacity_slider.value() == now
