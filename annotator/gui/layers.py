"""Scene items that draw numpy arrays: the image and the label overlay.

Both draw only the part of the array inside the exposed rectangle, so a stroke that
updates a 41x41 box repaints 41x41 pixels whatever the image size. Scene coordinates
are pixel coordinates: pixel ``(row r, column c)`` covers ``[c, c+1) x [r, r+1)``.

The label overlay wraps the label map's own buffer in a ``QImage.Format_Indexed8`` with
no copy; the colour table maps class id -> ARGB (class colour, alpha = opacity, alpha 0
for hidden classes and for unlabelled). Edits therefore need only ``update(box)``.
Maps with more than 254 classes (``uint16``) go through a numpy look-up table per
repaint instead, which is slower but correct.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF
from PySide6.QtGui import QImage, QPainter
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
        if self._image is not None:
            self._image.setColorTable([int(v) for v in self._table[:256]])
        self.update()

    def update_box(self, box: Box | None) -> None:
        """Schedule a repaint of the pixels in ``box`` (everything when None)."""
        if box is None:
            self.update()
        elif not box.empty:
            self.update(QRectF(box.x0, box.y0, box.width, box.height))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        if self._labels is None:
            return QRectF()
        return QRectF(0, 0, self._labels.shape[1], self._labels.shape[0])

    def render_region(self, painter: QPainter, x: int, y: int, w: int, h: int) -> None:
        """Draw the labels of the pixel rectangle at the same scene position."""
        if self._labels is None:
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

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._labels is None:
            return
        src = _source_rect(option.exposedRect, self._labels.shape[1], self._labels.shape[0])
        if src is not None:
            self.render_region(painter, *src)
