"""Found by an audit of the editing tools (2026-11-30): where a click lands at zoom 1,
Undo during a gesture, and protected painting across projects."""

from __future__ import annotations

import math

import cv2
import numpy as np
from guihelpers import SIZE, at, center, click, drag, press, release
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project

CTRL = Qt.KeyboardModifier.ControlModifier
U = 255


def _screen_pixel_showing(canvas, x: int, y: int) -> QPoint:
    """The viewport pixel on which image pixel (x, y)'s centre is drawn."""
    f = canvas.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(int(np.floor(f.x())), int(np.floor(f.y())))


def _actual_pixels(window) -> None:
    QTest.keyClick(window.canvas, Qt.Key.Key_1, CTRL)  # View > Actual pixels
    assert window.canvas.zoom == 1.0


def test_at_zoom_1_a_click_lands_on_the_pixel_shown(window):
    """It was taken at the screen pixel's corner: between four image pixels. A fill
    filled the region on the left, the cursor readout said the pixel on the left, and a
    radius-0 brush painted nothing."""
    c = window.canvas
    lab = window.document.label_map.array
    lab[:, :21] = 1  # columns 0..20 are cell; 21.. unlabelled
    QTest.keyClick(c, Qt.Key.Key_F)
    QTest.keyClick(c, Qt.Key.Key_3)  # membrane
    _actual_pixels(window)
    target = _screen_pixel_showing(c, 21, 31)
    QTest.mouseMove(c.viewport(), target)
    assert "21" in window.pos_label.text() and "31" in window.pos_label.text()
    QTest.mouseClick(
        c.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target
    )
    assert lab[31, 21] == 2 and lab[31, 20] == 1

    QTest.keyClick(c, Qt.Key.Key_B)
    QTest.keyClick(c, Qt.Key.Key_2)  # cell, over the membrane the fill left there
    window.radius_spin.setValue(0)
    before = lab.copy()
    spot = _screen_pixel_showing(c, 40, 10)
    QTest.mouseClick(c.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, spot)
    ys, xs = np.nonzero(lab != before)
    assert list(zip(xs.tolist(), ys.tolist())) == [(40, 10)]


def test_undo_during_the_first_stroke_takes_the_stroke_back(window):
    """Edit > Undo is disabled until a first commit, so Ctrl+Z during an image's first
    stroke did nothing; on later strokes it ended and undid the stroke."""
    c = window.canvas
    c.set_brush_radius(1)
    for y in (10, 30):  # the first stroke, then a later one
        press(c, 10, y)
        QTest.mouseMove(c.viewport(), at(c, 40, y))
        QTest.keyClick(c, Qt.Key.Key_Z, CTRL)
        QTest.mouseMove(c.viewport(), at(c, 50, y))
        release(c, 50, y)
        assert (window.document.label_map.array[y] == U).all()
        drag(c, [(5, 60), (6, 60)])  # any committed edit before the next try


def test_undo_while_drawing_a_polygon_drops_its_last_vertex_only(window):
    """It dropped the whole outline and undid the brush stroke before it as well."""
    c = window.canvas
    c.set_brush_radius(2)
    drag(c, [(5, 50), (50, 50)])
    stroke = window.document.label_map.array.copy()
    QTest.keyClick(c, Qt.Key.Key_P)
    for x, y in [(10, 10), (40, 10), (40, 30)]:
        click(c, x, y)
    QTest.keyClick(c, Qt.Key.Key_Z, CTRL)
    assert len(c.tool.points) == 2
    assert (window.document.label_map.array == stroke).all()


def test_undo_during_a_stroke_undoes_the_stroke_not_a_grabcut_that_landed_meanwhile(window, qtbot):
    """A GrabCut finishing during a stroke is held back until the stroke ends; Undo
    committed the stroke, the GrabCut landed, and Undo took the GrabCut."""
    c = window.canvas
    c.set_brush_radius(1)
    drag(c, [(2, 60), (3, 60)])  # an earlier edit: Undo is enabled
    QTest.keyClick(c, Qt.Key.Key_G)
    QTest.keyClick(c, Qt.Key.Key_2)  # cell
    drag(c, [(15, 15), (45, 45)])  # a GrabCut box round the bright square
    QTest.keyClick(c, Qt.Key.Key_B)
    QTest.keyClick(c, Qt.Key.Key_3)  # membrane
    press(c, 5, 5)
    QTest.mouseMove(c.viewport(), at(c, 5, 50))  # a stroke, held
    c.smart.wait_idle()
    qtbot.wait(100)  # GrabCut's result arrives meanwhile
    QTest.keyClick(c, Qt.Key.Key_Z, CTRL)
    release(c, 5, 50)
    lab = window.document.label_map.array
    assert (lab == 2).sum() == 0  # the stroke is gone
    assert (lab == 1).sum() > 100  # GrabCut's cell is there


