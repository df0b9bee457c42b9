"""File > Export and File > Import labels, as the GUI audit of the export and import
found them: the classes left out add to the background left out by default, bad
choices are refused while the form is open and kept for the next one, the summaries
name the form's fields (not the CLI's flags), and a cancelled import counts the masks
it wrote."""

from __future__ import annotations

from guihelpers import drag
from PySide6.QtWidgets import QDialog

from annotator.gui import file_menu
from annotator.gui.export_dialog import ExportDialog
from annotator.gui.progress_task import TaskOutcome

NAMES = ["background", "cell", "membrane"]


def _dialog(qtbot, names=NAMES):
    dialog = ExportDialog(None, None, list(names))
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere-new")
    dialog.set_format("coco")
    return dialog


def test_classes_left_out_add_to_the_background_which_the_box_still_writes(qtbot):
    dialog = _dialog(qtbot)
    dialog.leave_out_edit.setText("membrane")
    assert dialog.keep_background_check.isEnabled()
    assert not dialog.keep_background_check.isChecked()
    request = dialog.request()
    assert request.leave_out == ("membrane",) and not request.keep_background
    dialog.keep_background_check.setChecked(True)
    assert dialog.request().keep_background


def test_the_box_is_off_where_class_0_is_no_background(qtbot):
    dialog = _dialog(qtbot, ["cell", "membrane"])
    assert not dialog.keep_background_check.isEnabled()


def test_a_class_the_project_lacks_is_refused_while_the_form_is_open(qtbot, boxes):
    dialog = _dialog(qtbot)
    dialog.leave_out_edit.setText("cell, dog")
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted
    [(kind, text)] = boxes
    assert (
        kind == "warning" and "'dog'" in text and "0 'background', 1 'cell', 2 'membrane'" in text
    )
    assert "--" not in text


def test_every_class_left_out_is_refused_while_the_form_is_open(qtbot, boxes):
    dialog = _dialog(qtbot)
    dialog.leave_out_edit.setText("cell, 2")
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert [t for _, t in boxes] == ["Every class is left out: nothing would be written."]


def test_the_export_form_keeps_its_choices_for_the_next_export(window, monkeypatch, tmp_path):
    out = tmp_path / "mine"

    def exec_(self):
        self.set_format("yolo")
        self.out_edit.setText(str(out))
        self.seed_spin.setValue(7)
        self.leave_out_edit.setText("membrane")
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(ExportDialog, "exec", exec_)
    window.actions_["export"].trigger()
    again = window.file_menu.make_export_dialog()
    assert again.format_combo.currentData() == "yolo"
    assert again.out_edit.text() == str(out)
    assert again.seed_spin.value() == 7
    assert again.leave_out_edit.text() == "membrane"


def test_the_export_summary_names_the_forms_fields(window, monkeypatch, tmp_path, boxes):
    drag(window.canvas, [(10, 10), (30, 10)])
    window.mark_done()

    def exec_(self):
        self.set_format("coco")
        self.out_edit.setText(str(tmp_path / "out"))
        self.leave_out_edit.setText("membrane")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", exec_)
    window.actions_["export"].trigger()
    text = window.file_menu.last_message
    assert text.startswith("Exported 1 image(s)"), text
    assert "Class 'background' written as no objects (the Background box writes it)" in text
    assert "class(es) 'membrane' written as no objects (named in Leave out classes)" in text
    assert "--" not in text


def test_a_cancelled_import_counts_the_masks_written_not_the_images_read(
    window, monkeypatch, tmp_path, boxes
):
    from annotator.gui.import_dialog import ImportDialog

    (tmp_path / "a.json").write_text("{}")

    def exec_(self):
        self.set_format("coco")
        self.src_edit.setText(str(tmp_path / "a.json"))
        return QDialog.DialogCode.Accepted

    # cancelled while reading: 372 of 1520 images read, no mask written
    monkeypatch.setattr(ImportDialog, "exec", exec_)
    monkeypatch.setattr(
        file_menu, "run_import", lambda *a: TaskOutcome(cancelled=True, stopped_at=(372, 1520))
    )
    window.actions_["import"].trigger()
    assert window.file_menu.last_message == "Import cancelled; no mask was imported."


