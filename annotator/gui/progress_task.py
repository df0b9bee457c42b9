"""Run a long service call (add images, import, export) off the GUI thread, with a
progress dialog that can cancel it.

The services report progress through a plain callback ``(done, total, message)``; the
callback runs on the worker thread, leaves the newest numbers for the GUI thread (which
polls them every 50 ms) and raises :class:`Cancelled` once the user pressed Cancel, so
the service stops at its next step (export cleans its staging folder on any exception,
so a cancelled export leaves nothing behind). The caller waits in a local event loop:
the window keeps painting, the dialog is window-modal, and the call returns the outcome
like a normal function, which keeps the menu code and its tests straightforward.

Closing the window while a task runs must not close the project under the worker and
the caller's follow-up: :class:`_CloseGuard` holds the close back, cancels the task
(a task that cannot be cancelled runs to its end), and closes the window once the task
and the message about it are over.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow

R = TypeVar("R")
Progress = Callable[[int, int, str], None]
POLL_MS = 50


class Cancelled(Exception):
    """Raised inside the worker's progress callback after the user pressed Cancel."""


@dataclass(frozen=True)
class TaskOutcome(Generic[R]):
    """How a task ended: a result, an error, or cancelled by the user."""

    result: R | None = None
    error: BaseException | None = None
    cancelled: bool = False
    #: Where a cancelled task stopped: the ``(done, total)`` of the progress call that
    #: raised (the steps it finished, out of how many), or None before its first one.
    stopped_at: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


def run_with_progress(
    parent: QWidget | None,
    title: str,
    label: str,
    work: Callable[[Progress], R],
    *,
    cancellable: bool = True,
    at_once: bool = False,
) -> TaskOutcome[R]:
    """Run ``work(progress)`` on a worker thread while a progress dialog shows it (past
    0.4 s, or ``at_once``: then no input reaches the window from the start).

    Returns when the work has finished, failed or been cancelled; never raises the
    work's exception (it is in the outcome, for a one-line message box).
    """
    dialog = QProgressDialog(label, "Cancel" if cancellable else "", 0, 0, parent)
    if not cancellable:
        dialog.setCancelButton(None)  # type: ignore[arg-type]
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0 if at_once else 400)  # quick jobs end before it flashes up
    dialog.setAutoReset(False)
    dialog.setAutoClose(False)
    dialog.setValue(0)
    if at_once:
        dialog.show()
    cancel = threading.Event()
    dialog.canceled.connect(cancel.set)
    guard = _CloseGuard(parent, cancel if cancellable else None)
    loop = QEventLoop()
    outcome: list[TaskOutcome[R]] = []  # appended once, by the worker
    latest: list[tuple[int, int, str] | None] = [None]  # newest progress, replaced whole

    def show(done: int, total: int, message: str) -> None:
        if total > 0:
            dialog.setMaximum(total)
            dialog.setValue(min(done, total))
        if message:
            dialog.setLabelText(f"{label}\n{_shorten(message)}")

    reached: list[tuple[int, int] | None] = [None]  # the newest (done, total), kept

    def progress(done: int, total: int, message: str) -> None:
        reached[0] = (done, total)
        if cancel.is_set():
            raise Cancelled()
        latest[0] = (done, total, message)

    def poll() -> None:
        if dialog.wasCanceled():  # Esc or the window's close button, not only Cancel
            cancel.set()
        news, latest[0] = latest[0], None
        if news is not None:
            show(*news)
        if outcome:
            loop.quit()

    def run() -> None:
        # Whatever the work raises is an outcome (a KeyboardInterrupt or SystemExit
        # from a library too): with none, the loop below would wait for ever, the
        # window stuck behind the dialog.
        result: TaskOutcome[R] = TaskOutcome(error=RuntimeError("the task ended unheard"))
        try:
            result = TaskOutcome(result=work(progress))
        except Cancelled:
            result = TaskOutcome(cancelled=True, stopped_at=reached[0])
        except BaseException as exc:  # reported to the user as one line, never lost
            result = TaskOutcome(error=exc)
        finally:
            outcome.append(result)

    # The GUI thread polls: no signal per progress step crosses threads, so a fast
    # worker cannot flood the event queue, and the dialog shows the newest step.
    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(poll)
    thread = threading.Thread(target=run, name=f"task-{title}", daemon=True)
    thread.start()
    timer.start()
    loop.exec()
    timer.stop()
    thread.join()
    dialog.canceled.disconnect(cancel.set)
    dialog.close()
    dialog.deleteLater()
    guard.release()
    return outcome[0]


