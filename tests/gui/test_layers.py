"""The overlay draws labels through the colour table, for 8-bit and 16-bit label maps."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPainter

from annotator.core.schema import LabelSchema
from annotator.gui.layers import VOID_RGB, LabelOverlayItem, colour_table


def render(labels: np.ndarray, table: np.ndarray) -> QImage:
    item = LabelOverlayItem()
    item.set_labels(labels, table)
    h, w = labels.shape
    out = QImage(w, h, QImage.Format.Format_ARGB32)
    out.fill(0)
    painter = QPainter(out)
    item.render_region(painter, 0, 0, w, h)
    painter.end()
    return out


def test_colour_table_maps_classes_void_unlabelled_and_hidden(qapp):
    schema = LabelSchema.from_names(["a", "b"])
    table = colour_table(schema, 1.0, hidden={1})
    assert table[0] == QColor(schema.classes[0].color).rgba()
    assert table[1] >> 24 == 0  # hidden
    assert table[schema.void] == QColor(*VOID_RGB).rgba()
    assert table[schema.unlabelled] == 0  # transparent


def test_overlay_wraps_the_label_buffer_so_edits_show_without_a_new_image(qapp):
    schema = LabelSchema.from_names(["a", "b"])
    labels = np.full((8, 8), schema.unlabelled, np.uint8)
    item = LabelOverlayItem()
    item.set_labels(labels, colour_table(schema, 1.0))
    labels[3, 4] = 1  # an edit in place, as the tools do
    assert item._image.pixelIndex(4, 3) == 1


def test_uint16_label_maps_render_through_the_lookup_table(qapp):
    schema = LabelSchema.from_names([f"c{i}" for i in range(300)])
    labels = np.full((6, 6), schema.unlabelled, np.uint16)
    labels[1, 2] = 299
    labels[4, 4] = 3
    table = colour_table(schema, 1.0, size=65536)
    img = render(labels, table)
    assert QColor(img.pixel(2, 1)).name() == schema.classes[299].color
    assert QColor(img.pixel(4, 4)).name() == schema.classes[3].color
    assert QColor.fromRgba(img.pixel(0, 0)).alpha() == 0


def test_outline_samples_take_the_pixel_qt_draws_where_a_centre_meets_an_edge():
    """At zoom 1.25 the centre of screen pixel 2 (2.5) is the edge between image pixels
    1 and 2; Qt draws pixel 1 there, and the borders were drawn over pixel 2: a
    labelled square's outline lay a pixel outside it on two sides."""
    from annotator.gui.layers import _screen_samples

    pixel, inside = _screen_samples(0, 10, 0.0, 1.25, 100)
    screens = range(-1, 11)
    want = [max(0, -(-(s + 0.5) // 1.25) - 1) for s in screens]  # ceil(v) - 1
    assert pixel.tolist() == [int(w) for w in want]
    assert dict(zip(screens, pixel.tolist()))[2] == 1
    assert inside.tolist() == [False] + [True] * 11
