"""A failed autosave (a full disk, a database locked by another program) is tried again
on a timer, not only with the next edit: a user who frees space and paints nothing more
must find the labels on disk a retry interval later (audit: 15 s of work lost to a kill
9 s after saving had become possible again)."""

from __future__ import annotations

import time

from guihelpers import drag

from annotator.core.status import ImageStatus
from annotator.storage.project import Project


def _disk_full(monkeypatch, project, fails: list[int]):
    """``project.save_mask`` fails with ENOSPC while ``fails[0]`` > 0 (counting down)."""
    real = project.save_mask

    def save_mask(*a, **k):  # type: ignore[no-untyped-def]
        if fails[0] > 0:
            fails[0] -= 1
            raise OSError(28, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(project, "save_mask", save_mask)


def _stored(project_dir, image_id):
    with Project.open(project_dir) as p:
        record = p.image(image_id)
        return record.status, p.load_mask(record)


def test_a_failed_autosave_is_retried_without_another_edit(
    window, project_dir, boxes, monkeypatch, qtbot
):
    window.save_retry_ms = 300
    doc, value = window.document, window.canvas.current_value
    fails = [3]  # the save and two retries fail, then the disk has room again
    _disk_full(monkeypatch, window.session.project, fails)
    drag(window.canvas, [(10, 10), (30, 10)])
    window.save_now()
    qtbot.waitUntil(lambda: fails[0] == 0, timeout=5000)  # retried while failing
    freed = time.monotonic()
    qtbot.waitUntil(lambda: window.session.unsaved_ids() == [] and not doc.needs_save, timeout=3000)
    qtbot.wait(100)  # (the record lands through the dispatcher)
    status, mask = _stored(project_dir, doc.image_id)
    assert time.monotonic() - freed < 2.0
    assert mask is not None and mask[10, 20] == value
    assert status is ImageStatus.IN_PROGRESS
    # said once in a box (not per retry), and that it is tried again
    assert len(boxes) == 1 and "tried again every" in boxes[0][1], boxes
    assert window.statusBar().currentMessage().startswith("Saving works again")
    # saved: the retries stop
    assert not window.autosave_timer.isActive()


def test_a_failed_save_of_an_image_left_is_retried_without_another_edit(
    window, project_dir, boxes, monkeypatch, qtbot
):
    window.save_retry_ms = 300
    first, value = window.document.image_id, window.canvas.current_value
    others = [r.id for r in window.session.images() if r.id != first]
    fails = [2]
    _disk_full(monkeypatch, window.session.project, fails)
    drag(window.canvas, [(10, 12), (30, 12)])
    window.open_image(others[0])  # the labels left go to the writer, which fails
    qtbot.waitUntil(lambda: fails[0] == 0, timeout=5000)
    qtbot.waitUntil(lambda: window.session.unsaved_ids() == [], timeout=3000)
    qtbot.wait(100)
    _status, mask = _stored(project_dir, first)
    assert mask is not None and mask[12, 20] == value
    assert len(boxes) == 1, boxes


def test_moving_on_with_the_disk_full_is_titled_labels_not_saved(
    window, project_dir, monkeypatch, qtbot
):
    """The box was titled "Cannot open image" while it spoke of the open image's labels."""
    from PySide6.QtWidgets import QMessageBox

    titled: list[tuple[str, str]] = []

    def warning(_parent, title, text, *a, **k):  # type: ignore[no-untyped-def]
        titled.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warning)
    window.save_retry_ms = 60_000
    first = window.document.image_id
    _disk_full(monkeypatch, window.session.project, [1000])
    drag(window.canvas, [(10, 10), (30, 10)])
    window.save_now()
    qtbot.waitUntil(lambda: bool(titled), timeout=5000)  # the autosave's failure
    titled.clear()
    window.go(1)
    assert window.document.image_id == first  # kept open, edits and all
    assert len(titled) == 1, titled
    title, text = titled[0]
    assert title == "Labels not saved" and "could not be saved" in text
    assert "free some space" in text
