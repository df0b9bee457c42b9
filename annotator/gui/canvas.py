"""The canvas: image, label overlay, tools, zoom and pan in a QGraphicsView.

* Wheel zooms around the cursor; ``fit_to_window`` shows the whole image (a strip,
  such as 20000 x 300, from its start at a zoom that keeps its short side readable); at
  high zoom each image pixel is an exact square (no smoothing).
* Middle button, or Space held with the left button, pans.
* The left button drives the current tool; the right button erases with the brush and
  the fill tool.
* Extra layers (a proposal overlay, an uncertainty map) go in with :meth:`add_layer`
  above the labels and below the tool previews.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
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
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QWidget,
)

from annotator.core.labelmap import Box, Point
from annotator.gui.layers import ArrayImageItem, LabelOverlayItem
from annotator.gui.smart_tools import SmartSupport, smart_tools
from annotator.gui.tools import Tool, all_tools
from annotator.services.document import Document

MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
#: Fit to window shows the whole image, unless its short side would then take less than
#: this share of the window (20000 x 300 was a 602 x 9 px strip): then it zooms up to
#: that share (at most 1:1) and shows the image from its start.
MIN_FIT_SHARE = 0.25
Z_IMAGE, Z_LABELS, Z_LAYERS, Z_PREVIEW = 0.0, 10.0, 20.0, 100.0


class LabelCanvas(QGraphicsView):
    """Shows one document and turns pointer events into tool calls."""

    cursor_moved = Signal(int, int)  # pixel column, row (may lie outside the image)
    zoom_changed = Signal(float)
    brush_radius_changed = Signal(float)
    tool_changed = Signal(str)
    notice = Signal(str)  # a tool's short message (the status bar)

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
        pen = QPen(QColor(255, 255, 0), 0)  # width 0 = cosmetic, one screen pixel
        self._preview.setPen(pen)
        self._brush = QGraphicsEllipseItem()
        self._brush.setZValue(Z_PREVIEW + 1)
        self._brush.setPen(QPen(QColor(255, 255, 255), 0))
        self._brush.setVisible(False)
        for item in (self.image_item, self.overlay, self._preview, self._brush):
            self.scene().addItem(item)

        self.tools: dict[str, Tool] = {t.name: t for t in all_tools() + smart_tools()}
        self.tool: Tool = self.tools["brush"]
        self._document: Document | None = None
        self._value = 0
        self._radius = 8.0
        self._protected: int | None = None
        self._cleanup_area = 64
        self.smart: SmartSupport | None = None
        self._fill_tolerance: float | None = None
        self._space = False
        self._pan_from: QPointF | None = None
        self._tool_button: Qt.MouseButton | None = None
        self._cursor: Point | None = None
        self._fitted = True  # refit on resize until the user zooms
        # What to do next, said on the empty canvas (no project, no images, no image open).
        self.placeholder = QLabel(self.viewport())
        self.placeholder.setObjectName("canvasPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #d0d0d0; font-size: 15px;")
        self.placeholder.hide()

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
    def cleanup_area(self) -> int:
        return self._cleanup_area

    @property
    def fill_tolerance(self) -> float | None:
        return self._fill_tolerance

    @property
    def zoom(self) -> float:
        return float(self.transform().m11())

    def say(self, text: str) -> None:
        self.notice.emit(text)

    def set_preview(self, points: list[Point] | None, closed: bool = False) -> None:
        path = QPainterPath()
        if points:
            path.moveTo(points[0][0] + 0.5, points[0][1] + 0.5)
            for x, y in points[1:]:
                path.lineTo(x + 0.5, y + 0.5)
            if closed:
                path.closeSubpath()
        self._preview.setPath(path)

    # --- settings -------------------------------------------------------------------------
    def set_current_value(self, value: int) -> None:
        self._value = int(value)

    def set_brush_radius(self, radius: float) -> None:
        radius = float(min(max(radius, 0.0), 500.0))
        if radius != self._radius:
            self._radius = radius
            self._update_brush_cursor()
            self.brush_radius_changed.emit(radius)

    def set_protected_value(self, value: int | None) -> None:
        """Protected painting: edits change only pixels of this label (None: any)."""
        self._protected = value

    def set_cleanup_area(self, pixels: int) -> None:
        """Largest hole or speck (pixels) the clean-up tool removes."""
        self._cleanup_area = max(1, int(pixels))

    def set_fill_tolerance(self, tolerance: float | None) -> None:
        self._fill_tolerance = tolerance

    def set_tool(self, name: str) -> None:
        if name not in self.tools or self.tools[name] is self.tool:
            return
        self.tool.finish(self)
        self.tool = self.tools[name]
        self._brush.setVisible(self.tool.shows_brush and self._cursor is not None)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self.tool_changed.emit(name)

    # --- document -------------------------------------------------------------------------
    def set_document(
        self, document: Document | None, display: np.ndarray | None, table: np.ndarray
    ) -> None:
        """Show ``document`` with its display image (``uint8``) and colour table."""
        self.finish_gesture()
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
        self.overlay.set_table(table)

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
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._clamp_zoom()
        zoom = fit_zoom(
            self.zoom,
            rect.width(),
            rect.height(),
            self.viewport().width(),
            self.viewport().height(),
        )
        if zoom > self.zoom:  # a strip: its start, at a zoom that shows something
            self.setTransform(QTransform.fromScale(zoom, zoom))
            view = self.viewport().rect()
            half_w, half_h = view.width() / (2 * zoom), view.height() / (2 * zoom)
            wide = rect.width() * self.viewport().height() >= rect.height() * view.width()
            x = min(half_w, rect.center().x()) if wide else rect.center().x()
            y = rect.center().y() if wide else min(half_h, rect.center().y())
            self.centerOn(QPointF(x, y))
        else:
            self.centerOn(rect.center())
        self._fitted = True
        self._after_zoom()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` screen pixels per image pixel, keeping ``anchor`` (viewport) fixed."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        scene_point = self.mapToScene(anchor.toPoint())
        self.setTransform(QTransform.fromScale(zoom, zoom))
        shift = self.mapFromScene(scene_point) - anchor.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + shift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + shift.y())
        self._fitted = False
        self._after_zoom()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def _clamp_zoom(self) -> None:
        z = self.zoom
        if not MIN_ZOOM <= z <= MAX_ZOOM:
            z = min(max(z, MIN_ZOOM), MAX_ZOOM)
            self.setTransform(QTransform.fromScale(z, z))

    def _after_zoom(self) -> None:
        self._update_brush_cursor()
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
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps, event.position())
        event.accept()

    # --- pointer ------------------------------------------------------------------------------
    def _pixel(self, pos: QPointF) -> Point:
        """The label-map coordinates (pixel centres are whole numbers) of the device pixel
        under ``pos``, taken at its centre: ``mapToScene`` of a point gives the screen
        pixel's top-left corner, so at zoom 1 a click fell between four image pixels. On
        a high-DPI screen a logical pixel holds several device pixels, and positions come
        in fractions of one: the centre is that of the device pixel under the pointer
        (the logical pixel's centre is an edge between device pixels at ratio 2)."""
        ratio = self.viewport().devicePixelRatioF() or 1.0
        centre = QPointF(
            (math.floor(pos.x() * ratio) + 0.5) / ratio, (math.floor(pos.y() * ratio) + 0.5) / ratio
        )
        s = self.viewportTransform().inverted()[0].map(centre)
        return (s.x() - 0.5, s.y() - 0.5)

    def _track(self, pos: QPointF) -> Point:
        p = self._pixel(pos)
        self._cursor = p
        self._update_brush_cursor()
        self.cursor_moved.emit(int(round(p[0])), int(round(p[1])))
        return p

    def _update_brush_cursor(self) -> None:
        if self._cursor is None or not self.tool.shows_brush:
            self._brush.setVisible(False)
            return
        r = max(self._radius, 0.5)
        x, y = self._cursor
        self._brush.setRect(QRectF(x + 0.5 - r, y + 0.5 - r, 2 * r, 2 * r))
        self._brush.setVisible(True)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if (
            button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton)
            and self._tool_button is None
        ):
            self._tool_button = button
            self.tool.press(
                self, self._track(event.position()), erase=button == Qt.MouseButton.RightButton
            )
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(
                self.horizontalScrollBar().value() - int(round(d.x()))
            )
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(round(d.y())))
            event.accept()
            return
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
        if event.button() == Qt.MouseButton.LeftButton and not self._space:
            self.tool.double_click(self, self._track(event.position()))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        self._cursor = None
        self._brush.setVisible(False)
        super().leaveEvent(event)

    # --- keys --------------------------------------------------------------------------------
    _KEYS = {
        Qt.Key.Key_Escape: "escape",
        Qt.Key.Key_Return: "enter",
        Qt.Key.Key_Enter: "enter",
        Qt.Key.Key_Backspace: "backspace",
    }

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        name = self._KEYS.get(Qt.Key(key))
        if event.matches(QKeySequence.StandardKey.Undo) and self.undo_in_gesture():
            # Reaches the canvas while Edit > Undo is disabled: during the first gesture.
            event.accept()
            return
        if name is not None and self.tool.key(self, name):
            if name == "escape":
                self._tool_button = None
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)


def fit_zoom(fitted: float, width: float, height: float, view_w: float, view_h: float) -> float:
    """The zoom of Fit to window for an image of ``width`` x ``height`` in a view of
    ``view_w`` x ``view_h``, given ``fitted``, the zoom that shows it whole: that one,
    unless the image's short side then takes less than :data:`MIN_FIT_SHARE` of the
    view, which zooms up to that share (at most 1:1, never below ``fitted``)."""
    if width <= 0 or height <= 0 or view_w <= 0 or view_h <= 0:
        return fitted
    across = max(view_w / width, view_h / height)  # the zoom that fills the short side
    return max(fitted, min(1.0, MIN_FIT_SHARE * across))
