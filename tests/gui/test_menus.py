"""The File menu driven through its QActions (New project, Add images, Import, Export),
the shortcut overview (F1, ?), the status bar's activity and the class-change words."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile
from guihelpers import SIZE, center, drag, shown_window
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QProgressDialog

from annotator.gui.export_dialog import ExportDialog
from annotator.gui.help_dialog import ShortcutsDialog, shortcut_rows
from annotator.gui.import_dialog import ImportDialog
from annotator.gui.main_window import MainWindow
from annotator.gui.new_project_dialog import NewProjectDialog
from annotator.gui.progress_task import run_with_progress
from annotator.storage.project import Project


def write_images(folder: Path, values: list[int]) -> Path:
    folder.mkdir(parents=True)
    for v in values:
        img = np.full((SIZE, SIZE), v, np.uint8)
        cv2.imwrite(str(folder / f"img{v:03d}.png"), img)
    return folder


@pytest.fixture
def empty_window(qtbot):
    from annotator.services.model_service import ModelSettings

    w = MainWindow()
    qtbot.addWidget(w)
    w.loop.settings_override = ModelSettings(train_on_done=False)  # no training rounds here
    w.resize(900, 700)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    yield w
    w.close()


def test_new_project_add_images_and_export_through_the_file_menu(
    qtbot, empty_window, tmp_path, monkeypatch, boxes
):
    w, a = empty_window, empty_window.actions_
    assert not a["export"].isEnabled() and not a["add_images"].isEnabled()
    first = write_images(tmp_path / "batch1", [10, 20])
    second = write_images(tmp_path / "batch2", [30, 40, 50])
    root = tmp_path / "proj"

    def fill_new(self):
        self.images_edit.setText(str(first))
        self.project_edit.setText(str(root))
        self.classes.set_rows([("background", "#000000"), ("cell", "#ff0000")])
        self.create_project()
        return self.result()

    monkeypatch.setattr(NewProjectDialog, "exec", fill_new)
    a["new_project"].trigger()
    assert w.session is not None and w.session.project.root == root
    assert [c.name for c in w.session.schema.classes] == ["background", "cell"]
    assert len(w.session.images()) == 2
    assert w.file_menu.last_message.startswith("Added 2 image(s)")
    assert a["export"].isEnabled() and a["add_folder"].isEnabled()
    recent = [x for x in w.file_menu.recent_menu.actions() if x.toolTip() == str(root)]
    assert len(recent) == 1 and recent[0].text() == "&1 proj"

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a_, **k: str(second))
    a["add_folder"].trigger()
    assert len(w.session.images()) == 5
    assert w.image_list.visible_ids() == [r.id for r in w.session.images()]
    assert w.file_menu.last_message.startswith("Added 3 image(s)")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a_, **k: ([str(second / "img030.png")], "")
    )
    a["add_images"].trigger()  # the same file again: skipped, not duplicated
    assert len(w.session.images()) == 5
    assert "skipped 1" in w.file_menu.last_message

    # label two images: paint class 1 (cell) in a square, mark done
    done_names = []
    for record in w.session.images()[:2]:
        w.open_image(record.id)
        center(w.canvas)
        w.class_panel.select_index(1)
        w.canvas.set_brush_radius(3)
        drag(w.canvas, [(10, 10), (12, 10)])
        a["mark_done"].trigger()
        done_names.append(Path(record.name).stem)

    out = tmp_path / "voc-out"

    def fill_export(self):
        self.set_format("voc")
        self.out_edit.setText(str(out))
        self.split_spins[0].setValue(1.0)
        self.split_spins[1].setValue(0.0)
        self.split_spins[2].setValue(0.0)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", fill_export)
    a["export"].trigger()
    assert "Exported 2 image(s) as VOC" in w.file_menu.last_message
    # the summary says VOC wrote the unlabelled pixels as void (the CLI's line, a sentence)
    assert "\n2 image(s) have unlabelled pixels (" in w.file_menu.last_message
    assert "export as masks to keep them unlabelled." in w.file_menu.last_message
    masks = sorted((out / "SegmentationClass").glob("*.png"))
    assert [m.stem for m in masks] == sorted(done_names)
    from PIL import Image

    for m in masks:
        values = np.array(Image.open(m))
        assert values[10, 11] == 1  # painted cell
        assert values[40, 40] == 255  # never labelled: the ignore value
    assert (out / "ImageSets" / "Segmentation" / "train.txt").read_text().split() == sorted(
        done_names
    )

    a["export"].trigger()  # the folder is not empty now: one line, nothing overwritten
    kind, text = boxes[-1]
    assert kind == "warning" and text.startswith("Export failed:") and "\n" not in text
    assert "not an empty folder" in text
    assert len(list((out / "SegmentationClass").glob("*.png"))) == 2


def test_import_through_the_menu_adds_images_labels_and_classes(
    qtbot, window, tmp_path, monkeypatch, boxes
):
    src = tmp_path / "masks"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    img = np.full((SIZE, SIZE), 90, np.uint8)
    cv2.imwrite(str(src / "images" / "new.png"), img)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[5:15, 5:15] = 2
    cv2.imwrite(str(src / "masks" / "new.png"), mask)

    def fill_import(self):
        self.set_format("masks")
        self.src_edit.setText(str(src))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", fill_import)
    before = len(window.session.images())
    window.actions_["import"].trigger()
    message = window.file_menu.last_message
    assert message.startswith("Imported 1 mask(s) from masks"), message
    assert len(window.session.images()) == before + 1
    record = next(r for r in window.session.images() if r.name.endswith("new.png"))
    saved = window.session.project.load_mask(record)
    assert saved is not None and saved[10, 10] == 2 and saved[30, 30] == 0
    assert window.document is not None  # the image that was open is open again


def test_a_failed_import_says_why_in_one_line(qtbot, window, tmp_path, monkeypatch, boxes):
    def fill_import(self):
        self.set_format("coco")
        self.src_edit.setText(str(tmp_path / "missing.json"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImportDialog, "exec", fill_import)
    window.actions_["import"].trigger()
    kind, text = boxes[-1]
    assert kind == "warning" and text.startswith("Import failed:") and "missing.json" in text
    assert "\n" not in text and "Traceback" not in text


def test_cancel_stops_the_work_and_reports_cancelled(qtbot):
    started = threading.Event()
    steps: list[int] = []

    def work(progress):
        for i in range(10_000):
            started.set()
            progress(i, 10_000, f"step {i}")
            steps.append(i)
            time.sleep(0.002)
        return "finished"

    def press_cancel():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QProgressDialog) and widget.isVisible():
                widget.cancel()
                return
        QTimer.singleShot(50, press_cancel)

    QTimer.singleShot(100, press_cancel)
    outcome = run_with_progress(None, "Test", "Working…", work)
    assert started.is_set()
    assert outcome.cancelled and outcome.result is None and outcome.error is None
    assert len(steps) < 10_000


def test_f1_and_question_mark_open_an_overview_of_every_menu_action(qtbot, window):
    rows = shortcut_rows(window.menuBar())
    texts = {r.text: r.keys for r in rows}
    for name, action in window.actions_.items():
        plain = action.text().replace("&", "").rstrip("…").strip()
        assert plain in texts, name
        for key in action.shortcuts():
            assert key.toString(QKeySequence.SequenceFormat.NativeText) in texts[plain]
    assert texts["Export"] == "Ctrl+E" and texts["Keyboard shortcuts"] == "F1, ?"

    # never stale: a key changed at run time shows up in the next overview
    window.actions_["export"].setShortcut(QKeySequence("Ctrl+Shift+X"))
    assert {r.text: r.keys for r in shortcut_rows(window.menuBar())}["Export"] == "Ctrl+Shift+X"

    for key in (Qt.Key.Key_F1, "?"):
        window.shortcuts_dialog = None
        with qtbot.waitActive(window):
            window.activateWindow()
        QTest.keyClick(window.canvas, key)
        qtbot.waitUntil(lambda: window.shortcuts_dialog is not None)
        dialog = window.shortcuts_dialog
        assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
        assert "Ctrl+Shift+X" in dialog.browser.toPlainText()
        dialog.filter_edit.setText("brush")
        shown = dialog.browser.toPlainText()
        assert "Bigger brush" in shown and "Export" not in shown
        dialog.close()


def test_every_toolbar_button_has_a_tooltip_with_its_shortcut(window):
    from PySide6.QtWidgets import QToolBar

    for bar in window.findChildren(QToolBar):
        for action in bar.actions():
            if action.isSeparator() or not action.text():
                continue
            assert action.toolTip(), action.text()
            keys = action.shortcuts()
            if keys:
                assert keys[0].toString() in action.toolTip(), action.text()


def test_status_bar_says_loading_saving_and_shows_the_pixel_under_the_cursor(qtbot, window):
    name = window.document.record.name
    assert window.activity.text == f"{name} open"
    drag(window.canvas, [(30, 30), (31, 30)])
    window.save_now()
    assert window.activity.text in ("Saving…", "All changes saved")
    qtbot.waitUntil(lambda: window.activity.text == "All changes saved")
    QTest.mouseMove(window.canvas.viewport(), window.canvas.mapFromScene(25.5, 25.5))
    qtbot.waitUntil(lambda: window.pos_label.text() == "x 25  y 25")
    assert window.value_label.text() == "value 200"
    assert window.class_label.text() == "class background"


def test_training_progress_reaches_the_status_bar_as_round_n(window):
    # what ml.train.TrainProgress carries (built here without importing torch)
    progress = SimpleNamespace(step=40, fraction=0.4, phase="train", loss=0.25)
    window.activity.round_started()
    window.activity.training_progress(progress)
    assert window.activity.text.startswith("Training round 1: 40 %")
    assert window.activity.bar.isVisible() or not window.isVisible()
    window.activity.say("Loading x…")  # shorter news never hides a running round
    assert window.activity.text.startswith("Training round 1")


def test_adding_and_renaming_a_class_says_what_the_model_will_do(window, monkeypatch):
    window._edit_schema("add_class", "nucleus", None)
    note = window.class_panel.note.text()
    assert "Added 'nucleus'" in note and "next training round" in note
    window._edit_schema("rename_class", 1, "cell body")
    note = window.class_panel.note.text()
    assert note == "Renamed 'cell' to 'cell body'."  # no model yet: nothing to say of it
    assert window.statusBar().currentMessage() == note


def test_a_rename_says_what_the_active_model_does(window, qtbot, tmp_path, monkeypatch):
    from guihelpers import model_file
    from PySide6.QtWidgets import QFileDialog

    given = model_file(tmp_path / "lab.pt", window.session.schema.names)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(given), ""))
    with qtbot.waitSignal(window.loop.version_changed):
        window.actions_["import_model"].trigger()
    window._edit_schema("rename_class", 1, "cell body")
    note = window.class_panel.note.text()
    assert "Renamed 'cell' to 'cell body'" in note and "Train from scratch" in note
    # back to the name it was trained with: training goes on from it
    window._edit_schema("rename_class", 1, "cell")
    note = window.class_panel.note.text()
    assert note == (
        "Renamed 'cell body' to 'cell', the name the model was trained with: training goes "
        "on from it."
    )
    # the same name in other letters: the model still fits (as Train now and the CLI say)
    window._edit_schema("rename_class", 1, "Cell")
    note = window.class_panel.note.text()
    assert note.startswith("Renamed 'cell' to 'Cell'. The same name in other letters")
    assert "Train from scratch" not in note


def test_hiding_a_class_makes_it_transparent_in_the_overlay_only(window):
    from annotator.gui.class_panel import VALUE_ROLE

    item = next(
        window.class_panel.list.item(i)
        for i in range(window.class_panel.list.count())
        if window.class_panel.list.item(i).data(VALUE_ROLE) == 1
    )
    item.setCheckState(Qt.CheckState.Unchecked)
    table = window._table()
    assert table[1] >> 24 == 0 and table[0] >> 24 > 0  # alpha of cell 0, background kept
    with Project.open(window.session.project.root) as p:
        assert p.schema.names == window.session.schema.names  # the schema is untouched


def _window_on_picture(qtbot, tmp_path: Path, name: str, write) -> MainWindow:
    """The window on a new project of one picture, ``write(path)`` writes it."""
    from annotator.core.schema import LabelSchema

    folder = tmp_path / "pictures"
    folder.mkdir()
    write(folder / name)
    root = tmp_path / "project"
    with Project.create(root, LabelSchema.from_names(["a", "b"])) as p:
        p.add_images([folder])
    w = shown_window(qtbot, root)
    center(w.canvas)
    return w


def _hover(qtbot, w: MainWindow, x: int, y: int) -> None:
    """The mouse over pixel (x, y), and the status bar showing it."""
    QTest.mouseMove(w.canvas.viewport(), w.canvas.mapFromScene(x + 0.5, y + 0.5))
    qtbot.waitUntil(lambda: w.pos_label.text() == f"x {x}  y {y}")


def test_status_bar_shows_raw_16_bit_values_of_every_channel(qtbot, tmp_path):
    img = np.zeros((SIZE, SIZE, 3), np.uint16)
    img[33, 31] = (40000, 1234, 65535)  # BGR on disk; near the centre, so in view
    w = _window_on_picture(qtbot, tmp_path, "rgb16.png", lambda f: cv2.imwrite(str(f), img))
    _hover(qtbot, w, 31, 33)
    assert w.value_label.text() == "value 65535, 1234, 40000"  # RGB, raw, not scaled to 8 bits
    assert w.class_label.text() == "class unlabelled"
    w.close()


def test_status_bar_shows_float_channels_and_nan_without_an_error(qtbot, tmp_path):
    """A multi-channel float pixel was shown cut to integers, and a NaN one raised on
    every mouse move (the app's error box). (Pixels other than the test above: a move
    to where the cursor already is sends no event.)"""
    img = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    img[35, 29] = (1.27, 0.43, 0.09)
    img[35, 34] = np.nan
    write = lambda f: tifffile.imwrite(f, img, photometric="rgb")  # noqa: E731
    w = _window_on_picture(qtbot, tmp_path, "f3.tif", write)
    _hover(qtbot, w, 29, 35)
    assert w.value_label.text() == "value 1.27, 0.43, 0.09"
    _hover(qtbot, w, 34, 35)
    assert w.value_label.text() == "value nan, nan, nan"
    w.close()


def test_a_cancelled_export_leaves_nothing_at_the_output_folder(
    qtbot, window, tmp_path, monkeypatch, boxes
):
    import dataclasses

    from annotator.core.status import ImageStatus
    from annotator.formats import registry

    project = window.session.project
    for record in project.images():
        mask = np.full((SIZE, SIZE), 1, np.uint8)
        project.save_mask(record.id, mask, source="user", status=ImageStatus.DONE)
    real = registry.FORMATS["masks"]
    writing = threading.Event()

    def slow_writer(stage, dataset, options, progress):
        result = real.writer(stage, dataset, options, progress)  # every file is written...
        for i in range(2000):  # ...then it is slow to finish: Cancel lands here
            writing.set()
            progress(i, 2000, "finishing")
            time.sleep(0.005)
        return result

    monkeypatch.setitem(registry.FORMATS, "masks", dataclasses.replace(real, writer=slow_writer))
    out = tmp_path / "cancelled-export"

    def fill_export(self):
        self.set_format("masks")
        self.out_edit.setText(str(out))
        return QDialog.DialogCode.Accepted

    def press_cancel():
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QProgressDialog) and widget.isVisible() and writing.is_set():
                widget.cancel()
                return
        QTimer.singleShot(50, press_cancel)

    monkeypatch.setattr(ExportDialog, "exec", fill_export)
    QTimer.singleShot(50, press_cancel)
    window.actions_["export"].trigger()
    assert window.file_menu.last_message == "Export cancelled; nothing was written."
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cancelled-export")]


def test_the_import_summary_counts_images_left_unlabelled_by_the_source():
    from annotator.gui.import_dialog import import_summary
    from annotator.services.exchange import ImportReport

    report = ImportReport(format="coco", imported=["a.png"], matched=["a.png"])
    assert "without a labelled pixel" not in import_summary(report)
    report.unlabelled = ["IMG_B.png", "c.png"]
    text = import_summary(report)
    assert "2 image(s) without a labelled pixel in the source (first: IMG_B.png)" in text
    assert "their labels were left as they were" in text


def test_recent_projects_are_told_apart_and_listed_once(empty_window, tmp_path):
    w = empty_window
    for folder in ("a/p", "b/p", "R&D"):
        (tmp_path / folder).mkdir(parents=True)
    w.settings.add_recent(tmp_path / "R&D")
    w.settings.add_recent(tmp_path / "a" / "p")
    w.settings.add_recent(tmp_path / "b" / "p")
    w.settings.add_recent(tmp_path / "a" / ".." / "b" / "p")  # the same as b/p
    w.file_menu.refresh_recent()
    labels = [x.text() for x in w.file_menu.recent_menu.actions() if x.statusTip()]
    assert labels == [
        f"&1 p ({tmp_path / 'b'})",
        f"&2 p ({tmp_path / 'a'})",
        "&3 R&&D",  # shown as "R&D", not "RD"
    ]


def test_the_add_summary_tells_repeats_from_the_projects_own_files():
    from annotator.gui.new_project_dialog import AddOutcome

    text = AddOutcome(added=2, skipped=1, own_files=True).summary()
    assert text == (
        "Added 2 image(s), skipped 1 already in the project (or repeating a picture), "
        "left out the project's own files (masks, proposals...)."
    )


def test_adding_a_stack_from_the_window_says_it_was_split(qapp, tmp_path):
    import numpy as np
    import tifffile

    from annotator.core.schema import LabelSchema
    from annotator.gui.new_project_dialog import add_images_with_progress
    from annotator.storage.project import Project

    volume = np.random.default_rng(0).integers(0, 255, (6, 16, 16)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "vol.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        outcome = add_images_with_progress(None, project, [tmp_path / "vol.tif"])
    assert outcome.added == 6
    assert "Added 6 image(s). Split vol.tif (6 slices) into one image per slice" in (
        outcome.summary()
    )


def test_the_add_summary_tells_a_replaced_picture_from_the_files_added_before(qapp, tmp_path):
    """Every file skipped was said "already in the project (or repeating a picture)",
    a picture file replaced by another too, which needs the user's look."""
    from annotator.core.schema import LabelSchema
    from annotator.gui.new_project_dialog import add_images_with_progress
    from annotator.storage.project import Project

    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"{i}.png"), np.full((8, 8), i, np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        add_images_with_progress(None, project, [src])
        cv2.imwrite(str(src / "0.png"), np.full((12, 12), 99, np.uint8))
        outcome = add_images_with_progress(None, project, [src])
    text = outcome.summary()
    assert "skipped 2 already in the project" in text, text
    assert f"left out 1 (first: {src / '0.png'}: not added: it replaced the picture" in text
    assert outcome.worth_a_warning and len(text.splitlines()) == 1


def test_bare_tiff_pages_are_channels_by_default_and_slices_from_their_own_action(
    window, monkeypatch, boxes, tmp_path
):
    import tifffile

    volume = np.random.default_rng(0).integers(0, 255, (5, 16, 16)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "short.tif", volume, photometric="minisblack")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a_, **k: ([str(tmp_path / "short.tif")], "")
    )
    before = len(window.session.images())
    window.actions_["add_images"].trigger()
    assert len(window.session.images()) == before + 1
    kind, text = boxes[-1]
    assert kind == "warning"  # no file says which it is: the user is told
    assert "Read the 5 bare pages of short.tif as the channels of one picture" in text
    assert "add it with File > Add TIFF pages as slices" in text
    window.actions_["add_slices"].trigger()
    names = [r.name for r in window.session.images()]
    assert names[-5:] == [f"short_z{i:03d}.tif" for i in range(5)]
    assert "Split short.tif (5 slices)" in boxes[-1][1]


