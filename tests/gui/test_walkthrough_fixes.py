"""What the walkthrough of the app against its docs found: dialogs that did not fit an
800x600 screen, a renamed class answered with boxes of file paths, a status bar that kept
waiting, an empty image marked done, silent keys and buttons without tooltips."""

from __future__ import annotations

import pytest
from guihelpers import drag, model_file
from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

import annotator.gui.help_dialog as help_module
from annotator.core.card import CardMetrics, ModelCard
from annotator.core.errors import ModelError
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.help_dialog import ShortcutsDialog
from annotator.gui.import_dialog import ImportDialog
from annotator.gui.model_panel import ModelPanel, ask_architecture, version_text

SCREEN = QSize(800, 600)
FRAME = 40  # the title bar and borders a window manager adds around a dialog


def _record(version: int, names: tuple[str, ...], miou: float | None = 0.8412) -> ModelRecord:
    card = ModelCard(
        version=version,
        architecture={"arch": "fcn", "depth": 4, "width": 16},
        classes=names,
        metrics=CardMetrics(mean_iou=miou),
    )
    return ModelRecord(version, None, f"2026-11-30T13:5{version}:00", "weights.pt", card)


def _visible_boxes(window) -> list[QMessageBox]:
    """The window's message boxes on screen (other tests' strays are not its own)."""
    return [b for b in window.findChildren(QMessageBox) if b.isVisible()]


# --- 1. Model > Train from scratch fits an 800x600 screen -------------------------------------
def test_the_architecture_dialog_fits_a_small_screen(qtbot):
    seen: dict[str, QSize] = {}

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(20, look)
            return
        seen["size"], seen["least"] = dialog.size(), dialog.minimumSizeHint()
        dialog.reject()

    QTimer.singleShot(0, look)
    assert ask_architecture(None) is None
    for size in seen.values():
        assert size.width() <= SCREEN.width() - FRAME
        assert size.height() <= SCREEN.height() - FRAME


# --- 2. a renamed class is an expected state, said calmly --------------------------------------
@pytest.fixture
def with_model(window, qtbot, tmp_path):
    """The window with an imported model version whose proposal is shown."""
    loop = window.loop
    with qtbot.waitSignal(loop.proposal_shown, timeout=30000):
        loop.import_model(model_file(tmp_path / "lab.pt", window.session.schema.names))
    return window


def test_a_renamed_class_is_said_calmly_without_a_box_or_a_path(with_model, qtbot):
    window, loop = with_model, with_model.loop
    said: list[str] = []
    loop.message.connect(lambda text, _ms: said.append(text))
    expected = (
        "The classes changed since model v1 was trained: Train from scratch (Model menu) "
        "to use them."
    )
    window._edit_schema("rename_class", 1, "nucleus")
    qtbot.waitUntil(lambda: expected in said, timeout=30000)
    assert loop.panel.notice_label.isVisibleTo(loop.panel)
    assert loop.panel.notice_label.text() == expected
    assert not loop.panel.error_label.isVisibleTo(loop.panel)
    assert not _visible_boxes(window)
    assert not any("weights.pt" in text or "annotator train" in text for text in said)

    window._edit_schema("add_class", "debris", None)  # the next class change: still calm
    window.go(1)  # and the next image asks again
    qtbot.waitUntil(lambda: said.count(expected) >= 2, timeout=30000)
    assert not _visible_boxes(window)

    said.clear()
    window.actions_["train_now"].trigger()  # Ctrl+T
    assert said == [
        "The classes changed since model v1 was trained, so Train now cannot continue it: "
        "Train from scratch (Model menu) to use them."
    ]
    assert loop.service.rounds_started == 0 and not _visible_boxes(window)
    assert "annotator" not in window.statusBar().currentMessage()


def test_a_version_of_other_classes_is_noted_in_the_panel_and_a_fitting_one_is_not(qapp):
    panel = ModelPanel()
    schema = LabelSchema.from_names(["background", "cytoplasm", "nucleus"])
    old = _record(2, ("background", "cell", "nucleus"))
    panel.set_models([old], old, schema)
    assert panel.notice_label.text().startswith("The classes changed since model v2")
    assert not panel.notice_label.isHidden()
    fits = _record(3, ("background", "cytoplasm"))  # a class added since: still fits
    panel.set_models([old, fits], fits, schema)
    assert panel.notice_label.isHidden()


def test_the_panel_notes_a_pooled_active_version_where_it_matters(qtbot):
    """The active version's line says its input normalisation is pooled (a card made
    before the per-channel rule), when the project has pictures where that matters."""
    from dataclasses import replace

    note = "pooled input normalisation (made before the per-channel rule)"
    panel = ModelPanel()
    qtbot.addWidget(panel)
    names = ("background", "cell")
    schema = LabelSchema.from_names(list(names))
    old = _record(2, names)  # (a card without a rule: made before it was recorded)
    panel.set_models([old], old, schema, pooled_matters=True)
    assert panel.device_label.text().endswith(f"M parameters; {note}")
    panel.set_models([old], old, schema, pooled_matters=False)
    assert panel.device_label.text().endswith("M parameters")
    arch = {**old.card.architecture, "normalisation": "per-channel"}
    new = replace(old, version=3, card=replace(old.card, version=3, architecture=arch))
    panel.set_models([old, new], new, schema, pooled_matters=True)
    assert note not in panel.device_label.text()


# --- 3. the activity stops saying "Proposing…" when the proposal failed -------------------------
def test_a_failed_proposal_ends_the_proposing_activity(window):
    activity, name = window.activity, window.document.record.name
    activity.say(f"Proposing for {name}…")  # as when the project has a model
    window.loop._error("proposal", ModelError("the model file is damaged"))
    assert activity.text == f"{name} open"
    for box in _visible_boxes(window):
        box.hide()


