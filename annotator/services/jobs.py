"""Background work without Qt: the one place where the app's worker threads are made.

The GUI thread owns all mutable state. Work runs on a worker thread with an immutable
request; its progress, result and error come back through an injected *dispatcher*, a
callable that runs a function on the owner's thread. The GUI passes one that posts to
the Qt event loop; tests and the CLI pass :func:`call_directly` and need no event loop.

Three shapes of background work, all on :mod:`concurrent.futures` single-thread
executors:

* :class:`SingleJobRunner`: at most one job at a time, refused while busy (a training
  round).
* :class:`LatestWinsWorker`: requests where only the newest matters (proposals); a newer
  request replaces one still waiting and may cancel the running one; ``cancel`` drops
  both.
* :class:`CoalescingQueue`: requests keyed by an id, newest per key wins, all processed
  in turn (the autosaver: one pending snapshot per image).

A job that must stop early checks a :class:`~annotator.core.cancel.CancelToken`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from annotator.core.cancel import CancelToken
from annotator.core.errors import AnnotatorError

__all__ = [
    "CancelToken",
    "CoalescingQueue",
    "Dispatcher",
    "JobCallbacks",
    "LatestWinsWorker",
    "SingleJobRunner",
    "call_directly",
]

log = logging.getLogger(__name__)

#: Runs a callback on the owner's thread (the GUI's event loop, or at once for tests/CLI).
Dispatcher = Callable[[Callable[[], None]], None]
K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
T = TypeVar("T")


def log_failure(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Log a background failure: a user's error (:class:`AnnotatorError`, or an
    :class:`OSError` such as a full disk: shown to them as one line) without a traceback,
    anything else with one (a bug to report)."""
    if isinstance(exc, AnnotatorError | OSError):
        logger.warning("%s: %s", what, exc)
    else:
        logger.error("%s", what, exc_info=exc)


def call_directly(fn: Callable[[], None]) -> None:
    """A dispatcher that runs the callback at once, on the worker thread (for tests/CLI)."""
    fn()


