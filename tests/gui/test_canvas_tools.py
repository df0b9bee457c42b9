"""Drive the real canvas with mouse and keys, check the label pixels, for every tool."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import SIZE, at, center, click, drag
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

U = 255


def labels(window) -> np.ndarray:
    return window.document.label_map.array


def key(window, k, mod=Qt.KeyboardModifier.NoModifier, widget=None) -> None:
    QTest.keyClick(widget or window.canvas, k, mod)


def test_brush_drag_paints_a_gapless_stroke_as_one_undo_step(window):
    key(window, Qt.Key.Key_2)  # class 2 = "cell" (id 1)
    window.canvas.set_brush_radius(2)
    drag(window.canvas, [(8, 10), (30, 10), (50, 12)])
    lab = labels(window)
    assert (lab[10, 8:31] == 1).all()
    assert lab[10, 5] == U and lab[20, 20] == U
    assert window.document.history.undo_count == 1


def test_right_button_with_the_brush_erases(window):
    window.canvas.set_brush_radius(4)
    drag(window.canvas, [(10, 10), (30, 10)])
    drag(window.canvas, [(20, 10)], button=Qt.MouseButton.RightButton)
    lab = labels(window)
    assert lab[10, 20] == U and lab[10, 10] == 0


def test_eraser_unlabels_pixels(window):
    window.canvas.set_brush_radius(5)
    drag(window.canvas, [(10, 30), (50, 30)])
    key(window, Qt.Key.Key_E)
    assert window.canvas.tool.name == "eraser"
    window.canvas.set_brush_radius(1)
    drag(window.canvas, [(30, 20), (30, 40)])
    lab = labels(window)
    assert lab[30, 30] == U and lab[30, 15] == 0


def test_fill_click_fills_the_region_and_edge_mode_stops_at_the_image_edges(window):
    key(window, Qt.Key.Key_F)
    window.edges_check.setChecked(True)
    window.tolerance_spin.setValue(20)
    key(window, Qt.Key.Key_3)  # membrane, id 2
    click(window.canvas, 30, 30)
    lab = labels(window)
    assert (lab[20:40, 20:40] == 2).all()
    assert (lab != U).sum() == 400
    window.edges_check.setChecked(False)
    key(window, Qt.Key.Key_1)
    click(window.canvas, 5, 5)
    assert (labels(window) != U).all()


def test_fill_to_edges_measures_from_the_mean_around_the_click(window):
    """A noisy pixel clicked (here 60 brighter than the square it is in): the fill
    measured from it alone filled that pixel; from the 5 x 5 mean around the click it
    fills the square, the clicked pixel too."""
    image = window.document.image
    image[30, 30] = 255  # a bright speck in the square of 200
    key(window, Qt.Key.Key_F)
    window.edges_check.setChecked(True)
    window.tolerance_spin.setValue(20)
    key(window, Qt.Key.Key_3)  # membrane, id 2
    click(window.canvas, 30, 30)
    lab = labels(window)
    assert (lab[20:40, 20:40] == 2).all() and (lab != U).sum() == 400


def test_polygon_clicks_then_enter_fills_the_outline(window):
    key(window, Qt.Key.Key_P)
    for x, y in [(10, 10), (40, 10), (40, 30), (10, 30)]:
        click(window.canvas, x, y)
    assert (labels(window) == U).all()  # nothing until it is closed
    key(window, Qt.Key.Key_Return)
    lab = labels(window)
    assert (lab[10:31, 10:41] == 0).all()
    assert lab[9, 20] == U and lab[31, 20] == U


def test_a_polygon_of_two_vertices_closed_stays_open_and_says_why(window):
    """Enter on two vertices dropped them without a word; a polygon left unclosed for
    another image said so, and the image's name took that line away at once."""
    key(window, Qt.Key.Key_P)
    click(window.canvas, 10, 10)
    click(window.canvas, 40, 10)
    key(window, Qt.Key.Key_Return)
    said = window.statusBar().currentMessage()
    assert (
        said == "A polygon needs 3 vertices, this one has 2: click to add one more (Esc drops it)"
    )
    assert (labels(window) == U).all()
    click(window.canvas, 40, 30)  # the third vertex: the outline was kept
    key(window, Qt.Key.Key_Return)
    assert labels(window)[12, 35] == 0
    click(window.canvas, 10, 40)
    window.go(1)
    assert window.statusBar().currentMessage().startswith("The polygon not closed (1 vertex)")


