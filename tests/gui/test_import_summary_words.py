"""The GUI's import summary: in sentences, but a note that begins with a name written in
lower case (nnU-Net, dataset.json, a file) keeps it; it says the images are done once;
the masks format and the Class names field name what they read."""

from __future__ import annotations

import pytest

from annotator.gui.forms import FORMAT_TITLES
from annotator.gui.import_dialog import ImportDialog, import_summary
from annotator.gui.progress_task import sentence
from annotator.services.exchange import ImportReport


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        (
            "nnU-Net's 5-fold cross-validation needs 5 cases",
            "nnU-Net's 5-fold cross-validation needs 5 cases.",
        ),
        ("dataset.json names no class", "dataset.json names no class."),
        ("x_mask.png: not a mask", "x_mask.png: not a mask."),
        ("labels/0.png was read", "labels/0.png was read."),
        ("classes read from a: mapped", "Classes read from a: mapped."),
        ("no class of the source", "No class of the source."),
        ("it's done", "It's done."),
        ("imported: 3", "Imported: 3."),
    ],
)
def test_a_note_is_capitalised_only_when_it_begins_with_a_plain_word(note, shown):
    assert sentence(note) == shown


def test_the_import_summary_keeps_names_and_says_done_once():
    report = ImportReport(format="masks", imported=["a", "b"], matched=["a", "b"])
    report.notes = ["nnU-Net's labels name background", "dataset.json was read"]
    text = import_summary(report)
    lines = text.splitlines()
    assert lines[0] == (
        "Imported 2 mask(s) from masks: 2 matched to project images, 0 image(s) added; "
        "2 image(s) marked done."
    )
    assert "nnU-Net's labels name background." in lines
    assert "dataset.json was read." in lines
    assert text.count("marked done") == 1


def test_the_masks_format_and_the_class_names_field_name_what_they_read(qtbot):
    dialog = ImportDialog(None, ["a"])
    qtbot.addWidget(dialog)
    dialog.set_format("masks")
    title = dialog.format_combo.currentText()
    assert title == FORMAT_TITLES["masks"] and "TIFF" in title and "NIfTI" in title
    hint = dialog.labels_edit.placeholderText()
    assert "dataset.json" in hint and "nnU-Net" in hint
    dialog.src_edit.setText("/tmp/somewhere")
    assert dialog.request().labels_how == "choose a Class names file"
