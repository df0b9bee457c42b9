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


def test_a_project_whose_class_name_an_older_rule_let_in_exports(qtbot, tmp_path, monkeypatch):
    """The form checked the project's names as typed ones: a name a project took before
    invisible characters were refused (a soft hyphen) made every export refused."""
    from PySide6.QtWidgets import QMessageBox

    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: said.append(text))
    dialog = ExportDialog(None, class_names=["bg", "ce\u00adll"])
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(tmp_path / "out"))
    dialog.set_format("coco")
    dialog._accept_if_valid()
    assert said == [] and dialog.result() == dialog.DialogCode.Accepted
