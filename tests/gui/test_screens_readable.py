"""Found in screenshots of the real window (hunt-screens S1-S4): status-bar messages cut
to a few words by the labels beside them, long class names taking the status bar,
image rows whose long names looked the same, a class note that outlived the round that
dealt with it, and an Import field whose hint was cut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from guihelpers import shown_window
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QToolTip

from annotator.core.card import ModelCard
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.services.training_rounds import RoundOutcome
from annotator.storage.project import Project

NOTHING = "Nothing changed: Paint over is set to only unlabelled pixels (X switches it off)"
LONG = "class 25 with a really very long descriptive name for this structure"


def _busy_status_bar(w, protect: str = "Only unlabelled pixels") -> None:
    """The status bar as with a model: protection on, the cursor over a proposal, the
    keep-training round's progress bar."""
    w.protect_label.setText(protect)
    w.pos_label.setText("x 120  y 20")
    w.value_label.setText("value 148")
    w.class_label.setText("class cell")
    w.proposal_label.setText("proposal cell, uncertainty 0.27")
    w.proposal_label.show()
    w.zoom_label.setText("zoom 262%")
    w.activity.bar.show()


def _message_room(w) -> int:
    """The width QStatusBar leaves its message: from its left to the first permanent
    widget shown (measured from the widgets, not from the bar's own say)."""
    bar = w.statusBar()
    permanent = [
        w.activity.bar,
        w.protect_label,
        w.contrast_label,
        w.pos_label,
        w.voxel_label,
        w.value_label,
        w.class_label,
        w.proposal_label,
        w.zoom_label,
    ]
    bar.layout().activate()
    return min(x.x() for x in permanent if x.isVisible()) - 2 - 6


def _say(qtbot, w, text: str) -> None:
    w.statusBar().showMessage(text, 60000)
    qtbot.wait(50)  # (the layout makes room)
    w.statusBar().layout().activate()


def test_a_message_is_whole_at_1280_px_with_a_model_and_a_proposal(qtbot, project_dir):
    w = shown_window(qtbot, project_dir, (1280, 800))
    _busy_status_bar(w)
    _say(qtbot, w, NOTHING)
    assert w.statusBar().fontMetrics().horizontalAdvance(NOTHING) <= _message_room(w)
    assert w.statusBar().shown_message() == NOTHING
    w.close()


def test_a_message_cut_at_1000_px_ends_in_an_ellipsis_and_is_whole_in_the_tooltip(
    qtbot, project_dir
):
    w = shown_window(qtbot, project_dir, (1000, 700))
    _busy_status_bar(w)
    _say(qtbot, w, NOTHING)
    bar = w.statusBar()
    assert _message_room(w) >= 300  # was 46 px: "Nothinc"
    shown = bar.shown_message()
    assert shown == NOTHING or (shown.endswith("…") and len(shown) > 40)
    assert bar.message_tip() == ("" if shown == NOTHING else NOTHING)
    w.resize(800, 600)
    qtbot.waitUntil(lambda: bar.shown_message() != NOTHING)
    assert bar.message_tip() == NOTHING
    middle = QPoint(bar.width() // 4, bar.height() // 2)
    QApplication.sendEvent(bar, QHelpEvent(QEvent.Type.ToolTip, middle, bar.mapToGlobal(middle)))
    assert QToolTip.text() == NOTHING
    QToolTip.hideText()
    # The message gone, the labels have their room back.
    bar.clearMessage()
    qtbot.waitUntil(lambda: w.activity.label.isVisible())
    assert bar.message_tip() == ""
    w.close()


@pytest.fixture
def long_names(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "short.png"), np.full((64, 64), 100, np.uint8))
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["background", LONG])) as p:
        p.add_images([images])
    return root


def test_long_class_names_are_cut_in_the_status_bar_and_whole_in_the_tooltips(qtbot, long_names):
    w = shown_window(qtbot, long_names, (1100, 700))
    w.statusBar().clearMessage()  # (the image's name and size, for 3 s)
    protect = f"Only over “{LONG}”"
    w.protect_label.setText(protect)
    w.class_label.setText(f"class {LONG}")
    w.statusBar().layout().activate()
    assert w.protect_label.width() <= 200 and w.class_label.width() <= 180
    assert w.protect_label.toolTip().startswith(protect + "\n")
    assert w.class_label.toolTip().startswith(f"class {LONG}\n")
    assert w.protect_label.shown_text().endswith("…")
    assert w.protect_label.text() == protect  # (the whole text stays the label's)
    # The image's line beside them keeps its room (it vanished at 1100 px).
    activity = w.activity.label
    assert activity.isVisible() and activity.width() >= 160
    # The status bar no longer widens the window's least width past a small screen.
    assert w.statusBar().minimumSizeHint().width() < 600
    w.close()


@pytest.fixture
def middle_names(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for i, well in enumerate(("B12", "B13", "C07")):
        name = f"experiment_2026_12_02_plate07_well{well}_field0003_ch1_DAPI.png"
        cv2.imwrite(str(images / name), np.full((64, 64), 40 * i, np.uint8))
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["bg", "fg"])) as p:
        p.add_images([images])
    return root


def test_image_rows_differing_in_the_middle_show_the_difference_and_name_in_tooltip(
    qtbot, middle_names
):
    w = shown_window(qtbot, middle_names, (1280, 800))
    view = w.image_list.list
    model = view.model()
    names = [model.index(r, 0).data(Qt.ItemDataRole.UserRole + 1) for r in range(3)]
    for r, name in enumerate(names):
        assert model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole).startswith(name + "\n")
    view.resize(240, view.height())  # (a narrow list: the names are cut)
    shown = []
    for r in range(3):
        option = QStyleOptionViewItem()
        option.initFrom(view.viewport())
        option.rect = view.visualRect(model.index(r, 0))
        option.widget = view
        view.itemDelegate().initStyleOption(option, model.index(r, 0))
        shown.append(option.text)
    assert all("…" in text for text in shown)
    for name, text in zip(names, shown, strict=True):
        assert name.split("_")[5] in text  # wellB12, wellB13, wellC07
    assert len(set(shown)) == 3
    w.close()


def _published(classes: tuple[str, ...]) -> RoundOutcome:
    card = ModelCard(version=2, architecture={}, classes=classes)
    record = ModelRecord(version=2, parent=1, created_at="now", checkpoint="m.pt", card=card)
    return RoundOutcome("published", record, "Published model v2")


def test_the_class_note_goes_when_a_round_publishes_a_version_of_the_current_classes(
    qtbot, project_dir
):
    w = shown_window(qtbot, project_dir)
    w._edit_schema("add_class", "extra")
    note = w.class_panel.note
    assert note.isVisible() and "Added 'extra'" in note.text()
    # A round of the classes before the change (queued before it) leaves the note.
    w.loop.round_finished.emit(_published(("background", "cell", "membrane")))
    assert note.isVisible()
    w.loop.round_finished.emit(_published(("background", "cell", "membrane", "extra")))
    assert not note.isVisible()
    w.close()


def test_the_import_class_names_field_hint_fits_and_its_tooltip_says_all(qtbot):
    from annotator.gui.import_dialog import ImportDialog

    dialog = ImportDialog(None, ["a"])
    qtbot.addWidget(dialog)
    dialog.resize(640, 240)
    dialog.show()
    qtbot.waitExposed(dialog)
    edit = dialog.labels_edit
    room = edit.contentsRect().width() - 8  # (the line edit's text margins)
    assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) <= room
    tip = edit.toolTip()
    for name in ("labels.txt", "class_names.txt", "dataset.json", "nnU-Net", "Decathlon"):
        assert name in tip
