"""Scene items that draw numpy arrays: the image and the label overlay.

Both draw only the part of the array inside the exposed rectangle, so a stroke that
updates a 41x41 box repaints 41x41 pixels whatever the image size. Scene coordinates
are pixel coordinates: pixel ``(row r, column c)`` covers ``[c, c+1) x [r, r+1)``.

The label overlay wraps the label map's own buffer in a ``QImage.Format_Indexed8`` with
no copy; the colour table maps class id -> ARGB (class colour, alpha = opacity, alpha 0
for hidden classes and for unlabelled). Edits therefore need only ``update(box)``.
Maps with more than 254 classes (``uint16``) go through a numpy look-up table per
repaint instead, which is slower but correct.

In the outline view (View > Labels as outlines, O) the overlay draws only the borders of the
labelled regions, so the picture under a region stays visible (on EM, the membranes a
fill would cover). The borders are found on the screen's grid, not the image's: each
screen pixel of the repainted rectangle takes the label of the image pixel under its
centre, and one whose label differs from a 4-neighbour's is drawn in its class colour,
so a border is one screen pixel on each side of it (two between two classes, one next
to unlabelled pixels) at every zoom. Outside the image counts as a label of its own, so a
region that reaches the image's edge is closed there by a border too. Only the repainted rectangle is computed, plus a
margin of one screen pixel for its neighbours; an edit repaints its box grown by one
image pixel, whose borders may have changed too.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF
from PySide6.QtGui import QImage, QPainter, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from annotator.core.labelmap import Box
from annotator.core.schema import LabelSchema

VOID_RGB = (255, 255, 255)  # whitens the image: visible on grey micrographs too


def colour_table(
    schema: LabelSchema,
    opacity: float,
    hidden: set[int] | frozenset[int] = frozenset(),
    size: int = 256,
) -> np.ndarray:
    """``uint32`` ARGB per label value: class colours, void grey, unlabelled transparent."""
    alpha = int(round(max(0.0, min(1.0, opacity)) * 255))
    table = np.zeros(size, dtype=np.uint32)

    def argb(rgb: tuple[int, int, int], a: int) -> int:
        return (a << 24) | (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]

    for c in schema.classes:
        if c.id < size:
            table[c.id] = argb(c.rgb, 0 if c.id in hidden else alpha)
    void = schema.void
    if void < size:
        table[void] = argb(VOID_RGB, 0 if void in hidden else alpha)
    return table  # unlabelled stays 0: fully transparent


def outline_table(table: np.ndarray) -> np.ndarray:
    """The colours of the outline view: ``table``'s, each alpha doubled (at most opaque).
    A line one or two screen pixels wide at the fill's default 50 % was lost in the
    texture of an electron micrograph; hidden classes (alpha 0) stay hidden."""
    table = np.asarray(table, dtype=np.uint32)
    alpha = np.minimum((table >> 24) * 2, 255).astype(np.uint32)
    return (alpha << 24) | (table & 0xFFFFFF)


def border_mask(sampled: np.ndarray) -> np.ndarray:
    """Which pixels of ``sampled`` without its outermost ring (``(H-2, W-2)``) hold a label
    other than one of their four neighbours'."""
    c = sampled[1:-1, 1:-1]
    edge = c != sampled[:-2, 1:-1]
    edge |= c != sampled[2:, 1:-1]
    edge |= c != sampled[1:-1, :-2]
    edge |= c != sampled[1:-1, 2:]
    return edge


