"""Unexpected errors in the GUI: logged with their traceback, labels saved, one message,
the app carried on; and Help > About, which names the log file."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from annotator import __version__
from annotator.gui.about_dialog import AboutDialog, about_lines, about_text
from annotator.gui.error_report import install, log_path

pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def reported(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    saves = []
    hooks = (sys.excepthook, threading.excepthook)
    reporter = install(parent, lambda: saves.append(1) is None)
    yield reporter, saves
    if reporter.box is not None:
        reporter.box.close()
    reporter.uninstall()
    assert (sys.excepthook, threading.excepthook) == hooks


def _boom():
    raise ValueError("the brush fell over\nsecond line")


def test_an_error_in_a_slot_is_logged_saved_and_shown_once(qtbot, reported):
    reporter, saves = reported
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(lambda: reporter.box is not None)
    text = reporter.box.text()
    assert "ValueError: the brush fell over" in text and "second line" not in text
    assert str(log_path()) in text
    assert "Traceback" in reporter.box.detailedText()
    assert saves == [1]
    logged = log_path().read_text(encoding="utf-8")
    assert "the brush fell over" in logged and "in _boom" in logged

    # A second error while the box is open: logged and saved again, no second box.
    box = reporter.box
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(lambda: len(saves) == 2)
    assert reporter.box is box and reporter.count == 2
    assert log_path().read_text(encoding="utf-8").count("ValueError: the brush fell over") == 2
    box.close()
    qtbot.waitUntil(lambda: reporter.box is None)


def test_an_error_on_another_thread_reaches_the_gui_thread(qtbot, reported):
    reporter, saves = reported
    worker = threading.Thread(target=_boom)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: reporter.box is not None)
    assert "ValueError" in reporter.box.text() and saves == [1]
    assert "The open image's labels are being saved" in reporter.box.text()


def test_without_an_open_image_nothing_is_said_to_be_saved(qtbot, reported):
    reporter, _ = reported
    reporter._save = lambda: False
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(lambda: reporter.box is not None)
    assert "saved." not in reporter.box.text()


def test_a_failing_save_is_said_not_raised_again(qtbot, reported):
    reporter, _ = reported

    def broken_save():
        raise OSError("disk gone")

    reporter._save = broken_save
    QTimer.singleShot(0, _boom)
    qtbot.waitUntil(lambda: reporter.box is not None)
    assert "Saving the open image's labels failed too" in reporter.box.text()
    assert reporter.count == 1  # the save's own error did not come back as a new one


def test_uninstall_stops_writing_the_log(qtbot, reported):
    reporter, _ = reported
    reporter.uninstall()
    logging.getLogger("annotator.test").warning("after the app quit")
    assert "after the app quit" not in log_path().read_text(encoding="utf-8")


def test_about_names_the_version_the_libraries_and_the_log(qtbot, window):
    dialog = AboutDialog(window)
    qtbot.addWidget(dialog)
    rows = dict(about_lines())
    assert rows["Annotator"] == __version__
    assert rows["torch"] != "not installed" and rows["numpy"] != "not installed"
    assert rows["Log file"] == str(log_path())
    assert __version__ in dialog.details.text()
    dialog.copy()
    assert QGuiApplication.clipboard().text() == about_text()
    about = next(a for a in window.menuBar().actions() if a.text() == "&Help").menu().actions()
    assert "&About Annotator" in [a.text() for a in about]