def test_the_import_summary_names_a_skipped_file_once():
    from annotator.gui.import_dialog import import_summary
    from annotator.services.exchange import ImportReport

    report = ImportReport(format="masks")
    report.skipped = [("/d/1.png", "/d/1.png: values [7] are not class ids"), ("/d/x.json", "bad")]
    text = import_summary(report)
    assert "Skipped 2 file(s); first: /d/1.png: values [7] are not class ids" in text
    report.skipped.reverse()
    assert "first: x.json: bad" in import_summary(report)
    # Label Studio refuses whole export files and single tasks: "files" miscounted tasks
    report = ImportReport(format="labelstudio")
    report.skipped = [("/d/e.json", "/d/e.json: task 3: no picture"), ("/d/e.json", "x")]
    assert "Skipped 2 task(s) or file(s); first: /d/e.json: task 3" in import_summary(report)


def test_status_bar_counts_the_tiles_of_a_big_proposal(window):
    activity = window.activity
    activity.image_opened("big.tif")
    activity.say("Proposing for big.tif…")  # as when the project has a model
    window.loop.proposal_progress.emit(window.document.image_id, 3, 12)
    assert activity.text == "Proposing for big.tif… 3 of 12 tiles"
    assert activity.bar.isVisible() and activity.bar.value() == 250
    window.loop.proposal_shown.emit(window.document.image_id, 1)
    assert activity.text == "Proposal of model v1 shown" and not activity.bar.isVisible()
    window.loop.proposal_progress.emit(window.document.image_id, 4, 12)  # a late one
    assert activity.text == "Proposal of model v1 shown" and not activity.bar.isVisible()


