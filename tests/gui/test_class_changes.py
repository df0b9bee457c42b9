"""Removing and merging classes from the class panel."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import model_file
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from annotator.ml.checkpoint import load_checkpoint


def _paint_all(window):
    """Rows of background, cell and membrane in the open image, saved."""
    doc = window.document
    labels = np.zeros(doc.label_map.shape, np.uint8)
    labels[:, 10:20] = 1
    labels[:, 20:30] = 2
    doc.label_map.array[:] = labels
    doc.generation += 1
    window.session.save(wait=True)
    return doc.image_id


def _answer(monkeypatch, ok=True, item=None):
    monkeypatch.setattr(
        QMessageBox,
        "exec",
        lambda self: QMessageBox.StandardButton.Ok if ok else QMessageBox.StandardButton.Cancel,
    )
    if item is not None:
        monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: (item, True))


def test_merge_from_the_panel_rewrites_the_labels_and_adapts_the_model(
    window, qtbot, tmp_path, monkeypatch
):
    given = model_file(tmp_path / "lab.pt", window.session.schema.names)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(given), ""))
    with qtbot.waitSignal(window.loop.version_changed):
        window.actions_["import_model"].trigger()
    image_id = _paint_all(window)
    panel = window.class_panel
    panel.list.setCurrentRow(1)  # cell
    _answer(monkeypatch, item="membrane")
    assert panel.more_button.isEnabled()
    panel.merge_action.trigger()
    project = window.session.project
    assert project.schema.names == ["background", "membrane"]
    assert [panel.list.item(i).text().split()[-1] for i in range(2)] == ["background", "membrane"]
    # the open image was closed and opened again: its labels are the new ids
    doc = window.document
    assert doc is not None and doc.image_id == image_id
    assert np.unique(doc.label_map.array[:, 10:30]).tolist() == [1]
    assert np.unique(doc.label_map.array[:, :10]).tolist() == [0]
    active = project.active_model()
    assert active.version == 2 and active.card.classes == ("background", "membrane")
    assert "merged 'cell' into 'membrane'" in (active.card.adapted or "")
    assert load_checkpoint(project.root / active.checkpoint).network.n_classes == 2
    assert "adapted from v1" in window.loop.panel.device_label.text()
    assert "Merged 'cell' into 'membrane'" in panel.note.text()
    assert window.loop.stale_version() is None  # the new version fits: proposals go on


def test_remove_from_the_panel_unlabels_and_keeps_hidden_classes_hidden(window, monkeypatch):
    image_id = _paint_all(window)
    window.class_panel.visibility_changed.emit(frozenset({2}))  # membrane hidden
    window.class_panel.list.setCurrentRow(0)  # background
    _answer(monkeypatch)
    window.class_panel.remove_action.trigger()
    project = window.session.project
    assert project.schema.names == ["cell", "membrane"]
    mask = project.load_mask(project.image(image_id))
    assert np.unique(mask[:, :10]).tolist() == [255]
    assert np.unique(mask[:, 20:30]).tolist() == [1]
    assert window.class_panel_hidden() == frozenset({1})  # membrane, by its new id


def test_a_cancelled_confirmation_changes_nothing(window, monkeypatch):
    _paint_all(window)
    window.class_panel.list.setCurrentRow(1)
    _answer(monkeypatch, ok=False)
    window.class_panel.remove_action.trigger()
    assert window.session.project.schema.names == ["background", "cell", "membrane"]


def test_the_last_class_cannot_be_removed_and_void_has_no_menu(qtbot):
    from annotator.core.schema import LabelSchema
    from annotator.gui.class_panel import ClassPanel

    panel = ClassPanel()
    qtbot.addWidget(panel)
    panel.set_schema(LabelSchema.from_names(["only"]))
    panel.list.setCurrentRow(0)
    assert not panel.more_button.isEnabled()
    panel.set_schema(LabelSchema.from_names(["a", "b"]))
    panel.list.setCurrentRow(0)
    assert panel.more_button.isEnabled()
    panel.list.setCurrentRow(2)  # void
    assert not panel.more_button.isEnabled()


def test_no_change_while_a_round_trains(window, monkeypatch):
    _paint_all(window)
    service = window.loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: True))
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    window.take_out_class(1, None)
    assert "training round is running" in boxes[0]
    assert window.session.project.schema.names == ["background", "cell", "membrane"]
    QTimer.singleShot(0, QApplication.processEvents)


def test_a_failure_after_the_commit_says_the_classes_changed(window, monkeypatch):
    from annotator.gui import class_changes

    real = class_changes.apply_change

    def then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk gone")

    monkeypatch.setattr(class_changes, "apply_change", then_fail)
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[1:3]))
    image_id = _paint_all(window)
    window.take_out_class(1, None)
    assert boxes == [("Classes changed", "RuntimeError: disk gone.")] or (
        boxes[0][0] == "Classes changed" and "disk gone" in boxes[0][1]
    )
    assert window.class_panel.list.count() == 3  # background, membrane, void
    assert window.document is not None and window.document.image_id == image_id


def test_the_painted_and_protected_classes_follow_their_class(window, monkeypatch):
    """By value they would land on another class (the ids after the removed one move)."""
    _paint_all(window)
    panel, protection = window.class_panel, window.protection
    panel.list.setCurrentRow(2)  # membrane, id 2
    protection.setCurrentIndex(protection.findData(2))  # only over membrane
    window.take_out_class(1, None)  # remove cell: membrane is id 1 now
    assert panel.current_value() == 1 and window.canvas.current_value == 1
    assert protection.value() == 1 and "membrane" in protection.currentText()
    protection.setCurrentIndex(protection.findData(1))
    panel.list.setCurrentRow(1)
    window.take_out_class(1, 0)  # merge membrane into background: its pixels are 0 now
    assert panel.current_value() == 0 and protection.value() == 0
    assert "background" in protection.currentText()


def test_a_removed_class_painted_or_protected_falls_back_safely(window):
    _paint_all(window)
    panel, protection = window.class_panel, window.protection
    panel.list.setCurrentRow(2)  # membrane, the last class
    protection.setCurrentIndex(protection.findData(2))
    window.take_out_class(2, None)
    assert panel.current_value() == 0  # a class, not void (the row now void's)
    # only over membrane's pixels: those are unlabelled now
    assert protection.value() == window.session.schema.unlabelled


def test_no_idle_round_starts_while_the_labels_are_rewritten(window, monkeypatch):
    _paint_all(window)
    idle = window.loop.idle_timer
    idle.setInterval(60_000)
    idle.start()
    seen = []
    from annotator.gui import class_changes

    real = class_changes.apply_change

    def spy(*args, **kwargs):
        seen.append(idle.isActive())
        return real(*args, **kwargs)

    monkeypatch.setattr(class_changes, "apply_change", spy)
    window.take_out_class(1, None)
    assert seen == [False] and idle.isActive()


def test_move_up_and_down_reorder_the_classes_and_the_painted_class_follows(window):
    image_id = _paint_all(window)
    panel = window.class_panel
    panel.list.setCurrentRow(2)  # membrane
    assert panel.up_action.isEnabled() and not panel.down_action.isEnabled()
    panel.up_action.trigger()
    project = window.session.project
    assert project.schema.names == ["background", "membrane", "cell"]
    assert panel.current_value() == 1  # still membrane
    mask = project.load_mask(project.image(image_id))
    assert np.unique(mask[:, 20:30]).tolist() == [1] and np.unique(mask[:, 10:20]).tolist() == [2]
    panel.down_action.trigger()
    assert project.schema.names == ["background", "cell", "membrane"]
    assert "Moved 'membrane' to id 2" in panel.note.text()
    panel.list.setCurrentRow(0)
    assert not panel.up_action.isEnabled()


def test_x_brings_back_the_same_class_after_a_move(window):
    _paint_all(window)
    protection = window.protection
    protection.setCurrentIndex(protection.findData(1))  # only over cell
    protection.toggle()  # X: paint over anything, cell remembered
    window.class_panel.list.setCurrentRow(1)
    window.class_panel.up_action.trigger()  # cell is id 0 now
    protection.toggle()
    assert protection.value() == 0 and "cell" in protection.currentText()


def test_a_class_change_while_the_model_ranks_waits_for_one_model_call(
    qtbot, tmp_path, monkeypatch
):
    from guihelpers import timed_proposal_waits, window_ranking
    from modelhelpers import ranked_project, slow_model_calls

    from annotator.core.status import ImageStatus

    root = ranked_project(tmp_path, 40)
    delay = slow_model_calls(monkeypatch, 0.25)
    waits = timed_proposal_waits(monkeypatch)
    w = window_ranking(qtbot, root)
    service = w.loop.service
    w.class_panel.move_requested.emit(1, 2)  # cell after nucleus: no question asked
    # About 34 model calls (8 s) were left to rank; the change waits for one at most.
    assert w.session.project.schema.names == ["background", "nucleus", "cell"]
    assert len(waits) == 1 and waits[0] < 3, f"the class change waited {waits[0]:.1f} s"
    delay[0] = 0.0
    qtbot.waitUntil(lambda: not service.ranking().busy, timeout=60_000)
    ranking = service.ranking()
    shown = w.document.image_id
    left = [r for r in w.session.images() if r.status != ImageStatus.DONE and r.id != shown]
    assert ranking.version == 2 and ranking.scored == ranking.total == len(left), ranking
    qtbot.waitUntil(lambda: service.current_proposal is not None, timeout=10_000)
    assert service.current_proposal.model_version == 2
    w.close()


def test_a_project_opened_after_another_never_starts_on_void(window, tmp_path):
    """The class panel kept the last project's row: class 4 of a bigger project landed
    on a two-class project's void, and the first stroke painted void. Each project
    starts on its first class, or the class last painted in it, also after a switch
    (it was saved on quit only)."""
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    images = tmp_path / "small"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((16, 16), 90, np.uint8))
    with Project.create(tmp_path / "two", LabelSchema.from_names(["bg", "fg"])) as small:
        small.add_images([images])
        void = small.schema.void
    big = window.session.project.root
    window.class_panel.select_index(2)  # membrane, the last class of three
    assert window.canvas.current_value == 2
    window.open_project(tmp_path / "two")
    assert window.class_panel.current_value() == 0 != void
    assert window.canvas.current_value == 0
    window.class_panel.select_index(1)
    window.open_project(big)
    assert window.canvas.current_value == 2  # its own class, saved when it was left
    window.open_project(tmp_path / "two")
    assert window.canvas.current_value == 1


def _two_strokes(window):
    doc = window.document
    doc.paint_stroke([(3.0, 3.0), (8.0, 3.0)], 1.5, 1)
    doc.paint_stroke([(3.0, 9.0), (8.0, 9.0)], 1.5, 2)
    return doc.image_id, doc.label_map.array.copy()


@pytest.mark.parametrize("stop", ["cancel", "fail"])
def test_a_cancelled_or_failed_change_keeps_the_undo_histories(window, monkeypatch, stop):
    """ "Cancelled: the classes are as they were", and so is Ctrl+Z: the open image's
    history and those of the images left were all forgotten."""
    from annotator.gui import class_changes
    from annotator.gui.progress_task import Cancelled

    monkeypatch.setattr(QMessageBox, "warning", lambda *a: None)  # (the failure's box)

    first, _ = _two_strokes(window)
    others = [r.id for r in window.session.images() if r.id != first]
    window.open_image(others[0])  # another image, painted too: the first's history is kept
    second, painted = _two_strokes(window)
    assert second != first

    def cancelled(*args, **kwargs):
        raise Cancelled() if stop == "cancel" else OSError(28, "No space left on device")

    monkeypatch.setattr(class_changes, "apply_change", cancelled)
    window.take_out_class(1, 2)
    assert window.session.project.schema.names == ["background", "cell", "membrane"]
    doc = window.document
    assert doc.image_id == second and np.array_equal(doc.label_map.array, painted)
    assert window.actions_["undo"].isEnabled()
    window.actions_["undo"].trigger()
    window.actions_["undo"].trigger()
    assert not doc.label_map.has_labels()  # both strokes undone
    assert first in window.session.kept_history_ids()


def test_a_change_made_forgets_the_undo_histories(window, monkeypatch):
    _two_strokes(window)
    _answer(monkeypatch, item="membrane")
    window.take_out_class(1, 2)
    assert window.session.project.schema.names == ["background", "membrane"]
    assert not window.actions_["undo"].isEnabled()
    assert window.session.kept_history_ids() == []
