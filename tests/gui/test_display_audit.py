"""Display gaps an expert annotator's audit found: labels as outlines (O), opacity by keys
for the labels (, .) and for the proposal layers (< >), class keys past nine (0, V, the
C picker), the proposal under the cursor in the status bar, and a natural name sort."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import SIZE, at, center, drag, shown_window
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QTransform
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolBar, QWidgetAction

from annotator.core.proposal import Proposal
from annotator.core.records import ImageRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.layers import LabelOverlayItem, colour_table
from annotator.gui.main_window import MainWindow
from annotator.gui.proposal_layers import HATCH_ALPHA, OUTLINE_ALPHA
from annotator.storage.project import Project

CAMVID = [
    "sky",
    "building",
    "pole",
    "road",
    "pavement",
    "tree",
    "signsymbol",
    "fence",
    "car",
    "pedestrian",
    "bicyclist",
]


def key(window, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.canvas, k, mod)


def hover(canvas, x: int, y: int) -> None:
    """The pointer moved over pixel (x, y), no button held (sent to the canvas itself:
    QTest's moves go through the platform's cursor, which other tests' windows share)."""
    pos = QPointF(at(canvas, x, y))
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        pos,
        QPointF(canvas.viewport().mapToGlobal(pos.toPoint())),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def alphas(image: QImage) -> np.ndarray:
    """The alpha of every pixel of ``image`` (rows, columns)."""
    return np.array(
        [
            [QColor.fromRgba(image.pixel(x, y)).alpha() for x in range(image.width())]
            for y in range(image.height())
        ]
    )


def render(item: LabelOverlayItem, shape: tuple[int, int], zoom: float) -> QImage:
    h, w = shape
    out = QImage(round(w * zoom), round(h * zoom), QImage.Format.Format_ARGB32)
    out.fill(0)
    painter = QPainter(out)
    painter.scale(zoom, zoom)
    item.render_region(painter, 0, 0, w, h)
    painter.end()
    return out


# --- 1. labels as outlines ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_outlines_are_one_screen_pixel_each_side_of_a_border_at_any_zoom(qapp, dtype):
    schema = LabelSchema.from_names(["a", "b"])
    unlabelled = schema.unlabelled
    labels = np.full((8, 8), unlabelled, dtype)
    labels[2:6, 2:6] = 0  # a square of a, beside unlabelled pixels
    labels[2:6, 6:8] = 1  # b to its right, to the image's edge
    size = 256 if dtype == np.uint8 else 65536
    item = LabelOverlayItem()
    item.set_labels(labels, colour_table(schema, 0.5, size=size))
    filled = alphas(render(item, labels.shape, 4))
    assert (filled[8:24, 8:24] > 0).all()  # the fill, as before
    item.set_outline(True)
    for zoom in (4, 1):
        img = render(item, labels.shape, zoom)
        a = alphas(img)
        s = int(zoom)
        inside = a[3 * s : 5 * s, 3 * s : 5 * s]
        assert (inside == 0).all()  # the picture shows inside a region
        top = 2 * s  # the square's top row of screen pixels: its border
        assert (a[top, 2 * s + 1 : 6 * s - 1] == 255).all()  # doubled 50 %: opaque
        assert (a[top - 1, 2 * s : 6 * s] == 0).all()  # unlabelled side: nothing drawn
        assert (a[top + 1, 2 * s + 1 : 6 * s - 2] == 0).all()  # one screen pixel wide
        # between a and b: one pixel of each colour, side by side
        row = 3 * s + 1
        assert QColor.fromRgba(img.pixel(6 * s - 1, row)).name() == schema.classes[0].color
        assert QColor.fromRgba(img.pixel(6 * s, row)).name() == schema.classes[1].color
        assert a[row, 6 * s - 2] == 0
        assert a[row, 8 * s - 1] == 255  # b reaches the image's edge: closed there
        if s > 1:  # (at zoom 1, b's two columns are both border)
            assert a[row, 6 * s + 1] == 0 and a[row, 8 * s - 2] == 0  # one pixel wide
    # zoomed out, a border is still one screen pixel, never a blur of the whole region
    a = alphas(render(item, labels.shape, 0.5))
    assert a.shape == (4, 4) and a[0].sum() == 0 and (a > 0).sum() >= 3


@pytest.mark.parametrize("ratio", [2.0, 1.5])
def test_outlines_are_one_device_pixel_on_a_high_density_screen(qapp, ratio):
    """At a device pixel ratio of 1.5 or 2 (QT_SCALE_FACTOR, a HiDPI screen), a border
    is one device pixel wide, as at ratio 1: not one logical pixel stretched to 2 (or
    alternately 1 and 2) device pixels."""
    schema = LabelSchema.from_names(["a"])
    labels = np.full((16, 16), schema.unlabelled, np.uint8)
    labels[4:12, 4:12] = 0
    item = LabelOverlayItem()
    item.set_labels(labels, colour_table(schema, 0.5))
    item.set_outline(True)
    zoom = 4
    side = round(16 * zoom * ratio)
    out = QImage(side, side, QImage.Format.Format_ARGB32)
    out.setDevicePixelRatio(ratio)
    out.fill(0)
    painter = QPainter(out)
    painter.scale(zoom, zoom)
    item.render_region(painter, 0, 0, 16, 16)
    painter.end()
    a = alphas(out)
    middle = side // 2
    widths = [int((a[middle, : side // 2] > 0).sum()), int((a[middle, side // 2 :] > 0).sum())]
    widths += [int((a[: side // 2, middle] > 0).sum()), int((a[side // 2 :, middle] > 0).sum())]
    assert widths == [1, 1, 1, 1]  # left, right, top and bottom borders: a device pixel
    left = int(np.argmax(a[middle] > 0))
    assert abs(left - 4 * zoom * ratio) <= 1  # where the region begins, on the device


@pytest.mark.parametrize("zoom", [4.0, 1.0, 0.5])
def test_a_region_at_the_images_edge_is_closed_there(qapp, zoom):
    """A region that reaches the image's edge gets a border along it: its outline is a
    closed line, not one open at the edge (where nothing was drawn before)."""
    schema = LabelSchema.from_names(["a"])
    labels = np.full((8, 8), schema.unlabelled, np.uint8)
    labels[0:4, 0:8] = 0  # the top half: along the top, left and right edges
    item = LabelOverlayItem()
    item.set_labels(labels, colour_table(schema, 0.5))
    item.set_outline(True)
    a = alphas(render(item, labels.shape, zoom))
    n = a.shape[1]  # screen pixels across the image
    half = a.shape[0] // 2
    assert (a[0, :] == 255).all()  # the top edge
    assert (a[:half, 0] == 255).all() and (a[:half, n - 1] == 255).all()  # left, right
    assert (a[half - 1, :] == 255).all()  # the border to unlabelled
    if zoom >= 1:
        assert (a[1 : half - 1, 1 : n - 1] == 0).all()  # the inside stays clear
        assert (a[half:, :] == 0).all()  # unlabelled: nothing drawn

    # A repaint of a small box at the edge (as after a stroke) draws the same pixels.
    out = QImage(a.shape[1], a.shape[0], QImage.Format.Format_ARGB32)
    out.fill(0)
    painter = QPainter(out)
    painter.scale(zoom, zoom)
    item.render_region(painter, 6, 0, 2, 2)
    painter.end()
    part = alphas(out)
    box = (slice(0, int(2 * zoom)), slice(int(6 * zoom), n))
    assert (part[box] == a[box]).all() and part[box].any()


def test_outlines_follow_the_painters_transform_offset(qapp):
    """The canvas paints with a transform that scales and shifts: the border pixels are
    found on the screen's grid where the image pixels are really drawn."""
    schema = LabelSchema.from_names(["a"])
    labels = np.full((10, 10), schema.unlabelled, np.uint8)
    labels[4:6, 4:6] = 0
    item = LabelOverlayItem()
    item.set_labels(labels, colour_table(schema, 1.0))
    item.set_outline(True)
    out = QImage(60, 60, QImage.Format.Format_ARGB32)
    out.fill(0)
    painter = QPainter(out)
    painter.setWorldTransform(QTransform(3, 0, 0, 3, 7, 2))  # zoom 3, shifted
    item.render_region(painter, 0, 0, 10, 10)
    painter.end()
    a = alphas(out)
    ys, xs = np.nonzero(a)
    # the square covers screen x 7+12 .. 7+18, y 2+12 .. 2+18 (exclusive)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (19, 24, 14, 19)
    assert a[16, 21] == 0


def on_screen(window) -> np.ndarray:
    """What the window shows now, as painted bit by bit (the offscreen platform's
    backing store; ``QWidget.grab`` would paint it all afresh)."""
    img = window.screen().grabWindow(window.winId()).toImage()
    img = img.convertToFormat(QImage.Format.Format_ARGB32)
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : img.width() * 4].copy()


@pytest.mark.parametrize("zoom", [5.0, 0.5])
def test_an_edit_in_the_outline_view_repaints_every_border_it_moves(qtbot, window, zoom):
    """Only the edit's box is repainted: it must reach the borders just outside it (the
    neighbours of the changed pixels), or old lines stay on screen."""
    canvas = window.canvas
    key(window, Qt.Key.Key_O)
    assert canvas.overlay.outline and window.actions_["toggle_outlines"].isChecked()
    canvas.set_zoom(zoom)
    canvas.centerOn(SIZE / 2, SIZE / 2)
    window.document.label_map.array[10:50, 10:50] = 0
    canvas.overlay.update_box(None)
    qtbot.wait(50)
    before = on_screen(window)
    key(window, Qt.Key.Key_2)  # cell
    canvas.set_brush_radius(3)
    for x in (30, 11):  # inside the square, and across its border
        drag(canvas, [(x, 30), (x + 4, 31)])
    qtbot.wait(50)
    painted = on_screen(window)
    assert (painted != before).any()
    canvas.viewport().update()  # everything afresh
    qtbot.wait(50)
    assert (on_screen(window) == painted).all()


# --- 2. opacity by keys, and the proposal layers' own ----------------------------------


def _proposal(shape: tuple[int, int]) -> Proposal:
    mask = np.zeros(shape, np.uint8)
    mask[:, shape[1] // 2 :] = 1
    return Proposal(None, mask, np.full(shape, 0.25, np.float32), 0.3, 1)


def test_opacity_keys_step_the_labels_and_the_proposal_layers_apart(qtbot, window):
    layers, doc, schema = window.loop.layers, window.document, window.session.schema
    layers.show(doc, _proposal(doc.label_map.shape), schema)
    assert window.opacity_slider.value() == 50
    key(window, ".")
    assert window.opacity_slider.value() == 60
    assert window.canvas.overlay._table[0] >> 24 == round(0.6 * 255)
    key(window, ",")
    key(window, ",")
    assert window.opacity_slider.value() == 40
    assert "opacity 40 %" in window.statusBar().currentMessage()
    assert layers.proposal_item.opacity() == 1.0  # the labels' keys leave the proposal alone

    key(window, "<")
    key(window, "<")
    key(window, "<")
    assert window.proposal_opacity_slider.value() == 70
    assert layers.proposal_item.opacity() == layers.uncertainty_item.opacity() == 0.7
    assert window.opacity_slider.value() == 40  # the proposal's keys leave the labels alone
    assert window.canvas.overlay.opacity() == 1.0  # (the labels' is in their colours)
    window.loop.recolour()  # a class hidden or recoloured: the opacity stays
    layers.show(window.document, _proposal(doc.label_map.shape), schema)  # a new proposal
    assert layers.proposal_item.opacity() == 0.7
    key(window, ">")
    assert window.proposal_opacity_slider.value() == 80
    for _ in range(12):
        key(window, "<")
    assert window.proposal_opacity_slider.value() == 0
    assert layers.proposal_item.opacity() == 0.0  # the picture alone
    # the slider sits in the menu of the toolbar's Proposal button
    button = next(
        b
        for bar in window.findChildren(QToolBar)
        if (b := bar.widgetForAction(window.actions_["toggle_proposal"])) is not None
    )
    assert any(
        isinstance(item, QWidgetAction)
        and item.defaultWidget().isAncestorOf(window.proposal_opacity_slider)
        for item in button.menu().actions()
    )


def test_the_proposal_and_heat_map_are_drawn_at_their_opacity(qapp):
    from PySide6.QtWidgets import QGraphicsScene

    from annotator.gui.proposal_layers import ProposalLayers, heat_table, proposal_table

    schema = LabelSchema.from_names(["a", "b"])
    layers = ProposalLayers()
    codes = np.array([[0, len(schema)]], np.uint8)  # a's outline, a's hatching
    layers.proposal_item.set_labels(codes, proposal_table(schema))
    layers.uncertainty_item.set_labels(np.full((1, 2), 255, np.uint8), heat_table())
    scene = QGraphicsScene()

    def drawn(item) -> np.ndarray:
        for other in (layers.proposal_item, layers.uncertainty_item):
            other.setVisible(other is item)
        img = QImage(2, 1, QImage.Format.Format_ARGB32)
        img.fill(0)
        painter = QPainter(img)
        scene.render(painter, QRectF(0, 0, 2, 1), QRectF(0, 0, 2, 1))
        painter.end()
        return alphas(img)[0]

    scene.addItem(layers.proposal_item)
    scene.addItem(layers.uncertainty_item)
    assert list(drawn(layers.proposal_item)) == [OUTLINE_ALPHA, HATCH_ALPHA]
    full_heat = drawn(layers.uncertainty_item)[0]
    assert full_heat == heat_table()[255] >> 24
    layers.set_opacity(0.5)
    assert np.allclose(drawn(layers.proposal_item), [OUTLINE_ALPHA / 2, HATCH_ALPHA / 2], atol=2)
    assert abs(drawn(layers.uncertainty_item)[0] - full_heat / 2) <= 2
    layers.set_opacity(0.0)
    assert not drawn(layers.proposal_item).any()


def test_outlines_and_both_opacities_are_remembered(qtbot, project_dir):
    first = MainWindow()
    qtbot.addWidget(first)
    first.open_project(project_dir)
    first.actions_["toggle_outlines"].setChecked(True)
    first.opacity_slider.setValue(30)
    first.proposal_opacity_slider.setValue(40)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.actions_["toggle_outlines"].isChecked() and second.canvas.overlay.outline
    assert second.opacity_slider.value() == 30
    assert second.proposal_opacity_slider.value() == 40
    assert second.loop.layers.proposal_item.opacity() == 0.4
    second.close()


# --- 3. class keys past nine -----------------------------------------------------------------


@pytest.fixture
def street(qtbot, tmp_path):
    import cv2

    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "street.png"), np.full((SIZE, SIZE), 90, np.uint8))
    root = tmp_path / "camvid"
    with Project.create(root, LabelSchema.from_names(CAMVID)) as p:
        p.add_images([images])
    w = shown_window(qtbot, root)
    center(w.canvas)
    yield w
    w.close()


def test_zero_picks_the_tenth_class_and_v_picks_void(street):
    key(street, Qt.Key.Key_0)
    assert street.canvas.current_value == 9  # pedestrian
    assert street.class_panel.list.currentItem().text() == "0  pedestrian"
    key(street, Qt.Key.Key_V)
    assert street.canvas.current_value == street.session.schema.void
    assert street.class_panel.list.currentItem().text() == "V  void (ignore)"
    assert street.class_panel.list.item(10).text() == "   bicyclist"  # no key: C finds it
    key(street, Qt.Key.Key_1)
    assert street.canvas.current_value == 0


def test_c_lists_every_class_at_the_pointer_type_to_filter_enter_picks(qtbot, street):
    canvas = street.canvas
    hover(canvas, 20, 20)
    key(street, Qt.Key.Key_C)
    picker = street.class_picker
    assert picker is not None and picker.isVisible()
    assert picker.shown_values() == [*range(11), street.session.schema.void]
    pointer = canvas.viewport().mapToGlobal(at(canvas, 20, 20))
    assert (picker.pos() - pointer).manhattanLength() <= 4  # at the pointer
    QTest.keyClicks(picker.filter_edit, "BIC")
    assert picker.shown_values() == [10]
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    assert not picker.isVisible() and canvas.current_value == 10
    assert "bicyclist" in street.statusBar().currentMessage()

    key(street, Qt.Key.Key_C)
    QTest.keyClicks(picker.filter_edit, "4")  # its number in the list
    assert picker.shown_values() == [3]
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Enter)
    assert canvas.current_value == 3  # road

    key(street, Qt.Key.Key_C)
    QTest.keyClicks(picker.filter_edit, "p")  # pole, pavement, pedestrian
    assert picker.shown_values() == [2, 4, 9]
    assert picker.list.currentItem().text() == " 3  pole"  # the first name beginning so
    QTest.keyClicks(picker.filter_edit, "e")
    assert picker.shown_values() == [9]
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Backspace)
    for _ in range(3):  # the third stays on the last
        QTest.keyClick(picker.filter_edit, Qt.Key.Key_Down)
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Up)
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    assert canvas.current_value == 4  # pavement

    key(street, Qt.Key.Key_C)
    QTest.keyClicks(picker.filter_edit, "c")  # bicyclist, car, fence: car begins with c
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    assert canvas.current_value == 8  # car

    key(street, Qt.Key.Key_C)
    QTest.keyClicks(picker.filter_edit, "car")
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Escape)
    assert not picker.isVisible() and canvas.current_value == 8  # nothing changed
    key(street, Qt.Key.Key_C)
    QTest.keyClicks(picker.filter_edit, "zebra")
    assert picker.shown_values() == []
    QTest.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    assert picker.isVisible() and canvas.current_value == 8  # nothing to pick
    picker.close()


# --- 4. the proposal under the cursor ------------------------------------------------------


def test_the_status_bar_reads_the_proposal_and_its_uncertainty_under_the_cursor(qtbot, window):
    canvas, a = window.canvas, window.actions_
    hover(canvas, 50, 10)
    assert window.pos_label.text() == "x 50  y 10"
    assert window.proposal_label.text() == ""  # no proposal yet
    doc = window.document
    window.loop.layers.show(doc, _proposal(doc.label_map.shape), window.session.schema)
    window.loop.proposal_shown.emit(doc.image_id, 1)  # as the loop says when it shows one
    assert window.proposal_label.text() == "proposal cell, uncertainty 0.25"
    hover(canvas, 5, 10)
    assert window.proposal_label.text() == "proposal background, uncertainty 0.25"
    a["toggle_proposal"].setChecked(False)  # the uncertainty map alone still reads it
    a["toggle_uncertainty"].setChecked(True)
    assert window.proposal_label.text().startswith("proposal background")
    a["toggle_uncertainty"].setChecked(False)
    assert window.proposal_label.text() == "" and window.proposal_label.isHidden()
    a["toggle_proposal"].setChecked(True)
    window.go(1)  # another image: no proposal of it
    assert window.proposal_label.text() == ""


# --- 5. the image list by name ---------------------------------------------------------------


def test_the_image_list_sorts_by_name_with_the_numbers_in_order(qapp):
    from annotator.gui.image_list import ImageListPanel

    def record(i: int, name: str) -> ImageRecord:
        return ImageRecord(i, name, name, "", 8, 8, 1, 8, ImageStatus.NEW, "user", 0, None, "", "")

    panel = ImageListPanel()
    names = ["slice10.png", "slice2.png", "Slice1.png", "slice1.png", "a.png"]
    panel.set_records([record(i, n) for i, n in enumerate(names)])
    assert [r.name for r in panel.model.rows] == names  # as added
    panel.set_sort("name")
    assert panel.sort_combo.currentText() == "Name (2 before 10)"
    assert [r.name for r in panel.model.rows] == [
        "a.png",
        "Slice1.png",  # (case aside, as a file browser lists them)
        "slice1.png",
        "slice2.png",
        "slice10.png",
    ]


def test_the_outline_in_progress_is_a_logical_pixel_wide(window):
    """The polygon's and lasso's line in progress is one logical pixel at any zoom, so on
    a high-density screen it is as wide as the vertex marks beside it (a pen of width 0
    is one device pixel: a faint hairline at a device pixel ratio of 2)."""
    pen = window.canvas._preview.pen()
    assert pen.isCosmetic() and pen.widthF() == 1.0
