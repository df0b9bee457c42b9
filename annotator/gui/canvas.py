"""The canvas: image, label overlay, tools, zoom and pan in a QGraphicsView.

* Wheel zooms around the cursor, a horizontal wheel (or a trackpad's sideways swipe)
  pans sideways, Shift+wheel changes the brush radius; ``+`` and ``-`` zoom around the
  cursor when it is over the image; ``fit_to_window`` shows the whole image (a strip,
  such as 20000 x 300, from its start at a zoom that keeps its short side readable); at
  high zoom each image pixel is an exact square (no smoothing).
* Middle button, or Space held with the left button, pans. Space pans wherever the
  keyboard focus is (a class row just clicked, a check box) while the pointer is over the
  image, except in a text field, where it types a space.
* The left button drives the current tool; the right button erases with every tool that
  paints (brush, fill, polygon, lasso, superpixel brush). Alt+click picks the class under
  the cursor (as the I key does).
* A tool that shows the brush gets the centre of the image pixel under the pointer (whole
  numbers), so a dab of radius r is the same symmetric disc wherever in the pixel the
  click falls.
* Extra layers (a proposal overlay, an uncertainty map) go in with :meth:`add_layer`
  above the labels and below the tool previews.
* A slice of a scan whose voxels are not square in its plane (0.5 x 1 mm) is shown at
  their shape: the view stretches the picture across or down (``pixel_aspect`` of
  :meth:`LabelCanvas.set_document`), the zoom being that of the shorter side. The
  labels stay a pixel per voxel: the brush is a disc of voxels (drawn as the ellipse it
  paints), and every screen position maps to the label pixel shown under it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFocusEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QStyleOptionGraphicsItem,
    QTextEdit,
    QWidget,
)

from annotator.core.labelmap import Box, Point, Tolerance, pixel_of
from annotator.gui.layers import ArrayImageItem, LabelOverlayItem
from annotator.gui.smart_tools import SmartSupport, cancelled_text, smart_tools
from annotator.gui.tools import PolygonTool, Tool, all_tools
from annotator.services.document import Document

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
#: Fit to window shows the whole image, unless its short side would then take less than
#: this share of the window (20000 x 300 was a 602 x 9 px strip): then it zooms up to
#: that share (at most 1:1) and shows the image from its start.
MIN_FIT_SHARE = 0.25
#: Zooming out stops once the whole image takes this share of the view across (a small
#: image went down to 1/64, a dot), unless one image pixel per screen pixel is further
#: out (a small image can always be seen at 1:1): :func:`least_zoom`.
MIN_VIEW_SHARE = 0.25
Z_IMAGE, Z_LABELS, Z_LAYERS, Z_PREVIEW = 0.0, 10.0, 20.0, 100.0
#: Screen pixels a horizontal wheel notch (120 eighths of a degree) pans sideways.
PAN_PER_NOTCH = 60
PREVIEW_RGB = (255, 255, 0)  # outlines in progress
OUTLINE = QColor(0, 0, 0, 200)  # the dark edge that keeps a mark visible on bright pictures


def _cosmetic(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)  # in screen pixels, at any zoom
    return pen


class BrushRing(QGraphicsEllipseItem):
    """The brush outline: a ring in the colour the brush paints (white for the eraser),
    edged dark on both sides so it shows on a bright picture as on a dark one (a 1-px
    white line vanished over bright cytoplasm)."""

    WIDTH, EDGE = 2.0, 1.5  # screen pixels: the colour, and the dark edge each side

    def __init__(self) -> None:
        super().__init__()
        self.colour = QColor(255, 255, 255)
        self._margin = 4.0  # scene units the screen-width pens reach past the rect

    def set_ring(self, rect: QRectF, zoom: float, colour: QColor) -> None:
        self.prepareGeometryChange()
        self._margin = (self.WIDTH / 2 + self.EDGE + 1) / max(zoom, 1e-6)
        self.colour = colour
        self.setRect(rect)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        m = self._margin
        return self.rect().adjusted(-m, -m, m, m)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.save()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(_cosmetic(OUTLINE, self.WIDTH + 2 * self.EDGE))
        painter.drawEllipse(self.rect())
        painter.setPen(_cosmetic(self.colour, self.WIDTH))
        painter.drawEllipse(self.rect())
        painter.restore()


class VertexMarks(QGraphicsItem):
    """A polygon's vertices, drawn at a fixed screen size: a small square on each, and
    round the first a ring as wide as the click that closes the polygon (filled faintly once
    the polygon has enough vertices to close, and lit, filled and thicker, while the pointer
    is on it: a click there closes the polygon)."""

    SQUARE = 6.0  # screen pixels
    FILL_ALPHA = 90  # the ring's fill once the polygon can close
    LIT_ALPHA = 210  # ... and while the pointer is on it
    LIT_WIDTH = 3.5  # the lit ring's line (screen pixels; 2 otherwise)

    def __init__(self) -> None:
        super().__init__()
        self._points: list[Point] = []
        self._zoom = 1.0
        self._closing = False
        self.close_px = PolygonTool.close_distance_px

    def set_points(self, points: list[Point], zoom: float, closing: bool | None = None) -> None:
        """The vertices at ``zoom``; ``closing``: whether the close target is lit (None:
        as it was, for a change of zoom only)."""
        closing = self._closing if closing is None else bool(closing) and bool(points)
        if points == self._points and zoom == self._zoom and closing == self._closing:
            return
        self.prepareGeometryChange()
        self._points, self._zoom, self._closing = list(points), zoom, closing
        self.update()

    @property
    def points(self) -> list[Point]:
        return list(self._points)

    @property
    def closing(self) -> bool:
        """Whether the close target is lit: the pointer is on it, a click closes."""
        return self._closing

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        if not self._points:
            return QRectF()
        xs = [x + 0.5 for x, _ in self._points]
        ys = [y + 0.5 for _, y in self._points]
        m = (self.close_px + self.SQUARE + 4) / max(self._zoom, 1e-6)
        return QRectF(
            min(xs) - m, min(ys) - m, max(xs) - min(xs) + 2 * m, max(ys) - min(ys) + 2 * m
        )

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self._points:
            return
        to_screen = painter.worldTransform()
        on_screen = [to_screen.map(QPointF(x + 0.5, y + 0.5)) for x, y in self._points]
        yellow = QColor(*PREVIEW_RGB)
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        first, r = on_screen[0], self.close_px
        width = self.LIT_WIDTH if self._closing else 2.0
        painter.setPen(_cosmetic(OUTLINE, width + 2.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(first, r, r)
        alpha = self.LIT_ALPHA if self._closing else self.FILL_ALPHA
        closable = QColor(*PREVIEW_RGB, alpha) if len(on_screen) >= 3 else None
        painter.setBrush(QBrush(closable) if closable is not None else Qt.BrushStyle.NoBrush)
        painter.setPen(_cosmetic(yellow, width))
        painter.drawEllipse(first, r, r)
        half = self.SQUARE / 2
        painter.setPen(_cosmetic(OUTLINE, 1.0))
        painter.setBrush(QBrush(yellow))
        for q in on_screen:
            painter.drawRect(QRectF(q.x() - half, q.y() - half, self.SQUARE, self.SQUARE))
        painter.restore()


def _types_text(widget: QWidget) -> bool:
    """Whether a space typed into ``widget`` is text (a name filter, a class name): a line
    edit outside a number box, a text editor, an editable combo box."""
    if isinstance(widget, QLineEdit):
        return not isinstance(widget.parent(), QAbstractSpinBox) and not widget.isReadOnly()
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    return isinstance(widget, QComboBox) and widget.isEditable()


class SpaceRouter(QObject):
    """Space held while the pointer is over the canvas pans, wherever the keyboard focus
    is in the canvas's window. Without it a click in the class list kept the focus
    there, so Space ticked a class's "shown" box off and the drag painted instead of
    panning. A text field with the focus keeps its spaces.

    While a tool's gesture waits for a key (a polygon's Enter, Escape, Backspace), those
    keys reach the tool wherever the focus is in the window too: after a click on a
    class row they went to the list, and the polygon could only be closed by a click on
    the picture, which added a vertex."""

    def __init__(self, canvas: LabelCanvas) -> None:
        super().__init__(canvas)
        self._canvas = canvas

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(event, QKeyEvent):
            return False
        if event.key() != Qt.Key.Key_Space:
            return kind == QEvent.Type.KeyPress and self._gesture_key(watched, event)
        canvas = self._canvas
        if watched is canvas or not isinstance(watched, QWidget):
            return False  # the canvas's own (keyPressEvent), or not a widget's
        if kind == QEvent.Type.KeyRelease:
            if not canvas.space_held:
                return False
            if not event.isAutoRepeat():
                canvas.hold_space(False)
            return True
        if (
            not _in_main_window(watched, canvas)
            or _types_text(watched)
            or not canvas.pointer_over()
            or event.modifiers()
            & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            )
        ):
            return False
        if not event.isAutoRepeat():
            canvas.hold_space(True)
        return True  # (auto-repeats too: the row under the focus must not toggle)

    def _gesture_key(self, watched: QObject, event: QKeyEvent) -> bool:
        """Hand Enter, Escape or Backspace to the tool whose gesture is in progress,
        when the focus is elsewhere in the window: on a panel's list, slider, button or
        combo box, not in a text field or a number box (whose keys they are), nor in a
        dialog or a popup. Only as the key reaches the focused widget: a text field
        passes Enter on to its parent, which is no text field."""
        canvas = self._canvas
        name = canvas.KEYS.get(Qt.Key(event.key()))
        focus = QApplication.focusWidget()
        if (
            name is None
            or watched is not focus
            or focus is canvas
            or not canvas.tool.busy
            or QApplication.activePopupWidget() is not None
            or QApplication.activeModalWidget() is not None
            or not _in_main_window(focus, canvas)
            or _types_text(focus)
            or _takes_enter(focus)
            or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            return False
        return canvas.tool_key(name)


def _takes_enter(widget: QWidget) -> bool:
    """Whether Enter, Escape and Backspace are a widget's own keys: a number box's (its
    digits, its Enter), within it too. (A combo box's list is a popup, left alone; closed,
    a combo box has no use for them.)"""
    w: QWidget | None = widget
    while w is not None and not w.isWindow():
        if isinstance(w, QAbstractSpinBox):
            return True
        w = w.parentWidget()
    return False


def _in_main_window(widget: QWidget, canvas: QWidget) -> bool:
    """Whether ``widget`` is in the canvas's window or a panel floating off it (a
    floating dock is a window of its own), not in a dialog."""
    window = widget.window()
    if window is canvas.window():
        return True
    parent = window.parentWidget()
    return (
        isinstance(window, QDockWidget)
        and parent is not None
        and (parent.window() is canvas.window())
    )


class LabelCanvas(QGraphicsView):
    """Shows one document and turns pointer events into tool calls."""

    cursor_moved = Signal(int, int)  # pixel column, row (may lie outside the image)
    zoom_changed = Signal(float)
    brush_radius_changed = Signal(float)
    tool_changed = Signal(str)
    notice = Signal(str)  # a tool's short message (the status bar)
    # A gesture begins that writes this label value: the class, or Unlabelled for one
    # that erases or writes other classes (the proposal brush, accept region).
    painting = Signal(int)
    pick_requested = Signal(int, int)  # Alt+click: the class under pixel (column, row)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.image_item = ArrayImageItem()
        self.image_item.setZValue(Z_IMAGE)
        self.overlay = LabelOverlayItem()
        self.overlay.setZValue(Z_LABELS)
        self._preview = QGraphicsPathItem()
        self._preview.setZValue(Z_PREVIEW)
        # one logical pixel at any zoom (cosmetic): on a high-density screen as wide as the
        # vertex marks drawn beside it, not a hairline of one device pixel (a width of 0)
        self._preview.setPen(_cosmetic(QColor(*PREVIEW_RGB), 1.0))
        self._vertices = VertexMarks()
        self._vertices.setZValue(Z_PREVIEW + 0.5)
        self._brush = BrushRing()
        self._brush.setZValue(Z_PREVIEW + 1)
        self._brush.setVisible(False)
        for item in (self.image_item, self.overlay, self._preview, self._vertices, self._brush):
            self.scene().addItem(item)
        self._table = np.zeros(256, dtype=np.uint32)  # the overlay's colours (the brush's)

        self.tools: dict[str, Tool] = {t.name: t for t in all_tools() + smart_tools()}
        self.tool: Tool = self.tools["brush"]
        self._document: Document | None = None
        self._value = 0
        self._radius = 8.0
        self._protected: int | None = None
        self._protection_text = ""
        self._cleanup_area = 64
        self.smart: SmartSupport | None = None
        self._fill_tolerance: Tolerance | None = None
        self._space = False
        self._pan_from: QPointF | None = None
        self._tool_button: Qt.MouseButton | None = None
        self._cursor: Point | None = None  # the pixel under the pointer (None: not over)
        self._last_point: Point | None = None  # where the tool last heard the pointer
        self._exact: Point | None = None  # the pointer within its pixel (pointer_exact)
        self._pointer: QPointF | None = None  # the pointer in the viewport (None: not over)
        self._radius_steps = 0.0  # Shift+wheel notches not yet a radius step (trackpads)
        self._fitted = True  # refit on resize until the user zooms
        self._aspect = (1.0, 1.0)  # the picture's stretch across and down (set_document)
        # What to do next, said on the empty canvas (no project, no images, no image open).
        self.placeholder = QLabel(self.viewport())
        self.placeholder.setObjectName("canvasPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #d0d0d0; font-size: 15px;")
        self.placeholder.hide()
        # Listens to the application's keys only while the pointer is over the canvas (or
        # Space is held): no Python call per event of the application otherwise.
        self.space_router = SpaceRouter(self)
        self._routing = False

    # --- ToolContext -------------------------------------------------------------------
    @property
    def document(self) -> Document | None:
        return self._document

    @property
    def current_value(self) -> int:
        return self._value

    @property
    def brush_radius(self) -> float:
        return self._radius

    @property
    def protected_value(self) -> int | None:
        return self._protected

    @property
    def protection_text(self) -> str:
        return self._protection_text

    @property
    def cleanup_area(self) -> int:
        return self._cleanup_area

    @property
    def fill_tolerance(self) -> Tolerance | None:
        return self._fill_tolerance

    @property
    def zoom(self) -> float:
        """Screen pixels per image pixel (along the pixels' shorter side)."""
        return float(self.transform().m11()) / self._aspect[0]

    @property
    def pixel_aspect(self) -> tuple[float, float]:
        """How much the picture is stretched across and down: ``(1, 2)`` shows pixels
        twice as tall as wide (voxels of 0.5 x 1 mm); ``(1, 1)``: square pixels."""
        return self._aspect

    @property
    def pointer_exact(self) -> Point | None:
        return self._exact

    def _scaled(self, zoom: float) -> QTransform:
        """The view's transform at ``zoom``: the picture stretched by its aspect."""
        ax, ay = self._aspect
        return QTransform.fromScale(zoom * ax, zoom * ay)

    def _shown_size(self, rect: QRectF) -> tuple[float, float]:
        """The size of ``rect`` (scene units) stretched by the aspect: as shown at zoom 1."""
        return rect.width() * self._aspect[0], rect.height() * self._aspect[1]

    def say(self, text: str) -> None:
        self.notice.emit(text)

    def set_preview(
        self,
        points: list[Point] | None,
        closed: bool = False,
        vertices: Sequence[Point] = (),
        closing: bool = False,
    ) -> None:
        path = QPainterPath()
        if points:
            path.moveTo(points[0][0] + 0.5, points[0][1] + 0.5)
            for x, y in points[1:]:
                path.lineTo(x + 0.5, y + 0.5)
            if closed:
                path.closeSubpath()
        self._preview.setPath(path)
        self._vertices.set_points(list(vertices), self.zoom, closing)

    def vertex_marks(self) -> list[Point]:
        """The vertices marked on the canvas (a polygon in progress), first the close target."""
        return self._vertices.points

    def close_target_lit(self) -> bool:
        """Whether the polygon's close target is lit: the pointer is on it, so a click
        there closes the polygon."""
        return self._vertices.closing

    # --- settings -------------------------------------------------------------------------
    def set_current_value(self, value: int) -> None:
        self._value = int(value)
        self._update_brush_cursor()  # its colour

    def set_brush_radius(self, radius: float) -> None:
        radius = float(min(max(radius, 0.0), 500.0))
        if radius != self._radius:
            self._radius = radius
            self._update_brush_cursor()
            self.brush_radius_changed.emit(radius)

    def set_protected_value(self, value: int | None, text: str = "") -> None:
        """Protected painting: edits change only pixels of this label (None: any);
        ``text``: the choice in words, for the status bar."""
        self._protected = value
        self._protection_text = text if value is not None else ""

    def set_cleanup_area(self, pixels: int) -> None:
        """Largest hole or speck (pixels) the clean-up tool removes."""
        self._cleanup_area = max(1, int(pixels))

    def set_fill_tolerance(self, tolerance: Tolerance | None) -> None:
        self._fill_tolerance = tolerance

    def set_tool(self, name: str) -> None:
        if name not in self.tools or self.tools[name] is self.tool:
            return
        self.tool.finish(self)
        self.tool = self.tools[name]
        self._update_brush_cursor()
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.tool_changed.emit(name)

    # --- document -------------------------------------------------------------------------
    def set_document(
        self,
        document: Document | None,
        display: np.ndarray | None,
        table: np.ndarray,
        pixel_aspect: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        """Show ``document`` with its display image (``uint8``) and colour table, its
        pixels stretched by ``pixel_aspect`` (across, down; a display setting: a slice
        of a scan of voxels not square in its plane)."""
        self.finish_gesture()
        self._aspect = (1.0, 1.0) if document is None else _aspect(pixel_aspect)
        if self._document is not None:
            self._document.remove_repaint_listener(self.overlay.update_box)
        self._document = document
        self.image_item.set_array(display)
        self.overlay.set_labels(None if document is None else document.label_map.array, table)
        if document is not None:
            document.add_repaint_listener(self.overlay.update_box)
            h, w = document.label_map.shape
            self.setSceneRect(QRectF(-w, -h, 3 * w, 3 * h))  # room to pan past the edges
        self.fit_to_window()

    def set_display_image(self, display: np.ndarray) -> None:
        """Replace the shown pixels (after a contrast change)."""
        self.image_item.set_array(display)

    def set_colour_table(self, table: np.ndarray) -> None:
        self._table = np.asarray(table, dtype=np.uint32)
        self.overlay.set_table(table)
        self._update_brush_cursor()

    def brush_colour(self) -> QColor:
        """What the brush outline is drawn in: the colour the tool paints, the current
        class's (shown or hidden), white for a tool that erases or paints the proposal."""
        value = self._value
        doc = self._document
        if (
            not self.tool.paints_current
            or value >= self._table.size
            or (doc is not None and value == doc.label_map.unlabelled)
        ):
            return QColor(255, 255, 255)
        rgb = int(self._table[value]) & 0xFFFFFF
        return QColor((rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255)

    def set_labels_visible(self, visible: bool) -> None:
        self.overlay.setVisible(visible)

    def labels_visible(self) -> bool:
        return self.overlay.isVisible()

    def add_layer(self, item: QGraphicsItem, z: float = Z_LAYERS) -> None:
        """Add an extra layer (e.g. a proposal overlay) above the labels."""
        item.setZValue(z)
        self.scene().addItem(item)

    def undo_in_gesture(self) -> bool:
        """Undo during a gesture takes back the gesture's own last part (see
        :meth:`Tool.undo_in_gesture`); False when no gesture is in progress."""
        done = self.tool.undo_in_gesture(self)
        if done:
            self._tool_button = None
        return done

    def gesture_in_progress(self) -> bool:
        """Whether the user is in the middle of a gesture: the tool's (a drag with the
        button held, polygon vertices clicked, a GrabCut box), a button held on the
        canvas, a pan (middle or Space drag), or a stroke open on the document."""
        doc = self._document
        return (
            self.tool.busy
            or self._tool_button is not None
            or self._pan_from is not None
            or (doc is not None and doc.in_stroke)
        )

    def finish_gesture(self) -> None:
        """Keep a gesture in progress (commit a stroke); used before save and switch."""
        self.tool.finish(self)
        self._tool_button = None

    def repaint_box(self, box: Box | None) -> None:
        self.overlay.update_box(box)

    # --- zoom -------------------------------------------------------------------------------
    def fit_to_window(self) -> None:
        rect = self.image_item.boundingRect()
        if rect.isEmpty():
            return
        width, height = self._shown_size(rect)
        self.resetTransform()
        self.fitInView(
            QRectF(rect.x(), rect.y(), width, height), Qt.AspectRatioMode.KeepAspectRatio
        )
        if self._aspect != (1.0, 1.0):
            self.setTransform(self._scaled(float(self.transform().m11())))
        self._clamp_zoom()
        zoom = fit_zoom(self.zoom, width, height, self.viewport().width(), self.viewport().height())
        if zoom > self.zoom:  # a strip: its start, at a zoom that shows something
            self.setTransform(self._scaled(zoom))
            view = self.viewport().rect()
            ax, ay = self._aspect
            half_w, half_h = view.width() / (2 * zoom * ax), view.height() / (2 * zoom * ay)
            wide = width * self.viewport().height() >= height * view.width()
            x = min(half_w, rect.center().x()) if wide else rect.center().x()
            y = rect.center().y() if wide else min(half_h, rect.center().y())
            self.centerOn(QPointF(x, y))
        else:
            self.centerOn(rect.center())
        self._fitted = True
        self._after_zoom()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` screen pixels per image pixel, keeping ``anchor`` (viewport) fixed."""
        zoom = min(max(zoom, self.least_zoom()), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        scene_point = self.mapToScene(anchor.toPoint())
        self.setTransform(self._scaled(zoom))
        shift = self.mapFromScene(scene_point) - anchor.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + shift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + shift.y())
        self._fitted = False
        self._after_zoom()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def zoom_step(self, factor: float) -> None:
        """Zoom by ``factor`` around the pointer when it is over the image (as the wheel
        does), else around the view's centre (the keys + and -, the View menu)."""
        self.zoom_by(factor, self._pointer)

    def pointer_over(self) -> bool:
        """Whether the pointer is over the canvas (no popup open over it)."""
        return self._pointer is not None and QApplication.activePopupWidget() is None

    def pixel_under_pointer(self) -> tuple[int, int] | None:
        """The pixel (column, row) under the pointer, or None when it is not over the
        canvas (it may lie outside the image)."""
        if self._cursor is None or not self.pointer_over():
            return None
        return int(self._cursor[0]), int(self._cursor[1])

    def least_zoom(self) -> float:
        """How far out this image can be zoomed (:func:`least_zoom`)."""
        width, height = self._shown_size(self.image_item.boundingRect())
        view = self.viewport()
        return least_zoom(width, height, view.width(), view.height(), view.devicePixelRatioF())

    def _clamp_zoom(self) -> None:
        z = self.zoom
        least = self.least_zoom()  # (below the fit only for 1/64: a huge picture)
        if not least <= z <= MAX_ZOOM:
            z = min(max(z, least), MAX_ZOOM)
            self.setTransform(self._scaled(z))

    def _after_zoom(self) -> None:
        if self._pointer is not None:  # (a key zoomed: the pointer is over another pixel now)
            self._track(self._pointer)
        self._update_brush_cursor()
        self._vertices.set_points(self._vertices.points, self.zoom)
        self.zoom_changed.emit(self.zoom)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.placeholder.setGeometry(self.viewport().rect().adjusted(40, 40, -40, -40))
        if self._fitted:
            self.fit_to_window()

    def set_placeholder(self, text: str) -> None:
        """Show ``text`` on the canvas while no image is open ("" hides it)."""
        self.placeholder.setText(text)
        self.placeholder.setGeometry(self.viewport().rect().adjusted(40, 40, -40, -40))
        self.placeholder.setVisible(bool(text) and self._document is None)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        """Vertical: zoom around the cursor (Ctrl too). Horizontal (a tilt wheel, a
        trackpad's sideways swipe): pan sideways. Shift+wheel: the brush radius, one
        step of ``[``/``]`` a notch (macOS sends Shift+wheel as horizontal: taken too)."""
        angle = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._wheel_radius((angle.y() or angle.x()) / 120.0)
            event.accept()
            return
        if angle.x():
            pixels = event.pixelDelta().x()
            dx = pixels if pixels else angle.x() / 120.0 * PAN_PER_NOTCH
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - int(round(dx)))
        steps = angle.y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, event.position())
        event.accept()

    def _wheel_radius(self, notches: float) -> None:
        """Grow (wheel away) or shrink the brush by whole notches; a trackpad's fractions
        add up to one first."""
        self._radius_steps += notches
        while abs(self._radius_steps) >= 1.0:
            up = self._radius_steps > 0
            self._radius_steps -= 1.0 if up else -1.0
            self.set_brush_radius(radius_step(self._radius, up))

    # --- pointer ------------------------------------------------------------------------------
    def _pixel(self, pos: QPointF) -> Point:
        """The label-map coordinates (pixel centres are whole numbers) of the device pixel
        under ``pos``, taken at its centre: ``mapToScene`` of a point gives the screen
        pixel's top-left corner, so at zoom 1 a click fell between four image pixels. On
        a high-DPI screen a logical pixel holds several device pixels, and positions come
        in fractions of one: the centre is that of the device pixel under the pointer
        (the logical pixel's centre is an edge between device pixels at ratio 2)."""
        view = self.viewport()
        ratio = view.devicePixelRatioF() or 1.0
        # The window's device pixels start at its corner, not the viewport's: at a ratio
        # of 1.25 or 1.5 the viewport may begin within one (at device x 85.5).
        origin = view.mapTo(view.window(), QPointF(0.0, 0.0))
        ox, oy = origin.x() * ratio, origin.y() * ratio
        centre = QPointF(
            (math.floor(pos.x() * ratio + ox) + 0.5 - ox) / ratio,
            (math.floor(pos.y() * ratio + oy) + 0.5 - oy) / ratio,
        )
        s = self.viewportTransform().inverted()[0].map(centre)
        return (s.x() - 0.5, s.y() - 0.5)

    def _track(self, pos: QPointF) -> Point:
        """Where the pointer is, for the tool: the centre of the pixel under it, in whole
        numbers. A dab is the same symmetric disc wherever in the pixel the pointer is
        (a dab of radius 1 was 3 or 5 pixels, leaning right and down, as the pointer sat
        nearer one side of the pixel or the other); an outline (polygon, lasso, box)
        runs through the centres of the pixels clicked or passed over, so each of them
        is filled (a pixel is filled when its centre is inside the outline or on it) and
        no pixel beyond the outline shown is."""
        p = self._pixel(pos)
        pixel = (float(pixel_of(p[0])), float(pixel_of(p[1])))
        self._cursor = pixel
        self._last_point = pixel
        self._exact = p
        self._pointer = QPointF(pos)
        self._route_space()
        self._update_brush_cursor()
        self.cursor_moved.emit(int(pixel[0]), int(pixel[1]))
        return pixel

    def _update_brush_cursor(self) -> None:
        if self._cursor is None or not self.tool.shows_brush:
            self._brush.setVisible(False)
            return
        # Round the pixels a dab paints (their centres within the radius): half a pixel
        # past those centres, so the ring encloses the dab rather than cutting it.
        r = max(self._radius, 0.0) + 0.5
        x, y = self._cursor
        rect = QRectF(x + 0.5 - r, y + 0.5 - r, 2 * r, 2 * r)
        self._brush.set_ring(rect, self.zoom, self.brush_colour())
        self._brush.setVisible(True)

    def _end_lost_gesture(self, buttons: Qt.MouseButton) -> None:
        """End the gesture whose button is no longer held (``buttons``): its release went
        to a popup or dialog that a key opened mid-drag (the class list, a menu, Export),
        and the brush went on painting with no button held. It ends where the pointer
        last was on the canvas, as a release there would have."""
        if self._tool_button is None or buttons & self._tool_button:
            return
        self._tool_button = None
        if self._last_point is not None:
            self.tool.release(self, self._last_point)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 (Qt API)
        if self._space and event.reason() == Qt.FocusReason.ActiveWindowFocusReason:
            self.hold_space(False)  # (let go in another application: never seen here)
        super().focusOutEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        self._end_lost_gesture(event.buttons() & ~event.button())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if (
            button == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.AltModifier
            and self._tool_button is None
        ):
            self._track(event.position())  # the eyedropper: no gesture
            assert self._cursor is not None
            self.pick_requested.emit(int(self._cursor[0]), int(self._cursor[1]))
            event.accept()
            return
        if (
            button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton)
            and self._tool_button is None
        ):
            self._tool_button = button
            erase = button == Qt.MouseButton.RightButton
            p = self._track(event.position())
            if self._document is not None:  # (every tool edits: hidden labels show)
                paints = not erase and self.tool.paints_current
                self.painting.emit(self._value if paints else self._document.label_map.unlabelled)
            self.tool.press(self, p, erase=erase)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            # The scroll bars move by whole pixels: the fraction left over is kept for the
            # next move (on a high-DPI screen the pointer moves in halves of a pixel, and
            # rounding each move took a slow drag nowhere at ratio 2, 1.5 times too far at
            # ratio 1.5).
            d = event.position() - self._pan_from
            bars = (self.horizontalScrollBar(), self.verticalScrollBar())
            moved = [int(math.trunc(v)) for v in (d.x(), d.y())]
            for bar, step in zip(bars, moved):
                bar.setValue(bar.value() - step)
            self._pan_from = QPointF(self._pan_from.x() + moved[0], self._pan_from.y() + moved[1])
            event.accept()
            return
        self._end_lost_gesture(event.buttons())
        p = self._track(event.position())
        if self._tool_button is not None:
            self.tool.move(self, p)
        else:
            self.tool.hover(self, p)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor
            )
            event.accept()
            return
        if self._tool_button is not None and event.button() == self._tool_button:
            self._tool_button = None
            self.tool.release(self, self._track(event.position()))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        """Qt sends a press within the double-click time and distance of a click as this
        instead of a press. Only a tool with a double click of its own (the polygon
        closes) takes it so; for every other tool it is the press it is (a quick second
        dab, a stroke begun just after a click: both were lost, with no word)."""
        if type(self.tool).double_click is Tool.double_click:
            self.mousePressEvent(event)
            return
        if (
            event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton)
            and not self._space
            and not event.modifiers() & Qt.KeyboardModifier.AltModifier
        ):
            self.tool.double_click(self, self._track(event.position()))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        self._cursor = None
        self._pointer = None
        self._route_space()
        self._brush.setVisible(False)
        super().leaveEvent(event)

    def _route_space(self) -> None:
        """Listen for Space wherever the focus is while the pointer is over the canvas,
        and until a Space held is let go; for a gesture's keys while one is in progress."""
        wanted = self._pointer is not None or self._space or self.tool.busy
        app = QApplication.instance()
        if wanted == self._routing or app is None:
            return
        if wanted:
            app.installEventFilter(self.space_router)
        else:
            app.removeEventFilter(self.space_router)
        self._routing = wanted

    # --- keys --------------------------------------------------------------------------------
    KEYS = {
        Qt.Key.Key_Escape: "escape",
        Qt.Key.Key_Return: "enter",
        Qt.Key.Key_Enter: "enter",
        Qt.Key.Key_Backspace: "backspace",
    }

    @property
    def space_held(self) -> bool:
        return self._space

    def hold_space(self, held: bool) -> None:
        """Space pressed (a left drag pans) or let go (a pan in progress ends)."""
        self._space = held
        if not held:
            self._pan_from = None
        self._route_space()
        self.viewport().setCursor(
            Qt.CursorShape.OpenHandCursor if held else Qt.CursorShape.CrossCursor
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.hold_space(True)
            event.accept()
            return
        name = self.KEYS.get(Qt.Key(key))
        if event.matches(QKeySequence.StandardKey.Undo) and (
            self.undo_in_gesture() or self._cancel_first_landing()
        ):
            # Reaches the canvas while Edit > Undo is disabled: during the first gesture,
            # or while the image's first edit, a GrabCut or clean-up, is being computed.
            event.accept()
            return
        if name is not None and self.tool_key(name):
            event.accept()
            return
        super().keyPressEvent(event)

    def _cancel_first_landing(self) -> bool:
        """Cancel the GrabCut or clean-up still being computed for the open image, when
        Undo has no step to take back (the window's Undo, disabled, never ran to cancel
        it: the result landed after the Ctrl+Z meant for it)."""
        doc = self._document
        if self.smart is None or doc is None or doc.history.can_undo:
            return False
        kinds = self.smart.cancel_landings(doc.image_id)
        if kinds:
            self.notice.emit(cancelled_text(kinds, "Undo"))
        return bool(kinds)

    def tool_key(self, name: str) -> bool:
        """Hand ``escape``, ``enter`` or ``backspace`` to the tool; True if it used it."""
        if not self.tool.key(self, name):
            return False
        if name == "escape":
            self._tool_button = None
        return True

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.hold_space(False)
            event.accept()
            return
        super().keyReleaseEvent(event)


def _aspect(aspect: tuple[float, float]) -> tuple[float, float]:
    """``aspect`` as the canvas keeps it: finite, the smaller side 1 (the zoom is that
    side's); (1, 1) for anything else."""
    ax, ay = (float(a) for a in aspect)
    if not (math.isfinite(ax) and math.isfinite(ay) and ax > 0 and ay > 0):
        return 1.0, 1.0
    least = min(ax, ay)
    return ax / least, ay / least


def radius_step(radius: float, bigger: bool) -> float:
    """The brush radius one step (``]``, ``[``, a Shift+wheel notch) from ``radius``:
    a fifth of it, at least 1 pixel; never below 0."""
    step = max(1.0, float(radius // 5))
    return radius + step if bigger else max(radius - step, 0.0)


def fit_zoom(fitted: float, width: float, height: float, view_w: float, view_h: float) -> float:
    """The zoom of Fit to window for an image of ``width`` x ``height`` in a view of
    ``view_w`` x ``view_h``, given ``fitted``, the zoom that shows it whole: that one,
    unless the image's short side then takes less than :data:`MIN_FIT_SHARE` of the
    view, which zooms up to that share (at most 1:1, never below ``fitted``)."""
    if width <= 0 or height <= 0 or view_w <= 0 or view_h <= 0:
        return fitted
    across = max(view_w / width, view_h / height)  # the zoom that fills the short side
    return max(fitted, min(1.0, MIN_FIT_SHARE * across))


def least_zoom(
    width: float, height: float, view_w: float, view_h: float, pixel_ratio: float = 1.0
) -> float:
    """The farthest zoom out for an image of ``width`` x ``height`` in a view of
    ``view_w`` x ``view_h``: the one at which the whole image takes
    :data:`MIN_VIEW_SHARE` of the view across (a small image became a dot at 1/64),
    but never nearer than one image pixel per device pixel (``pixel_ratio``: device
    pixels per screen pixel), nor farther than :data:`MIN_ZOOM` (an image of 100000 px)."""
    if width <= 0 or height <= 0 or view_w <= 0 or view_h <= 0:
        return MIN_ZOOM
    share = MIN_VIEW_SHARE * min(view_w / width, view_h / height)
    return max(MIN_ZOOM, min(1.0 / max(pixel_ratio, 1.0), share))
