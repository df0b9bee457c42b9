"""A polygon's Enter, Escape and Backspace reach it wherever the focus is in the window;
Space pans from a floating panel too."""

from __future__ import annotations

import pytest
from guihelpers import at, click_class_row, drag
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget

U = 255
L, NM = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


def _polygon(window, points) -> None:
    canvas = window.canvas
    canvas.set_tool("polygon")
    for p in points:
        QTest.mouseClick(canvas.viewport(), L, NM, at(canvas, *p))


@pytest.mark.parametrize("where", ["class list", "opacity slider"])
def test_enter_closes_a_polygon_after_a_click_in_a_panel(window, where):
    """Enter went to the class list (or the slider) and did nothing: the polygon could
    only be closed by a click on the picture, which added a vertex."""
    _polygon(window, [(10, 10), (30, 10), (30, 30), (10, 30)])
    if where == "class list":
        widget = click_class_row(window, 2)
    else:
        widget = window.opacity_slider
        widget.setFocus()
    QTest.keyClick(widget, Qt.Key.Key_Return)
    lab = window.document.label_map.array
    assert (lab[12:29, 12:29] == window.canvas.current_value).all()
    assert not window.canvas.tool.busy


def test_backspace_and_escape_reach_the_polygon_from_the_class_list(window):
    _polygon(window, [(10, 10), (30, 10), (30, 30)])
    lst = click_class_row(window, 1)
    QTest.keyClick(lst, Qt.Key.Key_Backspace)
    assert len(window.canvas.tool.points) == 2
    QTest.keyClick(lst, Qt.Key.Key_Escape)
    assert not window.canvas.tool.busy
    assert (window.document.label_map.array == U).all()


def test_a_number_box_keeps_its_keys_during_a_polygon(window):
    _polygon(window, [(10, 10), (30, 10), (30, 30)])
    box = window.radius_spin
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_Backspace)
    assert len(window.canvas.tool.points) == 3


def test_space_pans_from_a_floating_class_panel(window):
    """A floating dock is a window of its own: Space there ticked a class's box off and
    the drag painted."""
    dock = window.class_panel.parentWidget()
    while not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    dock.setFloating(True)
    dock.show()
    lst = click_class_row(window, 1)
    canvas = window.canvas
    QTest.mouseMove(canvas.viewport(), at(canvas, 30, 30))
    before = canvas.mapToScene(QPoint(100, 100))
    QTest.keyPress(lst, Qt.Key.Key_Space)
    vp = canvas.viewport()
    QTest.mousePress(vp, L, NM, QPoint(150, 150))
    QTest.mouseMove(vp, QPoint(200, 190))
    QTest.mouseRelease(vp, L, NM, QPoint(200, 190))
    QTest.keyRelease(lst, Qt.Key.Key_Space)
    assert canvas.mapToScene(QPoint(100, 100)) != before
    assert (window.document.label_map.array == U).all()
    assert window.class_panel.hidden() == frozenset()


@pytest.mark.parametrize("how", ["eraser", "right button"])
def test_erasing_with_the_labels_hidden_shows_them(window, how):
    """The labels hidden (H), an erasing gesture went on unseen."""
    canvas = window.canvas
    window.document.label_map.array[:, :] = 1
    window.actions_["toggle_labels"].setChecked(False)
    if how == "eraser":
        canvas.set_tool("eraser")
        drag(canvas, [(10, 10), (20, 10)])
    else:
        drag(canvas, [(10, 10), (20, 10)], button=Qt.MouseButton.RightButton)
    assert window.actions_["toggle_labels"].isChecked()
    assert "shown again" in window.statusBar().currentMessage()


def test_a_dialog_keeps_its_enter_and_escape_during_a_polygon(window, qtbot):
    """Enter in the Add class box closed the polygon instead of adding the class (the
    dialog's line edit passes Enter on to the dialog, which is in the window)."""
    from PySide6.QtWidgets import QDialog, QInputDialog, QLineEdit

    _polygon(window, [(10, 10), (30, 10), (30, 30)])
    for key, ended in (
        (Qt.Key.Key_Return, QDialog.DialogCode.Accepted),
        (Qt.Key.Key_Escape, QDialog.DialogCode.Rejected),
    ):
        dialog = QInputDialog(window)
        dialog.setLabelText("Class name:")
        dialog.open()  # (window-modal, as the Add class box)
        with qtbot.waitActive(dialog):
            dialog.activateWindow()
        field = dialog.findChild(QLineEdit)
        field.setFocus()
        qtbot.waitUntil(lambda f=field: QApplication.focusWidget() is f)
        QTest.keyClicks(field, "cyto")
        QTest.keyClick(field, key)
        assert not dialog.isVisible()
        assert dialog.result() == ended
        assert window.canvas.tool.busy and len(window.canvas.tool.points) == 3


@pytest.mark.parametrize("where", ["name filter", "radius box"])
def test_a_text_field_or_number_box_keeps_its_enter_during_a_polygon(window, where):
    """They pass Enter on to their parent (the image list, the toolbar), which is none:
    the polygon was closed."""
    _polygon(window, [(10, 10), (30, 10), (30, 30)])
    widget = window.image_list.name_filter if where == "name filter" else window.radius_spin
    widget.setFocus()
    target = QApplication.focusWidget()
    QTest.keyClick(target, Qt.Key.Key_Return)
    QTest.keyClick(target, Qt.Key.Key_Escape)
    assert window.canvas.tool.busy and len(window.canvas.tool.points) == 3
    assert (window.document.label_map.array == U).all()


def test_the_close_ring_closes_where_it_is_drawn_at_a_high_zoom(window):
    """Every point is a pixel centre now: at zoom 12 a click 7 screen pixels from the
    first vertex, inside its 8 px ring, fell in the next pixel and added a vertex."""
    canvas = window.canvas
    canvas.set_zoom(12)
    canvas.centerOn(at(canvas, 22, 22))
    _polygon(window, [(20, 20), (24, 20), (22, 24)])
    first = at(canvas, 20, 20)
    QTest.mouseClick(canvas.viewport(), L, NM, QPoint(first.x() + 7, first.y()))
    assert not canvas.tool.busy
    assert window.document.label_map.array[21, 22] == canvas.current_value
