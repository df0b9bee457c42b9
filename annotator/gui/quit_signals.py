"""Save and close the window when the app is asked to end from outside it.

- **SIGTERM, SIGHUP** (a logout, a shutdown, ``kill``, a closed terminal): by default the
  process dies at once and the edits since the last autosave are lost. A Python signal
  handler runs only when the interpreter gets control, which the Qt event loop, waiting
  in C++, may not give it for a long time. So the handler does nothing itself:
  :func:`signal.set_wakeup_fd` makes the C-level handler write the signal's number into
  a socket, and a :class:`QSocketNotifier` on the other end wakes the event loop (a
  box's too), which then closes any box open, closes the window as the user's File >
  Quit does (it saves synchronously, asking nothing: labels it cannot save are rescued
  into the first folder that takes them) and quits. No polling timer, and no delay.
- **commitDataRequest** (the desktop session is ending: the session manager asks apps to
  save first; it may still cancel the logout): the labels are saved, the window stays.
- **aboutToQuit** (the event loop is ending without the window having been closed): the
  window is closed, which saves.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QApplication

from annotator.gui.save_news import close_modal_boxes

if TYPE_CHECKING:
    from annotator.gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: The signals that end the app the way File > Quit does (those this platform has).
QUIT_SIGNALS = tuple(
    s for s in (getattr(signal, name, None) for name in ("SIGTERM", "SIGHUP")) if s is not None
)


class QuitOnSignals(QObject):
    """Closes ``window`` (saving it) and quits the app on SIGTERM or SIGHUP; saves it on
    the session manager's commitDataRequest. :meth:`uninstall` puts everything back."""

    def __init__(self, app: QApplication, window: MainWindow) -> None:
        super().__init__(app)
        self._app, self._window = app, window
        self._receive, self._send = socket.socketpair()
        for end in (self._receive, self._send):
            end.setblocking(False)
        self.received: list[int] = []  # the quit signals received (for the log and tests)
        self._previous_fd = signal.set_wakeup_fd(self._send.fileno(), warn_on_full_buffer=False)
        # The handler only has to exist (not SIG_DFL, which kills): the wake-up byte does
        # the work, on the GUI thread.
        self._previous = {s: signal.signal(s, _noop) for s in QUIT_SIGNALS}
        self._notifier = QSocketNotifier(self._receive.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)
        app.commitDataRequest.connect(self._save)
        app.aboutToQuit.connect(self._close)

    def _woken(self) -> None:
        try:
            data = self._receive.recv(64)
        except OSError:  # (nothing there after all)
            return
        numbers = [n for n in data if n in QUIT_SIGNALS]
        if not numbers:
            return  # another signal's wake-up (SIGINT, SIGCHLD...): not ours
        self.received.extend(numbers)
        log.warning("%s received: saving and quitting", signal.Signals(numbers[0]).name)
        self._close()
        self.quit()

    def quit(self) -> None:
        """End the event loop (every loop running, a box's too)."""
        self._app.quit()

    def _save(self, _manager: object = None) -> None:
        log.info("the desktop session is ending: saving")
        self._window.save_and_wait()

    def _close(self) -> None:
        """Close the window (it saves synchronously) without asking anything: nobody
        may be there to answer. A box open now (a failure said, a question) is closed
        first, and the window's close asks nothing (labels it cannot save go to the
        first rescue folder that takes them), else their event loops would keep the
        process alive. When the window is closing already (the end came while its close
        asked), that close goes on, asking no more."""
        self._window.ending_from_outside = True
        closed = close_modal_boxes()
        if closed:
            log.warning("closed %d box%s nobody answered", closed, "es" if closed > 1 else "")
        if self._window.session is not None or self._window.isVisible():
            self._window.close()  # closeEvent saves synchronously

    def uninstall(self) -> None:
        """Give the signals and the wake-up fd back to what they were."""
        self._notifier.setEnabled(False)
        with contextlib.suppress(RuntimeError, TypeError):
            self._app.commitDataRequest.disconnect(self._save)
            self._app.aboutToQuit.disconnect(self._close)
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._receive.close()
        self._send.close()


def _noop(_signum: int, _frame: object) -> None:
    """The Python-level handler: the wake-up fd already told the event loop."""


def install(app: QApplication, window: MainWindow) -> QuitOnSignals:
    """Make SIGTERM/SIGHUP, a session's end and the app's quit save ``window`` (on the
    main thread: signal handlers can only be set there)."""
    return QuitOnSignals(app, window)
