"""Notice the main window's first paint: save a screenshot, report the time, maybe quit.

Used by ``annotator gui --screenshot PATH --quit-after-paint`` so that scripts (the demo
check, the frozen app's smoke test, the launch-time measurement) can tell that the
window really appeared, without polling the X server from outside.

The time reported is from the start of the process (read from ``/proc`` on Linux, so
interpreter start-up and the imports count too) to the first paint event of the window.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

_IMPORTED_AT = time.time()


def process_age_s() -> float:
    """Seconds since this process started (since this module was imported off Linux)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            # The command name (field 2) may hold spaces; fields after ")" are fixed.
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of proc(5): starttime in clock ticks
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time() - _IMPORTED_AT


def _grab(window: QWidget) -> QPixmap:
    """What the user sees: the screen under the window on a real display (xcb, e.g.
    Xvfb), the widget rendered by itself on the offscreen platform."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if QGuiApplication.platformName() == "xcb" and screen is not None:
        geo = window.frameGeometry()
        return screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
    return window.grab()


class FirstPaintWatcher(QObject):
    """Event filter on the window: acts once, after the first paint has finished."""

    def __init__(self, window: QWidget, screenshot: Path | None, quit_after: bool) -> None:
        super().__init__(window)
        self._window = window
        self._screenshot = screenshot
        self._quit_after = quit_after
        self._seen = False
        self.elapsed_s: float | None = None
        #: The exit code it quit the application with (None until it did): a quit asked
        #: while a dialog's loop ran ends that loop, not the application's.
        self.quit_code: int | None = None
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if not self._seen and obj is self._window and event.type() == QEvent.Type.Paint:
            self._seen = True
            self.elapsed_s = process_age_s()
            # Let this paint (and the ones of the children) finish before grabbing.
            QTimer.singleShot(50, self._after_paint)
        return False

    # The prints are the output of the CLI options that asked for this watcher.
    def _after_paint(self) -> None:
        self._window.removeEventFilter(self)
        print(  # noqa: T201
            f"first paint {self.elapsed_s:.2f} s after the process started", flush=True
        )
        ok = True
        if self._screenshot is not None:
            self._screenshot.parent.mkdir(parents=True, exist_ok=True)
            ok = _grab(self._window).save(str(self._screenshot))
            if ok:
                print(f"screenshot saved to {self._screenshot}", flush=True)  # noqa: T201
            else:
                print(f"annotator: error: cannot write {self._screenshot}", file=sys.stderr)  # noqa: T201
        if self._quit_after:
            self.quit_code = 0 if ok else 1
            self._window.close()
            app = QApplication.instance()
            if app is not None:
                app.exit(self.quit_code)


def watch_first_paint(
    window: QWidget, screenshot: Path | None = None, quit_after: bool = False
) -> FirstPaintWatcher:
    """Install the watcher on ``window`` (call before ``show()``)."""
    return FirstPaintWatcher(window, screenshot, quit_after)