def test_the_window_s_short_messages_are_seen_over_the_activity(window, qtbot):
    """The activity label gives way to a message for its few seconds, then comes back."""
    bar = window.statusBar()
    bar.clearMessage()  # the opened image's size, shown for 3 s
    assert window.activity.label.isVisible()
    bar.showMessage("No proposal for this image yet", 300)
    assert bar.currentMessage() == "No proposal for this image yet"
    assert not window.activity.label.isVisible()  # the message has the room
    qtbot.waitUntil(lambda: window.activity.label.isVisible(), timeout=3000)


def test_every_menu_entry_has_its_own_access_letter():
    import re
    from collections import defaultdict

    from annotator.gui.actions import SPECS

    letters = defaultdict(list)
    for spec in SPECS:
        found = re.search(r"&(\w)", spec.text)
        assert found, f"{spec.text!r} has no access letter"
        letters[(spec.menu, found.group(1).lower())].append(spec.text)
    clashes = {k: v for k, v in letters.items() if len(v) > 1}
    assert clashes == {}


def test_a_new_window_gives_the_image_the_room(qtbot, project_dir):
    from PySide6.QtWidgets import QDockWidget

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    w.open_project(project_dir)
    qtbot.wait(50)
    docks = {d.windowTitle(): d.width() for d in w.findChildren(QDockWidget)}
    assert all(width <= 320 for width in docks.values()), docks
    assert w.canvas.width() >= 1024 - 2 * 320 - 40
    w.close()


