"""Cooperative cancellation, shared by every layer that runs long work.

A job (a training round, a batch of proposals, an export) checks its token between
steps and stops early when it is set. ``ml`` accepts anything with a ``cancelled``
property or an ``is_set()`` method (:class:`Cancellable`), so the CLI may pass a plain
:class:`threading.Event`.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class Cancellable(Protocol):
    """What a long job needs from a cancellation flag."""

    def is_set(self) -> bool: ...


class CancelToken:
    """A thread-safe cancellation flag; also stands in for a :class:`threading.Event`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def is_set(self) -> bool:
        return self._event.is_set()
