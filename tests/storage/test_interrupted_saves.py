"""A save cut short between its mask file and its record: the program killed in between,
or the record refused (a database locked by another program) until the program quit.
The next writer to open the project records the labels as the file has them, decoding
only the masks of such saves."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from storehelpers import image_folder

from annotator.core.errors import ProjectError, RecordRefused, WriteRefused
from annotator.core.status import ImageStatus
from annotator.storage import atomic
from annotator.storage import project as project_module
from annotator.storage.db import Database
from annotator.storage.project import SAVING_SUFFIX, Project

SHAPE = (20, 30)


def _labels(rows: int, value: int = 1) -> np.ndarray:
    mask = np.full(SHAPE, 255, np.uint8)
    mask[:rows] = value
    return mask


@contextlib.contextmanager
def _records_refused(monkeypatch):
    """Every database write fails as for a database another program holds locked."""
    with monkeypatch.context() as m:

        @contextlib.contextmanager
        def refused(self, *a, **k):
            raise ProjectError("the project database is locked by another program")
            yield

        m.setattr(Database, "transaction", refused)
        yield


@pytest.fixture
def labelled(project):
    """The project with three images, the first labelled (2 rows, imported, done)."""
    image_folder(project.root / "imgs")
    project.add_images([project.root / "imgs"])
    first = project.images()[0]
    project.save_mask(first.id, _labels(2), source="import:masks", status=ImageStatus.DONE)
    return project, first.id


def test_a_save_whose_record_was_refused_is_recorded_at_the_next_opening(labelled, monkeypatch):
    project, image_id = labelled
    with _records_refused(monkeypatch), pytest.raises(ProjectError, match="locked"):
        project.save_mask(image_id, _labels(7), status=ImageStatus.IN_PROGRESS)
    stale = project.image(image_id)
    assert stale.labelled_pixels == 2 * SHAPE[1]  # the file has 7 rows, its record 2
    project.close()
    with Project.open(project.root) as again:
        record = again.image(image_id)
        assert record.labelled_pixels == 7 * SHAPE[1]
        assert record.status is ImageStatus.IN_PROGRESS  # as that save meant
        assert record.label_source == "user"
        assert record.updated_at > stale.updated_at
        assert not list((again.root / "masks").glob(f"*{SAVING_SUFFIX}"))


def test_a_status_set_after_the_refused_record_is_kept(labelled, monkeypatch):
    project, image_id = labelled
    with _records_refused(monkeypatch), pytest.raises(ProjectError):
        project.save_mask(image_id, _labels(4))  # keeps the status (done)
    project.set_status(image_id, ImageStatus.IN_PROGRESS)  # the database works again
    project.close()
    with Project.open(project.root) as again:
        record = again.image(image_id)
        assert (record.labelled_pixels, record.status) == (4 * SHAPE[1], ImageStatus.IN_PROGRESS)


@contextlib.contextmanager
def _mask_file_refused(monkeypatch, image_id):
    """While in it, writing image ``image_id``'s mask file meets a full disk."""
    real_write = atomic.atomic_write_bytes

    def no_mask(path, data):
        if str(path).endswith(f"{image_id}.png"):
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(project_module, "atomic_write_bytes", no_mask)
    try:
        yield
    finally:
        monkeypatch.setattr(project_module, "atomic_write_bytes", real_write)


def test_a_save_cut_short_before_its_file_keeps_the_record_of_the_file_there(labelled, monkeypatch):
    project, image_id = labelled
    with _mask_file_refused(monkeypatch, image_id), pytest.raises(OSError):
        project.save_mask(image_id, _labels(9), status=ImageStatus.IN_PROGRESS)
    before = project.image(image_id)
    project.close()
    with Project.open(project.root) as again:
        assert again.image(image_id) == before  # the file is the older save's: as recorded
        assert not list((again.root / "masks").glob(f"*{SAVING_SUFFIX}"))


def test_opening_decodes_no_mask_whose_save_finished(labelled, monkeypatch):
    project, image_id = labelled
    for record in project.images()[1:]:
        project.save_mask(record.id, _labels(3, 0))
    project.save_mask(image_id, _labels(0))  # erased: its record says no labelled pixel
    project.close()
    decoded = []
    real_load = Project.load_mask
    monkeypatch.setattr(
        Project, "load_mask", lambda self, r: decoded.append(r.id) or real_load(self, r)
    )
    with Project.open(project.root):
        pass
    # only the image whose labels were all erased (its record says none), as before
    assert decoded == [image_id]


def test_a_marker_of_an_image_removed_since_is_cleared(labelled):
    project, _ = labelled
    marker = project.root / "masks" / f"999{SAVING_SUFFIX}"
    marker.write_text('[1, "done", "user"]')
    project.close()
    with Project.open(project.root):
        assert not marker.exists()


@contextlib.contextmanager
def _locked(monkeypatch):
    """Every database write refused as SQLite's busy lock is (a database browser)."""
    with monkeypatch.context() as m:

        @contextlib.contextmanager
        def refused(self, *a, **k):
            raise WriteRefused(self.path, "the project database is locked by another program")
            yield

        m.setattr(Database, "transaction", refused)
        yield


def test_a_refused_record_says_the_labels_are_written_to_the_mask_file(labelled, monkeypatch):
    """The save said "this change was not saved" though the mask file was written."""
    project, image_id = labelled
    name = project.image(image_id).name
    with _locked(monkeypatch), pytest.raises(RecordRefused) as refused:
        project.save_mask(image_id, _labels(7))
    text = str(refused.value)
    assert text.startswith(f"the labels of {name} are written to its mask file, but the project")
    assert "locked by another program" in text and "counted when the project is next opened" in text
    assert "not saved" not in text
    assert (project.load_mask(project.image(image_id)) == _labels(7)).all()  # written indeed


def _empty_marker_over_a_newer_file(project, image_id, monkeypatch):
    """A mask file newer than its record whose marker is empty: the file and the rename
    made durable, the marker's content not (a power cut; the marker is not synced), or a
    process killed while writing the marker of a save whose file was written before."""
    with _locked(monkeypatch), pytest.raises(ProjectError):
        project.save_mask(image_id, _labels(7))
    marker = project.root / "masks" / f"{image_id}{SAVING_SUFFIX}"
    marker.write_bytes(b"")
    return marker


def test_an_empty_marker_counts_its_image_again_at_the_next_opening(labelled, monkeypatch):
    project, image_id = labelled
    name = project.image(image_id).name
    marker = _empty_marker_over_a_newer_file(project, image_id, monkeypatch)
    assert project.image(image_id).labelled_pixels == 2 * SHAPE[1]
    project.close()
    with Project.open(project.root) as again:  # no crash, not ignored: counted
        assert again.image(image_id).labelled_pixels == 7 * SHAPE[1]
        assert again.recounted == [name]  # said (the window's status bar shows it)
        assert not marker.exists()
    with Project.open(project.root) as third:  # once
        assert third.recounted == []


def test_an_empty_marker_survives_a_save_that_fails_before_its_file(labelled, monkeypatch):
    """A failed save put no marker back for an empty one it found: the newer file was
    then never counted (its record said some pixels, so the zero rule missed it)."""
    project, image_id = labelled
    marker = _empty_marker_over_a_newer_file(project, image_id, monkeypatch)
    with _mask_file_refused(monkeypatch, image_id), pytest.raises(OSError):
        project.save_mask(image_id, _labels(9))
    assert marker.exists()
    project.close()
    with Project.open(project.root) as again:
        assert again.image(image_id).labelled_pixels == 7 * SHAPE[1]