class _CloseGuard(QObject):
    """Holds back closing ``parent``'s window while a task runs, and closes it after.

    The close is refused (the window's ``closeEvent`` would close the project the
    worker is using, and the caller's code after the task would find it gone); the
    task is cancelled instead. Once the task has returned and no modal box (such as the
    caller's "cancelled" message) is open, the window is closed as asked.
    """

    def __init__(self, parent: QWidget | None, cancel: threading.Event | None) -> None:
        super().__init__()
        self._window = parent.window() if parent is not None else None
        self._cancel = cancel
        self.close_wanted = False
        if self._window is not None:
            self._window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self._window and event.type() == QEvent.Type.Close:
            event.ignore()
            self.close_wanted = True
            if self._cancel is not None:
                self._cancel.set()
            return True
        return False

    def release(self) -> None:
        window = self._window
        if window is None:
            return
        window.removeEventFilter(self)
        if self.close_wanted:
            _close_when_no_modal(window)


def _close_when_no_modal(window: QWidget) -> None:
    """Close ``window`` from the event loop, once no modal dialog is open."""

    def close() -> None:
        if QApplication.activeModalWidget() is not None:
            QTimer.singleShot(POLL_MS, window, close)
        else:
            window.close()

    QTimer.singleShot(0, window, close)  # the window as context: no call once it is gone


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def error_text(exc: BaseException) -> str:
    """One line for a message box: the message of an error meant for users, else the
    exception's type and message (never a traceback)."""
    from annotator.core.errors import AnnotatorError

    if isinstance(exc, AnnotatorError | OSError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


#: A first word written in lower case only because it begins a sentence: letters (an
#: apostrophe's ``s``), then a space or a comma, colon or semicolon.
_PLAIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?(?=[\s,:;]|$)")


def capitalised(text: str) -> str:
    """``text`` with a capital first letter when its first word is a plain lower-case
    word; one that begins with a name written in lower case (nnU-Net, dataset.json,
    a file name), a path, an option or a quote is left as it is."""
    if _PLAIN_WORD.match(text):
        return text[0].upper() + text[1:]
    return text


def sentence(text: str) -> str:
    """A message as a box shows it: a capital first letter (:func:`capitalised`), a
    full stop at the end. The core's messages begin in lower case (they follow
    ``annotator: error:`` on the command line)."""
    text = capitalised(text.strip())
    if text and text[-1] not in ".!?…":
        text += "."
    return text


def plain(text: str) -> str:
    """``text`` for a message box (whose texts Qt reads as HTML when they look like it)
    shown as written: a name holding ``<b>x</b>`` or ``a<br>b`` (a class, a file, a
    folder) is not formatted. Text Qt would show as written anyway is returned as it is."""
    if not GuiQt.mightBeRichText(text):
        return text
    return f'<p style="white-space: pre-wrap">{html.escape(text, quote=False)}</p>'


def box_sentence(text: str) -> str:
    """``text`` as a message box says it: a sentence (:func:`sentence`), shown as written
    (:func:`plain`)."""
    return plain(sentence(text))


def training_refuses(
    parent: QWidget, service: object, title: str, what: str, stop: bool = True
) -> bool:
    """Say, and return True, when ``service`` (the model service, or None) runs a training
    round: it reads ``what`` (the labels, the images) as it trains, so a change of them
    must wait. A round kept going on the done images while the user labels (ADR 0033) is
    background work nobody asked for: it is stopped instead (waiting up to 10 s), unless
    an image marked done queued a round after it; not ``stop``: it is left running (the
    check before a confirmation the user may cancel: the check after it stops it)."""
    if getattr(service, "follow_up_queued", False):  # a round asked for is about to start
        return _refused(parent, title, what)
    if not getattr(service, "training", False):
        return False
    stopper = getattr(service, "stop_keeping_on", None)
    if callable(stopper) and getattr(service, "keeping_on", False):
        if not stop:
            return False
        return not stopper(f"{what} are being changed") and _refused(parent, title, what)
    return _refused(parent, title, what)


def _refused(parent: QWidget, title: str, what: str) -> bool:
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.warning(
        parent,
        title,
        f"A training round is running, and it reads {what}: wait for it, or cancel it "
        "(Model > Cancel training), then try again.",
    )
    return True


@contextlib.contextmanager
def loop_held(window: MainWindow) -> Iterator[None]:
    """While images or labels are removed or rewritten: no idle training round starts
    (it would read them), and the proposal worker stops its running request at its next
    check (it may be storing a proposal of them, or ranking every image for minutes)
    and is asked for nothing; both go on after, the ranking for what is there then."""
    idle, service = window.loop.idle_timer, window.loop.service
    was_idle = idle.isActive()
    idle.stop()
    if service is not None:
        service.pause_proposals()
    try:
        yield
    finally:
        if was_idle:
            idle.start()
        if service is not None:
            service.resume_proposals()