def test_mark_done_says_which_way_it_goes_and_class_edits_need_a_project(window):
    action = window.actions_["mark_done"]
    assert action.text() == "Mark &done"
    drag(window.canvas, [(10, 10), (20, 10)])  # an image with nothing labelled is not done
    window.mark_done()
    assert action.text() == "Mark not &done"
    window.mark_done()
    assert action.text() == "Mark &done"
    assert window.class_panel.isEnabled()
    window.close_project()
    assert not window.class_panel.isEnabled()  # no "Add…" that silently does nothing
    assert window.actions_["accept_class"].iconText() == "Accept class"


def test_mark_done_follows_a_done_image_whose_labels_were_all_erased(qtbot, window):
    """The save made it in progress (nothing labelled), yet the action still offered
    "Mark not done", which then answered that the image cannot be done yet."""
    action = window.actions_["mark_done"]
    drag(window.canvas, [(10, 10), (20, 10)])
    window.mark_done()
    assert action.text() == "Mark not &done"
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_E)
    window.canvas.set_brush_radius(20)
    drag(window.canvas, [(5, 10), (25, 10)])
    assert not window.document.label_map.has_labels()
    window.save_now()
    qtbot.waitUntil(lambda: window.document.record.status.value == "in_progress", timeout=5000)
    qtbot.waitUntil(lambda: action.text() == "Mark &done", timeout=5000)


