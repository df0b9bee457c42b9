"""A slice of a scan whose voxels are not square in its plane (0.5 x 1 mm) is shown at
their shape, the view stretched; every screen position still maps to the label pixel
shown under it (ADR 0034). Square pixels are shown as before."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import shown_window
from niftihelpers import PERMUTED, save_volume
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from annotator.core.schema import LabelSchema
from annotator.core.volumes import pixel_aspect, pixel_sides, volume_geometry
from annotator.storage.project import Project

#: Voxels 0.5 mm across (R), 1 mm from front to back (A), 2 mm thick (S): cut axially,
#: a slice's pixels are 0.5 mm wide and 1 mm tall.
ANISOTROPIC = np.diag([0.5, 1.0, 2.0, 1.0])
ZOOM = 4.0


def _scan_window(qtbot, tmp_path, affine):
    """A window on a project of one scan of 40 x 30 x 3 voxels of ``affine``, its middle
    slice open (40 pixels across, 30 down)."""
    voxels = np.random.default_rng(0).integers(0, 200, (40, 30, 3)).astype(np.int16)
    save_volume(tmp_path / "imgs" / "mri.nii.gz", voxels, affine)
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(["air", "body"])) as p:
        assert p.add_images([tmp_path / "imgs"]).errors == []
        ids = {r.name: r.id for r in p.images()}
    w = shown_window(qtbot, root)
    w.open_image(ids["mri_z001.tif"])
    assert w.document.label_map.shape == (30, 40)
    return w


def _origin(canvas) -> QPointF:
    """The scene point at the viewport's top-left corner."""
    return canvas.mapToScene(QPoint(0, 0))


def _screen(canvas, origin: QPointF, x: int, y: int, across: float, down: float) -> QPoint:
    """The viewport position of the centre of pixel (x, y), computed from the zoom and
    the stretch the picture should have (not from the view's own mapping)."""
    return QPoint(
        round((x + 0.5 - origin.x()) * ZOOM * across),
        round((y + 0.5 - origin.y()) * ZOOM * down),
    )


def test_the_in_plane_voxel_sides_of_a_slice():
    assert pixel_aspect(0.5, 1.0) == (1.0, 2.0)
    assert pixel_aspect(3.0, 1.0) == (3.0, 1.0)
    assert pixel_aspect(0.8, 0.8004) == (1.0, 1.0)  # a rounding: square
    assert pixel_aspect(0.0, 1.0) == (1.0, 1.0)  # no lengths: as stored
    assert pixel_aspect(float("nan"), 1.0) == (1.0, 1.0)


def test_pixel_sides_follow_the_planes_axes(tmp_path):
    voxels = np.zeros((6, 5, 4), np.int16)
    plain = volume_geometry(save_volume(tmp_path / "a.nii.gz", voxels, ANISOTROPIC))
    assert plain["plane"] == "axial" and pixel_sides(plain) == pytest.approx((0.5, 1.0))
    # array axis 0 runs up (2.5 mm, cut through), 1 forwards (0.7), 2 to the left (0.9)
    permuted = volume_geometry(save_volume(tmp_path / "b.nii.gz", voxels, PERMUTED))
    assert permuted["plane"] == "axial" and pixel_sides(permuted) == pytest.approx((0.9, 0.7))
    # a coronal series: 0.4 mm across (R), 3 mm thick (A), 0.8 mm tall (S)
    coronal = np.diag([0.4, 3.0, 0.8, 1.0])
    cut = volume_geometry(save_volume(tmp_path / "c.nii.gz", voxels, coronal))
    assert cut["plane"] == "coronal" and pixel_sides(cut) == pytest.approx((0.4, 0.8))


def test_a_slice_of_anisotropic_voxels_is_shown_stretched_and_painted_where_clicked(
    qtbot, tmp_path
):
    w = _scan_window(qtbot, tmp_path, ANISOTROPIC)
    c = w.canvas
    t = c.transform()
    assert t.m22() / t.m11() == pytest.approx(2.0)  # 1 mm rows, 0.5 mm columns
    assert c.pixel_aspect == (1.0, 2.0)
    shown = c.mapFromScene(QPointF(40, 30)) - c.mapFromScene(QPointF(0, 0))
    assert shown.y() / shown.x() == pytest.approx(30 * 1.0 / (40 * 0.5), rel=0.05)  # 1.5

    c.set_zoom(ZOOM)
    c.centerOn(QPointF(20, 15))
    assert c.zoom == pytest.approx(ZOOM)
    origin = _origin(c)
    c.set_brush_radius(0)
    vp = c.viewport()
    for x, y in ((11, 7), (30, 22)):
        at = _screen(c, origin, x, y, 1.0, 2.0)
        QTest.mouseMove(vp, at)
        assert w.pos_label.text() == f"x {x}  y {y}  z 1"
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    lab = w.document.label_map.array
    painted = sorted(map(tuple, np.argwhere(lab != w.document.label_map.unlabelled).tolist()))
    assert painted == [(7, 11), (22, 30)]


def test_the_polygon_closes_within_its_screen_distance_of_a_stretched_slice(qtbot, tmp_path):
    w = _scan_window(qtbot, tmp_path, ANISOTROPIC)
    c = w.canvas
    c.set_zoom(ZOOM)
    c.centerOn(QPointF(20, 15))
    origin = _origin(c)
    c.set_tool("polygon")
    vp = c.viewport()

    def click(x: float, y: float) -> None:
        at = _screen(c, origin, int(x), int(y), 1.0, 2.0)
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)

    for x, y in ((10, 10), (25, 10), (25, 20)):
        click(x, y)
    # one row below the first vertex: 4 x 2 = 8 screen pixels down, on the close target
    # (4 pixels apart in a square picture); two rows: 16, not closing
    tool = c.tools["polygon"]
    assert tool.closes_at(c, (10.0, 11.0))
    assert not tool.closes_at(c, (10.0, 12.0))
    assert tool.closes_at(c, (12.0, 10.0))  # across: 8 screen pixels
    # the click itself: 7 screen pixels below the first vertex, inside the 8 px ring drawn
    # (in the next row of the picture: the close target is measured on screen)
    first = _screen(c, origin, 10, 10, 1.0, 2.0)
    QTest.mouseClick(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first + QPoint(0, 7)
    )
    lab = w.document.label_map.array
    assert lab[15, 20] == 0 and not tool.points


def test_a_slice_of_square_voxels_is_not_stretched(qtbot, tmp_path):
    w = _scan_window(qtbot, tmp_path, np.diag([0.7, 0.7, 2.0, 1.0]))
    c = w.canvas
    assert c.pixel_aspect == (1.0, 1.0)
    assert c.transform().m11() == c.transform().m22()
    c.set_zoom(ZOOM)
    assert c.transform().m11() == ZOOM == c.transform().m22()
