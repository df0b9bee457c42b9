"""AnnotationSession and Autosaver with a real project folder and no event loop."""

import json
import os
import re
import shlex
import threading
import time
from pathlib import Path

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
    doc.paint_stroke([(3, 3), (40, 20)], 3, 1)
    doc.commit_stroke()
    expected = doc.label_map.copy_array()
    session.close()
    project.close()
    with Project.open(tmp_path / "proj") as reopened:
        rec = reopened.image(first.id)
        assert (reopened.load_mask(rec) == expected).all()
        again = AnnotationSession(reopened)
        assert again.last_image_id() == first.id
        assert (again.open_image(first.id).label_map.array == expected).all()
        again.close()


def test_switching_image_saves_and_a_stroke_in_progress_is_kept(project):
    session = AnnotationSession(project)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    doc.begin_stroke()
    doc.paint_stroke([(10, 10)], 4, 0)  # not committed yet
    session.open_image(b.id)  # handed to the saver, not waited for
    session.save(wait=True)
    assert project.load_mask(project.image(a.id))[10, 10] == 0
    session.close()


def test_listeners_get_the_changed_box_and_generation_tracks_saves(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    boxes, commits = [], []
    doc.add_repaint_listener(boxes.append)
    doc.add_commit_listener(lambda: commits.append(doc.generation))
    doc.paint_stroke([(10, 10)], 2, 1)  # outside a gesture: one step of its own
    assert boxes and boxes[-1].y0 <= 10 < boxes[-1].y1
    assert commits == [1]
    assert doc.needs_save
    assert session.save(wait=True)
    assert not doc.needs_save
    assert not session.save()  # nothing new to write
    doc.undo()
    assert doc.needs_save and len(boxes) == 2 and commits == [1, 2]
    session.close()


def test_mark_done_toggles_and_survives_a_later_autosave(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    doc.paint_stroke([(10, 10)], 2, 1)
    assert session.mark_done().status is ImageStatus.DONE
    doc.paint_stroke([(20, 10)], 2, 1)
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
    doc.set_windows([(0, 65535)])
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


# --- the one-call edit protocol (docs/adr/0008) -------------------------------------------


def _events(doc):
    boxes, commits = [], []
    doc.add_repaint_listener(boxes.append)
    doc.add_commit_listener(lambda: commits.append(1))
    return boxes, commits


def test_a_gesture_repaints_per_move_and_commits_once(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    boxes, commits = _events(doc)
    doc.begin_stroke()
    for x in range(5, 30, 5):
        doc.paint_stroke([(x, 10), (x + 5, 10)], 2, 1)
    assert len(boxes) == 5 and commits == [] and doc.generation == 0
    assert doc.commit_stroke()
    assert commits == [1] and doc.generation == 1 and doc.history.undo_count == 1
    assert (doc.label_map.array[10, 5:33] == 1).all()
    session.close()


def test_an_aborted_gesture_repaints_restores_and_commits_nothing(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    before = doc.label_map.copy_array()
    boxes, commits = _events(doc)
    doc.begin_stroke()
    doc.paint_stroke([(5, 5), (20, 20)], 3, 1)
    doc.abort_stroke()
    assert len(boxes) == 2 and boxes[1] == boxes[0]  # the restore repaints the same box
    assert commits == [] and not doc.needs_save and not doc.history.can_undo
    assert (doc.label_map.array == before).all()
    session.close()


def test_each_one_call_edit_is_one_undo_step_and_one_commit(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    _boxes, commits = _events(doc)
    lm = doc.label_map
    square = [(2, 2), (12, 2), (12, 12), (2, 12)]
    assert doc.polygon(square, 1) is not None
    assert doc.lasso([(20, 2), (30, 2), (30, 12)], 0) is not None
    assert doc.fill(40, 25, 0) is not None  # the unlabelled rest becomes class 0
    assert doc.assign(1, lm.array == 0) is not None
    assert doc.apply(lambda m: m.paint_stroke([(45, 30)], 1, lm.void)) is not None
    assert len(commits) == 5 and doc.history.undo_count == 5
    assert doc.fill(40, 25, 1) is None  # already that label: no step, no event
    assert doc.polygon(square[:2], 0) is None  # no area
    assert len(commits) == 5
    for _ in range(5):
        doc.undo()
    assert (lm.array == lm.unlabelled).all() and len(commits) == 10
    session.close()


def test_fill_with_a_tolerance_stops_at_image_edges(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    doc.image = np.zeros_like(doc.image)
    doc.image[:, 24:] = 200
    doc.fill(5, 5, 1, tolerance=10)
    assert (doc.label_map.array[:, :24] == 1).all()
    assert (doc.label_map.array[:, 24:] == doc.label_map.unlabelled).all()
    session.close()


def _proposal(shape, version, value=1):
    from annotator.core.proposal import Proposal

    mask = np.full(shape, value, np.uint8)
    return Proposal(None, mask, np.zeros(shape, np.float32), 0.5, version)


def test_accept_is_one_step_and_the_label_source_follows_the_history(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    _boxes, commits = _events(doc)
    doc.paint_stroke([(5, 5)], 2, 0)
    assert doc.label_source == "user"
    assert doc.accept(_proposal(doc.label_map.shape, 3))
    assert doc.label_source == "proposal:v3+user" and len(commits) == 2
    assert doc.label_map.array[5, 5] == 0  # the user's pixels stay
    assert (doc.label_map.array[20:, 20:] == 1).all()
    assert not doc.accept(_proposal(doc.label_map.shape, 4))  # nothing left unlabelled
    doc.paint_stroke([(30, 20)], 2, 0)
    assert doc.label_source == "proposal:v3+user"  # a later user edit keeps it
    doc.undo()
    doc.undo()
    assert doc.label_source == "user"  # the accept is undone: no longer a proposal
    assert (doc.label_map.array[20:, 20:] == doc.label_map.unlabelled).all()
    doc.redo()
    assert doc.label_source == "proposal:v3+user"
    session.save(wait=True)
    assert project.image(doc.image_id).label_source == "proposal:v3+user"
    doc.undo()
    session.save(wait=True)
    assert project.image(doc.image_id).label_source == "user"
    session.close()


def test_accept_for_one_class_commits_a_gesture_in_progress_first(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    _boxes, commits = _events(doc)
    doc.begin_stroke()
    doc.paint_stroke([(5, 5), (10, 5)], 2, 0)
    mask = np.zeros(doc.label_map.shape, np.uint8)
    mask[20:, :] = 1
    from annotator.core.proposal import Proposal

    proposal = Proposal(None, mask, np.zeros(mask.shape, np.float32), 0.1, 2)
    assert doc.accept(proposal, class_id=1)
    assert not doc.in_stroke and len(commits) == 2 and doc.history.undo_count == 2
    assert (doc.label_map.array[:20, 20:] == doc.label_map.unlabelled).all()
    assert (doc.label_map.array[20:, :] == 1).all()
    session.close()


def test_accept_only_over_a_class_replaces_that_class_and_keeps_every_other_label(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    lm = doc.label_map
    over = np.zeros(lm.shape, bool)
    over[:, :30] = True
    doc.assign(0, over)  # a first fill that took too much
    doc.paint_stroke([(40, 5)], 2, 2)
    before = lm.array.copy()
    proposal = _proposal(lm.shape, 6, value=1)
    assert doc.accept(proposal, only_over=0)
    assert (lm.array[:, :30] == 1).all()  # every pixel labelled 0 took the proposal
    assert (lm.array[:, 30:] == before[:, 30:]).all()  # the stroke and the unlabelled stay
    assert doc.label_source == "proposal:v6+user" and doc.history.undo_count == 3
    assert not doc.accept(proposal, only_over=0)  # nothing labelled 0 is left
    doc.undo()
    assert (lm.array == before).all()
    assert doc.accept(proposal, class_id=1, only_over=lm.unlabelled)  # as a plain accept
    assert (lm.array[:, 30:][before[:, 30:] == lm.unlabelled] == 1).all()
    session.close()


def test_accept_of_a_proposal_of_another_size_is_refused(project):
    from annotator.services.document import EditError

    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    with pytest.raises(EditError, match="the proposal is"):
        doc.accept(_proposal((5, 5), 1))
    session.close()


def test_a_proposal_source_survives_when_the_history_forgets_the_accept(project):
    session = AnnotationSession(project, history_bytes=1)  # keeps the newest step only
    doc = session.open_image(eight(project)[0].id)
    assert doc.accept(_proposal(doc.label_map.shape, 5, value=0))
    doc.paint_stroke([(5, 5)], 2, 1)  # pushes the accept out of the history
    assert doc.history.undo_count == 1
    assert doc.label_source == "proposal:v5+user"
    doc.undo()
    assert doc.label_source == "proposal:v5+user"  # its pixels are still there
    session.close()


def test_save_during_a_gesture_saves_the_edits_before_it_not_the_gesture(project):
    session = AnnotationSession(project)
    doc = session.open_image(eight(project)[0].id)
    doc.paint_stroke([(5, 5)], 2, 1)
    doc.begin_stroke()
    doc.paint_stroke([(20, 20)], 2, 0)
    assert session.save(wait=True)  # the committed edits, not held up by the gesture
    saved = project.load_mask(project.image(doc.image_id))
    assert saved[5, 5] == 1 and saved[20, 20] == doc.label_map.unlabelled
    assert doc.label_map.array[20, 20] == 0  # (half a gesture never reaches the disk)
    doc.abort_stroke()
    assert not session.save(wait=True)  # the disk holds what the map holds
    doc.begin_stroke()
    doc.paint_stroke([(20, 20)], 2, 0)
    doc.commit_stroke()
    assert session.save(wait=True)
    assert project.load_mask(project.image(doc.image_id))[20, 20] == 0
    session.close()


# --- big pictures decoded on a worker thread (ADR 0016) -------------------------------------
class _Owner:
    """The owner's thread for a session: callbacks queue up until ``run`` is called."""

    def __init__(self):
        self.queued = []
        self.read = []
        self.failed = []

    def dispatch(self, fn):
        self.queued.append(fn)

    def on_read(self, image_id, pixels):
        self.read.append((image_id, pixels, threading.current_thread()))

    def on_error(self, image_id, exc):
        self.failed.append((image_id, str(exc)))

    def run(self, session):
        assert session._reader.wait_idle(10)
        queued, self.queued = self.queued, []
        for fn in queued:
            fn()


def test_read_soon_decodes_on_a_worker_and_leaves_the_open_image_alone(project):
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    a, b, c = eight(project)
    doc = session.open_image(a.id)
    session.read_soon(b.id, owner.on_read, owner.on_error)
    assert session.reading == b.id
    assert session.document is doc  # still open, still editable
    doc.assign(1)
    assert session.neighbour(1) == c.id  # Next pressed again goes on from the image coming
    owner.run(session)
    [(image_id, pixels, thread)] = owner.read
    assert image_id == b.id and thread is threading.current_thread()
    assert session.reading is None
    opened = session.open_image(b.id, pixels)
    np.testing.assert_array_equal(opened.image, project.load_image(b))
    session.save(wait=True)  # (the switch handed a's labels to the saver)
    assert (project.load_mask(a) == 1).all()  # the edit made meanwhile was saved
    session.close()


def test_only_the_newest_read_is_heard(project):
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    a, b, c = eight(project)
    session.open_image(a.id)
    session.read_soon(b.id, owner.on_read, owner.on_error)
    session.read_soon(c.id, owner.on_read, owner.on_error)
    owner.run(session)
    assert [r[0] for r in owner.read] == [c.id]
    # an open, or closing the document, drops a read still on its way
    session.read_soon(b.id, owner.on_read, owner.on_error)
    session.open_image(a.id)
    session.read_soon(c.id, owner.on_read, owner.on_error)
    session.close_document()
    owner.run(session)
    assert [r[0] for r in owner.read] == [c.id] and owner.failed == []
    session.close()


def test_a_read_that_fails_is_told_and_the_open_image_stays(project):
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    project.image_path(b).unlink()
    session.read_soon(b.id, owner.on_read, owner.on_error)
    owner.run(session)
    [(image_id, message)] = owner.failed
    assert image_id == b.id and "im1.png" in message and "Traceback" not in message
    assert session.document is doc and session.reading is None
    session.close()


def test_closing_does_not_wait_for_a_decode(project, monkeypatch):
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    a, b = eight(project)[:2]
    session.open_image(a.id)
    started, release = threading.Event(), threading.Event()
    real = project.load_image

    def slow(record):
        started.set()
        release.wait(10)
        return real(record)

    monkeypatch.setattr(project, "load_image", slow)
    session.read_soon(b.id, owner.on_read, owner.on_error)
    assert started.wait(5)
    t = time.perf_counter()
    session.close()
    assert time.perf_counter() - t < 2
    release.set()
    assert session._reader.wait_idle(10)
    for fn in owner.queued:
        fn()
    assert owner.read == [] and owner.failed == []  # ended unheard


def _opened(tmp_path, name, array):
    import tifffile

    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    tifffile.imwrite(tmp_path / name, array)
    project = Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"]))
    project.add_images([tmp_path / name])
    session = AnnotationSession(project)
    return session, session.open_image(project.images()[0].id)


def test_an_image_of_five_channels_shows_its_first_three(tmp_path):
    """It was handed to the canvas as (H, W, 5) and drawn as interleaved garbage."""
    image = np.zeros((20, 30, 5), np.uint8)
    image[:, :15, 0] = 255
    image[..., 1], image[..., 2], image[..., 3:] = 100, 50, 7
    session, doc = _opened(tmp_path, "c5.tif", image)
    shown = doc.display_image()
    assert shown.shape == (20, 30, 3)
    assert np.array_equal(shown, image[..., :3])
    session.close()
    session.project.close()


def test_an_image_of_two_channels_shows_them_in_magenta_and_green(tmp_path):
    """Two channels (DAPI + GFP) were read as grey + alpha and the second never shown."""
    import tifffile

    image = np.zeros((2, 20, 30), np.uint8)
    image[0, :, :15], image[1, 5:15, :] = 255, 100
    tifffile.imwrite(tmp_path / "c2.tif", image, imagej=True, metadata={"axes": "CYX"})
    project = Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"]))
    project.add_images([tmp_path / "c2.tif"])
    session = AnnotationSession(project)
    shown = session.open_image(project.images()[0].id).display_image()
    assert shown.shape == (20, 30, 3)
    assert np.array_equal(shown[..., 0], image[0]) and np.array_equal(shown[..., 1], image[1])
    assert np.array_equal(shown[..., 2], image[0])  # magenta: the first in red and blue
    session.close()
    project.close()


def test_a_float_image_with_nan_pixels_is_shown_not_black(tmp_path):
    """One NaN made the automatic window (nan, nan) and the whole picture black."""
    image = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (16, 1))
    image[3, 5] = np.nan
    image[4, 6] = np.inf
    session, doc = _opened(tmp_path, "f.tif", image)
    ((low, high),) = doc.auto_windows
    assert np.isfinite(low) and np.isfinite(high) and high > low
    shown = doc.display_image()
    assert shown.min() == 0 and shown.max() == 255 and len(np.unique(shown)) > 50
    assert shown[3, 5] == 0  # no value: black
    assert doc.value_range == (0.0, 1.0)
    session.close()
    session.project.close()


def test_a_project_folder_moved_while_open_is_written_no_more(project, tmp_path):
    """The autosave recreated the folders at the old path (a ghost project) while the
    database went on in the moved file: the newest labels ended up in neither place."""
    from annotator.core.errors import ProjectError

    session = AnnotationSession(project, rescue_dir=tmp_path / "rescued")
    rec = project.images()[0]
    doc = session.open_image(rec.id)
    doc.paint_stroke([(2, 2), (10, 2)], 2, 1)
    session.save(wait=True)
    old = project.root
    moved = old.parent / "moved"
    old.rename(moved)
    doc.paint_stroke([(2, 8), (10, 8)], 2, 1)
    with pytest.raises(ProjectError, match="is gone or was moved"):
        project.save_mask(rec.id, doc.label_map.copy_array())
    painted = doc.label_map.copy_array()
    other, third = project.images()[1].id, project.images()[2].id
    # Going on hands the labels to the saver without waiting; its write fails, and the
    # saver keeps them: the image cannot be opened again from the older mask on disk.
    session.open_image(other)
    session._saver.flush()
    with pytest.raises(ProjectError, match="could not be saved"):
        session.open_image(rec.id)
    # A save known to fail: going on waits again, and the unsaved image stays open.
    doc = session.document
    doc.paint_stroke([(2, 2), (10, 2)], 2, 1)
    with pytest.raises(ProjectError, match="could not be saved.*stays open"):
        session.open_image(third)
    assert session.document is doc
    note = session.close()  # quitting: both written elsewhere, and said where
    assert not old.exists()  # no ghost folder at the old path
    rescued = sorted((tmp_path / "rescued").rglob("*.png"))
    assert len(rescued) == 2 and str(rescued[0].parent) in note
    names = {project.image(other).name: doc.label_map.array, rec.name: painted}
    assert {r.stem for r in rescued} == set(names)  # named after its image: an import finds it
    assert "could not be saved in the project (" in note and "stays open" not in note
    for r in rescued:
        assert np.array_equal(cv2.imread(str(r), cv2.IMREAD_UNCHANGED), names[r.stem])


def rescue_and_import(project, tmp_path, record, paint):
    """Labels a session cannot save (the project folder was moved away) are rescued when it
    closes; the import command the note prints, naming the folder where the project is
    now, is run, and the folder put back. Returns the labels as painted and the note."""
    from annotator.cli import main

    session = AnnotationSession(project, rescue_dir=tmp_path / "rescued")
    doc = session.open_image(record.id)
    paint(doc)
    painted = doc.label_map.copy_array()
    root = project.root
    root.rename(root.parent / "moved")
    note = session.close()
    project.close()
    assert "File > Import labels… of that folder (Format: Masks) puts them back" in note
    command = re.search(r"`annotator (import .+ --format masks)`", note)
    assert command is not None, note
    words = shlex.split(command.group(1))
    assert words[1] == str(root.parent / "moved"), note  # where it is: it runs as it is
    assert main(words) == 0
    (root.parent / "moved").rename(root)
    return painted, note


@pytest.mark.parametrize("void", [False, True])
def test_rescued_labels_come_back_exactly_with_the_printed_command(project, tmp_path, void):
    """A two-class project whose open image held only class 0 and unlabelled pixels: the
    rescued mask (0 and 255) was read by the 0/255 binary rule, so every unpainted pixel
    became the second class and the image counted as fully labelled."""
    record = eight(project)[0]

    def paint(doc):
        doc.paint_stroke([(2, 2), (20, 2)], 2, 0)
        if void:
            doc.paint_stroke([(2, 20), (20, 20)], 2, project.schema.void)

    painted, _ = rescue_and_import(project, tmp_path, record, paint)
    assert (painted == project.schema.unlabelled).sum() > 1000
    with Project.open(project.root) as back:
        rec = back.image(record.id)
        assert np.array_equal(back.load_mask(rec), painted)  # unlabelled and void too
        assert rec.labelled_pixels == int((painted != back.schema.unlabelled).sum())
    (folder,) = (tmp_path / "rescued").iterdir()  # a masks dataset, as removed/ holds
    assert (folder / "class_names.txt").read_text() == "bg\ncell\n"
    meta = json.loads((folder / "dataset.json").read_text())
    assert (meta["void"], meta["unlabelled"]) == (254, 255)


@pytest.mark.parametrize(
    "files", [("scene1/0001.png", "scene2/0001.png"), ("x.png", "x.tif")], ids=["folders", "ext"]
)
def test_rescued_labels_go_back_on_their_own_image_among_namesakes(tmp_path, files):
    """Rescue files were named by stem (``0001.png``, ``x.png``), so the printed import
    refused them: the name matched several project images."""
    import tifffile

    pics = tmp_path / "pics"
    rng = np.random.default_rng(1)
    for name in files:
        (pics / name).parent.mkdir(parents=True, exist_ok=True)
        picture = rng.integers(0, 255, (24, 30), dtype=np.uint8)
        if name.endswith(".tif"):
            tifffile.imwrite(pics / name, picture)
        else:
            cv2.imwrite(str(pics / name), picture)
    project = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "a", "b"]))
    project.add_images([pics])
    assert sorted(r.name for r in project.images()) == sorted(files)
    first, second = (project.image(name) for name in files)
    project.save_mask(first.id, np.full((24, 30), 1, np.uint8))

    def paint(doc):
        doc.paint_stroke([(2, 2), (25, 2)], 2, 2)

    painted, note = rescue_and_import(project, tmp_path, second, paint)
    assert f"{Path(files[1]).name}.png" in note  # the whole name: x.tif.png
    with Project.open(project.root) as back:
        assert np.array_equal(back.load_mask(back.image(second.id)), painted)
        assert (back.load_mask(back.image(first.id)) == 1).all()  # the other one untouched


@pytest.mark.parametrize("status", [ImageStatus.IN_PROGRESS, ImageStatus.DONE])
def test_rescued_labels_come_back_with_the_status_their_image_had(project, tmp_path, status):
    """The printed import made the rescued image done, however far it was labelled."""
    record = eight(project)[0]
    start = np.full((record.height, record.width), project.schema.unlabelled, np.uint8)
    start[:4] = 1
    record = project.save_mask(record.id, start, status=status)
    assert record.status is status

    def paint(doc):
        doc.paint_stroke([(2, 10), (20, 10)], 2, 0)

    painted, _ = rescue_and_import(project, tmp_path, record, paint)
    with Project.open(project.root) as back:
        rec = back.image(record.id)
        assert rec.status is status
        assert np.array_equal(back.load_mask(rec), painted)


# --- going on without waiting for the write of the labels left -------------------------------
def _held_saves(project, monkeypatch):
    """Make the project's mask writes wait for the returned event (at most 10 s)."""
    release, started = threading.Event(), threading.Event()
    real = project.save_mask

    def held(image_id, mask, **kw):
        started.set()
        release.wait(10)
        return real(image_id, mask, **kw)

    monkeypatch.setattr(project, "save_mask", held)
    return release, started


def test_going_on_does_not_wait_for_the_labels_left_and_opening_them_again_does(
    project, monkeypatch
):
    """Switching from a big image waited for the PNG encode of its labels (0.6 s at
    8000 x 6000, 1.9 s at 100 MP) on the GUI thread."""
    session = AnnotationSession(project)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    doc.paint_stroke([(3, 3), (30, 3)], 2, 1)
    painted = doc.label_map.copy_array()
    release, started = _held_saves(project, monkeypatch)
    t = time.perf_counter()
    session.open_image(b.id)
    assert time.perf_counter() - t < 2  # (the write is held for 10 s)
    assert started.wait(5) and project.load_mask(project.image(a.id)) is None  # not yet
    threading.Timer(0.3, release.set).start()
    again = session.open_image(a.id)  # waits for the labels handed over, then reads them
    np.testing.assert_array_equal(again.label_map.array, painted)
    assert again.record.status is ImageStatus.IN_PROGRESS  # the record as that save left it
    session.close()


def test_labels_handed_over_are_written_before_the_session_closes(project, monkeypatch):
    session = AnnotationSession(project)
    a, b = eight(project)[:2]
    session.open_image(a.id).paint_stroke([(3, 3), (30, 3)], 2, 1)
    release, _started = _held_saves(project, monkeypatch)
    session.open_image(b.id)
    threading.Timer(0.3, release.set).start()
    assert session.close() is None
    assert (project.load_mask(project.image(a.id))[3, 3:31] == 1).all()


def test_a_failed_write_of_labels_left_is_told_kept_and_written_again(project, monkeypatch):
    from annotator.core.errors import ProjectError

    failures = []
    session = AnnotationSession(project, on_save_error=lambda i, e: failures.append(i))
    a, b, c = eight(project)
    doc = session.open_image(a.id)
    doc.paint_stroke([(3, 3), (30, 3)], 2, 1)
    painted = doc.label_map.copy_array()
    real = project.save_mask
    full = [True]

    def save_mask(image_id, mask, **kw):
        if full[0]:
            raise OSError(28, "No space left on device")
        return real(image_id, mask, **kw)

    monkeypatch.setattr(project, "save_mask", save_mask)
    session.open_image(b.id)
    session._saver.flush()
    assert failures == [a.id]  # said as any autosave failure is
    with pytest.raises(ProjectError, match="could not be saved.*No space left"):
        session.close_document()  # (an import or a class change would read the masks)
    with pytest.raises(ProjectError, match="could not be saved.*No space left.*free some space"):
        session.open_image(a.id)  # never from the older mask on disk
    assert session.document.image_id == b.id
    full[0] = False  # space again: the next save writes them
    session.save(wait=True)
    np.testing.assert_array_equal(project.load_mask(project.image(a.id)), painted)
    np.testing.assert_array_equal(session.open_image(a.id).label_map.array, painted)
    session.open_image(c.id)
    assert session.close() is None


def test_a_mask_read_with_the_picture_is_used_unless_written_since(project, monkeypatch):
    """ADR 0016: the mask of a big picture is read on the worker with its pixels; the
    switch reads it again only when a save of it was handed over since."""
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    doc.paint_stroke([(3, 3), (30, 3)], 2, 1)
    session.save(wait=True)
    session.open_image(b.id)
    reads = []
    real = project.load_mask
    monkeypatch.setattr(
        project, "load_mask", lambda r: reads.append(threading.current_thread()) or real(r)
    )
    session.read_soon(a.id, owner.on_read, owner.on_error)
    owner.run(session)
    [(_, pixels, _)] = owner.read
    opened = session.open_image(a.id, pixels)
    assert reads and threading.current_thread() not in reads  # read on the worker only
    assert (opened.label_map.array[3, 3:31] == 1).all()
    # The image open asked for again: its labels in memory are newer than the file.
    opened.paint_stroke([(3, 10), (30, 10)], 2, 1)
    session.read_soon(a.id, owner.on_read, owner.on_error)
    owner.run(session)
    reads.clear()
    again = session.open_image(a.id, owner.read[-1][1])
    assert threading.current_thread() in reads
    assert (again.label_map.array[10, 3:31] == 1).all()
    session.close()


def test_the_display_of_a_big_picture_is_made_with_its_read(project, monkeypatch):
    """The 16-bit to 8-bit display of an 8000 x 6000 picture took the switch 60-150 ms of
    the GUI thread; it is made on the worker with the pixels."""
    from annotator.core import contrast as contrast_module
    from annotator.storage.images import auto_window

    made = []
    real = contrast_module.windowed  # (the display's mapping, ``core.contrast``)
    monkeypatch.setattr(
        contrast_module,
        "windowed",
        lambda *a: made.append(threading.current_thread()) or real(*a),
    )
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch)
    deep = next(r for r in project.images() if r.bit_depth == 16)
    session.open_image(eight(project)[0].id)
    session.read_soon(deep.id, owner.on_read, owner.on_error)
    owner.run(session)
    opened = session.open_image(deep.id, owner.read[-1][1])
    shown = opened.display_image()
    assert made and threading.current_thread() not in made  # made on the worker only
    lo, hi = auto_window(opened.image)
    assert opened.auto_windows == ((lo, hi),)
    np.testing.assert_array_equal(shown, real(opened.image, lo, hi))
    opened.set_windows([(1000.0, 1100.0)])  # a window of the user's: made for it, here
    assert not np.array_equal(opened.display_image(), shown)
    assert threading.current_thread() in made
    session.close()


def _failing_saves(project, monkeypatch, times):
    """The next ``times`` mask writes of ``project`` raise ENOSPC."""
    real = project.save_mask
    left = [times]

    def save_mask(image_id, mask, **kw):
        if left[0] > 0:
            left[0] -= 1
            raise OSError(28, "No space left on device")
        return real(image_id, mask, **kw)

    monkeypatch.setattr(project, "save_mask", save_mask)


def test_back_to_an_image_whose_save_failed_once_keeps_its_accepted_proposal(project, monkeypatch):
    """The switch back waits for the retry of the labels left; the image opened with its
    record from before that write lost the accepted proposal's source (its undo history,
    which would carry it, was dropped by the failure), so the next stroke recorded
    'user' and deleted the accepted file training relies on (ADR 0013). The 'Autosave
    failed' news of that first try, landing after the retry wrote the labels, is not
    told either."""
    from annotator.core.proposal import Proposal

    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch, on_save_error=owner.on_error)
    a, b = eight(project)[:2]
    doc = session.open_image(a.id)
    shape = doc.label_map.shape
    assert doc.accept(Proposal(None, np.ones(shape, np.uint8), np.zeros(shape, np.float32), 0.5, 3))
    _failing_saves(project, monkeypatch, 1)
    session.open_image(b.id)  # A handed to the saver: its write fails
    session._saver.flush()
    again = session.open_image(a.id)  # waits: the retry writes A
    owner.run(session)  # the first try's failure lands now
    assert owner.failed == []  # written since: nothing to tell
    assert again.label_source.startswith("proposal:v3")
    again.paint_stroke([(2, 2)], 1, 0)
    session.save(wait=True)
    assert project.image(a.id).label_source.startswith("proposal:v3")
    assert project.accepted_path(a.id, 3).exists()
    session.close()


def test_a_save_failing_after_close_is_not_told(project, monkeypatch):
    """Close writes or rescues every label; a failure landing after it must not raise an
    'Autosave failed' box that contradicts the rescue."""
    owner = _Owner()
    session = AnnotationSession(project, dispatch=owner.dispatch, on_save_error=owner.on_error)
    a, b = eight(project)[:2]
    session.open_image(a.id).paint_stroke([(2, 2)], 1, 0)
    _failing_saves(project, monkeypatch, 1)
    session.open_image(b.id)
    session._saver.flush()
    session.close()  # retries A's labels: written
    owner.run(session)
    assert owner.failed == []


def test_a_write_failing_once_while_close_waits_is_tried_again(project, monkeypatch, tmp_path):
    """A switch hands the labels left to the saver; its write, under way when the
    session closes, fails once (a passing lock). Close tries it again, as it does a
    failure known before, instead of rescuing labels the project can take."""
    real, left = project.save_mask, [1]

    def once(image_id, mask, **kw):
        time.sleep(0.2)  # still under way when close starts waiting
        if left[0]:
            left[0] -= 1
            raise OSError(11, "database is locked")
        return real(image_id, mask, **kw)

    monkeypatch.setattr(project, "save_mask", once)
    session = AnnotationSession(project, rescue_dir=tmp_path / "rescue")
    a, b = eight(project)[:2]
    session.open_image(a.id).paint_stroke([(3, 3), (30, 3)], 1, 1)
    session.open_image(b.id)
    assert session.close() is None  # nothing rescued
    assert not (tmp_path / "rescue").exists()
    assert project.load_mask(project.image(a.id))[3, 10] == 1


def test_a_mask_rewritten_in_place_with_its_old_time_is_read_again(tmp_path):
    """The stamp that lets a background read's mask be used: another program rewriting
    the mask in place (same inode and size) and setting its modification time back must
    still change it (ADR 0024: the status change time moves)."""
    from annotator.services.session import _stamp

    mask = tmp_path / "1.png"
    mask.write_bytes(b"a" * 64)
    st = os.stat(mask)
    before = _stamp(mask)
    time.sleep(0.01)
    with open(mask, "r+b") as f:  # in place: the same inode
        f.write(b"b" * 64)
    os.utime(mask, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(mask).st_mtime_ns == st.st_mtime_ns and os.stat(mask).st_ino == st.st_ino
    assert _stamp(mask) != before