def test_the_empty_canvas_says_what_to_do_next(qtbot, project_dir, tmp_path):
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    hint = w.canvas.placeholder
    assert hint.isVisible() and "No project open" in hint.text()
    assert not w.loop.panel.isEnabled()  # no budget or rollback to set without a project
    with Project.create(tmp_path / "bare", LabelSchema.from_names(["a", "b"])):
        pass
    w.open_project(tmp_path / "bare")
    assert hint.isVisible() and "no images yet" in hint.text()
    assert w.loop.panel.isEnabled()
    w.open_project(project_dir)
    assert not hint.isVisible()  # an image is open
    w.close()


def test_round_news_reads_as_sentences(window):
    from annotator.gui.import_dialog import ImportDialog
    from annotator.services.training_rounds import RoundOutcome

    panel, activity = window.loop.panel, window.activity
    panel.round_started()
    assert "Training the first model" in panel.version_label.text()  # no "press Train now"
    activity.round_finished(RoundOutcome("cancelled", None, "cancelled: unchanged"))
    assert activity.text == "Training round cancelled; the model is unchanged"
    panel.round_finished("published model v1 (12 steps)", False)
    assert panel.round_label.text() == "Published model v1 (12 steps)"
    dialog = ImportDialog(window, ["background", "cell"])
    dialog.set_format("masks")
    assert not dialog.background_combo.isEnabled()  # a mask labels every pixel itself
    dialog.set_format("labelme")
    assert dialog.background_combo.isEnabled()