def _coco_source(tmp_path, missing=5):
    import json

    from guihelpers import SIZE

    images = [
        {"id": i + 1, "file_name": f"im{i}.png", "width": SIZE, "height": SIZE} for i in range(3)
    ]
    images += [
        {"id": 10 + i, "file_name": f"other_{i}.png", "width": SIZE, "height": SIZE}
        for i in range(missing)
    ]
    square = [[5, 5, 20, 5, 20, 20, 5, 20]]
    annotations = [
        {"id": k + 1, "image_id": im["id"], "category_id": 1, "segmentation": square}
        | {"area": 225, "bbox": [5, 5, 15, 15], "iscrowd": 0}
        for k, im in enumerate(images)
    ]
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "cell"}]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_coco_import_summary_counts_the_images_imported_in_plain_words(
    window, monkeypatch, tmp_path, boxes
):
    from annotator.gui.import_dialog import ImportDialog

    source = _coco_source(tmp_path)

    def exec_(self):
        self.set_format("coco")
        self.src_edit.setText(str(source))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    text = window.file_menu.last_message
    assert text.startswith("Imported 3 mask(s) from COCO:"), text
    assert "Pixels no object covers stay unlabelled in 3 image(s) imported;" in text
    assert "choosing 'background' in the import's Uncovered pixels labels them so" in text
    assert "Skipped 5 image entries; first:" in text


def test_the_coco_import_summary_counts_json_files_refused_apart_from_image_entries(
    window, monkeypatch, tmp_path, boxes
):
    """A folder of COCO files: one refused whole (its structure is wrong), one read with
    two image entries whose picture is not found."""
    import json

    from annotator.gui.import_dialog import ImportDialog

    folder = tmp_path / "src"
    folder.mkdir()
    good = _coco_source(folder, missing=2)
    doc = json.loads(good.read_text())
    (folder / "b.json").write_text(json.dumps(doc | {"images": doc["images"][:1] * 2}))

    def exec_(self):
        self.set_format("coco")
        self.src_edit.setText(str(folder))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", exec_)
    window.actions_["import"].trigger()
    text = window.file_menu.last_message
    assert text.startswith("Imported 3 mask(s) from COCO:"), text
    assert "Skipped 1 JSON file(s) and 2 image entries; first: " in text
    assert "b.json" in text and "appears twice" in text


def test_the_import_progress_names_the_format_and_its_phases(window, monkeypatch, tmp_path):
    from annotator.gui import import_dialog

    said: list[str] = []

    def run_with_progress(parent, title, label, work):
        said.append(label)
        return TaskOutcome(result=work(lambda done, total, message: said.append(message)))

    monkeypatch.setattr(import_dialog, "run_with_progress", run_with_progress)
    request = import_dialog.ImportRequest("coco", _coco_source(tmp_path, missing=0))
    outcome = import_dialog.run_import(None, window.session.project, request)
    assert outcome.result is not None
    assert said[0] == "Importing COCO labels…"
    assert said[1] == "Reading a.json…"
    assert "Reading annotations… im0.png" in said
    assert said.index("Reading annotations… im2.png") < said.index("Writing masks… im0.png")


def test_the_export_form_closed_with_cancel_keeps_its_choices(window, qtbot):
    dialog = window.file_menu.make_export_dialog()
    qtbot.addWidget(dialog)
    dialog.set_format("labelme")
    dialog.leave_out_edit.setText("cell")
    dialog.reject()
    again = window.file_menu.make_export_dialog()
    qtbot.addWidget(again)
    assert again.format_combo.currentData() == "labelme"
    assert again.leave_out_edit.text() == "cell"
