"""What a command says besides its own output: the warnings the package logs, and
OpenCV's.

A warning logged while a command runs (a lock taken over from a process that is gone,
labels that count again after an interrupted save) is one line on stderr, said as the
command's own lines are: ``annotator: warning: <message>`` (``annotator: error: ...`` for
a logged error), without the logger's name or a traceback. ``-v`` (which also logs the
detail) and ``--debug`` keep the developer's form, ``LEVEL logger.name: message`` with
tracebacks.

OpenCV logs on its own, in its own form, straight to the process's stderr (``[ WARN:0@0.079]
global grfmt_png.cpp:793 ... PNG input buffer is incomplete`` before the command's own
error about a damaged label map, which already says what is wrong). Commands silence it
unless ``-v`` or ``--debug`` is given or ``OPENCV_LOG_LEVEL`` is set (the user's choice).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from annotator.cli.progress import break_open_line

#: The developer's form (``-v``, ``--debug``).
DEVELOPER_FORMAT = "%(levelname)s %(name)s: %(message)s"


class UserFormatter(logging.Formatter):
    """``annotator: warning: <message>``: one line, as the command's own messages."""

    def format(self, record: logging.LogRecord) -> str:
        level = (
            "error"
            if record.levelno >= logging.ERROR
            else "warning"
            if record.levelno >= logging.WARNING
            else record.levelname.lower()
        )
        message = " ".join(record.getMessage().split("\n"))  # (no traceback either)
        ours = record.name == "annotator" or record.name.startswith("annotator.")
        where = "" if ours else f"{record.name}: "  # another library's: named
        return f"annotator: {level}: {where}{message}"


class StderrHandler(logging.Handler):
    """Writes to the ``sys.stderr`` of the moment (a test's capture, a closed terminal's
    forgiving stream), on a line of its own (after an open progress line)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            break_open_line()  # (the progress goes on below the warning)
            print(text, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # the terminal has gone: the command goes on
            pass
        except Exception:
            self.handleError(record)


#: Libraries whose debug records say nothing to a user of ``-v``.
_CHATTY = ("PIL", "matplotlib", "urllib3", "asyncio")


@contextlib.contextmanager
def to_stderr(*, verbose: bool, debug: bool) -> Iterator[None]:
    """While a command runs, the package's log records at WARNING and up (DEBUG with
    ``verbose``) go to stderr: in the user's form, or the developer's with ``-v`` or
    ``--debug``."""
    developer = verbose or debug
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter(DEVELOPER_FORMAT) if developer else UserFormatter())
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.addHandler(handler)
    # -v is about Annotator's own steps: the libraries' debug lines (PIL's PNG chunks,
    # one per chunk of every file read) would bury them.
    quieted = {name: logging.getLogger(name).level for name in _CHATTY}
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.INFO)
    if not developer:
        quiet_opencv()
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, was in quieted.items():
            logging.getLogger(name).setLevel(was)


#: Whether this process set ``OPENCV_LOG_LEVEL`` itself (not the user).
_opencv_quieted = False


def quiet_opencv() -> None:
    """Silence OpenCV's own log lines: through ``OPENCV_LOG_LEVEL`` for an OpenCV not
    imported yet (and the processes this one starts: data loader workers), and directly
    for one that is. A value the user set is kept."""
    global _opencv_quieted
    if "OPENCV_LOG_LEVEL" in os.environ and not _opencv_quieted:
        return
    os.environ["OPENCV_LOG_LEVEL"] = "OFF"
    _opencv_quieted = True
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        with contextlib.suppress(Exception):  # (an OpenCV without it)
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