def test_polygon_double_click_closes_and_escape_cancels(window):
    key(window, Qt.Key.Key_P)
    key(window, Qt.Key.Key_2)
    for x, y in [(5, 5), (20, 5), (5, 20)]:
        click(window.canvas, x, y)
    # a real double click is press, release, double-click, release
    QTest.mouseDClick(
        window.canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(window.canvas, 5, 20),
    )
    assert labels(window)[8, 8] == 1
    click(window.canvas, 40, 40)
    click(window.canvas, 60, 40)
    key(window, Qt.Key.Key_Escape)
    click(window.canvas, 50, 60)
    assert len(window.canvas.tool.points) == 1  # a new outline started
    assert labels(window)[45, 50] == U


def test_lasso_drag_fills_the_enclosed_area(window):
    key(window, Qt.Key.Key_L)
    drag(window.canvas, [(10, 10), (50, 10), (50, 50), (10, 50), (10, 12)])
    lab = labels(window)
    assert (lab[12:49, 12:49] == 0).all()
    assert lab[5, 5] == U
    assert window.document.history.undo_count == 1


def test_escape_during_a_stroke_restores_the_pixels(window):
    vp = window.canvas.viewport()
    QTest.mousePress(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(window.canvas, 10, 10)
    )
    QTest.mouseMove(vp, at(window.canvas, 40, 40))
    assert labels(window)[25, 25] == 0
    key(window, Qt.Key.Key_Escape)
    QTest.mouseRelease(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(window.canvas, 40, 40)
    )
    assert (labels(window) == U).all()
    assert window.document.history.undo_count == 0


