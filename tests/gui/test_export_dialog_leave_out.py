"""The export dialog's classes left out, as ``export --leave-out`` / ``--keep-background``
(COCO, YOLO and labelme only)."""

from __future__ import annotations

from annotator.gui.export_dialog import ExportDialog


def test_the_classes_left_out_reach_the_request_for_the_object_formats(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("coco")
    request = dialog.request()
    assert request.leave_out is None and not request.keep_background  # the default
    dialog.keep_background_check.setChecked(True)
    assert dialog.request().keep_background
    dialog.leave_out_edit.setText(" car, 2 ,")
    request = dialog.request()  # (the classes named are left out besides the background)
    assert request.leave_out == ("car", "2") and request.keep_background
    assert dialog.keep_background_check.isEnabled()
    dialog.set_format("masks")  # every pixel's class is written: nothing to leave out
    assert not dialog.leave_out_edit.isEnabled()
    request = dialog.request()
    assert request.leave_out is None and not request.keep_background
