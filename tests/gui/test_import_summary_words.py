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


def test_a_refusal_for_want_of_a_table_says_the_guis_words(tmp_path):
    """Found by a GUI audit: a colour-coded mask refused for want of a table, and a
    dataset.json whose labels cannot name the values, told GUI users to "give --labels
    FILE"; the CLI still says so."""
    import json

    import cv2
    import numpy as np

    from annotator.core.errors import FormatError
    from annotator.formats.base import ImportOptions
    from annotator.formats.masks import read_masks
    from annotator.gui.import_dialog import LABELS_HOW

    colour = np.zeros((4, 6, 3), np.uint8)
    colour[:, 3:] = (0, 0, 200)
    (tmp_path / "rgb").mkdir()
    cv2.imwrite(str(tmp_path / "rgb" / "a.png"), colour)
    gui = ImportOptions(labels_how=LABELS_HOW)
    result = read_masks(tmp_path / "rgb", gui)
    why = " ".join(reason for _, reason in result.errors)
    assert "choose a Class names file holding its colours" in why and "--labels" not in why
    result = read_masks(tmp_path / "rgb")
    assert "give the table of its colours with --labels FILE" in result.errors[0][1]
    (tmp_path / "ds").mkdir()
    cv2.imwrite(str(tmp_path / "ds" / "a.png"), np.zeros((4, 6), np.uint8))
    (tmp_path / "ds" / "dataset.json").write_text(
        json.dumps({"labels": {"whole": [1, 2]}, "file_ending": ".png"})
    )
    with pytest.raises(FormatError) as refused:
        read_masks(tmp_path / "ds", gui)
    assert "choose a Class names file of their classes" in str(refused.value)
