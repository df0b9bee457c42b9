"""The export dialog asks for GeoTIFF masks as ``export --geotiff`` does (masks only)."""

from __future__ import annotations

import numpy as np
import tifffile
from guihelpers import shown_window
from PySide6.QtWidgets import QDialog, QMessageBox

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.export_dialog import ExportDialog
from annotator.storage.project import Project


def test_the_geotiff_choice_is_the_masks_exports_and_reaches_the_request(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("masks")
    assert dialog.geotiff_check.isEnabled() and not dialog.request().geotiff
    dialog.geotiff_check.setChecked(True)
    assert dialog.request().geotiff
    dialog.set_format("voc")  # VOC writes world files, never GeoTIFF masks
    assert not dialog.geotiff_check.isEnabled() and not dialog.request().geotiff


def _geotiff_project(tmp_path):
    """A project of one 8-bit GeoTIFF picture (UTM 33N, 10 m pixels), labelled in part."""
    tags = [
        (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633), True),
        (33550, "d", 3, (10.0, 10.0, 0.0), True),
        (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 5000000.0, 0.0), True),
    ]
    picture = tmp_path / "scene.tif"
    pixels = np.random.default_rng(3).integers(0, 200, (24, 32)).astype(np.uint8)
    tifffile.imwrite(picture, pixels, photometric="minisblack", extratags=tags)
    root = tmp_path / "proj"
    labels = np.full((24, 32), 255, np.uint8)  # unlabelled, but for a field and some void
    labels[4:12, 4:20] = 1
    labels[14:16, 4:8] = 254
    with Project.create(root, LabelSchema.from_names(["water", "field"])) as p:
        p.add_images([picture])
        p.save_mask(p.images()[0].id, labels, status=ImageStatus.DONE)
    return root, picture, labels


def test_the_geotiff_choice_of_file_export_writes_geotiff_masks(qtbot, tmp_path, monkeypatch):
    """File > Export with the Georeferencing choice writes what ``export --geotiff``
    writes: the mask as a GeoTIFF with the picture's geo tags and GDAL_NODATA naming
    the unlabelled value, its labels exact."""
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.StandardButton.Ok)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Ok)
    root, picture, labels = _geotiff_project(tmp_path)
    out = tmp_path / "out"

    def exec_(dialog):
        dialog.set_format("masks")
        dialog.out_edit.setText(str(out))
        for spin, share in zip(dialog.split_spins, (1.0, 0.0, 0.0)):
            spin.setValue(share)
        dialog.geotiff_check.setChecked(True)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", exec_)
    window = shown_window(qtbot, root)
    try:
        window.actions_["export"].trigger()
        said = window.file_menu.last_message
    finally:
        window.close()
    assert "1 mask(s) of GeoTIFF pictures written as GeoTIFF" in said, said
    mask_file = out / "train" / "masks" / "scene.tif"
    assert not (out / "train" / "masks" / "scene.png").exists()
    with tifffile.TiffFile(mask_file) as tif, tifffile.TiffFile(picture) as source:
        page, geo = tif.pages[0], source.pages[0]
        for code in (33550, 33922, 34735):
            assert page.tags[code].value == geo.tags[code].value, code
        assert page.tags[42113].value == "255"
        assert np.array_equal(page.asarray(), labels)
