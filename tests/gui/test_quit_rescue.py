"""Quitting when the labels can be saved neither in the project nor in the rescue folder
(both on one full disk): the window asks (Retry, Choose another folder…, Discard) and
never closes having lost labels the user did not choose to discard. SIGTERM while a
box is open closes the box, saves or rescues, and ends. Reopening after a crash says
which labels were recovered."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from guihelpers import drag, shown_window
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from annotator.core.errors import WriteRefused
from annotator.gui import quit_signals
from annotator.gui.save_news import CHOOSE_BUTTON
from annotator.storage import kept_labels
from annotator.storage.db import Database
from annotator.storage.project import Project


def _disk_full(monkeypatch, project, full: list[bool]):
    """``project.save_mask`` fails with ENOSPC while ``full[0]``."""
    real = project.save_mask

    def save_mask(*a, **k):  # type: ignore[no-untyped-def]
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(project, "save_mask", save_mask)


def _rescue_disk_full(monkeypatch, folder: Path):
    """Writing under ``folder`` (the rescue folder, on the same full disk) fails."""
    real = kept_labels.write_synced

    def write_synced(path, data):  # type: ignore[no-untyped-def]
        if Path(path).is_relative_to(folder):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(kept_labels, "write_synced", write_synced)


@pytest.fixture
def answers(monkeypatch):
    """The asking box answered by button text, in turn; its texts are recorded."""
    given: list[str] = []
    asked: list[str] = []

    def exec_(box):  # type: ignore[no-untyped-def]
        asked.append(box.text())
        want = given.pop(0)
        (button,) = [b for b in box.buttons() if b.text() == want]
        button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return given, asked


@pytest.fixture
def full_everywhere(window, monkeypatch, tmp_path):
    """The project's disk is full, and the rescue folder is on it."""
    full = [True]
    _disk_full(monkeypatch, window.session.project, full)
    rescue = tmp_path / "full-disk" / "rescued"
    window.session.rescue_dir = rescue
    _rescue_disk_full(monkeypatch, rescue.parent)
    return full


def _paint(window):
    drag(window.canvas, [(10, 10), (30, 10)])
    return window.document.record.name, window.document.image_id, window.canvas.current_value


def test_quitting_asks_before_losing_labels_and_writes_them_where_chosen(
    window, full_everywhere, answers, boxes, monkeypatch, tmp_path
):
    """Before: one box said the labels were "nor rescued elsewhere", and the window
    closed with them lost."""
    given, asked = answers
    given += ["Retry", CHOOSE_BUTTON]
    usb = tmp_path / "usb"
    usb.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(usb))
    name, _image_id, value = _paint(window)
    window.close()
    assert len(asked) == 2  # asked again after Retry failed
    for text in asked:
        assert name in text and "will be lost" in text and "No space left" in text
        assert "Free some space and press Retry" in text
    assert window.session is None
    (rescued,) = usb.glob(f"*/masks/{name}.png")
    import cv2

    assert cv2.imread(str(rescued), cv2.IMREAD_UNCHANGED)[10, 20] == value
    assert len(boxes) == 1 and str(usb) in boxes[0][1], boxes  # then said where


def test_retry_after_freeing_space_saves_in_the_project(
    window, full_everywhere, answers, boxes, project_dir
):
    given, asked = answers
    given.append("Retry")
    _name, image_id, value = _paint(window)
    real_exec = QMessageBox.exec

    def freeing(box):  # type: ignore[no-untyped-def]
        full_everywhere[0] = False  # the user frees some space, then presses Retry
        return real_exec(box)

    QMessageBox.exec = freeing  # (undone by the answers fixture's monkeypatch)
    window.close()
    assert len(asked) == 1 and boxes == []
    with Project.open(project_dir) as p:
        assert p.load_mask(p.image(image_id))[10, 20] == value


def test_discard_loses_the_labels_only_when_chosen_in_a_box_naming_them(
    window, full_everywhere, answers, boxes, tmp_path
):
    given, asked = answers
    given.append("Discard")
    name, _image_id, _value = _paint(window)
    window.close()
    (text,) = asked
    assert f"the labels of {name} will be lost" in text
    assert window.session is None and boxes == []  # chosen: nothing more to say
    assert not list(tmp_path.rglob(f"masks/{name}.png"))


