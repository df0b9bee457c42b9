"""Background work without Qt: a single-job runner and a latest-request-wins worker.

The GUI thread owns all mutable state. Work runs on a worker thread with an immutable
request; its progress, result and error come back through an injected *dispatcher*, a
callable that runs a function on the owner's thread. The GUI passes one that posts to
the Qt event loop; tests pass :func:`call_directly` and need no event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Dispatcher = Callable[[Callable[[], None]], None]
R = TypeVar("R")
T = TypeVar("T")


def call_directly(fn: Callable[[], None]) -> None:
    """A dispatcher that runs the callback at once, on the worker thread (for tests/CLI)."""
    fn()


class CancelToken:
    """A cancellation flag a job checks between batches; ``cancelled`` is thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def is_set(self) -> bool:  # lets it stand in for a threading.Event
        return self._event.is_set()


@dataclass(frozen=True)
class JobCallbacks(Generic[R]):
    """Where a job reports; each is called through the dispatcher."""

    on_done: Callable[[R], None]
    on_error: Callable[[BaseException], None]
    on_progress: Callable[[Any], None] | None = None
    on_cancelled: Callable[[], None] | None = None


class SingleJobRunner:
    """Runs at most one job at a time (e.g. a training round) on its own thread."""

    def __init__(self, dispatcher: Dispatcher, name: str = "job") -> None:
        self._dispatch = dispatcher
        self._name = name
        self._thread: threading.Thread | None = None
        self._token: CancelToken | None = None
        self._active = False
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while a job runs. False already when its final callback is dispatched, so
        that callback may start the next job (e.g. a queued follow-up round)."""
        with self._lock:
            return self._active

    def start(
        self,
        work: Callable[[Callable[[Any], None], CancelToken], R],
        callbacks: JobCallbacks[R],
    ) -> bool:
        """Start ``work(progress, cancel)`` unless a job is running; return whether it started."""
        with self._lock:
            if self._active:
                return False
            self._active = True
            token = CancelToken()
            self._token = token

            def progress(info: Any) -> None:
                if callbacks.on_progress is not None and not token.cancelled:
                    self._dispatch(lambda: callbacks.on_progress(info))  # type: ignore[misc]

            def finished() -> None:
                with self._lock:
                    self._active = False

            def run() -> None:
                try:
                    result = work(progress, token)
                except BaseException as exc:  # every error reaches the user
                    finished()
                    if token.cancelled and callbacks.on_cancelled is not None:
                        self._dispatch(callbacks.on_cancelled)
                        return
                    log.exception("%s failed", self._name)
                    self._dispatch(lambda e=exc: callbacks.on_error(e))
                    return
                finished()
                if token.cancelled and callbacks.on_cancelled is not None:
                    self._dispatch(callbacks.on_cancelled)
                else:
                    self._dispatch(lambda: callbacks.on_done(result))

            self._thread = threading.Thread(target=run, name=self._name, daemon=True)
            self._thread.start()
            return True

    def cancel(self) -> None:
        """Ask the running job to stop at its next check."""
        with self._lock:
            if self._token is not None:
                self._token.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running job; return True when no job is running any more.

        A job started by the final callback of the one joined (a follow-up) is not
        waited for; call ``join`` again for it.
        """
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False  # a final callback run by call_directly cannot join itself
        thread.join(timeout)
        return not thread.is_alive()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel and join (on quit)."""
        self.cancel()
        return self.join(timeout)


class LatestWinsWorker(Generic[T, R]):
    """One worker thread for requests where only the newest matters (proposals).

    ``submit`` replaces a request that has not started yet; a request that is running
    finishes, and the owner drops its result if it is stale (the worker passes the
    request back with the result so the owner can tell).

    With ``cancellable=True`` the work is called as ``work(request, cancel)`` and a newer
    ``submit`` (or ``shutdown``) sets the running request's :class:`CancelToken`, so a
    long request (a batch of proposals) gives way at its next check. A request that
    raises after its token was set ends silently: it was superseded, not broken.
    """

    def __init__(
        self,
        work: Callable[..., R],
        on_result: Callable[[T, R], None],
        on_error: Callable[[T, BaseException], None],
        dispatcher: Dispatcher,
        name: str = "worker",
        *,
        cancellable: bool = False,
    ) -> None:
        self._work = work
        self._on_result = on_result
        self._on_error = on_error
        self._dispatch = dispatcher
        self._cancellable = cancellable
        self._cond = threading.Condition()
        self._pending: T | None = None
        self._has_pending = False
        self._running = False
        self._running_token: CancelToken | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: T) -> None:
        """Queue ``request``, replacing any request still waiting."""
        with self._cond:
            self._pending = request
            self._has_pending = True
            if self._running_token is not None:
                self._running_token.cancel()
            self._cond.notify()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._has_pending and not self._running

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending or running (tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._has_pending and not self._running, timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._has_pending or self._stopped)
                if self._stopped:
                    return
                request = self._pending
                self._pending = None
                self._has_pending = False
                self._running = True
                token = CancelToken()
                self._running_token = token if self._cancellable else None
            try:
                if self._cancellable:
                    result = self._work(request, token)
                else:
                    result = self._work(request)
            except BaseException as exc:
                if token.cancelled:
                    log.debug("superseded request ended: %s", exc)
                else:
                    log.exception("worker request failed")
                    self._dispatch(lambda r=request, e=exc: self._on_error(r, e))  # type: ignore[misc]
            else:
                if not token.cancelled:
                    self._dispatch(lambda r=request, res=result: self._on_result(r, res))  # type: ignore[misc]
            finally:
                with self._cond:
                    self._running = False
                    self._running_token = None
                    self._cond.notify_all()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Drop pending work, stop the thread after the running request."""
        with self._cond:
            self._stopped = True
            self._pending = None
            self._has_pending = False
            if self._running_token is not None:
                self._running_token.cancel()
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()
