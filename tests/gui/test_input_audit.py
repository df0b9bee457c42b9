"""Found by an expert annotator's audit of the window's input (2026-12-01): Space after a
click in the class list, an eyedropper, dabs centred on the pixel, Shift+wheel for the
brush and a brush outline seen on bright pictures, the right button erasing with every
tool, a polygon's vertices, and zoom keys and sideways scrolling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from guihelpers import at, click, click_class_row, drag
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

L, R = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
NM = Qt.KeyboardModifier.NoModifier
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier
U = 255


def labels(window) -> np.ndarray:
    return window.document.label_map.array


def hover(canvas, x: float, y: float) -> None:
    """Move the pointer onto pixel (x, y) (from beside it: QTest sends no move to the
    position a previous test's window left it at)."""
    spot = at(canvas, x, y)
    QTest.mouseMove(canvas.viewport(), spot + QPoint(3, 3))
    QTest.mouseMove(canvas.viewport(), spot)


def leave(canvas) -> None:
    """The pointer leaves the canvas (for a panel, a menu)."""
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))


def wheel(canvas, pos: QPoint, dx: int = 0, dy: int = 0, mod=NM, pixels=None) -> None:
    vp = canvas.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        QPoint(0, 0) if pixels is None else pixels,
        QPoint(dx, dy),
        Qt.MouseButton.NoButton,
        mod,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, event)


def screen_point(canvas, x: float, y: float) -> QPoint:
    """The viewport pixel that shows scene point (x, y) (image pixel c spans [c, c+1))."""
    f = canvas.viewportTransform().map(QPointF(x, y))
    return QPoint(math.floor(f.x()), math.floor(f.y()))


def disc(x: int, y: int, r: float) -> set[tuple[int, int]]:
    k = math.ceil(r)
    return {
        (x + i, y + j)
        for i in range(-k, k + 1)
        for j in range(-k, k + 1)
        if i * i + j * j <= r * r + 1e-9
    }


def changed(before: np.ndarray, after: np.ndarray) -> set[tuple[int, int]]:
    ys, xs = np.nonzero(before != after)
    return set(zip(xs.tolist(), ys.tolist()))


# --- 1. Space pans wherever the focus is ---------------------------------------------------
@pytest.mark.parametrize("focus", ["class list", "check box"])
def test_space_drag_pans_after_a_click_in_a_panel(window, focus):
    """The focus stayed on the class list: Space ticked the class's "shown" box off, the
    view did not pan and the drag painted the class, now hidden."""
    c = window.canvas
    if focus == "class list":
        widget = click_class_row(window, 1)
        assert c.current_value == 1
    else:
        widget = window.edges_check
        widget.setFocus()
        assert QApplication.focusWidget() is widget
    ticked = window.edges_check.isChecked()
    hover(c, 30, 30)  # the pointer rests on the image
    before = c.mapToScene(QPoint(100, 100))
    QTest.keyPress(widget, Qt.Key.Key_Space)
    vp = c.viewport()  # (screen points: the pixels move under the pointer as it pans)
    QTest.mousePress(vp, L, NM, QPoint(150, 150))
    QTest.mouseMove(vp, QPoint(200, 190))
    QTest.mouseRelease(vp, L, NM, QPoint(200, 190))
    QTest.keyRelease(widget, Qt.Key.Key_Space)
    after = c.mapToScene(QPoint(100, 100))
    assert after.x() < before.x() and after.y() < before.y()  # panned
    assert (labels(window) == U).all()  # painted nothing
    assert window.class_panel.hidden() == frozenset()  # no box ticked off
    assert window.edges_check.isChecked() == ticked
    assert not c.space_held
    drag(c, [(10, 10), (12, 10)])  # Space let go: the left button paints again
    assert (labels(window) != U).any()


def test_space_in_a_text_field_types_a_space_even_with_the_pointer_on_the_image(window):
    c = window.canvas
    field = window.image_list.name_filter
    field.setFocus()
    hover(c, 30, 30)
    QTest.keyClicks(field, "im")
    QTest.keyClick(field, Qt.Key.Key_Space)
    QTest.keyClicks(field, "0")
    assert field.text() == "im 0"
    assert not c.space_held


def test_space_does_not_pan_for_a_panel_when_the_pointer_is_elsewhere(window):
    lst = click_class_row(window, 1)
    c = window.canvas
    hover(c, 30, 30)
    QTest.mouseMove(lst.viewport(), QPoint(5, 5))
    leave(c)  # (the pointer left the canvas for the list)
    QTest.keyClick(lst, Qt.Key.Key_Space)
    assert not c.space_held


