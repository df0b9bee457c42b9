"""The pixel a tool takes is the one shown under the pointer, at every zoom; a quick second
press paints; a button let go in a popup ends the gesture; pans follow the hand."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from guihelpers import at, click, drag, release, shown_window
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QFocusEvent, QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project

U = 255


@pytest.fixture
def coded(qtbot, tmp_path):
    """A window on a 40 px picture whose pixel (x, y) is coloured (red x, green y, blue 100)."""
    yy, xx = np.mgrid[0:40, 0:40]
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    bgr = np.stack([np.full_like(xx, 100), yy, xx], -1).astype(np.uint8)
    cv2.imwrite(str(pictures / "coded.png"), bgr)
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(["a", "b"])) as project:
        project.add_images([pictures])
    w = shown_window(qtbot, root)
    w.canvas.set_tool("brush")
    w.canvas.set_brush_radius(0)
    yield w
    w.close()


def _shown(window) -> tuple[QImage, QPoint]:
    """The window as drawn (its device pixels start at its corner) and the viewport's
    place in it."""
    canvas = window.canvas
    canvas.set_labels_visible(False)
    QApplication.processEvents()
    image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    canvas.set_labels_visible(True)
    return image, canvas.viewport().mapTo(window, QPoint(0, 0))


@pytest.mark.parametrize("zoom", [1.0, 1.25, 1.5, 2.5, 3.7])
def test_a_dab_lands_on_the_pixel_shown_under_the_pointer(coded, zoom):
    """Where a pixel's edge falls on a screen pixel's centre (zooms 1.25, 1.5, 2.5) Qt
    draws the pixel before the edge; the brush took the one after it (a third of the
    clicks at zoom 1.5 painted the neighbour)."""
    canvas, doc = coded.canvas, coded.document
    canvas.set_zoom(zoom)
    canvas.centerOn(QPointF(20.3, 20.3))
    image, origin = _shown(coded)
    ratio = image.devicePixelRatio()
    vp = canvas.viewport()
    y = vp.height() // 2
    checked = 0
    for x in range(vp.width() // 2 - 20, vp.width() // 2 + 20):
        colour = image.pixelColor(
            math.floor((x + origin.x()) * ratio), math.floor((y + origin.y()) * ratio)
        )
        if colour.blue() != 100:
            continue
        before = doc.label_map.array.copy()
        QTest.mouseClick(
            vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
        )
        rows, cols = np.nonzero(doc.label_map.array != before)
        assert list(zip(cols.tolist(), rows.tolist())) == [(colour.red(), colour.green())], x
        doc.label_map.array[...] = U
        checked += 1
    assert checked >= 20


def test_fill_takes_the_pixel_the_brush_takes_at_a_tie(coded):
    """At a point halfway between two pixels the fill took Python's round (the even
    one) and the brush the one Qt draws there (the lower)."""
    canvas, doc = coded.canvas, coded.document
    canvas.set_tool("fill")
    y = canvas.viewport().height() // 2  # (a row of the picture)

    def odd_tie() -> tuple[int, float] | None:
        for x in range(canvas.viewport().width()):
            p = canvas._pixel(QPointF(x, y))[0]
            if abs(p - math.floor(p) - 0.5) < 1e-6 and math.floor(p) % 2 == 1 and 2 < p < 37:
                return x, p  # halfway between an odd column and the even one after it
        return None

    for zoom in (1.25, 1.75, 1.5):  # (which columns meet at a tie: the zoom and the shift)
        canvas.set_zoom(zoom)
        canvas.centerOn(QPointF(20.3, 20.3))
        if (found := odd_tie()) is not None:
            break
    else:
        pytest.fail("no tie between an odd column and the next")
    x, p = found
    column = math.floor(p)
    doc.label_map.array[:, column] = 1
    QTest.mouseClick(
        canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
    )
    assert (doc.label_map.array[:, column] == 0).all()  # the region drawn there
    assert (doc.label_map.array[:, column + 1] == U).all()


def _double_click(canvas, pos: QPoint) -> None:
    """The press Qt sends instead of a second press within the double-click time."""
    event = QMouseEvent(
        QEvent.Type.MouseButtonDblClick,
        QPointF(pos),
        canvas.viewport().mapToGlobal(QPointF(pos)),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def test_a_stroke_begun_just_after_a_click_paints(window):
    canvas, lab = window.canvas, window.document.label_map.array
    canvas.set_brush_radius(0)
    click(canvas, 20, 30)
    _double_click(canvas, at(canvas, 21, 30))
    for x in range(22, 40):
        _move(canvas, QPointF(at(canvas, x, 30)), Qt.MouseButton.LeftButton)
    release(canvas, 39, 30)
    assert (lab[30, 20:40] == 0).all()
    assert window.document.history.undo_count == 2


def test_a_double_click_still_closes_a_polygon(window):
    canvas, lab = window.canvas, window.document.label_map.array
    canvas.set_tool("polygon")
    for p in ((10, 10), (30, 10)):
        click(canvas, *p)
    click(canvas, 10, 30)
    _double_click(canvas, at(canvas, 10, 30))
    assert lab[15, 15] == 0 and not canvas.tool.busy


def _move(canvas, pos: QPointF, buttons) -> None:
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        pos,
        canvas.viewport().mapToGlobal(pos),
        Qt.MouseButton.NoButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def test_a_release_that_went_to_a_popup_ends_the_stroke(window):
    """A key that opens a popup mid-drag (C, a menu, Export) takes the release: the
    brush went on painting with no button held, and the next drag joined the stroke."""
    canvas, lab = window.canvas, window.document.label_map.array
    canvas.set_brush_radius(0)
    QTest.mousePress(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(canvas, 10, 10),
    )
    _move(canvas, QPointF(at(canvas, 20, 10)), Qt.MouseButton.LeftButton)
    # ... the release went elsewhere; the pointer comes back with no button held
    _move(canvas, QPointF(at(canvas, 20, 40)), Qt.MouseButton.NoButton)
    _move(canvas, QPointF(at(canvas, 40, 40)), Qt.MouseButton.NoButton)
    assert (lab[10, 10:21] == 0).all()
    assert (lab[40, 20:41] == U).all() and (lab[11:, 20] == U).all()
    assert not canvas.gesture_in_progress() and not window.document.in_stroke
    drag(canvas, [(30, 50), (35, 50)])
    assert window.document.history.undo_count == 2  # two strokes, two steps


def test_a_press_after_a_release_that_went_elsewhere_ends_the_old_gesture_first(window):
    """The lasso went on tracing after a popup took its release, and the next click
    filled what the pointer had wandered round."""
    canvas, lab = window.canvas, window.document.label_map.array
    canvas.set_tool("lasso")
    QTest.mousePress(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(canvas, 10, 10),
    )
    for p in ((20, 10), (20, 20), (10, 20)):
        _move(canvas, QPointF(at(canvas, *p)), Qt.MouseButton.LeftButton)
    # the release went to a popup; the next thing the canvas hears is a press far away
    QTest.mousePress(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(canvas, 50, 50),
    )
    assert (lab[11:20, 11:20] == 0).all() and lab[40, 40] == U
    assert window.document.history.undo_count == 1


def test_space_let_go_in_another_application_is_let_go(window):
    canvas = window.canvas
    canvas.hold_space(True)
    QApplication.sendEvent(
        canvas, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.ActiveWindowFocusReason)
    )
    assert not canvas.space_held


def test_a_pan_keeps_the_fractions_of_a_pixel(window):
    """On a high-DPI screen the pointer moves in halves of a pixel: rounding each move
    took a slow drag nowhere (ratio 2) or 1.5 times too far (ratio 1.5)."""
    canvas = window.canvas
    canvas.set_zoom(8)
    bar = canvas.horizontalScrollBar()
    start = bar.value()
    origin = QPointF(300, 300)
    press = QMouseEvent(
        QEvent.Type.MouseButtonPress,
        origin,
        canvas.viewport().mapToGlobal(origin),
        Qt.MouseButton.MiddleButton,
        Qt.MouseButton.MiddleButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), press)
    for k in range(1, 41):
        _move(canvas, QPointF(300 + 0.5 * k, 300), Qt.MouseButton.MiddleButton)
    assert bar.value() == start - 20
    for k in range(1, 31):
        _move(canvas, QPointF(320 - 2 * k / 3, 300), Qt.MouseButton.MiddleButton)
    assert bar.value() == start


def test_the_ring_encloses_the_pixels_a_dab_paints(window):
    canvas = window.canvas
    canvas.set_brush_radius(3)
    QTest.mouseMove(canvas.viewport(), at(canvas, 30, 30))
    ring = canvas._brush.rect()
    assert (ring.left(), ring.width()) == (30 + 0.5 - 3.5, 7.0)  # centres 27..33, half a pixel out


def test_a_zoom_by_key_moves_the_ring_to_the_pixel_now_under_the_pointer(window):
    """Ctrl+0, Ctrl+1, + and - left the ring (and the status bar's x/y) on the pixel the
    pointer was over before the zoom; a click then painted elsewhere."""
    canvas = window.canvas
    canvas.set_brush_radius(0)
    canvas.set_zoom(8)
    canvas.centerOn(QPointF(32, 32))
    pos = at(canvas, 25, 25)
    QTest.mouseMove(canvas.viewport(), pos)
    seen = []
    canvas.cursor_moved.connect(lambda x, y: seen.append((x, y)))
    canvas.fit_to_window()
    under = canvas._pixel(QPointF(pos))
    want = (round(under[0]), round(under[1]))
    assert want != (25, 25)
    ring = canvas._brush.rect().center()
    assert (round(ring.x() - 0.5), round(ring.y() - 0.5)) == want
    assert seen[-1] == want
