"""Progress on stderr: a redrawn line on a terminal, a line every few seconds otherwise
(and one as each phase starts, and at the end, so that a log shows every phase once)."""

from __future__ import annotations

import sys
import time


class ProgressLine:
    """Callable ``(done, total, message)`` that renders progress for long operations.

    Nothing is shown for operations that finish within ``delay`` seconds.
    """

    def __init__(self, label: str, *, delay: float = 0.5, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.label = label
        self.stream = stream or sys.stderr
        self.delay = delay
        self.start = time.monotonic()
        #: Where the count was last, and when the pass now counted began: a count that
        #: starts again (an export's check of every image, then its writing) is a new
        #: pass, whose time left is measured from its own start, not the first pass's.
        self.done = 0
        self.pass_start = self.start
        self.last = 0.0
        self.shown = False
        #: The phase last shown, and whether it was at the end (done == total).
        self.key: tuple[str | None, bool] | None = None
        #: A line is being redrawn on the terminal (not ended yet).
        self.open = False
        #: Its line was ended for a message printed meanwhile (a warning): the next call
        #: draws it again, on a line of its own.
        self.resume = False
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(
        self,
        done: int,
        total: int,
        message: str = "",
        eta: float | None | str = "auto",
        phase: str | None = None,
    ) -> None:
        """Show ``done`` of ``total``. ``eta``: the seconds left when the caller knows
        better than ``auto`` (the time so far, per unit done, times the units left;
        ``None``: not known, not shown). ``phase``: what the work does now (a round's
        ``train``, ``validate``, ``write``); a new one is shown at once, as is the end."""
        try:
            self._show(done, total, message, eta, phase)
        except (OSError, ValueError):  # the reader went away (| head, a closed
            self.stream = _Nowhere()  # terminal): the work goes on without its progress

    def _show(
        self, done: int, total: int, message: str, eta_s: float | None | str, phase: str | None
    ) -> None:
        now = time.monotonic()
        elapsed = now - self.start
        if done < self.done:
            self.pass_start = now
        self.done = done
        if elapsed < self.delay and done < total:
            return
        # A new phase, or the end, is shown at once; the rest (a phase's steps, or calls
        # at the end while a round validates and writes) once per interval, so that a
        # log gets a line every few seconds, not one per call.
        key = (phase, done >= total)
        new = key != self.key
        interval = 0.1 if self.tty else 5.0
        if not new and now - self.last < interval:
            return
        if self.tty and not new and not self.open and not self.resume:
            return  # its line has ended (the command's error, Ctrl+C): not redrawn
        self.resume = False
        self.key = key
        self.last = now
        pct = f"{100 * done / total:5.1f}%" if total else ""
        eta = ""
        if eta_s == "auto" and total and done and done < total:
            eta_s = (now - self.pass_start) * (total - done) / done
        if isinstance(eta_s, float | int) and done < total:
            eta = f" eta {eta_s:5.0f}s"
        text = f"{self.label}: {done}/{total} {pct}{eta} {message}"[:120]
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.open = done < total
            self._redrawn(self.open)
            if not self.open:
                self.stream.write("\n")
        elif done < total or self.shown:
            self.stream.write(text + "\n")
        self.shown = True
        self.stream.flush()

    def _redrawn(self, still_open: bool) -> None:
        global _open_line
        if still_open:
            _open_line = self
        elif _open_line is self:
            _open_line = None

    def finish(self) -> None:
        """End a redrawn line cleanly (only needed if the last call was not done == total:
        a line that ended there is not ended twice)."""
        if self.tty and self.open:
            self.open = False
            self._redrawn(False)
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                self.stream = _Nowhere()


#: The line a :class:`ProgressLine` is redrawing on a terminal (None once it ended).
_open_line: ProgressLine | None = None


def end_open_line() -> None:
    """End a progress line still being redrawn, so that what is printed now (an error,
    Ctrl+C's message) starts on a line of its own instead of after the progress."""
    line = _open_line
    if line is not None:
        line.finish()


def break_open_line() -> None:
    """As :func:`end_open_line`, for a message the work goes on after (a warning): the
    progress is drawn again below it at its next call (it stopped until the next phase,
    minutes of a round with no progress shown)."""
    line = _open_line
    if line is not None:
        line.finish()
        line.resume = True


class _Nowhere:
    """Where progress goes once its reader has gone."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
