"""What the app does with an error nobody expected: keep it, save, say so, carry on.

Qt calls ``sys.excepthook`` for an exception that escapes a slot or an event handler,
and then carries on; by default the traceback goes to a console that an app started
from a launcher (or ``Annotator.exe``, which has none) does not have, so the user sees a
tool that quietly stopped doing something. :func:`install` (called by ``run_gui``, not by
the window, so tests keep their own hooks) makes every such error, on any thread:

- a record with its traceback in the app's log file (:func:`log_path`, rotated at
  1 MB, three files kept), which also keeps the warnings the app logs (a failed
  background job, a lock taken over);
- a save of the open image's labels through the usual autosave (the edits so far are
  the one thing that must not be lost if the app is in a bad state);
- one message box on the GUI thread, with the error in one line, the log file's path
  and the traceback under "Show Details". While it is open, further errors are only
  logged (an error in a paint handler repeats at every repaint).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from annotator.core.errors import first_line
from annotator.gui.progress_task import plain
from annotator.gui.settings_store import data_folder

log = logging.getLogger("annotator.gui")

LOG_NAME = "annotator.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3


def log_path() -> Path:
    """The GUI's log file: in ``ANNOTATOR_LOG_DIR`` when set (as the CLI's crash log),
    else in the app's data folder, beside the demo project."""
    folder = os.environ.get("ANNOTATOR_LOG_DIR")
    return (Path(folder) if folder else data_folder() / "logs") / LOG_NAME


def add_log_file(path: Path) -> logging.Handler | None:
    """Send warnings and errors of every logger to ``path`` as well; ``None`` when the
    file cannot be written (the app runs without it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("no log file (%s): errors go to the console only", exc)
        return None
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (the message's first line only)."""
    line = first_line(exc)
    return type(exc).__name__ if line == type(exc).__name__ else f"{type(exc).__name__}: {line}"


class ErrorReporter(QObject):
    """The hooks' receiver; it lives on the GUI thread (see the module's notes)."""

    _arrived = Signal(str, str)  # one line, traceback: queued to the GUI thread

    def __init__(self, parent: QWidget, save: Callable[[], bool]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._save = save
        self._handler = add_log_file(log_path())
        self.log_file = None if self._handler is None else log_path()
        self.box: QMessageBox | None = None
        self.count = 0  # errors seen since the app started
        self._previous: tuple[object, object] | None = None
        self._arrived.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(
        self,
        kind: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """Log the error and queue its message (safe from any thread)."""
        self.count += 1
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("unexpected error, the app carried on:\n%s", text.rstrip())
        try:
            self._arrived.emit(one_line(exc), text)
        except RuntimeError:  # the window is gone (the app is quitting): logged is enough
            pass

    def uninstall(self) -> None:
        """Give the hooks back to what they were before :func:`install`; close the log."""
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous  # type: ignore[assignment]
            self._previous = None
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    @Slot(str, str)
    def _show(self, line: str, details: str) -> None:
        try:
            open_image = self._save()
        except Exception:  # the save path itself is broken: say so, do not recurse
            log.exception("saving after an unexpected error failed")
            saved = "Saving the open image's labels failed too. "
        else:
            saved = "The open image's labels are being saved. " if open_image else ""
        if self.box is not None:
            return
        where = (
            f"The details are in {self.log_file}; please attach that file when you report it."
            if self.log_file is not None
            else "The details are below."
        )
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Unexpected error",
            plain(
                f"Annotator hit an error it did not expect, and carried on.\n\n{line}\n\n"
                f"{saved}If something looks wrong now, restart the app: what was saved "
                f"is kept.\n\n{where}"
            ),
            QMessageBox.StandardButton.Ok,
            self._parent,
        )
        box.setObjectName("unexpectedErrorBox")
        box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._closed)
        self.box = box
        box.open()  # window-modal, without an event loop of its own

    @Slot()
    def _closed(self) -> None:
        self.box = None


def install(parent: QWidget, save: Callable[[], bool]) -> ErrorReporter:
    """Route unhandled errors (the GUI thread's and other threads') to a reporter;
    ``save`` starts the window's autosave and says whether an image is open. The previous hooks are not called: the reporter
    logs what they would have printed."""
    reporter = ErrorReporter(parent, save)

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        reporter.report(kind, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        reporter.report(args.exc_type, args.exc_value, args.exc_traceback)

    reporter._previous = (sys.excepthook, threading.excepthook)
    sys.excepthook = hook
    threading.excepthook = thread_hook
    return reporter