# --- 4. an image with nothing labelled is not done ----------------------------------------------
def test_marking_done_an_image_without_labels_is_refused_with_a_reason(window):
    doc = window.document
    assert not doc.label_map.labelled_count()
    window.actions_["mark_done"].trigger()
    assert window.session.project.image(doc.image_id).status is ImageStatus.NEW
    message = window.statusBar().currentMessage()
    assert message.startswith(f"{doc.record.name} has no labelled pixel")
    assert "paint or accept a proposal first" in message
    assert window.actions_["mark_done"].text() == "Mark &done"
    drag(window.canvas, [(10, 10), (20, 10)])
    window.actions_["mark_done"].trigger()
    assert window.session.project.image(doc.image_id).status is ImageStatus.DONE


# --- 5. the panel's buttons name their keys, as the toolbar does --------------------------------
def test_the_panel_buttons_have_the_tooltips_of_their_actions(window):
    panel, a = window.loop.panel, window.actions_
    assert panel.train_button.toolTip() == a["train_now"].toolTip()
    assert "Ctrl+T" in panel.train_button.toolTip()
    assert panel.cancel_button.toolTip() == a["cancel_training"].toolTip()
    assert "Ctrl+Shift+T" in panel.cancel_button.toolTip()


# --- 6. Help > Keyboard shortcuts fits the screen and scrolls -----------------------------------
def test_the_shortcuts_overview_fits_a_600_px_high_screen(window, monkeypatch):
    monkeypatch.setattr(help_module, "available_size", lambda _w: SCREEN, raising=False)
    dialog = ShortcutsDialog(window.menuBar(), window)
    assert dialog.height() <= SCREEN.height() - FRAME
    assert dialog.minimumSizeHint().height() <= SCREEN.height() - FRAME
    dialog.close()


# --- 7. "Uncovered pixels" says labelme's real rule ---------------------------------------------
def test_the_automatic_background_says_labelme_s_rule(qtbot):
    with_class = ImportDialog(None, ["Background", "cell"])
    qtbot.addWidget(with_class)
    with_class.set_format("labelme")
    text = with_class.background_combo.currentText()
    assert "Background" in text and "project" in text
    without = ImportDialog(None, ["cell", "nucleus"])
    qtbot.addWidget(without)
    without.set_format("labelme")
    text = without.background_combo.currentText()
    assert "labels.txt" in text and "else unlabelled" in text
    without.src_edit.setText("/data/labelme")
    assert without.request().background is None  # the automatic choice is no class
    without.set_format("yolo")
    assert without.background_combo.currentText() == "(automatic: unlabelled)"
    without.background_combo.setEditText("cell")
    without.set_format("labelme")  # a class typed in stays
    assert without.request().background == "cell"


# --- 8. N, A and Shift+A say why before a model exists ------------------------------------------
def test_next_suggested_without_a_model_says_what_it_did(window):
    loop = window.loop
    loop.service.update_settings(strategy="uncertainty")
    first = window.document.image_id
    window.actions_["next_suggested"].trigger()
    assert window.document.image_id != first
    message = window.statusBar().currentMessage()
    assert message.startswith("No model yet to rank the images by: opened ")
    assert window.document.record.name in message


def test_n_walks_down_the_stored_scores_instead_of_back_and_forth(window):
    """With scores and nothing labelled between presses, N opened the second most
    uncertain image and N there the first again: N now walks down the ranking."""
    session = window.loop.service
    session.update_settings(strategy="uncertainty")
    project = session.project
    todo = [r for r in project.images() if r.status != ImageStatus.DONE]
    assert len(todo) >= 3
    project.set_scores({r.id: 0.9 - 0.1 * i for i, r in enumerate(todo)})
    window.open_image(todo[0].id)
    opened = []
    for _ in range(len(todo) - 1):
        window.actions_["next_suggested"].trigger()
        opened.append(window.document.image_id)
    assert opened == [r.id for r in todo[1:]]


def test_accept_says_why_it_is_disabled(window):
    for name in ("accept", "accept_class"):
        action = window.actions_[name]
        assert not action.isEnabled()
        assert "No model yet: paint some pixels of each class" in action.toolTip()
    window.close_project()
    assert "No model yet" not in window.actions_["accept"].toolTip()


# --- 9. the version list shows its entries whole ------------------------------------------------
def test_the_version_list_shows_whole_entries_and_drops_the_date_when_narrow(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    names = ("background", "cell")
    models = [_record(1, names, 0.87), _record(2, names, 0.8412)]
    panel.set_models(models, models[1], LabelSchema.from_names(list(names)))
    combo = panel.version_combo
    full = combo.currentText()
    assert full.startswith("v2  30 Nov") and full.endswith("mIoU 0.84")
    fm = combo.fontMetrics()
    assert combo.sizeHint().width() < fm.horizontalAdvance(full)  # the dock stays narrow...
    assert combo.shown_text(fm.horizontalAdvance(full) + 2) == full
    assert combo.shown_text(fm.horizontalAdvance("v2  mIoU 0.84") + 2) == "v2  mIoU 0.84"
    assert combo.toolTip() == full
    panel.show()
    combo.setFixedWidth(100)
    combo.showPopup()
    assert combo.view().width() >= fm.horizontalAdvance(full)  # ...the list shows it whole
    combo.hidePopup()


def test_the_version_text_keeps_its_long_form():
    record = _record(3, ("a",), 0.7912)
    assert version_text(record).endswith("  mIoU 0.79")
    assert version_text(record, when=False) == "v3  mIoU 0.79"