def test_painting_with_a_hidden_class_shows_it_again_and_says_so(window):
    """A hidden class painted nothing visible, without a word."""
    c = window.canvas
    lst = window.class_panel.list
    lst.item(1).setCheckState(Qt.CheckState.Unchecked)  # hide "cell"
    assert window.class_panel_hidden() == frozenset({1})
    QTest.keyClick(c, Qt.Key.Key_2)  # paint "cell"
    drag(c, [(10, 10), (20, 10)])
    assert (labels(window) == 1).any()
    assert window.class_panel_hidden() == frozenset()
    assert window.class_panel.hidden() == frozenset()
    assert lst.item(1).checkState() == Qt.CheckState.Checked
    assert "“cell” was hidden" in window.statusBar().currentMessage()
    # the overlay draws it again: its colour has an alpha
    assert (int(c.overlay._table[1]) >> 24) > 0
    # erasing, or painting a class that is shown, says nothing of the kind
    lst.item(2).setCheckState(Qt.CheckState.Unchecked)
    window.statusBar().clearMessage()
    drag(c, [(10, 10), (20, 10)], button=R)
    assert window.class_panel_hidden() == frozenset({2})
    assert window.statusBar().currentMessage() == ""


# --- 2. the eyedropper ----------------------------------------------------------------------
def test_i_and_alt_click_pick_the_class_under_the_cursor(window):
    c = window.canvas
    lab = labels(window)
    lab[5:15, 5:15] = 2  # membrane
    lab[40:50, 40:50] = window.session.schema.void
    QTest.keyClick(c, Qt.Key.Key_1)
    assert c.current_value == 0
    hover(c, 10, 10)
    QTest.keyClick(c, Qt.Key.Key_I)
    assert c.current_value == 2
    assert window.class_panel.current_value() == 2
    assert "membrane" in window.statusBar().currentMessage()

    # Alt+click: a pick, not a stroke
    QTest.keyClick(c, Qt.Key.Key_1)
    steps = window.document.history.undo_count
    before = lab.copy()
    QTest.mouseClick(c.viewport(), L, ALT, at(c, 45, 45))
    assert c.current_value == window.session.schema.void
    assert (lab == before).all() and window.document.history.undo_count == steps

    # unlabelled: the class stays, and the status bar says why
    hover(c, 30, 60)
    QTest.keyClick(c, Qt.Key.Key_I)
    assert c.current_value == window.session.schema.void
    assert "unlabelled" in window.statusBar().currentMessage()

    # the pointer away from the image: I says where to point
    leave(c)
    QTest.keyClick(c, Qt.Key.Key_I)
    assert "Point at the image" in window.statusBar().currentMessage()


def test_the_eyedropper_key_is_in_the_tools_menu_and_collides_with_nothing(window):
    action = window.actions_["pick_class"]
    assert [k.toString() for k in action.shortcuts()] == ["I"]
    taken = [
        k.toString()
        for name, a in window.actions_.items()
        if name != "pick_class"
        for k in a.shortcuts()
    ]
    assert "I" not in taken
    tools = next(
        m.menu() for m in window.menuBar().actions() if m.text().replace("&", "") == "Tools"
    )
    assert action in tools.actions()


# --- 3. dabs centred on the pixel -----------------------------------------------------------
@pytest.mark.parametrize("radius, pixels", [(0, 1), (1, 5), (2, 13), (3, 29)])
def test_a_dab_is_the_same_disc_wherever_in_the_pixel_the_click_falls(window, radius, pixels):
    """At zoom 4 a click at a pixel's centre painted 3 pixels with radius 1 (5 elsewhere in
    the pixel) and 11 with radius 2, leaning right and down."""
    c = window.canvas
    c.set_zoom(4.0)
    c.centerOn(QPointF(32, 32))
    c.set_brush_radius(radius)
    lab = labels(window)
    for i in range(4):
        for j in range(4):  # every screen pixel of image pixel (30, 31)
            before = lab.copy()
            spot = screen_point(c, 30 + (i + 0.5) / 4, 31 + (j + 0.5) / 4)
            QTest.mouseClick(c.viewport(), L, NM, spot)
            got = changed(before, lab)
            assert got == disc(30, 31, max(radius, 0.5)), (i, j, sorted(got))
            assert len(got) == pixels
            window.undo()


