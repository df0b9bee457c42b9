"""Run callbacks from worker threads on the GUI thread (the services' dispatcher)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal


class GuiDispatcher(QObject):
    """``dispatcher(fn)`` queues ``fn()`` to run on the thread that owns this object."""

    _call = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def __call__(self, fn: Callable[[], None]) -> None:
        self._call.emit(fn)

    def _run(self, fn: Callable[[], None]) -> None:
        # A bound method: its receiver is this object, so the call lands on its thread.
        fn()