def test_only_unlabelled_stays_so_in_a_project_of_16_bit_labels(window, tmp_path):
    """ "Only unlabelled" (255 in 8 bits) became "only over class 255" in a project of
    300 classes, and a brush on unlabelled pixels painted nothing."""
    window.protection.setCurrentIndex(window.protection.findData(255))
    images = tmp_path / "imgs16"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((SIZE, SIZE), 30, np.uint8))
    names = [f"k{i}" for i in range(300)]
    with Project.create(tmp_path / "p16", LabelSchema.from_names(names)) as p:
        p.add_images([images])
    window.open_project(tmp_path / "p16")
    center(window.canvas)
    assert window.canvas.protected_value in (None, 65535), window.protection.currentText()
    drag(window.canvas, [(10, 10), (40, 10)])
    assert (window.document.label_map.array != 65535).sum() > 0


def test_on_a_high_dpi_screen_a_click_lands_on_the_pixel_under_the_device_pixel(
    window, monkeypatch
):
    """At device pixel ratio 2 and zoom 0.5 each device pixel shows one image pixel, and
    Qt reports a pointer on device pixel k at logical k / 2: the centre of the logical
    pixel was an edge between two device pixels, and 18 of 24 clicks painted a neighbour."""
    c = window.canvas
    monkeypatch.setattr(type(c.viewport()), "devicePixelRatioF", lambda self: 2.0)
    c.set_zoom(0.5)
    to_scene = c.viewportTransform().inverted()[0]
    for k in range(101, 113):  # odd and even device pixels
        pos = QPointF(k / 2, (k + 1) / 2)
        centre = to_scene.map(QPointF((k + 0.5) / 2, (k + 1.5) / 2))  # the device pixel's
        x, y = c._pixel(pos)
        assert (round(x), round(y)) == (math.floor(centre.x()), math.floor(centre.y())), k


def test_a_number_box_with_the_focus_leaves_letter_shortcuts_to_the_window(window, qtbot):
    """After a click on the radius box's arrow, E did not choose the eraser and + did not
    zoom until the canvas was clicked."""
    spin = window.radius_spin
    spin.setFocus()
    spin.stepUp()
    assert spin.hasFocus()
    QTest.keyClick(spin, Qt.Key.Key_E)
    assert window.canvas.tool.name == "eraser"
    zoom = window.canvas.zoom
    QTest.keyClick(spin, Qt.Key.Key_Plus)
    assert window.canvas.zoom > zoom
    QTest.keyClick(spin, Qt.Key.Key_Backspace)  # editing keys stay the box's
    QTest.keyClicks(spin, "7")
    QTest.keyClick(spin, Qt.Key.Key_Return)  # Enter applies and gives the canvas the focus
    qtbot.waitUntil(window.canvas.hasFocus, timeout=2000)
    assert spin.value() == 7
    spin.setFocus()
    window.image_list.name_filter.setFocus()  # leaving the box otherwise keeps the focus
    qtbot.wait(20)
    assert window.image_list.name_filter.hasFocus()


def test_enter_in_the_contrast_dialog_keeps_the_value_typed(qtbot):
    """Enter also pressed the default button, Automatic, which threw the value away."""
    from annotator.gui.contrast import ContrastDialog

    dialog = ContrastDialog()
    qtbot.addWidget(dialog)
    events = []
    dialog.windows_changed.connect(lambda ws: events.append(("window", *ws[0])))
    dialog.reset.connect(lambda: events.append(("reset",)))
    dialog.set_window(0.0, 255.0, (0.0, 255.0))
    dialog.show()
    dialog.low.setFocus()
    dialog.low.selectAll()
    QTest.keyClicks(dialog.low, "40")
    QTest.keyClick(dialog.low, Qt.Key.Key_Return)
    assert events == [("window", 40.0, 255.0)]


def test_tab_leaves_the_class_table_of_a_new_project(qtbot):
    from annotator.gui.new_project_dialog import ClassTable

    table = ClassTable()
    qtbot.addWidget(table)
    assert not table.tabKeyNavigation()
