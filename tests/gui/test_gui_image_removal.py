"""Removing images from the image list."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import timed_proposal_waits, window_ranking
from modelhelpers import ranked_project, slow_model_calls
from PySide6.QtWidgets import QMessageBox

import annotator.gui.image_removal as removal_module
from annotator.core.errors import ProjectError
from annotator.core.status import ImageStatus


def _ok(monkeypatch, ok=True):
    monkeypatch.setattr(
        QMessageBox,
        "exec",
        lambda self: QMessageBox.StandardButton.Ok if ok else QMessageBox.StandardButton.Cancel,
    )


def _paint(window):
    doc = window.document
    doc.label_map.array[:10] = 1
    doc.generation += 1
    window.session.save(wait=True)
    return doc.image_id


def test_removing_the_open_image_opens_the_next_and_keeps_its_labels(window, monkeypatch):
    first = _paint(window)
    ids = [r.id for r in window.session.images()]
    _ok(monkeypatch)
    window.image_list.remove_requested.emit([first])
    project = window.session.project
    assert [r.id for r in project.images()] == ids[1:]
    assert window.document is not None and window.document.image_id == ids[1]
    assert window.image_list.count() == 2
    kept = list((project.root / "removed").glob("*/masks/*.png"))
    assert [p.name for p in kept] == ["im0.png.png"]
    assert "the picture files were not touched" in window.statusBar().currentMessage()


def test_removing_another_image_keeps_the_open_one_and_its_unsaved_edit(window, monkeypatch):
    ids = [r.id for r in window.session.images()]
    doc = window.document
    doc.label_map.array[:5] = 2
    doc.generation += 1  # not saved yet
    _ok(monkeypatch)
    window.image_list.remove_requested.emit([ids[2]])
    project = window.session.project
    assert [r.id for r in project.images()] == ids[:2]
    assert window.document is doc
    assert np.unique(project.load_mask(project.image(ids[0]))[:5]).tolist() == [2]


def test_a_cancelled_confirmation_or_a_running_round_removes_nothing(window, monkeypatch):
    ids = [r.id for r in window.session.images()]
    _ok(monkeypatch, ok=False)
    window.image_list.remove_requested.emit(ids[:1])
    service = window.loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: True))
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    window.image_list.remove_requested.emit(ids[:1])
    assert "training round is running" in boxes[0]
    assert [r.id for r in window.session.images()] == ids


def test_the_filtered_list_offers_to_remove_the_images_shown(window):
    panel = window.image_list
    texts = [a.text() for a in panel.context_menu(0).actions()]
    assert texts == ["Remove “im0.png” from the project…"]
    panel.name_filter.setText("im")
    menu = panel.context_menu(None)
    assert [a.text() for a in menu.actions()] == ["Remove the 3 image(s) shown from the project…"]
    with_row = panel.context_menu(1).actions()
    assert with_row[0].text() == "Remove “im1.png” from the project…"


def test_a_round_started_while_the_box_was_open_stops_the_removal(window, monkeypatch):
    service = window.loop.service
    started = []

    def ok_and_a_round_starts(self):
        started.append(True)
        monkeypatch.setattr(type(service), "training", property(lambda s: True))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", ok_and_a_round_starts)
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    ids = [r.id for r in window.session.images()]
    window.image_list.remove_requested.emit(ids[:1])
    assert started and "training round is running" in boxes[0]
    assert [r.id for r in window.session.images()] == ids


def test_removing_the_open_image_opens_the_one_after_it(window, monkeypatch):
    ids = [r.id for r in window.session.images()]
    window.open_image(ids[1])
    _ok(monkeypatch)
    window.image_list.remove_requested.emit([ids[1]])
    assert window.document.image_id == ids[2]
    window.image_list.remove_requested.emit([ids[2]])  # the last: the one before it
    assert window.document.image_id == ids[0]


def test_the_images_shown_leave_out_the_open_one_the_filter_does_not_match(window, monkeypatch):
    _ok(monkeypatch, ok=False)
    panel = window.image_list
    ids = [r.id for r in window.session.images()]
    panel.name_filter.setText("im2")  # im0 is open: listed, but not matched
    assert panel.visible_ids() == [ids[0], ids[2]] or set(panel.visible_ids()) == {
        ids[0],
        ids[2],
    }
    emitted = []
    panel.remove_requested.connect(emitted.append)
    action = panel.context_menu(None).actions()[-1]
    assert action.text() == "Remove the 1 image(s) shown from the project…"
    action.trigger()
    assert emitted == [[ids[2]]]


def _failing_removal(monkeypatch):
    def remove_images(project, keys):
        raise ProjectError(
            f"{project.root / 'removed'}: cannot keep the labels of the images to remove "
            "(Read-only file system); nothing was removed"
        )

    monkeypatch.setattr(removal_module, "remove_images", remove_images)
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    return boxes


@pytest.mark.parametrize("idle_before", [True, False])
def test_a_failed_removal_of_the_open_image_leaves_the_window_as_it_was(
    window, monkeypatch, idle_before
):
    ids = [r.id for r in window.session.images()]
    window.open_image(ids[1])
    doc = window.document
    doc.label_map.array[:7] = 2
    doc.generation += 1  # not saved yet: the removal saves it before it closes the image
    idle = window.loop.idle_timer
    if idle_before:
        idle.start(60_000)
    names = [r.name for r in window.session.images()]
    _ok(monkeypatch)
    boxes = _failing_removal(monkeypatch)
    window.image_list.remove_requested.emit([ids[1], ids[2]])
    assert [r.id for r in window.session.images()] == ids
    assert window.document is not None and window.document.image_id == ids[1], (
        "nothing was removed: the image open before must be open again"
    )
    assert np.unique(window.document.label_map.array[:7]).tolist() == [2], "its edit is kept"
    listed = [window.image_list.text(i) for i in range(window.image_list.count())]
    assert [text.split()[0] for text in listed] == names
    assert window.image_list.current_text() == listed[1]
    assert idle.isActive() is idle_before
    assert len(boxes) == 1 and "nothing was removed" in boxes[0]


def test_a_failed_removal_of_another_image_keeps_the_open_one(window, monkeypatch):
    ids = [r.id for r in window.session.images()]
    doc = window.document
    _ok(monkeypatch)
    boxes = _failing_removal(monkeypatch)
    window.image_list.remove_requested.emit([ids[2]])
    assert window.document is doc and window.image_list.count() == 3
    assert len(boxes) == 1 and "nothing was removed" in boxes[0]


#: Images of the project whose ranking is under way when images are removed.
RANKED_IMAGES = 40
#: One model call on a CPU, about (the tiny model's own call takes a few ms).
MODEL_CALL_S = 0.25


@pytest.fixture
def trained_dir(tmp_path):
    return ranked_project(tmp_path, RANKED_IMAGES)


def test_removing_images_while_the_model_ranks_waits_for_one_model_call_then_ranks_anew(
    qtbot, trained_dir, monkeypatch
):
    delay = slow_model_calls(monkeypatch, MODEL_CALL_S)
    waits = timed_proposal_waits(monkeypatch)
    w = window_ranking(qtbot, trained_dir)
    service = w.loop.service
    ids = [r.id for r in w.session.images()]
    opened = w.document.image_id
    _ok(monkeypatch)
    gone = [opened, ids[-1]]  # the open one, and one the ranking has not reached
    w.image_list.remove_requested.emit(gone)
    # About 35 model calls (9 s) were left to rank; the removal waits for one at most.
    assert len(waits) == 1 and waits[0] < 3, f"the removal waited {waits[0]:.1f} s"
    assert not set(gone) & {r.id for r in w.session.images()}
    now_open = w.document.image_id
    assert now_open not in gone
    delay[0] = 0.0
    qtbot.waitUntil(lambda: not service.ranking().busy, timeout=60_000)
    ranked = [r.id for r in w.session.images() if r.status != ImageStatus.DONE and r.id != now_open]
    ranking = service.ranking()
    assert ranking.scored == ranking.total == len(ranked), ranking
    assert service.suggest().complete
    qtbot.waitUntil(lambda: service.current_proposal is not None, timeout=10_000)
    assert w.image_list.count() == RANKED_IMAGES - 2
    w.close()


def test_an_image_whose_labels_left_are_not_saved_yet_is_not_removed(window, monkeypatch, qtbot):
    """A switch hands the labels left to the saver without waiting (ADR 0028): removing
    that image while their write fails would lose them."""
    ids = [r.id for r in window.session.images()]
    project = window.session.project
    doc = window.document
    doc.paint_stroke([(3, 3), (30, 3)], 2, 1)
    real = project.save_mask
    monkeypatch.setattr(
        project, "save_mask", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "disk full"))
    )
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, title, text: boxes.append(title))
    window.open_image(ids[1])
    qtbot.waitUntil(lambda: "Autosave failed" in boxes, timeout=5000)
    _ok(monkeypatch)
    window.image_list.remove_requested.emit([ids[0]])
    assert boxes[-1] == "Images not removed"
    assert [r.id for r in project.images()] == ids
    monkeypatch.setattr(project, "save_mask", real)
    window.image_list.remove_requested.emit([ids[0]])  # saved first, then kept and removed
    assert [r.id for r in project.images()] == ids[1:]
    kept = list((project.root / "removed").glob("*/masks/*.png"))
    assert len(kept) == 1


def _kept_round_running(window, monkeypatch, stops: bool) -> list[str]:
    """The window's service as while a round kept going runs (ADR 0033); the reasons it
    is asked to stop it for, and whether it does (``stops``)."""
    service = window.loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: True))
    monkeypatch.setattr(type(service), "keeping_on", property(lambda self: True))
    asked: list[str] = []
    monkeypatch.setattr(
        type(service), "stop_keeping_on", lambda self, why, timeout=10.0: asked.append(why) or stops
    )
    return asked


@pytest.mark.parametrize("stops", [True, False])
def test_a_round_kept_going_on_the_done_images_is_stopped_for_the_removal(
    window, monkeypatch, stops
):
    """A round the app runs while the user labels (ADR 0033) is nobody's request: the
    removal stops it instead of refusing; if it does not stop in time, it refuses."""
    asked = _kept_round_running(window, monkeypatch, stops)
    _ok(monkeypatch)
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    ids = [r.id for r in window.session.images()]
    window.image_list.remove_requested.emit(ids[:1])
    assert asked and asked[0] == "the images are being changed"
    if stops:
        assert boxes == [] and [r.id for r in window.session.images()] == ids[1:]
    else:
        assert "training round is running" in boxes[0]
        assert [r.id for r in window.session.images()] == ids


def test_a_kept_round_runs_on_while_the_removal_box_is_open_and_cancelled(window, monkeypatch):
    """Found by an audit: the kept round was stopped before the box, so cancelling the
    box stopped keeping on for nothing (and said "the images are being changed")."""
    asked = _kept_round_running(window, monkeypatch, stops=True)
    _ok(monkeypatch, ok=False)
    ids = [r.id for r in window.session.images()]
    window.image_list.remove_requested.emit(ids[:1])
    assert asked == [] and [r.id for r in window.session.images()] == ids


def test_no_removal_while_a_round_asked_for_is_about_to_start(window, monkeypatch):
    """The kept round ended (giving way to an image marked done) and its news, which
    starts the round asked for, is on its way: that round would start mid-removal."""
    service = window.loop.service
    monkeypatch.setattr(type(service), "training", property(lambda self: False))
    monkeypatch.setattr(type(service), "follow_up_queued", property(lambda self: True))
    _ok(monkeypatch)
    boxes = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: boxes.append(a[2]))
    ids = [r.id for r in window.session.images()]
    window.image_list.remove_requested.emit(ids[:1])
    assert boxes and "training round is running" in boxes[0]
    assert [r.id for r in window.session.images()] == ids
