"""End-to-end stories through the real MainWindow: paint, autosave, quit, reopen."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from guihelpers import at, center, drag
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.gui.main_window import MainWindow
from annotator.storage.project import Project

U = 255


def test_paint_quit_reopen_gives_the_same_pixels_and_statuses(qtbot, project_dir):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    w.open_project(project_dir)
    center(w.canvas)
    first_id = w.document.image_id
    drag(w.canvas, [(10, 10), (40, 20)])
    QTest.keyClick(w.canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # mark done
    QTest.keyClick(w.canvas, Qt.Key.Key_N)  # next image
    second_id = w.document.image_id
    assert second_id != first_id
    # a stroke still in progress when the window closes is kept, without a question
    vp = w.canvas.viewport()
    QTest.mousePress(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(w.canvas, 5, 50)
    )
    QTest.mouseMove(vp, at(w.canvas, 50, 50))
    painted_second = w.document.label_map.copy_array()
    painted_first = None
    w.close()

    with Project.open(project_dir) as p:
        rec1, rec2 = p.image(first_id), p.image(second_id)
        painted_first = p.load_mask(rec1)
        assert rec1.status is ImageStatus.DONE
        assert rec2.status is ImageStatus.IN_PROGRESS
        assert (p.load_mask(rec2) == painted_second).all()
        assert painted_first[10, 10] == 0 and painted_first[20, 40] == 0

    w2 = MainWindow()
    qtbot.addWidget(w2)
    with qtbot.waitActive(w2):
        w2.show()
        w2.activateWindow()
    w2.open_project(project_dir)
    assert w2.document.image_id == second_id  # reopens where the user left
    assert (w2.document.label_map.array == painted_second).all()
    QTest.keyClick(w2.canvas, Qt.Key.Key_PageUp)
    assert w2.document.image_id == first_id
    assert (w2.document.label_map.array == painted_first).all()
    w2.close()


def test_autosave_writes_shortly_after_painting_stops(window, qtbot, project_dir):
    window.autosave_timer.setInterval(50)
    drag(window.canvas, [(10, 10), (20, 10)])
    doc = window.document
    mask_path = window.session.project.mask_path(doc.image_id)
    assert not mask_path.exists()
    qtbot.waitUntil(lambda: mask_path.exists() and not doc.needs_save, timeout=3000)
    window.session._saver.flush(5)
    saved = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    assert (saved == doc.label_map.array).all()
    qtbot.waitUntil(lambda: "in progress" in (window.image_list.current_text() or ""), timeout=3000)


def test_image_list_filter_and_next_follow_the_filter(window):
    assert window.document is not None  # the first image is open
    drag(window.canvas, [(10, 10), (20, 10)])  # an image with nothing labelled is not done
    QTest.keyClick(window.canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    window.image_list.status_filter.setCurrentIndex(1)  # "New" only
    ids = window.image_list.visible_ids()
    assert window.document.image_id in ids  # the open image stays listed
    assert len(ids) == 3
    QTest.keyClick(window.canvas, Qt.Key.Key_N)
    window.image_list.status_filter.setCurrentIndex(3)  # "Done"
    assert len(window.image_list.visible_ids()) == 2  # the done one + the open one
    window.image_list.status_filter.setCurrentIndex(0)
    window.image_list.name_filter.setText("im2")
    assert len(window.image_list.visible_ids()) <= 2


def test_class_panel_keys_add_rename_and_visibility(window, qtbot):
    QTest.keyClick(window.canvas, Qt.Key.Key_3)
    assert window.canvas.current_value == 2
    window.class_panel.add_requested.emit("nucleus", "")
    assert window.session.schema.names[-1] == "nucleus"
    window.class_panel.rename_requested.emit(0, "bg")
    window.class_panel.recolour_requested.emit(1, "#00ff00")
    assert window.session.schema.names[:2] == ["bg", "cell"]
    assert window.class_panel.list.count() == 5  # 4 classes + void
    QTest.keyClick(window.canvas, Qt.Key.Key_4)
    assert window.canvas.current_value == 3
    item = window.class_panel.list.item(1)
    item.setCheckState(Qt.CheckState.Unchecked)
    assert 1 in window._hidden
    assert window.canvas.overlay._image.colorTable()[1] >> 24 == 0  # alpha 0: hidden
    void_row = window.class_panel.list.count() - 1
    window.class_panel.list.setCurrentRow(void_row)
    assert window.canvas.current_value == window.session.schema.void


def test_sixteen_bit_image_opens_with_automatic_contrast_and_can_be_adjusted(qtbot, tmp_path):
    img = np.random.default_rng(1).integers(1000, 1100, (48, 48)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), img)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as p:
        p.add_images([tmp_path / "deep.png"])
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.open_project(tmp_path / "p")
    shown = w.canvas.image_item.array
    assert shown.dtype == np.uint8 and shown.max() > 200 and shown.min() < 50
    w.show_contrast()
    w.contrast_dialog.high.setValue(60000)
    assert w.canvas.image_item.array.max() < 10
    w.contrast_dialog.auto_button.click()
    assert w.canvas.image_item.array.max() > 200
    w.close()


def test_window_without_project_offers_open(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    assert w.actions_["open"].isEnabled()
    assert not w.actions_["undo"].isEnabled() and not w.actions_["next"].isEnabled()
    drag(w.canvas, [(1, 1), (5, 5)])  # nothing to paint on: nothing happens
    assert w.document is None
    w.close()


def test_another_project_starts_with_its_own_protection_and_visible_classes(window, tmp_path):
    """Settings of the last project's class ids must not act on the next one's."""
    combo = window.protection
    combo.setCurrentIndex(combo.findData(2))  # "only over membrane"
    window.class_panel.visibility_changed.emit(frozenset({1}))
    assert window.canvas.protected_value == 2
    images = tmp_path / "other-imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((64, 64), 90, np.uint8))
    other = tmp_path / "other"
    with Project.create(other, LabelSchema.from_names(["sky", "road"])) as p:
        p.add_images([images])
    window.open_project(other)
    center(window.canvas)
    assert window.canvas.protected_value == combo.value() is None
    assert "anything" in combo.currentText() and window.protect_label.text() == ""
    assert window.class_panel_hidden() == frozenset()
    QTest.keyClick(window.canvas, Qt.Key.Key_2)  # road
    drag(window.canvas, [(10, 10), (30, 10)])
    assert (window.document.label_map.array == 1).any()  # the brush paints


def test_classes_an_import_adds_are_offered_to_paint_over(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from annotator.gui.import_dialog import ImportDialog

    src = tmp_path / "src"
    (src / "masks").mkdir(parents=True)
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 32:] = 3
    cv2.imwrite(str(src / "masks/im0.png"), mask)
    (src / "class_names.txt").write_text("background\ncell\nmembrane\nnucleus\n")

    def fill(self):
        self.set_format("masks")
        self.src_edit.setText(str(src / "masks"))
        return ImportDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", fill)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    window.actions_["import"].trigger()
    assert window.session.schema.names[-1] == "nucleus"
    combo = window.protection
    assert combo.findData(3) >= 0 and "nucleus" in combo.itemText(combo.findData(3))


def test_the_contrast_dialog_follows_the_image_shown_and_each_keeps_its_window(qtbot, tmp_path):
    rng = np.random.default_rng(2)
    cv2.imwrite(str(tmp_path / "dim.png"), rng.integers(1000, 1100, (48, 48)).astype(np.uint16))
    cv2.imwrite(str(tmp_path / "lit.png"), rng.integers(30000, 60000, (48, 48)).astype(np.uint16))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as p:
        p.add_images([tmp_path / "dim.png", tmp_path / "lit.png"])
        dim, lit = (p.image(n).id for n in ("dim.png", "lit.png"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.open_project(tmp_path / "p")
    w.open_image(dim)
    w.show_contrast()
    dialog = w.contrast_dialog
    dialog.high.setValue(1050)
    assert w.document.windows == ((dialog.low.value(), 1050),)
    w.open_image(lit)  # the dialog now speaks of the bright image
    assert dialog.low.value() >= 29000 and w.document.windows is None
    dialog.low.setValue(dialog.low.value() + 100)  # one step applies to this image
    assert 29000 < w.document.windows[0][0] < w.document.windows[0][1] <= 60000
    w.open_image(dim)  # and the dim one comes back with the window chosen for it
    assert w.document.windows[0][1] == 1050 and dialog.high.value() == 1050
    w.close()


def test_void_has_no_name_or_colour_to_edit(window):
    panel = window.class_panel
    panel.list.setCurrentRow(panel.list.count() - 1)  # "void (ignore)"
    assert not panel.rename_button.isEnabled() and not panel.colour_button.isEnabled()
    panel.list.setCurrentRow(0)
    assert panel.rename_button.isEnabled() and panel.colour_button.isEnabled()


def test_a_big_picture_is_read_by_a_worker_while_the_open_one_stays_editable(
    window, qtbot, monkeypatch
):
    """ADR 0016: the window stays live while a big picture decodes; edits made meanwhile
    land on the image still open, and Next pressed twice goes two images on."""
    window.background_open_pixels = 1  # every picture counts as big
    project = window.session.project
    ids = window.image_list.visible_ids()
    first = window.document.image_id
    assert first == ids[0]
    release, real = threading.Event(), project.load_image
    monkeypatch.setattr(project, "load_image", lambda rec: release.wait(10) and real(rec))
    QTest.keyClick(window.canvas, Qt.Key.Key_PageDown)  # next image
    QApplication.processEvents()
    assert window.document.image_id == first  # still decoding
    assert window.activity.text.startswith("Loading ")
    QTest.keyClick(window.canvas, Qt.Key.Key_2)  # class "cell"
    drag(window.canvas, [(10, 10), (40, 20)])
    painted = window.document.label_map.copy_array()
    assert painted[10, 10] == 1
    QTest.keyClick(window.canvas, Qt.Key.Key_PageDown)
    release.set()
    qtbot.waitUntil(lambda: window.document.image_id == ids[2], timeout=5000)
    assert window.canvas.document is window.document
    # the labels left are handed to the saver without waiting (ADR 0028): they land soon
    qtbot.waitUntil(lambda: project.load_mask(project.image(first)) is not None, timeout=5000)
    assert (project.load_mask(project.image(first)) == painted).all()
    assert window.activity.text.endswith("open")


def test_going_back_to_the_open_image_during_a_read_keeps_it_as_it_is(window, qtbot, monkeypatch):
    window.background_open_pixels = 1
    project = window.session.project
    ids = window.image_list.visible_ids()
    doc = window.document
    QTest.keyClick(window.canvas, Qt.Key.Key_2)
    drag(window.canvas, [(10, 10), (40, 20)])
    release, real = threading.Event(), project.load_image
    monkeypatch.setattr(project, "load_image", lambda rec: release.wait(10) and real(rec))
    QTest.keyClick(window.canvas, Qt.Key.Key_PageDown)
    assert window.session.reading == ids[1]
    name = {i: project.image(i).name for i in ids}
    assert window.image_list.current_text().startswith(name[ids[1]])  # where it goes
    window.image_list.image_activated.emit(ids[0])  # changed their mind: back
    assert window.session.reading is None and window.document is doc
    assert doc.history.undo_count == 1  # not reopened from disk: the undo history stays
    assert window.image_list.current_text().startswith(name[ids[0]])
    release.set()
    for _ in range(20):
        qtbot.wait(10)
    assert window.document is doc  # the dropped read opened nothing


def test_an_import_never_leaves_a_closed_image_on_the_canvas(window, monkeypatch):
    """The import closes the open image (it may rewrite its labels) and opens it again;
    a big picture comes back through the worker, and meanwhile nothing is editable."""
    window.background_open_pixels = 1
    project = window.session.project
    release, real = threading.Event(), project.load_image
    monkeypatch.setattr(project, "load_image", lambda rec: release.wait(10) and real(rec))
    window.close_image()
    assert window.document is None and window.canvas.document is None
    drag(window.canvas, [(10, 10), (40, 20)])  # paints nothing anywhere, raises nothing
    release.set()


def _contrast_dialog(qtbot):
    """A contrast dialog and the list of windows it emits."""
    from annotator.gui.contrast import ContrastDialog

    dialog = ContrastDialog()
    qtbot.addWidget(dialog)
    seen: list = []
    dialog.windows_changed.connect(lambda windows: seen.append(*windows))
    return dialog, seen


def test_the_contrast_dialog_says_the_image_range_and_why_it_refused_a_window(qtbot):
    dialog, seen = _contrast_dialog(qtbot)
    dialog.set_window(10.0, 200.0, (0.0, 4095.0))
    assert "0 to 4095" in dialog.hint.text()
    dialog.high.setValue(5.0)  # below black
    assert seen == [] and "White must be above black" in dialog.hint.text()
    dialog.high.setValue(300.0)
    assert seen == [(10.0, 300.0)] and "0 to 4095" in dialog.hint.text()


def test_the_contrast_dialog_steps_and_shows_small_float_ranges(qtbot):
    """Values 0..0.05 showed as "0.0" with one decimal, and 0.04 could not be typed."""
    dialog, seen = _contrast_dialog(qtbot)
    dialog.set_window(0.00025, 0.0497, (0.0, 0.05))
    assert dialog.high.decimals() >= 4 and dialog.high.singleStep() == pytest.approx(0.0005)
    assert dialog.low.value() == pytest.approx(0.00025)
    dialog.high.setValue(0.04)
    assert seen == [(pytest.approx(0.00025), pytest.approx(0.04))]
    dialog.set_window(100.0, 4000.0, (0.0, 65535.0))  # 16-bit: few decimals, big steps
    assert dialog.high.decimals() == 1 and dialog.high.singleStep() == pytest.approx(655.35)