def test_a_stroke_between_pixels_stays_continuous(window):
    c = window.canvas
    c.set_zoom(4.0)
    c.centerOn(QPointF(32, 32))
    c.set_brush_radius(0)
    points = [(10.2, 10.9), (17.7, 12.4), (25.1, 19.8), (30.6, 30.3)]
    vp = c.viewport()
    QTest.mousePress(vp, L, NM, screen_point(c, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(vp, screen_point(c, *p))
    QTest.mouseRelease(vp, L, NM, screen_point(c, *points[-1]))
    import cv2

    painted = (labels(window) != U).astype(np.uint8)
    count, _ = cv2.connectedComponents(painted, connectivity=8)
    assert count == 2  # the background and one line
    assert painted[10, 10] and painted[30, 30]


def test_a_polygon_takes_the_pixels_of_its_vertices_wherever_in_them_the_clicks_fall(window):
    """(Checked for the dabs' fix: outlines keep the position within the pixel, and their
    fill takes each vertex's pixel, on whichever side of it the click falls.)"""
    c = window.canvas
    c.set_zoom(4.0)
    c.centerOn(QPointF(32, 32))
    QTest.keyClick(c, Qt.Key.Key_P)
    corners = [(10.9, 10.9), (20.1, 10.9), (20.1, 20.1), (10.9, 20.1)]
    for x, y in corners:
        QTest.mouseClick(c.viewport(), L, NM, screen_point(c, x, y))
        QTest.qWait(350)  # not a double click
    QTest.keyClick(c, Qt.Key.Key_Return)
    lab = labels(window)
    assert ((lab != U).sum(), (lab[10:21, 10:21] != U).all()) == (121, True)


# --- 4. brush size by wheel, and an outline that shows ---------------------------------------
def test_shift_wheel_changes_the_brush_radius_and_the_wheel_still_zooms(window):
    """Ctrl+, Shift+ and Alt+wheel all zoomed."""
    c = window.canvas
    c.set_brush_radius(10)
    zoom = c.zoom
    pos = at(c, 30, 30)
    wheel(c, pos, dy=120, mod=SHIFT)
    assert c.brush_radius == 12 and window.radius_spin.value() == 12
    assert c.zoom == zoom
    wheel(c, pos, dy=-240, mod=SHIFT)
    assert c.brush_radius == 8  # 12 - 2, then 10 - 2: the steps of [
    assert c.zoom == zoom
    r = c.brush_radius
    wheel(c, pos, dx=120, mod=SHIFT)  # macOS sends Shift+wheel sideways
    assert c.brush_radius > r
    r = c.brush_radius
    for _ in range(8):  # a trackpad: eight 15ths of a notch make one step
        wheel(c, pos, dy=15, mod=SHIFT)
    assert c.brush_radius > r
    wheel(c, pos, dy=120, mod=CTRL)
    assert c.zoom > zoom  # Ctrl+wheel zooms, as in GIMP and browsers
    wheel(c, pos, dy=120)
    assert c.zoom > zoom * 1.25


def _ring_pixels(window, qtbot):
    """The viewport with the brush outline of radius 8 over the bright square."""
    c = window.canvas
    window.opacity_slider.setValue(0)
    c.set_brush_radius(8)
    hover(c, 30, 30)
    qtbot.wait(20)
    centre = c.viewportTransform().map(QPointF(30.5, 30.5))
    image = c.viewport().grab().toImage()
    r = (8 + 0.5) * c.zoom  # (round the dab's pixels: half a pixel past their centres)
    return image, centre, r


def test_the_brush_outline_is_the_class_colour_edged_dark(window, qtbot):
    """A 1-pixel white line, lost over bright cytoplasm."""
    c = window.canvas
    QTest.keyClick(c, Qt.Key.Key_3)  # membrane
    want = QColor(window.session.schema.classes[2].color)
    image, centre, r = _ring_pixels(window, qtbot)

    def colour(dx: float, dy: float) -> QColor:
        return QColor(image.pixel(round(centre.x() + dx), round(centre.y() + dy)))

    def close(a: QColor, b: QColor) -> bool:
        return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 60

    for ux, uy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        on_ring = [colour(ux * (r + d), uy * (r + d)) for d in (-0.5, 0, 0.5)]
        assert any(close(q, want) for q in on_ring), [q.name() for q in on_ring]
        for side in (1, -1):  # a dark edge outside the ring and inside it
            edge = [colour(ux * (r + side * d), uy * (r + side * d)) for d in (1, 1.5, 2, 2.5, 3)]
            assert any(max(q.red(), q.green(), q.blue()) < 70 for q in edge), [
                q.name() for q in edge
            ]
    assert colour(0, 0).red() > 150  # the bright picture under it
    QTest.keyClick(c, Qt.Key.Key_E)  # the eraser's outline is white
    assert c.brush_colour() == QColor(255, 255, 255)


# --- 5. the right button erases with every tool ----------------------------------------------
def test_a_right_drag_with_the_lasso_erases_in_one_undo_step(window):
    c = window.canvas
    lab = labels(window)
    lab[:, :] = 1
    QTest.keyClick(c, Qt.Key.Key_3)  # membrane: a right drag must not paint it
    QTest.keyClick(c, Qt.Key.Key_L)
    steps = window.document.history.undo_count
    drag(c, [(10, 10), (30, 10), (30, 30), (10, 30), (10, 11)], button=R)
    assert (lab[12:29, 12:29] == U).all()
    assert (lab == 2).sum() == 0 and (lab[40:, :] == 1).all()
    assert window.document.history.undo_count == steps + 1
    window.undo()
    assert (lab == 1).all()


def test_right_clicks_with_the_polygon_erase_in_one_undo_step(window):
    c = window.canvas
    lab = labels(window)
    lab[:, :] = 1
    QTest.keyClick(c, Qt.Key.Key_3)
    QTest.keyClick(c, Qt.Key.Key_P)
    steps = window.document.history.undo_count
    for x, y in [(10, 10), (30, 10), (30, 30), (10, 30)]:
        click(c, x, y, button=R)
        QTest.qWait(350)
    assert "Erasing polygon" in window.statusBar().currentMessage()
    QTest.keyClick(c, Qt.Key.Key_Return)
    assert (lab[10:31, 10:31] == U).all() and (lab == U).sum() == 21 * 21
    assert (lab == 2).sum() == 0
    assert window.document.history.undo_count == steps + 1
    window.undo()
    assert (lab == 1).all()
    for x, y in [(10, 10), (30, 10), (30, 30)]:  # left clicks still paint the class
        click(c, x, y)
        QTest.qWait(350)
    QTest.keyClick(c, Qt.Key.Key_Return)
    assert (lab == 2).sum() > 100


# --- 6. a polygon's vertices --------------------------------------------------------------------
def test_a_tool_key_during_a_polygon_says_the_outline_was_dropped(window):
    c = window.canvas
    QTest.keyClick(c, Qt.Key.Key_P)
    for x, y in [(10, 10), (30, 10), (30, 30)]:
        click(c, x, y)
        QTest.qWait(350)
    QTest.keyClick(c, Qt.Key.Key_B)
    assert c.tool.name == "brush"
    message = window.statusBar().currentMessage()
    assert "3 vertices" in message and "dropped" in message
    assert (labels(window) == U).all()
    assert c.vertex_marks() == []


def test_polygon_vertices_are_marked_and_the_first_shows_where_to_close(window, qtbot):
    c = window.canvas
    window.opacity_slider.setValue(0)
    QTest.keyClick(c, Qt.Key.Key_P)
    corners = [(10, 10), (50, 12), (45, 50)]
    for x, y in corners:
        click(c, x, y)
        QTest.qWait(350)
    hover(c, 20, 45)
    marks = c.vertex_marks()
    assert len(marks) == 3
    assert all(abs(mx - x) < 0.5 and abs(my - y) < 0.5 for (mx, my), (x, y) in zip(marks, corners))
    qtbot.wait(20)
    image = c.viewport().grab().toImage()

    def yellow(p: QPointF) -> bool:
        """Yellow at ``p`` or a pixel beside it (antialiasing)."""
        near = [
            QColor(image.pixel(round(p.x()) + i, round(p.y()) + j))
            for i in (-1, 0, 1)
            for j in (-1, 0, 1)
        ]
        return any(q.red() > 200 and q.green() > 200 and q.blue() < 120 for q in near)

    to_screen = c.viewportTransform()
    for x, y in corners:  # a square on each vertex
        assert yellow(to_screen.map(QPointF(x + 0.5, y + 0.5)))
    first = to_screen.map(QPointF(10.5, 10.5))
    ring = c.tools["polygon"].close_distance_px
    # the close target: a ring as wide as the click that closes, on the first vertex only
    assert yellow(first + QPointF(-ring, 0)) and yellow(first + QPointF(0, -ring))
    second = to_screen.map(QPointF(50.5, 12.5))
    assert not yellow(second + QPointF(ring, 0))
    QTest.keyClick(c, Qt.Key.Key_Escape)
    assert c.vertex_marks() == []


def test_the_close_target_lights_up_while_the_pointer_is_on_it(window, qtbot):
    """Over the first vertex's ring a click closes the polygon: the ring says so, filled
    nearly solid and drawn thicker, and goes back when the pointer leaves it."""
    c = window.canvas
    window.opacity_slider.setValue(0)
    QTest.keyClick(c, Qt.Key.Key_P)
    ring = c.tools["polygon"].close_distance_px
    assert ring / c.zoom > 1  # (at this zoom, one pixel beside the vertex is on the ring)
    click(c, 10, 10)
    QTest.qWait(350)
    click(c, 50, 12)
    QTest.qWait(350)
    hover(c, 11, 10)
    assert not c.close_target_lit()  # two vertices: a click there adds a third
    click(c, 45, 50)
    QTest.qWait(350)

    def yellowness() -> float:
        """How yellow the inside of the ring is, between its line and the vertex's square,
        on the side away from the outline (R + G - 2B, the same over any grey)."""
        qtbot.wait(20)
        image = c.viewport().grab().toImage()
        first = c.viewportTransform().map(QPointF(10.5, 10.5))
        spots = [first + QPointF(-4.5, d) for d in (-1, 0, 1)]
        spots += [first + QPointF(d, -4.5) for d in (-1, 0, 1)]
        colours = [QColor(image.pixel(round(q.x() - 0.5), round(q.y() - 0.5))) for q in spots]
        return float(np.mean([q.red() + q.green() - 2 * q.blue() for q in colours]))

    hover(c, 20, 45)
    assert not c.close_target_lit()
    unlit = yellowness()
    hover(c, 11, 10)
    assert c.close_target_lit()
    lit = yellowness()
    assert lit > 350 > 250 > unlit, (lit, unlit)  # nearly solid yellow, was faint
    hover(c, 14, 10)  # 4 pixels away: 20 screen pixels, off the ring
    assert not c.close_target_lit()
    hover(c, 10, 11)
    assert c.close_target_lit()
    click(c, 10, 11)  # ... and the click there closes it
    assert (labels(window)[20:40, 30:40] == window.canvas.current_value).any()
    assert c.vertex_marks() == [] and not c.close_target_lit()


# --- 7. zoom keys around the pointer, sideways scrolling pans --------------------------------------
def test_plus_and_minus_zoom_around_the_pointer_over_the_image(window):
    c = window.canvas
    hover(c, 10, 12)
    spot = c.mapFromScene(QPointF(10.5, 12.5))
    QTest.keyClick(c, Qt.Key.Key_Plus)
    assert c.zoom == pytest.approx(5.0 * 1.25)
    moved = c.mapFromScene(QPointF(10.5, 12.5)) - spot
    assert abs(moved.x()) <= 1 and abs(moved.y()) <= 1
    QTest.keyClick(c, Qt.Key.Key_Minus)
    moved = c.mapFromScene(QPointF(10.5, 12.5)) - spot
    assert abs(moved.x()) <= 1 and abs(moved.y()) <= 1
    # the pointer elsewhere (a menu): around the view's centre
    leave(c)
    centre = c.mapToScene(c.viewport().rect().center())
    QTest.keyClick(c, Qt.Key.Key_Plus)
    again = c.mapToScene(c.viewport().rect().center())
    assert abs(again.x() - centre.x()) < 1 and abs(again.y() - centre.y()) < 1


def test_equals_zooms_in_as_plus_does(window):
    """= is + without Shift on many keyboards (napari, browsers zoom with it too)."""
    c = window.canvas
    hover(c, 10, 12)
    zoom = c.zoom
    QTest.keyClick(c, Qt.Key.Key_Equal)
    assert c.zoom == pytest.approx(zoom * 1.25)


def test_a_sideways_scroll_pans_and_does_not_zoom(window):
    c = window.canvas
    zoom = c.zoom
    pos = at(c, 30, 30)
    before = c.mapToScene(QPoint(100, 100))
    wheel(c, pos, dx=-120)  # a tilt wheel to the right
    after = c.mapToScene(QPoint(100, 100))
    assert c.zoom == zoom
    assert after.x() > before.x() and after.y() == before.y()
    wheel(c, pos, dx=30, pixels=QPoint(25, 0))  # a trackpad: its pixels
    again = c.mapToScene(QPoint(100, 100))
    assert c.zoom == zoom
    assert (after.x() - again.x()) * c.zoom == pytest.approx(25, abs=1)
