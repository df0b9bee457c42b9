"""The export dialog asks for GeoTIFF masks as ``export --geotiff`` does (masks only)."""

from __future__ import annotations

from annotator.gui.export_dialog import ExportDialog


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
