"""Ctrl+D, and closing the image before a class change or an import, wait for the
labels to be written off the GUI thread: the window froze for the whole PNG encode of a
big label map (1.3 s at 4096 x 4096, 5.5 s at 8192 x 8192 on a busy laptop)."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QTimer

from annotator.core.status import ImageStatus
from annotator.storage.project import Project


def _slow_saves(window, monkeypatch, seconds: float) -> None:
    project = window.session.project
    real = Project.save_mask

    def slow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self is project:
            time.sleep(seconds)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "save_mask", slow)


def _ticks_during(window, action) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    """The times a 50 ms timer of the GUI thread fired while ``action`` ran."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    start = time.monotonic()
    action()
    took = time.monotonic() - start
    timer.stop()
    return ticks, took


def test_mark_done_waits_for_the_save_without_freezing_the_window(window, monkeypatch):
    doc = window.document
    doc.paint_stroke([(5.0, 5.0), (30.0, 5.0)], 2.0, 1)
    _slow_saves(window, monkeypatch, 1.5)
    ticks, took = _ticks_during(window, window.mark_done)
    assert took >= 1.4  # it did wait for the save
    assert len(ticks) >= 10, ticks  # and the window went on meanwhile
    record = window.session.project.image(doc.image_id)
    assert record.status is ImageStatus.DONE and record.labelled_pixels > 0
    labels = window.session.project.load_mask(record)
    assert np.array_equal(labels, doc.label_map.array)


def test_closing_the_image_waits_for_the_save_without_freezing_the_window(window, monkeypatch):
    doc = window.document
    doc.paint_stroke([(5.0, 9.0), (30.0, 9.0)], 2.0, 2)
    painted = doc.label_map.array.copy()
    _slow_saves(window, monkeypatch, 1.5)
    ticks, took = _ticks_during(window, window.close_image)
    assert took >= 1.4 and len(ticks) >= 10, ticks
    project = window.session.project
    assert np.array_equal(project.load_mask(project.image(doc.image_id)), painted)


def test_keys_pressed_while_mark_done_waits_do_not_reach_the_window(window, monkeypatch):
    """A PgDown 150 ms after Ctrl+D (before a progress dialog showed) opened the next
    image inside the wait, and that image, with nothing labelled, was marked done."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    doc = window.document
    doc.paint_stroke([(5.0, 5.0), (30.0, 5.0)], 2.0, 1)
    _slow_saves(window, monkeypatch, 1.5)
    handle = window.windowHandle()
    pressed: list[bool] = []

    def page_down() -> None:
        QTest.keyClick(handle, Qt.Key.Key_PageDown)
        QTest.keyClick(handle, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        pressed.append(True)

    QTimer.singleShot(150, page_down)
    window.mark_done()
    assert pressed  # (the keys came while it waited)
    assert window.document is doc  # PgDown did not open another image
    project = window.session.project
    record = project.image(doc.image_id)
    assert record.status is ImageStatus.DONE and record.labelled_pixels > 0
    assert doc.label_map.has_labels()  # nor did Ctrl+Z undo the stroke
    others = [r for r in project.images() if r.id != doc.image_id]
    assert all(r.status is not ImageStatus.DONE for r in others)


def test_train_now_waits_for_the_save_without_freezing_the_window(window, monkeypatch):
    """The round saves the labels and waits on the GUI thread before it reads them: 2.1 s
    frozen on an 8192 x 8192 image."""
    doc = window.document
    doc.paint_stroke([(5.0, 5.0), (30.0, 5.0)], 2.0, 1)
    doc.paint_stroke([(5.0, 20.0), (30.0, 20.0)], 2.0, 2)
    _slow_saves(window, monkeypatch, 1.5)
    started: list[bool] = []
    window.loop.round_started.connect(lambda: started.append(True))
    ticks, took = _ticks_during(window, window.actions_["train_now"].trigger)
    assert took >= 1.4 and len(ticks) >= 10, ticks
    assert started  # and the round began, on the labels written
    window.loop.service.cancel_training()


def test_an_image_whose_labels_could_not_be_saved_is_not_marked_done(window, monkeypatch):
    """It was marked done with its labels not on disk (a round and an export then read
    the older ones), after a second try of the save had frozen the window as long."""
    import errno

    from PySide6.QtWidgets import QMessageBox

    boxes: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: boxes.append(a[1]))
    doc = window.document
    doc.paint_stroke([(5.0, 5.0), (30.0, 5.0)], 2.0, 1)

    def full(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.4)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Project, "save_mask", full)
    ticks, took = _ticks_during(window, window.mark_done)
    record = window.session.project.image(doc.image_id)
    assert record.status is not ImageStatus.DONE
    assert window.statusBar().currentMessage().endswith("not marked: its labels could not be saved")
    assert took < 1.2, took  # one try of the save, not two
