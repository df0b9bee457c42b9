"""Findings of a GUI audit of the dialogs, the classes dock and the menus: dialogs that
grow with their rows, truthful confirmations and notes, forms that refuse what cannot
work while still open, hints where a key did nothing, and menus that say what can act."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import SIZE
from PySide6.QtCore import QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMessageBox, QStyle

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


def _inside(widget, dialog) -> bool:
    """Whether ``widget`` lies wholly inside ``dialog`` (not cut off at an edge)."""
    top_left = widget.mapTo(dialog, widget.rect().topLeft())
    return dialog.rect().contains(QRect(top_left, widget.size()))


# --- 1. the contrast dialog grows with its rows ----------------------------------------
def test_the_contrast_dialog_grows_from_a_grey_picture_s_row_to_three_channels(qtbot):
    from annotator.gui.contrast import ContrastDialog

    dialog = ContrastDialog()
    qtbot.addWidget(dialog)
    dialog.set_windows([(0.0, 255.0)], [(0.0, 255.0)])
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.close()
    # then a 16-bit picture of three channels, opened while the dialog was closed
    dialog.set_windows(
        [(4.0, 995.0), (16.0, 2984.0), (36.0, 7962.0)], [(0, 999), (0, 2999), (0, 7999)]
    )
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.channel_count == 3
    assert dialog.height() >= dialog.heightForWidth(dialog.width())
    for _, low, high in dialog.rows:
        assert _inside(low, dialog) and _inside(high, dialog)
    assert _inside(dialog.hint, dialog)
    # and back to one row while it is open: it shrinks again, nothing cut off
    dialog.set_windows([(0.0, 255.0)], [(0.0, 255.0)])
    assert dialog.height() >= dialog.heightForWidth(dialog.width())
    assert dialog.height() < dialog.rows[2][1].height() * 8


# --- 2. destructive confirmations ------------------------------------------------------
@pytest.fixture
def asked(monkeypatch):
    """Every message box shown with exec: its texts, buttons and default; answered
    with its "Ok" role button (whatever its words) unless the test says otherwise."""
    seen: list[dict[str, object]] = []

    def exec_(box):
        ok = box.button(QMessageBox.StandardButton.Ok)
        seen.append(
            {
                "text": box.text(),
                "info": box.informativeText(),
                "buttons": sorted(b.text() for b in box.buttons()),
                "default": box.defaultButton().text() if box.defaultButton() else None,
                "ok": ok.text() if ok is not None else None,
            }
        )
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return seen


def _import_item(window) -> str:
    return window.actions_["import"].text().replace("&", "")


def test_removing_or_merging_a_class_asks_with_a_button_named_for_it(window, asked):
    panel = window.class_panel
    panel.list.setCurrentRow(1)
    panel.remove_action.trigger()
    box = asked[-1]
    assert box["ok"] == "Remove" and box["default"] == "Cancel"
    assert box["buttons"] == ["Cancel", "Remove"]
    assert f"File > {_import_item(window)}" in str(box["info"])
    assert "Import (masks)" not in str(box["info"])
    from PySide6.QtWidgets import QInputDialog

    original = QInputDialog.getItem
    try:
        QInputDialog.getItem = lambda *a, **k: ("background", True)  # type: ignore[method-assign]
        panel.merge_action.trigger()
    finally:
        QInputDialog.getItem = original  # type: ignore[method-assign]
    assert asked[-1]["ok"] == "Merge" and asked[-1]["default"] == "Cancel"
    assert window.session.schema.names == ["background", "cell", "membrane"]  # cancelled


def test_removing_one_image_asks_in_the_singular_with_a_remove_button(window, asked):
    doc = window.document
    doc.label_map.array[:10] = 1
    doc.generation += 1
    window.session.save(wait=True)
    window.image_list.remove_requested.emit([doc.image_id])
    box = asked[-1]
    assert box["ok"] == "Remove" and box["default"] == "Cancel"
    info = str(box["info"])
    assert info.startswith("Its status, labels and proposals leave the project")
    assert "the 1 with labels" not in info and "Their" not in info
    assert "Its label map is kept in" in info
    assert f"File > {_import_item(window)}" in info and "Import (masks)" not in info
    assert len(window.session.images()) == 3  # cancelled


def test_the_removal_words_follow_the_counts(tmp_path):
    from annotator.gui.image_removal import removal_details, removal_question

    assert removal_question("a.png", 1) == "Remove “a.png” from the project?"
    assert removal_question("a.png", 3) == "Remove these 3 images from the project?"
    none = removal_details(2, 0, tmp_path)
    assert none.startswith("Their statuses") and "kept" not in none
    one_of_three = removal_details(3, 1, tmp_path)
    assert "The label map of the 1 with labels is kept" in one_of_three
    assert "brings it back once its picture is added again" in one_of_three
    two = removal_details(3, 2, tmp_path)
    assert "The label maps of the 2 with labels are kept" in two
    assert "brings them back once the pictures are added again" in two


# --- 3. the new project dialog's note --------------------------------------------------
def test_the_new_project_dialog_does_not_say_class_ids_never_change(qtbot):
    from annotator.gui.new_project_dialog import NewProjectDialog

    dialog = NewProjectDialog()
    qtbot.addWidget(dialog)
    texts = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "Class ids follow this order" in texts
    assert "never change" not in texts


# --- 4. the import dialog refuses a source that does not exist -------------------------
def test_the_import_dialog_refuses_a_missing_source_while_it_is_open(qtbot, tmp_path, boxes):
    from annotator.gui.import_dialog import ImportDialog

    dialog = ImportDialog(None, ["background", "cell"])
    qtbot.addWidget(dialog)
    dialog.set_format("masks")
    dialog.src_edit.setText(str(tmp_path / "nowhere"))
    dialog.show()
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.isVisible()
    assert len(boxes) == 1 and "nowhere: no such file or folder" in boxes[0][1]
    assert dialog.src_edit.text().endswith("nowhere")  # the form is kept
    (tmp_path / "masks").mkdir()
    dialog.src_edit.setText(str(tmp_path / "masks"))
    dialog.labels_edit.setText(str(tmp_path / "labels.txt"))  # a class names file missing
    dialog._accept_if_valid()
    assert dialog.isVisible() and "labels.txt: no such file" in boxes[-1][1]
    dialog.labels_edit.setText("")
    dialog._accept_if_valid()
    assert dialog.result() == QDialog.DialogCode.Accepted


# --- 5. R and U without a model say why nothing shows ---------------------------------
def test_uncertainty_and_proposal_keys_without_a_model_say_why(window):
    bar = window.statusBar()
    bar.clearMessage()
    QTest.keyClick(window.canvas, Qt.Key.Key_U)
    assert window.actions_["toggle_uncertainty"].isChecked()
    assert bar.currentMessage().startswith("No uncertainty map to show: no model yet.")
    QTest.keyClick(window.canvas, Qt.Key.Key_U)  # turned off: nothing to say
    bar.clearMessage()
    QTest.keyClick(window.canvas, Qt.Key.Key_R)  # on at first: off now
    assert bar.currentMessage() == ""
    QTest.keyClick(window.canvas, Qt.Key.Key_R)
    assert bar.currentMessage().startswith("No proposal to show: no model yet.")


def test_accept_region_without_a_proposal_says_why(window):
    from guihelpers import click

    window.statusBar().clearMessage()
    QTest.keyClick(window.canvas, Qt.Key.Key_Q)
    click(window.canvas, 30, 30)
    assert window.statusBar().currentMessage().startswith("No proposal for this image yet")


# --- 6. the channels dialog of a one-channel picture ----------------------------------
def test_the_channels_dialog_of_a_grey_picture_offers_nothing_to_choose(qtbot):
    from annotator.gui.channels_dialog import ChannelsDialog

    dialog = ChannelsDialog()
    qtbot.addWidget(dialog)
    dialog.set_picture(1, ())
    dialog.show()
    qtbot.waitExposed(dialog)
    assert "nothing to choose" in dialog._intro.text()
    assert not any(box.isVisible() for box in dialog.boxes)
    assert not dialog.apply_button.isVisible() and not dialog.reset_button.isVisible()
    assert _inside(dialog._intro, dialog)
    dialog.set_picture(1, (3, 2, 1))  # the project chose channels of other pictures
    assert dialog.reset_button.isVisible() and not dialog.apply_button.isVisible()
    assert "channels 4, 3, 2" in dialog._intro.text()
    dialog.set_picture(5, ())
    assert all(box.isVisible() for box in dialog.boxes) and dialog.apply_button.isVisible()
    assert all(_inside(box, dialog) for box in dialog.boxes)


# --- 7. menus --------------------------------------------------------------------------
IMAGE_ONLY = ("pick_class", "cleanup_image", "zoom_in", "zoom_out", "zoom_1", "fit")


def test_what_needs_an_image_is_disabled_without_one(qtbot, project_dir):
    from annotator.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    a = w.actions_
    tools = [f"tool_{name}" for name in w.canvas.tools]
    for name in (*tools, *IMAGE_ONLY, "paint_void", "choose_class"):
        assert not a[name].isEnabled(), name
    w.open_project(project_dir)
    assert w.document is not None
    for name in (*tools, *IMAGE_ONLY, "paint_void", "choose_class"):
        assert a[name].isEnabled(), name
    w.close_image()
    assert not a["tool_brush"].isEnabled() and not a["zoom_in"].isEnabled()
    assert a["paint_void"].isEnabled()  # the class list is there to pick from
    w.close()


def test_the_file_and_tools_menus_are_grouped(window):
    for top in window.menuBar().actions():
        menu = top.menu()
        if menu is None or top.text().replace("&", "") not in ("File", "Tools"):
            continue
        actions = menu.actions()
        assert sum(a.isSeparator() for a in actions) >= 3, top.text()
        assert not actions[0].isSeparator() and not actions[-1].isSeparator()


def test_the_rename_tooltip_says_what_a_rename_does(window):
    tip = window.class_panel.rename_button.toolTip()
    assert "restarts" not in tip
    assert "Train from scratch" in tip and "stops proposing" in tip


# --- 8, 9. the classes dock ------------------------------------------------------------
def _classes_window(qtbot, tmp_path, size):
    import cv2

    from annotator.gui.main_window import MainWindow

    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((SIZE, SIZE), 90, np.uint8))
    names = ["water", "land", "road", "building with a very long class name indeed"]
    with Project.create(tmp_path / "p", LabelSchema.from_names(names)) as p:
        p.add_images([folder])
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    w.open_project(tmp_path / "p")
    qtbot.wait(50)
    return w


def test_the_more_button_shows_its_arrow_beside_its_word_inside_the_dock(qtbot, tmp_path):
    w = _classes_window(qtbot, tmp_path, (1024, 640))
    panel = w.class_panel
    dock = next(d for d in w.findChildren(QDockWidget) if d.windowTitle() == "Classes")
    assert dock.width() <= 280  # the buttons no longer widen it (312 px)
    button = panel.more_button
    style = button.style()
    arrow = style.pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, button)
    margin = style.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin, None, button)
    assert button.width() >= button.fontMetrics().horizontalAdvance("More") + arrow + margin
    right = button.mapTo(panel, button.rect().topRight()).x()
    assert right <= panel.width() - panel.layout().contentsMargins().right()
    w.close()


def test_the_class_list_shows_every_class_and_void_in_a_small_window(qtbot, tmp_path):
    w = _classes_window(qtbot, tmp_path, (1024, 640))
    listing = w.class_panel.list
    assert listing.count() == 5
    viewport = listing.viewport().rect()
    for row in range(listing.count()):
        assert viewport.contains(listing.visualItemRect(listing.item(row))), row
    assert not listing.horizontalScrollBar().isVisible()
    assert "building with a very long class name indeed" in listing.item(3).toolTip()
    # the Model dock scrolls instead of being cut off
    model = next(d for d in w.findChildren(QDockWidget) if d.windowTitle() == "Model")
    assert type(model.widget()).__name__ == "QScrollArea"
    w.close()


# --- 10. the format boxes --------------------------------------------------------------
def test_the_export_and_import_dialogs_name_formats_plainly(qtbot):
    from annotator.gui.export_dialog import ExportDialog
    from annotator.gui.import_dialog import ImportDialog

    export = ExportDialog()
    qtbot.addWidget(export)
    combo = export.format_combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert items[0] == "PASCAL VOC (JPEGImages + SegmentationClass PNGs)"
    assert combo.itemData(0) == "voc"
    assert not any(":" in text for text in items)
    assert "iscrowd" not in export.coco_combo.toolTip()
    tip = combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("voc: PASCAL VOC")  # the details stay in the tooltip
    imported = ImportDialog(None, [])
    qtbot.addWidget(imported)
    combo = imported.format_combo
    assert not any(":" in combo.itemText(i) for i in range(combo.count()))
    imported.set_format("masks")
    assert combo.currentText().startswith("Masks")