class CoalescingQueue(Generic[K, T]):
    """Keyed requests handled one at a time on one worker thread; newest per key wins.

    ``submit(key, item)`` replaces an item of the same key that has not started yet.
    ``handle(key, item, token)`` runs on the worker thread and must not raise (a raised
    error is logged and the queue goes on). With ``cancel_running=True`` a newer item of
    the key being handled sets that handler's token.
    """

    def __init__(self, handle: Callable[[K, T, CancelToken], None], name: str) -> None:
        self._handle = handle
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._cond = threading.Condition()
        self._pending: dict[K, T] = {}
        self._running: tuple[K, CancelToken] | None = None
        self._scheduled = False
        self._closed = False

    def submit(self, key: K, item: T, *, cancel_running: bool = False) -> None:
        """Queue ``item`` for ``key``, replacing one of that key still waiting."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker queue is closed")
            self._pending[key] = item
            if cancel_running and self._running is not None and self._running[0] == key:
                self._running[1].cancel()
            if not self._scheduled:
                self._scheduled = True
                self._executor.submit(self._drain)
            self._cond.notify_all()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._scheduled

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._scheduled, timeout)

    def wait_key(self, key: K, timeout: float | None = None) -> bool:
        """Block until no item of ``key`` is pending or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (
                    key not in self._pending and (self._running is None or self._running[0] != key)
                ),
                timeout,
            )

    def cancel(self) -> bool:
        """Drop every item waiting and set the running handler's token (it stops at its
        next check); the queue takes new items as before. True when anything was
        waiting or running."""
        with self._cond:
            found = bool(self._pending) or self._running is not None
            self._pending.clear()
            if self._running is not None:
                self._running[1].cancel()
            return found

    def close(self, *, drop_pending: bool, timeout: float | None = None) -> bool:
        """Refuse new items; drop or finish what is pending; True when the thread is idle."""
        with self._cond:
            self._closed = True
        if drop_pending:
            self.cancel()
        idle = self.wait_idle(timeout)
        self._executor.shutdown(wait=False)
        return idle

    def _drain(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._scheduled = False
                    self._cond.notify_all()
                    return
                key = next(iter(self._pending))
                item = self._pending.pop(key)
                token = CancelToken()
                self._running = (key, token)
            try:
                self._handle(key, item, token)
            except BaseException:  # a handler bug must not stop the queue for good
                log.exception("background request %r failed", key)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()  # (wait_key)


@dataclass(frozen=True)
class JobCallbacks(Generic[R]):
    """Where a job reports; each is called through the dispatcher."""

    on_done: Callable[[R], None]
    on_error: Callable[[BaseException], None]
    on_progress: Callable[[Any], None] | None = None
    #: The job raised after a cancel (it stopped); a job that returned gets ``on_done``.
    on_cancelled: Callable[[], None] | None = None


class SingleJobRunner:
    """Runs at most one job at a time (e.g. a training round) on its own thread."""

    def __init__(self, dispatcher: Dispatcher, name: str = "job") -> None:
        self._dispatch = dispatcher
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._name = name
        self._future: Future[None] | None = None
        self._worker: threading.Thread | None = None
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
            self._future = self._executor.submit(self._run, work, callbacks, token)
            return True

    def _run(
        self,
        work: Callable[[Callable[[Any], None], CancelToken], R],
        callbacks: JobCallbacks[R],
        token: CancelToken,
    ) -> None:
        self._worker = threading.current_thread()
        on_progress = callbacks.on_progress

        def progress(info: Any) -> None:
            if on_progress is not None and not token.cancelled:
                self._dispatch(functools.partial(on_progress, info))

        try:
            result = work(progress, token)
        except BaseException as exc:  # every error reaches the user
            self._finished()
            if token.cancelled and callbacks.on_cancelled is not None:
                self._dispatch(callbacks.on_cancelled)
            else:
                log_failure(log, f"{self._name} failed", exc)
                self._dispatch(functools.partial(callbacks.on_error, exc))
            return
        self._finished()
        # A job that returned did its work, cancel or not (a cancel that came too late to
        # stop it): its result says what happened.
        self._dispatch(functools.partial(callbacks.on_done, result))

    def _finished(self) -> None:
        with self._lock:
            self._active = False

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
        future = self._future
        if future is None:
            return True
        if threading.current_thread() is self._worker:
            return False  # a final callback run by call_directly cannot join itself
        done, _ = wait_futures([future], timeout)
        return bool(done)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel and join (on quit)."""
        self.cancel()
        joined = self.join(timeout)
        self._executor.shutdown(wait=False)
        return joined


class LatestWinsWorker(Generic[T, R]):
    """One worker thread for requests where only the newest matters (proposals).

    ``submit`` replaces a request that has not started yet; a request that is running
    finishes, and the owner drops its result if it is stale (the worker passes the
    request back with the result so the owner can tell).

    With ``cancellable=True`` the work is called as ``work(request, cancel)`` and a newer
    ``submit`` (or ``cancel``, or ``shutdown``) sets the running request's
    :class:`CancelToken`, so a long request (a batch of proposals) gives way at its next
    check. A request that raises after its token was set ends silently: it was
    superseded, not broken.
    """

    _KEY = "latest"

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
        self._queue: CoalescingQueue[str, T] = CoalescingQueue(self._handle, name)

    def submit(self, request: T) -> None:
        """Queue ``request``, replacing any request still waiting."""
        self._queue.submit(self._KEY, request, cancel_running=self._cancellable)

    def cancel(self) -> bool:
        """Drop the request waiting and stop the running one: at its next check with
        ``cancellable``, else once it returns; either way its result is not delivered,
        nor its error. Later requests run as before. True when a request was waiting or
        running."""
        return self._queue.cancel()

    @property
    def idle(self) -> bool:
        return self._queue.idle

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending or running (tests and shutdown)."""
        return self._queue.wait_idle(timeout)

    def _handle(self, _key: str, request: T, token: CancelToken) -> None:
        try:
            result = self._work(request, token) if self._cancellable else self._work(request)
        except BaseException as exc:
            if token.cancelled:
                log.debug("superseded request ended: %s", exc)
            else:
                log_failure(log, "worker request failed", exc)
                self._dispatch(functools.partial(self._on_error, request, exc))
            return
        if not token.cancelled:
            self._dispatch(functools.partial(self._on_result, request, result))

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Drop pending work, stop the thread after the running request."""
        return self._queue.close(drop_pending=True, timeout=timeout)
