"""run_with_progress: whatever the work raises ends the task's event loop."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from annotator.gui.progress_task import error_text, run_with_progress


class Interrupted(KeyboardInterrupt):
    """A BaseException no ``except Exception`` catches (as a library may raise)."""


@pytest.mark.parametrize("raised", [Interrupted("stop"), SystemExit(3)])
def test_a_base_exception_of_the_work_is_its_outcome(qtbot, raised):
    def work(_progress):
        raise raised

    # Old code: the outcome never came and the loop waited for ever; this watchdog
    # ends every event loop after 10 s so the test fails instead of hanging.
    watchdog = QTimer()
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(QApplication.instance().exit)
    watchdog.start(10_000)
    try:
        outcome = run_with_progress(None, "Test", "Working…", work)
    finally:
        watchdog.stop()
    assert outcome.error is raised and not outcome.cancelled and not outcome.ok
    assert error_text(outcome.error) == f"{type(raised).__name__}: {raised}"
