"""The status bar on a slice of a stack: its z, and for a NIfTI scan the file's voxel
under the cursor and its position, as 3D Slicer gives them."""

from __future__ import annotations

import cv2
import nibabel as nib
import numpy as np
from niftihelpers import LPS, save_volume
from test_contrast_every_image import _project, _window

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


def test_a_scans_slice_shows_the_files_voxel_and_its_position(qtbot, tmp_path):
    voxels = np.arange(48 * 40 * 3, dtype=np.int16).reshape(48, 40, 3)  # each its own
    folder = tmp_path / "imgs"
    scan = save_volume(folder / "ct.nii.gz", voxels, LPS)  # to the left, posterior: flipped
    cv2.imwrite(str(folder / "photo.png"), np.full((40, 48), 7, np.uint8))
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(["air", "body"])) as p:
        assert p.add_images([folder]).errors == []
        ids = {r.name: r.id for r in p.images()}
    w = _window(qtbot, root)
    affine = nib.load(scan).affine
    for name in ("ct_z000.tif", "ct_z002.tif"):
        w.open_image(ids[name])
        for x, y in ((0, 0), (5, 31), (47, 39)):
            w.canvas.cursor_moved.emit(x, y)
            value = int(w.document.image[y, x])
            (i, j, k) = (int(v) for v in np.argwhere(voxels == value)[0])
            where = affine @ np.array([i, j, k, 1.0])
            z = int(name[-7:-4])
            assert w.pos_label.text() == f"x {x}  y {y}  z {z}"
            assert w.voxel_label.text() == (
                f"voxel {i}, {j}, {k}  RAS {where[0]:.1f}, {where[1]:.1f}, {where[2]:.1f}"
            )
            assert not w.voxel_label.isHidden()
    w.open_image(ids["photo.png"])  # no slice: x and y only
    w.canvas.cursor_moved.emit(5, 6)
    assert w.pos_label.text() == "x 5  y 6"
    assert w.voxel_label.text() == "" and w.voxel_label.isHidden()
    w.canvas.cursor_moved.emit(-1, -1)
    assert w.pos_label.text() == ""


def test_a_tiff_stacks_slice_shows_its_z_and_no_voxel(qtbot, tmp_path):
    planes = np.random.default_rng(0).integers(0, 255, (12, 30, 40)).astype(np.uint8)
    root, ids = _project(tmp_path, {"vol.tif": planes})
    w = _window(qtbot, root)
    w.open_image(ids["vol_z007.tif"])
    w.canvas.cursor_moved.emit(3, 4)
    assert w.pos_label.text() == "x 3  y 4  z 7"
    assert w.voxel_label.isHidden()
