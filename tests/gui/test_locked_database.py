"""Another program (a database browser) holds the project database's write lock while
the window works: switching image, saving, marking done and quitting must keep every
stroke (on disk or rescued), say why in plain words, and not freeze the window for the
database's 30 s."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

import pytest
from guihelpers import drag
from PySide6.QtWidgets import QMessageBox

from annotator.services import autosave
from annotator.storage.project import Project


@pytest.fixture
def boxes(monkeypatch):
    seen: list[tuple[str, str]] = []

    def box(_parent, title, text, *a, **k):
        seen.append((title, text))
        return QMessageBox.StandardButton.Ok

    for kind in ("warning", "information", "critical", "question"):
        monkeypatch.setattr(QMessageBox, kind, box)
    return seen


@contextlib.contextmanager
def held(project_dir):
    """Another connection holding the write lock, as ``BEGIN IMMEDIATE`` in a browser."""
    other = sqlite3.connect(project_dir / "annotator.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _mask(project_dir, image_id):
    with Project.open(project_dir) as p:
        return p.load_mask(p.image(image_id))


def test_switching_image_while_the_database_is_locked_opens_it_without_freezing(
    window, project_dir, boxes
):
    """Remembering the open image, and the new stamp of a picture file that was touched,
    are the switch's only writes: the first waited 30 s, then failed the switch after the
    session had let the shown image go (the canvas kept it, its strokes saved nowhere);
    the second waited 30 s too."""
    first = window.document.image_id
    project = window.session.project
    for record in project.images():  # copied or touched: opening hashes, then records
        path = project.image_path(record)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 3600 * 10**9))
    with held(project_dir):
        began = time.monotonic()
        window.go(1)
        took = time.monotonic() - began
    assert took < 3, took
    assert boxes == []
    assert window.document is not None and window.document.image_id != first
    assert window.canvas.document is window.document  # what is shown is what is saved
    second = window.document.image_id
    drag(window.canvas, [(10, 10), (30, 10)])
    window.close()
    assert _mask(project_dir, second)[10, 20] == window.canvas.current_value


def test_a_switch_whose_save_meets_a_locked_database_keeps_the_labels_and_says_why(
    window, project_dir, boxes, monkeypatch, qtbot
):
    """The switch hands the labels left to the saver without waiting: their write fails
    later, is said, and they are kept (never replaced by the older mask on disk) until
    a save works again."""
    monkeypatch.setattr(autosave, "SAVE_BUSY_TIMEOUT_S", 0.3)
    first = window.document.image_id
    value = window.canvas.current_value
    drag(window.canvas, [(10, 10), (30, 10)])
    with held(project_dir):
        began = time.monotonic()
        window.go(1)
        took = time.monotonic() - began
        assert took < 3, took
        second = window.document.image_id
        assert second != first and window.canvas.document is window.document
        qtbot.waitUntil(lambda: bool(boxes), timeout=5000)  # the write's failure, said
        # the mask file is written, only its record is refused: said as it is
        assert boxes[0][0] == "Labels not counted yet", boxes
        assert "written to its mask file" in boxes[0][1] and "could not be saved" not in boxes[0][1]
        assert "locked by another program" in boxes[0][1]
        line = window.statusBar().currentMessage()
        assert "written to its mask file, not counted yet" in line and "failed" not in line
        window.go(-1)  # back: refused while its labels are not recorded
        assert boxes[-1][0] == "Labels not counted yet" and "not recorded yet" in boxes[-1][1]
        # what to do is what it met: no disk to free
        assert "close the program that holds the project and try again" in boxes[-1][1]
        assert "free some space" not in boxes[-1][1]
        assert window.document.image_id == second
        assert window.canvas.document is window.document
        drag(window.canvas, [(10, 40), (30, 40)])  # painted while still locked
        window.mark_done()  # refused in words, not an unexpected error
        assert boxes[-1][0] == "Status not changed" and "locked" in boxes[-1][1]
    window.go(-1)  # released: the labels kept are written, then the image opens
    assert window.document.image_id == first
    assert window.document.label_map.array[10, 20] == value
    assert _mask(project_dir, first)[10, 20] == value
    window.session.save(wait=True)
    assert _mask(project_dir, second)[40, 20] == value


def test_quitting_while_the_database_is_locked_says_the_labels_are_on_disk_and_counted_later(
    window, project_dir, boxes, monkeypatch, tmp_path
):
    """The mask file is written, only its record refused (an Interrupted Save the next
    opening counts): the box said the labels were "not saved" and rescued a copy."""
    monkeypatch.setattr(autosave, "SAVE_BUSY_TIMEOUT_S", 0.3)
    window.session.rescue_dir = tmp_path / "rescued"
    drag(window.canvas, [(10, 10), (30, 10)])
    name, image_id = window.document.record.name, window.document.image_id
    value = window.canvas.current_value
    with held(project_dir):
        window.close()
    assert len(boxes) == 1 and boxes[0][0] == "Labels not counted yet", boxes
    text = boxes[0][1]
    assert f"The labels of {name} are written to its mask file, but the project index" in text
    assert "locked by another program" in text and "counted when the project is next opened" in text
    assert "not saved" not in text
    assert not (tmp_path / "rescued").exists()  # on disk already: nothing to rescue
    with Project.open(project_dir) as p:  # the next opening counts them
        record = p.image(image_id)
        assert record.labelled_pixels > 0 and p.load_mask(record)[10, 20] == value
        assert p.recounted == [name]


def test_quitting_with_a_full_disk_still_says_could_not_be_saved_and_rescues(
    window, project_dir, boxes, monkeypatch, tmp_path
):
    """The wording follows what happened: no mask file written (a full disk) is "not
    saved in the project", and the labels are rescued."""

    def full(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(window.session.project, "save_mask", full)
    window.session.rescue_dir = tmp_path / "rescued"
    drag(window.canvas, [(10, 10), (30, 10)])
    name = window.document.record.name
    window.close()
    assert len(boxes) == 1 and boxes[0][0] == "Labels not saved in the project", boxes
    assert "could not be saved in the project" in boxes[0][1]
    assert len(list((tmp_path / "rescued").glob(f"*/masks/{name}.png"))) == 1


def test_an_autosave_meeting_a_locked_database_is_said_once_and_retried(
    window, project_dir, boxes, monkeypatch, qtbot
):
    monkeypatch.setattr(autosave, "SAVE_BUSY_TIMEOUT_S", 0.1)
    doc, value = window.document, window.canvas.current_value
    with held(project_dir):
        for y in (10, 20, 30):
            drag(window.canvas, [(10, y), (30, y)])
            window.save_now()
            window.session.save(wait=True)
            qtbot.wait(20)  # the failure's news, through the dispatcher
    assert [b[0] for b in boxes] == ["Labels not counted yet"], boxes  # (the file is written)
    assert "locked by another program" in boxes[0][1]
    drag(window.canvas, [(10, 40), (30, 40)])
    window.save_now()
    window.session.save(wait=True)
    qtbot.waitUntil(lambda: not doc.needs_save, timeout=3000)
    mask = _mask(project_dir, doc.image_id)
    assert all(mask[y, 20] == value for y in (10, 20, 30, 40))