def test_the_user_guide_lists_every_shortcut_the_menus_have(window):
    """The guide showed a picture of the F1 dialog, cut off half-way (View, Image, Model
    and Help keys missing). Its table is now written from the menus; keep it so."""
    import importlib.util
    from pathlib import Path

    from annotator.gui.help_dialog import shortcuts_markdown

    script = Path(__file__).resolve().parents[2] / "scripts" / "shortcuts_table.py"
    spec = importlib.util.spec_from_file_location("shortcuts_table", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.GUIDE.read_text(encoding="utf-8")
    markdown = shortcuts_markdown(shortcut_rows(window.menuBar(), portable=True))
    assert "| Model | Train now | Ctrl+T |" in markdown
    assert module.with_table(text, markdown) == text, "run python scripts/shortcuts_table.py"


def test_the_export_dialog_asks_for_label_stacks_only_of_a_masks_export(qtbot):
    from annotator.gui.export_dialog import ExportDialog

    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("masks")
    assert dialog.stacks_check.isEnabled()
    dialog.stacks_check.setChecked(True)
    assert dialog.request().stacks
    dialog.set_format("voc")
    assert not dialog.stacks_check.isEnabled() and not dialog.request().stacks


def test_the_add_summary_names_each_unreadable_file_with_its_reason(qapp, tmp_path):
    """Only the first file's reason was said: a truncated JPEG hid that the other files
    were left out for another reason."""
    from annotator.core.schema import LabelSchema
    from annotator.gui.new_project_dialog import add_images_with_progress
    from annotator.storage.project import Project

    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "good.png"), np.full((8, 8), 5, np.uint8))
    (src / "a_truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    (src / "b_text.jpg").write_text("not a picture")
    for i in range(6):
        (src / f"c{i}.tif").write_bytes(b"II*\0" + b"\0" * 4)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        outcome = add_images_with_progress(None, project, [src])
    text = outcome.summary()
    lines = text.splitlines()
    assert lines[0].startswith("Added 1 image(s), 8 unreadable (first: "), text
    assert lines[1] == "Unreadable:", text
    assert [line.split(":")[0] for line in lines[2:7]] == [
        f"- {src / name}"
        for name in ("a_truncated.png", "b_text.jpg", "c0.tif", "c1.tif", "c2.tif")
    ], text
    assert lines[7] == "- and 3 more" and len(lines) == 8, text


def test_f1_twice_raises_the_open_shortcuts_window(window, qtbot):
    """F1 pressed twice opened a second shortcuts window over the first."""
    from annotator.gui.help_dialog import ShortcutsDialog

    window.show_shortcuts()
    first = window.shortcuts_dialog
    window.show_shortcuts()
    assert window.shortcuts_dialog is first
    assert len([d for d in window.findChildren(ShortcutsDialog) if d.isVisible()]) == 1
    first.close()
    qtbot.waitUntil(lambda: not window.findChildren(ShortcutsDialog))  # (deleted on close)
    window.show_shortcuts()
    assert window.shortcuts_dialog is not first and window.shortcuts_dialog.isVisible()
    window.shortcuts_dialog.close()
