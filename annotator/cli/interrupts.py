"""SIGTERM and SIGHUP stop a command as Ctrl+C does.

A batch system's time limit (SLURM, ``scancel``), ``kill`` and ``timeout`` send SIGTERM;
a closed terminal or ssh session sends SIGHUP. Their default ends the process at once: no
message, a training round's files half written, a lock file naming a dead process. Here
each raises :class:`Terminated` (a :class:`KeyboardInterrupt`), so every command stops the
way it stops on Ctrl+C (its one line, the lock released), and exits 128 + the signal's
number, as a shell reports it (143 for SIGTERM, 129 for SIGHUP) instead of Ctrl+C's 130.

After a SIGHUP the terminal may be gone: writing to it fails (EIO, or EPIPE through ssh).
So from then on a failed write to stdout or stderr is no error (the stream is pointed at
the null device): the command still stops, releases the lock and exits with its code.
A second SIGHUP changes nothing (a closed terminal may send two: the kernel's, and the
shell's to its jobs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

EXIT_INTERRUPTED = 130

#: The signals besides Ctrl+C's (SIGINT) that stop a command as it does (those this
#: platform has: Windows has no SIGHUP).
STOP_SIGNALS: tuple[int, ...] = tuple(
    s for s in (getattr(signal, name, None) for name in ("SIGTERM", "SIGHUP")) if s is not None
)
_SIGHUP: int | None = getattr(signal, "SIGHUP", None)

#: The signal that stopped this command (SIGINT, SIGTERM or SIGHUP); None while none did.
_received: int | None = None


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the command: it stops as on Ctrl+C."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal_name(signum)}")


def note(signum: int) -> None:
    """Remember that ``signum`` (SIGINT, SIGTERM or SIGHUP) asked the command to stop."""
    global _received
    if _received is None or _received == signal.SIGINT:  # not undone by a later Ctrl+C
        _received = signum
    if signum == _SIGHUP:
        forgive_closed_output()


def repeated_hangup(signum: int) -> bool:
    """``signum`` is a SIGHUP after one already came: nothing more to do."""
    return signum == _SIGHUP and _received == _SIGHUP


def terminated() -> bool:
    """Whether SIGTERM or SIGHUP asked this command to stop."""
    return _received in STOP_SIGNALS


def by() -> str:
    """`` by SIGTERM`` (or `` by SIGHUP``) when that stopped the command, else ``""``."""
    return f" by {signal_name(_received)}" if _received in STOP_SIGNALS else ""


def exit_code() -> int:
    """130 for Ctrl+C, 143 for SIGTERM, 129 for SIGHUP (128 + the signal, as a shell
    reports it)."""
    return 128 + int(_received) if _received in STOP_SIGNALS else EXIT_INTERRUPTED


def reset() -> None:
    global _received
    _received = None


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise :class:`Terminated` (main thread
    only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):  # type: ignore[no-untyped-def]
        if repeated_hangup(signum):  # (raised again, it could cut the lock's release)
            return
        note(signum)
        raise Terminated(signum)

    # A signal the command was started ignoring stays ignored: ``nohup annotator train``
    # must outlive its terminal, as nohup promises.
    ignored = {s for s in STOP_SIGNALS if signal.getsignal(s) is signal.SIG_IGN}
    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS if s not in ignored}
    try:
        yield
    finally:
        for s, handler in previous.items():
            if signal.getsignal(s) is on_signal:  # (not ignored since: the command ended)
                signal.signal(s, handler)


class _Forgiving:
    """A standard stream whose writes cannot fail: once one does (the terminal is gone),
    its file descriptor is pointed at the null device, so that every later write, and
    the interpreter's flush at exit (which would turn the exit code into 120), succeed,
    also through the references other objects hold to the stream."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except (OSError, ValueError):
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._gone()

    def _gone(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            fd = self._stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
            self._stream.flush()  # (what was buffered goes to the null device)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def forgive_closed_output() -> None:
    """From now on, a failed write to stdout or stderr is no error (see :class:`_Forgiving`)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _Forgiving):
            setattr(sys, name, _Forgiving(stream))