def test_a_rescue_refused_for_another_reason_than_space_is_not_said_a_full_disk(
    window, answers, boxes, monkeypatch, tmp_path
):
    """The box said "Free some space and press Retry" for any refusal: a name too long
    for the folder (a project folder of a long name), a read-only folder."""
    given, asked = answers
    given.append("Discard")

    def save_mask(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(window.session.project, "save_mask", save_mask)
    rescue = tmp_path / "rescued"
    window.session.rescue_dir = rescue
    real = kept_labels.write_synced

    def write_synced(path, data):  # type: ignore[no-untyped-def]
        if Path(path).is_relative_to(rescue):
            raise OSError(errno.ENAMETOOLONG, "File name too long", str(path))
        real(path, data)

    monkeypatch.setattr(kept_labels, "write_synced", write_synced)
    name, _image_id, _value = _paint(window)
    window.close()
    (text,) = asked
    assert "File name too long" in text and f"the labels of {name} will be lost" in text
    assert "space" not in text and "Press Retry once" in text


class _SigtermOnceABoxIsOpen:
    """Once a message box is open, note the titles of those open and send SIGTERM to this
    process; ``guard`` runs 10 s later (on the old code, to answer what nobody would),
    unless :meth:`stop` comes first (which also stops the watching)."""

    def __init__(self, app, shown: list[str], guard) -> None:  # type: ignore[no-untyped-def]
        self.app, self.shown, self.stopped = app, shown, False
        self.later = QTimer()
        self.later.setSingleShot(True)
        self.later.timeout.connect(guard)
        QTimer.singleShot(50, self.poll)

    def poll(self) -> None:
        if self.stopped:
            return
        open_ = [  # (modal: a non-modal "Model" box another test's window left is none)
            w.windowTitle()
            for w in self.app.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible() and w.isModal()
        ]
        if not open_:
            QTimer.singleShot(50, self.poll)
            return
        self.shown.extend(open_)
        signal.raise_signal(signal.SIGTERM)
        self.later.start(10_000)

    def start(self, ms: int) -> None:
        self.later.start(ms)

    def stop(self) -> None:
        self.stopped = True
        self.later.stop()


def test_sigterm_while_a_failure_box_is_open_closes_it_rescues_and_quits(
    window, monkeypatch, tmp_path, qtbot
):
    """The "Autosave failed" box's event loop kept the process alive: the close the
    signal started opened another box (where the labels went), which nobody answers."""
    app = QApplication.instance()
    ends = quit_signals.install(app, window)
    quits: list[bool] = []
    monkeypatch.setattr(ends, "quit", lambda: quits.append(True))
    left_open: list[str] = []

    def guard():  # (on the old code: answer the boxes nobody would, and say so)
        for w in app.topLevelWidgets():
            if isinstance(w, QDialog) and w.isVisible() and w.isModal():
                left_open.append(w.windowTitle())
                w.done(0)
        if window.session is not None:
            guarding.start(3000)

    try:
        _disk_full(monkeypatch, window.session.project, [True])
        window.session.rescue_dir = tmp_path / "rescued"
        window.save_retry_ms = 60_000
        name, _image_id, _value = _paint(window)
        shown: list[str] = []
        guarding = _SigtermOnceABoxIsOpen(app, shown, guard)
        window.save_now()
        qtbot.waitUntil(lambda: window.session is None, timeout=30_000)
    finally:
        guarding.stop()
        ends.uninstall()
    assert shown == ["Autosave failed"]  # the signal came while the box was open
    assert left_open == []  # no box was left for nobody to answer
    assert quits == [True] and ends.received == [signal.SIGTERM]
    assert len(list((tmp_path / "rescued").glob(f"*/masks/{name}.png"))) == 1


def test_reopening_after_a_crash_says_which_labels_were_recovered(qtbot, project_dir, monkeypatch):
    """Interrupted Saves (mask files written, records not) were counted again in
    silence."""
    with Project.open(project_dir) as p:
        records = p.images()[:2]
        with monkeypatch.context() as m:

            def refused(self, *a, **k):  # type: ignore[no-untyped-def]
                raise WriteRefused(self.path, "the project database is locked")

            m.setattr(Database, "transaction", refused)
            for record in records:
                with pytest.raises(Exception, match="written to its mask file"):
                    p.save_mask(record.id, np.zeros((record.height, record.width), np.uint8))
    w = shown_window(qtbot, project_dir)
    try:
        names = ", ".join(r.name for r in records)
        # Short in the status bar (a 700 px window cut the names off), all in its tooltip.
        assert w.statusBar().currentMessage() == "Counted the unrecorded saves of 2 images"
        assert w.statusBar().toolTip() == (
            f"Counted the labels of 2 images whose saves were not recorded last time ({names})"
        )
    finally:
        w.close()


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox
    sys.path.insert(0, {tests!r})
    from guihelpers import center, drag
    from annotator.cli import main

    app = QApplication(sys.argv[:1])

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    def watch():
        if any(isinstance(w, QMessageBox) and w.isVisible() for w in app.topLevelWidgets()):
            print("box", flush=True)  # the failure's box is open: the parent sends the signal
        else:
            QTimer.singleShot(50, watch)

    def paint():
        window = next(w for w in app.topLevelWidgets() if hasattr(w, "session") and w.session)
        window.session.rescue_dir = Path({rescue!r})
        window.session.project.save_mask = full
        center(window.canvas)
        drag(window.canvas, [(5, 5), (50, 5)])
        print(window.document.record.name, flush=True)
        window.save_now()
        watch()

    QTimer.singleShot(300, paint)
    print("exit", main(["gui", {project!r}]), flush=True)  # (its warnings go to stderr)
    """
)


def test_sigterm_ends_the_real_app_while_a_failure_box_is_open(project_dir, tmp_path):
    """The process stayed alive: the box's event loop, then the box the close opened."""
    rescue = tmp_path / "rescued"
    script = _CHILD.format(
        tests=os.path.dirname(__file__), project=str(project_dir), rescue=str(rescue)
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        name = child.stdout.readline().strip()
        assert name, child.stderr.read()
        assert child.stdout.readline().strip() == "box"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "exit 0", err
    assert len(list(rescue.glob(f"*/masks/{name}.png"))) == 1
    (said,) = [line for line in err.splitlines() if "rescued to" in line]  # one line
    assert str(rescue) in said


def test_sigterm_while_the_rescue_question_is_open_rescues_without_asking(
    window, full_everywhere, monkeypatch, tmp_path, qtbot
):
    """The user quits, the rescue fails, the question is open; then a logout comes:
    the question is closed, and the labels go to the next folder that takes them."""
    app = QApplication.instance()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    ends = quit_signals.install(app, window)
    quits: list[bool] = []
    monkeypatch.setattr(ends, "quit", lambda: quits.append(True))
    asked: list[str] = []

    def guard():  # (were the question left open: answer it, and say so)
        for w in app.topLevelWidgets():
            if isinstance(w, QMessageBox) and w.isVisible() and w.isModal():
                asked.append("left open")
                w.done(0)

    try:
        name, _image_id, _value = _paint(window)
        guarding = _SigtermOnceABoxIsOpen(app, asked, guard)
        window.close()
    finally:
        guarding.stop()
        ends.uninstall()
    assert asked == ["Labels not saved"]  # the question was open, and closed by the end
    assert window.session is None and quits == [True]
    assert len(list((home / "annotator-rescued").glob(f"*/masks/{name}.png"))) == 1


def test_reopening_after_an_import_was_killed_says_where_its_replaced_labels_are(
    qtbot, project_dir
):
    """The next writer keeps them (storage.kept_labels.finish_stopped) and said so only in
    the log: the window opened on a half-imported project in silence."""
    _import_killed_part_way(project_dir)
    w = shown_window(qtbot, project_dir)
    try:
        assert w.statusBar().currentMessage() == (
            "An import was stopped part way (its replaced labels are kept)"
        )
        tip = w.statusBar().toolTip()
        assert "run it again to finish it" in tip
        assert "kept in removed/20261202-000000-import (importing that folder" in tip
    finally:
        w.close()


def test_the_window_says_a_stopped_import_that_another_program_finished(qtbot, project_dir):
    """The note went to whichever process opened the project first: after a command
    (or a window killed while opening it), the window said nothing. Said once."""
    from annotator.services.projects import open_project

    _import_killed_part_way(project_dir)
    with open_project(project_dir):
        pass  # a command finished it (and said so on its terminal)
    w = shown_window(qtbot, project_dir)
    try:
        assert w.statusBar().currentMessage() == (
            "An import was stopped part way (its replaced labels are kept)"
        )
    finally:
        w.close()
    w = shown_window(qtbot, project_dir)
    try:
        assert "import was stopped" not in w.statusBar().currentMessage()
    finally:
        w.close()


def _import_killed_part_way(project_dir) -> None:  # type: ignore[no-untyped-def]
    """What an import killed after replacing one map leaves: its kept copy, journalled."""
    from annotator.storage.kept_labels import JOURNAL

    staging = project_dir / "removed" / ".20261202-000000-import.partial"
    (staging / "masks").mkdir(parents=True)
    for name in ("class_names.txt", "dataset.json"):
        (staging / name).write_text("x\n")
    (staging / "masks" / "im0.png.png").write_bytes(b"a")
    (staging / JOURNAL).write_text(
        '{"mask": "masks/im0.png.png", "image": "im0.png", "sha1": "1", "status": "done"}\n'
    )


def test_a_stopped_import_s_folder_removed_since_is_not_said(qtbot, project_dir):
    import shutil

    from annotator.services.projects import open_project

    _import_killed_part_way(project_dir)
    with open_project(project_dir):
        pass  # finished and named by a command
    for kept in (project_dir / "removed").iterdir():
        shutil.rmtree(kept)  # imported back, then removed by the user
    w = shown_window(qtbot, project_dir)
    try:
        assert "import was stopped" not in w.statusBar().currentMessage()
    finally:
        w.close()