def _screen_samples(
    start: int, stop: int, offset: float, scale: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """For the screen pixels ``start-1 .. stop`` (one of margin each side): the image
    pixel under each one's centre (clipped into the image), and whether it is inside.
    A centre on the edge between two pixels is the lower one's, as Qt draws the picture
    there (``core.labelmap.pixel_of``): the borders lay a pixel off at zoom 1.25."""
    screen = np.arange(start - 1, stop + 1, dtype=np.float64)
    pixel = (np.ceil((screen + 0.5 - offset) / scale - 1e-6) - 1).astype(np.intp)
    inside = (pixel >= 0) & (pixel < size)
    return np.clip(pixel, 0, size - 1), inside


def _source_rect(exposed: QRectF, width: int, height: int) -> tuple[int, int, int, int] | None:
    x0 = max(0, math.floor(exposed.left()))
    y0 = max(0, math.floor(exposed.top()))
    x1 = min(width, math.ceil(exposed.right()))
    y1 = min(height, math.ceil(exposed.bottom()))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


class ArrayImageItem(QGraphicsItem):
    """Draws a ``uint8`` grey or RGB image (kept alive by reference, never copied)."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None

    def set_array(self, array: np.ndarray | None) -> None:
        self.prepareGeometryChange()
        self._array = None if array is None else np.ascontiguousarray(array)
        self._image = None
        if self._array is not None:
            a = self._array
            h, w = a.shape[:2]
            if a.ndim == 2:
                self._image = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8)
            else:
                self._image = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888)
        self.update()

    @property
    def array(self) -> np.ndarray | None:
        return self._array

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        if self._array is None:
            return QRectF()
        return QRectF(0, 0, self._array.shape[1], self._array.shape[0])

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image is None:
            return
        src = _source_rect(option.exposedRect, self._image.width(), self._image.height())
        if src is not None:
            r = QRectF(*src)
            painter.drawImage(r, self._image, r)


class LabelOverlayItem(QGraphicsItem):
    """Draws a label map through a colour table; repaints only the boxes it is told about."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._labels: np.ndarray | None = None
        self._image: QImage | None = None
        self._table = np.zeros(256, dtype=np.uint32)
        self._outline_table = self._table
        self._outline = False

    def set_labels(self, labels: np.ndarray | None, table: np.ndarray) -> None:
        """Show ``labels`` (the label map's own array, edited in place later)."""
        self.prepareGeometryChange()
        self._labels = labels
        self._image = None
        if labels is not None and labels.dtype == np.uint8:
            if not labels.flags.c_contiguous:
                raise ValueError("the overlay needs a C-contiguous label array")
            h, w = labels.shape
            self._image = QImage(
                labels.data, w, h, labels.strides[0], QImage.Format.Format_Indexed8
            )
        self.set_table(table)

    @property
    def labels(self) -> np.ndarray | None:
        """The array shown (not a copy)."""
        return self._labels

    def set_table(self, table: np.ndarray) -> None:
        """New colours (opacity, visibility, recolour): one cheap update of the item."""
        self._table = np.asarray(table, dtype=np.uint32)
        self._outline_table = outline_table(self._table)
        if self._image is not None:
            self._image.setColorTable([int(v) for v in self._table[:256]])
        self.update()

    @property
    def outline(self) -> bool:
        """Whether the regions' borders are drawn instead of their fill."""
        return self._outline

    def set_outline(self, outline: bool) -> None:
        """Draw the labelled regions' borders only (True) or filled (False)."""
        if outline != self._outline:
            self._outline = outline
            self.update()

    def update_box(self, box: Box | None) -> None:
        """Schedule a repaint of the pixels in ``box`` (everything when None); in the
        outline view with a margin of one pixel, whose borders the edit may change."""
        if box is None:
            self.update()
        elif not box.empty:
            m = 1 if self._outline else 0
            self.update(QRectF(box.x0 - m, box.y0 - m, box.width + 2 * m, box.height + 2 * m))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        if self._labels is None:
            return QRectF()
        return QRectF(0, 0, self._labels.shape[1], self._labels.shape[0])

    def render_region(self, painter: QPainter, x: int, y: int, w: int, h: int) -> None:
        """Draw the labels of the pixel rectangle at the same scene position."""
        if self._labels is None:
            return
        if self._outline:
            self._render_outline(painter, x, y, w, h)
            return
        if self._image is not None:
            # The integer overload skips Qt's scaling path: ~10% faster for a full refresh.
            painter.drawImage(QPoint(x, y), self._image, QRect(x, y, w, h))
            return
        r = QRectF(x, y, w, h)
        # uint16 maps: colour the region through the look-up table (copy per repaint).
        region = self._labels[y : y + h, x : x + w]
        table = self._table
        if table.size <= int(region.max(initial=0)):
            table = np.pad(table, (0, int(region.max()) + 1 - table.size))
        argb = np.ascontiguousarray(table[region])
        img = QImage(argb.data, w, h, argb.strides[0], QImage.Format.Format_ARGB32)
        painter.drawImage(r, img)

    def _render_outline(self, painter: QPainter, x: int, y: int, w: int, h: int) -> None:
        """Draw the borders of the regions in the pixel rectangle, on the screen's grid
        (see the module docstring)."""
        labels = self._labels
        assert labels is not None
        t = painter.worldTransform()
        on_screen = (
            t.type().value <= QTransform.TransformationType.TxScale.value
            and t.m11() > 0
            and t.m22() > 0
        )
        if not on_screen:  # turned or mirrored (never in the app): on the image's grid
            t = QTransform()
        # on a high-density screen (device pixel ratio 1.5, 2) a screen pixel is a device
        # pixel, not a logical one: sample on the device's grid
        device = painter.device()
        ratio = device.devicePixelRatioF() if on_screen and device is not None else 1.0
        if ratio != 1.0:
            t = t * QTransform.fromScale(ratio, ratio)
        rect = t.mapRect(QRectF(x, y, w, h))
        u0, v0 = math.floor(rect.left()), math.floor(rect.top())
        u1, v1 = math.ceil(rect.right()), math.ceil(rect.bottom())
        if u1 <= u0 or v1 <= v0:
            return
        rows, rows_in = _screen_samples(v0, v1, t.dy(), t.m22(), labels.shape[0])
        cols, cols_in = _screen_samples(u0, u1, t.dx(), t.m11(), labels.shape[1])
        sampled = labels.take(rows, axis=0).take(cols, axis=1)
        edge = border_mask(sampled)
        # A neighbour outside the image is a border too: a region is closed at the edge.
        edge |= ~(rows_in[:-2] & rows_in[2:])[:, None]
        edge |= ~(cols_in[:-2] & cols_in[2:])[None, :]
        edge &= rows_in[1:-1, None]
        edge &= cols_in[None, 1:-1]
        inner = sampled[1:-1, 1:-1]
        table = self._outline_table
        if table.size <= int(inner.max(initial=0)):
            table = np.pad(table, (0, int(inner.max()) + 1 - table.size))
        argb = table[inner]
        argb *= edge
        img = QImage(argb.data, u1 - u0, v1 - v0, argb.strides[0], QImage.Format.Format_ARGB32)
        if not on_screen:
            painter.drawImage(QPoint(u0, v0), img)
            return
        painter.save()
        painter.setWorldTransform(QTransform())  # logical screen pixels
        if ratio != 1.0:
            img.setDevicePixelRatio(ratio)  # one image pixel per device pixel
            painter.drawImage(QPointF(u0 / ratio, v0 / ratio), img)
        else:
            painter.drawImage(QPoint(u0, v0), img)
        painter.restore()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._labels is None:
            return
        src = _source_rect(option.exposedRect, self._labels.shape[1], self._labels.shape[0])
        if src is not None:
            self.render_region(painter, *src)
