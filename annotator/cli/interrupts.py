"""SIGTERM stops a command as Ctrl+C does.

A batch system's time limit (SLURM, ``scancel``), ``kill`` and ``timeout`` send SIGTERM,
whose default ends the process at once: no message, a training round's files half
written, a lock file naming a dead process. Here it raises :class:`Terminated` (a
:class:`KeyboardInterrupt`), so every command stops the way it stops on Ctrl+C (its one
line, the lock released), and exits 143 (128 + 15) instead of Ctrl+C's 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_INTERRUPTED = 130

#: The signal that stopped this command (SIGINT or SIGTERM); None while none did.
_received: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the command: it stops as on Ctrl+C."""

    def __init__(self) -> None:
        super().__init__("interrupted by SIGTERM")


def note(signum: int) -> None:
    """Remember that ``signum`` (SIGINT or SIGTERM) asked the command to stop."""
    global _received
    if _received != signal.SIGTERM:  # a SIGTERM is not undone by a later Ctrl+C
        _received = signum


def terminated() -> bool:
    """Whether SIGTERM asked this command to stop."""
    return _received == signal.SIGTERM


def exit_code() -> int:
    """130 for Ctrl+C, 143 for SIGTERM (128 + the signal, as a shell reports it)."""
    return 128 + int(signal.SIGTERM) if terminated() else EXIT_INTERRUPTED


def reset() -> None:
    global _received
    _received = None


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame):  # type: ignore[no-untyped-def]
        note(signum)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
