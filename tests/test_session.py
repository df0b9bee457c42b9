"""AnnotationSession and Autosaver with a real project folder and no event loop."""

import threading

import cv2
import numpy as np
import pytest

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.autosave import Autosaver, SaveRequest
from annotator.services.session import AnnotationSession
from annotator.storage.project import Project


def eight(project):
    return [r for r in project.images() if r.bit_depth == 8]


@pytest.fixture
def project(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(images / f"im{i}.png"), rng.integers(0, 255, (32, 48), dtype=np.uint8))
    cv2.imwrite(str(images / "deep.png"), (rng.integers(1000, 1200, (20, 20))).astype(np.uint16))
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    p.add_images([images])
    yield p
    p.close()


def test_edit_save_close_reopen_gives_the_same_pixels(project, tmp_path):
    session = AnnotationSession(project)
    first = eight(project)[0]
    doc = session.open_image(first.id)
    doc.begin_stroke()
    doc.record_patch(doc.label_map.paint_stroke([(3, 3), (40, 20)], 3, 1))
    doc.commit_stroke()
    expected = doc.label_map.copy_array()
    session.close()
    project.close()
    with Project.open(tmp_path / "proj") as reopened:
        rec = reopened.image(first.id)
        assert (reopened.load_mask(rec) == expected).all()
        assert rec.status is ImageStatus.IN_PROGRESS
        again = AnnotationSession(reopened)
        assert again.last_image_id() == first.id
        assert (again.open_image(first.id).label_map.array == expected).all()
        again.close()


def test_switching_image_saves_and_a_stroke_in_progress_is_kept(project):
    session = AnnotationSession(project)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    doc.begin_stroke()
    doc.record_patch(doc.label_map.paint_disk(10, 10, 4, 0))  # not committed yet
    session.open_image(b.id)
    assert project.load_mask(project.image(a.id))[10, 10] == 0
    session.close()


def test_listeners_get_the_changed_box_and_generation_tracks_saves(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    boxes = []
    doc.add_listener(boxes.append)
    doc.record_patch(doc.label_map.paint_disk(10, 10, 2, 1))
    assert boxes and boxes[-1].y0 <= 10 < boxes[-1].y1
    assert doc.needs_save
    assert session.save(wait=True)
    assert not doc.needs_save
    assert not session.save()  # nothing new to write
    doc.undo()
    assert doc.needs_save and len(boxes) == 2
    session.close()


def test_mark_done_toggles_and_survives_a_later_autosave(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    doc.record_patch(doc.label_map.paint_disk(10, 10, 2, 1))
    assert session.mark_done().status is ImageStatus.DONE
    doc.record_patch(doc.label_map.paint_disk(20, 10, 2, 1))
    session.save(wait=True)
    assert project.image(doc.image_id).status is ImageStatus.DONE
    assert session.mark_done().status is ImageStatus.IN_PROGRESS
    session.close()


def test_neighbour_follows_the_given_order(project):
    session = AnnotationSession(project)
    ids = [r.id for r in project.images()]
    assert session.neighbour(1) == ids[0]
    session.open_image(ids[0])
    assert session.neighbour(1) == ids[1]
    assert session.neighbour(-1) is None
    assert session.neighbour(1, among=[ids[2], ids[0]]) is None
    assert session.neighbour(-1, among=[ids[2], ids[0]]) == ids[2]
    session.close()


def test_sixteen_bit_image_is_displayed_with_an_automatic_window(project):
    session = AnnotationSession(project)
    deep = next(r for r in project.images() if r.bit_depth == 16)
    doc = session.open_image(deep.id)
    shown = doc.display_image()
    assert shown.dtype == np.uint8
    assert shown.max() > 200 and shown.min() < 50  # stretched to the full range
    doc.set_window((0, 65535))
    assert doc.display_image().max() < 10
    session.close()


def test_class_edits_are_stored_in_the_project(project):
    session = AnnotationSession(project)
    session.add_class("nucleus", "#123456")
    session.rename_class(0, "background")
    session.recolour_class(1, "#abcdef")
    assert project.schema.names == ["background", "cell", "nucleus"]
    assert project.schema.classes[1].color == "#abcdef"
    session.close()


def test_autosaver_writes_only_the_newest_snapshot_and_reports_errors(project):
    errors = []
    gate = threading.Event()
    written = []
    real_save = project.save_mask

    def slow_save(image_id, mask, **kw):
        gate.wait(5)
        written.append(int(mask[0, 0]))
        return real_save(image_id, mask, **kw)

    project.save_mask = slow_save
    saver = Autosaver(project, on_error=lambda r, e: errors.append(e))
    rec = eight(project)[0]
    blocker = eight(project)[1]
    saver.submit(SaveRequest(blocker.id, np.full((32, 48), 255, np.uint8), 1))
    for v in (0, 1, 0, 1):  # queued while the worker is busy: only the last survives
        saver.submit(SaveRequest(rec.id, np.full((32, 48), v, np.uint8), v))
    gate.set()
    assert saver.flush(10)
    assert written == [255, 1]
    saver.submit(SaveRequest(rec.id, np.zeros((5, 5), np.uint8), 9))  # wrong shape
    saver.close()
    assert len(errors) == 1