def test_undo_and_redo_shortcuts(window):
    drag(window.canvas, [(10, 10), (20, 10)])
    drag(window.canvas, [(10, 40), (20, 40)])
    after = labels(window).copy()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels(window)[40, 15] == U and labels(window)[10, 15] == 0
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (labels(window) == U).all()
    key(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    key(
        window,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert (labels(window) == after).all()


def test_tool_and_brush_keys(window):
    c = window.canvas
    for k, name in [
        (Qt.Key.Key_E, "eraser"),
        (Qt.Key.Key_F, "fill"),
        (Qt.Key.Key_P, "polygon"),
        (Qt.Key.Key_L, "lasso"),
        (Qt.Key.Key_B, "brush"),
    ]:
        key(window, k)
        assert c.tool.name == name
        assert window.actions_[f"tool_{name}"].isChecked()
    c.set_brush_radius(10)
    key(window, Qt.Key.Key_BracketRight)
    assert c.brush_radius == 12 and window.radius_spin.value() == 12
    key(window, Qt.Key.Key_BracketLeft)
    key(window, Qt.Key.Key_BracketLeft)
    assert c.brush_radius < 12


def test_wheel_zoom_keeps_the_pixel_under_the_cursor(window, qtbot):
    c = window.canvas
    pos = at(c, 20, 30)
    before = c.mapToScene(pos)
    zoom = c.zoom
    c.zoom_by(2.0, QPointF(pos))
    assert c.zoom == zoom * 2
    after = c.mapToScene(pos)
    assert abs(after.x() - before.x()) < 0.5 and abs(after.y() - before.y()) < 0.5


def test_space_drag_pans_without_painting(window):
    c = window.canvas
    vp = c.viewport()
    before = c.mapToScene(QPoint(100, 100))
    QTest.keyPress(c, Qt.Key.Key_Space)
    QTest.mousePress(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 200)
    )
    QTest.mouseMove(vp, QPoint(250, 230))
    QTest.mouseRelease(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(250, 230)
    )
    QTest.keyRelease(c, Qt.Key.Key_Space)
    after = c.mapToScene(QPoint(100, 100))
    assert after.x() < before.x() and after.y() < before.y()
    assert (labels(window) == U).all()


def test_overlay_shows_the_class_colour_and_hides_with_h(window, qtbot):
    c = window.canvas
    window.opacity_slider.setValue(100)
    c.set_brush_radius(6)
    drag(c, [(32, 32)])
    qtbot.wait(10)
    pos = at(c, 32, 32)
    colour = QColor(c.viewport().grab().toImage().pixel(pos))
    expected = QColor(window.session.schema.classes[0].color)
    assert abs(colour.red() - expected.red()) < 8 and abs(colour.green() - expected.green()) < 8
    key(window, Qt.Key.Key_H)
    qtbot.wait(10)
    colour = QColor(c.viewport().grab().toImage().pixel(pos))
    assert colour.red() > 150  # the bright image square shows again


def test_stroke_repaints_only_its_box(window, monkeypatch):
    boxes = []
    monkeypatch.setattr(window.canvas.overlay, "update_box", boxes.append)
    window.document.remove_repaint_listener(window.canvas.overlay.update_box)
    window.document.add_repaint_listener(window.canvas.overlay.update_box)
    window.canvas.set_brush_radius(2)
    drag(window.canvas, [(10, 10), (12, 10)])
    assert boxes and all(b.width <= 8 and b.height <= 6 for b in boxes)


def test_status_bar_shows_position_value_class_and_zoom(window):
    drag(window.canvas, [(5, 5)])
    QTest.mouseMove(window.canvas.viewport(), at(window.canvas, 5, 5))
    assert window.pos_label.text() == "x 5  y 5"
    assert window.value_label.text() == "value 30"
    assert window.class_label.text() == "class background"
    assert window.zoom_label.text().startswith("zoom ")


def test_status_bar_reads_the_pixel_again_when_it_changes_under_a_still_cursor(window):
    window.canvas.cursor_moved.emit(5, 5)  # the mouse stops over pixel (5, 5)
    assert window.class_label.text() == "class unlabelled"
    key(window, Qt.Key.Key_2)  # class "cell"
    window.document.assign(1)  # e.g. a proposal accepted from the keyboard
    assert window.class_label.text() == "class cell"
    window.session.rename_class(1, "nucleus")
    window.show_schema(window.session.schema)
    assert window.class_label.text() == "class nucleus"
    window.undo()
    assert window.class_label.text() == "class unlabelled"
    window.go(1)  # another image: the old pixel is not read on it
    assert window.pos_label.text() == "" and window.class_label.text() == ""


def test_fit_to_window_shows_a_strip_from_its_start_at_a_readable_zoom(qtbot):
    """A 20000 x 300 picture was fitted whole: a 602 x 9 px strip."""
    from annotator.gui.canvas import MIN_FIT_SHARE, LabelCanvas, fit_zoom

    assert fit_zoom(602 / 20000, 20000, 300, 602, 620) == pytest.approx(MIN_FIT_SHARE * 620 / 300)
    assert fit_zoom(600 / 8000, 8000, 6000, 600, 620) == 600 / 8000  # not a strip: whole
    assert fit_zoom(30.0, 20, 16, 600, 480) == 30.0  # a tiny picture: whole, magnified
    assert fit_zoom(0.05, 20000, 50, 1000, 600) == 1.0  # a thinner strip: at most 1:1
    canvas = LabelCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    for shape in ((200, 8000), (8000, 200)):  # wide, then tall
        canvas.image_item.set_array(np.zeros(shape, np.uint8))
        h, w = shape
        canvas.setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))  # as set_document gives it
        canvas.fit_to_window()
        vp = canvas.viewport().rect()
        short = vp.height() if shape[0] < shape[1] else vp.width()
        assert canvas.zoom * min(shape) >= MIN_FIT_SHARE * short - 1  # not a sliver
        top_left = canvas.mapToScene(vp.topLeft())
        near = 2 / canvas.zoom  # (two screen pixels, in image pixels)
        assert abs(top_left.x() if shape[0] < shape[1] else top_left.y()) <= near  # its start
        middle = canvas.mapToScene(vp.center())
        across = middle.y() if shape[0] < shape[1] else middle.x()
        assert abs(across - min(shape) / 2) <= near  # centred across


def test_fit_to_window_shows_the_whole_image(window):
    window.canvas.set_zoom(20)
    key(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)  # (0 is the tenth class)
    vp = window.canvas.viewport().rect()
    tl = window.canvas.mapToScene(vp.topLeft())
    br = window.canvas.mapToScene(vp.bottomRight())
    assert tl.x() <= 0 and tl.y() <= 0 and br.x() >= SIZE and br.y() >= SIZE
    center(window.canvas)
