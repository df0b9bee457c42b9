"""Closing a session whose labels cannot be saved when the rescue folder is on the same
full disk: with nobody to ask (SIGTERM, a logout) the next folders are tried (the home
folder, the temporary folder), and where the labels went, or that they are lost, is one
line on stderr. A caller that can ask gets the labels kept, and the images named."""

from __future__ import annotations

import errno
import logging
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.core.schema import LabelSchema
from annotator.services.autosave import Autosaver, SaveRequest
from annotator.services.session import AnnotationSession, LabelsAtRisk, rescue_candidates
from annotator.storage import kept_labels
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / "imgs" / name), np.full((16, 16), 40, np.uint8))
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    p.add_images([tmp_path / "imgs"])
    yield p
    p.close()


def _full(monkeypatch, *folders: Path) -> None:
    """Writing into ``folders`` (the rescue) fails with ENOSPC, as on a full disk."""
    real = kept_labels.write_synced

    def write_synced(path, data):
        if any(Path(path).is_relative_to(f) for f in folders):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(kept_labels, "write_synced", write_synced)


def _unsaveable(project, monkeypatch) -> None:
    def save_mask(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(project, "save_mask", save_mask)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The rescue folder, the home folder and the temporary folder, all under tmp_path."""
    home, temp = tmp_path / "home", tmp_path / "temp"
    home.mkdir()
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return tmp_path / "data" / "rescued", home, temp


def _painted_session(project, rescue_dir):
    session = AnnotationSession(project, rescue_dir=rescue_dir)
    doc = session.open_image(project.images()[0].id)
    doc.paint_stroke([(2, 2), (12, 2)], 1, 1)
    return session, doc.label_map.copy_array()


def _said(caplog):
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == "annotator.services.session"
    ]


def test_the_candidates_are_the_rescue_folder_then_home_then_temp(places):
    rescue, home, temp = places
    assert rescue_candidates(rescue) == [
        rescue,
        home / "annotator-rescued",
        temp / "annotator-rescued",
    ]


def test_a_rescue_folder_on_the_full_disk_falls_back_to_home(project, places, monkeypatch, caplog):
    """Before, the rescue's failure was the end: the labels were lost."""
    rescue, home, _temp = places
    session, painted = _painted_session(project, rescue)
    _unsaveable(project, monkeypatch)
    _full(monkeypatch, rescue)
    with caplog.at_level(logging.INFO, logger="annotator.services.session"):
        said = session.close()
    assert said is not None and str(home / "annotator-rescued") in said
    (written,) = (home / "annotator-rescued").glob("*/masks/a.png.png")
    assert np.array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), painted)
    (line,) = _said(caplog)  # one line says where they went
    assert "rescued to" in line.getMessage() and str(home) in line.getMessage()
    # what failed first, then where they went (it read like the rescue had failed)
    assert line.getMessage().startswith("labels of a.png could not be saved in the project (")
    assert "); rescued to " in line.getMessage()


def test_labels_no_folder_takes_are_said_lost_in_one_line(project, places, monkeypatch, caplog):
    rescue, home, temp = places
    session, _ = _painted_session(project, rescue)
    _unsaveable(project, monkeypatch)
    _full(monkeypatch, rescue, home, temp)
    with caplog.at_level(logging.INFO, logger="annotator.services.session"):
        said = session.close()
    assert said is not None and "nor rescued elsewhere: " in said and "a.png" in said
    assert said.count("(") == said.count(")") <= 1, said  # (no brackets in brackets)
    (line,) = _said(caplog)
    assert line.levelno == logging.ERROR and "they are lost" in line.getMessage()
    assert "a.png" in line.getMessage() and "\n" not in line.getMessage()
    assert f"{home / 'annotator-rescued'}: No space left on device" in line.getMessage()


def test_a_caller_that_can_ask_keeps_the_session_and_the_labels(project, places, monkeypatch):
    """``keep_if_lost``: the session stays open with the labels, so that a window can
    offer Retry and another folder, then close with them saved or rescued there."""
    rescue, _home, _temp = places
    session, painted = _painted_session(project, rescue)
    _unsaveable(project, monkeypatch)
    _full(monkeypatch, rescue)
    with pytest.raises(LabelsAtRisk) as risk:
        session.close([rescue], keep_if_lost=True)
    assert risk.value.names == ("a.png",)
    assert session.document is not None  # still open, labels kept
    other = rescue.parent.parent / "usb"
    assert "usb" in session.close([other], keep_if_lost=True)  # another folder: rescued
    (written,) = other.glob("*/masks/a.png.png")
    assert np.array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), painted)


def test_a_full_disk_names_the_project_folder_and_the_space_left(project):
    """The autosave's failure said "No space left on device", naming no folder."""

    def save_mask(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    project.save_mask = save_mask
    errors: list[Exception] = []
    saver = Autosaver(project, on_error=lambda _r, e: errors.append(e))
    saver.submit(SaveRequest(project.images()[0].id, np.zeros((16, 16), np.uint8), 1))
    assert saver.flush(10)
    saver.close()
    (said,) = errors
    assert f"the project folder {project.root}" in str(said)
    assert " free on the disk" in str(said) and "free some space there" in str(said)


@pytest.mark.parametrize("length", [231, 240, 255])
def test_a_project_folder_of_a_long_name_still_has_its_labels_rescued(
    tmp_path, places, monkeypatch, length
):
    """The rescue folder was named after the whole project folder and the time: over
    NAME_MAX for a project name of 231 bytes and more, "File name too long" in every
    folder, and the labels were lost."""
    rescue, _home, _temp = places
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.full((16, 16), 40, np.uint8))
    name = "p" * length
    with Project.create(tmp_path / name, LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_images([tmp_path / "imgs"])
        session, painted = _painted_session(p, rescue)
        _unsaveable(p, monkeypatch)
        said = session.close([rescue])
    assert said is not None and str(rescue) in said and "nor rescued" not in said
    (written,) = rescue.glob("*/masks/a.png.png")
    folder = written.parent.parent.name
    assert folder.startswith("p" * 100) and len(folder.encode()) <= 255 - len("..partial")
    assert np.array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), painted)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux's /proc/self/fd")
def test_the_import_said_names_the_project_where_it_was_moved(project, places, monkeypatch):
    """Moved while open, the project's labels were rescued with a command naming the old
    folder, which no longer is a project."""
    rescue, _home, _temp = places
    session, _painted = _painted_session(project, rescue)
    moved = project.root.parent / "moved"
    project.root.rename(moved)
    _unsaveable(project, monkeypatch)
    said = session.close()
    assert said is not None and f"`annotator import {moved} " in said
    assert f"annotator import {project.root} " not in said
